//! Demonstration files from a suite's reference solutions: one JSON line per (task,
//! seed), `{"task", "seed", "actions"}` with the actions as their labels — the format
//! `steprl play --record` writes and `[warmstart] demos` reads. Each suite's model
//! crate runs it from its `demos` example.

use crate::sim::{SimAction, SimError};
use crate::suite::Suite;

/// Demonstration lines for every task whose id starts with `prefix`, for each seed in
/// `seeds`, solved by `solve` (action indices).
pub fn demo_lines<S: Suite>(
    solve: impl Fn(&str, u64) -> Result<Vec<u32>, SimError>,
    seeds: std::ops::Range<u64>,
    prefix: &str,
) -> Result<Vec<String>, SimError> {
    let labels = S::Action::labels();
    let mut out = Vec::new();
    for task in S::tasks().iter().filter(|t| t.id.starts_with(prefix)) {
        for seed in seeds.clone() {
            let actions: Vec<&str> = solve(task.id, seed)?
                .iter()
                .map(|&a| labels[a as usize].as_str())
                .collect();
            out.push(
                serde_json::json!({"task": task.id, "seed": seed, "actions": actions}).to_string(),
            );
        }
    }
    Ok(out)
}

/// The `demos` example of a suite: `[SEEDS] [TASK-PREFIX]` (default 4 seeds, every
/// task) on the command line, demonstration lines on standard output.
pub fn example_main<S: Suite>(solve: impl Fn(&str, u64) -> Result<Vec<u32>, SimError>) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seeds = match args.first().map(|s| s.parse::<u64>()) {
        None => 4,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!(
                "usage: demos [SEEDS] [TASK-PREFIX]  (SEEDS: how many seeds per task, default 4)"
            );
            std::process::exit(2);
        }
    };
    let prefix = args.get(1).map_or("", String::as_str);
    match demo_lines::<S>(solve, 0..seeds, prefix) {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toy::Toy;

    #[test]
    fn lines_name_the_task_the_seed_and_the_action_labels() {
        let solve = |_: &str, seed: u64| Ok(vec![0, (seed % 2) as u32]);
        let lines = demo_lines::<Toy>(solve, 0..2, "").unwrap();
        let labels = <Toy as Suite>::Action::labels();
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        let id = Toy::tasks()[0].id;
        assert_eq!(
            first,
            serde_json::json!({"task": id, "seed": 0, "actions": [labels[0], labels[0]]})
        );
        assert_eq!(lines.len(), 2 * Toy::tasks().len());
        assert!(
            demo_lines::<Toy>(solve, 0..2, "no-such-")
                .unwrap()
                .is_empty()
        );
    }
}

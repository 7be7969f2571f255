//! `steprl play ENV.wasm --task ID --actions FILE`: one scripted episode in the sandbox,
//! every observation's text printed, judged by a checker when one is given, and
//! appended to a demonstration file on request. Demonstration lines are
//! `{"task": ID, "seed": S, "actions": [...]}` with each action written as `play` reads
//! it (a label, or `text: ...`): the observations are re-created by replaying the
//! actions in the sandbox, so a demonstration file stays small and environment-checked.

use std::io::{Read, Write};

use anyhow::{Context, bail};
use steprl_core::{
    Action, EnvInfo, Environment, ObservationParts, RewardChecker, TrajectorySummary,
};
use steprl_sandbox::Sandbox;

use super::{checker, environment};
use crate::args::PlayArgs;

fn read_actions(source: &str, info: &EnvInfo) -> anyhow::Result<Vec<Action>> {
    let text = if source == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading actions from standard input")?;
        s
    } else {
        std::fs::read_to_string(source).with_context(|| format!("reading actions from {source}"))?
    };
    let mut actions = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let a = info
            .action
            .parse_action(line)
            .map_err(|e| anyhow::anyhow!("{source}, line {}: {e}", n + 1))?;
        actions.push(a);
    }
    Ok(actions)
}

pub(super) async fn play(sandbox: &Sandbox, args: &PlayArgs) -> anyhow::Result<bool> {
    let env = environment(sandbox, &args.file, &args.config, &args.grants).await?;
    let result = play_in(sandbox, args, &env).await;
    super::shut_down(&env).await;
    result
}

async fn play_in(
    sandbox: &Sandbox,
    args: &PlayArgs,
    env: &steprl_sandbox::WasmEnvironment,
) -> anyhow::Result<bool> {
    let info = env.info().clone();
    let Some(task) = info.task(&args.task).cloned() else {
        let ids: Vec<&str> = info.tasks.iter().take(8).map(|t| t.id.as_str()).collect();
        bail!(
            "task `{}` is not offered by `{}` (it offers {}{}; see `steprl tasks {}`)",
            args.task,
            env.name(),
            ids.join(", "),
            if info.tasks.len() > ids.len() {
                ", …"
            } else {
                ""
            },
            args.file.display()
        );
    };
    let actions = read_actions(&args.actions, &info)?;
    let mut checker = match &args.checker {
        Some(path) => Some(checker(sandbox, path, &args.checker_config, &args.grants).await?),
        None => None,
    };

    let mut inst = env.instantiate().await?;
    let parts = ObservationParts {
        text: true,
        ..ObservationParts::default()
    };
    let episode = inst.start(&task.id, args.seed, parts).await?;
    let obs = inst.reset(episode).await?;
    println!(
        "task {} (seed {}): {}",
        task.id, args.seed, task.instruction
    );
    println!("--- observation 0");
    println!("{}", obs.text.as_deref().unwrap_or("(no text)").trim_end());
    let mut rewards = Vec::new();
    let (mut done, mut truncated) = (false, false);
    let mut played = 0;
    for (k, a) in actions.iter().enumerate() {
        if done || truncated {
            eprintln!(
                "warning: the episode ended after {k} actions; {} left unplayed",
                actions.len() - k
            );
            break;
        }
        let r = inst.step(episode, a).await?;
        played += 1;
        rewards.push(r.reward);
        done = r.done;
        truncated = r.truncated;
        let end = match (done, truncated) {
            (true, _) => ", done",
            (_, true) => ", truncated",
            _ => "",
        };
        println!(
            "--- action {}: {} (reward {}{end})",
            k + 1,
            info.action.action_line(a),
            r.reward
        );
        println!(
            "{}",
            r.observation
                .text
                .as_deref()
                .unwrap_or("(no text)")
                .trim_end()
        );
    }
    if !done && !truncated {
        eprintln!("warning: the actions ran out before the episode ended");
    }
    let final_state = inst.final_state(episode).await?;
    inst.close(episode).await;
    let actions = &actions[..played];
    let success = match checker.as_mut() {
        Some(c) => {
            let summary = TrajectorySummary {
                seed: args.seed,
                actions: actions.to_vec(),
                rewards,
                done,
                truncated,
            };
            let v = c.check(&task, &summary, &final_state).await?;
            println!(
                "verdict: {} (score {}){}",
                if v.success { "success" } else { "failure" },
                v.score,
                if v.reason.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", v.reason)
                }
            );
            Some(v.success)
        }
        None => None,
    };
    if let Some(path) = &args.record {
        if success == Some(false) {
            eprintln!(
                "not recorded in {}: the checker judged the episode a failure",
                path.display()
            );
        } else {
            let line = serde_json::json!({
                "task": task.id,
                "seed": args.seed,
                "actions": actions.iter().map(|a| info.action.action_line(a)).collect::<Vec<_>>(),
            });
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening the demonstration file {}", path.display()))?;
            writeln!(f, "{line}")
                .with_context(|| format!("writing the demonstration file {}", path.display()))?;
            println!(
                "recorded in {}{}",
                path.display(),
                if success.is_none() {
                    " (not judged: no --checker)"
                } else {
                    ""
                }
            );
        }
    }
    Ok(success != Some(false))
}

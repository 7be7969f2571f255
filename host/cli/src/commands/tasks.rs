//! `steprl tasks FILE.wasm`: the task table of an environment plugin.

use std::collections::BTreeMap;

use steprl_core::{Environment, RewardChecker, scorable};
use steprl_sandbox::Sandbox;

use super::{checker, environment};
use crate::args::TasksArgs;
use crate::table::Table;

pub(super) async fn tasks(sandbox: &Sandbox, args: &TasksArgs) -> anyhow::Result<bool> {
    let env = environment(sandbox, &args.file, &args.config, &args.grants).await?;
    let info = env.info();
    let (unscorable, judge) = match &args.checker {
        Some(path) => {
            let mut c = checker(sandbox, path, &args.checker_config, &args.grants).await?;
            let u = scorable::unscorable(&mut c, &info.tasks).await;
            (u, c.name().to_owned())
        }
        None => (BTreeMap::new(), String::new()),
    };
    if args.json {
        for t in &info.tasks {
            println!("{}", serde_json::to_string(t)?);
        }
        return Ok(true);
    }
    let mut table = Table::new(&["id", "#level", "#max steps", "instruction", "note"]);
    let mut unsupported = 0;
    for t in &info.tasks {
        let note = match (t.unsupported(), unscorable.get(&t.id)) {
            (Some(why), _) => {
                unsupported += 1;
                format!("UNSUPPORTED: {why}")
            }
            (None, Some(why)) => format!("UNSCORABLE: {why}"),
            (None, None) => String::new(),
        };
        table.row(vec![
            t.id.clone(),
            t.difficulty
                .map(|d| d.to_string())
                .unwrap_or_else(|| "-".into()),
            t.max_steps.to_string(),
            t.instruction.clone(),
            note,
        ]);
    }
    print!("{}", table.render());
    println!("{} tasks in `{}`", info.tasks.len(), env.name());
    if unsupported > 0 {
        println!(
            "{unsupported} of them cannot run with this plugin (marked UNSUPPORTED); training skips them"
        );
    }
    if !unscorable.is_empty() {
        println!(
            "{} of them cannot be judged by `{judge}` (marked UNSCORABLE); training and evaluation leave them out",
            unscorable.len()
        );
    }
    Ok(true)
}

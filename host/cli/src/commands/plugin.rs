//! `steprl plugin inspect` and `steprl plugin check`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::bail;
use steprl_core::{EnvInfo, Environment};
use steprl_sandbox::{
    LoadedPlugin, PluginKind, Sandbox, WIT_VERSION, WasmEnvironment, WasmResampler,
    WasmRewardChecker,
};

use super::{interactive, load, options};
use crate::args::{CheckArgs, Global, InspectArgs};
use crate::table::{self, Table};
use steprl_conformance::{
    self as conformance, CheckerReport, EnvCheck, EnvReport, ResamplerReport, Timing, Violation,
};

/// `steprl plugin list`: every `.wasm` in the search directories, in search order; a
/// name found earlier shadows the same name later.
pub(super) fn list(sandbox: &Sandbox) -> anyhow::Result<bool> {
    use steprl_train::plugin_path::{PATH_VAR, search_dirs};
    let dirs = search_dirs();
    println!("plugin search path ({PATH_VAR}, then the installed plugins' directory):");
    let mut table = Table::new(&["name", "kind", "WIT", "file"]);
    let mut seen = std::collections::BTreeSet::new();
    for dir in &dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            println!("  {} (missing)", dir.display());
            continue;
        };
        println!("  {}", dir.display());
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        files.sort();
        for file in files {
            let name = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (kind, wit) = match sandbox.load(&file) {
                Ok(p) => (p.kind.world().to_owned(), WIT_VERSION.to_owned()),
                Err(e) => (format!("not loadable: {e}"), String::new()),
            };
            let shown = if seen.insert(name.clone()) {
                name
            } else {
                format!("{name} (shadowed)")
            };
            table.row(vec![shown, kind, wit, file.display().to_string()]);
        }
    }
    if seen.is_empty() {
        println!(
            "no plugins found: install the shipped ones with `plugins/build.sh --install`, or set {PATH_VAR}"
        );
    } else {
        print!("{}", table.render());
    }
    Ok(true)
}

pub(super) async fn inspect(sandbox: &Sandbox, args: &InspectArgs) -> anyhow::Result<bool> {
    let plugin = load(sandbox, &args.file)?;
    println!("plugin     {}", plugin.name);
    println!(
        "file       {} ({})",
        plugin.path.display(),
        table::bytes(plugin.size_bytes)
    );
    println!(
        "kind       {} (world steprl:plugin/{}@{WIT_VERSION})",
        plugin.kind.world(),
        plugin.kind.world()
    );
    println!(
        "compile    {} ({})",
        table::duration(plugin.compile_time),
        if plugin.from_cache {
            "loaded from the compile cache"
        } else {
            "compiled now"
        }
    );
    if plugin.kind == PluginKind::Environment {
        match WasmEnvironment::new(
            sandbox,
            &plugin,
            options(&args.config, "--config", 0, &args.grants)?,
        )
        .await
        {
            Ok(env) => describe_env(env.info()),
            Err(e) => println!("tasks      unavailable: {e}"),
        }
    }
    // The contract's exports first; anything else a toolchain adds (componentize-py's
    // `exports#init`, say) is listed apart: steprl never calls it.
    let (contract, other): (Vec<_>, Vec<_>) = plugin
        .exports
        .iter()
        .partition(|e| e.name.starts_with("steprl:plugin/"));
    println!("exports");
    for e in contract {
        println!("  {}  {}", e.name, e.signature);
    }
    if !other.is_empty() {
        println!("other exports (added by the plugin's toolchain; steprl does not call them)");
        for e in other {
            println!("  {}  {}", e.name, e.signature);
        }
    }
    println!("imports");
    for i in &plugin.imports {
        println!("  {i}");
    }
    Ok(true)
}

fn describe_env(info: &EnvInfo) {
    let mut levels: BTreeMap<Option<u8>, usize> = BTreeMap::new();
    for t in &info.tasks {
        *levels.entry(t.difficulty).or_default() += 1;
    }
    let levels: Vec<String> = levels
        .iter()
        .map(|(l, n)| match l {
            Some(l) => format!("level {l}: {n}"),
            None => format!("ungraded: {n}"),
        })
        .collect();
    println!("tasks      {} ({})", info.tasks.len(), levels.join(", "));
    let o = &info.observation;
    let mut parts = Vec::new();
    if o.text {
        parts.push("text".to_owned());
    }
    if let Some(v) = o.vocab_size {
        parts.push(match o.max_tokens {
            Some(m) => format!("tokens (vocabulary {v}, at most {m} per observation)"),
            None => format!("tokens (vocabulary {v})"),
        });
    }
    if let Some(d) = o.feature_dim {
        parts.push(format!("{d} features"));
    }
    if let Some(i) = o.image {
        parts.push(format!("image {}x{}x{}", i.width, i.height, i.channels));
    }
    println!("observes   {}", parts.join(", "));
    let a = &info.action;
    let mut acts = Vec::new();
    if a.discrete > 0 {
        acts.push(format!("{} discrete", a.discrete));
    }
    if a.text {
        acts.push("text".to_owned());
    }
    println!("actions    {}", acts.join(" + "));
}

pub(super) async fn check(
    sandbox: &Sandbox,
    args: &CheckArgs,
    global: &Global,
) -> anyhow::Result<bool> {
    let mut all_ok = true;
    for file in &args.files {
        let plugin = load(sandbox, file)?;
        println!(
            "== {} ({}, {})",
            plugin.name,
            plugin.kind.world(),
            table::bytes(plugin.size_bytes)
        );
        let violations = match plugin.kind {
            PluginKind::Environment => check_env(sandbox, &plugin, args, global).await?,
            PluginKind::RewardChecker => check_checker(sandbox, &plugin, args, global).await?,
            PluginKind::Resampler => check_resampler(sandbox, &plugin, args).await?,
        };
        if violations.is_empty() {
            println!("PASS {}: no violations", plugin.name);
        } else {
            all_ok = false;
            println!("FAIL {}: {} violation(s)", plugin.name, violations.len());
            for v in violations.iter().take(20) {
                println!("  - {v}");
            }
            if violations.len() > 20 {
                println!("  ... and {} more", violations.len() - 20);
            }
        }
        println!();
    }
    Ok(all_ok)
}

fn progress(verbose: u8) -> impl FnMut(usize, usize, &str) {
    let redraw = interactive();
    move |i, n, task| {
        if i == n {
            if redraw {
                eprint!("\r\x1b[2K");
            }
            return;
        }
        if redraw {
            eprint!("\r\x1b[2K  task {}/{n} {task}", i + 1);
            let _ = std::io::stderr().flush();
        } else if verbose > 0 {
            eprintln!("  task {}/{n} {task}", i + 1);
        }
    }
}

async fn check_env(
    sandbox: &Sandbox,
    plugin: &LoadedPlugin,
    args: &CheckArgs,
    global: &Global,
) -> anyhow::Result<Vec<Violation>> {
    let env = WasmEnvironment::new(
        sandbox,
        plugin,
        options(&args.config, "--config", args.seed, &args.grants)?,
    )
    .await?;
    let mut checker = match &args.with {
        Some(f) => {
            let c = load(sandbox, f)?;
            c.expect_kind(PluginKind::RewardChecker)?;
            Some(
                WasmRewardChecker::new(
                    sandbox,
                    &c,
                    options(&args.with_config, "--with-config", args.seed, &args.grants)?,
                )
                .await?,
            )
        }
        None => None,
    };
    if let (Some(c), Some(f)) = (&checker, &args.with) {
        println!(
            "episodes judged by `{}` ({})",
            steprl_core::RewardChecker::name(c),
            f.display()
        );
    }
    let opts = EnvCheck {
        episodes: args.episodes,
        seed: args.seed,
        budget: args.budget(),
    };
    let report = conformance::check_environment(
        &env,
        checker
            .as_mut()
            .map(|c| c as &mut dyn steprl_core::RewardChecker),
        &opts,
        progress(global.verbose),
    )
    .await;
    print_env_report(env.info(), &report, args);
    let mut violations = report.violations;
    if let Some(file) = &args.demos {
        let Some(c) = checker.as_mut() else {
            super::shut_down(&env).await;
            bail!("--demos needs the reward checker that judges them: add --with CHECKER.wasm");
        };
        violations.extend(replay_demos(&env, c, file).await?);
    }
    super::shut_down(&env).await;
    Ok(violations)
}

/// `--demos`: replay the known solutions in `file` through `env` and `checker`, print
/// how many were judged a success, and return what failed.
async fn replay_demos(
    env: &WasmEnvironment,
    checker: &mut WasmRewardChecker,
    file: &Path,
) -> anyhow::Result<Vec<Violation>> {
    let demos = steprl_train::warmstart::read_demos(file)?;
    let r = conformance::check_demos(env, checker, &demos, &file.display().to_string()).await;
    println!(
        "known solutions ({}): {} of {} judged a success{}",
        file.display(),
        r.successes,
        demos.len(),
        if r.replayed < demos.len() as u32 {
            format!(", {} did not replay", demos.len() as u32 - r.replayed)
        } else {
            String::new()
        }
    );
    Ok(r.violations)
}

fn print_env_report(info: &EnvInfo, r: &EnvReport, args: &CheckArgs) {
    let all_tasks = args.all_tasks;
    let has_checker = r.tasks.iter().any(|t| t.successes.is_some());
    let mut header = vec![
        "task",
        "#level",
        "#episodes",
        "#mean steps",
        "#done",
        "#truncated",
    ];
    if has_checker {
        header.push("#success");
    }
    header.push("#violations");
    let mut table = Table::new(&header);
    let mut shown = 0;
    for t in &r.tasks {
        if !all_tasks && t.violations == 0 {
            continue;
        }
        shown += 1;
        let mut row = vec![
            t.id.clone(),
            t.level.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
            t.episodes.to_string(),
            format!("{:.1}", t.steps as f64 / f64::from(t.episodes.max(1))),
            t.done.to_string(),
            t.truncated.to_string(),
        ];
        if has_checker {
            row.push(t.successes.map(|s| s.to_string()).unwrap_or_default());
        }
        row.push(t.violations.to_string());
        table.row(row);
    }
    let episodes: u32 = r.tasks.iter().map(|t| t.episodes).sum();
    let steps: u64 = r.tasks.iter().map(|t| t.steps).sum();
    if shown > 0 {
        print!("{}", table.render());
    }
    println!(
        "{} tasks, {episodes} episodes (+{} determinism replays), {steps} steps{}",
        info.tasks.len(),
        r.tasks.len(),
        if has_checker {
            let s: u32 = r.tasks.iter().filter_map(|t| t.successes).sum();
            format!(", {s} random-policy successes")
        } else {
            String::new()
        }
    );
    let live = r.tasks.iter().filter(|t| t.live).count();
    if live > 0 {
        println!(
            "{live} of them declare themselves not replayable (a live VM or emulator): their replays were checked to run and keep to the spaces, not to match"
        );
    }
    // Known solutions exercise the success path when given (--demos, reported next).
    if has_checker
        && episodes > 0
        && args.demos.is_none()
        && r.tasks.iter().filter_map(|t| t.successes).sum::<u32>() == 0
    {
        println!(
            "note: no random-policy episode succeeded, so the checker's success path was not exercised; pass known solutions with --demos FILE (or play one with `steprl play ENV --task ID --actions FILE --checker CHECKER`)"
        );
    }
    print_timing("reset", &r.reset);
    print_timing("step", &r.step);
    print_timing("check", &r.check);
}

fn print_timing(what: &str, t: &Timing) {
    if t.count() == 0 {
        return;
    }
    println!(
        "{what:<6} mean {}  p50 {}  p99 {}  ({} calls, host-side, including the sandbox boundary)",
        table::duration(t.mean()),
        table::duration(t.quantile(0.5)),
        table::duration(t.quantile(0.99)),
        t.count()
    );
}

async fn check_checker(
    sandbox: &Sandbox,
    plugin: &LoadedPlugin,
    args: &CheckArgs,
    global: &Global,
) -> anyhow::Result<Vec<Violation>> {
    let mut checker = WasmRewardChecker::new(
        sandbox,
        plugin,
        options(&args.config, "--config", args.seed, &args.grants)?,
    )
    .await?;
    let r: CheckerReport = conformance::check_checker(&mut checker, args.seed, args.budget()).await;
    println!(
        "generated inputs: {} calls, {} verdicts, {} typed errors",
        r.calls, r.verdicts, r.guest_errors
    );
    print_timing("check", &r.timing);
    let mut violations = r.violations;
    if let Some(f) = &args.with {
        let e = load(sandbox, f)?;
        e.expect_kind(PluginKind::Environment)?;
        let env = WasmEnvironment::new(
            sandbox,
            &e,
            options(&args.with_config, "--with-config", args.seed, &args.grants)?,
        )
        .await?;
        println!("episodes of `{}` judged by `{}`:", e.name, plugin.name);
        let report = conformance::check_environment(
            &env,
            Some(&mut checker),
            &EnvCheck {
                episodes: args.episodes,
                seed: args.seed,
                budget: args.budget(),
            },
            progress(global.verbose),
        )
        .await;
        print_env_report(env.info(), &report, args);
        violations.extend(report.violations);
        if let Some(file) = &args.demos {
            violations.extend(replay_demos(&env, &mut checker, file).await?);
        }
        super::shut_down(&env).await;
    } else if args.demos.is_some() {
        bail!("--demos needs the environment whose episodes they are: add --with ENV.wasm");
    }
    Ok(violations)
}

async fn check_resampler(
    sandbox: &Sandbox,
    plugin: &LoadedPlugin,
    args: &CheckArgs,
) -> anyhow::Result<Vec<Violation>> {
    let mut r = WasmResampler::new(
        sandbox,
        plugin,
        options(&args.config, "--config", args.seed, &args.grants)?,
    )
    .await?;
    let report: ResamplerReport =
        conformance::check_resampler(&mut r, args.seed, 5, args.budget()).await;
    println!(
        "{} rounds over 24 synthetic tasks (B=8, N=4): plan sizes {:?}",
        report.rounds, report.plan_sizes
    );
    let share: Vec<String> = report
        .by_rate
        .iter()
        .map(|(b, n)| format!("{b}: {n}"))
        .collect();
    println!("rollouts by smoothed success rate: {}", share.join(", "));
    print_timing("plan", &report.timing);
    Ok(report.violations)
}

//! `steprl compare` and `steprl report`: every method × seed of one config at the same
//! env-step budget (resumable, `--jobs` runs at a time, each on its own thread and
//! runtime), optionally after a learning-rate grid that picks each method's rate on
//! the training split, then the plots and markdown report over the saved metrics.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, bail};
use steprl_algo::Variant;
use steprl_report::{GridEntry, Manifest, RunEntry};
use steprl_sandbox::Sandbox;
use steprl_train::{Plugins, RunConfig, Start, Trainer};
use tracing::Instrument;

use super::train::Report;

use crate::args::{CompareArgs, ReportArgs};
use crate::plugins::plugins;

/// The config of one method: the base config with only the sampling and advantage
/// parts changed, the seed and the budget set.
pub fn method_config(
    base: &RunConfig,
    method: &str,
    seed: u64,
    budget: u64,
) -> anyhow::Result<RunConfig> {
    let mut cfg = base.clone();
    // `METHOD@RESAMPLER`: the method planned by another resampler plugin.
    let (method, resampler) = match method.split_once('@') {
        Some((m, r)) if !r.is_empty() => (m, Some(r)),
        Some(_) => {
            bail!("`{method}`: name a resampler after the `@` (e.g. `step@resample-progress`)")
        }
        None => (method, None),
    };
    if let Some(r) = resampler {
        cfg.resampler.plugin = resampler_beside(base, r);
        cfg.resampler.config = toml::Table::new();
        cfg.resampler.grants = Default::default();
    }
    let variant: Variant = method.parse()?;
    cfg.algo.method = variant.method();
    cfg.algo.augment.enabled = variant.augment() && base.algo.augment.enabled;
    // Adaptive resampling on or off is the host's setting, sent in every plan request;
    // a resampler that does not read it plans as it plans (the run warns).
    cfg.algo.resample.adaptive = variant.adaptive() && base.algo.resample.adaptive;
    cfg.seed = seed;
    cfg.budget_env_steps = budget;
    // The budget ends the run; rounds only guard against a budget never reached.
    cfg.rounds = u32::MAX;
    cfg.eval.episodes = cfg.eval.episodes.max(1);
    Ok(cfg)
}

/// The plugin a `@RESAMPLER` names: a path as given; a name as the `.wasm` beside the
/// base config's resampler when there is one (the shipped plugins sit together), else
/// looked up on the plugin search path when loaded.
fn resampler_beside(base: &RunConfig, reference: &str) -> PathBuf {
    let given = PathBuf::from(reference);
    if !steprl_train::plugin_path::is_name(&given) {
        return given;
    }
    base.resampler
        .plugin
        .parent()
        .map(|d| d.join(format!("{reference}.wasm")))
        .filter(|p| p.is_file())
        .unwrap_or(given)
}

/// What happened to one run.
enum Outcome {
    Skipped,
    Trained { rounds: u32, env_steps: u64 },
}

/// Train (or resume, or skip when finished) one run, then evaluate it.
async fn one(
    sandbox: &Sandbox,
    cfg: RunConfig,
    dir: &Path,
    label: &str,
    backend: steprl_learner::BackendChoice,
    siblings: &[PathBuf],
) -> anyhow::Result<Outcome> {
    if dir.join("eval-after.json").exists() {
        return Ok(Outcome::Skipped);
    }
    let selected = steprl_learner::select(backend)?;
    let loaded = plugins(sandbox, &cfg, None, None).await?;
    let env = loaded.env.clone();
    let result = train_one(loaded, cfg, dir, label, &selected, siblings).await;
    super::shut_down(&*env).await;
    result
}

/// Train run `dir` to its end (resuming it if it has a checkpoint) and evaluate it.
async fn train_one(
    loaded: Plugins,
    cfg: RunConfig,
    dir: &Path,
    label: &str,
    selected: &steprl_learner::Selected,
    siblings: &[PathBuf],
) -> anyhow::Result<Outcome> {
    let mut trainer = if steprl_train::checkpoint::has_checkpoint(dir) {
        let saved = RunConfig::load(&dir.join("config.toml"))?;
        Trainer::open(Start::Resume(dir), saved, loaded, &selected.device)?
    } else {
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("clearing the unstarted run {}", dir.display()))?;
        }
        let mut trainer = Trainer::open(Start::Fresh(dir), cfg, loaded, &selected.device)?;
        match shared_warm_start(siblings, label) {
            Some((from, record)) => {
                trainer.adopt_warm_start(&from, &selected.device)?;
                eprintln!("{label}: warm start: the policy {} cloned", from.display());
                std::fs::copy(&record, dir.join("warmstart.json"))
                    .with_context(|| format!("copying {}", record.display()))?;
            }
            None => warm_start(&mut trainer, dir, label).await?,
        }
        trainer
    };
    // Killed between the warm start's checkpoint and its evaluation: evaluate now, the
    // policy being still the cloned one.
    let warm_eval = dir.join("eval-warmstart.json");
    if trainer.config().warmstart.demos.is_some()
        && trainer.next_round() == 0
        && !warm_eval.exists()
    {
        let e = trainer.config().eval;
        write_json(&warm_eval, &trainer.evaluate(e.episodes, e.greedy).await?)?;
    }
    super::train::run_rounds(&mut trainer, Report::Labelled { label, every: 10 }).await?;
    super::train::final_evals(&mut trainer, dir).await?;
    Ok(Outcome::Trained {
        rounds: trainer.next_round(),
        env_steps: trainer.env_steps_total(),
    })
}

/// The config's warm start (behaviour cloning on its demonstrations), as `train` runs
/// it before the first round, so every method and seed starts from the cloned policy;
/// what it did goes to `warmstart.json`. (A run whose sibling already cloned the same
/// policy takes that one instead: see [`shared_warm_start`].)
async fn warm_start(trainer: &mut Trainer, dir: &Path, label: &str) -> anyhow::Result<()> {
    let Some(w) = trainer.warm_start().await? else {
        return Ok(());
    };
    let epochs = trainer.config().warmstart.epochs;
    eprintln!("{label}: {}", super::train::warm_start_line(&w, epochs));
    let record = serde_json::json!({
        "demos": w.demos,
        "samples": w.samples,
        "epochs": epochs,
        "lr": trainer.config().warmstart.lr,
        "loss_first": w.loss_first,
        "loss_last": w.loss_last,
    });
    write_json(&dir.join("warmstart.json"), &record)
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    steprl_train::checkpoint::write_atomic(path, serde_json::to_string_pretty(value)?.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    format!("{cpu}, {cores} cores")
}

/// One run to train: its label, directory and config.
struct Job {
    label: String,
    dir: PathBuf,
    cfg: RunConfig,
}

/// What a run's warm start depends on: its resolved config less the parts a method
/// or its learning rate sets (the warm start reads neither): the config put through
/// [`method_config`] as one fixed method, with the resampler and the rate cleared;
/// `None` without a warm start. Runs with the same key clone the same policy, so one
/// clone serves them all.
fn warm_start_key(cfg: &RunConfig) -> Option<String> {
    cfg.warmstart.demos.as_ref()?;
    let mut k = method_config(cfg, "step-no-both", cfg.seed, 0).ok()?;
    k.resampler.plugin = PathBuf::new();
    k.resampler.config = toml::Table::new();
    k.resampler.grants = Default::default();
    k.learner.lr = 0.0;
    Some(k.to_toml())
}

/// For each job, the other jobs' directories whose warm start is the same computation.
fn warm_start_siblings(jobs: &[Job]) -> Vec<Vec<PathBuf>> {
    let keys: Vec<Option<String>> = jobs.iter().map(|j| warm_start_key(&j.cfg)).collect();
    keys.iter()
        .enumerate()
        .map(|(i, k)| match k {
            None => Vec::new(),
            Some(k) => (0..jobs.len())
                .filter(|&o| o != i && keys[o].as_ref() == Some(k))
                .map(|o| jobs[o].dir.clone())
                .collect(),
        })
        .collect()
}

/// A finished warm start among `siblings`: the checkpoint it wrote before its first
/// round (complete once its `warmstart.json` exists) and that record. A damaged one is
/// passed over, saying so, so that the run clones for itself rather than failing on
/// every rerun.
fn shared_warm_start(siblings: &[PathBuf], label: &str) -> Option<(PathBuf, PathBuf)> {
    siblings.iter().find_map(|s| {
        let (record, ckpt) = (s.join("warmstart.json"), s.join("checkpoints/round-00000"));
        if !(record.is_file() && ckpt.is_dir()) {
            return None;
        }
        match steprl_train::checkpoint::verify(&ckpt) {
            Ok(()) => Some((ckpt, record)),
            Err(e) => {
                eprintln!("{label}: warm start: not taking a sibling's clone: {e}");
                None
            }
        }
    })
}

/// Train `jobs` (skipping finished ones, resuming unfinished ones), `parallel` at a
/// time, each on its own thread and runtime; returns the failures.
fn run_all(
    sandbox: &Sandbox,
    jobs: Vec<Job>,
    parallel: usize,
    backend: steprl_learner::BackendChoice,
) -> Vec<String> {
    let total = jobs.len();
    let siblings = warm_start_siblings(&jobs);
    let queue: Mutex<VecDeque<(Job, Vec<PathBuf>)>> =
        Mutex::new(jobs.into_iter().zip(siblings).collect());
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let done = Mutex::new(0usize);
    tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            for _ in 0..parallel.max(1).min(total) {
                scope.spawn(|| {
                    let rt = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(e) => {
                            failures
                                .lock()
                                .expect("lock")
                                .push(format!("cannot start a runtime: {e}"));
                            return;
                        }
                    };
                    loop {
                        let Some((job, siblings)) = queue.lock().expect("lock").pop_front()
                        else {
                            return;
                        };
                        let label = &job.label;
                        // Log lines from inside the run (warm-start epochs) name it.
                        let span = tracing::info_span!(target: "progress", "compare", run = %label);
                        let result = rt.block_on(
                            one(sandbox, job.cfg, &job.dir, label, backend, &siblings)
                                .instrument(span),
                        );
                        let mut d = done.lock().expect("lock");
                        *d += 1;
                        match result {
                            Ok(Outcome::Skipped) => {
                                eprintln!("[{}/{total}] {label}: already finished", *d)
                            }
                            Ok(Outcome::Trained { rounds, env_steps }) => eprintln!(
                                "[{}/{total}] {label}: done ({rounds} rounds, {env_steps} env steps)",
                                *d
                            ),
                            Err(e) => {
                                eprintln!("[{}/{total}] {label}: FAILED: {e:#}", *d);
                                failures.lock().expect("lock").push(format!("{label}: {e:#}"));
                            }
                        }
                    }
                });
            }
        });
    });
    failures.into_inner().expect("lock")
}

/// Parse `--lr-grid`: positive, finite, distinct learning rates.
fn parse_grid(list: &str) -> anyhow::Result<Vec<f64>> {
    let mut lrs = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let lr: f64 = item
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v > 0.0)
            .with_context(|| {
                format!("--lr-grid: `{item}` is not a positive learning rate (e.g. 3e-4,1e-3,3e-3)")
            })?;
        if lrs.contains(&lr) {
            bail!("--lr-grid: {item} is listed twice");
        }
        lrs.push(lr);
    }
    if lrs.is_empty() {
        bail!("--lr-grid is empty (e.g. 3e-4,1e-3,3e-3)");
    }
    Ok(lrs)
}

/// Parse `--lr`: `method=rate` pairs for methods being compared.
fn parse_lrs(list: &str, methods: &[String]) -> anyhow::Result<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((m, v)) = item.split_once('=') else {
            bail!("--lr: `{item}` is not METHOD=RATE (e.g. step=3e-3,tgrpo=1e-3)");
        };
        let m = m.trim();
        if !methods.iter().any(|x| x == m) {
            bail!(
                "--lr: `{m}` is not among the compared methods ({})",
                methods.join(", ")
            );
        }
        let lr: f64 = v
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v > 0.0)
            .with_context(|| format!("--lr: `{}` is not a positive learning rate", v.trim()))?;
        if out.insert(m.to_owned(), lr).is_some() {
            bail!("--lr: {m} is given twice");
        }
    }
    if out.is_empty() {
        bail!("--lr is empty (e.g. step=3e-3,tgrpo=1e-3)");
    }
    Ok(out)
}

/// First seed of the learning-rate grid: far from the comparison's seeds, so the
/// runs that pick a learning rate are never the runs that are reported.
const GRID_SEED_OFFSET: u64 = 1000;

/// A comparison resolved from its flags before anything runs: the base config, the
/// methods, seeds and runs, the grid, and the manifest (with a resumed comparison's
/// learning rates and record kept).
struct Plan {
    base: RunConfig,
    methods: Vec<String>,
    grid_lrs: Option<Vec<f64>>,
    out: PathBuf,
    manifest: Manifest,
}

/// Validate the flags, lay out the runs and reconcile with a comparison already in
/// `--out` (refusing one with other settings).
fn resolve(args: &CompareArgs) -> anyhow::Result<Plan> {
    let base = RunConfig::load(&args.config)?;
    let methods: Vec<String> = args
        .methods
        .split(',')
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .collect();
    if methods.is_empty() {
        bail!("--methods is empty (valid: {})", Variant::names());
    }
    if args.seeds == 0 {
        bail!("--seeds must be at least 1");
    }
    if args.budget_env_steps == 0 {
        bail!("--budget-env-steps must be positive");
    }
    let grid_lrs = args.lr_grid.as_deref().map(parse_grid).transpose()?;
    if grid_lrs.is_some() && args.grid_seeds == 0 {
        bail!("--grid-seeds must be at least 1");
    }
    let fixed_lr = args
        .lr
        .as_deref()
        .map(|l| parse_lrs(l, &methods))
        .transpose()?
        .unwrap_or_default();
    let seeds: Vec<u64> = (0..u64::from(args.seeds)).map(|i| base.seed + i).collect();
    for m in &methods {
        // Validates the method names before anything runs.
        method_config(&base, m, base.seed, args.budget_env_steps)?;
    }
    let out = args.out.clone().unwrap_or_else(|| {
        let stem = args
            .config
            .file_stem()
            .map_or_else(|| "run".into(), |s| s.to_string_lossy().into_owned());
        PathBuf::from("runs").join(format!("compare-{stem}"))
    });
    let mut grid = Vec::new();
    for lr in grid_lrs.iter().flatten() {
        for m in &methods {
            for i in 0..u64::from(args.grid_seeds) {
                let seed = base.seed + GRID_SEED_OFFSET + i;
                grid.push(GridEntry {
                    method: m.clone(),
                    lr: *lr,
                    seed,
                    dir: PathBuf::from("grid")
                        .join(m)
                        .join(format!("lr-{lr:e}"))
                        .join(format!("seed-{seed}")),
                });
            }
        }
    }
    let runs: Vec<RunEntry> = methods
        .iter()
        .flat_map(|m| {
            seeds.iter().map(move |&s| RunEntry {
                method: m.clone(),
                seed: s,
                dir: PathBuf::from(m).join(format!("seed-{s}")),
            })
        })
        .collect();
    let mut manifest = Manifest {
        config: args.config.clone(),
        methods: methods.clone(),
        seeds: seeds.clone(),
        budget_env_steps: args.budget_env_steps,
        runs: runs.clone(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        machine: format!("{}; backend {:?}", machine(), args.backend).to_lowercase(),
        lr: fixed_lr,
        grid: grid.clone(),
    };
    let manifest_path = out.join("compare.json");
    if manifest_path.exists() {
        let old: Manifest = serde_json::from_str(&std::fs::read_to_string(&manifest_path)?)
            .with_context(|| {
                format!(
                    "{} is not a steprl comparison manifest",
                    manifest_path.display()
                )
            })?;
        if old.methods != manifest.methods
            || old.seeds != manifest.seeds
            || old.budget_env_steps != manifest.budget_env_steps
            || old.grid != manifest.grid
            || (args.lr.is_some() && old.lr != manifest.lr)
        {
            bail!(
                "{} holds a comparison with other settings (methods {}, seeds {:?}, budget {}, {} grid runs, learning rates {:?}); resume it with the same flags or choose another --out",
                out.display(),
                old.methods.join(","),
                old.seeds,
                old.budget_env_steps,
                old.grid.len(),
                old.lr
            );
        }
        // The comparison keeps the learning rates it picked and the record of the
        // command and machine that started it.
        manifest.lr = old.lr;
        manifest.command = old.command;
        manifest.machine = old.machine;
        println!("resuming the comparison in {}", out.display());
    }
    Ok(Plan {
        base,
        methods,
        grid_lrs,
        out,
        manifest,
    })
}

pub(super) async fn compare(sandbox: &Sandbox, args: &CompareArgs) -> anyhow::Result<bool> {
    let Plan {
        base,
        methods,
        grid_lrs,
        out,
        mut manifest,
    } = resolve(args)?;
    let manifest_path = out.join("compare.json");
    let (seeds, runs) = (manifest.seeds.clone(), manifest.runs.clone());
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    write_json(&manifest_path, &manifest)?;
    let jobs = args.jobs.max(1);
    if let Some(lrs) = &grid_lrs {
        run_grid(sandbox, args, &base, &methods, lrs, &out, &mut manifest)?;
    }

    let mut configs = Vec::new();
    for e in &runs {
        let mut cfg = method_config(&base, &e.method, e.seed, args.budget_env_steps)?;
        if let Some(lr) = manifest.lr.get(&e.method) {
            cfg.learner.lr = *lr;
        }
        configs.push(Job {
            label: format!("{} seed {}", e.method, e.seed),
            dir: out.join(&e.dir),
            cfg,
        });
    }
    // Seed-major: every method's first seed runs before any method's second, so a
    // comparison stopped early (or read while it runs) has all methods on the same seeds.
    configs.sort_by_key(|j| j.cfg.seed);
    println!(
        "comparing {} methods × {} seeds at {} env steps each, {jobs} at a time, in {}",
        methods.len(),
        seeds.len(),
        args.budget_env_steps,
        out.display()
    );
    let total = runs.len();
    let failures = run_all(sandbox, configs, jobs, args.backend);
    copy_tasks(&out, runs.iter().map(|e| &e.dir))?;
    let rendered = steprl_report::render(&out)?;
    println!("report: {}", rendered.report.display());
    for n in &rendered.notes {
        println!("note: {n}");
    }
    print_summary(&out)?;
    if !failures.is_empty() {
        bail!(
            "{} of {total} runs failed (rerun the same command to retry them):\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
    }
    Ok(true)
}

/// The learning-rate grid: every method × rate × grid seed at the budget; the rate
/// with the best final training success becomes each method's rate, saved in the
/// manifest.
fn run_grid(
    sandbox: &Sandbox,
    args: &CompareArgs,
    base: &RunConfig,
    methods: &[String],
    lrs: &[f64],
    out: &Path,
    manifest: &mut Manifest,
) -> anyhow::Result<()> {
    let jobs = args.jobs.max(1);
    let manifest_path = out.join("compare.json");
    println!(
        "learning-rate grid: {} methods × {} rates × {} seeds at {} env steps each, {jobs} at a time",
        methods.len(),
        lrs.len(),
        args.grid_seeds,
        args.budget_env_steps
    );
    let grid = manifest.grid.clone();
    let grid_jobs = grid
        .iter()
        .map(|e| {
            let mut cfg = method_config(base, &e.method, e.seed, args.budget_env_steps)?;
            cfg.learner.lr = e.lr;
            Ok(Job {
                label: format!("grid {} lr {:e} seed {}", e.method, e.lr, e.seed),
                dir: out.join(&e.dir),
                cfg,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let failures = run_all(sandbox, grid_jobs, jobs, args.backend);
    copy_tasks(out, grid.iter().map(|e| &e.dir))?;
    if !failures.is_empty() {
        bail!(
            "{} grid runs failed (rerun the same command to retry them):\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
    }
    let cmp = steprl_report::data::load(out)?;
    manifest.lr = steprl_report::grid::pick(&steprl_report::grid::cells(&cmp));
    for m in methods {
        let Some(lr) = manifest.lr.get(m) else {
            bail!("the grid picked no learning rate for {m}: none of its grid runs finished");
        };
        println!("learning rate for {m}: {lr:e} (best final training success of the grid)");
    }
    write_json(&manifest_path, manifest)?;
    Ok(())
}

/// Copy the first run's `tasks.json` to the comparison (reports group by it).
fn copy_tasks<'a>(out: &Path, dirs: impl Iterator<Item = &'a PathBuf>) -> anyhow::Result<()> {
    let dest = out.join("tasks.json");
    if let Some(first) = dirs
        .map(|d| out.join(d).join("tasks.json"))
        .find(|p| p.exists())
    {
        std::fs::copy(&first, &dest).with_context(|| format!("copying {}", first.display()))?;
    }
    Ok(())
}

fn print_summary(dir: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(dir.join("report.md"))?;
    let mut in_summary = false;
    for line in text.lines() {
        if line.starts_with("## ") {
            in_summary = line == "## Summary";
            continue;
        }
        if in_summary {
            println!("{line}");
        }
    }
    Ok(())
}

pub(super) fn report(args: &ReportArgs) -> anyhow::Result<bool> {
    let r = steprl_report::render(&args.dir)?;
    println!("report: {}", r.report.display());
    for p in &r.plots {
        println!("plot: {}", p.display());
    }
    for n in &r.notes {
        println!("note: {n}");
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str) -> RunConfig {
        RunConfig::load(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../configs")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn each_variant_sets_the_hosts_resampling_switch_and_leaves_the_plugin_config() {
        let step = config("uisim-step.toml");
        for v in Variant::ALL {
            let c = method_config(&step, v.name(), 1, 100).unwrap();
            assert_eq!(c.algo.method, v.method(), "{v}");
            assert_eq!(c.algo.resample.adaptive, v.adaptive(), "{v}");
            assert_eq!(c.algo.augment.enabled, v.augment(), "{v}");
            assert_eq!(c.resampler.config, step.resampler.config, "{v}");
        }
        // A base config without adaptive resampling keeps it off for every variant.
        let mut off = step.clone();
        off.algo.resample.adaptive = false;
        assert!(
            !method_config(&off, "step", 1, 100)
                .unwrap()
                .algo
                .resample
                .adaptive
        );
        // The Python uniform resampler's config is left as configured; the switch is
        // sent in the request, which it does not read (the run says so).
        let uniform = config("uisim-gigpo.toml");
        for method in ["step", "tgrpo", "gigpo", "step-no-aug", "step-no-both"] {
            let c = method_config(&uniform, method, 1, 100).unwrap();
            assert_eq!(c.resampler.config, uniform.resampler.config, "{method}");
        }
        // Another resampler for a method: found beside the config's, with its defaults.
        for (method, plugin) in [
            ("step@resample-progress", "resample-progress.wasm"),
            ("tgrpo@resample-dapo-py", "resample-dapo-py.wasm"),
            ("step-no-both@resample-progress", "resample-progress.wasm"),
        ] {
            let c = method_config(&step, method, 1, 100).unwrap();
            assert!(c.resampler.plugin.ends_with(plugin), "{method}");
            assert!(c.resampler.config.is_empty(), "{method}");
        }
        let c = method_config(&step, "step-no-resample@resample-step", 1, 100).unwrap();
        assert!(c.resampler.plugin.ends_with("resample-step.wasm"));
        assert!(!c.algo.resample.adaptive);
        let c = method_config(&step, "step@no-such-resampler", 1, 100).unwrap();
        assert_eq!(
            c.resampler.plugin,
            Path::new("no-such-resampler"),
            "left for the search path"
        );
        for bad in ["step@", "nope@resample-progress", "stpe"] {
            assert!(method_config(&step, bad, 1, 100).is_err(), "{bad}");
        }
        let e = method_config(&step, "stpe", 1, 100)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown method `stpe` (valid: step, tgrpo"),
            "{e}"
        );
    }
}

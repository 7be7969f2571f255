//! `steprl train`, `steprl resume` and `steprl eval`: load the run's plugins into the
//! sandbox, choose the device, and drive a `Trainer`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use steprl_learner::{BackendChoice, Selected};
use steprl_sandbox::Sandbox;
use steprl_train::{EvalReport, Plugins, RoundMetrics, RunConfig, Start, Trainer};

use super::interactive;
use crate::args::{EvalArgs, ResumeArgs, TrainArgs};
use crate::plugins::plugins;
use crate::table::Table;

fn device(choice: BackendChoice) -> anyhow::Result<Selected> {
    let s = steprl_learner::select(choice)?;
    eprintln!("backend: {} — {}", s.backend, s.description);
    Ok(s)
}

fn hyperparameters(cfg: &RunConfig, trainer: &Trainer, backend: &Selected) -> String {
    let mut t = Table::new(&["setting", "value"]);
    let mut row = |k: &str, v: String| t.row(vec![k.to_owned(), v]);
    row("method", format!("{:?}", cfg.algo.method).to_lowercase());
    row("seed", cfg.seed.to_string());
    row(
        "rounds / env-step budget",
        format!(
            "{} / {}",
            cfg.rounds,
            if cfg.budget_env_steps == 0 {
                "none".into()
            } else {
                cfg.budget_env_steps.to_string()
            }
        ),
    );
    row("tasks (training)", trainer.tasks().len().to_string());
    row(
        "B × N per round",
        format!(
            "{} × {}",
            cfg.rollout.tasks_per_round, cfg.rollout.copies_per_task
        ),
    );
    row("concurrency", cfg.rollout.concurrency.to_string());
    row(
        "resampler",
        format!(
            "{} {}",
            cfg.resampler.plugin.display(),
            RunConfig::plugin_json(&cfg.resampler)
        ),
    );
    row("beta (EMA)", cfg.algo.beta.to_string());
    row(
        "augment",
        format!(
            "{} (s_aug {}, G {}, λ {})",
            cfg.algo.augment.enabled,
            cfg.algo.augment.s_aug,
            cfg.algo.augment.group_size,
            cfg.algo.augment.weight
        ),
    );
    row("history H", cfg.algo.history.to_string());
    let p = &cfg.policy;
    let policy = match p.kind {
        steprl_learner::PolicyKind::Lm => format!(
            "lm {} ({:?} mode), {} ({} trainable parameters)",
            p.model.as_deref().unwrap_or(Path::new("?")).display(),
            p.mode,
            match p.finetune {
                steprl_learner::Finetune::Full =>
                    "full fine-tuning of the decoder layers' projections".to_owned(),
                steprl_learner::Finetune::Lora => format!(
                    "LoRA rank {} α {} on {}{}",
                    p.lora_rank,
                    p.lora_alpha,
                    p.lora_targets.join(", "),
                    if p.lora_dropout > 0.0 {
                        format!(", dropout {}", p.lora_dropout)
                    } else {
                        String::new()
                    }
                ),
            },
            trainer.learner_params()
        ),
        _ => format!(
            "{:?} embed {} hidden {} layers {} ({} parameters)",
            p.kind,
            p.embed_dim,
            p.hidden,
            p.layers,
            trainer.learner_params()
        )
        .to_lowercase(),
    };
    row("policy", policy);
    let l = &cfg.learner;
    row(
        "lr / epochs / minibatch",
        format!("{} / {} / {}", l.lr, l.epochs, l.minibatch),
    );
    row(
        "clip ε / KL / entropy / grad clip",
        format!(
            "{} / {} / {} / {}",
            l.clip, l.kl_coef, l.entropy_coef, l.grad_clip
        ),
    );
    row(
        "backend",
        format!("{} ({})", backend.backend, backend.description),
    );
    t.render()
}

fn progress_line(m: &RoundMetrics, rounds: u32) -> String {
    let done = (m.round + 1) as usize;
    let width = 20;
    let filled = (done * width / rounds.max(1) as usize).min(width);
    format!(
        "[{}{}] round {:>3}/{rounds}  env steps {:>7}  success {:>5.1}%  cache {:>3}  samples {:>5} (+{} aug)  kl {:.4}  {:>6.0} steps/s  {:.1}s{}{}",
        "#".repeat(filled),
        "-".repeat(width - filled),
        m.round + 1,
        m.env_steps_total,
        100.0 * m.success_rate,
        m.cache_size,
        m.samples,
        m.aug_samples,
        m.update.approx_kl,
        m.perf.env_steps_per_s,
        m.perf.total_s,
        if m.degenerate {
            "  (no samples: no update)"
        } else {
            ""
        },
        if m.plugin_failures > 0 {
            format!(
                "  {:.0}% lost to plugin failures",
                100.0 * m.plugin_failures as f64
                    / (m.plugin_failures + m.trajectories).max(1) as f64
            )
        } else {
            String::new()
        }
    )
}

/// On a terminal, a live count of finished episodes while a rollout runs (a round of a
/// language-model policy takes minutes on a CPU); cleared when the rollout ends.
fn show_progress(trainer: &mut Trainer) {
    if !interactive() {
        return;
    }
    trainer.on_progress(Box::new(|done, total| {
        if done < total {
            eprint!("\r\x1b[2K  episodes {done}/{total}");
        } else {
            eprint!("\r\x1b[2K");
        }
        let _ = std::io::stderr().flush();
    }));
}

/// How [`run_rounds`] reports progress.
#[derive(Debug, Clone, Copy)]
pub(super) enum Report<'a> {
    /// `train` and `resume`: every round's line (redrawn in place on a terminal) and a
    /// warning when a task becomes stuck.
    EveryRound,
    /// `compare`, whose runs share the terminal: a line naming the run every `every`
    /// rounds and at the end.
    Labelled {
        /// The run's name in the comparison.
        label: &'a str,
        /// Rounds between lines.
        every: u32,
    },
}

/// Run the trainer's rounds to the end of its budget, reporting as `report` says: the
/// round loop every command that trains shares.
pub(super) async fn run_rounds(trainer: &mut Trainer, report: Report<'_>) -> anyhow::Result<()> {
    let rounds = trainer.config().rounds;
    let tty = interactive();
    let mut warned_stuck = std::collections::BTreeSet::new();
    while !trainer.finished() {
        let m = trainer.round().await?;
        if let Report::Labelled { label, every } = report {
            if (m.round + 1).is_multiple_of(every.max(1)) || trainer.finished() {
                let budget = trainer.config().budget_env_steps;
                eprintln!(
                    "  {label}: round {:>3}  env steps {:>7}/{budget}  success {:>5.1}%  cache {:>2}",
                    m.round + 1,
                    m.env_steps_total,
                    100.0 * m.success_rate,
                    m.cache_size
                );
            }
            continue;
        }
        let line = progress_line(&m, rounds);
        if tty {
            eprint!("\r\x1b[2K{line}");
            let _ = std::io::stderr().flush();
            if m.round + 1 == rounds || trainer.finished() {
                eprintln!();
            }
        } else {
            eprintln!("{line}");
        }
        // Said once per task, when it becomes stuck (not every few rounds).
        let newly: Vec<&str> = m
            .stuck_tasks
            .iter()
            .filter(|t| warned_stuck.insert((*t).clone()))
            .map(String::as_str)
            .collect();
        if !newly.is_empty() {
            let never = newly
                .iter()
                .filter(|t| trainer.record().get(t).is_none_or(|r| r.successes == 0))
                .count();
            tracing::warn!(
                "{}",
                stuck_warning(&newly, trainer.config().algo.stuck_rounds, never)
            );
        }
    }
    Ok(())
}

/// The warning for tasks that just reached `rounds` rounds at ŝ = 0; `never` of them have
/// not succeeded in any rollout of the run.
fn stuck_warning(newly: &[&str], rounds: u32, never: usize) -> String {
    const SHOWN: usize = 8;
    let mut list = newly[..newly.len().min(SHOWN)].join(", ");
    if newly.len() > SHOWN {
        list.push_str(&format!(" and {} more", newly.len() - SHOWN));
    }
    let n = newly.len();
    let mut s = format!(
        "{n} task{} at 0% success for {rounds} rounds: {list}",
        if n == 1 { "" } else { "s" }
    );
    if never > 0 {
        s.push_str(&format!(
            "; {never} of them never succeeded in any rollout: hard for this policy, or a checker or task that cannot succeed — check one with a scripted solution (`steprl play ENV --task ID --actions FILE --checker CHECKER`)"
        ));
    }
    s
}

async fn evaluate(trainer: &mut Trainer, label: &str) -> anyhow::Result<Option<EvalReport>> {
    let e = trainer.config().eval;
    if e.episodes == 0 {
        return Ok(None);
    }
    let r = trainer.evaluate(e.episodes, e.greedy).await?;
    print_success(trainer, label, &r);
    Ok(Some(r))
}

fn print_success(trainer: &Trainer, label: &str, r: &EvalReport) {
    let e = trainer.config().eval;
    println!(
        "success {label}: {:.1}% (mean over {} tasks, {} {} episodes each)",
        100.0 * r.mean(),
        r.tasks.len(),
        e.episodes,
        if e.greedy { "greedy" } else { "sampled" }
    );
}

/// Held-out success now (none when the run holds no tasks out or evaluates nothing).
async fn evaluate_heldout(
    trainer: &mut Trainer,
    label: &str,
) -> anyhow::Result<Option<EvalReport>> {
    let e = trainer.config().eval;
    if e.episodes == 0 {
        return Ok(None);
    }
    let Some(h) = trainer.evaluate_heldout(e.episodes, e.greedy).await? else {
        return Ok(None);
    };
    print_heldout(trainer, label, &h);
    Ok(Some(h))
}

fn print_heldout(trainer: &Trainer, label: &str, h: &EvalReport) {
    println!(
        "success on {} held-out tasks {label}: {:.1}%",
        trainer.heldout().len(),
        100.0 * h.mean()
    );
}

/// Write an evaluation into the run directory, atomically (a crash leaves the old
/// file or the new one, never half of one).
fn write_eval(out: &Path, name: &str, r: &EvalReport) -> anyhow::Result<()> {
    let path = out.join(name);
    steprl_train::checkpoint::write_atomic(&path, serde_json::to_string_pretty(r)?.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// The end-of-run evaluations of a run.
pub(super) struct FinalEvals {
    /// On the held-out tasks (none when the run holds none out).
    pub heldout: Option<EvalReport>,
    /// On the training tasks.
    pub after: EvalReport,
}

/// The end-of-run evaluations `train`, `resume` and `compare` all make, written into
/// the run directory: held-out success to `eval-heldout.json` (when the run holds
/// tasks out), then training-task success to `eval-after.json`, written last because
/// its presence marks the run finished.
pub(super) async fn final_evals(trainer: &mut Trainer, out: &Path) -> anyhow::Result<FinalEvals> {
    let e = trainer.config().eval;
    let heldout = trainer.evaluate_heldout(e.episodes, e.greedy).await?;
    if let Some(h) = &heldout {
        write_eval(out, "eval-heldout.json", h)?;
    }
    let after = trainer.evaluate(e.episodes, e.greedy).await?;
    write_eval(out, "eval-after.json", &after)?;
    Ok(FinalEvals { heldout, after })
}

pub(super) async fn train(sandbox: &Sandbox, args: &TrainArgs) -> anyhow::Result<bool> {
    let mut cfg = RunConfig::load(&args.config)?;
    if let Some(s) = args.seed {
        cfg.seed = s;
    }
    if let Some(r) = args.rounds {
        cfg.rounds = r;
    }
    let out = args.out.clone().unwrap_or_else(|| {
        let stem = args
            .config
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into());
        PathBuf::from("runs").join(stem)
    });
    let backend = device(args.backend)?;
    let plugins = plugins(sandbox, &cfg, None, None).await?;
    let env = plugins.env.clone();
    let trainer = Trainer::open(Start::Fresh(&out), cfg.clone(), plugins, &backend.device)?;
    let result = run_fresh(trainer, cfg, &out, &backend).await;
    super::shut_down(&*env).await;
    result
}

/// What a warm start did, as `train` and `compare` print it.
pub(super) fn warm_start_line(w: &steprl_train::WarmStart, epochs: u32) -> String {
    format!(
        "warm start: {} demonstrations, {} steps cloned, {epochs} epochs: loss {:.3} -> {:.3}",
        w.demos, w.samples, w.loss_first, w.loss_last
    )
}

/// A new run from round 0: the resolved config, evaluation before, warm start, the
/// rounds, and the final evaluations.
async fn run_fresh(
    mut trainer: Trainer,
    cfg: RunConfig,
    out: &Path,
    backend: &Selected,
) -> anyhow::Result<bool> {
    let out = out.to_owned();
    show_progress(&mut trainer);
    println!("run directory: {}", out.display());
    // The settings once: the table of what matters; every key is in the saved file.
    println!(
        "resolved config (every setting, defaults filled in): {}",
        out.join("config.toml").display()
    );
    print!("{}", hyperparameters(&cfg, &trainer, backend));
    let before = evaluate(&mut trainer, "before training").await?;
    if let Some(h) = evaluate_heldout(&mut trainer, "before training").await? {
        write_eval(&out, "eval-heldout-before.json", &h)?;
    }
    if let Some(w) = trainer.warm_start().await? {
        println!("{}", warm_start_line(&w, cfg.warmstart.epochs));
        if let Some(r) = evaluate(&mut trainer, "after warm start").await? {
            write_eval(&out, "eval-warmstart.json", &r)?;
        }
        if let Some(h) = evaluate_heldout(&mut trainer, "after warm start").await? {
            write_eval(&out, "eval-heldout-warmstart.json", &h)?;
        }
    }
    run_rounds(&mut trainer, Report::EveryRound).await?;
    finish(&mut trainer, &out, before).await
}

async fn finish(
    trainer: &mut Trainer,
    out: &Path,
    before: Option<EvalReport>,
) -> anyhow::Result<bool> {
    if let Some(b) = &before {
        write_eval(out, "eval-before.json", b)?;
    }
    let mut covered = true;
    if trainer.config().eval.episodes > 0 {
        let FinalEvals { heldout, after } = final_evals(trainer, out).await?;
        if let Some(h) = heldout {
            print_heldout(trainer, "after training", &h);
            let before: Option<EvalReport> =
                std::fs::read_to_string(out.join("eval-heldout-before.json"))
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok());
            if let Some(b) = before {
                println!(
                    "held-out before → after: {:.1}% → {:.1}%",
                    100.0 * b.mean(),
                    100.0 * h.mean()
                );
            }
        }
        print_success(trainer, "after training", &after);
        if let Some(b) = before {
            println!(
                "before → after: {:.1}% → {:.1}%",
                100.0 * b.mean(),
                100.0 * after.mean()
            );
        }
        covered = after.covers_any_task();
        if !covered {
            eprintln!(
                "error: the final evaluation judged no episode of any task ({} lost to plugin failures; rerun with -v to see them)",
                after.plugin_failures
            );
        }
    }
    println!(
        "{} rounds, {} env steps; metrics in {}, checkpoints in {}",
        trainer.next_round(),
        trainer.env_steps_total(),
        out.join("metrics.jsonl").display(),
        out.join("checkpoints").display()
    );
    Ok(covered)
}

pub(super) async fn resume(sandbox: &Sandbox, args: &ResumeArgs) -> anyhow::Result<bool> {
    let out = &args.run_dir;
    let config_path = out.join("config.toml");
    let cfg = RunConfig::load(&config_path)
        .with_context(|| format!("{} is not a steprl run directory", out.display()))?;
    let mut cfg = cfg;
    let swap = swap_resampler(&mut cfg, args)?;
    let backend = device(args.backend)?;
    let plugins = plugins(sandbox, &cfg, None, None).await?;
    let env = plugins.env.clone();
    let result = resume_with(plugins, cfg, out, &backend, swap).await;
    super::shut_down(&*env).await;
    result
}

async fn resume_with(
    plugins: Plugins,
    cfg: RunConfig,
    out: &Path,
    backend: &Selected,
    swap: Option<serde_json::Value>,
) -> anyhow::Result<bool> {
    if Trainer::never_checkpointed(out) {
        eprintln!(
            "{} has no checkpoint yet (it stopped before its first): starting it over from round 0 with its saved config",
            out.display()
        );
        let trainer = Trainer::restart(cfg.clone(), out, plugins, &backend.device)?;
        record_swap(out, &trainer, swap)?;
        return run_fresh(trainer, cfg, out, backend).await;
    }
    let mut trainer = Trainer::open(Start::Resume(out), cfg, plugins, &backend.device)?;
    record_swap(out, &trainer, swap)?;
    show_progress(&mut trainer);
    println!(
        "resuming {} at round {}",
        out.display(),
        trainer.next_round() + 1
    );
    run_rounds(&mut trainer, Report::EveryRound).await?;
    let before = std::fs::read_to_string(out.join("eval-before.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    finish(&mut trainer, out, before).await
}

/// `--resampler`: put the new plugin and its config into `cfg`; what changed, for the
/// run's config history (none without the flag).
fn swap_resampler(
    cfg: &mut RunConfig,
    args: &ResumeArgs,
) -> anyhow::Result<Option<serde_json::Value>> {
    let Some(plugin) = &args.resampler else {
        return Ok(None);
    };
    let text = args.resampler_config.as_deref().unwrap_or("{}");
    let json: serde_json::Value = serde_json::from_str(text)
        .with_context(|| format!("--resampler-config is not JSON: {text}"))?;
    let config = match toml::Value::try_from(&json) {
        Ok(toml::Value::Table(t)) => t,
        _ => anyhow::bail!("--resampler-config must be a JSON object, e.g. '{{\"epsilon\": 0.1}}'"),
    };
    let plugin = if steprl_train::plugin_path::is_name(plugin) {
        plugin.clone()
    } else {
        std::path::absolute(plugin).with_context(|| format!("--resampler {}", plugin.display()))?
    };
    let section = |s: &steprl_train::config::PluginSection| serde_json::json!({"plugin": s.plugin.display().to_string(), "config": s.config});
    let from = section(&cfg.resampler);
    cfg.resampler.plugin = plugin;
    cfg.resampler.config = config;
    cfg.resampler.grants = Default::default();
    Ok(Some(
        serde_json::json!({"resampler": {"from": from, "to": section(&cfg.resampler)}}),
    ))
}

/// Keep a swap (run lock held): the run's config.toml gets the new resampler, and
/// config-history.jsonl a line with the round it starts at and what changed.
fn record_swap(
    out: &Path,
    trainer: &Trainer,
    swap: Option<serde_json::Value>,
) -> anyhow::Result<()> {
    let Some(mut change) = swap else {
        return Ok(());
    };
    let config = out.join("config.toml");
    steprl_train::checkpoint::write_atomic(&config, trainer.config().to_toml().as_bytes())
        .with_context(|| format!("writing {}", config.display()))?;
    // In asynchronous mode the next round may already be planned and rolled out.
    change["from_round"] = serde_json::json!(trainer.first_unplanned_round());
    let history = out.join("config-history.jsonl");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&history)
        .with_context(|| format!("opening {}", history.display()))?;
    writeln!(f, "{change}").with_context(|| format!("writing {}", history.display()))?;
    eprintln!(
        "resampler swapped from round {}: {} (recorded in {})",
        trainer.first_unplanned_round() + 1,
        trainer.config().resampler.plugin.display(),
        history.display()
    );
    Ok(())
}

/// The run directory and checkpoint of `path`: a checkpoint directory, or a run
/// directory (its latest checkpoint).
pub(super) fn run_and_checkpoint(path: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    if path.join("state.json").exists() {
        let run = path
            .parent()
            .and_then(Path::parent)
            .context("a checkpoint directory lives in <run>/checkpoints/")?
            .to_owned();
        Ok((run, path.to_owned()))
    } else {
        let latest = steprl_train::checkpoint::latest(path).with_context(|| {
            format!(
                "{} is neither a checkpoint nor a run directory",
                path.display()
            )
        })?;
        Ok((path.to_owned(), latest))
    }
}

/// The resolved config checkpoint `checkpoint` was written under: its own copy, or for a
/// checkpoint written before checkpoints kept one, the run directory's.
pub(super) fn checkpoint_config(run_dir: &Path, checkpoint: &Path) -> PathBuf {
    let own = checkpoint.join(steprl_train::checkpoint::CONFIG);
    if own.is_file() {
        own
    } else {
        run_dir.join("config.toml")
    }
}

pub(super) async fn eval(sandbox: &Sandbox, args: &EvalArgs) -> anyhow::Result<bool> {
    let (run_dir, checkpoint) = run_and_checkpoint(&args.checkpoint)?;
    let mut cfg = RunConfig::load(&checkpoint_config(&run_dir, &checkpoint))?;
    cfg.eval.episodes = args.episodes;
    cfg.eval.greedy = args.greedy;
    let backend = device(args.backend)?;
    let plugins = plugins(sandbox, &cfg, args.env.as_deref(), args.checker.as_deref()).await?;
    let env = plugins.env.clone();
    let trainer = Trainer::open(Start::Evaluate(&checkpoint), cfg, plugins, &backend.device);
    let r = match trainer {
        Ok(mut trainer) => {
            show_progress(&mut trainer);
            trainer
                .evaluate(args.episodes, args.greedy)
                .await
                .map_err(anyhow::Error::from)
        }
        Err(e) => Err(e.into()),
    };
    super::shut_down(&*env).await;
    let r = r?;
    let mut t = Table::new(&["task", "#success", "#episodes", "#rate"]);
    for (task, (s, n)) in &r.tasks {
        t.row(vec![
            task.clone(),
            s.to_string(),
            n.to_string(),
            format!("{:.1}%", 100.0 * f64::from(*s) / f64::from((*n).max(1))),
        ]);
    }
    print!("{}", t.render());
    println!(
        "mean success: {:.1}% over {} tasks ({} plugin failures)",
        100.0 * r.mean(),
        r.tasks.len(),
        r.plugin_failures
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::stuck_warning;

    #[test]
    fn stuck_tasks_are_listed_briefly_without_blaming_the_checker() {
        let w = stuck_warning(&["a"], 10, 0);
        assert_eq!(w, "1 task at 0% success for 10 rounds: a");
        let many: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let w = stuck_warning(&refs, 10, 11);
        assert!(
            w.starts_with("11 tasks at 0% success for 10 rounds: t0, t1"),
            "{w}"
        );
        assert!(w.contains("t7 and 3 more;"), "{w}");
        assert!(
            w.contains("11 of them never succeeded in any rollout"),
            "{w}"
        );
        assert!(!w.contains("t8"), "{w}");
    }
}

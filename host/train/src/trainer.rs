//! The round loop. One round: the resampler plans B × N rollouts from the record; the
//! pool rolls them out with the current policy; the checker judges; advantages are
//! computed against the record *before* this round's update; trajectories become step
//! samples; STEP adds step-level GRPO augmentation samples for low-success tasks; the
//! learner updates; the record folds the round in. Every random choice derives from
//! (seed, round, index), so a resumed run repeats an uninterrupted one exactly.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use steprl_algo::augment::{eligible, match_advantages};
use steprl_algo::{EstimatorParams, Outcome, Rollout, SuccessRecord, advantages};
use steprl_core::seeds::{self, EvalSet};
use steprl_core::validate::{plan_problems, spec_problems};
use steprl_core::{
    Environment, Learner, PlanRequest, Policy, Resampler, RewardChecker, State as PolicyState,
    StepSample, UpdateStats,
};
use steprl_learner::{
    Context, LmChoiceLearner, LmGenerateLearner, LmMode, LoadFor, NetLearner, PolicyKind,
};
use steprl_rollout::{EpisodeResult, EpisodeSpec, Pool, RolloutConfig, RolloutStats, Sampling};

use crate::checkpoint::{self, CheckpointError, State};
use crate::config::{Method, RolloutMode, RunConfig};
use crate::eval::EvalReport;
use crate::lock::{LOCK_FILE, RunLock};
use crate::metrics::{Perf, RoundMetrics};
use crate::rolled::{Rolled, drop_stale, mean_staleness};

/// The plugins a run talks to.
pub struct Plugins {
    /// The environment.
    pub env: Arc<dyn Environment>,
    /// The reward checker.
    pub checker: Box<dyn RewardChecker>,
    /// The resampler.
    pub resampler: Box<dyn Resampler>,
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The environment cannot be trained on.
    #[error("environment `{env}` cannot be trained on: {reason}")]
    Unsupported {
        /// Environment name.
        env: String,
        /// Why.
        reason: String,
    },
    /// The task selection left nothing.
    #[error(
        "no training tasks: `{env}` offers [{offered}], and [tasks] include/exclude selects none of them"
    )]
    NoTasks {
        /// Environment name.
        env: String,
        /// Some offered ids.
        offered: String,
    },
    /// The resampler failed or named unknown tasks.
    #[error("resampler `{plugin}` in round {round}: {message}")]
    Plan {
        /// Plugin name.
        plugin: String,
        /// Round.
        round: u32,
        /// What went wrong.
        message: String,
    },
    /// Too many episodes were lost to plugin failures.
    #[error(
        "{share:.0}% of the episodes of the last {rounds} round(s) were lost to plugin failures (health.max_failure_rate = {max}); the most common ({count} times): {message}"
    )]
    Unhealthy {
        /// Share lost, in percent.
        share: f64,
        /// Rounds measured.
        rounds: u32,
        /// The threshold.
        max: f64,
        /// The most common failure.
        message: String,
        /// How often it happened.
        count: u32,
    },
    /// The update produced a non-finite loss or gradient.
    #[error(
        "round {round}: the update produced a non-finite loss or gradient (policy loss {policy_loss}, gradient norm {grad_norm}); the run stops before recording or checkpointing the round (resume continues from the last good checkpoint) — lower learner.lr or set learner.grad_clip"
    )]
    NonFinite {
        /// The round.
        round: u32,
        /// Its mean policy loss.
        policy_loss: f32,
        /// Its mean gradient norm.
        grad_norm: f32,
    },
    /// The run directory is not usable.
    #[error("run directory {path}: {message}")]
    RunDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Another process holds the run directory.
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
    /// The rollout cannot go on (no server of the environment's pool answers).
    #[error(transparent)]
    Rollout(#[from] steprl_rollout::RolloutError),
    /// Learner construction.
    #[error(transparent)]
    Learner(#[from] steprl_learner::LearnerError),
    /// Checkpoint I/O.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The warm start's demonstrations.
    #[error(transparent)]
    WarmStart(#[from] crate::warmstart::WarmStartError),
}

/// What the warm start did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WarmStart {
    /// Demonstrations replayed.
    pub demos: usize,
    /// Steps cloned (one sample each).
    pub samples: usize,
    /// Mean cloning loss of the first epoch.
    pub loss_first: f32,
    /// Mean cloning loss of the last epoch.
    pub loss_last: f32,
}

/// A run in progress.
pub struct Trainer {
    cfg: RunConfig,
    out: PathBuf,
    plugins: Plugins,
    pool: Pool,
    /// Away (`None`) only while it updates on a blocking thread in asynchronous mode.
    learner: Option<Box<dyn Learner>>,
    record: SuccessRecord,
    tasks: Vec<String>,
    heldout: Vec<String>,
    state: State,
    /// The last `health.rounds` rounds: judged episodes, episodes lost to plugin
    /// failures, and the failures' messages with their counts.
    health: VecDeque<(u64, u64, BTreeMap<String, u32>)>,
    /// The run directory's lock (none for an evaluation-only trainer).
    _lock: Option<RunLock>,
}

/// How the token network's inputs follow from the environment and the config.
fn layout(env: &dyn Environment, cfg: &RunConfig) -> Result<Context, TrainError> {
    let info = env.info();
    Context::for_spaces(&info.observation, &info.action, cfg.algo.history).map_err(|reason| {
        TrainError::Unsupported {
            env: env.name().to_owned(),
            reason,
        }
    })
}

/// Why a language-model policy cannot act in `env`, if it cannot: it reads the text
/// rendering.
fn lm_reads_text(env: &dyn Environment) -> Result<(), TrainError> {
    if !env.info().observation.text {
        return Err(TrainError::Unsupported {
            env: env.name().to_owned(),
            reason: "it declares no text observations (a language-model policy reads the text rendering)".into(),
        });
    }
    Ok(())
}

/// Why a generating language-model policy cannot act in `env`, if it cannot.
fn lm_writes_text(env: &dyn Environment) -> Result<(), TrainError> {
    lm_reads_text(env)?;
    if !env.info().action.text {
        return Err(TrainError::Unsupported {
            env: env.name().to_owned(),
            reason: "it accepts no text actions (policy.mode = \"generate\" writes text actions; use policy.mode = \"choice\" for labelled discrete actions)".into(),
        });
    }
    Ok(())
}

/// The action labels a language-model policy chooses among, or why it cannot act here.
fn lm_labels(env: &dyn Environment) -> Result<Vec<String>, TrainError> {
    let info = env.info();
    let unsupported = |reason: &str| TrainError::Unsupported {
        env: env.name().to_owned(),
        reason: reason.to_owned(),
    };
    lm_reads_text(env)?;
    if info.action.discrete == 0 {
        return Err(unsupported(
            "it has no discrete actions (policy.mode = \"choice\" chooses among labelled discrete actions)",
        ));
    }
    if info.action.discrete_labels.len() != info.action.discrete as usize {
        return Err(unsupported(
            "it declares no action labels (policy.mode = \"choice\" scores each action's label)",
        ));
    }
    Ok(info.action.discrete_labels.clone())
}

/// A fresh learner of the configured kind, or one restored from checkpoint `dir`.
fn build_learner(
    env: &dyn Environment,
    cfg: &RunConfig,
    device: &burn_device::Device,
    restore: Option<(&Path, LoadFor)>,
) -> Result<Box<dyn Learner>, TrainError> {
    let p = &cfg.policy;
    Ok(match p.kind {
        PolicyKind::Lm => {
            let model = p
                .model
                .as_deref()
                .expect("config validation requires a model");
            let (h, lora) = (cfg.algo.history, p.lora());
            match (p.mode, restore) {
                (LmMode::Generate, restore) => {
                    lm_writes_text(env)?;
                    let g = p.generate();
                    match restore {
                        None => Box::new(LmGenerateLearner::new(
                            model,
                            device,
                            g,
                            h,
                            &lora,
                            cfg.learner,
                            cfg.seed,
                        )?),
                        Some((dir, purpose)) => Box::new(LmGenerateLearner::load(
                            dir,
                            model,
                            device,
                            g,
                            h,
                            &lora,
                            cfg.learner,
                            purpose,
                        )?),
                    }
                }
                (LmMode::Choice, None) => Box::new(LmChoiceLearner::new(
                    model,
                    device,
                    &lm_labels(env)?,
                    h,
                    &lora,
                    cfg.learner,
                    cfg.seed,
                )?),
                (LmMode::Choice, Some((dir, purpose))) => Box::new(LmChoiceLearner::load(
                    dir,
                    model,
                    device,
                    &lm_labels(env)?,
                    h,
                    &lora,
                    cfg.learner,
                    purpose,
                )?),
            }
        }
        PolicyKind::Mlp | PolicyKind::Transformer => {
            let context = layout(env, cfg)?;
            match restore {
                None => Box::new(NetLearner::new(device, context, p, cfg.learner, cfg.seed)?),
                Some((dir, purpose)) => Box::new(NetLearner::load(
                    dir,
                    device,
                    context,
                    p,
                    cfg.learner,
                    purpose,
                )?),
            }
        }
    })
}

/// Selected tasks the plugin can run (those whose metadata marks them unsupported are
/// skipped with a warning).
fn runnable<'a>(
    env: &'a dyn Environment,
    keep: impl Fn(&str) -> bool + 'a,
) -> impl Iterator<Item = String> + 'a {
    env.info().tasks.iter().filter_map(move |t| {
        if !keep(&t.id) {
            return None;
        }
        if let Some(why) = t.unsupported() {
            tracing::warn!("skipping task `{}`: {why}", t.id);
            return None;
        }
        Some(t.id.clone())
    })
}

fn training_tasks(env: &dyn Environment, cfg: &RunConfig) -> Result<Vec<String>, TrainError> {
    let problems = spec_problems(env.info());
    if !problems.is_empty() {
        return Err(TrainError::Unsupported {
            env: env.name().to_owned(),
            reason: format!(
                "its declarations break the plugin contract: {}",
                problems.join("; ")
            ),
        });
    }
    let all: Vec<&str> = env.info().tasks.iter().map(|t| t.id.as_str()).collect();
    let mut tasks: Vec<String> = runnable(env, |id| cfg.tasks.trains_on(id)).collect();
    tasks.sort();
    if tasks.is_empty() {
        return Err(TrainError::NoTasks {
            env: env.name().to_owned(),
            offered: all.iter().take(8).copied().collect::<Vec<_>>().join(", "),
        });
    }
    Ok(tasks)
}

/// Selected tasks held out from training, sorted.
fn heldout_tasks(env: &dyn Environment, cfg: &RunConfig) -> Vec<String> {
    let mut t: Vec<String> = runnable(env, |id| cfg.tasks.holds_out(id)).collect();
    t.sort();
    t
}

/// `tasks.json`: every selected task with its difficulty and whether it is held out
/// (reports read it to group results by difficulty).
fn task_table(env: &dyn Environment, cfg: &RunConfig) -> String {
    let rows: Vec<serde_json::Value> = env
        .info()
        .tasks
        .iter()
        .filter(|t| cfg.tasks.selects(&t.id))
        .map(|t| {
            serde_json::json!({
                "id": t.id,
                "difficulty": t.difficulty,
                "heldout": cfg.tasks.holds_out(&t.id),
            })
        })
        .collect();
    serde_json::to_string_pretty(&rows).unwrap_or_default()
}

/// The files a run writes into its directory (but `latest`, whose absence is what
/// makes a run restartable): what [`Trainer::restart`] clears.
const RUN_FILES: &[&str] = &[
    "config.toml",
    "tasks.json",
    "metrics.jsonl",
    "eval-before.json",
    "eval-heldout-before.json",
    "eval-warmstart.json",
    "eval-heldout-warmstart.json",
    "eval-heldout.json",
    "eval-after.json",
    "checkpoints",
];

impl Trainer {
    /// Whether the run in `out` stopped before its first checkpoint (it has a saved
    /// config but no `latest`): [`Trainer::restart`] starts it over.
    pub fn never_checkpointed(out: &Path) -> bool {
        out.join("config.toml").exists() && !checkpoint::has_checkpoint(out)
    }

    /// Start over, from round 0, a run that stopped before its first checkpoint (killed,
    /// or a full disk, during its first round or warm start): its files are removed and
    /// it begins again in the same directory with `cfg`. Refused when the run has a
    /// checkpoint (resume it) or holds files a run does not write.
    pub fn restart(
        cfg: RunConfig,
        out: &Path,
        plugins: Plugins,
        device: &burn_device::Device,
    ) -> Result<Self, TrainError> {
        let lock = RunLock::acquire(out)?;
        if !Self::never_checkpointed(out) {
            return Err(TrainError::RunDir {
                path: out.to_owned(),
                message: "has a checkpoint (or no saved config): resume it with `steprl resume`"
                    .into(),
            });
        }
        let entries = fs::read_dir(out).map_err(|e| TrainError::RunDir {
            path: out.to_owned(),
            message: e.to_string(),
        })?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == LOCK_FILE {
                continue;
            }
            if !RUN_FILES.contains(&name.as_str()) {
                return Err(TrainError::RunDir {
                    path: out.to_owned(),
                    message: format!(
                        "holds `{name}`, which a run does not write; not starting it over there"
                    ),
                });
            }
        }
        for name in RUN_FILES {
            let p = out.join(name);
            let removed = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else if p.exists() {
                fs::remove_file(&p)
            } else {
                Ok(())
            };
            removed.map_err(|e| TrainError::RunDir {
                path: p,
                message: e.to_string(),
            })?;
        }
        drop(lock);
        Self::open(Start::Fresh(out), cfg, plugins, device)
    }

    /// Open a trainer: a fresh run, the resumption of one, or an evaluation-only view
    /// of a checkpoint (see [`Start`]). The one constructor: every way in loads the
    /// training tasks, the held-out tasks and the learner the same way.
    pub fn open(
        start: Start<'_>,
        cfg: RunConfig,
        plugins: Plugins,
        device: &burn_device::Device,
    ) -> Result<Self, TrainError> {
        if let Some(w) = settings_unread(&cfg, plugins.resampler.as_ref()) {
            tracing::warn!("{w}");
        }
        let env = plugins.env.clone();
        let tasks = training_tasks(env.as_ref(), &cfg)?;
        let heldout = heldout_tasks(env.as_ref(), &cfg);
        let (out, state, learner, lock) = match start {
            Start::Fresh(out) => {
                if out.exists() {
                    // A run in progress there is named by its lock; the lock file alone
                    // (left by a run stopped before it wrote anything) does not make it
                    // used.
                    RunLock::acquire(out)?;
                }
                if out.exists()
                    && fs::read_dir(out)
                        .map(|mut d| d.any(|e| e.map_or(true, |e| e.file_name() != LOCK_FILE)))
                        .unwrap_or(true)
                {
                    return Err(TrainError::RunDir {
                        path: out.to_owned(),
                        message: "already exists and is not empty; continue it with `steprl resume` or choose another --out".into(),
                    });
                }
                let learner = build_learner(env.as_ref(), &cfg, device, None)?;
                fs::create_dir_all(out).map_err(|e| TrainError::RunDir {
                    path: out.to_owned(),
                    message: e.to_string(),
                })?;
                let lock = RunLock::acquire(out)?;
                checkpoint::write_atomic(&out.join("config.toml"), cfg.to_toml().as_bytes())?;
                checkpoint::write_atomic(
                    &out.join("tasks.json"),
                    task_table(env.as_ref(), &cfg).as_bytes(),
                )?;
                let state = State {
                    version: checkpoint::VERSION,
                    next_round: 0,
                    env_steps_total: 0,
                    trajectories_total: 0,
                    metrics_lines: 0,
                    record: SuccessRecord::new(tasks.iter().cloned(), cfg.algo.beta),
                    pending: None,
                };
                (out.to_owned(), state, learner, Some(lock))
            }
            Start::Resume(out) => {
                let lock = RunLock::acquire(out)?;
                let (dir, skipped) = checkpoint::latest_intact(out)?;
                for e in &skipped {
                    tracing::warn!("{e}; resuming from {} instead", dir.display());
                }
                let state = checkpoint::load_state(&dir)?;
                let learner =
                    build_learner(env.as_ref(), &cfg, device, Some((&dir, LoadFor::Training)))?;
                checkpoint::truncate_metrics(&out.join("metrics.jsonl"), state.metrics_lines)?;
                (out.to_owned(), state, learner, Some(lock))
            }
            Start::Evaluate(dir) => {
                checkpoint::verify(dir)?;
                let state = checkpoint::load_state(dir)?;
                // Evaluation acts only: the optimizer state is never read.
                let learner =
                    build_learner(env.as_ref(), &cfg, device, Some((dir, LoadFor::Evaluation)))?;
                let out = dir.parent().and_then(Path::parent).unwrap_or(dir);
                (out.to_owned(), state, learner, None)
            }
        };
        Ok(Trainer {
            pool: Pool::new(env),
            record: state.record.clone(),
            state,
            cfg,
            out,
            plugins,
            learner: Some(learner),
            tasks,
            heldout,
            health: VecDeque::new(),
            _lock: lock,
        })
    }

    /// Number of policy parameters.
    pub fn learner_params(&self) -> usize {
        self.learner_ref().num_params()
    }

    /// The configuration.
    pub fn config(&self) -> &RunConfig {
        &self.cfg
    }

    /// Training task ids.
    pub fn tasks(&self) -> &[String] {
        &self.tasks
    }

    /// Held-out task ids (never trained on).
    pub fn heldout(&self) -> &[String] {
        &self.heldout
    }

    /// The next round to run.
    pub fn next_round(&self) -> u32 {
        self.state.next_round
    }

    /// The first round the resampler has not planned yet: the next round, or in
    /// asynchronous mode the one after it when the next round's rollouts are done.
    pub fn first_unplanned_round(&self) -> u32 {
        self.state.next_round + u32::from(self.state.pending.is_some())
    }

    /// Environment steps so far.
    pub fn env_steps_total(&self) -> u64 {
        self.state.env_steps_total
    }

    /// The learner (for evaluation and inspection).
    pub fn learner(&mut self) -> &mut dyn Learner {
        self.learner.as_deref_mut().expect(LEARNER_HOME)
    }

    fn learner_ref(&self) -> &dyn Learner {
        self.learner.as_deref().expect(LEARNER_HOME)
    }

    /// Behaviour cloning on the configured demonstrations (none configured: `None`),
    /// then a checkpoint, so a resumed run starts from the cloned policy. Call once,
    /// before the first round.
    pub async fn warm_start(&mut self) -> Result<Option<WarmStart>, TrainError> {
        let w = self.cfg.warmstart.clone();
        let Some(path) = w.demos else {
            return Ok(None);
        };
        let demos = crate::warmstart::read_demos(&path)?;
        let episodes =
            crate::warmstart::replay(self.plugins.env.as_ref(), self.learner_ref(), &demos, &path)
                .await?;
        let mut samples = Vec::new();
        for (instruction, steps) in &episodes {
            samples.extend(
                self.learner_ref()
                    .samples(instruction, steps, &vec![1.0; steps.len()]),
            );
        }
        let seed = seeds::warm_start(self.cfg.seed);
        let (loss_first, loss_last) = self.learner().imitate(&samples, w.epochs, w.lr, seed);
        self.checkpoint()?;
        Ok(Some(WarmStart {
            demos: demos.len(),
            samples: samples.len(),
            loss_first,
            loss_last,
        }))
    }

    /// Take the policy another run's warm start produced (its checkpoint `from`, written
    /// before that run's first round) instead of cloning again, then checkpoint. Only
    /// for a run whose own warm start would be the same computation (same seed,
    /// demonstrations, policy, learner settings and environment): `steprl compare`
    /// shares one warm start among the methods of a seed this way. Call once, before
    /// the first round.
    pub fn adopt_warm_start(
        &mut self,
        from: &Path,
        device: &burn_device::Device,
    ) -> Result<(), TrainError> {
        checkpoint::verify(from)?;
        let learner = build_learner(
            self.plugins.env.as_ref(),
            &self.cfg,
            device,
            Some((from, LoadFor::Training)),
        )?;
        self.learner = Some(learner);
        self.checkpoint()?;
        Ok(())
    }

    /// Report rollout progress (episodes finished, planned) to `f`, in training rounds
    /// and evaluations alike.
    pub fn on_progress(&mut self, f: steprl_rollout::Progress) {
        self.pool.on_progress(f);
    }

    /// The success-rate record.
    pub fn record(&self) -> &SuccessRecord {
        &self.record
    }

    /// Whether the run has reached its rounds or its budget.
    pub fn finished(&self) -> bool {
        self.done_at(self.state.next_round, self.state.env_steps_total)
    }

    /// Whether a run with `next_round` to run and `env_steps_total` taken is done.
    fn done_at(&self, next_round: u32, env_steps_total: u64) -> bool {
        next_round >= self.cfg.rounds
            || (self.cfg.budget_env_steps > 0 && env_steps_total >= self.cfg.budget_env_steps)
    }

    fn rollout_config(&self, sampling: Sampling) -> RolloutConfig {
        RolloutConfig {
            stepping: self.cfg.rollout.stepping,
            ..RolloutConfig::whole(self.cfg.rollout.concurrency, sampling)
        }
    }

    /// Whether round `running` ends with a checkpoint: every `checkpoint.every` rounds
    /// and at the last round (a run ended by its env-step budget is not foreseen).
    fn checkpoint_due(&self, running: u32) -> bool {
        (running + 1).is_multiple_of(self.cfg.checkpoint.every) || running + 1 >= self.cfg.rounds
    }

    /// The training rollout's settings for round `round`'s episodes, acted by policy
    /// `version`, run during round `running`. With `rollout.round_deadline_s`, the run
    /// closes at the deadline and carries what is unfinished into the next one; but it
    /// runs every episode to its end when a checkpoint follows it (nothing in flight
    /// is lost on resume) or when no rollout follows it.
    fn training_rollout(&self, round: u32, running: u32, version: u32) -> RolloutConfig {
        let d = self.cfg.rollout.round_deadline_s;
        let drain = self.checkpoint_due(running) || round + 1 >= self.cfg.rounds;
        RolloutConfig {
            policy_version: version,
            deadline: (d > 0.0 && !drain)
                .then(|| Instant::now() + std::time::Duration::from_secs_f64(d)),
            partial: d > 0.0,
            ..self.rollout_config(Sampling::Sample)
        }
    }

    fn estimator(&self) -> EstimatorParams {
        EstimatorParams {
            include_failures: self.cfg.algo.include_failures,
            gamma: self.cfg.algo.gamma,
            omega: self.cfg.algo.omega,
        }
    }

    /// Run one round in five phases — plan, roll out, build samples, update, record —
    /// appending its metrics line and checkpointing when due.
    pub async fn round(&mut self) -> Result<RoundMetrics, TrainError> {
        let round = self.state.next_round;
        let started = Instant::now();
        // One update per round so far: the learner's policy version now.
        let version = round;
        let rolled = match self.state.pending.take() {
            // Asynchronous mode: rolled out during the round before.
            Some(r) => r,
            None => self.plan_and_roll_out(round, version).await?,
        };
        let mut perf = rolled.perf;
        let mut built = self.build_samples(round, &rolled, &mut perf);
        self.fold_record(round, &rolled.results);
        let overlap = self.cfg.rollout.mode == RolloutMode::Async
            && !self.done_at(
                round + 1,
                self.state.env_steps_total + rolled.stats.env_steps,
            );
        let update = if overlap {
            let (update, next) = self
                .update_while_rolling_out(round, &mut built, &mut perf)
                .await?;
            self.state.pending = Some(next);
            update
        } else {
            self.update(round, &built.samples, &mut perf)?
        };
        perf.total_s = started.elapsed().as_secs_f64();
        self.record_round(round, rolled, &built, update, perf)
    }

    /// Phases 1 and 2 of `round`, acted by the learner at `version`.
    async fn plan_and_roll_out(&mut self, round: u32, version: u32) -> Result<Rolled, TrainError> {
        let mut perf = Perf::default();
        let plan = self.plan(round, &mut perf).await?;
        let cfg = self.training_rollout(round, round, version);
        self.roll_out_plan(round, &plan, cfg, perf, None).await
    }

    /// Asynchronous mode: phase 4 of `round` and phases 1 and 2 of the next round at
    /// once. The next round is planned from the record (this round already folded in,
    /// as in synchronous mode); a snapshot of the policy before this update rolls it
    /// out while the learner updates on a blocking thread. Returns the update and the
    /// next round's rollouts.
    async fn update_while_rolling_out(
        &mut self,
        round: u32,
        built: &mut Built,
        perf: &mut Perf,
    ) -> Result<(UpdateStats, Rolled), TrainError> {
        let version = round;
        let mut snapshot = self.learner_ref().snapshot();
        let mut next_perf = Perf::default();
        let plan = self.plan(round + 1, &mut next_perf).await?;
        let mut learner = self.learner.take().expect(LEARNER_HOME);
        let samples = std::mem::take(&mut built.samples);
        let seed = seeds::update(self.cfg.seed, round);
        let updating = tokio::task::spawn_blocking(move || {
            let t0 = Instant::now();
            let stats = learner.update(&samples, seed);
            (learner, samples, stats, t0.elapsed())
        });
        let cfg = self.training_rollout(round + 1, round, version);
        let next = self
            .roll_out_plan(round + 1, &plan, cfg, next_perf, Some(snapshot.as_mut()))
            .await;
        // The learner comes home before any error goes up.
        let (learner, samples, stats, took) = match updating.await {
            Ok(done) => done,
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(e) => panic!("the learner's update task was cancelled: {e}"),
            },
        };
        self.learner = Some(learner);
        built.samples = samples;
        perf.update_s = took.as_secs_f64();
        let update = finite(round, stats)?;
        Ok((update, next?))
    }

    /// Phase 1, plan: ask the resampler which tasks to roll out, cut an oversized plan
    /// to the request and refuse one that names a task outside the training set.
    async fn plan(&mut self, round: u32, perf: &mut Perf) -> Result<Vec<String>, TrainError> {
        let t0 = Instant::now();
        let request = PlanRequest {
            tasks_per_round: self.cfg.rollout.tasks_per_round,
            copies_per_task: self.cfg.rollout.copies_per_task,
            seed: self.cfg.seed,
            settings: self.cfg.algo.resample,
        };
        let resampler_name = self.plugins.resampler.name().to_owned();
        let plan_err = |message: String| TrainError::Plan {
            plugin: resampler_name.clone(),
            round,
            message,
        };
        let mut plan = self
            .plugins
            .resampler
            .plan(round, &self.record.stats(), &request)
            .await
            .map_err(|e| plan_err(e.to_string()))?;
        if plan.is_empty() {
            return Err(plan_err("the plan is empty".into()));
        }
        // A plan larger than requested is cut to the request, never run whole.
        let cap = request.tasks_per_round as usize * request.copies_per_task as usize;
        if plan.len() > cap {
            tracing::warn!(
                "resampler `{resampler_name}`, round {round}: {}; running the first {cap}",
                plan_problems(&plan, &request).join("; ")
            );
            plan.truncate(cap);
        }
        if let Some(bad) = plan.iter().find(|t| self.tasks.binary_search(t).is_err()) {
            return Err(plan_err(format!(
                "the plan names `{bad}`, which is not a training task"
            )));
        }
        perf.plan_s = t0.elapsed().as_secs_f64();
        Ok(plan)
    }

    /// Phase 2, roll out: one episode per planned task (seeded per round and lane),
    /// acted by `policy` (the learner when `None`) at `version`, with one log line per
    /// distinct plugin failure. `perf` holds the planning time.
    async fn roll_out_plan(
        &mut self,
        round: u32,
        plan: &[String],
        cfg: RolloutConfig,
        mut perf: Perf,
        policy: Option<&mut dyn Policy>,
    ) -> Result<Rolled, TrainError> {
        let version = cfg.policy_version;
        let seed = self.cfg.seed;
        let specs: Vec<EpisodeSpec> = plan
            .iter()
            .enumerate()
            .map(|(i, task)| EpisodeSpec {
                task: task.clone(),
                seed: seeds::rollout_episode(seed, round, i),
                sample_seed: seeds::rollout_sampling(seed, round, i),
            })
            .collect();
        let t0 = Instant::now();
        let (results, stats) = self.roll_out(&specs, cfg, policy).await?;
        let mut failures: BTreeMap<String, u32> = BTreeMap::new();
        let mut failed_tasks: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for r in &results {
            if let steprl_rollout::Outcome::PluginFailure { error } = &r.outcome {
                *failures.entry(error.clone()).or_default() += 1;
                let tasks = failed_tasks.entry(error.as_str()).or_default();
                if !tasks.contains(&r.spec.task.as_str()) {
                    tasks.push(&r.spec.task);
                }
            }
        }
        // One line per distinct failure per round (not one per episode).
        for (error, n) in &failures {
            let tasks = failed_tasks[error.as_str()].join(", ");
            tracing::warn!(
                "round {round}: {n} episode(s) of {tasks} lost to a plugin failure: {error}"
            );
        }
        perf.rollout_s = t0.elapsed().as_secs_f64();
        perf.inference_s = stats.inference.as_secs_f64();
        perf.env_s = stats.env.as_secs_f64();
        perf.reset_s = stats.reset.as_secs_f64() / stats.resets.max(1) as f64;
        perf.reset_max_s = stats.reset_max.as_secs_f64();
        perf.check_s = stats.check.as_secs_f64();
        perf.env_steps_per_s = stats.env_steps as f64 / perf.rollout_s.max(1e-9);
        Ok(Rolled {
            round,
            policy_version: version,
            resampler: self.plugins.resampler.name().to_owned(),
            results,
            stats,
            failures,
            perf,
        })
    }

    /// Phase 3, build samples: each judged episode's steps with their advantages (taken
    /// against the record before this round is folded in) and the policy version that
    /// acted, less those older than `rollout.max_staleness` versions; then STEP's
    /// augmentation, drawn from the learner now.
    fn build_samples(&mut self, round: u32, rolled: &Rolled, perf: &mut Perf) -> Built {
        let version = round;
        let judged: Vec<&EpisodeResult> = rolled.results.iter().filter(|r| judged(r)).collect();
        let rollouts: Vec<Rollout> = judged
            .iter()
            .map(|r| Rollout {
                task: &r.spec.task,
                success: r.success(),
                score: match r.outcome {
                    steprl_rollout::Outcome::Judged { score, .. } => score,
                    steprl_rollout::Outcome::PluginFailure { .. } => 0.0,
                },
                anchors: &r.anchors,
            })
            .collect();
        let record = &self.record;
        let adv = advantages(self.cfg.algo.method, &self.estimator(), &rollouts, &|t| {
            record.rate(t)
        });
        let mut samples: Vec<StepSample> = Vec::new();
        for (r, a) in judged.iter().zip(&adv) {
            if let Some(a) = a {
                let mut steps =
                    self.learner_ref()
                        .samples(self.instruction(&r.spec.task), &r.transitions, a);
                // One sample per step: each with the version that took its step.
                for (s, t) in steps.iter_mut().zip(&r.transitions) {
                    s.policy_version = t.policy_version;
                }
                samples.extend(steps);
            }
        }
        let stale = drop_stale(&mut samples, version, self.cfg.rollout.max_staleness);
        let staleness = mean_staleness(&samples, version);
        let from_rollouts = samples.len();

        let t0 = Instant::now();
        if self.cfg.algo.method == Method::Step && self.cfg.algo.augment.enabled {
            let aug = self.augment(round, &judged);
            samples.extend(aug.into_iter().map(|s| StepSample {
                policy_version: version,
                ..s
            }));
        }
        perf.augment_s = t0.elapsed().as_secs_f64();
        Built {
            samples,
            from_rollouts,
            stale,
            staleness,
        }
    }

    /// Phase 4, update: one learner update on the round's samples; a non-finite loss or
    /// gradient stops the run here, before the round is recorded or checkpointed (the
    /// last checkpoint stays good).
    fn update(
        &mut self,
        round: u32,
        samples: &[StepSample],
        perf: &mut Perf,
    ) -> Result<UpdateStats, TrainError> {
        let t0 = Instant::now();
        let seed = seeds::update(self.cfg.seed, round);
        let update = self.learner().update(samples, seed);
        perf.update_s = t0.elapsed().as_secs_f64();
        finite(round, update)
    }

    /// Fold a round's episodes into the success record (after its samples took their
    /// advantages, before the next round is planned).
    fn fold_record(&mut self, round: u32, results: &[EpisodeResult]) {
        let outcomes = results.iter().map(|r| {
            let o = match &r.outcome {
                steprl_rollout::Outcome::Judged { success: true, .. } => Outcome::Success,
                steprl_rollout::Outcome::Judged { .. } => Outcome::Failure,
                steprl_rollout::Outcome::PluginFailure { .. } => Outcome::PluginFailure,
            };
            (r.spec.task.as_str(), o)
        });
        self.record.update(round, outcomes);
    }

    /// Phase 5, record: fold the round into the success record, append its metrics,
    /// checkpoint when due and check the run's health.
    fn record_round(
        &mut self,
        round: u32,
        rolled: Rolled,
        built: &Built,
        update: UpdateStats,
        perf: Perf,
    ) -> Result<RoundMetrics, TrainError> {
        let Rolled {
            results,
            stats: rstats,
            failures,
            policy_version,
            resampler,
            ..
        } = rolled;

        let judged: Vec<&EpisodeResult> = results.iter().filter(|r| judged(r)).collect();
        let task_success = tally(judged.iter().copied());
        let mut task_rollouts: BTreeMap<String, u32> = BTreeMap::new();
        for r in &results {
            *task_rollouts.entry(r.spec.task.clone()).or_default() += 1;
        }
        let successes: u32 = task_success.values().map(|(s, _)| s).sum();
        self.state.env_steps_total += rstats.env_steps;
        self.state.trajectories_total += rstats.trajectories;
        self.state.next_round = round + 1;
        let s0 = self.cfg.algo.resample.s0;
        let metrics = RoundMetrics {
            round,
            env_steps: rstats.env_steps,
            env_steps_total: self.state.env_steps_total,
            trajectories: rstats.trajectories,
            trajectories_total: self.state.trajectories_total,
            plugin_failures: rstats.plugin_failures,
            lost: rstats.lost,
            servers_down: self.pool.servers_down(),
            resampler,
            failures: failures.clone(),
            invalid_actions: rstats.invalid_actions,
            host_truncated: rstats.host_truncated,
            success_rate: if judged.is_empty() {
                0.0
            } else {
                f64::from(successes) / judged.len() as f64
            },
            task_success: task_success
                .into_iter()
                .map(|(k, (s, n))| (k, f64::from(s) / f64::from(n)))
                .collect(),
            task_rate: self
                .record
                .iter()
                .filter_map(|(k, r)| r.smoothed.map(|s| (k.to_owned(), s)))
                .collect(),
            cache_size: self.record.cache(s0).len(),
            task_rollouts,
            stuck_tasks: self
                .record
                .stuck_at_zero(self.cfg.algo.stuck_rounds)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            policy_version,
            carried: rstats.carried,
            samples: built.from_rollouts,
            stale_samples: built.stale,
            staleness: built.staleness,
            aug_samples: built.samples.len() - built.from_rollouts,
            degenerate: built.samples.is_empty(),
            update,
            perf,
        };
        self.append_metrics(&metrics)?;
        steprl_core::failpoint::hit("metrics.appended");
        if self
            .state
            .next_round
            .is_multiple_of(self.cfg.checkpoint.every)
            || self.finished()
        {
            self.checkpoint()?;
        }
        self.check_health(rstats.trajectories, rstats.plugin_failures, failures)?;
        Ok(metrics)
    }

    /// Stop the run when more than `health.max_failure_rate` of the last
    /// `health.rounds` rounds' episodes were lost to plugin failures.
    fn check_health(
        &mut self,
        judged: u64,
        failed: u64,
        failures: BTreeMap<String, u32>,
    ) -> Result<(), TrainError> {
        let h = self.cfg.health;
        self.health.push_back((judged, failed, failures));
        while self.health.len() > h.rounds as usize {
            self.health.pop_front();
        }
        if self.health.len() < h.rounds as usize {
            return Ok(());
        }
        let judged: u64 = self.health.iter().map(|x| x.0).sum();
        let failed: u64 = self.health.iter().map(|x| x.1).sum();
        let share = failed as f64 / (judged + failed).max(1) as f64;
        if failed == 0 || share <= h.max_failure_rate {
            return Ok(());
        }
        let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
        for (_, _, f) in &self.health {
            for (m, n) in f {
                *counts.entry(m.as_str()).or_default() += n;
            }
        }
        let (message, count) = counts
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(m, n)| ((*m).to_owned(), *n))
            .unwrap_or_default();
        Err(TrainError::Unhealthy {
            share: 100.0 * share,
            rounds: h.rounds,
            max: h.max_failure_rate,
            message,
            count,
        })
    }

    /// The instruction of a task (empty for an id the environment does not offer).
    fn instruction(&self, task: &str) -> &str {
        self.plugins
            .env
            .info()
            .task(task)
            .map_or("", |t| t.instruction.as_str())
    }

    /// STEP's step-level GRPO augmentation over this round's successful trajectories of
    /// low-success tasks: the learner draws G candidates at each of their states; a
    /// candidate earns reward 1 when it matches the recorded action.
    fn augment(&mut self, round: u32, judged: &[&EpisodeResult]) -> Vec<StepSample> {
        let params = self.cfg.algo.augment;
        let round_rate = tally(judged.iter().copied());
        let env = self.plugins.env.clone();
        let mut states: Vec<PolicyState<'_>> = Vec::new();
        for r in judged.iter().filter(|r| r.success()) {
            let (k, n) = round_rate[&r.spec.task];
            if !eligible(
                &params,
                self.record.rate(&r.spec.task),
                f64::from(k) / f64::from(n),
            ) {
                continue;
            }
            let instruction = env
                .info()
                .task(&r.spec.task)
                .map_or("", |t| t.instruction.as_str());
            for t in 0..r.transitions.len() {
                states.push(PolicyState {
                    instruction,
                    steps: &r.transitions,
                    t,
                });
            }
        }
        let seeds: Vec<u64> = (0..states.len())
            .map(|i| seeds::augmentation(self.cfg.seed, round, i))
            .collect();
        let mut out = Vec::new();
        for c in self
            .learner()
            .candidates(&states, params.group_size, &seeds)
        {
            if let Some(adv) = match_advantages(&c.matches()) {
                for (draw, a) in c.draws.into_iter().zip(adv) {
                    out.push(StepSample {
                        advantage: a,
                        weight: params.weight,
                        ..draw
                    });
                }
            }
        }
        out
    }

    fn append_metrics(&mut self, m: &RoundMetrics) -> Result<(), TrainError> {
        let path = self.out.join("metrics.jsonl");
        let io = |e: std::io::Error| {
            TrainError::Checkpoint(CheckpointError::Io {
                path: path.clone(),
                source: e,
            })
        };
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        let line = m.to_line();
        writeln!(f, "{line}").map_err(io)?;
        f.sync_data().map_err(io)?;
        self.state.metrics_lines += 1;
        Ok(())
    }

    /// Write a checkpoint of the current state now.
    pub fn checkpoint(&mut self) -> Result<PathBuf, TrainError> {
        self.state.record = self.record.clone();
        Ok(checkpoint::save(
            &self.out,
            &self.state,
            self.learner_ref(),
            &self.cfg.to_toml(),
        )?)
    }

    /// Evaluate the current policy on the training tasks: `episodes` per task, with seeds
    /// from their own stream (the same for every evaluation of a run, so before/after
    /// compare like with like).
    pub async fn evaluate(
        &mut self,
        episodes: u32,
        greedy: bool,
    ) -> Result<EvalReport, TrainError> {
        let tasks = self.tasks.clone();
        self.evaluate_on(&tasks, EvalSet::Training, episodes, greedy)
            .await
    }

    /// Evaluate on the held-out tasks (`None` when there are none), seeds from a
    /// stream of their own.
    pub async fn evaluate_heldout(
        &mut self,
        episodes: u32,
        greedy: bool,
    ) -> Result<Option<EvalReport>, TrainError> {
        if self.heldout.is_empty() {
            return Ok(None);
        }
        let tasks = self.heldout.clone();
        Ok(Some(
            self.evaluate_on(&tasks, EvalSet::Heldout, episodes, greedy)
                .await?,
        ))
    }

    async fn evaluate_on(
        &mut self,
        tasks: &[String],
        set: EvalSet,
        episodes: u32,
        greedy: bool,
    ) -> Result<EvalReport, TrainError> {
        let mut specs = Vec::new();
        for (ti, task) in tasks.iter().enumerate() {
            for e in 0..episodes {
                specs.push(EpisodeSpec {
                    task: task.clone(),
                    seed: seeds::eval_episode(self.cfg.seed, set, ti, e),
                    sample_seed: seeds::eval_sampling(self.cfg.seed, set, ti, e),
                });
            }
        }
        let sampling = if greedy {
            Sampling::Greedy
        } else {
            Sampling::Sample
        };
        let cfg = self.rollout_config(sampling);
        let (results, stats) = self.roll_out(&specs, cfg, None).await?;
        Ok(EvalReport {
            tasks: tally(results.iter().filter(|r| judged(r))),
            plugin_failures: stats.plugin_failures as u32,
        })
    }

    /// Run `specs` with the current policy and the run's checker.
    async fn roll_out(
        &mut self,
        specs: &[EpisodeSpec],
        cfg: RolloutConfig,
        policy: Option<&mut dyn Policy>,
    ) -> Result<(Vec<EpisodeResult>, RolloutStats), TrainError> {
        let policy: &mut dyn Policy = match policy {
            Some(p) => p,
            None => self.learner.as_deref_mut().expect(LEARNER_HOME),
        };
        Ok(self
            .pool
            .run(specs, policy, self.plugins.checker.as_mut(), &cfg)
            .await?)
    }
}

/// Whether the checker judged an episode (rather than a plugin failing).
fn judged(r: &EpisodeResult) -> bool {
    matches!(r.outcome, steprl_rollout::Outcome::Judged { .. })
}

/// (successes, episodes) per task.
fn tally<'a>(results: impl IntoIterator<Item = &'a EpisodeResult>) -> BTreeMap<String, (u32, u32)> {
    let mut t: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for r in results {
        let e = t.entry(r.spec.task.clone()).or_default();
        e.0 += u32::from(r.success());
        e.1 += 1;
    }
    t
}

/// The burn device type, re-exported so callers need not depend on burn.
pub mod burn_device {
    pub use steprl_learner::backend::Selected;
    pub use steprl_learner::burn_device::Device;
}

/// How [`Trainer::open`] starts.
#[derive(Debug, Clone, Copy)]
pub enum Start<'a> {
    /// A fresh run in this directory (created; must be empty or absent).
    Fresh(&'a Path),
    /// Continue the run in this directory from its latest intact checkpoint, with the
    /// config saved there.
    Resume(&'a Path),
    /// Evaluate this checkpoint directory, without a run directory to write to (`round`
    /// and `checkpoint` would write into the checkpoint's run).
    Evaluate(&'a Path),
}

/// A round's rolled-out episodes, their statistics and its plugin failures by message.
/// A round's training samples: the rollouts' first, then the augmentation's.
struct Built {
    samples: Vec<StepSample>,
    from_rollouts: usize,
    /// Rollout samples dropped as older than `rollout.max_staleness` versions.
    stale: usize,
    /// The mean lag, in versions, of the rollout samples kept.
    staleness: f64,
}

/// Why [`Trainer::learner`] can always expect the learner.
const LEARNER_HOME: &str =
    "the learner is home outside the asynchronous update, which awaits it back";

/// An update's diagnostics, or the error that stops the run when one is not finite.
fn finite(round: u32, update: UpdateStats) -> Result<UpdateStats, TrainError> {
    let diagnostics = [
        update.policy_loss,
        update.entropy,
        update.approx_kl,
        update.kl_ref,
        update.grad_norm,
    ];
    if diagnostics.iter().any(|x| !x.is_finite()) {
        return Err(TrainError::NonFinite {
            round,
            policy_loss: update.policy_loss,
            grad_norm: update.grad_norm,
        });
    }
    Ok(update)
}

/// The warning for settings in `[algo.resample]` that differ from the defaults when the
/// resampler does not read the host's STEP settings (they would change nothing).
pub fn settings_unread(cfg: &RunConfig, resampler: &dyn Resampler) -> Option<String> {
    let changed = cfg.algo.resample != steprl_core::StepSettings::default();
    (changed && !resampler.reads_settings()).then(|| {
        format!(
            "the resampler `{}` does not read the host's STEP settings (it exports no `resample-settings`), so [algo.resample] (s0 = {}, adaptive = {}) does not change its plans",
            resampler.name(),
            cfg.algo.resample.s0,
            cfg.algo.resample.adaptive
        )
    })
}

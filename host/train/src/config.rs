//! The run configuration (TOML): every hyperparameter declared once with a default,
//! unknown keys rejected with their path, plugin paths resolved against the config
//! file's directory, and the resolved form saved next to every run.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use steprl_algo::augment::AugmentParams;
use steprl_core::StepSettings;
use steprl_learner::{PolicyConfig, PpoConfig};
use steprl_rollout::Stepping;

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Seed of everything: initialization, plans, episodes, sampling, minibatches.
    #[serde(default)]
    pub seed: u64,
    /// Rounds to train (each: plan, roll out, update).
    #[serde(default = "defaults::rounds")]
    pub rounds: u32,
    /// Stop once this many environment steps were taken (0 = no budget).
    #[serde(default)]
    pub budget_env_steps: u64,
    /// The environment plugin.
    pub env: PluginSection,
    /// The reward-checker plugin.
    pub checker: PluginSection,
    /// The resampler plugin.
    pub resampler: PluginSection,
    /// Which tasks to train on.
    #[serde(default)]
    pub tasks: TaskSelection,
    /// Advantage estimator and STEP settings.
    #[serde(default)]
    pub algo: AlgoSection,
    /// Rollout shape.
    #[serde(default)]
    pub rollout: RolloutSection,
    /// The update.
    #[serde(default)]
    pub learner: PpoConfig,
    /// The network.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// Evaluation before and after training.
    #[serde(default)]
    pub eval: EvalSection,
    /// Behaviour cloning on demonstrations before RL.
    #[serde(default)]
    pub warmstart: WarmStartSection,
    /// Checkpointing.
    #[serde(default)]
    pub checkpoint: CheckpointSection,
    /// Sandbox limits for every plugin.
    #[serde(default)]
    pub limits: LimitsSection,
    /// When a run whose plugins keep failing stops.
    #[serde(default)]
    pub health: HealthSection,
}

/// The `[health]` table: a run stops (exit 1) when more than `max_failure_rate` of the
/// episodes of the last `rounds` rounds were lost to plugin failures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthSection {
    /// Largest tolerated share of episodes lost to plugin failures (1 = never stop).
    pub max_failure_rate: f64,
    /// Rounds the share is measured over.
    pub rounds: u32,
}

impl Default for HealthSection {
    fn default() -> Self {
        HealthSection {
            max_failure_rate: 0.5,
            rounds: 3,
        }
    }
}

mod defaults {
    pub fn rounds() -> u32 {
        30
    }
}

/// One plugin: its file and its configuration (passed to `init` as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSection {
    /// Path of the `.wasm` file (relative paths are relative to the config file).
    pub plugin: PathBuf,
    /// The plugin's configuration.
    #[serde(default = "empty_table")]
    pub config: toml::Table,
    /// What the plugin may reach outside the sandbox (nothing unless granted here).
    #[serde(default, skip_serializing_if = "GrantsSection::is_empty")]
    pub grants: GrantsSection,
}

fn empty_table() -> toml::Table {
    toml::Table::new()
}

/// A plugin's capabilities (`[env.grants]` etc.): outgoing HTTP to named `host:port`s
/// and read-only directories. Everything else stays denied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrantsSection {
    /// `host:port` destinations the plugin may send HTTP requests to.
    pub http: Vec<String>,
    /// Per-request cap: connecting, the first response byte, each pause, the whole
    /// response.
    pub http_timeout_ms: u64,
    /// Cap on one response body, in MiB.
    pub http_max_response_mib: u64,
    /// Read-only directories: guest path (e.g. `/tasks`) = host directory (relative
    /// paths are relative to the config file).
    pub read_dirs: std::collections::BTreeMap<String, PathBuf>,
}

impl Default for GrantsSection {
    fn default() -> Self {
        GrantsSection {
            http: Vec::new(),
            http_timeout_ms: 60_000,
            http_max_response_mib: 64,
            read_dirs: Default::default(),
        }
    }
}

impl GrantsSection {
    /// Whether nothing is granted and the limits are the defaults.
    pub fn is_empty(&self) -> bool {
        *self == GrantsSection::default()
    }
}

/// Task selection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaskSelection {
    /// Only these task ids (or prefixes ending in `*`); empty = every task.
    pub include: Vec<String>,
    /// Never these (same syntax).
    pub exclude: Vec<String>,
    /// Held out from training (same syntax): selected tasks matching these are never
    /// trained on and are evaluated separately after training. Split by task template
    /// (a task id), never by instance (seed).
    pub heldout: Vec<String>,
}

impl TaskSelection {
    fn matches(pattern: &str, id: &str) -> bool {
        match pattern.strip_suffix('*') {
            Some(prefix) => id.starts_with(prefix),
            None => id == pattern,
        }
    }

    /// Whether `id` is selected (for training or as held out).
    pub fn selects(&self, id: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| Self::matches(p, id)))
            && !self.exclude.iter().any(|p| Self::matches(p, id))
    }

    /// Whether `id` is selected and held out from training.
    pub fn holds_out(&self, id: &str) -> bool {
        self.selects(id) && self.heldout.iter().any(|p| Self::matches(p, id))
    }

    /// Whether `id` is a training task.
    pub fn trains_on(&self, id: &str) -> bool {
        self.selects(id) && !self.heldout.iter().any(|p| Self::matches(p, id))
    }
}

pub use steprl_algo::Method;

/// The `[algo]` table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlgoSection {
    /// `step`, `tgrpo` or `gigpo`.
    pub method: Method,
    /// EMA coefficient β of the success-rate record.
    pub beta: f64,
    /// STEP: give failed trajectories A = −ŝ instead of dropping them.
    pub include_failures: bool,
    /// History window H of policy contexts.
    pub history: usize,
    /// GiGPO: discount γ.
    pub gamma: f64,
    /// GiGPO: weight ω of the step-level advantage.
    pub omega: f64,
    /// Report tasks stuck at ŝ = 0 for this many rounds.
    pub stuck_rounds: u32,
    /// STEP's step-level GRPO augmentation.
    pub augment: AugmentParams,
    /// STEP's adaptive resampling settings (s0, `adaptive`), sent to the resampler with
    /// every plan request.
    pub resample: StepSettings,
}

impl Default for AlgoSection {
    fn default() -> Self {
        AlgoSection {
            method: Method::Step,
            beta: 0.5,
            include_failures: false,
            history: 0,
            gamma: 0.95,
            omega: 1.0,
            stuck_rounds: 10,
            augment: AugmentParams::default(),
            resample: StepSettings::default(),
        }
    }
}

/// The `[rollout]` table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RolloutSection {
    /// B: tasks per round.
    pub tasks_per_round: u32,
    /// N: rollouts per task.
    pub copies_per_task: u32,
    /// Episodes in flight at once.
    pub concurrency: usize,
    /// `sync`: each round rolls out, then the learner updates. `async`: the next
    /// round's rollouts run while the learner updates on this round's samples.
    pub mode: RolloutMode,
    /// Policy versions a sample may lag behind the learner and still be trained on;
    /// older samples are dropped and counted (`loss.stale_samples`).
    pub max_staleness: u32,
    /// Partial rollouts: seconds after which a round's rollout closes; its unfinished
    /// episodes continue into the next round with their prefix (0 = off: every episode
    /// runs to its end).
    pub round_deadline_s: f64,
    /// `lockstep`: every lane takes its step in turns with the others (deterministic).
    /// `free`: each lane steps on its own, so a slow step holds up only its lane (for
    /// server fleets; batches then depend on timing).
    pub stepping: Stepping,
}

impl Default for RolloutSection {
    fn default() -> Self {
        RolloutSection {
            tasks_per_round: 16,
            copies_per_task: 8,
            concurrency: 64,
            mode: RolloutMode::Sync,
            max_staleness: 1,
            round_deadline_s: 0.0,
            stepping: Stepping::Lockstep,
        }
    }
}

/// When rollouts run against the learner's update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RolloutMode {
    /// Roll out, then update, one after the other (the algorithm as designed).
    #[default]
    Sync,
    /// Roll out round r+1 with a snapshot of the policy while the learner updates on
    /// round r (its samples lag the learner by one version).
    Async,
}

/// The `[eval]` table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalSection {
    /// Episodes per task before and after training (0 = skip).
    pub episodes: u32,
    /// Act greedily (else sample).
    pub greedy: bool,
}

impl Default for EvalSection {
    fn default() -> Self {
        EvalSection {
            episodes: 4,
            greedy: true,
        }
    }
}

/// The `[checkpoint]` table.
/// The `[warmstart]` table: behaviour cloning (cross-entropy on the recorded actions)
/// on a demonstration file before the first round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WarmStartSection {
    /// Demonstrations (`steprl play --record` writes them; relative paths are relative
    /// to the config file). None = no warm start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demos: Option<PathBuf>,
    /// Passes over the demonstrations' steps.
    pub epochs: u32,
    /// Learning rate of the cloning updates (an Adam of their own).
    pub lr: f64,
}

impl Default for WarmStartSection {
    fn default() -> Self {
        WarmStartSection {
            demos: None,
            epochs: 5,
            lr: 1e-3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckpointSection {
    /// Checkpoint every this many rounds (and always at the end).
    pub every: u32,
}

impl Default for CheckpointSection {
    fn default() -> Self {
        CheckpointSection { every: 5 }
    }
}

/// Longest deadline a `[limits]` key may set (a day).
pub const MAX_DEADLINE_MS: u64 = 86_400_000;
/// Smallest memory cap per plugin instance, in MiB (a guest needs a few pages).
pub const MIN_MEMORY_MIB: u64 = 1;
/// Largest memory cap per plugin instance, in MiB (1 TiB).
pub const MAX_MEMORY_MIB: u64 = 1 << 20;

/// The `[limits]` table (milliseconds and MiB).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Deadline of `init` and declarations.
    pub init_ms: u64,
    /// Deadline of episode start/reset/final-state.
    pub env_reset_ms: u64,
    /// Deadline of one step.
    pub env_step_ms: u64,
    /// Deadline of one check.
    pub check_ms: u64,
    /// Deadline of one plan.
    pub plan_ms: u64,
    /// Memory cap per instance.
    pub memory_mib: u64,
}

impl Default for LimitsSection {
    fn default() -> Self {
        use steprl_core::limits as d;
        LimitsSection {
            init_ms: d::INIT_MS,
            env_reset_ms: d::ENV_RESET_MS,
            env_step_ms: d::ENV_STEP_MS,
            check_ms: d::CHECK_MS,
            plan_ms: d::PLAN_MS,
            memory_mib: d::MEMORY_MIB,
        }
    }
}

/// Why a config file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// TOML syntax or a key/type error, with where it is and the key's path.
    #[error("{path}:{at}: {key}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// `line:column` of the problem (1-based), when known.
        at: String,
        /// Dotted key path (`.` for the whole document).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A value out of range.
    #[error("{path}: {problems}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found, `; `-separated.
        problems: String,
    },
}

/// `line:column` (1-based) of a byte span's start in `text`, or nothing when unknown.
fn line_col(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(span) = span else {
        return String::new();
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{line}:{col}")
}

impl RunConfig {
    /// Parse TOML text; `origin` names the file in errors and anchors relative paths.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let de = toml::Deserializer::parse(text).map_err(|e| ConfigError::Parse {
            path: origin.to_owned(),
            at: line_col(text, e.span()),
            key: ".".into(),
            message: e.message().to_owned(),
        })?;
        let mut cfg: RunConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let mut message = inner.message().to_owned();
            if message.contains("invalid value: integer `-") {
                message.push_str(" (a count, a budget or a time cannot be negative)");
            }
            ConfigError::Parse {
                path: origin.to_owned(),
                at: line_col(text, inner.span()),
                key,
                message,
            }
        })?;
        // Absolute, so the resolved config a run saves still names the same files when it
        // is read back from the run directory (resume, eval) or from another directory.
        let base = match origin.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let base = std::path::absolute(base).unwrap_or_else(|_| base.to_owned());
        let base = base.as_path();
        for p in [&mut cfg.env, &mut cfg.checker, &mut cfg.resampler] {
            // A plugin name (`uisim`) is found on the plugin search path when loaded.
            if p.plugin.is_relative() && !crate::plugin_path::is_name(&p.plugin) {
                p.plugin = base.join(&p.plugin);
            }
            for host in p.grants.read_dirs.values_mut() {
                if host.is_relative() {
                    *host = base.join(&*host);
                }
            }
        }
        for p in [cfg.policy.model.as_mut(), cfg.warmstart.demos.as_mut()]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        cfg.move_step_settings(text)
            .map_err(|message| ConfigError::Invalid {
                path: origin.to_owned(),
                problems: message,
            })?;
        let problems = cfg.problems();
        if !problems.is_empty() {
            return Err(ConfigError::Invalid {
                path: origin.to_owned(),
                problems: problems.join("; "),
            });
        }
        Ok(cfg)
    }

    /// Read and parse a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Range problems (empty = fine).
    pub fn problems(&self) -> Vec<String> {
        let mut p = self.learner.problems();
        p.extend(self.policy.problems());
        let w = &self.warmstart;
        if w.demos.is_some() {
            if w.epochs == 0 {
                p.push("warmstart.epochs must be at least 1".into());
            }
            if !(w.lr > 0.0 && w.lr.is_finite()) {
                p.push(format!("warmstart.lr = {} must be a positive number", w.lr));
            }
        }
        let a = &self.algo;
        if !(a.beta > 0.0 && a.beta <= 1.0) {
            p.push(format!("algo.beta = {} must lie in (0, 1]", a.beta));
        }
        if !(a.gamma > 0.0 && a.gamma <= 1.0) {
            p.push(format!("algo.gamma = {} must lie in (0, 1]", a.gamma));
        }
        if let Some(e) = a.resample.problem() {
            p.push(format!("algo.resample.{e}"));
        }
        if a.augment.group_size < 2 && a.augment.enabled {
            p.push("algo.augment.group_size must be at least 2".into());
        }
        let r = &self.rollout;
        if r.tasks_per_round == 0 || r.copies_per_task == 0 || r.concurrency == 0 {
            p.push(
                "rollout.tasks_per_round, copies_per_task and concurrency must be positive".into(),
            );
        }
        if !(r.round_deadline_s >= 0.0 && r.round_deadline_s.is_finite()) {
            p.push(format!(
                "rollout.round_deadline_s = {} must be 0 (off) or a positive number of seconds",
                r.round_deadline_s
            ));
        }
        if r.mode == RolloutMode::Async && r.max_staleness == 0 {
            p.push(
                "rollout.max_staleness = 0 would drop every sample in async mode (its rollouts lag the learner by one version); use 1 or more, or mode = \"sync\"".into(),
            );
        }
        if self.rounds == 0 && self.budget_env_steps == 0 {
            p.push("set rounds or budget_env_steps".into());
        }
        for (name, s) in [
            ("env", &self.env),
            ("checker", &self.checker),
            ("resampler", &self.resampler),
        ] {
            if s.grants.http_timeout_ms == 0 || s.grants.http_max_response_mib == 0 {
                p.push(format!(
                    "{name}.grants.http_timeout_ms and http_max_response_mib must be positive"
                ));
            }
        }
        if self.checkpoint.every == 0 {
            p.push("checkpoint.every must be at least 1".into());
        }
        let h = &self.health;
        if !(h.max_failure_rate > 0.0 && h.max_failure_rate <= 1.0) {
            p.push(format!(
                "health.max_failure_rate = {} must lie in (0, 1]",
                h.max_failure_rate
            ));
        }
        if h.rounds == 0 {
            p.push("health.rounds must be at least 1".into());
        }
        let l = &self.limits;
        for (key, v) in [
            ("limits.init_ms", l.init_ms),
            ("limits.env_reset_ms", l.env_reset_ms),
            ("limits.env_step_ms", l.env_step_ms),
            ("limits.check_ms", l.check_ms),
            ("limits.plan_ms", l.plan_ms),
        ] {
            if !(1..=MAX_DEADLINE_MS).contains(&v) {
                p.push(format!(
                    "{key} = {v} is outside 1..={MAX_DEADLINE_MS} (milliseconds)"
                ));
            }
        }
        if !(MIN_MEMORY_MIB..=MAX_MEMORY_MIB).contains(&l.memory_mib) {
            p.push(format!(
                "limits.memory_mib = {} is outside {MIN_MEMORY_MIB}..={MAX_MEMORY_MIB}",
                l.memory_mib
            ));
        }
        p
    }

    /// The resolved config as TOML (saved in the run directory).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a RunConfig always serializes")
    }

    /// A plugin's config table as JSON for its `init`.
    pub fn plugin_json(section: &PluginSection) -> String {
        serde_json::to_string(&section.config).expect("TOML tables serialize to JSON")
    }

    /// Configs written before s0 and `adaptive` became the host's kept them in the
    /// resample-step plugin's config (`[resampler] config = { s0 = .., adaptive = .. }`),
    /// which now refuses them. Such a config (a saved run's included) still loads: the
    /// two keys move to `[algo.resample]`, with a warning. A value given in both places
    /// must agree.
    fn move_step_settings(&mut self, text: &str) -> Result<(), String> {
        if self.resampler.plugin.file_stem().and_then(|s| s.to_str()) != Some("resample-step") {
            return Ok(());
        }
        let given: toml::Table = toml::from_str(text).unwrap_or_default();
        let explicit = |key: &str| {
            given
                .get("algo")
                .and_then(|a| a.get("resample"))
                .and_then(|r| r.get(key))
                .is_some()
        };
        let mut moved = Vec::new();
        if let Some(v) = self.resampler.config.remove("s0") {
            let s0 = v
                .as_float()
                .or_else(|| v.as_integer().map(|i| i as f64))
                .ok_or_else(|| format!("resampler.config.s0 = {v} is not a number"))?;
            if explicit("s0") && self.algo.resample.s0 != s0 {
                return Err(format!(
                    "s0 is given twice, as algo.resample.s0 = {} and resampler.config.s0 = {s0}; keep algo.resample.s0",
                    self.algo.resample.s0
                ));
            }
            self.algo.resample.s0 = s0;
            moved.push("s0");
        }
        if let Some(v) = self.resampler.config.remove("adaptive") {
            let adaptive = v
                .as_bool()
                .ok_or_else(|| format!("resampler.config.adaptive = {v} is not true or false"))?;
            if explicit("adaptive") && self.algo.resample.adaptive != adaptive {
                return Err(format!(
                    "adaptive is given twice, as algo.resample.adaptive = {} and resampler.config.adaptive = {adaptive}; keep algo.resample.adaptive",
                    self.algo.resample.adaptive
                ));
            }
            self.algo.resample.adaptive = adaptive;
            moved.push("adaptive");
        }
        if !moved.is_empty() {
            tracing::warn!(
                "resampler.config.{} moved to [algo.resample]: s0 and adaptive are the host's settings, sent with every plan request (write them there)",
                moved.join(" and ")
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[env]
plugin = "plugins/uisim.wasm"
[checker]
plugin = "/abs/uisim-checker.wasm"
[resampler]
plugin = "resample-step.wasm"
config = { s0 = 0.4 }
"#;

    #[test]
    fn grants_parse_with_defaults_and_relative_dirs_follow_the_config_file() {
        let c = RunConfig::parse(MINIMAL, Path::new("/runs/cfg/x.toml")).unwrap();
        assert!(c.env.grants.is_empty() && c.env.grants.http.is_empty());
        let text = MINIMAL.replace(
            "[checker]",
            "[env.grants]\nhttp = [\"127.0.0.1:5000\"]\nread_dirs = { \"/tasks\" = \"tasks\", \"/abs\" = \"/data\" }\n[checker]",
        );
        let c = RunConfig::parse(&text, Path::new("/runs/cfg/x.toml")).unwrap();
        assert_eq!(c.env.grants.http, ["127.0.0.1:5000"]);
        assert_eq!(c.env.grants.http_timeout_ms, 60_000);
        assert_eq!(
            c.env.grants.read_dirs["/tasks"],
            PathBuf::from("/runs/cfg/tasks")
        );
        assert_eq!(c.env.grants.read_dirs["/abs"], PathBuf::from("/data"));
        assert!(c.checker.grants.is_empty());
        // The resolved config round-trips with its grants.
        let again = RunConfig::parse(&c.to_toml(), Path::new("/elsewhere/y.toml")).unwrap();
        assert_eq!(again.env.grants, c.env.grants);

        let typo = MINIMAL.replace("[checker]", "[env.grants]\nhttps = []\n[checker]");
        let e = RunConfig::parse(&typo, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("env.grants.https") && e.contains("unknown field"),
            "{e}"
        );
        let zero = MINIMAL.replace("[checker]", "[env.grants]\nhttp_timeout_ms = 0\n[checker]");
        let e = RunConfig::parse(&zero, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("env.grants.http_timeout_ms"), "{e}");
    }

    /// A config given by a relative path resolves to absolute paths, so the resolved
    /// config a run saves in its directory names the same files when read back from
    /// there (resume, eval).
    #[test]
    fn a_relative_config_path_resolves_to_absolute_plugin_paths() {
        let c = RunConfig::parse(MINIMAL, Path::new("configs/x.toml")).unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(c.env.plugin, cwd.join("configs/plugins/uisim.wasm"));
        let bare = RunConfig::parse(MINIMAL, Path::new("x.toml")).unwrap();
        assert_eq!(bare.env.plugin, cwd.join("./plugins/uisim.wasm"));
        let again = RunConfig::parse(&c.to_toml(), Path::new("/runs/r/config.toml")).unwrap();
        assert_eq!(again.env.plugin, c.env.plugin);
    }

    #[test]
    fn defaults_fill_in_and_relative_paths_follow_the_config_file() {
        let c = RunConfig::parse(MINIMAL, Path::new("/runs/cfg/x.toml")).unwrap();
        assert_eq!(c.env.plugin, PathBuf::from("/runs/cfg/plugins/uisim.wasm"));
        assert_eq!(c.checker.plugin, PathBuf::from("/abs/uisim-checker.wasm"));
        assert_eq!(c.algo.method, Method::Step);
        assert_eq!(c.rollout.copies_per_task, 8);
        // resample-step's old `s0` key moved to the host's [algo.resample].
        assert_eq!(RunConfig::plugin_json(&c.resampler), "{}");
        assert_eq!(c.algo.resample.s0, 0.4);
        assert!(c.algo.resample.adaptive);
        assert_eq!(RunConfig::plugin_json(&c.env), "{}");
        // The resolved form parses back to the same config.
        let again = RunConfig::parse(&c.to_toml(), Path::new("/elsewhere/y.toml")).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn step_settings_live_in_algo_resample_and_old_plugin_keys_move_there() {
        let old = MINIMAL.replace(
            "{ s0 = 0.4 }",
            "{ s0 = 0.3, kappa = 5.0, adaptive = false }",
        );
        let c = RunConfig::parse(&old, Path::new("c.toml")).unwrap();
        assert_eq!((c.algo.resample.s0, c.algo.resample.adaptive), (0.3, false));
        assert_eq!(RunConfig::plugin_json(&c.resampler), r#"{"kappa":5.0}"#);
        // Given in both places, the two must agree.
        let twice = format!("{old}\n[algo.resample]\ns0 = 0.6\n");
        let e = RunConfig::parse(&twice, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("s0 is given twice") && e.contains("0.6"), "{e}");
        let agree = format!("{old}\n[algo.resample]\ns0 = 0.3\n");
        assert!(RunConfig::parse(&agree, Path::new("c.toml")).is_ok());
        // Another resampler's keys of the same names are its own.
        let other = old.replace("resample-step.wasm", "my-resampler.wasm");
        let c = RunConfig::parse(&other, Path::new("c.toml")).unwrap();
        assert_eq!(c.algo.resample, StepSettings::default());
        assert!(RunConfig::plugin_json(&c.resampler).contains("\"s0\":0.3"));
        // The host checks its own range, naming the key.
        let bad = MINIMAL.replace("config = { s0 = 0.4 }", "[algo.resample]\ns0 = 1.5");
        let e = RunConfig::parse(&bad, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("algo.resample.s0 = 1.5 must lie strictly between 0 and 1"),
            "{e}"
        );
        let typo = MINIMAL.replace("config = { s0 = 0.4 }", "[algo.resample]\nadaptve = false");
        let e = RunConfig::parse(&typo, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("algo.resample.adaptve"), "{e}");
    }

    #[test]
    fn limits_outside_their_range_are_refused_with_it() {
        let bad = format!("{MINIMAL}\n[limits]\nenv_step_ms = 0\nmemory_mib = 0\n");
        let e = RunConfig::parse(&bad, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("limits.env_step_ms = 0 is outside 1..=86400000 (milliseconds)")
                && e.contains("limits.memory_mib = 0 is outside 1..=1048576"),
            "{e}"
        );
        let ok = format!("{MINIMAL}\n[limits]\nenv_step_ms = 1\n");
        assert!(RunConfig::parse(&ok, Path::new("c.toml")).is_ok());
    }

    #[test]
    fn unknown_keys_are_named_with_their_path() {
        let text = format!("{MINIMAL}\n[algo.augment]\ngroup_sise = 4\n");
        let e = RunConfig::parse(&text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        // Where it is: line and column of the key, 1-based.
        let line = text
            .lines()
            .position(|l| l.starts_with("group_sise"))
            .unwrap()
            + 1;
        assert!(
            e.starts_with(&format!("c.toml:{line}:1: algo.augment.group_sise:")),
            "{e}"
        );
        assert!(
            e.contains("unknown field `group_sise`") && e.contains("group_size"),
            "{e}"
        );
        let text = format!("{MINIMAL}\nlearing_rate = 3\n");
        let e = RunConfig::parse(&text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `learing_rate`"), "{e}");
    }

    #[test]
    fn wrong_types_and_ranges_are_named() {
        let text = format!("{MINIMAL}\n[learner]\nlr = \"fast\"\n");
        let e = RunConfig::parse(&text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("learner.lr"), "{e}");
        let text = format!("{MINIMAL}\n[algo]\nmethod = \"ppo\"\n");
        let e = RunConfig::parse(&text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("algo.method") && e.contains("step") && e.contains("gigpo"),
            "{e}"
        );
        let text = format!("{MINIMAL}\n[algo]\nbeta = 1.5\n[rollout]\nconcurrency = 0\n");
        let e = RunConfig::parse(&text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("algo.beta = 1.5") && e.contains("concurrency"),
            "{e}"
        );
        let e = RunConfig::parse("[env]\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("env") && e.contains("plugin"), "{e}");
        let e = RunConfig::parse("seed = [", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.toml:1:9: .:"), "{e}");
        let text = format!("{MINIMAL}\n[rollout]\ncopies_per_task = -4\n");
        let e = RunConfig::parse(&text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("rollout.copies_per_task: invalid value: integer `-4`")
                && e.contains("cannot be negative"),
            "{e}"
        );
    }

    #[test]
    fn task_selection_supports_prefixes() {
        let s = TaskSelection {
            include: vec!["settings.*".into(), "open.clock".into()],
            exclude: vec!["settings.wifi-*".into()],
            heldout: vec!["settings.bluetooth-*".into(), "open.notes".into()],
        };
        assert!(s.selects("settings.bluetooth-on"));
        assert!(s.selects("open.clock"));
        assert!(!s.selects("settings.wifi-on"));
        assert!(!s.selects("open.notes"));
        assert!(TaskSelection::default().selects("anything"));
        // Held out: selected, never trained on; unselected tasks are neither.
        assert!(s.holds_out("settings.bluetooth-on") && !s.trains_on("settings.bluetooth-on"));
        assert!(s.trains_on("open.clock") && !s.holds_out("open.clock"));
        assert!(!s.holds_out("open.notes") && !s.trains_on("open.notes"));
    }

    #[test]
    fn every_shipped_config_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                RunConfig::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                n += 1;
            }
        }
        assert!(n >= 9, "{n} configs");
    }
}

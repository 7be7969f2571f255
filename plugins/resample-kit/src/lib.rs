//! What the Rust resampler plugins share: [`Plugin`], a resampler over any of
//! `steprl-algo`'s strategies — its settings parsed from the config JSON (unknown keys
//! refused by name), checked, and its plan computed by the very function the host's
//! tests check. The host's STEP settings (s0, `adaptive`) arrive with each plan
//! ([`Resampler::plan_with`]); a host that sends none gets the defaults.

use serde::de::DeserializeOwned;
use steprl_algo::{CurriculumParams, ProgressParams, ResampleParams};
use steprl_plugin::resample::{PlanRequest, PluginError, Resampler, StepSettings, TaskStat};

/// A resampling strategy: its settings are its config.
pub trait Strategy: DeserializeOwned + 'static {
    /// The plugin's name, for messages.
    const NAME: &'static str;
    /// The config keys it accepts, for messages.
    const KEYS: &'static str;
    /// The round's plan (a `steprl-algo` function).
    const PLAN: fn(u32, &[steprl_core::TaskStat], &steprl_core::PlanRequest, &Self) -> Vec<String>;
    /// What is wrong with these settings, if anything.
    fn problem(&self) -> Option<String>;
    /// Config keys that are no longer this strategy's, each with where it went.
    const MOVED: &'static [(&'static str, &'static str)] = &[];
}

/// The host's settings a plan request carries when the host sends none.
fn default_settings() -> StepSettings {
    let d = steprl_core::StepSettings::default();
    StepSettings {
        s0: d.s0,
        adaptive: d.adaptive,
    }
}

/// A resampler plugin over strategy `S`.
pub struct Plugin<S>(S);

impl<S: Strategy> Resampler for Plugin<S> {
    fn init(config_json: &str) -> Result<Self, PluginError> {
        if let Ok(serde_json::Value::Object(keys)) = serde_json::from_str(config_json)
            && let Some((key, place)) = S::MOVED.iter().find(|(k, _)| keys.contains_key(*k))
        {
            return Err(PluginError::InvalidConfig(format!(
                "`{key}` is no longer a setting of {name}: {place} ({name} accepts {keys})",
                name = S::NAME,
                keys = S::KEYS
            )));
        }
        let s: S = serde_json::from_str(config_json).map_err(|e| {
            PluginError::InvalidConfig(format!("{e} ({} accepts {})", S::NAME, S::KEYS))
        })?;
        match s.problem() {
            Some(p) => Err(PluginError::InvalidConfig(p)),
            None => Ok(Plugin(s)),
        }
    }

    fn plan(
        &self,
        round: u32,
        stats: &[TaskStat],
        request: PlanRequest,
    ) -> Result<Vec<String>, PluginError> {
        self.plan_with(round, stats, request, default_settings())
    }

    fn plan_with(
        &self,
        round: u32,
        stats: &[TaskStat],
        request: PlanRequest,
        settings: StepSettings,
    ) -> Result<Vec<String>, PluginError> {
        let host = steprl_core::StepSettings {
            s0: settings.s0,
            adaptive: settings.adaptive,
        };
        if let Some(p) = host.problem() {
            return Err(PluginError::InvalidInput(format!(
                "the host's STEP settings: {p}"
            )));
        }
        if stats.is_empty() {
            return Err(PluginError::InvalidInput("no tasks to plan over".into()));
        }
        let stats: Vec<steprl_core::TaskStat> = stats
            .iter()
            .map(|s| steprl_core::TaskStat {
                id: s.id.clone(),
                attempts: s.attempts,
                successes: s.successes,
                smoothed_rate: s.smoothed_rate,
                last_round: s.last_round,
            })
            .collect();
        let request = steprl_core::PlanRequest {
            tasks_per_round: request.tasks_per_round,
            copies_per_task: request.copies_per_task,
            seed: request.seed,
            settings: host,
        };
        Ok(S::PLAN(round, &stats, &request, &self.0))
    }
}

impl Strategy for ResampleParams {
    const NAME: &'static str = "resample-step";
    const KEYS: &'static str = "kappa, weighted";
    const MOVED: &'static [(&'static str, &'static str)] = &[
        (
            "s0",
            "it is the host's, `s0` in the run config's [algo.resample]",
        ),
        (
            "adaptive",
            "it is the host's, `adaptive` in the run config's [algo.resample]",
        ),
    ];
    const PLAN: fn(u32, &[steprl_core::TaskStat], &steprl_core::PlanRequest, &Self) -> Vec<String> =
        steprl_algo::plan;

    fn problem(&self) -> Option<String> {
        if !(self.kappa > 0.0 && self.kappa.is_finite()) {
            return Some(format!("kappa = {} must be a positive number", self.kappa));
        }
        None
    }
}

impl Strategy for ProgressParams {
    const NAME: &'static str = "resample-progress";
    const KEYS: &'static str = "epsilon";
    const PLAN: fn(u32, &[steprl_core::TaskStat], &steprl_core::PlanRequest, &Self) -> Vec<String> =
        steprl_algo::progress_plan;

    fn problem(&self) -> Option<String> {
        (!(self.epsilon > 0.0 && self.epsilon.is_finite()))
            .then(|| format!("epsilon = {} must be a positive number", self.epsilon))
    }
}

impl Strategy for CurriculumParams {
    const NAME: &'static str = "resample-curriculum";
    const KEYS: &'static str = "levels (lists of task-id prefixes, easiest first), threshold";
    const PLAN: fn(u32, &[steprl_core::TaskStat], &steprl_core::PlanRequest, &Self) -> Vec<String> =
        steprl_algo::curriculum_plan;

    fn problem(&self) -> Option<String> {
        if !(0.0..=1.0).contains(&self.threshold) {
            return Some(format!("threshold = {} must lie in [0, 1]", self.threshold));
        }
        if let Some(i) = self.levels.iter().position(Vec::is_empty) {
            return Some(format!("levels[{i}] is empty (give it task-id prefixes)"));
        }
        None
    }
}

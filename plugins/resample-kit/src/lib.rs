//! What the Rust resampler plugins share: [`Plugin`], a resampler over any of
//! `steprl-algo`'s strategies — its settings parsed from the config JSON (unknown keys
//! refused by name), checked, and its plan computed by the very function the host's
//! tests check.

use serde::de::DeserializeOwned;
use steprl_algo::{CurriculumParams, ProgressParams, ResampleParams};
use steprl_plugin::resample::{PlanRequest, PluginError, Resampler, TaskStat};

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
}

/// A resampler plugin over strategy `S`.
pub struct Plugin<S>(S);

impl<S: Strategy> Resampler for Plugin<S> {
    fn init(config_json: &str) -> Result<Self, PluginError> {
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
        };
        Ok(S::PLAN(round, &stats, &request, &self.0))
    }
}

impl Strategy for ResampleParams {
    const NAME: &'static str = "resample-step";
    const KEYS: &'static str = "s0, kappa, adaptive, weighted";
    const PLAN: fn(u32, &[steprl_core::TaskStat], &steprl_core::PlanRequest, &Self) -> Vec<String> =
        steprl_algo::plan;

    fn problem(&self) -> Option<String> {
        if !(self.s0 > 0.0 && self.s0 < 1.0) {
            return Some(format!(
                "s0 = {} must lie strictly between 0 and 1",
                self.s0
            ));
        }
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

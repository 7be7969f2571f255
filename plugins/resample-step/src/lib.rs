//! The `resample-step` resampler plugin: STEP's adaptive resampling (`steprl-algo`'s
//! `resample::plan`, the very code the host's tests check). Configuration: `s0`,
//! `kappa`, `adaptive` (false = uniform), `weighted` (draw replacements by 1 − ŝ).

use steprl_algo::ResampleParams;
use steprl_plugin::resample::{PlanRequest, PluginError, Resampler, TaskStat};

/// The configured strategy.
pub struct StepResampler(ResampleParams);

impl Resampler for StepResampler {
    fn init(config_json: &str) -> Result<Self, PluginError> {
        let p: ResampleParams = serde_json::from_str(config_json).map_err(|e| {
            PluginError::InvalidConfig(format!(
                "{e} (resample-step accepts s0, kappa, adaptive, weighted)"
            ))
        })?;
        if !(p.s0 > 0.0 && p.s0 < 1.0) {
            return Err(PluginError::InvalidConfig(format!(
                "s0 = {} must lie strictly between 0 and 1",
                p.s0
            )));
        }
        if !(p.kappa > 0.0 && p.kappa.is_finite()) {
            return Err(PluginError::InvalidConfig(format!(
                "kappa = {} must be a positive number",
                p.kappa
            )));
        }
        Ok(StepResampler(p))
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
        Ok(steprl_algo::plan(round, &stats, &request, &self.0))
    }
}

steprl_plugin::export_resampler!(StepResampler);

//! __NAME__: a steprl resampler in Rust.
//!
//! Plans each round's rollouts from the success record: here, a round-robin over the
//! tasks, `copies-per-task` rollouts each. A plan must be a pure function of its inputs
//! (round, stats, request): use `request.seed` and `round` for randomness. CHANGE `plan`.
//! To read the host's STEP settings (`[algo.resample]`: s0, adaptive), implement
//! `Resampler::plan_with` instead; by default it ignores them and calls `plan`.
//!
//! Build: sh build.sh        Check: steprl plugin check __NAME__.wasm

use steprl_plugin::resample::{PlanRequest, PluginError, Resampler, TaskStat};

/// The resampler, built by `init` from the config.
pub struct RoundRobin;

impl Resampler for RoundRobin {
    fn init(config_json: &str) -> Result<Self, PluginError> {
        let config: serde_json::Value = serde_json::from_str(config_json)
            .map_err(|e| PluginError::InvalidConfig(format!("config is not JSON: {e}")))?;
        match config.as_object() {
            Some(m) if m.is_empty() => Ok(RoundRobin),
            _ => Err(PluginError::InvalidConfig(
                "__NAME__ takes no configuration (give it an empty JSON object)".into(),
            )),
        }
    }

    fn plan(
        &self,
        round: u32,
        stats: &[TaskStat],
        request: PlanRequest,
    ) -> Result<Vec<String>, PluginError> {
        let mut ids: Vec<&str> = stats.iter().map(|s| s.id.as_str()).collect();
        ids.sort_unstable();
        if ids.is_empty() {
            return Err(PluginError::InvalidInput("no tasks to plan over".into()));
        }
        let (b, n) = (request.tasks_per_round as usize, request.copies_per_task as usize);
        Ok((0..b.min(ids.len()))
            .flat_map(|i| {
                let id = ids[(round as usize * b + i) % ids.len()];
                std::iter::repeat_n(id.to_owned(), n)
            })
            .collect())
    }
}

steprl_plugin::export_resampler!(RoundRobin);

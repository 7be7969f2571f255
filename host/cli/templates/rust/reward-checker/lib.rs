//! __NAME__: a steprl reward checker in Rust.
//!
//! Judges a finished episode from the final state its environment returned (a JSON
//! document); this one expects `{"value", "target", "said_done"}`, as the environment
//! template writes it. CHANGE it to read your environment's final state.
//!
//! Build: sh build.sh        Check: steprl plugin check __NAME__.wasm [--with ENV.wasm]

use steprl_plugin::check::{PluginError, RewardChecker, TaskInfo, TrajectorySummary, Verdict};

/// The checker, built by `init` from the config.
pub struct Judge;

impl RewardChecker for Judge {
    fn init(config_json: &str) -> Result<Self, PluginError> {
        let config: serde_json::Value = serde_json::from_str(config_json)
            .map_err(|e| PluginError::InvalidConfig(format!("config is not JSON: {e}")))?;
        match config.as_object() {
            Some(m) if m.is_empty() => Ok(Judge),
            _ => Err(PluginError::InvalidConfig(
                "__NAME__ takes no configuration (give it an empty JSON object)".into(),
            )),
        }
    }

    fn check(
        &self,
        _task: &TaskInfo,
        _trajectory: &TrajectorySummary,
        final_state_json: &str,
    ) -> Result<Verdict, PluginError> {
        // A state it cannot read (the host's supports probe too) is invalid input.
        let state: serde_json::Value = serde_json::from_str(final_state_json)
            .map_err(|e| PluginError::InvalidInput(format!("final state: {e}")))?;
        let (Some(value), Some(target), Some(said_done)) = (
            state["value"].as_u64(),
            state["target"].as_u64(),
            state["said_done"].as_bool(),
        ) else {
            return Err(PluginError::InvalidInput(
                "final state: expected {\"value\", \"target\", \"said_done\"}".into(),
            ));
        };
        let success = said_done && value == target;
        // A success must score above 0; every score is a number in [0, 1].
        let closeness = 1.0 - (target.abs_diff(value) as f32 / target.max(1) as f32).min(1.0);
        Ok(Verdict {
            success,
            score: if success { 1.0 } else { 0.5 * closeness },
            reason: if success {
                "reached the target and said done".into()
            } else {
                format!("value {value}, target {target}, done: {said_done}")
            },
            step_rewards: None,
        })
    }
}

steprl_plugin::export_reward_checker!(Judge);

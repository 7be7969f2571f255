//! The `uisim-checker` reward-checker plugin: judges a uisim episode from the task,
//! the trajectory and the final state (goal reached, nothing else changed, agent said
//! done), rebuilding the expected state from the task id and seed.

use steprl_plugin::check::{
    Action, PluginError, RewardChecker, TaskInfo, TrajectorySummary, Verdict,
};
use uisim_model::{Act, FinalState, JudgeError};

/// The checker (it takes no configuration).
pub struct UisimChecker;

impl RewardChecker for UisimChecker {
    fn init(config_json: &str) -> Result<Self, PluginError> {
        match serde_json::from_str::<serde_json::Value>(config_json) {
            Ok(serde_json::Value::Object(m)) if m.is_empty() => Ok(UisimChecker),
            Ok(serde_json::Value::Object(m)) => Err(PluginError::InvalidConfig(format!(
                "unknown key `{}`: uisim-checker takes no configuration",
                m.keys().next().map(String::as_str).unwrap_or_default()
            ))),
            _ => Err(PluginError::InvalidConfig(
                "expected a JSON object (uisim-checker takes no configuration)".into(),
            )),
        }
    }

    fn check(
        &self,
        task: &TaskInfo,
        trajectory: &TrajectorySummary,
        final_state_json: &str,
    ) -> Result<Verdict, PluginError> {
        let state: FinalState = serde_json::from_str(final_state_json).map_err(|e| {
            PluginError::InvalidInput(format!("final state is not a uisim final state: {e}"))
        })?;
        let said_done = trajectory.actions.last() == Some(&Action::Discrete(Act::Done.index()));
        if said_done != state.said_done {
            return Err(PluginError::InvalidInput(format!(
                "the trajectory {} with done but the final state says said_done={}",
                if said_done { "ends" } else { "does not end" },
                state.said_done
            )));
        }
        let j =
            uisim_model::judge(&task.id, trajectory.seed, said_done, &state).map_err(
                |e| match e {
                    JudgeError::UnknownTask(t) => PluginError::UnknownTask(t),
                    JudgeError::Mismatch(_) => PluginError::InvalidInput(e.to_string()),
                },
            )?;
        Ok(Verdict {
            success: j.success,
            score: if j.success { 1.0 } else { 0.0 },
            reason: j.reason,
            step_rewards: None,
        })
    }
}

steprl_plugin::export_reward_checker!(UisimChecker);

//! The `shellsim-checker` reward-checker plugin: judges a shellsim episode from the
//! task, the trajectory and the final file system (exactly the goal state, and the
//! agent said done), rebuilding the goal from the task id and seed.

use shellsim_model::{Act, FinalState, JudgeError};
use steprl_plugin::check::{
    Action, PluginError, RewardChecker, TaskInfo, TrajectorySummary, Verdict,
};

/// The checker (it takes no configuration).
pub struct ShellsimChecker;

impl RewardChecker for ShellsimChecker {
    fn init(config_json: &str) -> Result<Self, PluginError> {
        match serde_json::from_str::<serde_json::Value>(config_json) {
            Ok(serde_json::Value::Object(m)) => match m.keys().next() {
                None => Ok(ShellsimChecker),
                Some(k) => Err(PluginError::InvalidConfig(format!(
                    "unknown key `{k}`: shellsim-checker takes no configuration"
                ))),
            },
            _ => Err(PluginError::InvalidConfig(
                "expected a JSON object (shellsim-checker takes no configuration)".into(),
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
            PluginError::InvalidInput(format!("final state is not a shellsim final state: {e}"))
        })?;
        let said_done = trajectory.actions.last() == Some(&Action::Discrete(Act::Done.index()));
        if said_done != state.said_done {
            return Err(PluginError::InvalidInput(format!(
                "the trajectory {} with done but the final state says said_done={}",
                if said_done { "ends" } else { "does not end" },
                state.said_done
            )));
        }
        let j = shellsim_model::judge(&task.id, trajectory.seed, said_done, &state).map_err(
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

steprl_plugin::export_reward_checker!(ShellsimChecker);

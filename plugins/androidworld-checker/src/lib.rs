//! The `androidworld-checker` reward-checker plugin: the suite's done-gating of an
//! AndroidWorld episode's final state (success only if the agent ended with
//! `status: complete` and `/task/score` reaches `success_threshold`).

use androidworld_model::{AwError, CheckerConfig, judge};
use steprl_plugin::check::{PluginError, RewardChecker, TaskInfo, TrajectorySummary, Verdict};

/// The configured checker.
pub struct AndroidWorldChecker {
    config: CheckerConfig,
}

fn plugin_error(e: AwError) -> PluginError {
    match e {
        AwError::InvalidConfig(m) => PluginError::InvalidConfig(m),
        AwError::UnknownTask(m) => PluginError::UnknownTask(m),
        AwError::InvalidAction(m) => PluginError::InvalidAction(m),
        AwError::EpisodeFinished => PluginError::EpisodeFinished,
        AwError::InvalidInput(m) => PluginError::InvalidInput(m),
        AwError::External(m) => PluginError::External(m),
        AwError::Internal(m) => PluginError::Internal(m),
    }
}

impl RewardChecker for AndroidWorldChecker {
    fn init(config_json: &str) -> Result<Self, PluginError> {
        Ok(AndroidWorldChecker {
            config: CheckerConfig::from_json(config_json).map_err(plugin_error)?,
        })
    }

    fn check(
        &self,
        task: &TaskInfo,
        _trajectory: &TrajectorySummary,
        final_state_json: &str,
    ) -> Result<Verdict, PluginError> {
        let j = judge(&task.id, final_state_json, &self.config).map_err(plugin_error)?;
        Ok(Verdict {
            success: j.success,
            score: j.score,
            reason: j.reason,
            step_rewards: None,
        })
    }
}

steprl_plugin::export_reward_checker!(AndroidWorldChecker);

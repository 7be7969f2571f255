//! The `androidworld-checker` reward-checker plugin: the suite's done-gating of an
//! AndroidWorld episode's final state (success only if the agent ended with
//! `status: complete` and `/task/score` reaches `success_threshold`).

use androidworld_model::{CheckerConfig, judge};
use steprl_plugin::check::{
    PluginError, RewardChecker, TaskInfo, TrajectorySummary, Verdict, plugin_error,
};

/// The configured checker.
pub struct AndroidWorldChecker {
    config: CheckerConfig,
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

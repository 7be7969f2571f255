//! A hostile reward-checker plugin for `hostile-env`'s episodes: success when the walk
//! said `done` at its goal, misjudged in the way its config's `mode` names:
//! `well-behaved`, `nan-score`, `score-2`, `huge-reason`, `panic`, `success-score-0`
//! (every episode a success, scored 0).

use steprl_plugin::check::{PluginError, RewardChecker, TaskInfo, TrajectorySummary, Verdict};

const MODES: &[&str] = &[
    "well-behaved",
    "nan-score",
    "score-2",
    "huge-reason",
    "panic",
    "success-score-0",
];

/// The checker, in one mode.
pub struct HostileChecker {
    mode: &'static str,
}

impl RewardChecker for HostileChecker {
    fn init(config_json: &str) -> Result<Self, PluginError> {
        let v: serde_json::Value = serde_json::from_str(config_json)
            .map_err(|e| PluginError::InvalidConfig(e.to_string()))?;
        let mode = v
            .get("mode")
            .and_then(|m| m.as_str())
            .unwrap_or("well-behaved");
        let mode = MODES.iter().find(|m| **m == mode).ok_or_else(|| {
            PluginError::InvalidConfig(format!("mode `{mode}`: one of {}", MODES.join(", ")))
        })?;
        Ok(HostileChecker { mode })
    }

    fn check(
        &self,
        _task: &TaskInfo,
        _trajectory: &TrajectorySummary,
        final_state_json: &str,
    ) -> Result<Verdict, PluginError> {
        let v: serde_json::Value = serde_json::from_str(final_state_json)
            .map_err(|e| PluginError::InvalidInput(e.to_string()))?;
        let success =
            self.mode == "success-score-0" || (v["done"] == true && v["pos"] == v["goal"]);
        let score = match self.mode {
            "nan-score" => f32::NAN,
            "score-2" => 2.0,
            "panic" => panic!("hostile-checker panics in check"),
            "success-score-0" => 0.0,
            _ => f32::from(u8::from(success)),
        };
        Ok(Verdict {
            success,
            score,
            reason: if self.mode == "huge-reason" {
                "because ".repeat(1 << 20)
            } else {
                String::new()
            },
            step_rewards: None,
        })
    }
}

steprl_plugin::export_reward_checker!(HostileChecker);

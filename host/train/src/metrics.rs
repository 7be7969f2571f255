//! What one round reports (one JSON line in `metrics.jsonl`, grouped by namespace as
//! `steprl_core::metric_groups` says): rollout counts and success (`rollout`), the
//! success-rate record (`record`), sample counts and the update's diagnostics (`loss`),
//! and wall time per phase (`perf`, the only part that differs between two runs with the
//! same seed).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use steprl_core::UpdateStats;
use steprl_core::metric_groups;

/// Wall time per phase, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Perf {
    /// Asking the resampler.
    pub plan_s: f64,
    /// The rollout as a whole.
    pub rollout_s: f64,
    /// Policy inference within the rollout.
    pub inference_s: f64,
    /// Environment calls within the rollout.
    pub env_s: f64,
    /// Starting and resetting an episode (a VM revert an adapter makes is in it): the
    /// mean over the round's episodes.
    #[serde(default)]
    pub reset_s: f64,
    /// The longest start and reset of the round.
    #[serde(default)]
    pub reset_max_s: f64,
    /// Reward checks within the rollout.
    pub check_s: f64,
    /// Sampling augmentation candidates.
    pub augment_s: f64,
    /// The learner update.
    pub update_s: f64,
    /// The whole round.
    pub total_s: f64,
    /// Environment steps per second of rollout.
    pub env_steps_per_s: f64,
}

/// One round.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundMetrics {
    /// Round number (0-based).
    pub round: u32,
    /// Environment steps this round.
    pub env_steps: u64,
    /// Environment steps so far.
    pub env_steps_total: u64,
    /// Judged trajectories this round.
    pub trajectories: u64,
    /// Judged trajectories so far.
    pub trajectories_total: u64,
    /// Episodes lost to plugin failures this round.
    pub plugin_failures: u64,
    /// Why: each distinct plugin-failure message with its count.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failures: BTreeMap<String, u32>,
    /// Episodes lost with a server that stopped answering this round (each ran again
    /// on another server; not task failures, not plugin failures).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost: u64,
    /// The servers of the environment's pool out of it at the end of this round.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers_down: Vec<String>,
    /// Generated text actions the environment rejected as invalid this round (each
    /// ended its episode, which was judged).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub invalid_actions: u64,
    /// Episodes the host truncated at their task's max-steps this round (the
    /// environment had not ended them).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub host_truncated: u64,
    /// Share of judged trajectories that succeeded.
    pub success_rate: f64,
    /// Per task rolled out this round: its success share.
    pub task_success: BTreeMap<String, f64>,
    /// ŝ of every training task after this round (absent: unseen).
    pub task_rate: BTreeMap<String, f64>,
    /// |C|: tasks with 0 < ŝ < s0 after this round.
    pub cache_size: usize,
    /// Rollouts per task this round (shows where the resampler spent effort).
    pub task_rollouts: BTreeMap<String, u32>,
    /// The resampler plugin that planned this round (`steprl resume --resampler` can
    /// swap it mid-run).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resampler: String,
    /// Tasks at ŝ = 0 for `algo.stuck_rounds` rounds in a row.
    pub stuck_tasks: Vec<String>,
    /// The policy version that acted in this round's episodes (the updates it had
    /// taken): the round in synchronous mode, one less in asynchronous mode.
    #[serde(default)]
    pub policy_version: u32,
    /// Partial rollouts: episodes unfinished (or not started) when the round's
    /// deadline passed, carried into the next round.
    #[serde(default)]
    pub carried: u64,
    /// Step samples from rollouts.
    pub samples: usize,
    /// Rollout samples dropped as more than `rollout.max_staleness` versions behind
    /// the learner.
    #[serde(default)]
    pub stale_samples: usize,
    /// The mean lag, in policy versions, of the rollout samples trained on (0 in
    /// synchronous mode).
    #[serde(default)]
    pub staleness: f64,
    /// Step samples from augmentation.
    pub aug_samples: usize,
    /// No samples at all (no update happened).
    pub degenerate: bool,
    /// The learner update's counts and diagnostics (flattened into the line).
    #[serde(flatten)]
    pub update: UpdateStats,
    /// Wall time.
    pub perf: Perf,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl RoundMetrics {
    /// This round as one `metrics.jsonl` line (no newline), grouped by namespace.
    pub fn to_line(&self) -> String {
        // Through the text, not `to_value`: a `Value` widens each `f32` to `f64` and
        // would print `0.1` as `0.10000000149011612`; parsed back from its own
        // shortest form, a number keeps it.
        let text = serde_json::to_string(self).expect("metrics serialize");
        match serde_json::from_str(&text).expect("metrics parse back") {
            serde_json::Value::Object(flat) => metric_groups::line(flat),
            _ => unreachable!("a struct serializes to an object"),
        }
    }

    /// A `metrics.jsonl` line, grouped or in the flat form of earlier runs.
    pub fn from_line(line: &str) -> Result<Self, serde_json::Error> {
        match serde_json::from_str(line)? {
            serde_json::Value::Object(m) => {
                serde_json::from_value(serde_json::Value::Object(metric_groups::flatten(m)))
            }
            other => serde_json::from_value(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> RoundMetrics {
        RoundMetrics {
            round: 4,
            env_steps: 10,
            env_steps_total: 50,
            trajectories: 2,
            trajectories_total: 8,
            plugin_failures: 1,
            failures: [("boom".to_owned(), 1)].into(),
            lost: 1,
            servers_down: vec!["http://127.0.0.1:5001".into()],
            invalid_actions: 1,
            host_truncated: 1,
            success_rate: 0.5,
            task_success: [("a".to_owned(), 0.5)].into(),
            task_rate: [("a".to_owned(), 0.25)].into(),
            cache_size: 1,
            task_rollouts: [("a".to_owned(), 2)].into(),
            resampler: "resample-step".into(),
            stuck_tasks: vec!["b".into()],
            policy_version: 3,
            carried: 2,
            samples: 3,
            stale_samples: 1,
            staleness: 0.5,
            aug_samples: 2,
            degenerate: false,
            update: UpdateStats {
                gradient_steps: 1,
                policy_loss: -0.5,
                ..UpdateStats::default()
            },
            perf: Perf {
                total_s: 1.0,
                ..Perf::default()
            },
        }
    }

    #[test]
    fn a_line_holds_only_the_index_and_the_four_namespaces() {
        let m = full();
        let text = m.to_line();
        assert!(text.starts_with(r#"{"round":4,"rollout":{"#), "{text}");
        let line: serde_json::Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        // (serde_json's map sorts keys; the line itself has them in table order.)
        assert_eq!(keys, ["loss", "perf", "record", "rollout", "round"]);
        let at = |k: &str| text.find(&format!("\"{k}\":{{")).unwrap();
        assert!(
            at("rollout") < at("record") && at("record") < at("loss") && at("loss") < at("perf")
        );
        assert_eq!(line["rollout"]["success_rate"], 0.5);
        assert_eq!(line["record"]["task_rate"]["a"], 0.25);
        assert_eq!(line["loss"]["policy_loss"], -0.5);
        assert_eq!(line["perf"]["total_s"], 1.0);
        assert_eq!(RoundMetrics::from_line(&m.to_line()).unwrap(), m);
    }

    #[test]
    fn f32_metrics_are_written_in_their_shortest_form_as_the_flat_lines_were() {
        let mut m = full();
        m.update.policy_loss = 0.1;
        let text = m.to_line();
        assert!(text.contains(r#""policy_loss":0.1"#), "{text}");
        assert!(!text.contains("0.100000001"), "widened to f64: {text}");
    }

    #[test]
    fn flat_lines_of_earlier_runs_still_read() {
        let m = full();
        let flat = serde_json::to_string(&m).unwrap();
        assert_eq!(RoundMetrics::from_line(&flat).unwrap(), m);
    }
}

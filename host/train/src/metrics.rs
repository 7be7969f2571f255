//! What one round reports (one JSON line in `metrics.jsonl`): rollout counts, success,
//! the record, sample counts, the update's diagnostics, and wall time per phase
//! (`perf`, the only part that differs between two runs with the same seed).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use steprl_core::UpdateStats;

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
    /// Step samples from rollouts.
    pub samples: usize,
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

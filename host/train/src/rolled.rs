//! One round's finished rollouts as the trainer keeps them between its phases (and, in
//! asynchronous mode, across a checkpoint): the episodes, their counters, the failures
//! seen, the planning and rollout timings and the policy version that acted; and the
//! staleness rule that drops samples too old to train on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use steprl_core::StepSample;
use steprl_rollout::{EpisodeResult, RolloutStats};

use crate::metrics::Perf;

/// One round's rollouts, finished and not yet trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rolled {
    /// The round they belong to.
    pub round: u32,
    /// The policy version that acted: the number of updates it had taken.
    pub policy_version: u32,
    /// The resampler that planned them.
    #[serde(default)]
    pub resampler: String,
    /// Every planned episode, in plan order.
    pub results: Vec<EpisodeResult>,
    /// The rollout's counters and timings.
    pub stats: RolloutStats,
    /// Each distinct plugin failure with the number of episodes it cost.
    pub failures: BTreeMap<String, u32>,
    /// Planning and rollout timings (the other phases' stay 0).
    pub perf: Perf,
}

/// Drop the samples more than `max_staleness` versions behind `learner_version` (the
/// updates the learner has taken); returns how many were dropped. The others keep
/// their order.
pub fn drop_stale(
    samples: &mut Vec<StepSample>,
    learner_version: u32,
    max_staleness: u32,
) -> usize {
    let before = samples.len();
    samples.retain(|s| learner_version.saturating_sub(s.policy_version) <= max_staleness);
    before - samples.len()
}

/// The mean number of versions `samples` lag behind `learner_version` (0 for none).
pub fn mean_staleness(samples: &[StepSample], learner_version: u32) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let lag: u64 = samples
        .iter()
        .map(|s| u64::from(learner_version.saturating_sub(s.policy_version)))
        .sum();
    lag as f64 / samples.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(version: u32, action: u32) -> StepSample {
        StepSample {
            policy_version: version,
            action,
            ..StepSample::default()
        }
    }

    #[test]
    fn samples_beyond_the_staleness_bound_are_dropped_and_counted() {
        let mut s = vec![at(7, 0), at(4, 1), at(6, 2), at(5, 3), at(7, 4)];
        // Lags 0, 3, 1, 2, 0.
        assert_eq!(mean_staleness(&s, 7), 6.0 / 5.0);
        assert_eq!(drop_stale(&mut s, 7, 2), 1);
        let kept: Vec<u32> = s.iter().map(|x| x.action).collect();
        assert_eq!(kept, vec![0, 2, 3, 4]);
        assert_eq!(drop_stale(&mut s, 7, 0), 2);
        assert_eq!(s.iter().map(|x| x.action).collect::<Vec<_>>(), vec![0, 4]);
        assert_eq!(mean_staleness(&s, 7), 0.0);
        assert_eq!(mean_staleness(&[], 7), 0.0);
    }

    #[test]
    fn a_sample_from_a_newer_policy_than_the_learner_counts_as_fresh() {
        // Cannot happen in a run, but must never underflow into a huge lag.
        let mut s = vec![at(9, 0)];
        assert_eq!(drop_stale(&mut s, 3, 0), 0);
        assert_eq!(mean_staleness(&s, 3), 0.0);
    }

    #[test]
    fn rollouts_survive_a_round_trip_through_json_bit_for_bit() {
        use steprl_core::{Action, Completion, Observation, Transition};
        let r = Rolled {
            round: 3,
            policy_version: 2,
            resampler: "resample-step".into(),
            results: vec![EpisodeResult {
                spec: steprl_rollout::EpisodeSpec {
                    task: "open.notes".into(),
                    seed: u64::MAX - 1,
                    sample_seed: 17,
                },
                transitions: vec![Transition {
                    observation: Observation {
                        tokens: Some(vec![1, 2, 3]),
                        features: Some(vec![0.1, -3.5e-12]),
                        ..Observation::default()
                    },
                    action: Action::Discrete(2),
                    logp: -1.234_567_8,
                    completion: Some(Completion {
                        tokens: vec![5, 6],
                        logps: vec![-0.1, -2.000_001],
                    }),
                    policy_version: 0,
                }],
                anchors: vec![u64::MAX],
                done: true,
                truncated: false,
                outcome: steprl_rollout::Outcome::Judged {
                    success: true,
                    score: 0.75,
                    reason: "ok".into(),
                },
            }],
            stats: RolloutStats {
                env_steps: 1,
                inference: std::time::Duration::from_nanos(123_456_789),
                ..RolloutStats::default()
            },
            failures: BTreeMap::from([("trap".to_owned(), 2)]),
            perf: Perf {
                rollout_s: 0.1 + 0.2,
                ..Perf::default()
            },
        };
        let text = serde_json::to_string(&r).unwrap();
        let back: Rolled = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
    }
}

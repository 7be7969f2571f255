//! The success-rate record: after a round in which task i got n_i counted rollouts with
//! k_i successes, ŝ_i ← k_i/n_i if unseen, else (1 − β) ŝ_i + β k_i/n_i. Rollouts lost
//! to plugin failures are not counted. The host owns the record (checkpoints hold it);
//! resamplers read it as `TaskStat`s.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use steprl_core::TaskStat;

/// What one rollout counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The checker judged it a success.
    Success,
    /// The checker judged it a failure.
    Failure,
    /// A plugin trapped or failed: not counted anywhere.
    PluginFailure,
}

/// The record of one task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Counted rollouts.
    pub attempts: u32,
    /// Successful rollouts.
    pub successes: u32,
    /// ŝ; `None` while unseen.
    pub smoothed: Option<f64>,
    /// Last round with a counted rollout.
    pub last_round: Option<u32>,
    /// Consecutive updated rounds ending with ŝ = 0.
    pub zero_rounds: u32,
}

/// Smoothed per-task success rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuccessRecord {
    beta: f64,
    tasks: BTreeMap<String, TaskRecord>,
}

impl SuccessRecord {
    /// An empty record over `tasks` with EMA coefficient `beta` (0 < β ≤ 1).
    pub fn new<I, S>(tasks: I, beta: f64) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        SuccessRecord {
            beta,
            tasks: tasks
                .into_iter()
                .map(|t| (t.into(), TaskRecord::default()))
                .collect(),
        }
    }

    /// ŝ of `task`, `None` if unseen or unknown.
    pub fn rate(&self, task: &str) -> Option<f64> {
        self.tasks.get(task).and_then(|r| r.smoothed)
    }

    /// The record of `task`.
    pub fn get(&self, task: &str) -> Option<&TaskRecord> {
        self.tasks.get(task)
    }

    /// Every task and its record, by id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &TaskRecord)> {
        self.tasks.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Fold in one round's rollouts `(task, outcome)`. Unknown tasks are ignored; tasks
    /// whose rollouts all failed by plugin are left as they were.
    pub fn update<'a>(
        &mut self,
        round: u32,
        rollouts: impl IntoIterator<Item = (&'a str, Outcome)>,
    ) {
        let mut counts: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
        for (task, outcome) in rollouts {
            let c = counts.entry(task).or_default();
            match outcome {
                Outcome::Success => {
                    c.0 += 1;
                    c.1 += 1;
                }
                Outcome::Failure => c.0 += 1,
                Outcome::PluginFailure => {}
            }
        }
        for (task, (n, k)) in counts {
            let Some(r) = self.tasks.get_mut(task) else {
                continue;
            };
            if n == 0 {
                continue;
            }
            let p = f64::from(k) / f64::from(n);
            let s = match r.smoothed {
                None => p,
                Some(s) => (1.0 - self.beta) * s + self.beta * p,
            };
            r.smoothed = Some(s);
            r.attempts += n;
            r.successes += k;
            r.last_round = Some(round);
            r.zero_rounds = if s == 0.0 { r.zero_rounds + 1 } else { 0 };
        }
    }

    /// The record as resamplers see it, sorted by task id.
    pub fn stats(&self) -> Vec<TaskStat> {
        self.tasks
            .iter()
            .map(|(id, r)| TaskStat {
                id: id.clone(),
                attempts: r.attempts,
                successes: r.successes,
                smoothed_rate: r.smoothed,
                last_round: r.last_round,
            })
            .collect()
    }

    /// Tasks at ŝ = 0 for at least `rounds` updated rounds in a row (often a broken
    /// checker rather than a hard task).
    pub fn stuck_at_zero(&self, rounds: u32) -> Vec<&str> {
        self.tasks
            .iter()
            .filter(|(_, r)| r.zero_rounds >= rounds)
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// The task cache C = { i : 0 < ŝ_i < s0 }.
    pub fn cache(&self, s0: f64) -> Vec<&str> {
        self.tasks
            .iter()
            .filter(|(_, r)| r.smoothed.is_some_and(|s| s > 0.0 && s < s0))
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Outcome::*;

    #[test]
    fn first_round_sets_the_empirical_rate_then_ema_smooths() {
        let mut r = SuccessRecord::new(["a", "b"], 0.5);
        r.update(
            0,
            [
                ("a", Success),
                ("a", Failure),
                ("a", Failure),
                ("a", Success),
            ],
        );
        assert_eq!(r.rate("a"), Some(0.5));
        assert_eq!(r.rate("b"), None, "unseen stays unseen");
        // 1 of 4: 0.5 * 0.5 + 0.5 * 0.25 = 0.375
        r.update(
            1,
            [
                ("a", Success),
                ("a", Failure),
                ("a", Failure),
                ("a", Failure),
            ],
        );
        assert_eq!(r.rate("a"), Some(0.375));
        let a = r.get("a").unwrap();
        assert_eq!((a.attempts, a.successes, a.last_round), (8, 3, Some(1)));
    }

    #[test]
    fn plugin_failures_are_not_counted() {
        let mut r = SuccessRecord::new(["a", "b"], 0.5);
        r.update(
            0,
            [("a", Success), ("a", PluginFailure), ("b", PluginFailure)],
        );
        assert_eq!(r.rate("a"), Some(1.0));
        assert_eq!(r.get("a").unwrap().attempts, 1);
        assert_eq!(
            r.rate("b"),
            None,
            "all-plugin-failure rounds leave a task unseen"
        );
    }

    #[test]
    fn cache_holds_tasks_strictly_between_zero_and_s0() {
        let mut r = SuccessRecord::new(["zero", "low", "at", "high", "new"], 1.0);
        r.update(
            0,
            [
                ("zero", Failure),
                ("low", Success),
                ("low", Failure),
                ("low", Failure),
                ("low", Failure),
            ],
        );
        r.update(0, [("at", Success), ("at", Failure), ("high", Success)]);
        assert_eq!(
            r.cache(0.5),
            vec!["low"],
            "ŝ = s0 exactly is not in the cache"
        );
    }

    #[test]
    fn stuck_tasks_are_reported_after_enough_zero_rounds() {
        let mut r = SuccessRecord::new(["a", "b"], 0.5);
        for round in 0..3 {
            r.update(round, [("a", Failure), ("b", Failure)]);
        }
        r.update(3, [("b", Success)]);
        assert_eq!(r.stuck_at_zero(3), vec!["a"]);
        assert!(r.stuck_at_zero(4).is_empty());
    }

    #[test]
    fn stats_mirror_the_record() {
        let mut r = SuccessRecord::new(["b", "a"], 0.5);
        r.update(2, [("a", Success)]);
        let s = r.stats();
        assert_eq!(s[0].id, "a");
        assert_eq!(s[0].smoothed_rate, Some(1.0));
        assert_eq!(s[0].last_round, Some(2));
        assert_eq!(s[1].smoothed_rate, None);
    }
}

//! Advantage estimators, one contract, chosen by [`Method`] with an exhaustive match:
//!
//! - **STEP**: every step of a successful trajectory of task i gets A = 1 − ŝ_i, where
//!   ŝ_i is the record *before* this round's update (hard tasks weigh more). Failed
//!   trajectories are dropped (paper mode), or with `include_failures` get A = −ŝ_i.
//!   The paper does not say what to use for a task seen for the first time; here its
//!   empirical rate in this round stands in for ŝ_i.
//! - **T-GRPO**: A = (R − mean_group) / (std_group + ε) on every step, groups = rollouts
//!   of the same task this round; groups whose rewards are all equal (including groups
//!   of one) carry no signal and are dropped.
//! - **GiGPO** (Feng et al., 2025): A = A_episode + ω A_step. A_episode is T-GRPO's
//!   (0 for an all-equal group). A_step normalizes the discounted return
//!   G_t = γ^(T−1−t) R within anchor groups: steps of the same task group whose
//!   observations are identical (same anchor key). Singleton anchors get 0. Rollouts
//!   whose every step ends at 0 are dropped.
//!
//! Standard deviations are population standard deviations.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// ε in (std + ε).
pub const EPS: f64 = 1e-6;

/// The advantage estimator of a run: `[algo] method` of the run config, and the
/// method each `steprl compare` variant ([`crate::Variant`]) trains with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// STEP's success-rate-weighted advantage.
    Step,
    /// Trajectory-level GRPO.
    Tgrpo,
    /// Group-in-group policy optimization.
    Gigpo,
}

impl Method {
    /// The name a run config gives it.
    pub fn name(self) -> &'static str {
        match self {
            Method::Step => "step",
            Method::Tgrpo => "tgrpo",
            Method::Gigpo => "gigpo",
        }
    }
}

/// The estimators' settings; each method reads its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EstimatorParams {
    /// STEP: give failed trajectories A = −ŝ instead of dropping them.
    pub include_failures: bool,
    /// GiGPO: discount of the step-level return.
    pub gamma: f64,
    /// GiGPO: weight of the step-level advantage.
    pub omega: f64,
}

impl Default for EstimatorParams {
    fn default() -> Self {
        EstimatorParams {
            include_failures: false,
            gamma: 0.95,
            omega: 1.0,
        }
    }
}

/// What the estimators need to know about one finished rollout.
#[derive(Debug, Clone, Copy)]
pub struct Rollout<'a> {
    /// Task id (the group).
    pub task: &'a str,
    /// The checker's success.
    pub success: bool,
    /// The checker's score, the trajectory reward R.
    pub score: f32,
    /// One key per step identifying its observation (anchor states for GiGPO).
    pub anchors: &'a [u64],
}

/// Per rollout, the advantage of each step, or `None` when the rollout yields no
/// samples. `rate_before` gives ŝ before this round's update.
pub fn advantages(
    method: Method,
    params: &EstimatorParams,
    rollouts: &[Rollout],
    rate_before: &dyn Fn(&str) -> Option<f64>,
) -> Vec<Option<Vec<f32>>> {
    match method {
        Method::Step => step(rollouts, rate_before, params.include_failures),
        Method::Tgrpo => episode_level(rollouts, true)
            .into_iter()
            .zip(rollouts)
            .map(|(a, r)| a.map(|a| vec![a as f32; r.anchors.len()]))
            .collect(),
        Method::Gigpo => gigpo(rollouts, params.gamma, params.omega),
    }
}

fn step(
    rollouts: &[Rollout],
    rate_before: &dyn Fn(&str) -> Option<f64>,
    include_failures: bool,
) -> Vec<Option<Vec<f32>>> {
    let mut round: HashMap<&str, (u32, u32)> = HashMap::new();
    for r in rollouts {
        let c = round.entry(r.task).or_default();
        c.0 += 1;
        c.1 += u32::from(r.success);
    }
    rollouts
        .iter()
        .map(|r| {
            let s = rate_before(r.task).unwrap_or_else(|| {
                let (n, k) = round[r.task];
                f64::from(k) / f64::from(n)
            });
            let a = if r.success {
                1.0 - s
            } else if include_failures {
                -s
            } else {
                return None;
            };
            Some(vec![a as f32; r.anchors.len()])
        })
        .collect()
}

fn mean_std(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Group-normalized episode advantages; all-equal groups give `None` when `drop_flat`,
/// else 0.
fn episode_level(rollouts: &[Rollout], drop_flat: bool) -> Vec<Option<f64>> {
    let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, r) in rollouts.iter().enumerate() {
        groups.entry(r.task).or_default().push(i);
    }
    let mut out = vec![None; rollouts.len()];
    for idx in groups.values() {
        let scores: Vec<f64> = idx.iter().map(|&i| f64::from(rollouts[i].score)).collect();
        let (mean, std) = mean_std(&scores);
        let flat = scores.iter().all(|s| *s == scores[0]);
        for (&i, s) in idx.iter().zip(&scores) {
            out[i] = if flat {
                (!drop_flat).then_some(0.0)
            } else {
                Some((s - mean) / (std + EPS))
            };
        }
    }
    out
}

/// A step inside an anchor group: (rollout index, step index, discounted return).
type AnchorMember = (usize, usize, f64);

fn gigpo(rollouts: &[Rollout], gamma: f64, omega: f64) -> Vec<Option<Vec<f32>>> {
    let episode = episode_level(rollouts, false);
    // Anchor groups: (task, anchor key) -> steps at that state.
    let mut anchors: HashMap<(&str, u64), Vec<AnchorMember>> = HashMap::new();
    for (i, r) in rollouts.iter().enumerate() {
        let t_len = r.anchors.len();
        for (t, key) in r.anchors.iter().enumerate() {
            let g = gamma.powi((t_len - 1 - t) as i32) * f64::from(r.score);
            anchors.entry((r.task, *key)).or_default().push((i, t, g));
        }
    }
    let mut out: Vec<Vec<f64>> = rollouts
        .iter()
        .zip(&episode)
        .map(|(r, e)| vec![e.unwrap_or(0.0); r.anchors.len()])
        .collect();
    for members in anchors.values() {
        if members.len() < 2 {
            continue;
        }
        let returns: Vec<f64> = members.iter().map(|m| m.2).collect();
        let (mean, std) = mean_std(&returns);
        if std == 0.0 {
            continue;
        }
        for &(i, t, g) in members {
            out[i][t] += omega * (g - mean) / (std + EPS);
        }
    }
    out.into_iter()
        .map(|a| {
            if a.iter().all(|x| *x == 0.0) {
                None
            } else {
                Some(a.into_iter().map(|x| x as f32).collect())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ro<'a>(task: &'a str, success: bool, anchors: &'a [u64]) -> Rollout<'a> {
        Rollout {
            task,
            success,
            score: if success { 1.0 } else { 0.0 },
            anchors,
        }
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4)
    }

    #[test]
    fn step_weights_successes_by_one_minus_the_prior_rate() {
        let rs = [
            ro("a", true, &[1, 2, 3]),
            ro("a", false, &[1]),
            ro("b", true, &[5, 6]),
        ];
        let before = |t: &str| if t == "a" { Some(0.25) } else { None };
        let a = advantages(
            Method::Step,
            &EstimatorParams {
                include_failures: false,
                ..EstimatorParams::default()
            },
            &rs,
            &before,
        );
        assert_eq!(a[0], Some(vec![0.75; 3]));
        assert_eq!(a[1], None, "failures are dropped in paper mode");
        // b is unseen: its rate this round (1 of 1) stands in, so A = 0.
        assert_eq!(a[2], Some(vec![0.0; 2]));
        let a = advantages(
            Method::Step,
            &EstimatorParams {
                include_failures: true,
                ..EstimatorParams::default()
            },
            &rs,
            &before,
        );
        assert_eq!(a[1], Some(vec![-0.25]));
    }

    #[test]
    fn step_at_exactly_s0_and_degenerate_groups() {
        let rs = [ro("a", true, &[1]), ro("a", true, &[1])];
        let a = advantages(
            Method::Step,
            &EstimatorParams {
                include_failures: true,
                ..EstimatorParams::default()
            },
            &rs,
            &|_| Some(0.5),
        );
        assert_eq!(a, vec![Some(vec![0.5]), Some(vec![0.5])]);
        // An all-fail round of an unseen task: rate 0, paper mode drops everything,
        // include_failures gives −0 = no signal.
        let rs = [ro("c", false, &[1]), ro("c", false, &[2])];
        let a = advantages(
            Method::Step,
            &EstimatorParams {
                include_failures: false,
                ..EstimatorParams::default()
            },
            &rs,
            &|_| None,
        );
        assert_eq!(a, vec![None, None]);
    }

    #[test]
    fn tgrpo_normalizes_within_task_groups_and_drops_flat_groups() {
        let rs = [
            ro("a", true, &[1, 2]),
            ro("a", false, &[1]),
            ro("a", false, &[3]),
            ro("a", true, &[4]),
            ro("b", true, &[1]),
            ro("b", true, &[1]),
            ro("c", false, &[9]),
        ];
        let a = advantages(Method::Tgrpo, &EstimatorParams::default(), &rs, &|_| None);
        // mean 0.5, std 0.5 → ±1 (up to ε).
        assert!(close(a[0].as_ref().unwrap(), &[1.0, 1.0]));
        assert!(close(a[1].as_ref().unwrap(), &[-1.0]));
        assert!(close(a[3].as_ref().unwrap(), &[1.0]));
        assert_eq!(
            (a[4].clone(), a[5].clone()),
            (None, None),
            "all-success group"
        );
        assert_eq!(a[6], None, "group of one");
    }

    #[test]
    fn tgrpo_uses_graded_scores() {
        let mut rs = vec![
            ro("a", false, &[1]),
            ro("a", false, &[1]),
            ro("a", false, &[1]),
        ];
        rs[0].score = 0.0;
        rs[1].score = 0.5;
        rs[2].score = 1.0;
        let a = advantages(Method::Tgrpo, &EstimatorParams::default(), &rs, &|_| None);
        // mean 0.5, std sqrt(1/6) ≈ 0.408248.
        let s = (1.0f64 / 6.0).sqrt() as f32;
        assert!(close(a[0].as_ref().unwrap(), &[-0.5 / s]));
        assert!(close(a[1].as_ref().unwrap(), &[0.0]));
    }

    #[test]
    fn gigpo_adds_anchor_state_advantages() {
        // r1 succeeds through states 10, 11, 12; r2 fails through 10, 13.
        let rs = [ro("a", true, &[10, 11, 12]), ro("a", false, &[10, 13])];
        let a = advantages(
            Method::Gigpo,
            &EstimatorParams {
                gamma: 0.95,
                omega: 1.0,
                ..EstimatorParams::default()
            },
            &rs,
            &|_| None,
        );
        // Episode: ±1. Anchor 10: returns 0.9025 (r1) and 0 (r2) → ±1. Others singleton.
        assert!(
            close(a[0].as_ref().unwrap(), &[2.0, 1.0, 1.0]),
            "{:?}",
            a[0]
        );
        assert!(close(a[1].as_ref().unwrap(), &[-2.0, -1.0]), "{:?}", a[1]);
        let half = advantages(
            Method::Gigpo,
            &EstimatorParams {
                gamma: 0.95,
                omega: 0.5,
                ..EstimatorParams::default()
            },
            &rs,
            &|_| None,
        );
        assert!(close(half[0].as_ref().unwrap(), &[1.5, 1.0, 1.0]));
    }

    #[test]
    fn gigpo_finds_signal_inside_an_all_success_group() {
        // Both succeed; the shorter path reaches the shared state closer to the end, so
        // its discounted return there is higher.
        let rs = [ro("a", true, &[1, 2]), ro("a", true, &[1, 3, 2])];
        let a = advantages(
            Method::Gigpo,
            &EstimatorParams {
                gamma: 0.9,
                omega: 1.0,
                ..EstimatorParams::default()
            },
            &rs,
            &|_| None,
        );
        // Anchor 1: 0.9 vs 0.81 → +1 / −1. Anchor 2: 1.0 vs 1.0 → flat, 0.
        assert!(close(a[0].as_ref().unwrap(), &[1.0, 0.0]), "{:?}", a[0]);
        assert!(
            close(a[1].as_ref().unwrap(), &[-1.0, 0.0, 0.0]),
            "{:?}",
            a[1]
        );
        // All fail: no signal anywhere.
        let rs = [ro("b", false, &[1]), ro("b", false, &[1])];
        let a = advantages(
            Method::Gigpo,
            &EstimatorParams {
                gamma: 0.9,
                omega: 1.0,
                ..EstimatorParams::default()
            },
            &rs,
            &|_| None,
        );
        assert_eq!(a, vec![None, None]);
    }
}

//! Adaptive resampling. Each round takes B tasks from a shuffled pass over the training
//! set, N copies each. Copy 0 is always kept; every other copy of task i is replaced,
//! with probability p_rep(ŝ_i) = 1 / (1 + exp(−κ (ŝ_i − s0))), by a task drawn from the
//! cache C = { j : 0 < ŝ_j < s0 } — so easy tasks give up rollouts to hard-but-learnable
//! ones. Unseen tasks are never replaced; with an empty cache nothing is. With
//! `adaptive` off this is plain uniform sampling (the T-GRPO baseline). s0 and
//! `adaptive` are the host's settings (`[algo.resample]`), sent in the plan request;
//! κ and weighted draws are the resample-step plugin's own config.
//!
//! A plan is a pure function of (round, record, request): the pass's permutations come
//! from the run seed and the epoch, the replacement draws from the run seed and the
//! round.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use steprl_core::seeds::stream;
use steprl_core::{PlanRequest, SplitMix, TaskStat};

/// The resample-step plugin's own settings (s0 and `adaptive` come with the request,
/// [`steprl_core::StepSettings`]). The paper does not give κ; the default is
/// `design.md`'s (κ = 10).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResampleParams {
    /// κ: steepness of p_rep.
    pub kappa: f64,
    /// Draw replacements weighted by 1 − ŝ instead of uniformly from the cache.
    pub weighted: bool,
}

impl Default for ResampleParams {
    fn default() -> Self {
        ResampleParams {
            kappa: 10.0,
            weighted: false,
        }
    }
}

/// p_rep(ŝ) = 1 / (1 + exp(−κ (ŝ − s0))): the chance a non-first copy is replaced.
pub fn p_rep(s: f64, s0: f64, kappa: f64) -> f64 {
    1.0 / (1.0 + (-kappa * (s - s0)).exp())
}

/// Indices (into `n_tasks`) of the B tasks of `round` in the shuffled pass: the
/// concatenation of permutations π_0, π_1, … of the task set, π_e seeded by (seed, e).
pub fn pass(round: u32, n_tasks: usize, b: usize, seed: u64) -> Vec<usize> {
    if n_tasks == 0 {
        return Vec::new();
    }
    let mut perms: HashMap<u64, Vec<usize>> = HashMap::new();
    let start = u64::from(round) * b as u64;
    (start..start + b as u64)
        .map(|pos| {
            let epoch = pos / n_tasks as u64;
            let perm = perms.entry(epoch).or_insert_with(|| {
                let mut p: Vec<usize> = (0..n_tasks).collect();
                SplitMix::new(seed, epoch).shuffle(&mut p);
                p
            });
            perm[(pos % n_tasks as u64) as usize]
        })
        .collect()
}

/// The task id of every rollout of `round`: B groups of N, copy 0 of each group being
/// the pass's task. `stats` may come in any order (ids are sorted first); s0 and
/// `adaptive` are `request.settings`.
pub fn plan(
    round: u32,
    stats: &[TaskStat],
    request: &PlanRequest,
    params: &ResampleParams,
) -> Vec<String> {
    let mut tasks: Vec<&TaskStat> = stats.iter().collect();
    tasks.sort_by(|a, b| a.id.cmp(&b.id));
    let b = request.tasks_per_round as usize;
    let n = request.copies_per_task as usize;
    let s0 = request.settings.s0;
    let cache: Vec<&TaskStat> = tasks
        .iter()
        .copied()
        .filter(|t| t.smoothed_rate.is_some_and(|s| s > 0.0 && s < s0))
        .collect();
    let mut rng = SplitMix::new(request.seed, stream::STEP_PLAN + u64::from(round));
    let mut out = Vec::with_capacity(b * n);
    for i in pass(round, tasks.len(), b, request.seed) {
        let task = tasks[i];
        out.push(task.id.clone());
        for _ in 1..n {
            let replace = request.settings.adaptive
                && !cache.is_empty()
                && task
                    .smoothed_rate
                    .is_some_and(|s| rng.unit() < p_rep(s, s0, params.kappa));
            if replace {
                out.push(draw(&cache, params.weighted, &mut rng).id.clone());
            } else {
                out.push(task.id.clone());
            }
        }
    }
    out
}

/// One task from the (non-empty) cache, uniformly or weighted by 1 − ŝ.
fn draw<'a>(cache: &[&'a TaskStat], weighted: bool, rng: &mut SplitMix) -> &'a TaskStat {
    if !weighted {
        return cache[rng.below(cache.len())];
    }
    let w: Vec<f64> = cache
        .iter()
        .map(|t| 1.0 - t.smoothed_rate.unwrap_or(0.0))
        .collect();
    cache[rng.weighted(&w)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(id: &str, rate: Option<f64>) -> TaskStat {
        TaskStat {
            id: id.into(),
            attempts: u32::from(rate.is_some()) * 8,
            successes: 0,
            smoothed_rate: rate,
            last_round: rate.map(|_| 0),
        }
    }

    fn req(b: u32, n: u32) -> PlanRequest {
        PlanRequest {
            tasks_per_round: b,
            copies_per_task: n,
            seed: 42,
            settings: steprl_core::StepSettings::default(),
        }
    }

    #[test]
    fn p_rep_worked_values() {
        assert_eq!(p_rep(0.5, 0.5, 10.0), 0.5, "ŝ exactly s0 → one half");
        assert!((p_rep(1.0, 0.5, 10.0) - 0.993_307).abs() < 1e-6);
        assert!((p_rep(0.0, 0.5, 10.0) - 0.006_693).abs() < 1e-6);
        assert!((p_rep(0.7, 0.5, 5.0) - 1.0 / (1.0 + (-1.0f64).exp())).abs() < 1e-12);
    }

    #[test]
    fn a_pass_visits_every_task_once_per_epoch() {
        let mut seen: Vec<usize> = (0..5).flat_map(|r| pass(r, 10, 2, 7)).collect();
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_ne!(
            pass(5, 10, 2, 7),
            pass(0, 10, 2, 7),
            "the next epoch reshuffles"
        );
        assert!(pass(0, 0, 4, 1).is_empty());
    }

    #[test]
    fn copy_zero_is_always_the_pass_task() {
        let stats: Vec<TaskStat> = (0..8)
            .map(|i| stat(&format!("t{i}"), Some(0.95)))
            .chain([stat("hard", Some(0.1))])
            .collect();
        for round in 0..20 {
            let p = plan(round, &stats, &req(4, 6), &ResampleParams::default());
            assert_eq!(p.len(), 24);
            let firsts: Vec<&String> = p.chunks(6).map(|g| &g[0]).collect();
            let mut ids: Vec<String> = stats.iter().map(|s| s.id.clone()).collect();
            ids.sort();
            let expected: Vec<&String> =
                pass(round, 9, 4, 42).into_iter().map(|i| &ids[i]).collect();
            assert_eq!(firsts, expected);
        }
    }

    #[test]
    fn easy_tasks_give_their_copies_to_the_cache() {
        let stats = vec![stat("easy", Some(1.0)), stat("hard", Some(0.2))];
        let mut to_hard = 0;
        let mut total = 0;
        for round in 0..200 {
            let p = plan(round, &stats, &req(1, 8), &ResampleParams::default());
            if p[0] == "easy" {
                to_hard += p[1..].iter().filter(|t| *t == "hard").count();
                total += 7;
            }
        }
        // p_rep(1.0) ≈ 0.993: nearly every non-first copy moves to the hard task.
        let share = to_hard as f64 / total as f64;
        assert!(share > 0.97, "share {share}");
    }

    #[test]
    fn unseen_tasks_and_an_empty_cache_replace_nothing() {
        let unseen = vec![stat("a", None), stat("b", Some(0.3))];
        for round in 0..10 {
            let p = plan(round, &unseen, &req(2, 4), &ResampleParams::default());
            for g in p.chunks(4) {
                if g[0] == "a" {
                    assert!(g.iter().all(|t| t == "a"), "unseen task replaced: {g:?}");
                }
            }
        }
        let no_cache = vec![
            stat("a", Some(1.0)),
            stat("b", Some(0.0)),
            stat("c", Some(0.6)),
        ];
        for round in 0..10 {
            let p = plan(round, &no_cache, &req(3, 4), &ResampleParams::default());
            for g in p.chunks(4) {
                assert!(
                    g.iter().all(|t| *t == g[0]),
                    "replaced with an empty cache: {g:?}"
                );
            }
        }
    }

    /// The request with adaptive resampling off.
    fn uniform(r: PlanRequest) -> PlanRequest {
        PlanRequest {
            settings: steprl_core::StepSettings {
                adaptive: false,
                ..r.settings
            },
            ..r
        }
    }

    #[test]
    fn uniform_mode_never_replaces() {
        let stats = vec![stat("easy", Some(1.0)), stat("hard", Some(0.2))];
        let params = ResampleParams::default();
        for round in 0..20 {
            let p = plan(round, &stats, &uniform(req(2, 5)), &params);
            for g in p.chunks(5) {
                assert!(g.iter().all(|t| *t == g[0]));
            }
        }
    }

    #[test]
    fn plans_are_pure_and_order_independent() {
        let stats = vec![
            stat("x", Some(0.9)),
            stat("y", Some(0.1)),
            stat("z", Some(0.4)),
        ];
        let mut rev = stats.clone();
        rev.reverse();
        let p = ResampleParams::default();
        assert_eq!(
            plan(3, &stats, &req(2, 4), &p),
            plan(3, &rev, &req(2, 4), &p)
        );
        assert_ne!(
            plan(3, &stats, &req(2, 4), &p),
            plan(
                3,
                &stats,
                &PlanRequest {
                    seed: 43,
                    ..req(2, 4)
                },
                &p
            )
        );
    }

    #[test]
    fn weighted_draws_favour_lower_success() {
        let cache = [stat("c1", Some(0.1)), stat("c4", Some(0.4))];
        let refs: Vec<&TaskStat> = cache.iter().collect();
        let mut rng = SplitMix::new(1, 2);
        let n = 20_000;
        let c1 = (0..n)
            .filter(|_| draw(&refs, true, &mut rng).id == "c1")
            .count();
        // Weights 0.9 : 0.6 → 60 % to c1.
        let share = c1 as f64 / f64::from(n);
        assert!((share - 0.6).abs() < 0.02, "share {share}");
        let c1u = (0..n)
            .filter(|_| draw(&refs, false, &mut rng).id == "c1")
            .count();
        assert!((c1u as f64 / f64::from(n) - 0.5).abs() < 0.02);
    }

    /// Share of all rollouts over `rounds` plans that went to tasks whose id starts
    /// with `prefix`.
    fn share(stats: &[TaskStat], params: &ResampleParams, adaptive: bool, prefix: &str) -> f64 {
        let (mut hit, mut total) = (0usize, 0usize);
        let request = if adaptive {
            req(4, 8)
        } else {
            uniform(req(4, 8))
        };
        for round in 0..20 {
            for id in plan(round, stats, &request, params) {
                total += 1;
                hit += usize::from(id.starts_with(prefix));
            }
        }
        hit as f64 / total as f64
    }

    #[test]
    fn effort_moves_from_mastered_to_low_success_tasks() {
        // Four mastered tasks (ŝ 0.9) and four hard ones (ŝ 0.2, all in the cache).
        let stats: Vec<TaskStat> = (0..4)
            .map(|i| stat(&format!("easy{i}"), Some(0.9)))
            .chain((0..4).map(|i| stat(&format!("hard{i}"), Some(0.2))))
            .collect();
        let p = ResampleParams::default();
        // 20 rounds × B 4 = 10 passes over 8 tasks: exactly half uniformly.
        assert!((share(&stats, &p, false, "hard") - 0.5).abs() < 1e-12);
        // Adaptive: each easy group keeps copy 0 and loses each of its 7 other copies
        // with p_rep(0.9) = 0.982, all to hard tasks: 0.5 + 0.5 × 7/8 × 0.982 = 0.93.
        let adaptive = share(&stats, &p, true, "hard");
        assert!((adaptive - 0.93).abs() < 0.03, "{adaptive}");
        // Weighted draws send more of it to the lowest-success task of the cache.
        let mixed: Vec<TaskStat> = (0..4)
            .map(|i| stat(&format!("easy{i}"), Some(0.9)))
            .chain([stat("hard-a", Some(0.05)), stat("hard-b", Some(0.45))])
            .collect();
        let weighted = ResampleParams {
            weighted: true,
            ..ResampleParams::default()
        };
        let (a, b) = (
            share(&mixed, &weighted, true, "hard-a"),
            share(&mixed, &weighted, true, "hard-b"),
        );
        assert!(a > 1.4 * b, "hard-a {a} vs hard-b {b}");
    }

    #[test]
    fn the_requests_s0_sets_the_cache_and_the_replacement_midpoint() {
        // ŝ 0.4 is in the cache under s0 = 0.5 and outside it under s0 = 0.3.
        let stats = vec![stat("easy", Some(1.0)), stat("mid", Some(0.4))];
        let with = |s0: f64| PlanRequest {
            settings: steprl_core::StepSettings { s0, adaptive: true },
            ..req(1, 8)
        };
        let moved = |r: &PlanRequest| -> usize {
            (0..40)
                .map(|round| plan(round, &stats, r, &ResampleParams::default()))
                .filter(|p| p[0] == "easy")
                .map(|p| p[1..].iter().filter(|t| *t == "mid").count())
                .sum()
        };
        assert!(moved(&with(0.5)) > 0, "ŝ 0.4 < s0 0.5: copies move to it");
        assert_eq!(moved(&with(0.3)), 0, "ŝ 0.4 ≥ s0 0.3: not in the cache");
    }
}

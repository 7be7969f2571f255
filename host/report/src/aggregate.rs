//! Aggregation over seeds: curves on a common env-step grid (mean and min/max band),
//! tasks above a success threshold, rollout share per difficulty, end-of-run tables,
//! and the env steps each method needs to reach a target success.

use std::collections::BTreeMap;

use crate::data::{Comparison, Round, Run};

/// Points on the env-step axis.
pub const GRID: usize = 60;
/// The paper's Figure 1 threshold: a task counts as mastered above 60% success.
pub const MASTERED: f64 = 0.6;

/// A curve over seeds: (env steps, mean, min, max).
pub type Curve = Vec<(f64, f64, f64, f64)>;

/// Value of `f` at the last round with at most `x` env steps (None before the first).
fn at(run: &Run, x: f64, f: &dyn Fn(&Run, usize) -> f64) -> Option<f64> {
    let i = run
        .rounds
        .partition_point(|r| r.env_steps_total as f64 <= x);
    (i > 0).then(|| f(run, i - 1))
}

/// Training success after round `i`: the mean over the `n_tasks` training tasks of
/// their smoothed success ŝ (unseen tasks count as 0). Unlike the share of a round's
/// rollouts that succeeded, it does not depend on how a method spreads its rollouts
/// over tasks (STEP deliberately samples hard tasks more).
pub fn mean_rate(run: &Run, i: usize, n_tasks: usize) -> f64 {
    let rates = &run.rounds[i].task_rate;
    rates.values().sum::<f64>() / n_tasks.max(rates.len()).max(1) as f64
}

/// Tasks whose ŝ is above `MASTERED` after round `i`.
pub fn mastered(run: &Run, i: usize) -> f64 {
    run.rounds[i]
        .task_rate
        .values()
        .filter(|&&s| s > MASTERED)
        .count() as f64
}

/// Cache size after round `i`.
pub fn cache(run: &Run, i: usize) -> f64 {
    run.rounds[i].cache_size as f64
}

/// Mean/min/max of `f` over `runs` on `GRID` points up to `x_max`; points where no
/// run has data yet are left out.
pub fn curve(runs: &[&Run], x_max: f64, f: &dyn Fn(&Run, usize) -> f64) -> Curve {
    (1..=GRID)
        .filter_map(|g| {
            let x = x_max * g as f64 / GRID as f64;
            let v: Vec<f64> = runs.iter().filter_map(|r| at(r, x, f)).collect();
            if v.len() < runs.len() || v.is_empty() {
                return None;
            }
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            Some((x, mean, lo, hi))
        })
        .collect()
}

/// First env-step count at which the mean curve reaches `target`.
pub fn steps_to_reach(c: &Curve, target: f64) -> Option<f64> {
    c.iter().find(|p| p.1 >= target).map(|p| p.0)
}

/// Share of a round's rollouts per difficulty level.
pub fn difficulty_share(cmp: &Comparison, round: &Round) -> BTreeMap<u8, f64> {
    let total: u32 = round.task_rollouts.values().sum();
    let mut out = BTreeMap::new();
    for (task, n) in &round.task_rollouts {
        if let Some(d) = cmp.difficulty(task) {
            *out.entry(d).or_insert(0.0) += f64::from(*n) / f64::from(total.max(1));
        }
    }
    out
}

/// Mean and sample standard deviation.
pub fn mean_std(v: &[f64]) -> Option<(f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
    } else {
        0.0
    };
    Some((m, var.sqrt()))
}

/// One method, summarized over its seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodSummary {
    /// Method.
    pub method: String,
    /// Seeds with data.
    pub seeds: usize,
    /// Training success curve (mean ŝ over training tasks).
    pub success: Curve,
    /// Mastered-task count curve.
    pub mastered: Curve,
    /// Cache size curve.
    pub cache: Curve,
    /// Final mean ŝ over training tasks (mean, std over seeds).
    pub final_success: Option<(f64, f64)>,
    /// Greedy success on the training tasks after training (mean, std).
    pub eval_train: Option<(f64, f64)>,
    /// Greedy success on the held-out tasks after training (mean, std).
    pub eval_heldout: Option<(f64, f64)>,
    /// Greedy success after training per difficulty (mean over seeds).
    pub eval_by_difficulty: BTreeMap<u8, f64>,
    /// Rollout share per difficulty, in the first and last third of the run (mean
    /// over seeds).
    pub share_early: BTreeMap<u8, f64>,
    /// See `share_early`.
    pub share_late: BTreeMap<u8, f64>,
    /// Mean env steps, trajectories, samples, augmentation samples, wall seconds,
    /// rounds with no update (no sample to learn from).
    pub env_steps: f64,
    /// See `env_steps`.
    pub trajectories: f64,
    /// See `env_steps`.
    pub samples: f64,
    /// See `env_steps`.
    pub aug_samples: f64,
    /// See `env_steps`.
    pub wall_s: f64,
    /// See `env_steps`.
    pub degenerate: f64,
    /// Env steps to reach the reference method's final success (None: never).
    pub steps_to_target: Option<f64>,
}

/// Everything the plots and the report need.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The env-step axis maximum.
    pub x_max: f64,
    /// Per method, manifest order.
    pub methods: Vec<MethodSummary>,
    /// The method whose final success is the target (T-GRPO when present).
    pub reference: Option<String>,
    /// Its final mean ŝ over training tasks.
    pub target: Option<f64>,
}

fn mean_of(runs: &[&Run], f: impl Fn(&Run) -> f64) -> f64 {
    if runs.is_empty() {
        0.0
    } else {
        runs.iter().map(|r| f(r)).sum::<f64>() / runs.len() as f64
    }
}

fn share_over(cmp: &Comparison, runs: &[&Run], late: bool) -> BTreeMap<u8, f64> {
    let mut acc: BTreeMap<u8, f64> = BTreeMap::new();
    let mut count = 0usize;
    for r in runs {
        let n = r.rounds.len();
        let third = n.div_ceil(3).max(1);
        let range = if late {
            n.saturating_sub(third)..n
        } else {
            0..third.min(n)
        };
        for round in &r.rounds[range] {
            for (d, s) in difficulty_share(cmp, round) {
                *acc.entry(d).or_default() += s;
            }
            count += 1;
        }
    }
    acc.values_mut().for_each(|v| *v /= count.max(1) as f64);
    acc
}

fn by_difficulty(cmp: &Comparison, runs: &[&Run]) -> BTreeMap<u8, f64> {
    let mut acc: BTreeMap<u8, Vec<f64>> = BTreeMap::new();
    for r in runs {
        let Some(e) = &r.eval_after else { continue };
        let mut per: BTreeMap<u8, (f64, f64)> = BTreeMap::new();
        for (task, (s, n)) in &e.tasks {
            if let Some(d) = cmp.difficulty(task)
                && *n > 0
            {
                let p = per.entry(d).or_default();
                p.0 += f64::from(*s) / f64::from(*n);
                p.1 += 1.0;
            }
        }
        for (d, (sum, k)) in per {
            acc.entry(d).or_default().push(sum / k);
        }
    }
    acc.into_iter()
        .map(|(d, v)| (d, v.iter().sum::<f64>() / v.len() as f64))
        .collect()
}

impl Summary {
    /// Summarize `cmp`.
    pub fn of(cmp: &Comparison) -> Summary {
        let x_max = cmp
            .runs
            .iter()
            .filter_map(|r| r.last().map(|l| l.env_steps_total))
            .max()
            .unwrap_or(0)
            .max(cmp.manifest.budget_env_steps) as f64;
        let n_tasks = cmp.tasks.iter().filter(|t| !t.heldout).count();
        let success = |r: &Run, i: usize| mean_rate(r, i, n_tasks);
        let mut methods: Vec<MethodSummary> = cmp
            .manifest
            .methods
            .iter()
            .map(|m| {
                let runs: Vec<&Run> = cmp.runs_of(m).filter(|r| !r.rounds.is_empty()).collect();
                let finals: Vec<f64> = runs
                    .iter()
                    .map(|r| mean_rate(r, r.rounds.len() - 1, n_tasks))
                    .collect();
                let evals = |f: fn(&Run) -> Option<f64>| {
                    mean_std(&runs.iter().filter_map(|r| f(r)).collect::<Vec<_>>())
                };
                MethodSummary {
                    method: m.clone(),
                    seeds: runs.len(),
                    success: curve(&runs, x_max, &success),
                    mastered: curve(&runs, x_max, &mastered),
                    cache: curve(&runs, x_max, &cache),
                    final_success: mean_std(&finals),
                    eval_train: evals(|r| r.eval_after.as_ref().and_then(|e| e.mean())),
                    eval_heldout: evals(|r| r.eval_heldout.as_ref().and_then(|e| e.mean())),
                    eval_by_difficulty: by_difficulty(cmp, &runs),
                    share_early: share_over(cmp, &runs, false),
                    share_late: share_over(cmp, &runs, true),
                    env_steps: mean_of(&runs, |r| {
                        r.last().map_or(0.0, |l| l.env_steps_total as f64)
                    }),
                    trajectories: mean_of(&runs, |r| {
                        r.last().map_or(0.0, |l| l.trajectories_total as f64)
                    }),
                    samples: mean_of(&runs, |r| r.rounds.iter().map(|x| x.samples as f64).sum()),
                    aug_samples: mean_of(&runs, |r| {
                        r.rounds.iter().map(|x| x.aug_samples as f64).sum()
                    }),
                    wall_s: mean_of(&runs, Run::wall_s),
                    degenerate: mean_of(&runs, |r| {
                        r.rounds.iter().filter(|x| x.degenerate).count() as f64
                    }),
                    steps_to_target: None,
                }
            })
            .collect();
        // The target is T-GRPO's final success (the baseline STEP must beat).
        let baseline = steprl_algo::Variant::Tgrpo.name();
        let reference = methods
            .iter()
            .any(|s| s.method == baseline && s.seeds > 0)
            .then(|| baseline.to_owned());
        let target = reference.as_ref().and_then(|r| {
            methods
                .iter()
                .find(|s| &s.method == r)
                .and_then(|s| s.final_success.map(|f| f.0))
        });
        // A target of 0 is no target: every curve starts there.
        if let Some(t) = target.filter(|t| *t > 0.0) {
            for m in &mut methods {
                m.steps_to_target = steps_to_reach(&m.success, t);
            }
        }
        Summary {
            x_max,
            methods,
            reference,
            target,
        }
    }

    /// The summary of `method`.
    pub fn method(&self, method: &str) -> Option<&MethodSummary> {
        self.methods.iter().find(|m| m.method == method)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::data::{Manifest, Perf, TaskMeta};

    fn run(method: &str, seed: u64, successes: &[f64]) -> Run {
        Run {
            method: method.into(),
            seed,
            rounds: successes
                .iter()
                .enumerate()
                .map(|(i, &s)| Round {
                    round: i as u32,
                    env_steps_total: 100 * (i as u64 + 1),
                    trajectories_total: 10 * (i as u64 + 1),
                    success_rate: s,
                    task_rate: [("a".to_owned(), s), ("b".to_owned(), 0.9)].into(),
                    cache_size: 1,
                    task_rollouts: [("a".to_owned(), 3), ("b".to_owned(), 1)].into(),
                    samples: 5,
                    aug_samples: 1,
                    degenerate: false,
                    perf: Perf { total_s: 1.0 },
                })
                .collect(),
            eval_after: None,
            eval_heldout: None,
            eval_warmstart: None,
        }
    }

    fn comparison(runs: Vec<Run>) -> Comparison {
        Comparison {
            manifest: Manifest {
                config: "c.toml".into(),
                methods: vec!["step".into(), "tgrpo".into()],
                seeds: vec![0, 1],
                budget_env_steps: 1000,
                runs: vec![],
                command: String::new(),
                machine: String::new(),
                lr: Default::default(),
                grid: vec![],
            },
            runs,
            grid: vec![],
            tasks: vec![
                TaskMeta {
                    id: "a".into(),
                    difficulty: Some(2),
                    heldout: false,
                },
                TaskMeta {
                    id: "b".into(),
                    difficulty: Some(1),
                    heldout: false,
                },
            ],
        }
    }

    pub(crate) fn test_run(method: &str, seed: u64, rates: &[f64]) -> Run {
        run(method, seed, rates)
    }

    pub(crate) fn test_comparison(runs: Vec<Run>) -> Comparison {
        comparison(runs)
    }

    #[test]
    fn curves_average_seeds_on_a_common_grid() {
        let a = run("step", 0, &[0.1; 10]);
        let b = run("step", 1, &[0.9; 10]);
        // Mean ŝ over 2 tasks: a at s, b at 0.9 → 0.5 and 0.9.
        let c = curve(&[&a, &b], 1000.0, &|r, i| mean_rate(r, i, 2));
        // Grid points below the first round (100 steps) are left out.
        assert_eq!(c.len(), GRID - GRID / 10 + 1);
        assert!(c.iter().all(|p| (p.1 - 0.7).abs() < 1e-12
            && (p.2 - 0.5).abs() < 1e-12
            && (p.3 - 0.9).abs() < 1e-12));
    }

    #[test]
    fn unseen_tasks_count_as_zero_in_the_mean_rate() {
        let r = run("step", 0, &[0.3]);
        assert!((mean_rate(&r, 0, 2) - 0.6).abs() < 1e-12);
        assert!((mean_rate(&r, 0, 4) - 0.3).abs() < 1e-12);
        // Fewer declared tasks than rated ones: the rated ones count.
        assert!((mean_rate(&r, 0, 0) - 0.6).abs() < 1e-12);
    }

    #[test]
    fn steps_to_reach_the_reference_final_success() {
        // Task a's ŝ; b sits at 0.9, so the mean is (a + 0.9) / 2.
        let rising: Vec<f64> = (0..10).map(|i| f64::from(i) / 10.0).collect();
        let flat = vec![0.29; 10];
        let cmp = comparison(vec![run("step", 0, &rising), run("tgrpo", 0, &flat)]);
        let s = Summary::of(&cmp);
        assert_eq!(s.reference.as_deref(), Some("tgrpo"));
        assert!((s.target.unwrap() - 0.595).abs() < 1e-12);
        // STEP's mean first reaches 0.595 at round 3: (0.3 + 0.9) / 2 = 0.6, after 400
        // env steps; T-GRPO is there from its first round.
        assert_eq!(s.method("step").unwrap().steps_to_target, Some(400.0));
        assert_eq!(s.method("tgrpo").unwrap().steps_to_target, Some(100.0));
        let share = &s.method("step").unwrap().share_late;
        assert!((share[&2] - 0.75).abs() < 1e-12 && (share[&1] - 0.25).abs() < 1e-12);
        assert_eq!(s.method("step").unwrap().mastered.last().unwrap().1, 2.0);
    }

    #[test]
    fn a_reference_that_never_succeeds_sets_no_target() {
        let zero = |method: &str| {
            let mut r = run(method, 0, &[0.0; 5]);
            for round in &mut r.rounds {
                round.task_rate.insert("b".into(), 0.0);
            }
            r
        };
        let s = Summary::of(&comparison(vec![zero("step"), zero("tgrpo")]));
        assert_eq!(s.target, Some(0.0));
        assert!(s.methods.iter().all(|m| m.steps_to_target.is_none()));
        let mut out = String::new();
        crate::markdown::efficiency_section(&mut out, &s);
        assert!(
            out.contains("tgrpo's final training success is 0.0%: there is no target to reach"),
            "{out}"
        );
        assert!(!out.contains("| method | env steps to target"), "{out}");
    }

    #[test]
    fn mean_std_of_small_samples() {
        assert_eq!(mean_std(&[]), None);
        assert_eq!(mean_std(&[2.0]), Some((2.0, 0.0)));
        let (m, s) = mean_std(&[1.0, 3.0]).unwrap();
        assert!((m - 2.0).abs() < 1e-12 && (s - 2f64.sqrt()).abs() < 1e-12);
    }
}

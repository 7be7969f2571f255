//! Resampling strategies to swap in for STEP's (each behind its own plugin): learning
//! progress and a difficulty curriculum. Like [`crate::resample::plan`], a plan is a
//! pure function of (round, record, request): B distinct tasks × N copies, in groups.
//!
//! A resampler sees only the success record (per task: attempts, successes, ŝ, last
//! round), so learning progress is read from it: |ŝ − k/n|, the smoothed rate (which
//! follows recent rounds) against the whole-run rate — large while a task's success is
//! moving, near 0 once it has settled, at 0 or at 1.

use serde::{Deserialize, Serialize};
use steprl_core::seeds::stream;
use steprl_core::{PlanRequest, SplitMix, TaskStat};

/// Learning-progress settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProgressParams {
    /// Weight floor added to every seen task's progress, so a settled task keeps a
    /// chance to be drawn (and its record to be refreshed).
    pub epsilon: f64,
}

impl Default for ProgressParams {
    fn default() -> Self {
        ProgressParams { epsilon: 0.05 }
    }
}

/// A task's learning progress: |ŝ − successes/attempts| (0 while unseen).
pub fn progress(t: &TaskStat) -> f64 {
    match t.smoothed_rate {
        Some(s) if t.attempts > 0 => (s - f64::from(t.successes) / f64::from(t.attempts)).abs(),
        _ => 0.0,
    }
}

/// Learning-progress prioritization: unseen tasks first (in a seeded order), then the
/// remaining of the B slots drawn without replacement with weight progress + ε; N
/// copies of each.
pub fn progress_plan(
    round: u32,
    stats: &[TaskStat],
    request: &PlanRequest,
    params: &ProgressParams,
) -> Vec<String> {
    let mut tasks: Vec<&TaskStat> = stats.iter().collect();
    tasks.sort_by(|a, b| a.id.cmp(&b.id));
    let mut rng = SplitMix::new(request.seed, stream::STRATEGY_PLAN + u64::from(round));
    let (mut unseen, mut seen): (Vec<&TaskStat>, Vec<&TaskStat>) =
        tasks.into_iter().partition(|t| t.smoothed_rate.is_none());
    rng.shuffle(&mut unseen);
    let b = request.tasks_per_round as usize;
    let mut chosen: Vec<&TaskStat> = unseen.into_iter().take(b).collect();
    while chosen.len() < b && !seen.is_empty() {
        let w: Vec<f64> = seen.iter().map(|t| progress(t) + params.epsilon).collect();
        chosen.push(seen.remove(rng.weighted(&w)));
    }
    groups(&chosen, request)
}

/// Curriculum settings: tasks in levels (by id prefix), each level unlocked once the
/// one before it is learned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CurriculumParams {
    /// Levels in order, each a list of task-id prefixes (`"open."`). A task matching no
    /// prefix belongs to the last level.
    pub levels: Vec<Vec<String>>,
    /// A level is learned when the mean ŝ of its tasks (0 for unseen ones) reaches
    /// this.
    pub threshold: f64,
}

impl Default for CurriculumParams {
    fn default() -> Self {
        CurriculumParams {
            levels: Vec::new(),
            threshold: 0.6,
        }
    }
}

impl CurriculumParams {
    /// The level of a task id (its first matching level; unmatched: the last).
    pub fn level_of(&self, id: &str) -> usize {
        self.levels
            .iter()
            .position(|l| l.iter().any(|p| id.starts_with(p.as_str())))
            .unwrap_or(self.levels.len().saturating_sub(1))
    }

    /// How many levels are open: the first always; each next one once every level
    /// before it is learned.
    pub fn open_levels(&self, stats: &[TaskStat]) -> usize {
        let n = self.levels.len().max(1);
        let mut open = 1;
        while open < n {
            let rates: Vec<f64> = stats
                .iter()
                .filter(|t| self.level_of(&t.id) == open - 1)
                .map(|t| t.smoothed_rate.unwrap_or(0.0))
                .collect();
            let mean = rates.iter().sum::<f64>() / rates.len().max(1) as f64;
            if rates.is_empty() || mean >= self.threshold {
                open += 1;
            } else {
                break;
            }
        }
        open
    }
}

/// A difficulty curriculum: a shuffled pass over the tasks of the open levels (the
/// pass restarts whenever a level opens, so new tasks come in at once); N copies each.
pub fn curriculum_plan(
    round: u32,
    stats: &[TaskStat],
    request: &PlanRequest,
    params: &CurriculumParams,
) -> Vec<String> {
    let open = params.open_levels(stats);
    let mut tasks: Vec<&TaskStat> = stats
        .iter()
        .filter(|t| params.level_of(&t.id) < open)
        .collect();
    tasks.sort_by(|a, b| a.id.cmp(&b.id));
    let b = request.tasks_per_round as usize;
    let chosen: Vec<&TaskStat> = crate::resample::pass(round, tasks.len(), b, request.seed)
        .into_iter()
        .map(|i| tasks[i])
        .collect();
    groups(&chosen, request)
}

/// N copies of each chosen task, group after group.
fn groups(chosen: &[&TaskStat], request: &PlanRequest) -> Vec<String> {
    chosen
        .iter()
        .flat_map(|t| std::iter::repeat_n(t.id.clone(), request.copies_per_task as usize))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(id: &str, attempts: u32, successes: u32, rate: Option<f64>) -> TaskStat {
        TaskStat {
            id: id.into(),
            attempts,
            successes,
            smoothed_rate: rate,
            last_round: rate.map(|_| 0),
        }
    }

    fn request(b: u32, n: u32) -> PlanRequest {
        PlanRequest {
            tasks_per_round: b,
            copies_per_task: n,
            seed: 7,
            settings: steprl_core::StepSettings::default(),
        }
    }

    #[test]
    fn progress_is_the_gap_between_the_smoothed_and_the_whole_run_rate() {
        assert_eq!(progress(&stat("a", 0, 0, None)), 0.0);
        assert!((progress(&stat("a", 10, 2, Some(0.7))) - 0.5).abs() < 1e-12);
        assert_eq!(progress(&stat("a", 10, 10, Some(1.0))), 0.0);
    }

    #[test]
    fn unseen_tasks_come_first_then_moving_tasks_outdraw_settled_ones() {
        // Two unseen tasks fill two of three slots, whatever the record says.
        let stats = [
            stat("new1", 0, 0, None),
            stat("new2", 0, 0, None),
            stat("moving", 20, 4, Some(0.8)),
            stat("flat", 20, 20, Some(1.0)),
        ];
        let plan = progress_plan(0, &stats, &request(3, 2), &ProgressParams::default());
        assert_eq!(plan.len(), 6);
        assert!(plan.contains(&"new1".to_owned()) && plan.contains(&"new2".to_owned()));
        // Groups of N equal ids, B distinct tasks.
        for g in plan.chunks(2) {
            assert_eq!(g[0], g[1]);
        }
        // Over many rounds the moving task is drawn about (0.6+ε)/(0.65+ε) of the time.
        let seen = [stats[2].clone(), stats[3].clone()];
        let moving = (0..2000)
            .filter(|&r| {
                progress_plan(r, &seen, &request(1, 1), &ProgressParams::default())[0] == "moving"
            })
            .count();
        assert!((1750..1950).contains(&moving), "{moving}");
        // A pure function of its inputs.
        assert_eq!(
            progress_plan(3, &stats, &request(3, 2), &ProgressParams::default()),
            progress_plan(3, &stats, &request(3, 2), &ProgressParams::default())
        );
        // Fewer tasks than slots: each once.
        assert_eq!(
            progress_plan(0, &seen, &request(5, 1), &ProgressParams::default()).len(),
            2
        );
    }

    #[test]
    fn levels_open_in_order_as_each_is_learned() {
        let params = CurriculumParams {
            levels: vec![
                vec!["open.".into()],
                vec!["settings.".into()],
                vec!["x".into()],
            ],
            threshold: 0.6,
        };
        assert_eq!(params.level_of("open.notes"), 0);
        assert_eq!(params.level_of("settings.wifi-on"), 1);
        assert_eq!(params.level_of("other"), 2, "unmatched: the last level");
        let mut stats = vec![
            stat("open.a", 4, 3, Some(0.75)),
            stat("open.b", 0, 0, None),
            stat("settings.a", 0, 0, None),
            stat("x.a", 0, 0, None),
        ];
        // open.b unseen counts as 0: mean 0.375 < 0.6, only level 0 is open.
        assert_eq!(params.open_levels(&stats), 1);
        let plan = curriculum_plan(0, &stats, &request(4, 1), &params);
        assert!(plan.iter().all(|t| t.starts_with("open.")), "{plan:?}");
        stats[1].smoothed_rate = Some(0.5);
        assert_eq!(params.open_levels(&stats), 2);
        let plan = curriculum_plan(0, &stats, &request(3, 2), &params);
        assert_eq!(plan.len(), 6);
        assert!(plan.contains(&"settings.a".to_owned()), "{plan:?}");
        assert!(!plan.iter().any(|t| t.starts_with("x.")), "{plan:?}");
        stats[2].smoothed_rate = Some(0.9);
        assert_eq!(params.open_levels(&stats), 3);
        // No levels at all: everything is open.
        assert_eq!(CurriculumParams::default().open_levels(&stats), 1);
        assert_eq!(
            curriculum_plan(0, &stats, &request(4, 1), &CurriculumParams::default()).len(),
            4
        );
    }
}

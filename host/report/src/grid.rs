//! The learning-rate grid of `compare --lr-grid`: each method's final training
//! success (mean ŝ over the training tasks after the last round) per learning rate,
//! averaged over the grid seeds, and the pick — the best learning rate per method on
//! the training split (ties go to the smaller rate).

use std::collections::BTreeMap;

use crate::aggregate::{mean_rate, mean_std};
use crate::data::Comparison;

/// One method at one learning rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Method name.
    pub method: String,
    /// Learning rate.
    pub lr: f64,
    /// Final training success of each finished grid run (seed order).
    pub finals: Vec<f64>,
}

impl Cell {
    /// Mean and standard deviation over seeds.
    pub fn mean_std(&self) -> Option<(f64, f64)> {
        mean_std(&self.finals)
    }
}

/// The grid's cells, method-major in manifest order, learning rates ascending.
pub fn cells(cmp: &Comparison) -> Vec<Cell> {
    let n_tasks = cmp.tasks.iter().filter(|t| !t.heldout).count();
    let mut lrs: Vec<f64> = cmp.manifest.grid.iter().map(|e| e.lr).collect();
    lrs.sort_by(f64::total_cmp);
    lrs.dedup();
    let mut out = Vec::new();
    for m in &cmp.manifest.methods {
        for &lr in &lrs {
            let finals = cmp
                .grid
                .iter()
                .filter(|(l, r)| *l == lr && &r.method == m && !r.rounds.is_empty())
                .map(|(_, r)| mean_rate(r, r.rounds.len() - 1, n_tasks))
                .collect();
            out.push(Cell {
                method: m.clone(),
                lr,
                finals,
            });
        }
    }
    out
}

/// The best learning rate per method: the highest mean final training success over
/// its grid seeds (the smaller rate on a tie). Methods with no finished grid run are
/// left out.
pub fn pick(cells: &[Cell]) -> BTreeMap<String, f64> {
    let mut best: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for c in cells {
        let Some((mean, _)) = c.mean_std() else {
            continue;
        };
        let better = match best.get(&c.method) {
            None => true,
            Some(&(lr, m)) => mean > m || (mean == m && c.lr < lr),
        };
        if better {
            best.insert(c.method.clone(), (c.lr, mean));
        }
    }
    best.into_iter().map(|(k, (lr, _))| (k, lr)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::tests::{test_comparison, test_run};
    use crate::data::GridEntry;

    fn entry(method: &str, lr: f64, seed: u64) -> GridEntry {
        GridEntry {
            method: method.into(),
            lr,
            seed,
            dir: format!("grid/{method}/lr-{lr}/seed-{seed}").into(),
        }
    }

    #[test]
    fn the_pick_is_the_best_mean_over_seeds_and_ties_go_to_the_smaller_rate() {
        let mut cmp = test_comparison(vec![]);
        // Final mean ŝ = (a + 0.9) / 2 over the two training tasks.
        let cases = [
            ("step", 1e-3, 10, 0.5),
            ("step", 1e-3, 11, 0.1),
            ("step", 3e-3, 10, 0.3),
            ("step", 3e-3, 11, 0.4),
            ("tgrpo", 1e-3, 10, 0.2),
            ("tgrpo", 3e-3, 10, 0.2),
        ];
        for (m, lr, seed, a) in cases {
            cmp.manifest.grid.push(entry(m, lr, seed));
            cmp.grid.push((lr, test_run(m, seed, &[0.0, a])));
        }
        let cells = cells(&cmp);
        assert_eq!(cells.len(), 4);
        let step_hi = cells
            .iter()
            .find(|c| c.method == "step" && c.lr == 3e-3)
            .unwrap();
        let (mean, _) = step_hi.mean_std().unwrap();
        assert!((mean - (0.35 + 0.9) / 2.0).abs() < 1e-12, "{mean}");
        let picked = pick(&cells);
        // step: 1e-3 averages (0.3 + 0.9) / 2 = 0.6 < 0.625 at 3e-3.
        assert_eq!(picked.get("step"), Some(&3e-3));
        // tgrpo: a tie, the smaller rate wins.
        assert_eq!(picked.get("tgrpo"), Some(&1e-3));
    }

    #[test]
    fn methods_without_finished_grid_runs_get_no_pick() {
        let mut cmp = test_comparison(vec![]);
        cmp.manifest.grid.push(entry("step", 1e-3, 10));
        let cells = cells(&cmp);
        assert!(cells.iter().all(|c| c.finals.is_empty()));
        assert!(pick(&cells).is_empty());
    }
}

//! Evaluation: every task a fixed number of times, with seeds from their own stream,
//! acting greedily (or sampling), reported per task and as a mean.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Success per task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Task → (successes, judged episodes).
    pub tasks: BTreeMap<String, (u32, u32)>,
    /// Episodes lost to plugin failures.
    pub plugin_failures: u32,
}

impl EvalReport {
    /// Mean over tasks of each task's success share (tasks weigh equally).
    pub fn mean(&self) -> f64 {
        let rates: Vec<f64> = self
            .tasks
            .values()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| f64::from(*s) / f64::from(*n))
            .collect();
        if rates.is_empty() {
            0.0
        } else {
            rates.iter().sum::<f64>() / rates.len() as f64
        }
    }

    /// Whether any task had an episode judged (an evaluation whose every episode was
    /// lost to plugin failures covers none, and `train` then exits 1).
    pub fn covers_any_task(&self) -> bool {
        self.tasks.values().any(|(_, n)| *n > 0)
    }

    /// Success share of one task.
    pub fn rate(&self, task: &str) -> Option<f64> {
        self.tasks
            .get(task)
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| f64::from(*s) / f64::from(*n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_evaluation_with_no_judged_episode_covers_no_task() {
        let mut r = EvalReport {
            tasks: [("a".to_owned(), (0, 0))].into(),
            plugin_failures: 4,
        };
        assert!(!r.covers_any_task());
        r.tasks.insert("b".into(), (0, 1));
        assert!(r.covers_any_task());
        assert!(!EvalReport::default().covers_any_task());
    }

    #[test]
    fn mean_weighs_tasks_equally() {
        let mut r = EvalReport::default();
        r.tasks.insert("a".into(), (1, 1));
        r.tasks.insert("b".into(), (0, 3));
        r.tasks.insert("c".into(), (0, 0));
        assert_eq!(r.mean(), 0.5);
        assert_eq!(r.rate("b"), Some(0.0));
        assert_eq!(r.rate("c"), None);
        assert_eq!(EvalReport::default().mean(), 0.0);
    }
}

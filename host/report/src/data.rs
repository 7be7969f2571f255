//! The files a run or a comparison leaves behind, and loading them: one run is a
//! directory with `metrics.jsonl` (one JSON object per round), `eval-after.json`,
//! optionally `eval-heldout.json` and `tasks.json`; a comparison is a directory with
//! `compare.json` naming its runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ReportError;

/// The parts of one metrics line a report uses (other fields are ignored).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Round {
    /// Round number.
    pub round: u32,
    /// Environment steps so far.
    pub env_steps_total: u64,
    /// Judged trajectories so far.
    #[serde(default)]
    pub trajectories_total: u64,
    /// Share of this round's trajectories that succeeded.
    pub success_rate: f64,
    /// ŝ per task after the round.
    #[serde(default)]
    pub task_rate: BTreeMap<String, f64>,
    /// Cache size after the round.
    #[serde(default)]
    pub cache_size: usize,
    /// Rollouts per task this round.
    #[serde(default)]
    pub task_rollouts: BTreeMap<String, u32>,
    /// Step samples from rollouts.
    #[serde(default)]
    pub samples: usize,
    /// Augmentation samples.
    #[serde(default)]
    pub aug_samples: usize,
    /// No update happened.
    #[serde(default)]
    pub degenerate: bool,
    /// Wall time.
    #[serde(default)]
    pub perf: Perf,
}

/// Wall time of a round.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Perf {
    /// Seconds for the whole round.
    #[serde(default)]
    pub total_s: f64,
}

/// An evaluation (`eval-*.json`): task → (successes, episodes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Eval {
    /// Per task.
    pub tasks: BTreeMap<String, (u32, u32)>,
}

impl Eval {
    /// Mean over tasks of each task's success share.
    pub fn mean(&self) -> Option<f64> {
        let r: Vec<f64> = self
            .tasks
            .values()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| f64::from(*s) / f64::from(*n))
            .collect();
        (!r.is_empty()).then(|| r.iter().sum::<f64>() / r.len() as f64)
    }
}

/// A task as the report needs it (`tasks.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskMeta {
    /// Task id.
    pub id: String,
    /// Difficulty level, if the suite declares one.
    pub difficulty: Option<u8>,
    /// Held out from training.
    #[serde(default)]
    pub heldout: bool,
}

/// One run of a comparison, as `compare.json` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEntry {
    /// Method name (`step`, `tgrpo`, ...).
    pub method: String,
    /// Seed.
    pub seed: u64,
    /// Directory, relative to the comparison.
    pub dir: PathBuf,
}

/// `compare.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The base config file.
    pub config: PathBuf,
    /// Methods in display order.
    pub methods: Vec<String>,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// Environment-step budget of every run.
    pub budget_env_steps: u64,
    /// Every run.
    pub runs: Vec<RunEntry>,
    /// The command that made it.
    #[serde(default)]
    pub command: String,
    /// The machine and backend it ran on.
    #[serde(default)]
    pub machine: String,
    /// The learning rate each method's runs used (empty: the config's, for all).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lr: BTreeMap<String, f64>,
    /// The learning-rate grid runs that picked `lr` (empty: no grid).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grid: Vec<GridEntry>,
}

/// One run of the learning-rate grid (`compare --lr-grid`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridEntry {
    /// Method name.
    pub method: String,
    /// Learning rate.
    pub lr: f64,
    /// Seed (grid seeds are disjoint from the comparison's seeds).
    pub seed: u64,
    /// Directory, relative to the comparison.
    pub dir: PathBuf,
}

/// One loaded run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Method.
    pub method: String,
    /// Seed.
    pub seed: u64,
    /// Rounds so far.
    pub rounds: Vec<Round>,
    /// Greedy evaluation on the training tasks after training.
    pub eval_after: Option<Eval>,
    /// Greedy evaluation on the held-out tasks after training.
    pub eval_heldout: Option<Eval>,
    /// Greedy evaluation on the training tasks after the warm start (none without one).
    pub eval_warmstart: Option<Eval>,
}

impl Run {
    /// Wall time of all rounds.
    pub fn wall_s(&self) -> f64 {
        self.rounds.iter().map(|r| r.perf.total_s).sum()
    }

    /// The last round.
    pub fn last(&self) -> Option<&Round> {
        self.rounds.last()
    }
}

/// A comparison (or a single run, as a comparison of one).
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The manifest (synthesized for a single run).
    pub manifest: Manifest,
    /// Loaded runs, manifest order.
    pub runs: Vec<Run>,
    /// Tasks (empty if no `tasks.json` was found).
    pub tasks: Vec<TaskMeta>,
    /// Loaded learning-rate grid runs, with their learning rates, manifest order.
    pub grid: Vec<(f64, Run)>,
}

impl Comparison {
    /// The runs of `method`.
    pub fn runs_of<'a>(&'a self, method: &'a str) -> impl Iterator<Item = &'a Run> + 'a {
        self.runs.iter().filter(move |r| r.method == method)
    }

    /// Difficulty of `task`.
    pub fn difficulty(&self, task: &str) -> Option<u8> {
        self.tasks
            .iter()
            .find(|t| t.id == task)
            .and_then(|t| t.difficulty)
    }
}

fn read(path: &Path) -> Result<String, ReportError> {
    std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_owned(),
        source,
    })
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ReportError> {
    serde_json::from_str(&read(path)?).map_err(|e| ReportError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

fn optional<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, ReportError> {
    if path.exists() {
        parse(path).map(Some)
    } else {
        Ok(None)
    }
}

/// Read `metrics.jsonl` (a trailing partial line, left by a crash, is ignored).
pub fn read_metrics(path: &Path) -> Result<Vec<Round>, ReportError> {
    let text = read(path)?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let complete = if text.ends_with('\n') {
        lines.len()
    } else {
        lines.len().saturating_sub(1)
    };
    lines[..complete]
        .iter()
        .enumerate()
        .map(|(i, l)| {
            metric_line(l).map_err(|e| ReportError::Parse {
                path: path.to_owned(),
                message: format!("line {}: {e}", i + 1),
            })
        })
        .collect()
}

/// One `metrics.jsonl` line in its flat view: grouped lines (`rollout`, `record`,
/// `loss`, `perf`) and the flat lines of earlier runs read the same.
pub fn flat_line(line: &str) -> Result<serde_json::Value, serde_json::Error> {
    Ok(match serde_json::from_str(line)? {
        serde_json::Value::Object(m) => {
            serde_json::Value::Object(steprl_core::metric_groups::flatten(m))
        }
        other => other,
    })
}

fn metric_line(line: &str) -> Result<Round, serde_json::Error> {
    serde_json::from_value(flat_line(line)?)
}

fn load_run(dir: &Path, method: &str, seed: u64) -> Result<Run, ReportError> {
    Ok(Run {
        method: method.to_owned(),
        seed,
        rounds: read_metrics(&dir.join("metrics.jsonl"))?,
        eval_after: optional(&dir.join("eval-after.json"))?,
        eval_heldout: optional(&dir.join("eval-heldout.json"))?,
        eval_warmstart: optional(&dir.join("eval-warmstart.json"))?,
    })
}

/// Load a comparison directory, or a single run directory as a comparison of one.
pub fn load(dir: &Path) -> Result<Comparison, ReportError> {
    let manifest_path = dir.join("compare.json");
    let tasks: Vec<TaskMeta> = optional(&dir.join("tasks.json"))?.unwrap_or_default();
    if manifest_path.exists() {
        let manifest: Manifest = parse(&manifest_path)?;
        let mut runs = Vec::new();
        for e in &manifest.runs {
            let run_dir = dir.join(&e.dir);
            if run_dir.join("metrics.jsonl").exists() {
                runs.push(load_run(&run_dir, &e.method, e.seed)?);
            }
        }
        let mut grid = Vec::new();
        for e in &manifest.grid {
            let run_dir = dir.join(&e.dir);
            if run_dir.join("metrics.jsonl").exists() {
                grid.push((e.lr, load_run(&run_dir, &e.method, e.seed)?));
            }
        }
        return Ok(Comparison {
            manifest,
            runs,
            tasks,
            grid,
        });
    }
    if !dir.join("metrics.jsonl").exists() {
        return Err(ReportError::NotARun(dir.to_owned()));
    }
    let cfg = read(&dir.join("config.toml")).unwrap_or_default();
    let field = |key: &str| {
        cfg.lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix(key)?
                    .trim()
                    .strip_prefix('=')
                    .map(str::trim)
            })
            .map(|v| v.trim_matches('"').to_owned())
    };
    let method = field("method").unwrap_or_else(|| "run".into());
    let seed = field("seed").and_then(|s| s.parse().ok()).unwrap_or(0);
    let run = load_run(dir, &method, seed)?;
    if run.rounds.is_empty() {
        return Err(ReportError::Empty(dir.to_owned()));
    }
    Ok(Comparison {
        manifest: Manifest {
            config: dir.join("config.toml"),
            methods: vec![method.clone()],
            seeds: vec![seed],
            budget_env_steps: run.last().map_or(0, |r| r.env_steps_total),
            runs: vec![RunEntry {
                method,
                seed,
                dir: PathBuf::from("."),
            }],
            command: String::new(),
            machine: String::new(),
            lr: BTreeMap::new(),
            grid: Vec::new(),
        },
        runs: vec![run],
        tasks,
        grid: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_metrics_and_the_flat_ones_of_earlier_runs_read_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let flat = dir.path().join("flat.jsonl");
        let grouped = dir.path().join("grouped.jsonl");
        std::fs::write(
            &flat,
            concat!(
                r#"{"round":0,"env_steps_total":40,"trajectories_total":4,"success_rate":0.25,"#,
                r#""task_rate":{"a":0.25},"cache_size":1,"task_rollouts":{"a":4},"samples":3,"#,
                r#""aug_samples":2,"degenerate":false,"policy_loss":-0.1,"perf":{"total_s":1.5}}"#,
                "\n"
            ),
        )
        .unwrap();
        std::fs::write(
            &grouped,
            concat!(
                r#"{"round":0,"rollout":{"env_steps_total":40,"trajectories_total":4,"#,
                r#""success_rate":0.25,"task_rollouts":{"a":4}},"record":{"task_rate":{"a":0.25},"#,
                r#""cache_size":1},"loss":{"samples":3,"aug_samples":2,"degenerate":false,"#,
                r#""policy_loss":-0.1},"perf":{"total_s":1.5}}"#,
                "\n"
            ),
        )
        .unwrap();
        let a = read_metrics(&flat).unwrap();
        assert_eq!(a, read_metrics(&grouped).unwrap());
        assert_eq!(
            (
                a[0].env_steps_total,
                a[0].cache_size,
                a[0].samples,
                a[0].perf.total_s
            ),
            (40, 1, 3, 1.5)
        );
    }
}

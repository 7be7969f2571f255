//! Checkpoints: `checkpoints/round-NNNNN/` holds the learner (model, reference,
//! optimizer) and `state.json` (round, budget counters, success-rate record, metrics
//! cursor); `latest` names the newest. Everything is written to a temporary name and
//! renamed, so a crash at any moment leaves the previous checkpoint intact.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use steprl_algo::SuccessRecord;
use steprl_core::{Learner, SaveError};

/// Format version of `state.json`.
pub const VERSION: u32 = 1;

/// Everything besides the learner that a resumed run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Format version.
    pub version: u32,
    /// The first round still to run.
    pub next_round: u32,
    /// Environment steps so far.
    pub env_steps_total: u64,
    /// Judged trajectories so far.
    pub trajectories_total: u64,
    /// Lines of `metrics.jsonl` that belong to the rounds before `next_round`.
    pub metrics_lines: u64,
    /// The success-rate record.
    pub record: SuccessRecord,
}

/// Why a checkpoint could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// File system error.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// `state.json` is malformed or from another version.
    #[error("{path}: {message}")]
    State {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The learner's files could not be read.
    #[error(transparent)]
    Learner(#[from] steprl_learner::LearnerError),
    /// The learner's files could not be written.
    #[error(transparent)]
    Save(#[from] SaveError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Write `bytes` to `path` through a temporary file and a rename, fsynced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

/// Save a checkpoint for `state` under `out` and point `latest` at it.
pub fn save(out: &Path, state: &State, learner: &dyn Learner) -> Result<PathBuf, CheckpointError> {
    let root = out.join("checkpoints");
    fs::create_dir_all(&root).map_err(io(&root))?;
    let name = format!("round-{:05}", state.next_round);
    let dir = root.join(&name);
    let partial = root.join(format!("{name}.partial"));
    if partial.exists() {
        fs::remove_dir_all(&partial).map_err(io(&partial))?;
    }
    fs::create_dir_all(&partial).map_err(io(&partial))?;
    learner.save(&partial)?;
    let json = serde_json::to_vec_pretty(state).expect("state serializes");
    write_atomic(&partial.join("state.json"), &json)?;
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    fs::rename(&partial, &dir).map_err(io(&dir))?;
    write_atomic(&out.join("latest"), name.as_bytes())?;
    Ok(dir)
}

/// The newest checkpoint directory of a run.
pub fn latest(out: &Path) -> Result<PathBuf, CheckpointError> {
    let pointer = out.join("latest");
    let name = fs::read_to_string(&pointer).map_err(io(&pointer))?;
    Ok(out.join("checkpoints").join(name.trim()))
}

/// Read a checkpoint's `state.json`.
pub fn load_state(dir: &Path) -> Result<State, CheckpointError> {
    let path = dir.join("state.json");
    let text = fs::read_to_string(&path).map_err(io(&path))?;
    let state: State = serde_json::from_str(&text).map_err(|e| CheckpointError::State {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if state.version != VERSION {
        return Err(CheckpointError::State {
            path,
            message: format!(
                "checkpoint format version {} (this steprl reads version {VERSION})",
                state.version
            ),
        });
    }
    Ok(state)
}

/// Keep only the first `lines` lines of `metrics.jsonl` (rounds after a checkpoint are
/// re-run on resume and write their lines again).
pub fn truncate_metrics(path: &Path, lines: u64) -> Result<(), CheckpointError> {
    if !path.exists() {
        return Ok(());
    }
    let text = fs::read_to_string(path).map_err(io(path))?;
    let kept: String = text
        .lines()
        .take(lines as usize)
        .map(|l| format!("{l}\n"))
        .collect();
    write_atomic(path, kept.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_cut_back_to_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("metrics.jsonl");
        fs::write(&p, "a\nb\nc\n").unwrap();
        truncate_metrics(&p, 2).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "a\nb\n");
        truncate_metrics(&dir.path().join("none.jsonl"), 1).unwrap();
    }

    #[test]
    fn a_bad_state_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("state.json"), "{}").unwrap();
        let e = load_state(dir.path()).unwrap_err().to_string();
        assert!(e.contains("state.json"), "{e}");
        let e = latest(dir.path()).unwrap_err().to_string();
        assert!(e.contains("latest"), "{e}");
    }
}

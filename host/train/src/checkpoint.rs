//! Checkpoints: `checkpoints/round-NNNNN/` holds the learner (model, reference,
//! optimizer) and `state.json` (round, budget counters, success-rate record, metrics
//! cursor); `latest` names the newest. Everything is written to a temporary name and
//! renamed, so a crash at any moment leaves the previous checkpoint intact; and
//! `checksums.json` records every file's SHA-256, checked before a checkpoint is used,
//! so a damaged file is refused (and `resume` falls back to the newest intact one)
//! instead of being loaded.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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
    /// Asynchronous mode: round `next_round`'s rollouts, made while the learner
    /// updated on the round before and not yet trained on (none in synchronous mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<crate::rolled::Rolled>,
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
    /// A file does not match the checksum recorded when the checkpoint was written.
    #[error("{path}: damaged checkpoint: {message}")]
    Damaged {
        /// The checkpoint directory.
        path: PathBuf,
        /// Which file, and how.
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

/// The resolved run config a checkpoint was written under (`eval` and `export` read it
/// from the checkpoint itself).
pub const CONFIG: &str = "config.toml";

/// Save a checkpoint for `state` (trained under the resolved config `config`) under
/// `out` and point `latest` at it.
pub fn save(
    out: &Path,
    state: &State,
    learner: &dyn Learner,
    config: &str,
) -> Result<PathBuf, CheckpointError> {
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
    steprl_core::failpoint::hit("checkpoint.partial");
    write_atomic(&partial.join(CONFIG), config.as_bytes())?;
    let json = serde_json::to_vec_pretty(state).expect("state serializes");
    write_atomic(&partial.join("state.json"), &json)?;
    let sums = serde_json::to_vec_pretty(&checksums(&partial)?).expect("checksums serialize");
    write_atomic(&partial.join(CHECKSUMS), &sums)?;
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    fs::rename(&partial, &dir).map_err(io(&dir))?;
    steprl_core::failpoint::hit("checkpoint.renamed");
    write_atomic(&out.join("latest"), name.as_bytes())?;
    Ok(dir)
}

/// The file in a checkpoint that records the others' SHA-256.
pub const CHECKSUMS: &str = "checksums.json";

/// The SHA-256 of every file in checkpoint directory `dir` but [`CHECKSUMS`], by name.
fn checksums(dir: &Path) -> Result<BTreeMap<String, String>, CheckpointError> {
    let mut out = BTreeMap::new();
    for e in fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name == CHECKSUMS || !e.path().is_file() {
            continue;
        }
        let bytes = fs::read(e.path()).map_err(io(&e.path()))?;
        let hex: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        out.insert(name, hex);
    }
    Ok(out)
}

/// Check every file of checkpoint `dir` against its recorded SHA-256 (a checkpoint
/// written before checksums were recorded passes unchecked).
pub fn verify(dir: &Path) -> Result<(), CheckpointError> {
    let path = dir.join(CHECKSUMS);
    let damaged = |message: String| CheckpointError::Damaged {
        path: dir.to_owned(),
        message,
    };
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && dir.join("state.json").exists() => {
            return Ok(());
        }
        Err(e) => return Err(io(&path)(e)),
    };
    let recorded: BTreeMap<String, String> = serde_json::from_str(&text)
        .map_err(|e| damaged(format!("{CHECKSUMS} is not readable ({e})")))?;
    let now = checksums(dir)?;
    for (name, sum) in &recorded {
        match now.get(name) {
            None => return Err(damaged(format!("{name} is missing"))),
            Some(s) if s != sum => {
                return Err(damaged(format!(
                    "{name} does not match its recorded SHA-256 (changed or truncated since it was written)"
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The newest intact checkpoint of a run: `latest`, or when that one is damaged the
/// newest older one that verifies; with the problems of those passed over.
/// A process killed between renaming a checkpoint into place and pointing `latest` at
/// it leaves a complete checkpoint `latest` does not name (or no `latest` at all): the
/// newest checkpoint directory is used then.
pub fn latest_intact(out: &Path) -> Result<(PathBuf, Vec<CheckpointError>), CheckpointError> {
    let mut all = checkpoint_dirs(out)?;
    let newest = match latest(out) {
        Ok(named) => named,
        Err(e) => all.last().cloned().ok_or(e)?,
    };
    if !all.contains(&newest) {
        all.push(newest.clone());
    }
    // The named one first, then every other, newest first.
    all.retain(|p| *p != newest);
    all.push(newest);
    let mut skipped = Vec::new();
    for dir in all.into_iter().rev() {
        match verify(&dir) {
            Ok(()) => return Ok((dir, skipped)),
            Err(e) => skipped.push(e),
        }
    }
    Err(skipped.remove(0))
}

/// Whether run directory `out` holds a checkpoint: `latest`, or a complete checkpoint
/// directory (a process killed before it wrote `latest` leaves one).
pub fn has_checkpoint(out: &Path) -> bool {
    out.join("latest").exists() || checkpoint_dirs(out).is_ok_and(|d| !d.is_empty())
}

/// Every complete checkpoint directory of a run (not `.partial` ones), oldest first.
pub fn checkpoint_dirs(out: &Path) -> Result<Vec<PathBuf>, CheckpointError> {
    let root = out.join("checkpoints");
    if !root.exists() {
        return Ok(Vec::new());
    }
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .map_err(io(&root))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("round-") && !n.ends_with(".partial"))
        })
        .collect();
    dirs.sort();
    Ok(dirs)
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

    /// A checkpoint directory as `save` leaves it, without a learner.
    fn checkpoint(out: &Path, round: u32, model: &[u8]) -> PathBuf {
        let dir = out.join(format!("checkpoints/round-{round:05}"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("model.bpk"), model).unwrap();
        fs::write(dir.join("state.json"), "{}").unwrap();
        let sums = serde_json::to_vec(&checksums(&dir).unwrap()).unwrap();
        fs::write(dir.join(CHECKSUMS), sums).unwrap();
        fs::write(out.join("latest"), format!("round-{round:05}")).unwrap();
        dir
    }

    #[test]
    fn a_damaged_checkpoint_is_refused_and_resume_falls_back_to_an_intact_one() {
        let out = tempfile::tempdir().unwrap();
        let two = checkpoint(out.path(), 2, b"weights of round 2");
        let four = checkpoint(out.path(), 4, b"weights of round 4");
        verify(&four).unwrap();
        assert_eq!(latest_intact(out.path()).unwrap().0, four);
        // Truncated: named, and the previous one is used.
        fs::write(four.join("model.bpk"), b"weights of").unwrap();
        let e = verify(&four).unwrap_err().to_string();
        assert!(
            e.contains(
                "round-00004: damaged checkpoint: model.bpk does not match its recorded SHA-256"
            ),
            "{e}"
        );
        let (dir, skipped) = latest_intact(out.path()).unwrap();
        assert_eq!(dir, two);
        assert_eq!(skipped.len(), 1);
        // A missing file is damage too; with none intact, the newest's problem is the error.
        fs::remove_file(two.join("model.bpk")).unwrap();
        assert!(
            verify(&two)
                .unwrap_err()
                .to_string()
                .contains("model.bpk is missing")
        );
        let e = latest_intact(out.path()).unwrap_err().to_string();
        assert!(e.contains("round-00004"), "{e}");
        // A checkpoint from before checksums were recorded is used unchecked.
        fs::remove_file(four.join(CHECKSUMS)).unwrap();
        verify(&four).unwrap();
    }

    /// `state.json` must give back the very same bits: a rate one ulp off after a resume
    /// sends the resumed run down another path (serde_json's default float parser is
    /// off by one ulp for about one value in ten; the workspace enables its exact one).
    #[test]
    fn the_state_file_gives_back_every_rate_bit_for_bit() {
        use steprl_algo::Outcome::{Failure, Success};
        let tasks: Vec<String> = (0..64).map(|i| format!("t{i}")).collect();
        let mut record = SuccessRecord::new(tasks.iter().cloned(), 0.3);
        for round in 0..40u32 {
            record.update(
                round,
                tasks.iter().enumerate().map(|(i, t)| {
                    let hit = (i as u32 * 7 + round * 13) % 5 < 2;
                    (t.as_str(), if hit { Success } else { Failure })
                }),
            );
        }
        let state = State {
            version: VERSION,
            next_round: 40,
            env_steps_total: 1,
            trajectories_total: 1,
            metrics_lines: 40,
            record,
            pending: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let bytes = serde_json::to_vec_pretty(&state).unwrap();
        fs::write(dir.path().join("state.json"), bytes).unwrap();
        let back = load_state(dir.path()).unwrap();
        for ((id, a), (_, b)) in state.record.iter().zip(back.record.iter()) {
            assert_eq!(
                a.smoothed.map(f64::to_bits),
                b.smoothed.map(f64::to_bits),
                "task {id}"
            );
        }
        // One value the fast parser reads back as 0.9856906946328696.
        let v: f64 = serde_json::from_str("0.9856906946328695").unwrap();
        assert_eq!(v.to_bits(), 0.985_690_694_632_869_5_f64.to_bits());
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

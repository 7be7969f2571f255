//! The exclusive lock on a run directory: `train`, `resume` and `compare` hold it while
//! they write, so a second process on the same directory is refused, naming the one that
//! holds it. The lock is the operating system's file lock on `<run>/.lock`, released
//! when the holder exits in any way (kill -9 included), so a lock is never stale.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside a run directory.
pub const LOCK_FILE: &str = ".lock";

/// A held lock on a run directory (released on drop).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// Why a run directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "{}: in use by another steprl process ({holder}); wait for it to finish or stop it first",
        path.display()
    )]
    Held {
        /// The run directory.
        path: PathBuf,
        /// What the lock file says about its holder.
        holder: String,
    },
    /// The lock file could not be made or locked.
    #[error("{}: cannot lock the run directory: {message}", path.display())]
    Io {
        /// The run directory.
        path: PathBuf,
        /// The OS error.
        message: String,
    },
}

impl RunLock {
    /// Lock the run directory `dir` (which must exist) for this process, recording its
    /// pid and command line in the lock file.
    pub fn acquire(dir: &Path) -> Result<RunLock, LockError> {
        let io = |e: std::io::Error| LockError::Io {
            path: dir.to_owned(),
            message: e.to_string(),
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(LockError::Held {
                    path: dir.to_owned(),
                    holder: if holder.is_empty() {
                        "a process that has not written its pid yet".into()
                    } else {
                        holder.to_owned()
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let me = format!(
            "pid {}: {}",
            std::process::id(),
            std::env::args().collect::<Vec<_>>().join(" ")
        );
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(me.as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(RunLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path()).unwrap();
        let e = RunLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("in use by another steprl process (pid ")
                && e.contains(&std::process::id().to_string()),
            "{e}"
        );
        drop(first);
        // Released (as when the holder dies): taken over, the file rewritten.
        let _second = RunLock::acquire(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert!(
            text.starts_with(&format!("pid {}: ", std::process::id())),
            "{text}"
        );
    }
}

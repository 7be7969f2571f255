//! A simulated suite's verdict on a finished episode ([`Judgement`]), and why a final
//! state could not be judged ([`JudgeError`]).

/// A judgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// Task accomplished.
    pub success: bool,
    /// Why (the first failed condition, or what was achieved).
    pub reason: String,
}

/// Why a final state cannot be judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JudgeError {
    /// No such task.
    UnknownTask {
        /// The suite asked.
        suite: &'static str,
        /// The task id asked for.
        task: String,
    },
    /// The final state belongs to another task or seed than the trajectory; the
    /// message says so in full (it is shown as it is).
    Mismatch(String),
}

impl std::fmt::Display for JudgeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JudgeError::UnknownTask { suite, task } => write!(f, "no {suite} task `{task}`"),
            JudgeError::Mismatch(m) => f.write_str(m),
        }
    }
}

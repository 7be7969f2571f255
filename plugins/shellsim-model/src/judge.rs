//! Judging a shellsim episode: the file system must equal the instance's goal state
//! exactly (nothing missing, nothing extra, nothing changed) and the agent must have
//! said done.

use crate::sim::FinalState;
use crate::tasks;

/// A verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// Success.
    pub success: bool,
    /// Why, in words.
    pub reason: String,
}

/// Why judging failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JudgeError {
    /// No such task.
    UnknownTask(String),
    /// The final state is not of this task and seed.
    Mismatch(String),
}

impl std::fmt::Display for JudgeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JudgeError::UnknownTask(t) => write!(f, "no shellsim task `{t}`"),
            JudgeError::Mismatch(m) => write!(f, "final state does not match the task: {m}"),
        }
    }
}

/// Judge `state`, the end of an episode of `task_id` with `seed`.
pub fn judge(
    task_id: &str,
    seed: u64,
    said_done: bool,
    state: &FinalState,
) -> Result<Judgement, JudgeError> {
    let task = tasks::find(task_id).ok_or_else(|| JudgeError::UnknownTask(task_id.into()))?;
    if state.task != task_id || state.seed != seed {
        return Err(JudgeError::Mismatch(format!(
            "it is of task `{}` seed {}, not `{task_id}` seed {seed}",
            state.task, state.seed
        )));
    }
    let goal = task.instantiate(seed).goal();
    let (success, reason) = match goal.first_difference(&state.fs) {
        Some(d) => (false, d),
        None if !said_done => (false, "goal reached but the agent did not say done".into()),
        None => (true, "goal reached and nothing else changed".into()),
    };
    Ok(Judgement { success, reason })
}

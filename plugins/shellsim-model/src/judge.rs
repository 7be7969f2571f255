//! Judging a shellsim episode: the file system must equal the instance's goal state
//! exactly (nothing missing, nothing extra, nothing changed) and the agent must have
//! said done.

use sim_kit::{JudgeError, Judgement};

use crate::SUITE;
use crate::sim::FinalState;
use crate::tasks;

/// Judge `state`, the end of an episode of `task_id` with `seed`.
pub fn judge(
    task_id: &str,
    seed: u64,
    said_done: bool,
    state: &FinalState,
) -> Result<Judgement, JudgeError> {
    let task = tasks::find(task_id).ok_or_else(|| JudgeError::UnknownTask {
        suite: SUITE,
        task: task_id.into(),
    })?;
    if state.task != task_id || state.seed != seed {
        return Err(JudgeError::Mismatch(format!(
            "final state does not match the task: it is of task `{}` seed {}, \
             not `{task_id}` seed {seed}",
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

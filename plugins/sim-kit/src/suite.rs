//! The [`Suite`] trait: what a simulated suite offers the shared plugin glue (its
//! tasks, vocabulary, actions, episodes and judge).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{JudgeError, Judgement, Obs, Outcome, SimAction, SimError};

/// One task of a suite's catalog, as the environment plugin lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskEntry {
    /// Stable task id.
    pub id: &'static str,
    /// Template family (held-out splits are by family).
    pub family: &'static str,
    /// Difficulty level 1-4.
    pub level: u8,
    /// Step budget.
    pub max_steps: u32,
    /// Instruction with placeholders, for the task table.
    pub summary: &'static str,
}

impl TaskEntry {
    /// The task's metadata JSON: `{"family":...}`.
    pub fn metadata_json(&self) -> String {
        serde_json::json!({ "family": self.family }).to_string()
    }
}

/// A simulated task suite: everything its environment and reward-checker plugins need.
pub trait Suite: 'static {
    /// Suite name, as reported in task info and messages (`uisim`).
    const NAME: &'static str;
    /// Length of every observation's token list.
    const OBS_TOKENS: usize;
    /// The discrete actions.
    type Action: SimAction;
    /// What an episode leaves for the checker to judge.
    type FinalState: Serialize + DeserializeOwned;
    /// One running episode.
    type Episode: SimEpisode<FinalState = Self::FinalState>;

    /// Every task, catalog order.
    fn tasks() -> Vec<TaskEntry>;
    /// The fixed token vocabulary (token id = index).
    fn vocab() -> &'static [String];
    /// A new episode of `task_id` whose parameters come from `seed`, already reset.
    fn start(task_id: &str, seed: u64) -> Result<Self::Episode, SimError>;
    /// Whether the final state says the agent ended with `done`.
    fn said_done(state: &Self::FinalState) -> bool;
    /// Judge `state`, the end of an episode of `task_id` with `seed` whose last action
    /// was `done` iff `said_done`.
    fn judge(
        task_id: &str,
        seed: u64,
        said_done: bool,
        state: &Self::FinalState,
    ) -> Result<Judgement, JudgeError>;
}

/// One running episode of a [`Suite`].
pub trait SimEpisode: 'static {
    /// What the checker judges.
    type FinalState;

    /// The task's difficulty level.
    fn level(&self) -> u8;
    /// Back to the initial state.
    fn reset(&mut self);
    /// Apply the action at `index` (masked actions cost a step and do nothing).
    fn step(&mut self, index: u32) -> Result<Outcome, SimError>;
    /// Observe; `text`/`tokens` select the parts to build (the mask is always built).
    fn observe(&self, text: bool, tokens: bool) -> Obs;
    /// What the checker judges.
    fn final_state(&self) -> Self::FinalState;
}

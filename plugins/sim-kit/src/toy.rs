//! A two-task toy suite for this crate's tests: wait or say done; success is saying
//! done.

use serde::{Deserialize, Serialize};

use crate::{
    JudgeError, Judgement, Obs, Outcome, SimAction, SimEpisode, SimError, Suite, TaskEntry,
};

/// The toy suite.
pub struct Toy;

/// Its actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToyAct {
    Wait,
    Done,
}

impl SimAction for ToyAct {
    const COUNT: u32 = 2;
    const DONE: Self = ToyAct::Done;
    fn index(self) -> u32 {
        match self {
            ToyAct::Wait => 0,
            ToyAct::Done => 1,
        }
    }
    fn from_index(index: u32) -> Option<Self> {
        [ToyAct::Wait, ToyAct::Done].get(index as usize).copied()
    }
    fn label(self) -> String {
        format!("{self:?}").to_lowercase()
    }
}

/// Its final state.
#[derive(Debug, Serialize, Deserialize)]
pub struct ToyState {
    task: String,
    seed: u64,
    said_done: bool,
}

/// One toy episode.
pub struct ToyEpisode {
    task: TaskEntry,
    seed: u64,
    said_done: bool,
}

const TASKS: [TaskEntry; 2] = [
    TaskEntry {
        id: "toy/a",
        family: "a",
        level: 1,
        max_steps: 2,
        summary: "say done",
    },
    TaskEntry {
        id: "toy/b",
        family: "b",
        level: 2,
        max_steps: 2,
        summary: "say done",
    },
];

impl Suite for Toy {
    const NAME: &'static str = "toy";
    const OBS_TOKENS: usize = 1;
    type Action = ToyAct;
    type FinalState = ToyState;
    type Episode = ToyEpisode;

    fn tasks() -> Vec<TaskEntry> {
        TASKS.to_vec()
    }
    fn vocab() -> &'static [String] {
        &[]
    }
    fn start(task_id: &str, seed: u64) -> Result<ToyEpisode, SimError> {
        let task = *TASKS
            .iter()
            .find(|t| t.id == task_id)
            .ok_or(SimError::UnknownTask {
                suite: "toy",
                task: task_id.into(),
            })?;
        Ok(ToyEpisode {
            task,
            seed,
            said_done: false,
        })
    }
    fn said_done(state: &ToyState) -> bool {
        state.said_done
    }
    fn judge(
        task_id: &str,
        seed: u64,
        said_done: bool,
        state: &ToyState,
    ) -> Result<Judgement, JudgeError> {
        if !TASKS.iter().any(|t| t.id == task_id) {
            return Err(JudgeError::UnknownTask {
                suite: "toy",
                task: task_id.into(),
            });
        }
        if state.seed != seed {
            return Err(JudgeError::Mismatch(format!(
                "it is of seed {}, not {seed}",
                state.seed
            )));
        }
        Ok(Judgement {
            success: said_done,
            reason: String::new(),
        })
    }
}

impl SimEpisode for ToyEpisode {
    type FinalState = ToyState;
    fn level(&self) -> u8 {
        self.task.level
    }
    fn reset(&mut self) {
        self.said_done = false;
    }
    fn step(&mut self, index: u32) -> Result<Outcome, SimError> {
        let act = ToyAct::from_index(index).ok_or(SimError::ActionOutOfRange {
            index,
            n_actions: ToyAct::COUNT,
        })?;
        self.said_done = act == ToyAct::Done;
        Ok(Outcome {
            done: self.said_done,
            truncated: false,
            invalid: false,
        })
    }
    fn observe(&self, _text: bool, _tokens: bool) -> Obs {
        Obs {
            text: None,
            tokens: None,
            mask: vec![true; 2],
        }
    }
    fn final_state(&self) -> ToyState {
        ToyState {
            task: self.task.id.into(),
            seed: self.seed,
            said_done: self.said_done,
        }
    }
}

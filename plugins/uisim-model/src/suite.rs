//! uisim as a `sim_kit::Suite`: what the shared plugin glue exports as the `uisim` and
//! `uisim-checker` plugins.

use sim_kit::{JudgeError, Judgement, Obs, Outcome, SimEpisode, SimError, Suite, TaskEntry};

use crate::sim::{Act, Episode, FinalState};
use crate::{OBS_TOKENS, SUITE, catalog, vocab};

/// The uisim suite.
pub struct Uisim;

impl Suite for Uisim {
    const NAME: &'static str = SUITE;
    const OBS_TOKENS: usize = OBS_TOKENS;
    type Action = Act;
    type FinalState = FinalState;
    type Episode = Episode;

    fn tasks() -> Vec<TaskEntry> {
        catalog()
            .iter()
            .map(|t| TaskEntry {
                id: &t.id,
                family: t.family,
                level: t.level,
                max_steps: t.max_steps,
                summary: &t.summary,
            })
            .collect()
    }

    fn vocab() -> &'static [String] {
        vocab::vocab()
    }

    fn start(task_id: &str, seed: u64) -> Result<Episode, SimError> {
        Episode::new(task_id, seed)
    }

    fn said_done(state: &FinalState) -> bool {
        state.said_done
    }

    fn judge(
        task_id: &str,
        seed: u64,
        said_done: bool,
        state: &FinalState,
    ) -> Result<Judgement, JudgeError> {
        crate::judge(task_id, seed, said_done, state)
    }
}

impl SimEpisode for Episode {
    type FinalState = FinalState;

    fn level(&self) -> u8 {
        self.task().level
    }

    fn reset(&mut self) {
        Episode::reset(self);
    }

    fn step(&mut self, index: u32) -> Result<Outcome, SimError> {
        Episode::step(self, index)
    }

    fn observe(&self, text: bool, tokens: bool) -> Obs {
        Episode::observe(self, text, tokens)
    }

    fn final_state(&self) -> FinalState {
        Episode::final_state(self)
    }
}

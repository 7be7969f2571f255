//! One uisim episode: the phone state, the current screen, the discrete action space,
//! stepping, and the final state the reward checker reads.

use serde::{Deserialize, Serialize};
use sim_kit::{Outcome, SimAction, SimError};

use crate::SUITE;
use crate::apps::Apps;
use crate::tasks::{self, Instance, TaskDef};
use crate::ui::{Element, MAX_ELEMENTS, Screen};

/// Text slots an agent can type (slot j = action `Type(j)`).
pub const MAX_SLOTS: usize = 4;

/// A discrete uisim action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Act {
    /// Click the k-th element on screen.
    Click(usize),
    /// Type text slot j into the focused field (replacing its content).
    Type(usize),
    /// Go to the parent screen.
    Back,
    /// Go to the home screen.
    Home,
    /// Show the previous page of a list.
    ScrollUp,
    /// Show the next page of a list.
    ScrollDown,
    /// Declare the task finished (ends the episode).
    Done,
}

const BACK: u32 = (MAX_ELEMENTS + MAX_SLOTS) as u32;

/// Number of discrete actions.
pub const N_ACTIONS: u32 = BACK + 5;

impl SimAction for Act {
    const COUNT: u32 = N_ACTIONS;
    const DONE: Act = Act::Done;

    fn index(self) -> u32 {
        match self {
            Act::Click(k) => k as u32,
            Act::Type(j) => (MAX_ELEMENTS + j) as u32,
            Act::Back => BACK,
            Act::Home => BACK + 1,
            Act::ScrollUp => BACK + 2,
            Act::ScrollDown => BACK + 3,
            Act::Done => BACK + 4,
        }
    }

    fn from_index(index: u32) -> Option<Act> {
        let i = index as usize;
        Some(match index {
            _ if i < MAX_ELEMENTS => Act::Click(i),
            _ if i < MAX_ELEMENTS + MAX_SLOTS => Act::Type(i - MAX_ELEMENTS),
            BACK => Act::Back,
            i if i == BACK + 1 => Act::Home,
            i if i == BACK + 2 => Act::ScrollUp,
            i if i == BACK + 3 => Act::ScrollDown,
            i if i == BACK + 4 => Act::Done,
            _ => return None,
        })
    }

    fn label(self) -> String {
        match self {
            Act::Click(k) => format!("click {k}"),
            Act::Type(j) => format!("type slot {j}"),
            Act::Back => "back".into(),
            Act::Home => "home".into(),
            Act::ScrollUp => "scroll up".into(),
            Act::ScrollDown => "scroll down".into(),
            Act::Done => "done".into(),
        }
    }
}

/// What the environment reports at the end; the checker judges it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalState {
    /// Task id.
    pub task: String,
    /// Seed of the instance.
    pub seed: u64,
    /// Steps taken.
    pub steps: u32,
    /// Whether the agent ended with `done`.
    pub said_done: bool,
    /// The screen showing at the end (`Screen::describe`).
    pub screen: String,
    /// All app data at the end.
    pub apps: Apps,
}

/// One episode.
#[derive(Debug, Clone)]
pub struct Episode {
    task: &'static TaskDef,
    seed: u64,
    inst: Instance,
    apps: Apps,
    screen: Screen,
    steps: u32,
    said_done: bool,
    finished: bool,
}

impl Episode {
    /// A new episode of `task_id` whose parameters come from `seed`, already reset.
    pub fn new(task_id: &str, seed: u64) -> Result<Self, SimError> {
        let task = tasks::find(task_id).ok_or_else(|| SimError::UnknownTask {
            suite: SUITE,
            task: task_id.into(),
        })?;
        let inst = task.instantiate(seed);
        Ok(Episode {
            task,
            seed,
            apps: inst.initial.clone(),
            inst,
            screen: Screen::Home,
            steps: 0,
            said_done: false,
            finished: false,
        })
    }

    /// Back to the initial state.
    pub fn reset(&mut self) {
        self.apps = self.inst.initial.clone();
        self.screen = Screen::Home;
        self.steps = 0;
        self.said_done = false;
        self.finished = false;
    }

    /// The task.
    pub fn task(&self) -> &'static TaskDef {
        self.task
    }

    /// The instance this seed picked.
    pub fn instance(&self) -> &Instance {
        &self.inst
    }

    /// Current app data.
    pub fn apps(&self) -> &Apps {
        &self.apps
    }

    /// Current screen.
    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    /// Steps taken.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// Whether the episode ended.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// Elements on screen.
    pub fn elements(&self) -> Vec<Element> {
        self.screen.elements(&self.apps)
    }

    /// Whether `act` does something now.
    pub fn valid(&self, act: Act, elements: &[Element]) -> bool {
        match act {
            Act::Click(k) => elements.get(k).is_some_and(|e| e.enabled),
            Act::Type(j) => {
                j < self.inst.slots.len() && self.screen.clone().focused_field().is_some()
            }
            Act::Back | Act::Home => self.screen != Screen::Home,
            Act::ScrollUp => self.screen.list(&self.apps).is_some_and(|(top, _)| top > 0),
            Act::ScrollDown => self
                .screen
                .list(&self.apps)
                .is_some_and(|(top, len)| top + crate::ui::LIST_ROWS < len),
            Act::Done => true,
        }
    }

    /// The valid-action mask, one entry per discrete action.
    pub fn mask(&self, elements: &[Element]) -> Vec<bool> {
        Act::all().map(|a| self.valid(a, elements)).collect()
    }

    /// Apply the action at `index`. Masked actions cost a step and do nothing.
    pub fn step(&mut self, index: u32) -> Result<Outcome, SimError> {
        if self.finished {
            return Err(SimError::Finished);
        }
        let act = Act::from_index(index).ok_or(SimError::ActionOutOfRange {
            index,
            n_actions: N_ACTIONS,
        })?;
        let elements = self.elements();
        let invalid = !self.valid(act, &elements);
        self.steps += 1;
        if !invalid {
            match act {
                Act::Click(k) => {
                    self.screen = self.screen.click(elements[k].target, &mut self.apps);
                }
                Act::Type(j) => {
                    let text = self.inst.slots[j].clone();
                    if let Some(f) = self.screen.focused_field() {
                        *f = text;
                    }
                }
                Act::Back => self.screen = self.screen.back(&self.apps),
                Act::Home => self.screen = Screen::Home,
                Act::ScrollUp | Act::ScrollDown => {
                    if let Some((top, len)) = self.screen.list(&self.apps) {
                        let rows = crate::ui::LIST_ROWS;
                        let top = if act == Act::ScrollDown {
                            (top + rows).min(len.saturating_sub(rows))
                        } else {
                            top.saturating_sub(rows)
                        };
                        self.screen = match self.screen {
                            Screen::Contacts { .. } => Screen::Contacts { top },
                            Screen::Notes { .. } => Screen::Notes { top },
                            Screen::Clock { .. } => Screen::Clock { top },
                            _ => Screen::Messages { top },
                        };
                    }
                }
                Act::Done => self.said_done = true,
            }
        }
        let done = self.said_done;
        let truncated = !done && self.steps >= self.task.max_steps;
        self.finished = done || truncated;
        Ok(Outcome {
            done,
            truncated,
            invalid,
        })
    }

    /// What the checker judges.
    pub fn final_state(&self) -> FinalState {
        FinalState {
            task: self.task.id.clone(),
            seed: self.seed,
            steps: self.steps,
            said_done: self.said_done,
            screen: self.screen.describe(&self.apps),
            apps: self.apps.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_indices_round_trip() {
        for i in 0..N_ACTIONS {
            assert_eq!(Act::from_index(i).unwrap().index(), i);
        }
        assert_eq!(Act::from_index(N_ACTIONS), None);
        assert_eq!(Act::labels().len(), N_ACTIONS as usize);
    }

    #[test]
    fn masked_actions_cost_a_step_and_change_nothing() {
        let mut ep = Episode::new("settings.wifi-on", 1).unwrap();
        let before = ep.apps().clone();
        let out = ep.step(Act::Back.index()).unwrap();
        assert!(out.invalid && !out.done);
        assert_eq!(ep.steps(), 1);
        assert_eq!(ep.apps(), &before);
    }

    #[test]
    fn budget_truncates_and_finished_episodes_refuse_steps() {
        let mut ep = Episode::new("open.clock", 3).unwrap();
        let max = ep.task().max_steps;
        for i in 0..max {
            let out = ep.step(Act::Home.index()).unwrap();
            assert_eq!(out.truncated, i + 1 == max);
        }
        assert_eq!(ep.step(Act::Home.index()), Err(SimError::Finished));
        assert_eq!(ep.step(99).unwrap_err(), SimError::Finished);
        ep.reset();
        assert_eq!(
            ep.step(99),
            Err(SimError::ActionOutOfRange {
                index: 99,
                n_actions: N_ACTIONS
            })
        );
    }

    #[test]
    fn unknown_task_is_an_error() {
        assert_eq!(
            Episode::new("nope", 0).unwrap_err(),
            SimError::UnknownTask {
                suite: SUITE,
                task: "nope".into()
            }
        );
    }
}

//! The episode types every simulated suite shares: its discrete actions
//! ([`SimAction`]), what a step did ([`Outcome`]), an observation ([`Obs`]) and why a
//! call failed ([`SimError`]).

/// A suite's discrete action space: actions numbered `0..COUNT`, each with a label.
pub trait SimAction: Copy + Sized {
    /// Number of discrete actions.
    const COUNT: u32;
    /// The action that declares the task finished (and ends the episode).
    const DONE: Self;

    /// The action's index in the discrete space.
    fn index(self) -> u32;
    /// The action at `index`, if in range.
    fn from_index(index: u32) -> Option<Self>;
    /// The action's human-readable name.
    fn label(self) -> String;

    /// Every action, index order.
    fn all() -> impl Iterator<Item = Self> {
        (0..Self::COUNT).map(|i| Self::from_index(i).expect("in range"))
    }

    /// Human-readable names of every action, index order.
    fn labels() -> Vec<String> {
        Self::all().map(Self::label).collect()
    }
}

/// What a step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The agent said done.
    pub done: bool,
    /// The step budget ran out.
    pub truncated: bool,
    /// The action was masked (it did nothing but cost a step).
    pub invalid: bool,
}

impl Outcome {
    /// The step's info JSON for the host: `{"invalid":true}` for a masked action,
    /// empty otherwise.
    pub fn info_json(&self) -> String {
        if self.invalid {
            r#"{"invalid":true}"#.to_owned()
        } else {
            String::new()
        }
    }
}

/// One observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obs {
    /// Text rendering, if asked for.
    pub text: Option<String>,
    /// The suite's fixed number of token ids (`OBS_TOKENS`), if asked for.
    pub tokens: Option<Vec<u32>>,
    /// Valid-action mask (one entry per discrete action).
    pub mask: Vec<bool>,
}

/// Why a simulated suite's call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimError {
    /// No such task id.
    UnknownTask {
        /// The suite asked.
        suite: &'static str,
        /// The task id asked for.
        task: String,
    },
    /// Action index outside `0..n_actions`.
    ActionOutOfRange {
        /// The index given.
        index: u32,
        /// The suite's number of discrete actions.
        n_actions: u32,
    },
    /// The episode already ended.
    Finished,
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::UnknownTask { suite, task } => {
                write!(f, "no {suite} task `{task}` (see `steprl tasks`)")
            }
            SimError::ActionOutOfRange { index, n_actions } => {
                write!(
                    f,
                    "action {index} is outside the discrete space 0..{n_actions}"
                )
            }
            SimError::Finished => write!(f, "the episode has finished"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toy::ToyAct;

    #[test]
    fn labels_follow_the_index_order() {
        assert_eq!(ToyAct::labels(), ["wait", "done"]);
        assert_eq!(ToyAct::all().map(ToyAct::index).collect::<Vec<_>>(), [0, 1]);
    }

    #[test]
    fn messages_name_the_suite_and_the_space() {
        let e = SimError::UnknownTask {
            suite: "toy",
            task: "t".into(),
        };
        assert_eq!(e.to_string(), "no toy task `t` (see `steprl tasks`)");
        let e = SimError::ActionOutOfRange {
            index: 9,
            n_actions: 3,
        };
        assert_eq!(e.to_string(), "action 9 is outside the discrete space 0..3");
    }

    #[test]
    fn only_masked_steps_carry_info() {
        let mut o = Outcome {
            done: false,
            truncated: false,
            invalid: false,
        };
        assert_eq!(o.info_json(), "");
        o.invalid = true;
        assert_eq!(o.info_json(), r#"{"invalid":true}"#);
    }
}

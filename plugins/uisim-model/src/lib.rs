//! uisim: a simulated phone task suite in the spirit of AndroidWorld — apps (settings,
//! contacts, notes, clock, messages), screens of UI elements, 40+ tasks over four
//! difficulty levels with random parameters per seed, a discrete action space, a
//! fixed token vocabulary, a judge, and reference solutions.
//!
//! Pure logic with no plugin dependency: [`Uisim`] is the suite as a `sim_kit::Suite`,
//! which the `uisim` and `uisim-checker` plugins export, and the host's tests and
//! benchmarks call it natively.

pub mod apps;
pub mod judge;
pub mod observe;
pub mod sim;
pub mod solve;
mod suite;
pub mod tasks;
pub mod ui;
pub mod vocab;

pub use judge::judge;
pub use observe::OBS_TOKENS;
pub use sim::{Act, Episode, FinalState, N_ACTIONS};
pub use sim_kit::{JudgeError, Judgement, Obs, Outcome, SimAction, SimError};
pub use solve::reference_solution;
pub use suite::Uisim;
pub use tasks::{TaskDef, catalog};

/// Suite name reported in task info.
pub const SUITE: &str = "uisim";

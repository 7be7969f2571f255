//! What the simulated task suites (`uisim-model`, `shellsim-model`) share: the
//! deterministic PRNG, the episode, action and judgement types, the [`Suite`] trait a
//! suite implements, and the macros that export a suite as environment and
//! reward-checker plugins.
//!
//! Pure Rust with no plugin dependency: the models use it natively, and the export
//! macros expand the `steprl-plugin` glue inside each plugin crate, with that crate's
//! own world feature.

pub mod check;
pub mod env;
pub mod judge;
pub mod rng;
pub mod sim;
pub mod suite;
#[cfg(test)]
mod toy;

pub use judge::{JudgeError, Judgement};
pub use rng::Rng;
pub use sim::{Obs, Outcome, SimAction, SimError};
pub use suite::{SimEpisode, Suite, TaskEntry};

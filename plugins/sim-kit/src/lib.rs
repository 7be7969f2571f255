//! What the simulated task suites (`uisim-model`, `shellsim-model`) share: the
//! deterministic PRNG (re-exported from `steprl-core`), the episode, action and
//! judgement types, the [`Suite`] trait a suite implements, and the macros that export
//! a suite as environment and reward-checker plugins.
//!
//! Pure Rust with no plugin dependency: the models use it natively, and the export
//! macros expand the `steprl-plugin` glue inside each plugin crate, with that crate's
//! own world feature.

pub mod check;
pub mod demos;
pub mod env;
pub mod judge;
pub mod sim;
pub mod suite;
#[cfg(test)]
mod toy;

pub use judge::{JudgeError, Judgement};
pub use sim::{Obs, Outcome, SimAction, SimError};
/// The suites draw task instances with the host's SplitMix64 (`steprl-core`), so the
/// generator has one implementation.
pub use steprl_core::rng::SplitMix as Rng;
pub use suite::{SimEpisode, Suite, TaskEntry};

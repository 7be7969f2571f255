//! steprl's domain types and the host-agnostic plugin traits: everything above the
//! sandbox talks to environments, reward checkers and resamplers through these, in
//! plain Rust types, without seeing wasmtime.

pub mod error;
pub mod plugin;
pub mod policy;
pub mod rng;
pub mod types;
pub mod validate;

pub use error::{CallError, GuestError, TrapKind};
pub use plugin::{EnvInstance, Environment, EpisodeId, Resampler, RewardChecker};
pub use policy::Policy;
pub use rng::SplitMix;
pub use types::{
    Action, ActionSpec, EnvInfo, Image, ImageShape, Observation, ObservationParts, ObservationSpec,
    PlanRequest, StepResult, TaskInfo, TaskStat, TrajectorySummary, Verdict,
};

//! steprl's domain types and the host-agnostic plugin traits: everything above the
//! sandbox talks to environments, reward checkers and resamplers through these, in
//! plain Rust types, without seeing wasmtime — and to policies and learners without
//! seeing burn.

pub mod error;
pub mod failpoint;
pub mod learner;
pub mod limits;
pub mod metric_groups;
pub mod plugin;
pub mod policy;
pub mod rng;
pub mod scorable;
pub mod seeds;
pub mod types;
pub mod validate;

pub use error::{CallError, GuestError, TrapKind};
pub use learner::{Candidates, Learner, SaveError, State, StepSample, UpdateStats};
pub use plugin::{EnvInstance, Environment, EpisodeId, Resampler, RewardChecker};
pub use policy::{
    Completion, Decision, Policy, Sampling, Transition, View, action_mask, anchor, decide_among,
    discrete_decisions, sample_action,
};
pub use rng::SplitMix;
pub use types::{
    Action, ActionSpec, Demo, EnvInfo, Image, ImageShape, Observation, ObservationParts,
    ObservationSpec, PlanRequest, StepResult, StepSettings, TaskInfo, TaskStat, TrajectorySummary,
    Verdict,
};

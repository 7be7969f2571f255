//! The default sandbox limits, one source for the sandbox's `Limits` and the run
//! config's `[limits]` table (which cannot see the sandbox crate).

/// Deadline of `init` and the declaration calls, in milliseconds.
pub const INIT_MS: u64 = 60_000;
/// Deadline of `episode.start`, `episode.reset` and `episode.final-state`.
pub const ENV_RESET_MS: u64 = 30_000;
/// Deadline of one `episode.step`.
pub const ENV_STEP_MS: u64 = 5_000;
/// Deadline of one reward check.
pub const CHECK_MS: u64 = 30_000;
/// Deadline of one resampling plan.
pub const PLAN_MS: u64 = 10_000;
/// Cap on one instance's linear memories together, in MiB.
pub const MEMORY_MIB: u64 = 256;

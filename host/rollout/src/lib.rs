//! Rollouts: many episodes at once, one environment instance per lane, batched policy
//! inference over every lane waiting for an action, a reward check when an episode
//! ends, and the budget counted in environment steps and trajectories. A plugin failure
//! ends that episode as failed-by-plugin (excluded from success rates and training);
//! the rest carry on.
//!
//! Scheduling is deterministic by default (lock-step turns): lanes are filled in plan
//! order, batches are built in lane order, and each episode samples its actions from
//! its own seeded stream — the same plan, seed and policy give the same trajectories.
//! Free-running lanes (`Stepping::Free`, for server fleets) step each on its own, so a
//! slow step holds up only its lane; their batches depend on timing.

//!
//! An environment that runs a pool of servers (VMs, emulators: the WIT `servers`
//! interface) gets one lane per server instead of `concurrency` lanes; a server that
//! stops answering leaves the pool, its episode is re-run on another one (reported
//! lost, never a task failure), and it is re-admitted when it answers again.

mod lanes;
mod pool;
mod servers;

pub use pool::{
    EpisodeResult, EpisodeSpec, Outcome, Pool, Progress, RolloutConfig, RolloutStats, Stepping,
};
pub use servers::{MAX_LOSSES, RolloutError, ServerHealth, health_table};
pub use steprl_core::Sampling;

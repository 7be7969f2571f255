//! Per-plugin limits (deadlines per call kind, memory cap, fuel) and the calls they
//! apply to.

use std::time::Duration;

/// The limits one plugin instance runs under. Every call has a deadline that traps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Deadline for `init` and the declaration calls (`tasks`, spaces).
    pub init: Duration,
    /// Deadline for `episode.start`, `episode.reset` and `episode.final-state`.
    pub env_reset: Duration,
    /// Deadline for one `episode.step`.
    pub env_step: Duration,
    /// Deadline for one reward check.
    pub check: Duration,
    /// Deadline for one resampling plan.
    pub plan: Duration,
    /// Cap on the instance's linear memories together, in bytes.
    pub memory_bytes: u64,
    /// Fuel given to each call (deterministic instruction budget); `None` = unmetered.
    /// Only honoured when the sandbox was built with fuel metering on.
    pub fuel_per_call: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        use steprl_core::limits as d;
        Limits {
            init: Duration::from_millis(d::INIT_MS),
            env_reset: Duration::from_millis(d::ENV_RESET_MS),
            env_step: Duration::from_millis(d::ENV_STEP_MS),
            check: Duration::from_millis(d::CHECK_MS),
            plan: Duration::from_millis(d::PLAN_MS),
            memory_bytes: d::MEMORY_MIB * 1024 * 1024,
            fuel_per_call: None,
        }
    }
}

/// A call into a plugin; it picks the deadline and names the call in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `init`
    Init,
    /// `tasks`
    Tasks,
    /// `observation-space`
    ObservationSpace,
    /// `action-space`
    ActionSpace,
    /// `episode.start`
    Start,
    /// `episode.reset`
    Reset,
    /// `episode.step`
    Step,
    /// `episode.final-state`
    FinalState,
    /// dropping an `episode` resource
    DropEpisode,
    /// `lifecycle.shutdown`
    Shutdown,
    /// `servers.names`
    Servers,
    /// `servers.health`
    Health,
    /// `servers.serve`
    Serve,
    /// `check`
    Check,
    /// `plan`
    Plan,
}

impl Call {
    /// The WIT name of the call, as errors show it.
    pub fn name(self) -> &'static str {
        match self {
            Call::Init => "init",
            Call::Tasks => "tasks",
            Call::ObservationSpace => "observation-space",
            Call::ActionSpace => "action-space",
            Call::Start => "episode.start",
            Call::Reset => "episode.reset",
            Call::Step => "episode.step",
            Call::FinalState => "episode.final-state",
            Call::DropEpisode => "episode.drop",
            Call::Shutdown => "lifecycle.shutdown",
            Call::Servers => "servers.names",
            Call::Health => "servers.health",
            Call::Serve => "servers.serve",
            Call::Check => "check",
            Call::Plan => "plan",
        }
    }

    /// The deadline of this call under `limits`, and the config key that sets it.
    pub fn deadline(self, limits: &Limits) -> (Duration, &'static str) {
        match self {
            Call::Init
            | Call::Tasks
            | Call::ObservationSpace
            | Call::ActionSpace
            | Call::Servers => (limits.init, "limits.init_ms"),
            Call::Start
            | Call::Reset
            | Call::FinalState
            | Call::DropEpisode
            | Call::Shutdown
            | Call::Health
            | Call::Serve => (limits.env_reset, "limits.env_reset_ms"),
            Call::Step => (limits.env_step, "limits.env_step_ms"),
            Call::Check => (limits.check, "limits.check_ms"),
            Call::Plan => (limits.plan, "limits.plan_ms"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_call_kind_gets_its_own_deadline_and_key() {
        let l = Limits {
            env_step: Duration::from_millis(7),
            check: Duration::from_millis(11),
            plan: Duration::from_millis(13),
            ..Limits::default()
        };
        assert_eq!(
            Call::Step.deadline(&l),
            (Duration::from_millis(7), "limits.env_step_ms")
        );
        assert_eq!(
            Call::Check.deadline(&l),
            (Duration::from_millis(11), "limits.check_ms")
        );
        assert_eq!(
            Call::Plan.deadline(&l),
            (Duration::from_millis(13), "limits.plan_ms")
        );
        assert_eq!(Call::Reset.deadline(&l).1, "limits.env_reset_ms");
        assert_eq!(Call::Init.deadline(&l).1, "limits.init_ms");
        assert_eq!(Call::Servers.deadline(&l).1, "limits.init_ms");
        assert_eq!(Call::Health.deadline(&l).1, "limits.env_reset_ms");
        assert_eq!(Call::Serve.deadline(&l).1, "limits.env_reset_ms");
    }
}

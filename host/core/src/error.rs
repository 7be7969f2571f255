//! Errors of plugin calls: what a guest reported, and what the sandbox stopped.

use std::fmt;
use std::time::Duration;

/// An error a plugin itself returned (the WIT `plugin-error` variant).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuestError {
    /// `init` rejected its configuration.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// No such task.
    #[error("unknown task `{0}`")]
    UnknownTask(String),
    /// The action is not valid now.
    #[error("invalid action: {0}")]
    InvalidAction(String),
    /// The episode already ended.
    #[error("the episode has already finished")]
    EpisodeFinished,
    /// A malformed input.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// An external service failed.
    #[error("external service failed: {0}")]
    External(String),
    /// Unsupported operation or task feature.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Any other guest failure.
    #[error("internal plugin error: {0}")]
    Internal(String),
}

/// Which sandbox limit (if any) stopped a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrapKind {
    /// The call ran past its deadline (`limit`, set by the named config key).
    Deadline {
        /// The deadline that was exceeded.
        limit: Duration,
        /// The config key that sets it.
        key: &'static str,
    },
    /// The guest trapped after a memory growth beyond its cap was denied.
    Memory {
        /// The cap in bytes.
        limit_bytes: u64,
    },
    /// The call used up its fuel.
    Fuel {
        /// Fuel given to the call.
        limit: u64,
    },
    /// The guest recursed past wasm's stack limit.
    StackOverflow,
    /// The guest trapped on its own (panic, unreachable, out-of-bounds access...): the
    /// trap's one-line reason (its wasm backtrace is logged once per distinct trap).
    Guest(String),
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrapKind::Deadline { limit, key } => write!(
                f,
                "deadline of {} exceeded (raise `{key}` if the plugin needs longer)",
                fmt_duration(*limit)
            ),
            TrapKind::Memory { limit_bytes } => write!(
                f,
                "memory cap of {} MiB reached (raise `limits.memory_mib` if the plugin needs more)",
                limit_bytes / (1024 * 1024)
            ),
            TrapKind::Fuel { limit } => write!(
                f,
                "fuel limit of {limit} exhausted (raise `limits.fuel_per_call`)"
            ),
            TrapKind::StackOverflow => f.write_str(
                "stack overflow: the guest recursed past wasm's call-stack limit (unbounded recursion?)",
            ),
            TrapKind::Guest(msg) => write!(f, "guest trap: {msg}"),
        }
    }
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Why a call into a plugin failed. Every variant names the plugin and the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The plugin ran and returned an error.
    #[error("plugin `{plugin}` returned an error from `{call}`: {error}")]
    Guest {
        /// Plugin name.
        plugin: String,
        /// The WIT function called, e.g. `episode.step`.
        call: &'static str,
        /// What the plugin said.
        error: GuestError,
    },
    /// The sandbox stopped the call; the instance was dropped and will be re-created.
    #[error(
        "plugin `{plugin}` was stopped in `{call}`: {kind}; its instance was dropped and will be re-created"
    )]
    Trap {
        /// Plugin name.
        plugin: String,
        /// The WIT function called.
        call: &'static str,
        /// Which limit, or the guest's own trap.
        kind: TrapKind,
    },
    /// The episode handle belongs to an instance that was re-created after a trap.
    #[error(
        "plugin `{plugin}`: episode {episode} was lost when its instance was re-created after a trap"
    )]
    EpisodeLost {
        /// Plugin name.
        plugin: String,
        /// The lost episode.
        episode: u64,
    },
    /// The plugin answered something that breaks the contract (e.g. wrong mask length).
    #[error("plugin `{plugin}` broke the contract in `{call}`: {message}")]
    Contract {
        /// Plugin name.
        plugin: String,
        /// The WIT function called.
        call: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The host could not run the call at all (instantiation failed, ...).
    #[error("plugin `{plugin}`: `{call}` could not run: {message}")]
    Host {
        /// Plugin name.
        plugin: String,
        /// The WIT function called.
        call: &'static str,
        /// What failed.
        message: String,
    },
}

impl CallError {
    /// Whether the sandbox stopped the call (deadline, memory, fuel, guest trap).
    pub fn is_trap(&self) -> bool {
        matches!(self, CallError::Trap { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_message_names_plugin_call_and_limit() {
        let e = CallError::Trap {
            plugin: "uisim".into(),
            call: "episode.step",
            kind: TrapKind::Deadline {
                limit: Duration::from_secs(5),
                key: "limits.env_step_ms",
            },
        };
        let s = e.to_string();
        assert!(s.contains("`uisim`"), "{s}");
        assert!(s.contains("`episode.step`"), "{s}");
        assert!(s.contains("deadline of 5 s"), "{s}");
        assert!(s.contains("limits.env_step_ms"), "{s}");
    }

    #[test]
    fn memory_and_fuel_messages_name_their_keys() {
        let m = TrapKind::Memory {
            limit_bytes: 256 * 1024 * 1024,
        }
        .to_string();
        assert!(
            m.contains("256 MiB") && m.contains("limits.memory_mib"),
            "{m}"
        );
        let f = TrapKind::Fuel { limit: 1000 }.to_string();
        assert!(
            f.contains("1000") && f.contains("limits.fuel_per_call"),
            "{f}"
        );
        let d = TrapKind::Deadline {
            limit: Duration::from_millis(250),
            key: "k",
        }
        .to_string();
        assert!(d.contains("250 ms"), "{d}");
    }
}

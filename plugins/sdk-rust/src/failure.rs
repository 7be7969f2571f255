//! One plain failure type that adapter crates map their errors into; every world's
//! `PluginError` converts from it, so a plugin needs no per-variant match of its own.

use std::fmt;

/// A plugin failure, variant for variant the WIT `plugin-error`, usable natively (model
/// crates implement `From<TheirError> for Failure` and test it without a component).
/// In a plugin, `env::plugin_error`, `check::plugin_error` and `resample::plugin_error`
/// turn anything that converts into it into the world's `PluginError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The configuration JSON given to `init` was rejected: which key, and why.
    InvalidConfig(String),
    /// No task with this id exists in the plugin.
    UnknownTask(String),
    /// The action is not valid in the current state.
    InvalidAction(String),
    /// The episode already ended and cannot step further.
    EpisodeFinished,
    /// An input other than config or action was malformed.
    InvalidInput(String),
    /// A service outside the sandbox (VM, emulator, HTTP server) failed or refused.
    External(String),
    /// The plugin does not support this operation or task feature.
    Unsupported(String),
    /// Any other failure inside the plugin.
    Internal(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::InvalidConfig(m) => write!(f, "invalid config: {m}"),
            Failure::UnknownTask(m) => write!(f, "unknown task: {m}"),
            Failure::InvalidAction(m) => write!(f, "invalid action: {m}"),
            Failure::EpisodeFinished => f.write_str("the episode already finished"),
            Failure::InvalidInput(m) => write!(f, "invalid input: {m}"),
            Failure::External(m) => write!(f, "external service: {m}"),
            Failure::Unsupported(m) => write!(f, "unsupported: {m}"),
            Failure::Internal(m) => write!(f, "internal: {m}"),
        }
    }
}

impl std::error::Error for Failure {}

/// `impl From<Failure> for $error` for a world's generated `plugin-error` type (used by
/// whichever world modules the enabled features compile).
#[allow(unused_macros)]
macro_rules! failure_into_plugin_error {
    ($error:ty) => {
        impl From<$crate::Failure> for $error {
            fn from(f: $crate::Failure) -> Self {
                use $crate::Failure as F;
                match f {
                    F::InvalidConfig(m) => Self::InvalidConfig(m),
                    F::UnknownTask(m) => Self::UnknownTask(m),
                    F::InvalidAction(m) => Self::InvalidAction(m),
                    F::EpisodeFinished => Self::EpisodeFinished,
                    F::InvalidInput(m) => Self::InvalidInput(m),
                    F::External(m) => Self::External(m),
                    F::Unsupported(m) => Self::Unsupported(m),
                    F::Internal(m) => Self::Internal(m),
                }
            }
        }

        /// `e` as this world's `PluginError`, for `.map_err(plugin_error)` on anything
        /// that converts into [`Failure`](crate::Failure).
        pub fn plugin_error(e: impl Into<$crate::Failure>) -> $error {
            e.into().into()
        }
    };
}
#[allow(unused_imports)]
pub(crate) use failure_into_plugin_error;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_say_their_kind_and_message() {
        assert_eq!(
            Failure::External("GET http://h:1/health: refused".into()).to_string(),
            "external service: GET http://h:1/health: refused"
        );
        assert_eq!(
            Failure::EpisodeFinished.to_string(),
            "the episode already finished"
        );
    }
}

//! Structured logging to the host (`steprl:plugin/log`); lines appear in the host log
//! prefixed with the plugin's name. Outside a component (native tests) they go to
//! stderr.

/// Log severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Debugging details.
    Debug,
    /// Normal progress.
    Info,
    /// Recovered problems.
    Warn,
    /// Failures.
    Error,
}

/// Emit one log record.
pub fn log(level: Level, message: &str) {
    imp::log(level, message)
}

/// Log at info level.
pub fn info(message: &str) {
    log(Level::Info, message)
}

/// Log at warn level.
pub fn warn(message: &str) {
    log(Level::Warn, message)
}

/// Log at debug level.
pub fn debug(message: &str) {
    log(Level::Debug, message)
}

#[cfg(all(target_arch = "wasm32", feature = "environment"))]
mod imp {
    use crate::env::bindings::steprl::plugin::log as wit;
    pub(super) fn log(level: super::Level, message: &str) {
        wit::log(super::convert!(level, wit::Level), message)
    }
}

#[cfg(all(
    target_arch = "wasm32",
    feature = "reward-checker",
    not(feature = "environment")
))]
mod imp {
    use crate::check::bindings::steprl::plugin::log as wit;
    pub(super) fn log(level: super::Level, message: &str) {
        wit::log(super::convert!(level, wit::Level), message)
    }
}

#[cfg(all(
    target_arch = "wasm32",
    feature = "resampler",
    not(feature = "environment"),
    not(feature = "reward-checker")
))]
mod imp {
    use crate::resample::bindings::steprl::plugin::log as wit;
    pub(super) fn log(level: super::Level, message: &str) {
        wit::log(super::convert!(level, wit::Level), message)
    }
}

#[cfg(not(all(
    target_arch = "wasm32",
    any(
        feature = "environment",
        feature = "reward-checker",
        feature = "resampler"
    )
)))]
mod imp {
    pub(super) fn log(level: super::Level, message: &str) {
        eprintln!("[{level:?}] {message}");
    }
}

#[allow(unused_macros)]
macro_rules! convert {
    ($level:expr, $wit:path) => {{
        use $wit as W;
        match $level {
            super::Level::Trace => W::Trace,
            super::Level::Debug => W::Debug,
            super::Level::Info => W::Info,
            super::Level::Warn => W::Warn,
            super::Level::Error => W::Error,
        }
    }};
}
#[allow(unused_imports)]
pub(crate) use convert;

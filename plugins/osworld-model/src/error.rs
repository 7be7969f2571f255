//! The errors of the osworld adapter's logic, one variant per way a call can fail,
//! each mapping onto one `plugin-error` case.

/// Why an adapter operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OsworldError {
    /// The plugin configuration is invalid (maps to `invalid-config`).
    #[error("{0}")]
    InvalidConfig(String),
    /// A task file could not be read or is not an OSWorld task.
    #[error("{file}: {message}")]
    InvalidTask {
        /// The task file (guest path).
        file: String,
        /// What is wrong.
        message: String,
    },
    /// No task with this id (maps to `unknown-task`).
    #[error("{0}")]
    UnknownTask(String),
    /// The task uses a setup step, getter or action the adapter does not implement
    /// (maps to `unsupported`).
    #[error("{0}")]
    Unsupported(String),
    /// The action is malformed, out of range or masked (maps to `invalid-action`).
    #[error("{0}")]
    InvalidAction(String),
    /// The episode already ended (maps to `episode-finished`).
    #[error("the episode already ended")]
    Finished,
    /// The VM server failed or refused, or a setup step failed (maps to `external`).
    #[error("{0}")]
    External(String),
    /// A file the task needs is not in the granted cache directory (maps to
    /// `external`: the fix is outside the plugin).
    #[error("{0}")]
    Cache(String),
    /// A bug or an impossible state (maps to `internal`).
    #[error("{0}")]
    Internal(String),
}

/// What stands in for the client password in every message the adapter gives out.
pub const REDACTED: &str = "[client password]";

/// `message` with every occurrence of `secret` (the VM's client password, which the
/// `{CLIENT_PASSWORD}` placeholder puts into setup commands) replaced by [`REDACTED`].
pub fn redact(message: &str, secret: &str) -> String {
    if secret.is_empty() {
        message.to_owned()
    } else {
        message.replace(secret, REDACTED)
    }
}

impl OsworldError {
    /// The same error with `secret` redacted from its message.
    pub fn redacted(self, secret: &str) -> Self {
        let r = |m: String| redact(&m, secret);
        match self {
            OsworldError::InvalidConfig(m) => OsworldError::InvalidConfig(r(m)),
            OsworldError::InvalidTask { file, message } => OsworldError::InvalidTask {
                file,
                message: r(message),
            },
            OsworldError::UnknownTask(m) => OsworldError::UnknownTask(r(m)),
            OsworldError::Unsupported(m) => OsworldError::Unsupported(r(m)),
            OsworldError::InvalidAction(m) => OsworldError::InvalidAction(r(m)),
            OsworldError::Finished => OsworldError::Finished,
            OsworldError::External(m) => OsworldError::External(r(m)),
            OsworldError::Cache(m) => OsworldError::Cache(r(m)),
            OsworldError::Internal(m) => OsworldError::Internal(r(m)),
        }
    }
}

impl From<OsworldError> for steprl_plugin::Failure {
    /// Each variant onto its `plugin-error` case (a bad task file is a config error, a
    /// missing cache file an external one).
    fn from(e: OsworldError) -> Self {
        use steprl_plugin::Failure as F;
        match e {
            OsworldError::InvalidConfig(m) => F::InvalidConfig(m),
            OsworldError::InvalidTask { .. } => F::InvalidConfig(e.to_string()),
            OsworldError::UnknownTask(m) => F::UnknownTask(m),
            OsworldError::Unsupported(m) => F::Unsupported(m),
            OsworldError::InvalidAction(m) => F::InvalidAction(m),
            OsworldError::Finished => F::EpisodeFinished,
            OsworldError::External(m) | OsworldError::Cache(m) => F::External(m),
            OsworldError::Internal(m) => F::Internal(m),
        }
    }
}

/// Result alias of the adapter's logic.
pub type Result<T, E = OsworldError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use steprl_plugin::Failure;

    #[test]
    fn every_variant_maps_onto_its_plugin_error_case() {
        let m = || "m".to_owned();
        let cases = [
            (
                OsworldError::InvalidConfig(m()),
                Failure::InvalidConfig(m()),
            ),
            (
                OsworldError::InvalidTask {
                    file: "tasks/a.json".into(),
                    message: "not JSON".into(),
                },
                Failure::InvalidConfig("tasks/a.json: not JSON".into()),
            ),
            (OsworldError::UnknownTask(m()), Failure::UnknownTask(m())),
            (OsworldError::Unsupported(m()), Failure::Unsupported(m())),
            (
                OsworldError::InvalidAction(m()),
                Failure::InvalidAction(m()),
            ),
            (OsworldError::Finished, Failure::EpisodeFinished),
            (OsworldError::External(m()), Failure::External(m())),
            (OsworldError::Cache(m()), Failure::External(m())),
            (OsworldError::Internal(m()), Failure::Internal(m())),
        ];
        for (e, want) in cases {
            assert_eq!(Failure::from(e), want);
        }
    }
}

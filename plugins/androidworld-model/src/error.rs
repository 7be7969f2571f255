//! The adapter's error type; each variant maps onto one `plugin-error` case.

/// Why an adapter call failed. Each variant becomes the WIT `plugin-error` case of the
/// same name through [`steprl_plugin::Failure`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwError {
    /// The plugin configuration was rejected: which key, and why.
    #[error("{0}")]
    InvalidConfig(String),
    /// No task with this id is offered.
    #[error("{0}")]
    UnknownTask(String),
    /// The action is malformed or not valid now.
    #[error("{0}")]
    InvalidAction(String),
    /// The episode already ended.
    #[error("the episode already ended")]
    EpisodeFinished,
    /// A malformed input other than config or action (e.g. final-state JSON).
    #[error("{0}")]
    InvalidInput(String),
    /// The AndroidWorld server failed, refused, or answered something unexpected:
    /// the message names the request, the status and the server's detail.
    #[error("{0}")]
    External(String),
    /// A call made in the wrong order (e.g. `step` before `reset`).
    #[error("{0}")]
    Internal(String),
}

impl From<AwError> for steprl_plugin::Failure {
    fn from(e: AwError) -> Self {
        use steprl_plugin::Failure as F;
        match e {
            AwError::InvalidConfig(m) => F::InvalidConfig(m),
            AwError::UnknownTask(m) => F::UnknownTask(m),
            AwError::InvalidAction(m) => F::InvalidAction(m),
            AwError::EpisodeFinished => F::EpisodeFinished,
            AwError::InvalidInput(m) => F::InvalidInput(m),
            AwError::External(m) => F::External(m),
            AwError::Internal(m) => F::Internal(m),
        }
    }
}

/// Shorthand for results of adapter calls.
pub type Result<T, E = AwError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use steprl_plugin::Failure;

    #[test]
    fn every_variant_maps_onto_the_plugin_error_case_of_its_name() {
        let m = || "m".to_owned();
        let cases = [
            (AwError::InvalidConfig(m()), Failure::InvalidConfig(m())),
            (AwError::UnknownTask(m()), Failure::UnknownTask(m())),
            (AwError::InvalidAction(m()), Failure::InvalidAction(m())),
            (AwError::EpisodeFinished, Failure::EpisodeFinished),
            (AwError::InvalidInput(m()), Failure::InvalidInput(m())),
            (AwError::External(m()), Failure::External(m())),
            (AwError::Internal(m()), Failure::Internal(m())),
        ];
        for (e, want) in cases {
            assert_eq!(Failure::from(e), want);
        }
    }
}

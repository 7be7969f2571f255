//! The adapter's error type; each variant maps onto one `plugin-error` case.

/// Why an adapter call failed. The plugin crates map each variant onto the WIT
/// `plugin-error` case of the same name.
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

/// Shorthand for results of adapter calls.
pub type Result<T, E = AwError> = std::result::Result<T, E>;

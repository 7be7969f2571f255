//! The osworld environment adapter's pure logic, independent of the plugin SDK's
//! bindings (it uses only its pure `servers` list parser) and of HTTP: OSWorld task files, setup steps, accessibility-tree tables, tokens, actions,
//! getters and whole episodes over a [`vm::Transport`].

pub mod a11y;
pub mod actions;
pub mod catalog;
pub mod config;
pub mod error;
pub mod getters;
pub mod image;
pub mod session;
pub mod setup;
pub mod task;
pub mod tokens;
pub mod vm;

pub use config::{ActionSpaceKind, Config, ObservationKind};
pub use error::{OsworldError, Result};
pub use session::{AgentAction, Obs, Parts, Session, StepOut};
pub use task::Task;

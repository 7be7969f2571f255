//! AndroidWorld adapter logic in plain Rust, shared by the `androidworld` environment
//! plugin and the `androidworld-checker` reward checker, and unit-tested natively:
//! configuration, the discrete action table and its `JSONAction`s, raw `JSONAction`
//! validation, screenshots, the UI element list as text, task ids and step budgets, the
//! server protocol over a [`Transport`], episodes, and the suite's done-gating.
//!
//! The server is google-research/android_world's FastAPI server
//! (`server/android_server.py`): scalar arguments are query parameters, actions are
//! `JSONAction` bodies, screenshots are `{"pixels": H×W×3}` JSON.

pub mod actions;
pub mod config;
pub mod error;
pub mod gating;
pub mod json_action;
pub mod protocol;
pub mod screenshot;
pub mod session;
pub mod slots;
pub mod tasks;
pub mod ui_elements;

pub use actions::{ActionTable, Choice};
pub use config::Config;
pub use error::AwError;
pub use gating::{CheckerConfig, FinalState, Judgement, judge};
pub use json_action::JsonAction;
pub use protocol::{Call, Client, Method, Reply, Transport};
pub use screenshot::Frame;
pub use session::{AgentAction, Episode, Obs, Parts, StepOut, Suite, TaskEntry};
pub use tasks::TaskId;
pub use ui_elements::{UiElement, UiElementsMode};

/// The suite name reported in task infos.
pub const SUITE: &str = "androidworld";

//! `osworld-metrics`: OSWorld's reward checking in pure Rust, shared by the osworld
//! environment adapter (which builds a [`FinalState`]) and the `osworld-checker`
//! plugin (which scores it with [`score`]).
//!
//! - [`state`]: the final-state contract (serde types);
//! - [`score()`]: OSWorld's scoring rules (`DesktopEnv.evaluate`);
//! - [`metrics`]: the metrics this checker implements ([`SUPPORTED`]), one module
//!   per family, each following its OSWorld namesake with file contents in place
//!   of file paths;
//! - [`MetricError`]: why a state cannot be scored (an unimplemented metric is
//!   [`MetricError::Unsupported`], never a guessed score).
//!
//! ```
//! use osworld_metrics::{score, FinalState};
//!
//! let state: FinalState = serde_json::from_str(r#"{
//!     "task_id": "28cc3b7e-b194-4bc9-8353-d04c0f4d56d2",
//!     "evaluator": {"func": "exact_match"},
//!     "result": "100\n",
//!     "expected": {"expected": "100\n"},
//!     "last_action": "DONE"
//! }"#).unwrap();
//! let s = score(&state).unwrap();
//! assert_eq!(s.value, 1.0);
//! assert_eq!(s.to_string(), "exact_match = 1");
//! ```

pub mod error;
pub mod metrics;
pub mod py;
pub mod score;
pub mod state;

pub use error::MetricError;
pub use metrics::{SUPPORTED, evaluate};
pub use score::{MetricScore, Outcome, Score, score};
pub use state::{Conj, Evaluator, FinalState, Func, Map, Options, Value, is_fail_action};

/// Whether this checker implements the metric `name` (`infeasible` is a scoring
/// rule, not a metric, and is always handled).
pub fn is_supported(name: &str) -> bool {
    name == state::INFEASIBLE || SUPPORTED.contains(&name)
}

//! A training run: the resolved configuration, the round loop (plan → roll out → judge
//! → advantages → decomposition → augmentation → update → record), metrics as JSON
//! lines, atomic checkpoints, exact resume, and greedy evaluation. Plugins arrive as
//! the core traits and the learner as a burn device, so nothing here knows wasmtime.

pub mod checkpoint;
pub mod config;
pub mod eval;
pub mod lock;
pub mod metrics;
pub mod plugin_path;
pub mod rolled;
pub mod trainer;
pub mod warmstart;

pub use config::{ConfigError, Method, RunConfig};
pub use eval::EvalReport;
pub use metrics::RoundMetrics;
pub use trainer::{Plugins, Start, TrainError, Trainer, WarmStart};

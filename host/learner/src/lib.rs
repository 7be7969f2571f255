//! The learner: burn policy networks built from the environment's declared spaces, the
//! PPO-clipped objective over step samples, Adam with global-norm clipping, batched
//! inference, and checkpoints. The backend (CPU `flex`, or `wgpu`) is chosen at run
//! time through burn's `Device`, in [`backend`] only.

pub mod adam;
pub mod backend;
pub mod context;
pub mod learner;
pub mod lm_base;
pub mod lm_choice;
pub mod lm_generate;
pub mod net;
pub mod ppo;
pub mod prompt;

pub use backend::{BackendChoice, BackendError, Selected, select};

/// burn's device type, for crates that hold one without depending on burn.
pub mod burn_device {
    pub use burn::tensor::Device;
}
pub use context::Context;
pub use learner::{LearnerError, NetLearner};
pub use lm_base::LoraSettings;

/// What a checkpoint is loaded for: training needs the optimizer state (and the MLP's
/// KL reference) back; evaluation needs only the policy, so it never reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadFor {
    /// Resume training: policy, reference and optimizer state.
    Training,
    /// Act only: the policy.
    Evaluation,
}
pub use lm_choice::LmChoiceLearner;
pub use lm_generate::{GenerateSettings, LmGenerateLearner};
pub use net::{Finetune, LmMode, PolicyConfig, PolicyKind, Spaces};
pub use ppo::PpoConfig;
pub use steprl_core::UpdateStats;

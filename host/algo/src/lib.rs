//! STEP (Chen et al., arXiv 2511.13091) and its baselines as plain, tested functions
//! over slices and small structs — no tensors, no sandbox:
//!
//! - [`record`]: the smoothed per-task success-rate record ŝ;
//! - [`resample`]: `p_rep`, the task cache and the round plan (copy 0 always kept);
//! - [`advantage`]: STEP, T-GRPO and GiGPO advantages behind one enum;
//! - [`augment`]: step-level GRPO augmentation groups;
//! - [`strategies`]: resampling strategies to swap in (learning progress, curriculum);
//! - [`variant`]: the methods and ablations `steprl compare` runs, by name.
//!
//! Where the paper is silent, the choice made here follows `design.md` §5 and is
//! stated on the item that makes it.

pub mod advantage;
pub mod augment;
pub mod record;
pub mod resample;
pub mod strategies;
pub mod variant;

pub use advantage::{EstimatorParams, Method, Rollout, advantages};
pub use record::{Outcome, SuccessRecord, TaskRecord};
pub use resample::{ResampleParams, p_rep, plan};
pub use strategies::{CurriculumParams, ProgressParams, curriculum_plan, progress_plan};
pub use variant::Variant;

//! The `resample-curriculum` resampler plugin: a difficulty curriculum
//! (`steprl-algo`'s `curriculum_plan`). Configuration: `levels`, lists of task-id
//! prefixes from easiest to hardest (a task matching none is in the last level), and
//! `threshold` (0.6): a level opens once every level before it has a mean ŝ at or
//! above it (unseen tasks count as 0).

steprl_plugin::export_resampler!(resample_kit::Plugin<steprl_algo::CurriculumParams>);

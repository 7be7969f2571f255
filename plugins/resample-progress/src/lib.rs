//! The `resample-progress` resampler plugin: learning-progress prioritization
//! (`steprl-algo`'s `progress_plan`): unseen tasks first, then tasks drawn without
//! replacement by |ŝ − successes/attempts| + ε. Configuration: `epsilon` (0.05).

steprl_plugin::export_resampler!(resample_kit::Plugin<steprl_algo::ProgressParams>);

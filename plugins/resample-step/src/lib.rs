//! The `resample-step` resampler plugin: STEP's adaptive resampling (`steprl-algo`'s
//! `resample::plan`, the very code the host's tests check). Configuration: `s0`,
//! `kappa`, `adaptive` (false = uniform), `weighted` (draw replacements by 1 − ŝ).

steprl_plugin::export_resampler!(resample_kit::Plugin<steprl_algo::ResampleParams>);

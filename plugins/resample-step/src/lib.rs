//! The `resample-step` resampler plugin: STEP's adaptive resampling (`steprl-algo`'s
//! `resample::plan`, the very code the host's tests check). Configuration: `kappa`,
//! `weighted` (draw replacements by 1 − ŝ); s0 and `adaptive` (false = uniform) are the
//! host's `[algo.resample]`, read from each plan request.

steprl_plugin::export_resampler!(resample_kit::Plugin<steprl_algo::ResampleParams>);

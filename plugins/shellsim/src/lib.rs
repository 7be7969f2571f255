//! The `shellsim` environment plugin: the simulated file manager suite of
//! `shellsim-model`, exported through the `environment` world by `sim-kit`'s shared
//! glue.

sim_kit::export_suite_environment!(shellsim_model::Shellsim);

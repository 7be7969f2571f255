//! The `uisim` environment plugin: the simulated phone suite of `uisim-model`,
//! exported through the `environment` world by `sim-kit`'s shared glue.

sim_kit::export_suite_environment!(uisim_model::Uisim);

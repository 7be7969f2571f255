//! The `uisim-checker` reward-checker plugin: judges a uisim episode from the task,
//! the trajectory and the final state (goal reached, nothing else changed, agent said
//! done), rebuilding the expected state from the task id and seed; exported through the
//! `reward-checker` world by `sim-kit`'s shared glue.

sim_kit::export_suite_checker!(uisim_model::Uisim);

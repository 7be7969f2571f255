//! The `shellsim-checker` reward-checker plugin: judges a shellsim episode from the
//! task, the trajectory and the final file system (exactly the goal state, and the
//! agent said done), rebuilding the goal from the task id and seed; exported through
//! the `reward-checker` world by `sim-kit`'s shared glue.

sim_kit::export_suite_checker!(shellsim_model::Shellsim);

//! The `steprl` command line as a library: argument definitions, the commands, and the
//! conformance checks they run. `main.rs` only parses, runs and reports errors.

pub mod args;
pub mod commands;
pub mod conformance;
pub mod plugins;
pub mod table;

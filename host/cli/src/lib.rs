//! The `steprl` command line as a library: argument definitions and the commands (the
//! conformance checks they run are the `steprl-conformance` crate). `main.rs` only
//! parses, runs and reports errors.

pub mod args;
pub mod commands;
pub mod plugins;
pub mod table;

//! Guest SDK for steprl plugins written in Rust: one trait per plugin kind and an
//! export macro, with wit-bindgen hidden behind them.
//!
//! Enable the cargo feature of the world you implement (`environment`,
//! `reward-checker` or `resampler`), implement its trait, and export it:
//!
//! ```ignore
//! use steprl_plugin::env::*;
//!
//! struct MyEnv;
//! impl Environment for MyEnv { /* ... */ }
//! steprl_plugin::export_environment!(MyEnv);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the `.cdylib` output is
//! the component the host loads.

#[cfg(all(
    target_arch = "wasm32",
    any(
        all(feature = "environment", feature = "reward-checker"),
        all(feature = "environment", feature = "resampler"),
        all(feature = "reward-checker", feature = "resampler"),
    )
))]
compile_error!(
    "steprl-plugin: enable exactly one world feature for a wasm build (a component exports one world); \
     build each plugin crate in its own `cargo build` so cargo does not unify sibling plugins' features"
);

// Lets the generated bindings and export macros name this crate by its public path,
// both here and in the plugin crates that expand them.
extern crate self as steprl_plugin;

mod state;

mod failure;
pub use failure::Failure;

#[cfg(feature = "environment")]
pub mod env;

#[cfg(feature = "reward-checker")]
pub mod check;

#[cfg(feature = "resampler")]
pub mod resample;

pub mod log;

pub mod servers;

#[cfg(any(feature = "http", test))]
pub mod http;

#[doc(hidden)]
pub mod __private {
    pub use crate::state::{get, set};
    pub use wit_bindgen;
}

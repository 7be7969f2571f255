//! steprl's sandbox: runs environment, reward-checker and resampler plugins as
//! WebAssembly components under wasmtime — deny-by-default WASI, a trapping deadline on
//! every call, a memory cap per instance, optional fuel, re-creation after a trap, and
//! an on-disk cache of compiled components. Nothing outside this crate sees wasmtime.

mod bindings;
mod cache;
mod checker;
mod env;
mod error;
mod grants;
mod host;
mod kind;
mod limits;
mod loaded;
mod log_budget;
mod plugin;
mod resampler;
mod sandbox;
mod trap_log;

pub use bindings::WIT_VERSION;
pub use checker::WasmRewardChecker;
pub use env::{WasmEnvInstance, WasmEnvironment};
pub use error::LoadError;
pub use grants::{DirGrant, GrantError, Grants};
pub use kind::{ExportedItem, PluginKind};
pub use limits::{Call, Limits};
pub use loaded::LoadedPlugin;
pub use plugin::PluginOptions;
pub use resampler::WasmResampler;
pub use sandbox::{InstancePool, Sandbox, SandboxConfig, default_cache_dir};

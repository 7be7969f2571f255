//! Errors of loading a plugin file; each names the file and says what would be valid.

use std::path::PathBuf;

use steprl_core::CallError;

use crate::kind::PluginKind;

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read plugin file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not WebAssembly at all.
    #[error(
        "{path} is not a WebAssembly file (no `\\0asm` header); a steprl plugin is a WASI 0.2 component (.wasm)"
    )]
    NotWasm {
        /// The file.
        path: PathBuf,
    },
    /// A core module where a component was expected.
    #[error(
        "{path} is a core WebAssembly module, not a component; build it for `wasm32-wasip2` (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule {
        /// The file.
        path: PathBuf,
    },
    /// The component failed to validate or compile.
    #[error("{path} failed to compile: {message}")]
    Compile {
        /// The file.
        path: PathBuf,
        /// The compiler's message.
        message: String,
    },
    /// The component exports none of the plugin interfaces.
    #[error(
        "{path} is not a steprl plugin: it exports [{found}], but a plugin exports one of `steprl:plugin/env@{supported}` (environment), `steprl:plugin/check@{supported}` (reward-checker) or `steprl:plugin/resample@{supported}` (resampler)",
        found = exports.join(", "),
        supported = crate::WIT_VERSION
    )]
    NotAPlugin {
        /// The file.
        path: PathBuf,
        /// What it does export.
        exports: Vec<String>,
    },
    /// A plugin built against a WIT version this host does not know.
    #[error(
        "{path} was built against `steprl:plugin@{found}`, but this host supports `steprl:plugin@{supported}`; rebuild the plugin against the WIT in this release",
        supported = crate::WIT_VERSION
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version it exports.
        found: String,
    },
    /// The plugin is of another kind than the one asked for.
    #[error("{path} is {found} plugin, but {expected} plugin is needed here")]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// What it is.
        found: PluginKind,
        /// What was asked for.
        expected: PluginKind,
    },
    /// The component imports something the sandbox does not grant.
    #[error("{path} cannot be linked: {message}")]
    Link {
        /// The file.
        path: PathBuf,
        /// Wasmtime's message, naming the missing import.
        message: String,
    },
    /// A grant in the run config cannot be honoured.
    #[error("plugin `{plugin}`: {source}")]
    Grant {
        /// The plugin's name.
        plugin: String,
        /// What is wrong with the grant.
        source: crate::grants::GrantError,
    },
    /// The plugin imports `wasi:http` but its run config grants no destination.
    #[error(
        "plugin `{plugin}` ({path}) makes HTTP requests (it imports `wasi:http`), but the run config grants it no network; add the servers it may reach as `host:port` to its `grants.http` (e.g. `[env.grants] http = [\"127.0.0.1:5000\"]`)"
    )]
    NetworkNotGranted {
        /// The plugin's name.
        plugin: String,
        /// The file.
        path: PathBuf,
    },
    /// The plugin's memory cap does not fit the sandbox's instance-pool memory slots.
    #[error(
        "plugin `{plugin}` may use {limit_mib} MiB of memory (limits.memory_mib), but the sandbox's instance pool reserves {slot_mib} MiB per linear memory; size the pool for the largest memory cap (InstancePool::new takes the limits) or lower the plugin's cap"
    )]
    MemoryOverPool {
        /// The plugin's name.
        plugin: String,
        /// The plugin's memory cap, in MiB (rounded up).
        limit_mib: u64,
        /// The pool's memory slot, in MiB (rounded down).
        slot_mib: u64,
    },
    /// The first instance failed to start or to answer its declaration calls.
    #[error(transparent)]
    Call(#[from] CallError),
}

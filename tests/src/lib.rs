//! Shared helpers of the end-to-end tests and benchmarks: where the built plugins are,
//! and a sandbox to load them in.

use std::path::PathBuf;

use steprl_sandbox::{LoadedPlugin, Sandbox, SandboxConfig};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// Path of a built plugin in `plugins/dist/`; panics with the fix when it is missing.
pub fn plugin_path(name: &str) -> PathBuf {
    let p = repo_root()
        .join("plugins/dist")
        .join(format!("{name}.wasm"));
    assert!(
        p.exists(),
        "{} is missing: build the plugins first with `plugins/build.sh`",
        p.display()
    );
    p
}

/// A sandbox using the default compile cache.
pub fn sandbox() -> Sandbox {
    Sandbox::new(SandboxConfig::default()).expect("sandbox starts")
}

/// Load a built plugin by name.
pub fn load(sandbox: &Sandbox, name: &str) -> LoadedPlugin {
    sandbox
        .load(plugin_path(name))
        .unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

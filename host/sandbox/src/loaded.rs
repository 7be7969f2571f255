//! A compiled, classified plugin file, ready to instantiate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::LoadError;
use crate::kind::{ExportedItem, PluginKind, collect_items};

/// A compiled, classified plugin file; instantiate it with the sandbox.
#[derive(Clone)]
pub struct LoadedPlugin {
    /// Name used in logs and errors (the file stem unless overridden).
    pub name: String,
    /// Where it came from.
    pub path: PathBuf,
    /// Which world it implements.
    pub kind: PluginKind,
    /// Size of the `.wasm` file.
    pub size_bytes: u64,
    /// Time to compile, or to load from the compile cache.
    pub compile_time: Duration,
    /// Whether the compiled artifact came from the cache.
    pub from_cache: bool,
    /// Exported functions and resources.
    pub exports: Vec<ExportedItem>,
    /// Imported interfaces (what the plugin asks the host for).
    pub imports: Vec<String>,
    pub(crate) component: Component,
}

impl LoadedPlugin {
    /// Check that the plugin is of `expected` kind.
    pub fn expect_kind(&self, expected: PluginKind) -> Result<(), LoadError> {
        if self.kind == expected {
            Ok(())
        } else {
            Err(LoadError::WrongKind {
                path: self.path.clone(),
                found: self.kind,
                expected,
            })
        }
    }

    /// Rename the plugin (the name appears in every log line and error).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
}

/// Classify a component by its exports; also lists them for `inspect`.
pub(crate) fn classify(
    engine: &Engine,
    component: &Component,
    path: &Path,
) -> Result<(PluginKind, Vec<ExportedItem>), LoadError> {
    let ty = component.component_type();
    let mut found = None;
    let mut names = Vec::new();
    let mut items = Vec::new();
    for (name, ext) in ty.exports(engine) {
        names.push(name.to_owned());
        collect_items(engine, name, &ext.ty, &mut items);
        let Some(rest) = name.strip_prefix("steprl:plugin/") else {
            continue;
        };
        let (iface, version) = rest.split_once('@').unwrap_or((rest, ""));
        let Some(kind) = [
            PluginKind::Environment,
            PluginKind::RewardChecker,
            PluginKind::Resampler,
        ]
        .into_iter()
        .find(|k| k.interface() == iface) else {
            continue;
        };
        if version != crate::WIT_VERSION {
            return Err(LoadError::UnsupportedVersion {
                path: path.to_owned(),
                found: if version.is_empty() {
                    "(unversioned)".to_owned()
                } else {
                    version.to_owned()
                },
            });
        }
        found = Some(kind);
    }
    match found {
        Some(kind) => Ok((kind, items)),
        None => Err(LoadError::NotAPlugin {
            path: path.to_owned(),
            exports: names,
        }),
    }
}

//! On-disk cache of compiled components, keyed by the content hash of the `.wasm`
//! bytes and the engine's compatibility hash, written atomically.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled artifacts live, or nowhere.
#[derive(Debug, Clone)]
pub(crate) struct CompileCache {
    dir: Option<PathBuf>,
}

impl CompileCache {
    pub(crate) fn new(dir: Option<PathBuf>) -> Self {
        CompileCache { dir }
    }

    /// The cache file for these bytes under this engine, if caching is on.
    pub(crate) fn path_for(&self, engine: &Engine, bytes: &[u8]) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let mut h = Sha256::new();
        h.update(bytes);
        // Fold in the engine's settings and wasmtime's version: an artifact compiled
        // under other settings must never be loaded.
        let mut compat = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut compat);
        h.update(compat.finish().to_le_bytes());
        let digest = h.finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Some(dir.join(format!("{hex}.cwasm")))
    }

    /// Load a cached artifact; `None` on a miss or an unreadable/stale file.
    pub(crate) fn load(&self, engine: &Engine, path: &Path) -> Option<Component> {
        if !path.exists() {
            return None;
        }
        // SAFETY: the file is one this cache wrote with `Component::serialize` for an
        // engine with the same compatibility hash (part of the file name); wasmtime
        // still checks the header and rejects mismatches, and we fall back to compiling.
        match unsafe { Component::deserialize_file(engine, path) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(
                    "ignoring unusable compile cache entry {}: {e}",
                    path.display()
                );
                None
            }
        }
    }

    /// Store an artifact (temp file + rename, so a crash never leaves half a file).
    /// Failures only cost a recompile next time, so they are logged, not returned.
    pub(crate) fn store(&self, path: &Path, component: &Component) {
        let result = (|| -> Result<(), String> {
            let bytes = component.serialize().map_err(|e| e.to_string())?;
            let dir = path.parent().ok_or("cache path has no parent")?;
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
            std::fs::rename(&tmp, path).map_err(|e| e.to_string())
        })();
        if let Err(e) = result {
            tracing::warn!("could not write compile cache {}: {e}", path.display());
        }
    }
}

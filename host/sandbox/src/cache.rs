//! On-disk cache of compiled components, keyed by the content hash of the `.wasm`
//! bytes and the engine's compatibility hash, written atomically. A cached artifact is
//! native code, so it is trusted only when it is exactly what this cache wrote: each
//! artifact has a SHA-256 written beside it and checked against the very bytes that
//! are deserialized (a mismatch is recompiled with a warning), and the cache directory
//! is created owner-only and not used at all when other users can write to it.

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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest file of artifact `path`.
fn digest_path(path: &Path) -> PathBuf {
    path.with_extension("cwasm.sha256")
}

/// Create `dir` (owner-only when created here) and check that only its owner, this
/// user, can write to it; otherwise why it cannot be trusted.
fn prepare(dir: &Path) -> Result<(), String> {
    let existed = dir.exists();
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if !existed {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| e.to_string())?;
        }
        let meta = std::fs::metadata(dir).map_err(|e| e.to_string())?;
        // SAFETY: getuid has no preconditions and cannot fail.
        let me = unsafe { libc::getuid() };
        if meta.uid() != me {
            return Err(format!(
                "it belongs to user {} (this process runs as {me})",
                meta.uid()
            ));
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o022 != 0 {
            return Err(format!(
                "other users can write to it (mode {mode:o}); `chmod go-w` it"
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = existed;
    Ok(())
}

impl CompileCache {
    /// A cache in `dir`, or none when `dir` is `None` or cannot be trusted (logged).
    pub(crate) fn new(dir: Option<PathBuf>) -> Self {
        let dir = dir.and_then(|d| match prepare(&d) {
            Ok(()) => Some(d),
            Err(why) => {
                tracing::warn!(
                    "not using the compile cache {}: {why}; plugins are compiled every time",
                    d.display()
                );
                None
            }
        });
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
        Some(dir.join(format!("{}.cwasm", hex(&h.finalize()))))
    }

    /// Load a cached artifact; `None` on a miss, or (with a warning) when the file does
    /// not match the digest written with it, or wasmtime refuses it.
    pub(crate) fn load(&self, engine: &Engine, path: &Path) -> Option<Component> {
        let bytes = std::fs::read(path).ok()?;
        let recorded = std::fs::read_to_string(digest_path(path)).unwrap_or_default();
        if recorded.trim() != hex(&Sha256::digest(&bytes)) {
            tracing::warn!(
                "compile cache entry {} does not match its recorded SHA-256; recompiling",
                path.display()
            );
            return None;
        }
        // SAFETY: these bytes are, digest for digest, an artifact this cache wrote with
        // `Component::serialize` for an engine with the same compatibility hash (part
        // of the file name), in a directory only this user can write to; wasmtime
        // still checks the header and rejects mismatches, and we fall back to compiling.
        match unsafe { Component::deserialize(engine, &bytes) } {
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

    /// Store an artifact and its digest (temp files + rename, digest last, so a crash
    /// never leaves a half file that passes the check). Failures only cost a recompile
    /// next time, so they are logged, not returned.
    pub(crate) fn store(&self, path: &Path, component: &Component) {
        let result = (|| -> Result<(), String> {
            let bytes = component.serialize().map_err(|e| e.to_string())?;
            let digest = hex(&Sha256::digest(&bytes));
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
            std::fs::rename(&tmp, path).map_err(|e| e.to_string())?;
            let sum = digest_path(path);
            let tmp = sum.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, digest).map_err(|e| e.to_string())?;
            std::fs::rename(&tmp, &sum).map_err(|e| e.to_string())
        })();
        if let Err(e) = result {
            tracing::warn!("could not write compile cache {}: {e}", path.display());
        }
    }
}

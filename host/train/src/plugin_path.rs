//! Plugins by name: `uisim` or `resample-step` instead of a path, found in the
//! directories of `STEPRL_PLUGIN_PATH` and then in the installed plugins' directory
//! (`plugins/build.sh --install` fills it).

use std::path::{Path, PathBuf};

/// The environment variable with extra plugin directories (`:`-separated, searched
/// first, in order).
pub const PATH_VAR: &str = "STEPRL_PLUGIN_PATH";

/// A plugin name could not be found.
#[derive(Debug, thiserror::Error)]
#[error(
    "plugin `{name}` was not found: looked for {name}.wasm in {}; give a path, add its directory to {PATH_VAR}, or install the shipped plugins with `plugins/build.sh --install`",
    searched_list(.searched)
)]
pub struct NotFound {
    /// The name asked for.
    pub name: String,
    /// The directories searched, in order.
    pub searched: Vec<PathBuf>,
}

fn searched_list(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        return "no directory (HOME and STEPRL_PLUGIN_PATH are unset)".into();
    }
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `reference` names a plugin rather than giving its path: one path component
/// without a `.wasm` extension (`uisim`, `resample-step`).
pub fn is_name(reference: &Path) -> bool {
    let mut parts = reference.components();
    matches!(
        (parts.next(), parts.next()),
        (Some(std::path::Component::Normal(_)), None)
    ) && reference.extension().is_none_or(|e| e != "wasm")
}

/// Where the shipped plugins are installed: `$XDG_DATA_HOME/steprl/plugins`, else
/// `~/.local/share/steprl/plugins`.
pub fn installed_dir() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/share"))
        })?;
    Some(data.join("steprl/plugins"))
}

/// The directories searched for plugin names, in order: `STEPRL_PLUGIN_PATH`'s, then
/// the installed plugins' directory.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os(PATH_VAR)
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    dirs.extend(installed_dir());
    dirs
}

/// The plugin file `reference` means: a path as given, or for a name the first
/// `NAME.wasm` in `dirs`.
pub fn resolve_in(reference: &Path, dirs: &[PathBuf]) -> Result<PathBuf, NotFound> {
    if !is_name(reference) {
        return Ok(reference.to_owned());
    }
    let file = format!("{}.wasm", reference.display());
    dirs.iter()
        .map(|d| d.join(&file))
        .find(|p| p.is_file())
        .ok_or_else(|| NotFound {
            name: reference.display().to_string(),
            searched: dirs.to_vec(),
        })
}

/// [`resolve_in`] the [`search_dirs`].
pub fn resolve(reference: &Path) -> Result<PathBuf, NotFound> {
    resolve_in(reference, &search_dirs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_single_components_without_the_wasm_extension() {
        for name in ["uisim", "resample-step", "my.plugin"] {
            assert!(is_name(Path::new(name)), "{name}");
        }
        for path in [
            "uisim.wasm",
            "./uisim",
            "dist/uisim",
            "/abs/uisim",
            "../uisim",
            "",
        ] {
            assert!(!is_name(Path::new(path)), "{path}");
        }
    }

    #[test]
    fn a_name_is_the_first_match_in_the_search_order_and_a_path_is_kept() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::write(b.path().join("uisim.wasm"), b"x").unwrap();
        std::fs::write(a.path().join("shellsim.wasm"), b"x").unwrap();
        std::fs::write(b.path().join("shellsim.wasm"), b"x").unwrap();
        let dirs = vec![a.path().to_owned(), b.path().to_owned()];
        assert_eq!(
            resolve_in(Path::new("uisim"), &dirs).unwrap(),
            b.path().join("uisim.wasm")
        );
        assert_eq!(
            resolve_in(Path::new("shellsim"), &dirs).unwrap(),
            a.path().join("shellsim.wasm"),
            "earlier directories shadow later ones"
        );
        assert_eq!(
            resolve_in(Path::new("x/uisim.wasm"), &dirs).unwrap(),
            Path::new("x/uisim.wasm")
        );
        let err = resolve_in(Path::new("nope"), &dirs)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("plugin `nope` was not found: looked for nope.wasm in"),
            "{err}"
        );
        assert!(err.contains(&a.path().display().to_string()), "{err}");
        assert!(
            err.contains("STEPRL_PLUGIN_PATH") && err.contains("--install"),
            "{err}"
        );
    }
}

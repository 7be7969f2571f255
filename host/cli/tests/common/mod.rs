//! Helpers shared by the CLI tests: the built plugins and running the binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A built plugin in plugins/dist (absolute path); panics with the fix if missing.
pub fn plugin(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../plugins/dist")
        .join(format!("{name}.wasm"));
    assert!(
        p.exists(),
        "{} is missing: run plugins/build.sh",
        p.display()
    );
    p.canonicalize().expect("plugin path resolves")
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root resolves")
}

/// Run `steprl` with `args`.
pub fn steprl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_steprl"))
        .args(args)
        .output()
        .expect("steprl runs")
}

/// `steprl plugin check ENV --with CHECKER` followed by `extra` flags.
pub fn check_with(env: &Path, checker: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "plugin",
        "check",
        env.to_str().unwrap(),
        "--with",
        checker.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    steprl(&args)
}

/// `steprl train CFG --backend cpu --out OUT`.
pub fn train_into(cfg: &Path, out: &Path) -> Output {
    steprl(&[
        "train",
        cfg.to_str().unwrap(),
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ])
}

/// (stdout, stderr) as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

//! `steprl plugin new`: every template (3 worlds × Rust, Python, JavaScript) is
//! generated, built with its own `sh build.sh`, and passes `steprl plugin check` — the
//! environments judged by their language's checker and replaying their known solutions.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{check_with, steprl, text};

/// Generate `name` (`world`, `lang`) into `dir` and build it; the built component.
fn generate_and_build(dir: &Path, name: &str, world: &str, lang: &str) -> PathBuf {
    let project = dir.join(name);
    let o = steprl(&[
        "plugin",
        "new",
        name,
        "--world",
        world,
        "--lang",
        lang,
        "--dir",
        project.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("build:  sh "), "{out}");
    let mut build = Command::new("sh");
    build.arg(project.join("build.sh"));
    if lang == "rust" {
        // A target directory of its own (cargo locks the one the tests run from), kept
        // between runs; offline, with the versions of the generated Cargo.lock.
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join("steprl-template-builds");
        build.env("CARGO_TARGET_DIR", target).arg("--offline");
    }
    if lang == "js" {
        let tools = std::env::var_os("STEPRL_JS_TOOLS")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                    .join(".cache/steprl-componentize-js")
            });
        assert!(
            tools
                .join("node_modules/@bytecodealliance/componentize-js")
                .is_dir(),
            "componentize-js is not installed in {}: run plugins/build.sh (it needs node and npm)",
            tools.display()
        );
        build.env("STEPRL_JS_TOOLS", tools);
    }
    let o = build.output().expect("sh runs");
    assert!(
        o.status.success(),
        "building the {lang} {world} template failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let wasm = project.join(format!("{name}.wasm"));
    assert!(wasm.is_file(), "{} was not built", wasm.display());
    wasm
}

#[test]
fn every_template_builds_and_passes_the_check() {
    let dir = tempfile::tempdir().unwrap();
    for lang in ["rust", "python", "js"] {
        let env = generate_and_build(dir.path(), &format!("{lang}-env"), "environment", lang);
        let checker = generate_and_build(
            dir.path(),
            &format!("{lang}-checker"),
            "reward-checker",
            lang,
        );
        let resampler =
            generate_and_build(dir.path(), &format!("{lang}-resampler"), "resampler", lang);
        let demos = env.with_file_name("demos.jsonl");
        let o = check_with(&env, &checker, &["--demos", demos.to_str().unwrap()]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{lang}:\n{out}\n{err}");
        assert!(out.contains("2 of 2 judged a success"), "{lang}: {out}");
        let o = steprl(&[
            "plugin",
            "check",
            checker.to_str().unwrap(),
            resampler.to_str().unwrap(),
        ]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{lang}:\n{out}\n{err}");
        assert_eq!(out.matches(": no violations").count(), 2, "{lang}: {out}");
    }
}

#[test]
fn a_taken_directory_and_a_bad_name_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.txt"), "x").unwrap();
    let o = steprl(&[
        "plugin",
        "new",
        "x",
        "--world",
        "resampler",
        "--lang",
        "python",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(err.contains("already exists and is not empty"), "{err}");
    let o = steprl(&[
        "plugin",
        "new",
        "My_Plugin",
        "--world",
        "resampler",
        "--lang",
        "rust",
    ]);
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(err.contains("cannot name a plugin"), "{err}");
}

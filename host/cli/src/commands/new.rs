//! `steprl plugin new`: a plugin project from the templates in `host/cli/templates`
//! (one per world and language, each building with `sh build.sh` and passing
//! `steprl plugin check` as generated).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::args::{NewArgs, NewLang, NewWorld};

/// One file of the WIT package as (its path in a project, its text).
macro_rules! wit {
    ($file:literal) => {
        (
            concat!("wit/", $file),
            include_str!(concat!("../../../../wit/v0.1.0/", $file)),
        )
    };
}

/// The WIT package, copied into Python and JavaScript projects (their build tools read
/// it); Rust projects get it through the SDK.
const WIT: [(&str, &str); 7] = [
    wit!("types.wit"),
    wit!("env.wit"),
    wit!("check.wit"),
    wit!("resample.wit"),
    wit!("lifecycle.wit"),
    wit!("servers.wit"),
    wit!("worlds.wit"),
];

/// Known solutions of the environment templates' two tasks (for `--demos`).
const DEMOS: &str = include_str!("../../templates/python/environment/demos.jsonl");

macro_rules! template {
    ($path:literal) => {
        include_str!(concat!("../../templates/", $path))
    };
}

/// The files of a project: (path inside it, text with `__NAME__`-style placeholders).
fn files(world: NewWorld, lang: NewLang) -> Vec<(&'static str, &'static str)> {
    let mut out = match (lang, world) {
        (NewLang::Rust, w) => vec![
            ("Cargo.toml", template!("rust/Cargo.toml")),
            ("build.sh", template!("rust/build.sh")),
            // The versions steprl itself builds with, so the first build works offline.
            ("Cargo.lock", include_str!("../../../../Cargo.lock")),
            (
                "src/lib.rs",
                match w {
                    NewWorld::Environment => template!("rust/environment/lib.rs"),
                    NewWorld::RewardChecker => template!("rust/reward-checker/lib.rs"),
                    NewWorld::Resampler => template!("rust/resampler/lib.rs"),
                },
            ),
        ],
        (NewLang::Python, w) => {
            let mut f = vec![
                ("build.sh", template!("python/build.sh")),
                ("steprl_guest.py", template!("python/steprl_guest.py")),
            ];
            match w {
                NewWorld::Environment => f.extend([
                    ("app.py", template!("python/environment/app.py")),
                    ("env.py", template!("python/environment/env.py")),
                    ("suite.py", template!("python/environment/suite.py")),
                ]),
                NewWorld::RewardChecker => {
                    f.push(("app.py", template!("python/reward-checker/app.py")));
                }
                NewWorld::Resampler => f.push(("app.py", template!("python/resampler/app.py"))),
            }
            f
        }
        (NewLang::Js, w) => vec![
            ("build.sh", template!("js/build.sh")),
            ("build.mjs", template!("js/build.mjs")),
            match w {
                NewWorld::Environment => ("env.js", template!("js/environment/env.js")),
                NewWorld::RewardChecker => {
                    ("checker.js", template!("js/reward-checker/checker.js"))
                }
                NewWorld::Resampler => ("resampler.js", template!("js/resampler/resampler.js")),
            },
        ],
    };
    if world == NewWorld::Environment {
        out.push(("demos.jsonl", DEMOS));
    }
    if lang != NewLang::Rust {
        out.extend(WIT);
    }
    out
}

fn world_name(w: NewWorld) -> &'static str {
    match w {
        NewWorld::Environment => "environment",
        NewWorld::RewardChecker => "reward-checker",
        NewWorld::Resampler => "resampler",
    }
}

/// Why `name` cannot name a plugin, if it cannot.
fn name_problem(name: &str) -> Option<String> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    (!ok).then(|| {
        format!(
            "`{name}` cannot name a plugin: use lower-case letters, digits and dashes, starting with a letter (e.g. `my-suite`)"
        )
    })
}

/// The SDK directory a Rust project depends on.
fn sdk_dir(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let dir = match given {
        Some(d) => d.to_owned(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/sdk-rust"),
    };
    if !dir.join("Cargo.toml").is_file() {
        bail!(
            "the steprl-plugin SDK is not at {} (a Rust plugin depends on it by path): pass --sdk PATH/TO/steprl/plugins/sdk-rust",
            dir.display()
        );
    }
    dir.canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))
}

pub(super) fn new(args: &NewArgs) -> anyhow::Result<bool> {
    if let Some(p) = name_problem(&args.name) {
        bail!(p);
    }
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} already exists and is not empty: choose another --dir",
            dir.display()
        );
    }
    let sdk = match args.lang {
        NewLang::Rust => sdk_dir(args.sdk.as_deref())?.display().to_string(),
        _ => String::new(),
    };
    let world = world_name(args.world);
    let source = match args.world {
        NewWorld::Environment => "env.js",
        NewWorld::RewardChecker => "checker.js",
        NewWorld::Resampler => "resampler.js",
    };
    let fill = |text: &str| {
        text.replace("__NAME__", &args.name)
            .replace("__CRATE__", &args.name.replace('-', "_"))
            .replace("__WORLD__", world)
            .replace("__SOURCE__", source)
            .replace("__SDK__", &sdk)
    };
    for (path, text) in files(args.world, args.lang) {
        let out = dir.join(path);
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        // The lockfile and the WIT package are copied as they are.
        let text = if path == "Cargo.lock" || path.starts_with("wit/") {
            text.to_owned()
        } else {
            fill(text)
        };
        std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
    }
    let wasm = dir.join(format!("{}.wasm", args.name));
    println!(
        "wrote {} ({world} in {}) into {}",
        args.name,
        match args.lang {
            NewLang::Rust => "Rust",
            NewLang::Python => "Python",
            NewLang::Js => "JavaScript",
        },
        dir.display()
    );
    println!("build:  sh {}", dir.join("build.sh").display());
    if args.world == NewWorld::Environment {
        println!(
            "check:  steprl plugin check {} --with CHECKER.wasm --demos {}",
            wasm.display(),
            dir.join("demos.jsonl").display()
        );
    } else {
        println!("check:  steprl plugin check {}", wasm.display());
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_case_words_with_dashes() {
        for ok in ["my-suite", "a", "x2-y"] {
            assert_eq!(name_problem(ok), None, "{ok}");
        }
        for bad in ["", "My", "2x", "a_b", "a-", "a b", "../x"] {
            assert!(name_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn every_project_has_a_build_script_and_its_source() {
        for world in [
            NewWorld::Environment,
            NewWorld::RewardChecker,
            NewWorld::Resampler,
        ] {
            for lang in [NewLang::Rust, NewLang::Python, NewLang::Js] {
                let f = files(world, lang);
                let names: Vec<&str> = f.iter().map(|(p, _)| *p).collect();
                assert!(names.contains(&"build.sh"), "{world:?} {lang:?}");
                assert_eq!(
                    names.contains(&"demos.jsonl"),
                    world == NewWorld::Environment
                );
                assert_eq!(names.contains(&"wit/worlds.wit"), lang != NewLang::Rust);
            }
        }
    }
}

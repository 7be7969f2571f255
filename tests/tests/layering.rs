//! The layering rules of ARCHITECTURE.md, checked on every crate's declared (direct,
//! normal) dependencies from `cargo metadata`: wasmtime only in the sandbox, burn only in
//! the learner and the language-model crate, core and algo at the bottom, guests apart
//! from the host.

use std::collections::BTreeMap;

/// Each workspace crate and its direct normal dependencies.
fn dependencies() -> BTreeMap<String, Vec<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(steprl_tests::repo_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    m["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .collect();
            (p["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect()
}

/// Where a crate's dependencies break the rules (empty = keeps them).
fn violations(deps: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let host = [
        "steprl-core",
        "steprl-algo",
        "steprl-sandbox",
        "steprl-rollout",
        "steprl-lm",
        "steprl-learner",
        "steprl-train",
        "steprl-report",
        "steprl-conformance",
        "steprl",
        "steprl-tests",
    ];
    let mut v = Vec::new();
    for (krate, ds) in deps {
        let guest = !host.contains(&krate.as_str());
        for d in ds {
            let bad = if d.starts_with("wasmtime") {
                krate != "steprl-sandbox"
            } else if d == "burn" || d.starts_with("burn-") {
                !["steprl-learner", "steprl-lm"].contains(&krate.as_str())
            } else if d.starts_with("steprl") && d != "steprl-plugin" {
                match krate.as_str() {
                    "steprl-core" => true,
                    "steprl-algo" | "steprl-rollout" | "steprl-lm" | "steprl-conformance" => {
                        d != "steprl-core"
                    }
                    "steprl-train" => d == "steprl-sandbox" || d == "steprl",
                    _ if guest => !["steprl-core", "steprl-algo"].contains(&d.as_str()),
                    _ => false,
                }
            } else {
                false
            };
            if bad {
                v.push(format!("{krate} depends on {d}"));
            }
        }
    }
    v
}

#[test]
fn every_crate_keeps_to_its_layer() {
    let deps = dependencies();
    assert!(deps.contains_key("steprl-sandbox") && deps.contains_key("uisim"));
    assert_eq!(violations(&deps), Vec::<String>::new());
}

#[test]
fn a_forbidden_dependency_is_caught() {
    let mut deps = dependencies();
    deps.get_mut("steprl-algo").unwrap().push("burn".into());
    deps.get_mut("steprl-train")
        .unwrap()
        .push("wasmtime".into());
    deps.get_mut("uisim").unwrap().push("steprl-sandbox".into());
    deps.get_mut("steprl-core")
        .unwrap()
        .push("steprl-algo".into());
    assert_eq!(
        violations(&deps),
        [
            "steprl-algo depends on burn",
            "steprl-core depends on steprl-algo",
            "steprl-train depends on wasmtime",
            "uisim depends on steprl-sandbox",
        ]
    );
}

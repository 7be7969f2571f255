//! The `steprl` binary as a user runs it: exit codes, output and error messages.

mod common;

use common::{check_with, plugin, steprl, text};

#[test]
fn check_passes_for_every_shipped_plugin() {
    let (env, checker, py) = (
        plugin("uisim"),
        plugin("uisim-checker"),
        plugin("uniform-py"),
    );
    // Every shipped resampler.
    let resamplers: Vec<_> = [
        "resample-step",
        "resample-progress",
        "resample-curriculum",
        "resample-dapo-py",
    ]
    .map(plugin)
    .to_vec();
    let mut args = vec!["plugin", "check"];
    args.extend(resamplers.iter().map(|p| p.to_str().unwrap()));
    let o = steprl(&args);
    let (out, err) = text(&o);
    assert!(o.status.success(), "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(out.matches(": no violations").count(), 4, "{out}");
    // The environment, judged by its checker.
    let o = steprl(&[
        "plugin",
        "check",
        env.to_str().unwrap(),
        "--episodes",
        "1",
        "--with",
        checker.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("PASS uisim: no violations"), "{out}");
    assert!(out.contains("random-policy successes"), "{out}");
    // The checker is named and timed.
    assert!(out.contains("episodes judged by `uisim-checker`"), "{out}");
    assert!(out.contains("\ncheck  mean"), "{out}");
    // The checker on generated inputs and on the environment's episodes; the resampler.
    let o = steprl(&[
        "plugin",
        "check",
        checker.to_str().unwrap(),
        py.to_str().unwrap(),
        "--episodes",
        "1",
        "--with",
        env.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "stdout:\n{out}\nstderr:\n{err}");
    for name in ["uisim-checker", "uniform-py"] {
        assert!(
            out.contains(&format!("PASS {name}: no violations")),
            "{out}"
        );
    }
    assert!(
        out.contains("episodes of `uisim` judged by `uisim-checker`"),
        "{out}"
    );
}

/// `--demos`: known solutions replayed through environment and checker, each required
/// to be judged a success (the success path a random policy seldom reaches).
#[test]
fn check_replays_known_solutions_and_names_each_that_fails() {
    let (env, checker) = (plugin("uisim"), plugin("uisim-checker"));
    let (env, checker) = (env.to_str().unwrap(), checker.to_str().unwrap());
    let demos = common::repo_root().join("configs/uisim-lm-demos.jsonl");
    let n = std::fs::read_to_string(&demos).unwrap().lines().count();
    let check = |args: &[&str]| {
        let mut all = vec!["plugin", "check", "--episodes", "1"];
        all.extend_from_slice(args);
        steprl(&all)
    };
    // Checking the environment, judged by its checker; and the other way round.
    for args in [[env, "--with", checker], [checker, "--with", env]] {
        let mut a = args.to_vec();
        a.extend(["--demos", demos.to_str().unwrap()]);
        let o = check(&a);
        let (out, err) = text(&o);
        assert!(o.status.success(), "stdout:\n{out}\nstderr:\n{err}");
        assert!(
            out.contains(&format!("{n} of {n} judged a success")),
            "{out}"
        );
    }

    // A wrong solution, one cut short and an unknown task are each named by line.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        concat!(
            r#"{"task":"open.settings","seed":0,"actions":["click 0","done"]}"#,
            "\n",
            r#"{"task":"open.settings","seed":0,"actions":["click 1","done"]}"#,
            "\n",
            r#"{"task":"open.settings","seed":0,"actions":["click 0"]}"#,
            "\n",
            r#"{"task":"no.such","seed":0,"actions":["done"]}"#,
            "\n",
        ),
    )
    .unwrap();
    let o = check(&[env, "--with", checker, "--demos", bad.to_str().unwrap()]);
    let (out, _) = text(&o);
    assert!(!o.status.success());
    assert!(out.contains("1 of 4 judged a success"), "{out}");
    for (line, why) in [
        (2, "the checker judged the known solution a failure"),
        (3, "the episode had not ended after its 1 actions"),
        (4, "the environment offers no task `no.such`"),
    ] {
        assert!(
            out.lines()
                .any(|l| l.contains(&format!("bad.jsonl, line {line}: {why}"))),
            "line {line}: {out}"
        );
    }

    // Without the other plugin there is nothing to judge them with.
    let o = check(&[env, "--demos", bad.to_str().unwrap()]);
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(err.contains("--demos needs the reward checker"), "{err}");
}

#[test]
fn check_fails_with_the_reason_when_the_with_plugin_is_the_wrong_kind() {
    let env = plugin("uisim");
    let py = plugin("uniform-py");
    let o = check_with(&env, &py, &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains(
            "uniform-py.wasm is a resampler plugin, but a reward-checker plugin is needed here"
        ),
        "{err}"
    );
}

#[test]
fn bad_files_exit_non_zero_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("steprl-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk.wasm");
    std::fs::write(&junk, b"definitely not wasm").unwrap();
    let o = steprl(&["plugin", "inspect", junk.to_str().unwrap()]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("junk.wasm is not a WebAssembly file"), "{err}");

    let o = steprl(&["tasks", dir.join("missing.wasm").to_str().unwrap()]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("cannot read plugin file") && err.contains("missing.wasm"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_config_json_is_named() {
    let env = plugin("uisim");
    let o = steprl(&["tasks", env.to_str().unwrap(), "--config", "{levels"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("--config is not valid JSON"), "{err}");
    let o = steprl(&[
        "tasks",
        env.to_str().unwrap(),
        "--config",
        r#"{"levels":[7]}"#,
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("`uisim`") && err.contains("`init`") && err.contains("levels"),
        "{err}"
    );
}

#[test]
fn sandbox_limits_are_flags_of_tasks_and_check() {
    let env = plugin("uisim");
    let env = env.to_str().unwrap();
    // A cap the plugin cannot start under: the flag reached the sandbox.
    let o = steprl(&["plugin", "check", env, "--memory-mib", "1"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(err.contains("memory cap of 1 MiB reached"), "{err}");
    let o = steprl(&["tasks", env, "--memory-mib", "1"]);
    assert_eq!(o.status.code(), Some(1));
    // Raised limits run as usual; values outside a run config's ranges are refused.
    let o = steprl(&[
        "tasks",
        env,
        "--init-ms",
        "120000",
        "--env-reset-ms",
        "60000",
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    let o = steprl(&["tasks", env, "--init-ms", "0"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("0 is not in 1..=86400000"), "{err}");
}

#[test]
fn check_stops_when_a_kind_of_call_uses_up_its_wall_clock_budget() {
    let (env, py) = (plugin("uisim"), plugin("uniform-py"));
    // A microsecond for all the calls of a kind: the first few use it up.
    for file in [&env, &py] {
        let o = steprl(&[
            "plugin",
            "check",
            file.to_str().unwrap(),
            "--budget-s",
            "0.000001",
        ]);
        let (out, _) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{out}");
        assert!(
            out.contains("past the check's budget of 0.000 s per kind of call (--budget-s); the check stopped there"),
            "{out}"
        );
    }
    let o = steprl(&["plugin", "check", env.to_str().unwrap(), "--budget-s", "0"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("give a number of seconds above 0"), "{err}");
}

#[test]
fn tasks_with_a_checker_marks_the_tasks_it_cannot_judge() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/osworld/tasks/os-whoami-to-file.json");
    let whoami = std::fs::read_to_string(fixture).unwrap();
    std::fs::write(dir.path().join("whoami.json"), &whoami).unwrap();
    let mut utc: serde_json::Value = serde_json::from_str(&whoami).unwrap();
    utc["id"] = "utc-task".into();
    utc["evaluator"] = serde_json::json!({"func": "compare_pdfs",
        "result": {"type": "vm_command_line", "command": "timedatectl"},
        "expected": {"type": "rule", "rules": {}}});
    std::fs::write(dir.path().join("utc.json"), utc.to_string()).unwrap();
    let grant = format!("/tasks={}", dir.path().display());
    let o = steprl(&[
        "tasks",
        plugin("osworld").to_str().unwrap(),
        "--config",
        r#"{"task_dir": "/tasks"}"#,
        "--grant-dir",
        &grant,
        "--grant-http",
        "127.0.0.1:5000",
        "--checker",
        plugin("osworld-checker").to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let utc_row = out.lines().find(|l| l.starts_with("utc-task")).unwrap();
    assert!(
        utc_row.ends_with("UNSCORABLE: metric compare_pdfs is not implemented by osworld-checker"),
        "{out}"
    );
    assert!(
        !out.lines()
            .find(|l| l.starts_with("d8dc9f80"))
            .unwrap()
            .contains("UNSCORABLE")
    );
    assert!(
        out.contains("1 of them cannot be judged by `osworld-checker`"),
        "{out}"
    );
}

#[test]
fn tasks_lists_every_task_as_table_or_json() {
    let env = plugin("uisim");
    let o = steprl(&["tasks", env.to_str().unwrap()]);
    let (out, _) = text(&o);
    assert!(o.status.success());
    assert!(out.starts_with("id "), "{out}");
    assert!(
        out.contains("contacts.add") && out.contains("43 tasks in `uisim`"),
        "{out}"
    );
    let o = steprl(&[
        "tasks",
        env.to_str().unwrap(),
        "--json",
        "--config",
        r#"{"levels":[4]}"#,
    ]);
    let (out, _) = text(&o);
    let tasks: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(tasks.len(), 9);
    assert!(tasks.iter().all(|t| t["difficulty"] == 4));
}

#[test]
fn inspect_shows_kind_version_tasks_and_exports() {
    let env = plugin("uisim");
    let o = steprl(&["plugin", "inspect", env.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    for needle in [
        "kind       environment (world steprl:plugin/environment@0.1.0)",
        "tasks      43",
        "steprl:plugin/env@0.1.0#[method]episode.step  func(self: borrow<resource>, action: variant)",
        "actions    19 discrete",
    ] {
        assert!(out.contains(needle), "missing `{needle}` in\n{out}");
    }
    assert!(!out.contains("other exports"), "{out}");
    // componentize-py's own `exports#init` is listed apart from the contract's exports.
    let py = plugin("uniform-py");
    let o = steprl(&["plugin", "inspect", py.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let (contract, other) = out
        .split_once("other exports (added by the plugin's toolchain; steprl does not call them)")
        .expect("a separate list");
    assert!(
        contract.contains("steprl:plugin/resample@0.1.0#plan"),
        "{out}"
    );
    assert!(!contract.contains("exports#init"), "{out}");
    assert!(other.contains("exports#init"), "{out}");
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["plugin", "--help"],
        vec!["plugin", "inspect", "--help"],
        vec!["plugin", "check", "--help"],
        vec!["tasks", "--help"],
    ] {
        let o = steprl(&args);
        let (out, _) = text(&o);
        assert!(
            o.status.success() && out.contains("Usage:"),
            "{args:?}: {out}"
        );
    }
    let o = steprl(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Plugins by name: `uisim` instead of a path, found in STEPRL_PLUGIN_PATH's
/// directories and then in the installed plugins' directory, on the command line and in
/// run configs; `plugin list` shows what is found.
#[test]
fn plugins_are_found_by_name_on_the_search_path() {
    let dir = tempfile::tempdir().unwrap();
    let (first, data) = (dir.path().join("first"), dir.path().join("data"));
    let installed = data.join("steprl/plugins");
    std::fs::create_dir_all(&first).unwrap();
    std::fs::create_dir_all(&installed).unwrap();
    for (name, to) in [
        ("uisim", &first),
        ("uisim-checker", &installed),
        ("resample-step", &installed),
        ("uisim", &installed),
    ] {
        std::fs::copy(plugin(name), to.join(format!("{name}.wasm"))).unwrap();
    }
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_steprl"))
            .args(args)
            .env("STEPRL_PLUGIN_PATH", &first)
            .env("XDG_DATA_HOME", &data)
            .output()
            .expect("steprl runs")
    };

    let o = run(&["plugin", "list"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let rows: Vec<&str> = out.lines().filter(|l| l.contains(".wasm")).collect();
    assert_eq!(rows.len(), 4, "{out}");
    assert!(
        rows[0].starts_with("uisim ") && rows[0].contains("environment"),
        "{out}"
    );
    assert!(
        rows.iter()
            .any(|r| r.starts_with("uisim (shadowed)") && r.contains("data")),
        "{out}"
    );
    assert!(
        rows.iter()
            .any(|r| r.starts_with("resample-step") && r.contains("resampler")),
        "{out}"
    );

    // On the command line.
    let o = run(&["tasks", "uisim"]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert!(text(&o).0.contains("open.settings"));
    // In a run config: every plugin by name.
    let cfg = dir.path().join("by-name.toml");
    std::fs::write(
        &cfg,
        r#"
seed = 1
rounds = 1
[env]
plugin = "uisim"
[checker]
plugin = "uisim-checker"
[resampler]
plugin = "resample-step"
[tasks]
include = ["open.*"]
[rollout]
tasks_per_round = 2
copies_per_task = 2
[policy]
kind = "mlp"
embed_dim = 8
hidden = 16
layers = 1
[eval]
episodes = 1
"#,
    )
    .unwrap();
    let out_dir = dir.path().join("run");
    let o = run(&[
        "train",
        cfg.to_str().unwrap(),
        "--backend",
        "cpu",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert!(out_dir.join("eval-after.json").exists());

    // A name found nowhere names itself and where it was looked for.
    let o = run(&["tasks", "no-such-plugin"]);
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("plugin `no-such-plugin` was not found: looked for no-such-plugin.wasm in")
            && err.contains(&first.display().to_string())
            && err.contains(&installed.display().to_string()),
        "{err}"
    );
}

/// A suite written in another language with its checker: every task passes the
/// conformance check, its oracle's known solutions (seeds 0-2, printed by `demos`) are
/// all judged successes, its 20 tasks span levels 1-3 and solutions of 2 to at least 12
/// steps, and its shipped config trains (two rounds here).
fn check_replay_and_train(suite: &str, demos: &mut std::process::Command) {
    let root = common::repo_root();
    let dir = tempfile::tempdir().unwrap();
    let o = demos.output().expect("the demos command runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = dir.path().join("demos.jsonl");
    std::fs::write(&file, &o.stdout).unwrap();
    let lines = String::from_utf8_lossy(&o.stdout).lines().count();
    assert_eq!(lines, 60, "{suite}: 20 tasks × 3 seeds");
    let (env, checker) = (plugin(suite), plugin(&format!("{suite}-checker")));
    let o = check_with(
        &env,
        &checker,
        &["--demos", file.to_str().unwrap(), "--all-tasks"],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{suite}:\n{out}\n{err}");
    assert!(out.contains("20 tasks"), "{out}");
    assert!(out.contains("60 of 60 judged a success"), "{out}");
    // Known solutions exercised the success path: no note says otherwise.
    assert!(!out.contains("was not exercised"), "{out}");
    // Without them, a random policy that never succeeds gets the note.
    let o = check_with(&env, &checker, &["--episodes", "1"]);
    let (out, _) = text(&o);
    assert_eq!(
        out.contains(", 0 random-policy successes"),
        out.contains("the checker's success path was not exercised"),
        "{out}"
    );
    // One JSON object per line.
    let o = steprl(&["tasks", env.to_str().unwrap(), "--json"]);
    let levels: std::collections::BTreeSet<u64> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["difficulty"].as_u64())
        .collect::<Option<_>>()
        .expect("every task has a level");
    assert_eq!(levels.into_iter().collect::<Vec<_>>(), [1, 2, 3], "{suite}");
    let steps: Vec<usize> = String::from_utf8_lossy(&std::fs::read(&file).unwrap())
        .lines()
        .map(|l| {
            let d: serde_json::Value = serde_json::from_str(l).unwrap();
            d["actions"].as_array().unwrap().len()
        })
        .collect();
    assert_eq!(*steps.iter().min().unwrap(), 2, "{suite}");
    assert!(*steps.iter().max().unwrap() >= 12, "{suite}: {steps:?}");
    let out = dir.path().join("run");
    let o = steprl(&[
        "train",
        root.join(format!("configs/{suite}.toml")).to_str().unwrap(),
        "--rounds",
        "2",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{suite}: {}", text(&o).1);
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2, "{suite}");
}

/// craft-py: the crafting suite and its checker, both in Python.
#[test]
fn the_python_crafting_suite_checks_replays_its_solutions_and_trains() {
    let mut demos = std::process::Command::new("python3");
    demos
        .arg(common::repo_root().join("plugins/craft-py/world.py"))
        .args(["demos", "3"]);
    check_replay_and_train("craft-py", &mut demos);
}

/// sheet-js: the spreadsheet suite and its checker, both in JavaScript.
#[test]
fn the_javascript_spreadsheet_suite_checks_replays_its_solutions_and_trains() {
    let mut demos = std::process::Command::new("node");
    demos
        .arg(common::repo_root().join("plugins/sheet-js/demos.mjs"))
        .arg("3");
    check_replay_and_train("sheet-js", &mut demos);
}

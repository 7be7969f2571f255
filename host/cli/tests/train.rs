//! `steprl train` / `resume` / `eval` as processes: a run killed with SIGKILL and
//! resumed writes the same metrics as an uninterrupted run with the same seed; bad
//! configs name the key.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{plugin as dist, steprl};

fn config(dir: &Path, rounds: u32, every: u32) -> PathBuf {
    let text = format!(
        r#"
seed = 11
rounds = {rounds}

[env]
plugin = "{}"
[checker]
plugin = "{}"
[resampler]
plugin = "{}"

[tasks]
include = ["open.*", "settings.wifi-*"]

[rollout]
tasks_per_round = 4
copies_per_task = 6
concurrency = 8

[learner]
minibatch = 64

[policy]
embed_dim = 8
hidden = 32
layers = 1

[eval]
episodes = 1

[checkpoint]
every = {every}
"#,
        dist("uisim").display(),
        dist("uisim-checker").display(),
        dist("resample-step").display()
    );
    let p = dir.join("run.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Metrics lines without the wall-time part, which differs between any two runs.
fn metrics(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("perf");
            v
        })
        .collect()
}

#[test]
fn a_killed_and_resumed_run_matches_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    // Twenty short rounds: a wide window to interrupt the run in.
    let cfg = config(dir.path(), 20, 2);
    let cfg = cfg.to_str().unwrap();
    let whole = dir.path().join("whole");
    let o = steprl(&[
        "train",
        cfg,
        "--backend",
        "cpu",
        "--out",
        whole.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let expected = metrics(&whole);
    assert_eq!(expected.len(), 20);

    let cut = dir.path().join("cut");
    let mut child = Command::new(env!("CARGO_BIN_EXE_steprl"))
        .args([
            "train",
            cfg,
            "--backend",
            "cpu",
            "--out",
            cut.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for three rounds (one checkpoint behind us), then SIGKILL mid-run.
    loop {
        let lines = std::fs::read_to_string(cut.join("metrics.jsonl"))
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines >= 3 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be interrupted"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        still_running,
        "the run must be interrupted before it finishes"
    );
    let o = steprl(&["resume", cut.to_str().unwrap(), "--backend", "cpu"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        metrics(&cut),
        expected,
        "resumed metrics differ from the uninterrupted run"
    );

    // Evaluating the final checkpoint works from the run directory.
    let o = steprl(&[
        "eval",
        cut.to_str().unwrap(),
        "--episodes",
        "1",
        "--greedy",
        "--backend",
        "cpu",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("mean success:") && out.contains("open.clock"),
        "{out}"
    );
}

#[test]
fn train_reports_the_before_and_after_success_and_refuses_a_used_run_dir() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 2, 1);
    let out_dir = dir.path().join("r");
    let o = steprl(&[
        "train",
        cfg.to_str().unwrap(),
        "--backend",
        "cpu",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("success before training:") && out.contains("before → after:"),
        "{out}"
    );
    assert!(err.contains("backend: cpu"), "{err}");
    assert!(err.contains("round   2/2"), "{err}");
    let o = steprl(&[
        "train",
        cfg.to_str().unwrap(),
        "--backend",
        "cpu",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("steprl resume"));
}

#[test]
fn bad_run_configs_name_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 2, 1);
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("minibatch = 64", "minibatch = 64\nlearning_rate = 1");
    std::fs::write(&cfg, text).unwrap();
    let o = steprl(&["train", cfg.to_str().unwrap(), "--backend", "cpu"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("run.toml: learner.learning_rate:")
            && err.contains("unknown field `learning_rate`"),
        "{err}"
    );

    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("learning_rate = 1\n", "")
        .replace("resample-step.wasm", "uisim-checker.wasm");
    std::fs::write(&cfg, text).unwrap();
    let o = steprl(&[
        "train",
        cfg.to_str().unwrap(),
        "--backend",
        "cpu",
        "--out",
        dir.path().join("x").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("[resampler] plugin") && err.contains("a resampler plugin is needed"),
        "{err}"
    );

    let o = steprl(&["train", "/nonexistent/run.toml"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot read config /nonexistent/run.toml")
    );
    let o = steprl(&["train", cfg.to_str().unwrap(), "--backend", "tpu"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("valid: auto, cpu, wgpu"));
}

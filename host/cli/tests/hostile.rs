//! The hostile plugins of `tests/hostile/` through `steprl train`, one misbehaviour per
//! run: each must cost only its own episodes (or, for broken declarations, refuse the run
//! before it starts), with a message naming the plugin and the broken rule — never a host
//! panic, a hang or a crash.

mod common;

use std::path::Path;

use common::{plugin, text, train_into};

/// Train one round on `hostile-env` in `env_mode`, judged by `hostile-checker` in
/// `checker_mode`: (exit code, stderr without colours, run directory).
fn train(dir: &Path, env_mode: &str, checker_mode: &str) -> (Option<i32>, String) {
    let cfg = dir.join(format!("{env_mode}-{checker_mode}.toml"));
    std::fs::write(
        &cfg,
        format!(
            r#"
seed = 1
rounds = 1
[env]
plugin = "{}"
config = {{ mode = "{env_mode}" }}
[checker]
plugin = "{}"
config = {{ mode = "{checker_mode}" }}
[resampler]
plugin = "{}"
[rollout]
tasks_per_round = 2
copies_per_task = 2
concurrency = 4
[policy]
kind = "mlp"
embed_dim = 8
hidden = 16
layers = 1
[eval]
episodes = 1
[limits]
env_step_ms = 2000
memory_mib = 160
"#,
            plugin("hostile-env").display(),
            plugin("hostile-checker").display(),
            plugin("resample-step").display()
        ),
    )
    .unwrap();
    let o = train_into(&cfg, &dir.join(format!("run-{env_mode}-{checker_mode}")));
    let (_, err) = text(&o);
    let err = strip_ansi(&err);
    assert!(
        !err.contains("thread 'main' panicked") && !err.contains("thread 'tokio"),
        "{env_mode}/{checker_mode}: the host panicked:\n{err}"
    );
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{env_mode}/{checker_mode}: ended with {:?}:\n{err}",
        o.status
    );
    (o.status.code(), err)
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn every_hostile_environment_costs_only_its_own_episodes_with_a_named_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, err) = train(d, "well-behaved", "well-behaved");
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("plugin failure"), "{err}");

    for (mode, wants) in [
        (
            "token-past-vocab",
            "environment `hostile-env` returned an observation outside its declared spaces: token 0 is id 8, outside the vocabulary of 8",
        ),
        (
            "nan-features",
            "returned an observation outside its declared spaces: feature 0 is NaN, not a finite number",
        ),
        (
            "nan-reward",
            "environment `hostile-env` returned a step reward of NaN, not a finite number",
        ),
        (
            "spin",
            "plugin `hostile-env` was stopped in `episode.step`: deadline of 2 s exceeded (raise `limits.env_step_ms` if the plugin needs longer)",
        ),
        (
            "recurse",
            "plugin `hostile-env` was stopped in `episode.step`: stack overflow: the guest recursed past wasm's call-stack limit",
        ),
        (
            "grow-memory",
            "plugin `hostile-env` was stopped in `episode.step`: memory cap of 160 MiB reached",
        ),
        (
            "huge-final-state",
            "environment `hostile-env`, task `walk-1`: its final state is 20.0 MiB, above the 16 MiB the host accepts",
        ),
        ("panic", "hostile-env panics in step"),
    ] {
        let (_, err) = train(d, mode, "well-behaved");
        assert!(err.contains(wants), "{mode}: wanted `{wants}` in:\n{err}");
        assert!(
            err.contains("lost to a plugin failure"),
            "{mode}: the lost episodes are counted:\n{err}"
        );
        if mode == "panic" {
            // A guest panic's wasm backtrace is shown once, however many episodes it ends.
            assert_eq!(
                err.matches("wasm backtrace (shown once").count(),
                1,
                "{err}"
            );
            assert!(err.matches("instance was dropped").count() > 1, "{err}");
        }
    }

    // Broken declarations refuse the run before it starts.
    for (mode, wants) in [
        (
            "huge-vocab",
            "environment `hostile-env` cannot be trained on: its declarations break the plugin contract: vocab-size = 4294967295 is above the limit of 1048576",
        ),
        (
            "duplicate-ids",
            "its declarations break the plugin contract: task id `walk-1` appears more than once",
        ),
    ] {
        let (code, err) = train(d, mode, "well-behaved");
        assert_eq!(code, Some(1), "{mode}: {err}");
        assert!(err.contains(wants), "{mode}: wanted `{wants}` in:\n{err}");
    }

    // An episode the environment never ends is truncated by the host at max-steps.
    let (code, err) = train(d, "endless", "well-behaved");
    assert_eq!(code, Some(0), "{err}");
    let metrics =
        std::fs::read_to_string(d.join("run-endless-well-behaved/metrics.jsonl")).unwrap();
    let m: serde_json::Value = serde_json::from_str(metrics.lines().next().unwrap()).unwrap();
    assert!(m["host_truncated"].as_u64().unwrap() > 0, "{m}");

    // A plugin logging in a loop is held to its budget, and the drop is said.
    let (code, err) = train(d, "log-flood", "well-behaved");
    assert_eq!(code, Some(0));
    assert!(
        err.contains("log lines dropped (more than 200 a second)"),
        "{}",
        err.len()
    );
}

#[test]
fn every_hostile_checker_costs_only_its_own_verdicts_with_a_named_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (mode, wants) in [
        (
            "nan-score",
            "reward checker `hostile-checker` returned a verdict outside its contract: score NaN is not a number in [0, 1]",
        ),
        (
            "score-2",
            "reward checker `hostile-checker` returned a verdict outside its contract: score 2 is not a number in [0, 1]",
        ),
        ("panic", "hostile-checker panics in check"),
    ] {
        let (code, err) = train(d, "well-behaved", mode);
        assert!(err.contains(wants), "{mode}: wanted `{wants}` in:\n{err}");
        // Every verdict was lost: the run says the final evaluation judged nothing.
        assert_eq!(code, Some(1), "{mode}: {err}");
        assert!(
            err.contains("the final evaluation judged no episode of any task"),
            "{mode}: {err}"
        );
    }
    // A megabyte reason is cut, not kept: the run goes on.
    let (code, err) = train(d, "well-behaved", "huge-reason");
    assert_eq!(code, Some(0), "{err}");
}

//! The hostile plugins of `tests/hostile/` through `steprl train`, one misbehaviour per
//! run: each must cost only its own episodes (or, for broken declarations, refuse the run
//! before it starts), with a message naming the plugin and the broken rule — never a host
//! panic, a hang or a crash. The environment and a checker are Rust components, the
//! resampler is Python and another checker JavaScript (`tests/hostile/`, built by
//! `plugins/build.sh`).

mod common;

use std::path::Path;

use common::{plugin, text, train_into};

/// Train one round on `hostile-env` in `env_mode`, judged by `hostile-checker` in
/// `checker_mode`, planned by `resample-step`: (exit code, stderr without colours).
fn train(dir: &Path, env_mode: &str, checker_mode: &str) -> (Option<i32>, String) {
    train_with(dir, env_mode, ("hostile-checker", checker_mode), None)
}

/// [`train`] judged by `checker` (plugin, mode), planned by the Python `hostile-py` in
/// `resampler_mode` when one is given.
fn train_with(
    dir: &Path,
    env_mode: &str,
    (checker, checker_mode): (&str, &str),
    resampler_mode: Option<&str>,
) -> (Option<i32>, String) {
    let label = format!(
        "{env_mode}-{checker}-{checker_mode}-{}",
        resampler_mode.unwrap_or("step")
    );
    let cfg = dir.join(format!("{label}.toml"));
    let resampler = match resampler_mode {
        Some(m) => format!(
            "plugin = \"{}\"\nconfig = {{ mode = \"{m}\" }}",
            plugin("hostile-py").display()
        ),
        None => format!("plugin = \"{}\"", plugin("resample-step").display()),
    };
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
{resampler}
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
plan_ms = 3000
check_ms = 1000
memory_mib = 160
"#,
            plugin("hostile-env").display(),
            plugin(checker).display(),
        ),
    )
    .unwrap();
    let o = train_into(&cfg, &dir.join(format!("run-{label}")));
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
        (
            "bad-info",
            "environment `hostile-env` returned a step whose info-json is neither empty nor a JSON object",
        ),
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
    let metrics = std::fs::read_to_string(
        d.join("run-endless-hostile-checker-well-behaved-step/metrics.jsonl"),
    )
    .unwrap();
    let m: serde_json::Value = serde_json::from_str(metrics.lines().next().unwrap()).unwrap();
    assert!(m["rollout"]["host_truncated"].as_u64().unwrap() > 0, "{m}");

    // A plugin logging in a loop is held to its budget, and the drop is said.
    let (code, err) = train(d, "log-flood", "well-behaved");
    assert_eq!(code, Some(0));
    assert!(
        err.contains("log lines dropped (more than 200 a second)"),
        "{}",
        err.len()
    );

    // A panic in `lifecycle.shutdown`, called when the run is over, is a warning that
    // names the plugin and the call; the run it ends has already succeeded.
    let (code, err) = train(d, "shutdown-panic", "well-behaved");
    assert_eq!(code, Some(0), "{err}");
    let warning = err
        .lines()
        .find(|l| l.starts_with("warning:") && l.contains("lifecycle.shutdown"))
        .unwrap_or_else(|| panic!("no shutdown warning in {err}"));
    assert!(warning.contains("hostile-env"), "{warning}");
    assert!(
        d.join("run-shutdown-panic-hostile-checker-well-behaved-step/eval-after.json")
            .exists()
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
        (
            "success-score-0",
            "reward checker `hostile-checker` returned a verdict outside its contract: success with score 0: a successful episode must score above 0",
        ),
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

#[test]
fn every_hostile_python_resampler_stops_the_run_with_a_named_reason_or_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, err) = train_with(
        d,
        "well-behaved",
        ("hostile-checker", "well-behaved"),
        Some("well-behaved"),
    );
    assert_eq!(code, Some(0), "{err}");
    // A plan larger than requested is cut to the request, and the run goes on.
    let (code, err) = train_with(
        d,
        "well-behaved",
        ("hostile-checker", "well-behaved"),
        Some("huge-plan"),
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("the plan names 100000 rollouts, more than the 4 requested")
            && err.contains("running the first 4"),
        "{err}"
    );
    for (mode, wants) in [
        (
            "unknown-task",
            "resampler `hostile-py` in round 0: the plan names `no-such-task`, which is not a training task",
        ),
        (
            "empty",
            "resampler `hostile-py` in round 0: the plan is empty",
        ),
        ("raise", "RuntimeError: hostile-py raises in plan"),
        (
            "spin",
            "plugin `hostile-py` was stopped in `plan`: deadline of 3 s exceeded (raise `limits.plan_ms` if the plugin needs longer)",
        ),
    ] {
        let (code, err) = train_with(
            d,
            "well-behaved",
            ("hostile-checker", "well-behaved"),
            Some(mode),
        );
        assert_eq!(code, Some(1), "{mode}: {err}");
        assert!(err.contains(wants), "{mode}: wanted `{wants}` in:\n{err}");
    }
    // `plugin check` fails a resampler whose plans exceed the request.
    let o = common::steprl(&[
        "plugin",
        "check",
        plugin("hostile-py").to_str().unwrap(),
        "--config",
        r#"{"mode": "huge-plan"}"#,
    ]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL hostile-py")
            && out.contains("the plan names 100000 rollouts, more than the 32 requested"),
        "{out}"
    );
}

#[test]
fn every_hostile_javascript_checker_costs_only_its_own_verdicts_with_a_named_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, err) = train_with(d, "well-behaved", ("hostile-js", "well-behaved"), None);
    assert_eq!(code, Some(0), "{err}");
    for (mode, wants) in [
        (
            "nan-score",
            "reward checker `hostile-js` returned a verdict outside its contract: score NaN is not a number in [0, 1]",
        ),
        ("throw", "TypeError: hostile-js throws in check"),
        (
            "spin",
            "plugin `hostile-js` was stopped in `check`: deadline of 1 s exceeded (raise `limits.check_ms` if the plugin needs longer)",
        ),
    ] {
        let (code, err) = train_with(d, "well-behaved", ("hostile-js", mode), None);
        assert!(err.contains(wants), "{mode}: wanted `{wants}` in:\n{err}");
        assert!(err.contains("lost to a plugin failure"), "{mode}: {err}");
        assert_eq!(
            code,
            Some(1),
            "{mode}: no verdict, so nothing evaluated: {err}"
        );
    }
}

//! `steprl train` / `resume` / `eval` as processes: a run killed with SIGKILL and
//! resumed writes the same metrics as an uninterrupted run with the same seed; bad
//! configs name the key.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{plugin as dist, steprl, train_into};

/// The MLP policy of the tests.
const MLP: &str = "embed_dim = 8\nhidden = 32\nlayers = 1";

/// The tiny random Llama of `host/lm`'s fixtures in choice mode.
fn lm_policy() -> String {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lm/tests/fixtures/tiny-llama");
    format!(
        "kind = \"lm\"\nmodel = \"{}\"\nlora_rank = 2\nlora_alpha = 4.0",
        model.display()
    )
}

fn config(dir: &Path, rounds: u32, every: u32) -> PathBuf {
    config_with(dir, rounds, every, MLP, 64)
}

fn config_with(dir: &Path, rounds: u32, every: u32, policy: &str, minibatch: usize) -> PathBuf {
    config_seeded(dir, 11, rounds, every, policy, minibatch)
}

fn config_seeded(
    dir: &Path,
    seed: u64,
    rounds: u32,
    every: u32,
    policy: &str,
    minibatch: usize,
) -> PathBuf {
    let text = format!(
        r#"
seed = {seed}
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
minibatch = {minibatch}

[policy]
{policy}

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

/// Metrics lines in their flat view, without the wall-time part, which differs between
/// any two runs.
fn metrics(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v = steprl_report::data::flat_line(l).unwrap();
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
    killed_and_resumed(dir.path(), &cfg, 20);
    let o = steprl(&[
        "export",
        dir.path().join("whole").to_str().unwrap(),
        "--out",
        dir.path().join("merged").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("export writes a language-model policy"),
        "an MLP run has nothing to export: {err}"
    );
}

/// Crashes injected at exact moments (`STEPRL_FAILPOINT`, which aborts the process as
/// `kill -9` would): mid-rollout, mid-update, after a round's metrics line, between a
/// checkpoint's learner files and its state, and between renaming a checkpoint into place
/// and pointing `latest` at it — seven crashes in a row per seed, 21 over three seeds.
/// Every resume must carry on to the very metrics of the uninterrupted run.
#[test]
fn a_run_crashed_at_many_moments_resumes_to_the_same_metrics_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    for seed in [3u64, 4, 5] {
        let s = (seed - 3) as usize;
        let d = dir.path().join(format!("seed-{seed}"));
        std::fs::create_dir_all(&d).unwrap();
        let cfg = config_seeded(&d, seed, 12, 2, MLP, 32);
        // Failures make samples too, so every round updates (and can crash mid-update).
        let mut text = std::fs::read_to_string(&cfg).unwrap();
        text.push_str("\n[algo]\ninclude_failures = true\n");
        std::fs::write(&cfg, text).unwrap();
        let expected = uninterrupted(&d, &cfg, 12);
        let cfg = cfg.to_str().unwrap();

        let cut = d.join("cut");
        let crashes = [
            format!("rollout.episode:{}", 5 + s),
            format!("update.step:{}", 2 + s),
            "checkpoint.partial:1".to_owned(),
            "checkpoint.renamed:1".to_owned(),
            format!("metrics.appended:{}", 1 + s),
            format!("rollout.episode:{}", 30 + s),
            format!("update.step:{}", 3 + s),
        ];
        crash_then_resume(cfg, &cut, &crashes, &format!("seed {seed}"));
        assert_eq!(
            metrics(&cut),
            expected,
            "seed {seed}: after 7 crashes the metrics differ from the uninterrupted run"
        );
    }
}

/// Asynchronous rollouts: round r+1 rolls out with the policy of version r while the
/// learner updates on round r. Each round's samples then lag the learner by one
/// version, and none is dropped at `max_staleness = 1`. The pending rollouts travel in
/// the checkpoint, so crashes mid-rollout (the overlapped one included), mid-update
/// (on the learner's thread), inside a checkpoint and after a metrics line all resume
/// to the very metrics of the uninterrupted asynchronous run.
#[test]
fn an_async_run_lags_one_version_and_resumes_after_crashes_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_seeded(dir.path(), 7, 10, 2, MLP, 32);
    let text = std::fs::read_to_string(&cfg).unwrap();
    let sync_text = text.replace("[rollout]\n", "[rollout]\nmode = \"sync\"\n");
    let text = text.replace("[rollout]\n", "[rollout]\nmode = \"async\"\n")
        + "\n[algo]\ninclude_failures = true\n";
    std::fs::write(&cfg, &text).unwrap();
    let expected = uninterrupted(dir.path(), &cfg, 10);
    for (r, line) in expected.iter().enumerate() {
        let lag = if r == 0 { 0.0 } else { 1.0 };
        assert_eq!(
            line["policy_version"],
            r.saturating_sub(1) as u64,
            "round {r}"
        );
        assert_eq!(line["staleness"].as_f64(), Some(lag), "round {r}: {line}");
        assert_eq!(line["stale_samples"], 0, "round {r}");
        assert!(line["samples"].as_u64().unwrap() > 0, "round {r}: {line}");
    }
    // The same seed in synchronous mode acts with the newest policy every round.
    let sync_cfg = dir.path().join("sync.toml");
    std::fs::write(&sync_cfg, sync_text + "\n[algo]\ninclude_failures = true\n").unwrap();
    let o = train_into(&sync_cfg, &dir.path().join("sync"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sync = metrics(&dir.path().join("sync"));
    assert_eq!(
        sync[0], expected[0],
        "round 0 acts with version 0 either way"
    );
    assert_eq!(sync[3]["policy_version"], 3);
    assert_eq!(sync[3]["staleness"].as_f64(), Some(0.0));
    assert_ne!(sync[3]["env_steps_total"], serde_json::Value::Null);

    let cfg = cfg.to_str().unwrap();
    let cut = dir.path().join("cut");
    let crashes = [
        "rollout.episode:30",
        "update.step:3",
        "checkpoint.partial:1",
        "metrics.appended:2",
        "rollout.episode:70",
        "checkpoint.renamed:1",
    ];
    crash_then_resume(cfg, &cut, &crashes, "async");
    assert_eq!(
        metrics(&cut),
        expected,
        "after {} crashes the async run's metrics differ from the uninterrupted one",
        crashes.len()
    );
}

/// A language model choosing among labelled actions rolls out asynchronously from a
/// snapshot of its adapters, one version behind, and its samples carry the lag.
#[test]
fn an_async_language_model_run_acts_one_version_behind() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_with(dir.path(), 4, 2, &lm_policy(), 16);
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("[rollout]\n", "[rollout]\nmode = \"async\"\n")
        + "\n[algo]\ninclude_failures = true\n";
    std::fs::write(&cfg, text).unwrap();
    let lines = uninterrupted(dir.path(), &cfg, 4);
    for (r, line) in lines.iter().enumerate() {
        assert_eq!(line["policy_version"], r.saturating_sub(1) as u64, "{line}");
        let lag = if r == 0 { 0.0 } else { 1.0 };
        assert_eq!(line["staleness"].as_f64(), Some(lag), "{line}");
        assert_eq!(line["samples"], 24, "{line}");
    }
}

/// Partial rollouts: with a deadline that has passed by the end of the first turn,
/// each round closes after one step of every lane and carries the rest into the next
/// round, except the rounds that end with a checkpoint, which run every episode to its
/// end (nothing in flight is lost on resume). Every planned episode is judged once;
/// steps taken before an update lag one version, and `max_staleness = 0` drops their
/// samples and counts them. A crash after a checkpoint resumes to the same metrics.
#[test]
fn partial_rollouts_carry_unfinished_episodes_and_drain_at_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_seeded(dir.path(), 9, 6, 3, MLP, 32);
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "[rollout]\n",
        "[rollout]\nround_deadline_s = 0.000001\nmax_staleness = 0\n",
    ) + "\n[algo]\ninclude_failures = true\n";
    std::fs::write(&cfg, text).unwrap();
    let lines = uninterrupted(dir.path(), &cfg, 6);
    let carried: Vec<u64> = lines
        .iter()
        .map(|l| l["carried"].as_u64().unwrap())
        .collect();
    // Rounds 2 and 5 end with a checkpoint: they drain.
    assert!(
        carried[0] > 0 && carried[1] > 0 && carried[3] > 0,
        "{carried:?}"
    );
    assert_eq!((carried[2], carried[5]), (0, 0), "{carried:?}");
    let judged = lines.last().unwrap()["trajectories_total"]
        .as_u64()
        .unwrap();
    assert_eq!(judged, 6 * 4 * 6, "every planned episode judged once");
    let stale: u64 = lines
        .iter()
        .map(|l| l["stale_samples"].as_u64().unwrap())
        .sum();
    assert!(
        stale > 0,
        "the carried prefixes' samples are dropped at max_staleness = 0"
    );
    for l in &lines {
        assert_eq!(
            l["staleness"].as_f64(),
            Some(0.0),
            "only fresh samples train: {l}"
        );
    }

    let cut = dir.path().join("cut");
    let o = Command::new(env!("CARGO_BIN_EXE_steprl"))
        .args(["train", cfg.to_str().unwrap(), "--backend", "cpu", "--out"])
        .arg(&cut)
        .env("STEPRL_FAILPOINT", "metrics.appended:5")
        .output()
        .unwrap();
    assert!(
        o.status.code().is_none(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = steprl(&["resume", cut.to_str().unwrap(), "--backend", "cpu"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(metrics(&cut), lines);
}

#[test]
fn async_rollouts_refuse_a_zero_staleness_bound_and_an_unknown_mode() {
    let dir = tempfile::tempdir().unwrap();
    let run = |policy: &str, rollout: &str| -> String {
        let cfg = config_with(dir.path(), 1, 1, policy, 16);
        let text = std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("[rollout]\n", &format!("[rollout]\n{rollout}\n"));
        std::fs::write(&cfg, text).unwrap();
        train_refused(dir.path(), &cfg)
    };
    let err = run(MLP, "mode = \"async\"\nmax_staleness = 0");
    assert!(
        err.contains("rollout.max_staleness = 0 would drop every sample in async mode"),
        "{err}"
    );
    let err = run(MLP, "round_deadline_s = -1.0");
    assert!(
        err.contains("rollout.round_deadline_s = -1 must be 0 (off) or a positive number"),
        "{err}"
    );
    let err = run(MLP, "mode = \"later\"");
    assert!(
        err.contains("rollout.mode") && err.contains("`sync`") && err.contains("`async`"),
        "{err}"
    );
    let err = run(MLP, "stepping = \"loose\"");
    assert!(
        err.contains("rollout.stepping") && err.contains("`lockstep`") && err.contains("`free`"),
        "{err}"
    );
}

/// Free-running lanes, in async mode with partial rollouts too: every planned episode
/// is judged once, and the saved config keeps the stepping (a resume runs as the run
/// did).
#[test]
fn free_running_lanes_train_every_planned_episode() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_seeded(dir.path(), 5, 4, 2, MLP, 32);
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "[rollout]\n",
        "[rollout]\nstepping = \"free\"\nmode = \"async\"\nround_deadline_s = 0.000001\n",
    );
    std::fs::write(&cfg, text).unwrap();
    let lines = uninterrupted(dir.path(), &cfg, 4);
    let judged = lines.last().unwrap()["trajectories_total"]
        .as_u64()
        .unwrap();
    assert_eq!(judged, 4 * 4 * 6, "every planned episode judged once");
    assert!(lines[0]["carried"].as_u64().unwrap() > 0, "{}", lines[0]);
    let saved = std::fs::read_to_string(dir.path().join("whole/config.toml")).unwrap();
    assert!(saved.contains("stepping = \"free\""), "{saved}");
}

#[test]
fn a_killed_and_resumed_language_model_run_matches_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_with(dir.path(), 8, 2, &lm_policy(), 16);
    killed_and_resumed(dir.path(), &cfg, 8);
    // Only the adapters, the optimizer state and the base model's hash are saved (with
    // the config and the record).
    let ckpt = dir.path().join("cut/checkpoints/round-00008");
    let mut files: Vec<String> = std::fs::read_dir(&ckpt)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "adam.bin",
            "base.json",
            "checksums.json",
            "config.toml",
            "lora.safetensors",
            "state.json"
        ]
    );
    // The trained adapters merged into the base model: a Hugging Face directory that
    // loads (the logits are compared in host/learner/tests/lm_generate.rs).
    let merged = dir.path().join("merged");
    let o = steprl(&[
        "export",
        dir.path().join("cut").to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("(4 with merged adapters)"), "{out}");
    let o = steprl(&["model", "inspect", merged.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Another base model than the one trained on is refused.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lm/tests/fixtures/tiny-llama");
    let other = dir.path().join("other-model");
    std::fs::create_dir(&other).unwrap();
    for e in std::fs::read_dir(&fixture).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, other.join(p.file_name().unwrap())).unwrap();
    }
    let mut tc = std::fs::read_to_string(other.join("tokenizer_config.json")).unwrap();
    tc.push('\n');
    std::fs::write(other.join("tokenizer_config.json"), tc).unwrap();
    // The run's config and the checkpoint's own copy (which export reads) name it.
    for cfg in ["cut/config.toml", "cut/checkpoints/round-00008/config.toml"] {
        let run_cfg = dir.path().join(cfg);
        let text = std::fs::read_to_string(&run_cfg).unwrap();
        let fixture_text = fixture.display().to_string();
        assert!(text.contains(&fixture_text), "{text}");
        std::fs::write(
            &run_cfg,
            text.replace(&fixture_text, &other.display().to_string()),
        )
        .unwrap();
    }
    let o = steprl(&[
        "export",
        dir.path().join("cut").to_str().unwrap(),
        "--out",
        dir.path().join("merged2").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("export needs the same base model"), "{err}");
}

#[test]
fn a_fully_fine_tuned_run_saves_and_exports_its_layer_weights() {
    let dir = tempfile::tempdir().unwrap();
    let policy = format!("{}\nfinetune = \"full\"", lm_policy());
    let cfg = config_with(dir.path(), 1, 1, &policy, 16);
    let run = dir.path().join("run");
    let o = train_into(&cfg, &run);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains(
            "full fine-tuning of the decoder layers' projections (73728 trainable parameters)"
        ),
        "{stdout}"
    );
    let ckpt = run.join("checkpoints/round-00001");
    assert!(ckpt.join("weights.safetensors").exists());
    assert!(!ckpt.join("lora.safetensors").exists());
    let o = steprl(&[
        "export",
        run.to_str().unwrap(),
        "--out",
        dir.path().join("merged").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("(14 with fine-tuned weights)"), "{out}");
}

#[test]
fn a_run_directory_in_use_is_refused_naming_its_holder() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 100_000, 1);
    let run = dir.path().join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_steprl"))
        .args(["train", cfg.to_str().unwrap(), "--backend", "cpu", "--out"])
        .arg(&run)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it has written its first round (the lock is held from the start).
    while !run.join("metrics.jsonl").exists() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(5));
    }
    let holder = format!("in use by another steprl process (pid {}", child.id());
    for args in [
        vec!["resume", run.to_str().unwrap(), "--backend", "cpu"],
        vec![
            "train",
            cfg.to_str().unwrap(),
            "--backend",
            "cpu",
            "--out",
            run.to_str().unwrap(),
        ],
    ] {
        let o = steprl(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(&holder), "{args:?}: {err}");
    }
    // Killed, its lock goes with it: the run resumes.
    child.kill().unwrap();
    child.wait().unwrap();
    let mut resumed = Command::new(env!("CARGO_BIN_EXE_steprl"))
        .args(["resume", run.to_str().unwrap(), "--backend", "cpu"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = |run: &Path| {
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    let before = lines(&run);
    while lines(&run) <= before {
        assert!(
            resumed.try_wait().unwrap().is_none(),
            "the resume ended early"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    resumed.kill().unwrap();
    resumed.wait().unwrap();
}

/// The metrics of `cfg` trained without interruption into `dir/whole`.
/// Train `cfg` into `cut`, crashing at each of `crashes` in turn (the first crash in
/// `train`, the others in `resume`), then resume it to its end. `what` names the run
/// in failure messages.
fn crash_then_resume(cfg: &str, cut: &Path, crashes: &[impl AsRef<str>], what: &str) {
    let cut_s = cut.to_str().unwrap();
    for (i, point) in crashes.iter().enumerate() {
        let point = point.as_ref();
        let args: Vec<&str> = if i == 0 {
            vec!["train", cfg, "--backend", "cpu", "--out", cut_s]
        } else {
            vec!["resume", cut_s, "--backend", "cpu"]
        };
        let o = Command::new(env!("CARGO_BIN_EXE_steprl"))
            .args(&args)
            .env("STEPRL_FAILPOINT", point)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.code().is_none() && err.contains(&format!("aborting at {point}")),
            "{what}: the run was to crash at {point} (crash {}), but ended with {:?}: {err}",
            i + 1,
            o.status
        );
    }
    let o = steprl(&["resume", cut_s, "--backend", "cpu"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `steprl train cfg` into `dir/x`, which must refuse it (exit 1); its stderr.
fn train_refused(dir: &Path, cfg: &Path) -> String {
    let o = steprl(&[
        "train",
        cfg.to_str().unwrap(),
        "--backend",
        "cpu",
        "--out",
        dir.join("x").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn uninterrupted(dir: &Path, cfg: &Path, rounds: usize) -> Vec<serde_json::Value> {
    let whole = dir.join("whole");
    let o = train_into(cfg, &whole);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let expected = metrics(&whole);
    assert_eq!(expected.len(), rounds);
    expected
}

fn killed_and_resumed(dir: &Path, cfg: &Path, rounds: usize) {
    let expected = uninterrupted(dir, cfg, rounds);
    let cfg = cfg.to_str().unwrap();

    let cut = dir.join("cut");
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
fn a_run_stopped_before_its_first_checkpoint_is_started_over_by_resume() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 2, 1);
    let run = dir.path().join("r");
    assert!(train_into(&cfg, &run).status.success());
    // What a kill during the first round leaves: the saved config and some files, no
    // checkpoint.
    std::fs::remove_dir_all(run.join("checkpoints")).unwrap();
    std::fs::remove_file(run.join("latest")).unwrap();
    std::fs::remove_file(run.join("eval-after.json")).unwrap();
    let o = steprl(&["resume", run.to_str().unwrap(), "--backend", "cpu"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("has no checkpoint yet") && err.contains("from round 0"),
        "{err}"
    );
    assert_eq!(metrics(&run).len(), 2);
    assert!(run.join("latest").exists());
    // A directory holding anything a run does not write is not wiped.
    std::fs::remove_dir_all(run.join("checkpoints")).unwrap();
    std::fs::remove_file(run.join("latest")).unwrap();
    std::fs::write(run.join("notes.txt"), "mine").unwrap();
    let o = steprl(&["resume", run.to_str().unwrap(), "--backend", "cpu"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("holds `notes.txt`, which a run does not write"),
        "{err}"
    );
    assert!(run.join("notes.txt").exists());
}

#[test]
fn a_damaged_checkpoint_is_refused_by_eval_and_resume_falls_back() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 3, 1);
    let run = dir.path().join("r");
    assert!(train_into(&cfg, &run).status.success());
    // Round 3's model file damaged (a truncated copy, a bad disk).
    let three = run.join("checkpoints/round-00003");
    let model = three.join("model.bpk");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() / 2]).unwrap();
    let o = steprl(&["eval", three.to_str().unwrap(), "--backend", "cpu"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "round-00003: damaged checkpoint: model.bpk does not match its recorded SHA-256"
        ),
        "{err}"
    );
    // Resumed with more rounds: from round 2's checkpoint, round 3 run again.
    let text = std::fs::read_to_string(run.join("config.toml")).unwrap();
    std::fs::write(
        run.join("config.toml"),
        text.replace("rounds = 3", "rounds = 4"),
    )
    .unwrap();
    let o = steprl(&["resume", run.to_str().unwrap(), "--backend", "cpu"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("resuming from") && err.contains("round-00002"),
        "{err}"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("at round 3"), "{out}");
    assert_eq!(metrics(&run).len(), 4);

    // `eval` loads the policy only: an unreadable optimizer state (in a checkpoint from
    // before checksums, so nothing flags it first) stops a resume but not an evaluation.
    let two = run.join("checkpoints/round-00002");
    std::fs::remove_file(two.join("checksums.json")).unwrap();
    std::fs::write(two.join("adam.bin"), b"not an optimizer state").unwrap();
    let o = steprl(&[
        "eval",
        two.to_str().unwrap(),
        "--episodes",
        "1",
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(run.join("latest"), "round-00002").unwrap();
    let o = steprl(&["resume", run.to_str().unwrap(), "--backend", "cpu"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("adam.bin"), "{err}");
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
        err.contains("run.toml:")
            && err.contains(": learner.learning_rate:")
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
    // A negative count is named as such, not met with clap's `-- -1` tip.
    let o = steprl(&["train", cfg.to_str().unwrap(), "--rounds", "-1"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains("invalid value '-1' for '--rounds <N>'"),
        "{err}"
    );
}

#[test]
fn a_non_finite_update_stops_the_run_before_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 6, 1);
    // An absurd learning rate drives the weights to infinity within a few rounds.
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("[learner]\n", "[learner]\nlr = 1e30\ngrad_clip = 0.0\n");
    std::fs::write(&cfg, text).unwrap();
    let out = dir.path().join("run");
    let o = train_into(&cfg, &out);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the update produced a non-finite loss or gradient"),
        "{err}"
    );
    // Every recorded round is finite, and each has its checkpoint (every = 1).
    let lines = metrics(&out);
    assert!(
        !lines.is_empty() && lines.len() < 6,
        "{} rounds recorded",
        lines.len()
    );
    for l in &lines {
        assert!(l["policy_loss"].is_number(), "{l}");
    }
    let last = out.join(format!("checkpoints/round-{:05}", lines.len()));
    assert!(last.join("state.json").exists(), "{}", last.display());
}

#[test]
fn bad_language_model_policies_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let run = |policy: &str| -> String {
        let cfg = config_with(dir.path(), 1, 1, policy, 16);
        train_refused(dir.path(), &cfg)
    };
    let err = run("kind = \"lm\"");
    assert!(
        err.contains("policy.model must name the pretrained model"),
        "{err}"
    );
    let err = run(&format!("{}\nmode = \"generate\"", lm_policy()));
    assert!(
        err.contains("it accepts no text actions")
            && err.contains("use policy.mode = \"choice\" for labelled discrete actions"),
        "uisim takes discrete actions only: {err}"
    );
    let err = run(&format!(
        "{}\nmode = \"generate\"\ntemperature = 0.0\ntop_p = 2.0",
        lm_policy()
    ));
    assert!(
        err.contains("policy.temperature = 0 must be a positive number")
            && err.contains("policy.top_p = 2 must lie in (0, 1]"),
        "{err}"
    );
    let err = run(&format!("{}\nlora_targets = [\"qkv\"]", lm_policy()));
    assert!(err.contains("unknown projection `qkv`"), "{err}");
    let err = run(&format!("{}\nlora_dropout = 1.5", lm_policy()));
    assert!(
        err.contains("policy.lora_dropout = 1.5 must be at least 0 and below 1"),
        "{err}"
    );
    let err = run(&format!("{}\nfinetune = \"partial\"", lm_policy()));
    assert!(
        err.contains("finetune") && err.contains("`lora`") && err.contains("`full`"),
        "{err}"
    );
    let err = run("kind = \"lm\"\nmodel = \"no/such/model.gguf\"");
    assert!(err.contains("no/such/model.gguf"), "{err}");
    let err = run(&format!("{MLP}\nmodel = \"m.gguf\""));
    assert!(
        err.contains("policy.model is only read when policy.kind = \"lm\""),
        "{err}"
    );
}

#[test]
fn a_warm_start_clones_the_demonstrations_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let demos = dir.path().join("demos.jsonl");
    let mut lines = String::new();
    for (k, app) in ["settings", "contacts", "notes", "clock", "messages"]
        .iter()
        .enumerate()
    {
        for seed in 0..4 {
            lines.push_str(&format!(
                "{{\"task\": \"open.{app}\", \"seed\": {seed}, \"actions\": [\"click {k}\", \"done\"]}}\n"
            ));
        }
    }
    std::fs::write(&demos, lines).unwrap();
    let cfg = config(dir.path(), 1, 1);
    // Wi-Fi off is held out: evaluated before, after the warm start and after training.
    let warm = format!(
        "{}\n[warmstart]\ndemos = \"demos.jsonl\"\nepochs = 200\nlr = 0.02\n",
        std::fs::read_to_string(&cfg).unwrap().replace(
            "include = [\"open.*\", \"settings.wifi-*\"]",
            "include = [\"open.*\", \"settings.wifi-*\"]\nheldout = [\"settings.wifi-off\"]"
        )
    );
    std::fs::write(&cfg, &warm).unwrap();
    let out = dir.path().join("run");
    let o = train_into(&cfg, &out);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("warm start: 20 demonstrations, 40 steps cloned, 200 epochs"),
        "{stdout}"
    );
    // Long work shows its progress without -v: one line per cloning epoch.
    assert!(
        stderr.contains("warm start: epoch 1/200, mean cloning loss")
            && stderr.contains("warm start: epoch 200/200, mean cloning loss"),
        "{stderr}"
    );
    let rate = |name: &str| -> f64 {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join(name)).unwrap()).unwrap();
        let tasks = v["tasks"].as_object().unwrap();
        let open: Vec<f64> = tasks
            .iter()
            .filter(|(k, _)| k.starts_with("open."))
            .map(|(_, r)| {
                let r = r.as_array().unwrap();
                r[0].as_f64().unwrap() / r[1].as_f64().unwrap()
            })
            .collect();
        open.iter().sum::<f64>() / open.len() as f64
    };
    let (before, after) = (rate("eval-before.json"), rate("eval-warmstart.json"));
    assert!(
        before < 0.5 && after == 1.0,
        "open.* success before {before}, after the warm start {after}\n{stdout}"
    );
    for name in [
        "eval-heldout-before.json",
        "eval-heldout-warmstart.json",
        "eval-heldout.json",
    ] {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join(name)).unwrap()).unwrap();
        let tasks: Vec<&String> = v["tasks"].as_object().unwrap().keys().collect();
        assert_eq!(tasks, ["settings.wifi-off"], "{name}");
    }
    for line in [
        "success on 1 held-out tasks before training: ",
        "success on 1 held-out tasks after warm start: ",
        "success on 1 held-out tasks after training: ",
        "held-out before → after: ",
    ] {
        assert!(stdout.contains(line), "{line}\n{stdout}");
    }

    // A demonstration the environment rejects is named by file and line.
    std::fs::write(
        &demos,
        "{\"task\": \"open.clock\", \"seed\": 0, \"actions\": [\"click 3\", \"fly\"]}\n",
    )
    .unwrap();
    let o = train_into(&cfg, &dir.path().join("run2"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("demos.jsonl, line 1: action 2: `fly` is not an action"),
        "{err}"
    );
}

/// `resume --resampler`: a stopped run carries on under another resampler plugin, the
/// success record carried over; the swap is kept in config.toml, config-history.jsonl
/// and each round's metrics.
#[test]
fn resume_swaps_the_resampler_of_a_stopped_run() {
    swap_the_resampler("", "rollout.episode:40");
}

/// The same in asynchronous mode, where the checkpoint may hold the next round's
/// rollouts: the new resampler plans from the round after them, and each line names
/// the resampler that planned its episodes.
#[test]
fn resume_swaps_the_resampler_of_a_stopped_async_run() {
    // Round 1's rollouts (episodes 25-48) run during round 0, round 2's during round 1.
    swap_the_resampler("mode = \"async\"\n", "rollout.episode:70");
}

/// Train with `rollout` in the `[rollout]` table, crash at `crash`, resume under another
/// resampler.
fn swap_the_resampler(rollout: &str, crash: &str) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 4, 1);
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("[rollout]\n", &format!("[rollout]\n{rollout}"));
    std::fs::write(&cfg, text).unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_steprl"))
        .args([
            "train",
            cfg.to_str().unwrap(),
            "--backend",
            "cpu",
            "--out",
            run_s,
        ])
        .env("STEPRL_FAILPOINT", crash)
        .output()
        .unwrap();
    assert!(o.status.code().is_none(), "the run was to crash mid-round");

    // A config that is not a JSON object is refused before anything runs.
    let progress = dist("resample-progress");
    let progress_s = progress.to_str().unwrap();
    let o = steprl(&[
        "resume",
        run_s,
        "--resampler",
        progress_s,
        "--resampler-config",
        "[1]",
    ]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--resampler-config must be a JSON object"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let o = steprl(&[
        "resume",
        run_s,
        "--backend",
        "cpu",
        "--resampler",
        progress_s,
        "--resampler-config",
        r#"{"epsilon": 0.2}"#,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("resampler swapped from round"), "{err}");
    let history = std::fs::read_to_string(run.join("config-history.jsonl")).unwrap();
    let change: serde_json::Value = serde_json::from_str(history.trim()).unwrap();
    let from = change["from_round"].as_u64().unwrap() as usize;
    assert!(from >= 1, "{change}");
    assert!(
        change["resampler"]["from"]["plugin"]
            .as_str()
            .unwrap()
            .ends_with("resample-step.wasm"),
        "{change}"
    );
    assert_eq!(change["resampler"]["to"]["config"]["epsilon"], 0.2);
    let m = metrics(&run);
    assert_eq!(m.len(), 4);
    for (i, line) in m.iter().enumerate() {
        let wants = if i < from {
            "resample-step"
        } else {
            "resample-progress"
        };
        assert_eq!(line["resampler"], wants, "round {i}");
    }
    let saved = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(
        saved.contains("resample-progress.wasm") && saved.contains("epsilon = 0.2"),
        "{saved}"
    );
    // The success record carried over: the first swapped round planned from it, so
    // tasks seen before keep their rates in its metrics.
    assert!(
        m[from]["task_rate"].as_object().unwrap().len()
            >= m[from - 1]["task_rate"].as_object().unwrap().len()
    );
}

/// A run trained from a config given by a relative path (as the README's quick start
/// does) resumes and evaluates from its run directory: the saved config names its
/// plugins by absolute paths.
#[test]
fn a_run_from_a_relative_config_path_resumes_and_evaluates() {
    let dir = tempfile::tempdir().unwrap();
    let root = common::repo_root();
    let run = dir.path().join("run");
    let steprl_in_root = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_steprl"))
            .current_dir(&root)
            .args(args)
            .output()
            .unwrap()
    };
    let o = steprl_in_root(&[
        "train",
        "configs/uisim-step.toml",
        "--rounds",
        "1",
        "--backend",
        "cpu",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let saved = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(
        saved.contains(&format!("plugin = \"{}", root.display())),
        "{saved}"
    );
    // From another directory.
    for args in [
        vec!["resume", run.to_str().unwrap(), "--backend", "cpu"],
        vec!["eval", run.to_str().unwrap(), "--episodes", "1"],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_steprl"))
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}: {}",
            args[0],
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // Each checkpoint keeps the config it was written under: eval reads it there.
    let latest = std::fs::read_to_string(run.join("latest")).unwrap();
    let ckpt = run.join("checkpoints").join(latest.trim());
    assert_eq!(
        std::fs::read_to_string(ckpt.join("config.toml")).unwrap(),
        std::fs::read_to_string(run.join("config.toml")).unwrap()
    );
    std::fs::rename(run.join("config.toml"), dir.path().join("moved.toml")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_steprl"))
        .args(["eval", ckpt.to_str().unwrap(), "--episodes", "1"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

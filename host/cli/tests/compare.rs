//! `steprl compare` on a tiny budget and `steprl report` as processes: every file
//! appears, the report names every method and seed, a rerun resumes instead of
//! retraining, the report re-renders from saved metrics alone, and bad input is
//! refused with the reason.

mod common;

use std::path::{Path, PathBuf};

use common::{plugin as dist, steprl, text};

fn config(dir: &Path, env: &str, checker: &str, heldout: &str) -> PathBuf {
    let text = format!(
        r#"
seed = 5

[env]
plugin = "{}"
config = {{ levels = [1] }}
[checker]
plugin = "{}"
[resampler]
plugin = "{}"
config = {{ kappa = 10.0 }}

[tasks]
heldout = ["{heldout}"]

[algo]
include_failures = true

[rollout]
tasks_per_round = 4
copies_per_task = 4
concurrency = 16

[learner]
minibatch = 64

[policy]
embed_dim = 8
hidden = 32
layers = 1

[eval]
episodes = 1
"#,
        dist(env).display(),
        dist(checker).display(),
        dist("resample-step").display()
    );
    let p = dir.join(format!("{env}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn compare_writes_every_run_plot_and_a_report_naming_methods_and_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "shellsim", "shellsim-checker", "shellsim/mkdir");
    let out = dir.path().join("cmp");
    let args = [
        "compare",
        cfg.to_str().unwrap(),
        "--methods",
        "step,tgrpo,step-no-aug",
        "--seeds",
        "2",
        "--budget-env-steps",
        "600",
        "--jobs",
        "2",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = steprl(&args);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    for m in ["step", "tgrpo", "step-no-aug"] {
        for s in [5, 6] {
            let run = out.join(m).join(format!("seed-{s}"));
            for f in [
                "metrics.jsonl",
                "eval-after.json",
                "eval-heldout.json",
                "tasks.json",
            ] {
                assert!(run.join(f).exists(), "{} missing", run.join(f).display());
            }
            let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
            let last = steprl_report::data::flat_line(metrics.lines().last().unwrap()).unwrap();
            assert!(last["env_steps_total"].as_u64().unwrap() >= 600);
        }
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    for needle in [
        "step, tgrpo, step-no-aug",
        "seeds: 5, 6",
        "| tgrpo | 2 |",
        "| step-no-aug | 2 |",
        "budget: 600",
        "held-out tasks (1): shellsim/mkdir",
        "## Ablation",
    ] {
        assert!(
            report.contains(needle),
            "report lacks `{needle}`:\n{report}"
        );
    }
    for stem in ["success", "mastered", "cache", "difficulty", "effort"] {
        assert!(
            out.join("plots").join(format!("{stem}.svg")).exists(),
            "{stem}.svg"
        );
        assert!(
            out.join("plots").join(format!("{stem}.png")).exists(),
            "{stem}.png"
        );
    }

    // The same command again finds every run finished and trains nothing.
    let o = steprl(&args);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stderr.matches("already finished").count(), 6, "{stderr}");

    // `report` re-renders from the saved files alone.
    std::fs::remove_file(out.join("report.md")).unwrap();
    std::fs::remove_dir_all(out.join("plots")).unwrap();
    let o = steprl(&["report", out.to_str().unwrap()]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        std::fs::read_to_string(out.join("report.md")).unwrap(),
        report
    );
    assert!(out.join("plots/success.png").exists());

    // Other settings in the same directory are refused with what it holds.
    let mut other = args.to_vec();
    other[5] = "3";
    let o = steprl(&other);
    let (_, stderr) = text(&o);
    assert!(!o.status.success());
    assert!(
        stderr.contains("holds a comparison with other settings"),
        "{stderr}"
    );
}

#[test]
fn compare_and_report_refuse_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "uisim", "uisim-checker", "open.notes");
    let o = steprl(&[
        "compare",
        cfg.to_str().unwrap(),
        "--methods",
        "step,ppo",
        "--budget-env-steps",
        "100",
        "--out",
        dir.path().join("x").to_str().unwrap(),
    ]);
    let (_, stderr) = text(&o);
    assert!(!o.status.success());
    assert!(
        stderr.contains("unknown method `ppo`") && stderr.contains("step-no-both"),
        "{stderr}"
    );
    let o = steprl(&["report", dir.path().to_str().unwrap()]);
    let (_, stderr) = text(&o);
    assert!(!o.status.success());
    assert!(
        stderr.contains("not a steprl run or comparison directory"),
        "{stderr}"
    );
}

#[test]
fn the_learning_rate_grid_runs_first_and_each_method_uses_its_pick() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "shellsim", "shellsim-checker", "shellsim/mkdir");
    let out = dir.path().join("cmp");
    let args = [
        "compare",
        cfg.to_str().unwrap(),
        "--methods",
        "step,tgrpo",
        "--seeds",
        "1",
        "--lr-grid",
        "1e-4,3e-3",
        "--grid-seeds",
        "1",
        "--budget-env-steps",
        "300",
        "--jobs",
        "2",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = steprl(&args);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    // Grid runs use seeds far from the comparison's (5 → 1005).
    for m in ["step", "tgrpo"] {
        for lr in ["1e-4", "3e-3"] {
            let run = out.join("grid").join(m).join(format!("lr-{lr}/seed-1005"));
            assert!(run.join("eval-after.json").exists(), "{}", run.display());
        }
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    for m in ["step", "tgrpo"] {
        let picked = manifest["lr"][m].as_f64().unwrap();
        assert!(picked == 1e-4 || picked == 3e-3, "{picked}");
        assert!(
            stdout.contains(&format!("learning rate for {m}: {picked:e}")),
            "{stdout}"
        );
        // The comparison run trained at the picked rate.
        let saved = std::fs::read_to_string(out.join(m).join("seed-5/config.toml")).unwrap();
        let lr: f64 = saved
            .lines()
            .find_map(|l| l.trim().strip_prefix("lr = "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(lr, picked, "{m}");
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## Learning-rate grid"), "{report}");
    assert!(
        report.contains("| method | lr 1e-4 | lr 3e-3 |"),
        "{report}"
    );
    let bold_rows = report
        .lines()
        .filter(|l| l.starts_with("| step |") || l.starts_with("| tgrpo |"))
        .filter(|l| l.matches("**").count() == 2)
        .count();
    assert_eq!(bold_rows, 2, "one bold pick per method:\n{report}");

    // A rerun skips the grid and the comparison alike.
    let o = steprl(&args);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stderr.matches("already finished").count(), 6, "{stderr}");
}

#[test]
fn bad_learning_rate_grids_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "uisim", "uisim-checker", "open.notes");
    for (grid, why) in [
        ("1e-3,abc", "`abc` is not a positive learning rate"),
        ("1e-3,-1", "`-1` is not a positive learning rate"),
        ("1e-3,0.001", "listed twice"),
        (",", "--lr-grid is empty"),
    ] {
        let o = steprl(&[
            "compare",
            cfg.to_str().unwrap(),
            "--lr-grid",
            grid,
            "--budget-env-steps",
            "100",
            "--out",
            dir.path().join("x").to_str().unwrap(),
        ]);
        let (_, stderr) = text(&o);
        assert!(!o.status.success());
        assert!(stderr.contains(why), "{grid}: {stderr}");
    }
}

#[test]
fn fixed_learning_rates_per_method_replace_the_grid() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "shellsim", "shellsim-checker", "shellsim/mkdir");
    let out = dir.path().join("cmp");
    let o = steprl(&[
        "compare",
        cfg.to_str().unwrap(),
        "--methods",
        "step,tgrpo",
        "--seeds",
        "1",
        "--lr",
        "step=3e-3",
        "--budget-env-steps",
        "200",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    let lr = |m: &str| -> f64 {
        std::fs::read_to_string(out.join(m).join("seed-5/config.toml"))
            .unwrap()
            .lines()
            .find_map(|l| l.trim().strip_prefix("lr = ").map(str::to_owned))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(lr("step"), 3e-3);
    assert_eq!(lr("tgrpo"), 1e-3, "the config's rate for methods not named");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("## Learning rates\n\nstep 3e-3"),
        "{report}"
    );

    for (lr, why) in [
        (
            "ppo=1e-3",
            "`ppo` is not among the compared methods (step, tgrpo)",
        ),
        ("step", "`step` is not METHOD=RATE"),
        ("step=0", "`0` is not a positive learning rate"),
        ("step=1e-3,step=3e-3", "step is given twice"),
    ] {
        let o = steprl(&[
            "compare",
            cfg.to_str().unwrap(),
            "--methods",
            "step,tgrpo",
            "--lr",
            lr,
            "--budget-env-steps",
            "100",
            "--out",
            dir.path().join("x").to_str().unwrap(),
        ]);
        let (_, stderr) = text(&o);
        assert!(!o.status.success());
        assert!(stderr.contains(why), "{lr}: {stderr}");
    }
    let o = steprl(&[
        "compare",
        cfg.to_str().unwrap(),
        "--lr",
        "step=1e-3",
        "--lr-grid",
        "1e-3,3e-3",
        "--budget-env-steps",
        "100",
    ]);
    let (_, stderr) = text(&o);
    assert!(!o.status.success());
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

/// `METHOD@RESAMPLER`: the same method planned by other resampler plugins, each run
/// under its own, on the same budget, side by side in the report.
#[test]
fn resamplers_are_compared_as_method_at_resampler() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "uisim", "uisim-checker", "open.notes");
    let out = dir.path().join("cmp");
    let methods = "step,step@resample-progress,step@resample-dapo-py";
    let o = steprl(&[
        "compare",
        cfg.to_str().unwrap(),
        "--methods",
        methods,
        "--seeds",
        "1",
        "--budget-env-steps",
        "300",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    for (method, resampler) in [
        ("step", "resample-step"),
        ("step@resample-progress", "resample-progress"),
        ("step@resample-dapo-py", "resample-dapo-py"),
    ] {
        let run = out.join(method).join("seed-5");
        let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
        for line in metrics.lines() {
            let m: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(m["rollout"]["resampler"], resampler, "{method}");
        }
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("| step@resample-progress |"), "{report}");
    assert!(report.contains("| step@resample-dapo-py |"), "{report}");
}

/// The config's warm start runs in every comparison run before its first round (once
/// per seed: the seed's other methods take that clone, and train exactly as if they had
/// cloned themselves), each run records it and its greedy success after it, the report
/// states it, the runs are queued seed-major, and a run killed just after its warm
/// start's checkpoint is evaluated from the cloned policy when resumed; a damaged
/// sibling's clone is passed over.
#[test]
fn compare_warm_starts_every_run_and_queues_seeds_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut demos = String::new();
    for (k, app) in ["settings", "contacts", "notes", "clock"]
        .iter()
        .enumerate()
    {
        for seed in 0..4 {
            demos.push_str(&format!(
                "{{\"task\": \"open.{app}\", \"seed\": {seed}, \"actions\": [\"click {k}\", \"done\"]}}\n"
            ));
        }
    }
    std::fs::write(dir.path().join("demos.jsonl"), demos).unwrap();
    let cfg = config(dir.path(), "uisim", "uisim-checker", "open.messages");
    let text_cfg = std::fs::read_to_string(&cfg).unwrap().replace(
        "heldout = [\"open.messages\"]",
        "include = [\"open.*\"]\nheldout = [\"open.messages\"]",
    );
    std::fs::write(
        &cfg,
        format!("{text_cfg}\n[warmstart]\ndemos = \"demos.jsonl\"\nepochs = 200\nlr = 0.02\n"),
    )
    .unwrap();
    let out = dir.path().join("cmp");
    let args = [
        "compare",
        cfg.to_str().unwrap(),
        "--methods",
        "step,tgrpo",
        "--seeds",
        "2",
        "--budget-env-steps",
        "100",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ];

    // Killed right after the first run's warm start is checkpointed, before anything
    // evaluated it.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_steprl"))
        .args(args)
        .env("STEPRL_FAILPOINT", "checkpoint.renamed:1")
        .output()
        .unwrap();
    let (_, stderr) = text(&o);
    assert!(
        o.status.code().is_none() && stderr.contains("aborting at checkpoint.renamed:1"),
        "{:?}: {stderr}",
        o.status
    );
    let first = out.join("step/seed-5");
    assert!(!first.join("eval-warmstart.json").exists());

    let o = steprl(&args);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    // Seed-major: both methods' seed 5 before either's seed 6.
    let at = |needle: &str| {
        stderr
            .find(needle)
            .unwrap_or_else(|| panic!("no `{needle}` in\n{stderr}"))
    };
    assert!(at("[1/4] step seed 5: done") < at("[2/4] tgrpo seed 5: done"));
    assert!(at("[2/4] tgrpo seed 5: done") < at("[3/4] step seed 6: done"));
    // The cloning epochs name their run, in plain text (stderr is not a terminal).
    assert!(
        stderr.contains("compare{run=tgrpo seed 5}: warm start: epoch 200/200, mean cloning loss"),
        "{stderr}"
    );
    assert!(!stderr.contains('\x1b'), "{stderr}");
    // The resumed run did not clone again. The others cloned, but for tgrpo seed 6,
    // which took step seed 6's clone (tgrpo seed 5 found none: step seed 5's warm start
    // was cut off before it was recorded).
    let cloned = ": warm start: 16 demonstrations, 32 steps cloned, 200 epochs";
    for run in ["tgrpo seed 5", "step seed 6"] {
        assert!(
            stderr.contains(&format!("{run}{cloned}")),
            "{run}: {stderr}"
        );
    }
    assert_eq!(stderr.matches(cloned).count(), 2, "{stderr}");
    let shared = format!(
        "tgrpo seed 6: warm start: the policy {} cloned",
        out.join("step/seed-6/checkpoints/round-00000").display()
    );
    assert!(stderr.contains(&shared), "{stderr}");
    let read = |p: PathBuf| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| {
            panic!("{}: {e}", p.display());
        }))
        .unwrap()
    };
    for m in ["step", "tgrpo"] {
        for s in [5, 6] {
            let run = out.join(m).join(format!("seed-{s}"));
            // Every run starts from the cloned policy, which opens each app it was shown.
            let eval = read(run.join("eval-warmstart.json"));
            for (task, r) in eval["tasks"].as_object().unwrap() {
                let r = r.as_array().unwrap();
                assert_eq!(
                    r[0], r[1],
                    "{m} seed {s}: {task} after the warm start: {r:?}"
                );
            }
            if (m, s) != ("step", 5) {
                let w = read(run.join("warmstart.json"));
                assert_eq!(w["demos"], 16);
                assert!(
                    w["loss_last"].as_f64().unwrap() < w["loss_first"].as_f64().unwrap(),
                    "{w}"
                );
            }
        }
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("- warm start: every run cloned the config's demonstrations before its first round; greedy success on the training tasks after it: 100.0 ± 0.0% (mean ± std over 4 runs)"),
        "{report}"
    );

    // Taking a sibling's clone is the same as cloning: T-GRPO alone, cloning for
    // itself, trains seed 6 to the same metrics (losses, gradient norms, success, every
    // round) and evaluations.
    let alone = dir.path().join("alone");
    let mut own = args.to_vec();
    own[3] = "tgrpo";
    own[11] = alone.to_str().unwrap();
    let o = steprl(&own);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("tgrpo seed 6{cloned}")),
        "{stderr}"
    );
    let (a, b) = (out.join("tgrpo/seed-6"), alone.join("tgrpo/seed-6"));
    let without_perf = |run: &Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("perf");
                v
            })
            .collect()
    };
    assert_eq!(without_perf(&a), without_perf(&b));
    for f in [
        "eval-warmstart.json",
        "eval-after.json",
        "eval-heldout.json",
        "warmstart.json",
    ] {
        assert_eq!(read(a.join(f)), read(b.join(f)), "{f}");
    }

    // A sibling's clone damaged since it was written is passed over, saying so: the
    // run clones for itself (and trains as before) instead of failing on every rerun.
    let ckpt = out.join("step/seed-6/checkpoints/round-00000");
    let state = ckpt.join("state.json");
    let mut bytes = std::fs::read(&state).unwrap();
    bytes.push(b' ');
    std::fs::write(&state, bytes).unwrap();
    std::fs::remove_dir_all(&a).unwrap();
    let o = steprl(&args);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    let passed_over = format!(
        "tgrpo seed 6: warm start: not taking a sibling's clone: {}: damaged checkpoint: state.json does not match its recorded SHA-256",
        ckpt.display()
    );
    assert!(stderr.contains(&passed_over), "{stderr}");
    assert!(
        stderr.contains(&format!("tgrpo seed 6{cloned}")),
        "{stderr}"
    );
    assert_eq!(without_perf(&a), without_perf(&b));
}

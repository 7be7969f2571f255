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
config = {{ adaptive = true }}

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
            let last: serde_json::Value =
                serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
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

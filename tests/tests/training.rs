//! STEP trains a policy end to end on the built plugins (CPU backend, fixed seed): after
//! a short run on the easiest uisim tasks, greedy success is clearly above the
//! untrained policy's.

use std::path::Path;

use steprl::plugins::plugins;
use steprl_learner::BackendChoice;
use steprl_tests::{repo_root, sandbox};
use steprl_train::{RunConfig, Trainer};

const CONFIG: &str = r#"
seed = 1
rounds = 40

[env]
plugin = "../plugins/dist/uisim.wasm"

[checker]
plugin = "../plugins/dist/uisim-checker.wasm"

[resampler]
plugin = "../plugins/dist/resample-step.wasm"

[tasks]
include = ["open.*"]

[algo]
include_failures = true

[algo.augment]
weight = 0.1

[rollout]
tasks_per_round = 5
copies_per_task = 16

[learner]
minibatch = 128
entropy_coef = 0.01

[checkpoint]
every = 100
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_step_training_beats_the_untrained_policy() {
    let cfg = RunConfig::parse(CONFIG, &repo_root().join("configs/test.toml")).unwrap();
    let sb = sandbox();
    let plugins = plugins(&sb, &cfg, None, None).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let device = steprl_learner::select(BackendChoice::Cpu).unwrap().device;
    let run_dir = out.path().join("run");
    let mut t = Trainer::open(
        steprl_train::Start::Fresh(Path::new(&run_dir)),
        cfg.clone(),
        plugins,
        &device,
    )
    .unwrap();
    assert_eq!(t.tasks().len(), 5);
    let before = t.evaluate(4, true).await.unwrap();
    let mut last = None;
    while !t.finished() {
        last = Some(t.round().await.unwrap());
    }
    let after = t.evaluate(4, true).await.unwrap();
    let last = last.unwrap();
    assert_eq!(last.round, 39);
    assert!(last.env_steps_total > 0 && last.trajectories_total == 40 * 80);
    assert!(
        after.mean() >= before.mean() + 0.3,
        "greedy success should rise clearly: before {:.2}, after {:.2}",
        before.mean(),
        after.mean()
    );
    // The run left its config, metrics and a final checkpoint behind.
    let metrics = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 40);
    assert!(run_dir.join("checkpoints/round-00040/model.bpk").exists());
    assert_eq!(
        std::fs::read_to_string(run_dir.join("latest")).unwrap(),
        "round-00040"
    );
    let saved = RunConfig::load(&run_dir.join("config.toml")).unwrap();
    assert_eq!(saved, cfg);
}

//! Resampler plugins are swapped by path (and configured by the run config) without
//! rebuilding the host: the same record gives a STEP plan with copies moved to the
//! cache, and a uniform plan without.

use steprl_core::{PlanRequest, Resampler, TaskStat};
use steprl_sandbox::{PluginOptions, WasmResampler};
use steprl_tests::{load, sandbox};

fn stat(id: &str, rate: f64) -> TaskStat {
    TaskStat {
        id: id.into(),
        attempts: 8,
        successes: (rate * 8.0) as u32,
        smoothed_rate: Some(rate),
        last_round: Some(0),
    }
}

/// Easy tasks (ŝ = 0.95) and hard-but-learnable ones (ŝ = 0.2, in the cache).
fn record() -> Vec<TaskStat> {
    let mut s: Vec<TaskStat> = (0..6).map(|i| stat(&format!("easy-{i}"), 0.95)).collect();
    s.extend((0..2).map(|i| stat(&format!("hard-{i}"), 0.2)));
    s
}

const REQUEST: PlanRequest = PlanRequest {
    tasks_per_round: 4,
    copies_per_task: 8,
    seed: 3,
};

async fn plans(name: &str, config: &str) -> Vec<Vec<String>> {
    let sb = sandbox();
    let plugin = load(&sb, name);
    let mut r = WasmResampler::new(
        &sb,
        &plugin,
        PluginOptions {
            config_json: config.into(),
            ..PluginOptions::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut out = Vec::new();
    for round in 0..6 {
        out.push(r.plan(round, &record(), &REQUEST).await.unwrap());
    }
    out
}

fn share_on_hard(plans: &[Vec<String>]) -> f64 {
    let all: Vec<&String> = plans.iter().flatten().collect();
    all.iter().filter(|t| t.starts_with("hard")).count() as f64 / all.len() as f64
}

#[tokio::test]
async fn swapping_the_resampler_plugin_changes_the_plan() {
    let step = plans("resample-step", "{}").await;
    let uniform_py = plans("uniform-py", "{}").await;
    let step_off = plans("resample-step", r#"{"adaptive": false}"#).await;
    for p in step.iter().chain(&uniform_py).chain(&step_off) {
        assert_eq!(p.len(), 32);
    }
    // Uniform plans keep every group whole; STEP moves easy tasks' copies to the cache.
    for plan in uniform_py.iter().chain(&step_off) {
        for g in plan.chunks(8) {
            assert!(g.iter().all(|t| *t == g[0]), "uniform group split: {g:?}");
        }
    }
    let moved = step
        .iter()
        .flat_map(|p| p.chunks(8))
        .filter(|g| g.iter().any(|t| *t != g[0]))
        .count();
    assert!(moved > 0, "STEP should replace copies of easy tasks");
    // 2 of 8 tasks are hard: uniform gives them about a quarter of the rollouts, STEP most.
    assert!(
        share_on_hard(&step) > 0.6,
        "STEP share on hard tasks {}",
        share_on_hard(&step)
    );
    assert!(share_on_hard(&step_off) < 0.5);
    assert_ne!(step, step_off);
}

#[tokio::test]
async fn resample_step_config_errors_name_the_key() {
    let sb = sandbox();
    let plugin = load(&sb, "resample-step");
    for (config, needle) in [
        (r#"{"kapa": 3}"#, "unknown field `kapa`"),
        (r#"{"s0": 1.5}"#, "s0 = 1.5"),
        (r#"{"kappa": -1}"#, "kappa = -1"),
    ] {
        let err = WasmResampler::new(
            &sb,
            &plugin,
            PluginOptions {
                config_json: config.into(),
                ..PluginOptions::default()
            },
        )
        .await
        .err()
        .unwrap();
        assert!(err.to_string().contains(needle), "{config}: {err}");
    }
}

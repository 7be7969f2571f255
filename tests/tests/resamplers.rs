//! Resampler plugins are swapped by path (and configured by the run config) without
//! rebuilding the host: the same record gives a STEP plan with copies moved to the
//! cache, and a uniform plan without. The host's STEP settings reach the plugins that
//! export `resample-settings`; the others are planned through `resample.plan`.

use steprl_core::{PlanRequest, Resampler, StepSettings, TaskStat};
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
    settings: StepSettings {
        s0: 0.5,
        adaptive: true,
    },
};

/// [`REQUEST`] with other host settings.
fn request_with(s0: f64, adaptive: bool) -> PlanRequest {
    PlanRequest {
        settings: StepSettings { s0, adaptive },
        ..REQUEST
    }
}

async fn plans(name: &str, config: &str) -> Vec<Vec<String>> {
    rounds_of(name, config, &record()).await
}

/// `plan` of `name` (configured with `config`) for rounds 0..6 over `stats`.
async fn rounds_of(name: &str, config: &str, stats: &[TaskStat]) -> Vec<Vec<String>> {
    rounds_with(name, config, stats, &REQUEST).await
}

/// [`rounds_of`] with `request`.
async fn rounds_with(
    name: &str,
    config: &str,
    stats: &[TaskStat],
    request: &PlanRequest,
) -> Vec<Vec<String>> {
    let r = resampler(name, config).await;
    plans_of(r, stats, request).await
}

async fn resampler(name: &str, config: &str) -> WasmResampler {
    let sb = sandbox();
    let plugin = load(&sb, name);
    WasmResampler::new(
        &sb,
        &plugin,
        PluginOptions {
            config_json: config.into(),
            ..PluginOptions::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

async fn plans_of(
    mut r: WasmResampler,
    stats: &[TaskStat],
    request: &PlanRequest,
) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for round in 0..6 {
        out.push(r.plan(round, stats, request).await.unwrap());
    }
    out
}

/// The error `init` of `name` gives for `config`.
async fn init_error(name: &str, config: &str) -> String {
    let sb = sandbox();
    let plugin = load(&sb, name);
    WasmResampler::new(
        &sb,
        &plugin,
        PluginOptions {
            config_json: config.into(),
            ..PluginOptions::default()
        },
    )
    .await
    .err()
    .unwrap_or_else(|| panic!("{name} accepted {config}"))
    .to_string()
}

fn share_on_hard(plans: &[Vec<String>]) -> f64 {
    let all: Vec<&String> = plans.iter().flatten().collect();
    all.iter().filter(|t| t.starts_with("hard")).count() as f64 / all.len() as f64
}

#[tokio::test]
async fn swapping_the_resampler_plugin_changes_the_plan() {
    let step = plans("resample-step", "{}").await;
    let uniform_py = plans("uniform-py", "{}").await;
    // Adaptive resampling off: the host's setting, in the request.
    let step_off = rounds_with("resample-step", "{}", &record(), &request_with(0.5, false)).await;
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
    for (config, needle) in [
        (r#"{"kapa": 3}"#, "unknown field `kapa`"),
        (r#"{"kappa": -1}"#, "kappa = -1"),
        (
            r#"{"s0": 0.4}"#,
            "`s0` is no longer a setting of resample-step: it is the host's, `s0` in the run config's [algo.resample]",
        ),
        (
            r#"{"adaptive": false}"#,
            "`adaptive` is no longer a setting of resample-step",
        ),
    ] {
        let err = init_error("resample-step", config).await;
        assert!(err.contains(needle), "{config}: {err}");
    }
}

/// s0 comes with the request: ŝ 0.2 is in the cache under s0 0.5 and not under
/// s0 0.1, so no copy moves. A plugin without `resample-settings` (the Python
/// uniform one, built against the interface without settings) is planned through
/// `resample.plan` and says it does not read them. Settings out of range are refused
/// by name.
#[tokio::test]
async fn the_hosts_step_settings_reach_the_plugins_that_read_them() {
    let step = resampler("resample-step", "{}").await;
    assert!(step.reads_settings());
    let low = plans_of(step, &record(), &request_with(0.1, true)).await;
    for plan in &low {
        for g in plan.chunks(8) {
            assert!(g.iter().all(|t| *t == g[0]), "s0 0.1 has no cache: {g:?}");
        }
    }
    assert_ne!(low, plans("resample-step", "{}").await);

    let uniform = resampler("uniform-py", "{}").await;
    assert!(!uniform.reads_settings());
    let a = plans_of(uniform, &record(), &request_with(0.1, false)).await;
    assert_eq!(
        a,
        plans("uniform-py", "{}").await,
        "settings do not reach it"
    );

    let mut step = resampler("resample-step", "{}").await;
    let err = step
        .plan(0, &record(), &request_with(1.5, true))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the host's STEP settings: s0 = 1.5 must lie strictly between 0 and 1"),
        "{err}"
    );
}

/// [`rounds_of`], each plan checked to be B groups of N equal ids.
async fn plans_over(name: &str, config: &str, stats: &[TaskStat]) -> Vec<Vec<String>> {
    let out = rounds_of(name, config, stats).await;
    for plan in &out {
        assert_eq!(plan.len(), 32, "{name}");
        for g in plan.chunks(8) {
            assert!(g.iter().all(|t| *t == g[0]), "{name}: {plan:?}");
        }
    }
    out
}

/// The Python DAPO-style filter skips tasks whose record says every rollout succeeds
/// (or fails) and fills the round with the others; unseen tasks are never skipped.
#[tokio::test]
async fn the_dapo_filter_skips_saturated_tasks() {
    let mut stats: Vec<TaskStat> = (0..6).map(|i| stat(&format!("easy-{i}"), 1.0)).collect();
    stats.extend((0..2).map(|i| stat(&format!("dead-{i}"), 0.0)));
    stats.extend((0..3).map(|i| stat(&format!("mid-{i}"), 0.5)));
    stats.push(TaskStat {
        id: "new".into(),
        attempts: 0,
        successes: 0,
        smoothed_rate: None,
        last_round: None,
    });
    for plan in plans_over("resample-dapo-py", "{}", &stats).await {
        assert!(
            plan.iter().all(|t| t.starts_with("mid-") || t == "new"),
            "{plan:?}"
        );
    }
    // With too few unsaturated tasks the round is filled from the rest.
    let few = vec![
        stat("easy", 1.0),
        stat("mid", 0.5),
        stat("dead", 0.0),
        stat("x", 0.97),
    ];
    let plan = &plans_over("resample-dapo-py", r#"{"high": 0.99}"#, &few).await[0];
    let groups: Vec<&str> = plan.chunks(8).map(|g| g[0].as_str()).collect();
    let mut unsaturated = groups[..2].to_vec();
    unsaturated.sort();
    assert_eq!(unsaturated, ["mid", "x"], "{groups:?}");
    // Then the saturated ones, nearest the middle first (a tie goes by id).
    assert_eq!(groups[2..], ["dead", "easy"], "{groups:?}");
    // Its settings are checked by name.
    for (config, wants) in [
        (r#"{"hi": 0.9}"#, "unknown key `hi`"),
        (r#"{"low": 0.6, "high": 0.5}"#, "must be below high"),
        (r#"{"low": -1}"#, "must be a number in [0, 1]"),
    ] {
        let err = init_error("resample-dapo-py", config).await;
        assert!(err.contains(wants), "{config}: {err}");
    }
}

/// Learning progress: tasks whose success is moving (ŝ far from the whole-run rate)
/// get most of the rounds; settled ones keep a small share.
#[tokio::test]
async fn learning_progress_draws_moving_tasks_most() {
    let mut stats: Vec<TaskStat> = (0..6)
        .map(|i| TaskStat {
            attempts: 40,
            successes: 40,
            ..stat(&format!("settled-{i}"), 1.0)
        })
        .collect();
    stats.extend((0..2).map(|i| TaskStat {
        attempts: 40,
        successes: 4,
        ..stat(&format!("moving-{i}"), 0.8)
    }));
    let plans = plans_over("resample-progress", "{}", &stats).await;
    for plan in &plans {
        assert!(
            plan.contains(&"moving-0".to_owned()) && plan.contains(&"moving-1".to_owned()),
            "{plan:?}"
        );
    }
    let err = init_error("resample-progress", r#"{"epsilon": 0}"#).await;
    assert!(
        err.contains("epsilon = 0 must be a positive number"),
        "{err}"
    );
}

/// The curriculum plans only over open levels, and opens the next once the current
/// one is learned.
#[tokio::test]
async fn the_curriculum_opens_levels_as_they_are_learned() {
    let config = r#"{"levels": [["easy-"], ["hard-"]], "threshold": 0.9}"#;
    // record(): easy tasks at 0.95 (learned), hard ones at 0.2.
    let open = plans_over("resample-curriculum", config, &record()).await;
    assert!(
        open.iter().flatten().any(|t| t.starts_with("hard-")),
        "level 1 is open: {open:?}"
    );
    let config = r#"{"levels": [["easy-"], ["hard-"]], "threshold": 0.99}"#;
    for plan in plans_over("resample-curriculum", config, &record()).await {
        assert!(plan.iter().all(|t| t.starts_with("easy-")), "{plan:?}");
    }
}

//! Shared helpers of the end-to-end tests and benchmarks: where the built plugins are,
//! and a sandbox to load them in.

use std::path::PathBuf;

pub mod androidworld_server;
pub mod faults;
pub mod osworld_server;

use steprl_sandbox::{LoadedPlugin, Sandbox, SandboxConfig};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// Path of a built plugin in `plugins/dist/`; panics with the fix when it is missing.
pub fn plugin_path(name: &str) -> PathBuf {
    let p = repo_root()
        .join("plugins/dist")
        .join(format!("{name}.wasm"));
    assert!(
        p.exists(),
        "{} is missing: build the plugins first with `plugins/build.sh`",
        p.display()
    );
    p
}

/// A sandbox using the default compile cache.
pub fn sandbox() -> Sandbox {
    Sandbox::new(SandboxConfig::default()).expect("sandbox starts")
}

/// Load a built plugin by name.
pub fn load(sandbox: &Sandbox, name: &str) -> LoadedPlugin {
    sandbox
        .load(plugin_path(name))
        .unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

/// The AndroidWorld adapter pooled over `servers`, each granted, with the two task types
/// the local server implements and `config`'s keys on top.
pub async fn androidworld_pool(
    sandbox: &Sandbox,
    servers: &[androidworld_server::AndroidWorldServer],
    config: serde_json::Value,
) -> steprl_sandbox::WasmEnvironment {
    let mut json = serde_json::json!({
        "servers": servers.iter().map(|s| s.url()).collect::<Vec<_>>(),
        "task_types": ["SystemWifiTurnOn", "SystemBluetoothTurnOff"],
    });
    if let (Some(all), serde_json::Value::Object(extra)) = (json.as_object_mut(), config) {
        all.extend(extra);
    }
    steprl_sandbox::WasmEnvironment::new(
        sandbox,
        &load(sandbox, "androidworld"),
        steprl_sandbox::PluginOptions {
            config_json: json.to_string(),
            grants: steprl_sandbox::Grants {
                http: servers.iter().map(|s| s.addr().to_string()).collect(),
                ..steprl_sandbox::Grants::default()
            },
            ..steprl_sandbox::PluginOptions::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("androidworld loads: {e}"))
}

/// `count` episode specs from index `first` on, over `env`'s tasks in turn; spec `i` has
/// environment and sampling seed `i`.
pub fn round_robin_specs(
    env: &dyn steprl_core::Environment,
    first: usize,
    count: usize,
) -> Vec<steprl_rollout::EpisodeSpec> {
    let tasks: Vec<String> = env.info().tasks.iter().map(|t| t.id.clone()).collect();
    (first..first + count)
        .map(|i| steprl_rollout::EpisodeSpec {
            task: tasks[i % tasks.len()].clone(),
            seed: i as u64,
            sample_seed: i as u64,
        })
        .collect()
}

/// Play `actions` in a fresh episode of `task` with `seed` on `inst` and have `checker`
/// judge it; returns the first observation's tokens, whether the last step ended the
/// episode (done, not truncated), and the verdict.
pub async fn play_and_judge(
    inst: &mut dyn steprl_core::EnvInstance,
    checker: &mut dyn steprl_core::RewardChecker,
    task: &steprl_core::TaskInfo,
    seed: u64,
    actions: &[u32],
) -> (Option<Vec<u32>>, bool, steprl_core::Verdict) {
    use steprl_core::{Action, ObservationParts, TrajectorySummary};
    let parts = ObservationParts {
        tokens: true,
        ..Default::default()
    };
    let ep = inst.start(&task.id, seed, parts).await.expect("start");
    let first = inst.reset(ep).await.expect("reset");
    let mut played = Vec::new();
    let mut ended = false;
    for a in actions {
        let action = Action::Discrete(*a);
        let r = inst.step(ep, &action).await.expect("step");
        played.push(action);
        ended = r.done && !r.truncated;
    }
    let final_state = inst.final_state(ep).await.expect("final state");
    inst.close(ep).await;
    let summary = TrajectorySummary {
        seed,
        rewards: vec![0.0; played.len()],
        actions: played,
        done: ended,
        truncated: false,
    };
    let verdict = checker
        .check(task, &summary, &final_state)
        .await
        .expect("check");
    (first.tokens, ended, verdict)
}

/// The process's peak resident memory in MiB (`VmHWM`; NaN where /proc is absent), for
/// the benchmarks' reports.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// A fresh CPU trainer writing into `out` for the run config `cfg_text` (paths in it
/// are relative to `configs/`), its plugins loaded in the test sandbox; panics with the
/// error on any failure.
pub async fn trainer(cfg_text: &str, out: &std::path::Path) -> steprl_train::Trainer {
    let cfg = steprl_train::RunConfig::parse(cfg_text, &repo_root().join("configs/t.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let sb = sandbox();
    let plugins = steprl::plugins::plugins(&sb, &cfg, None, None)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let device = steprl_learner::select(steprl_learner::BackendChoice::Cpu)
        .expect("the CPU backend")
        .device;
    steprl_train::Trainer::open(steprl_train::Start::Fresh(out), cfg, plugins, &device)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Run `t` to its end, asserting that no round lost an episode to a plugin failure;
/// the text actions rejected as invalid over the run and the episodes judged.
pub async fn run_without_plugin_failures(t: &mut steprl_train::Trainer) -> (u64, u64) {
    let (mut invalid, mut judged) = (0, 0);
    while !t.finished() {
        let m = t.round().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.plugin_failures, 0, "round {}: {m:?}", m.round);
        invalid += m.invalid_actions;
        judged = m.trajectories_total;
    }
    (invalid, judged)
}

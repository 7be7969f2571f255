//! Benchmark (not a test): training on top of a fleet. One lane per local OSWorld
//! protocol server, each step (`/execute`) held for an injected latency, and the token
//! MLP learning from the rounds: the learner's idle share, the rounds' wall time and the
//! environment steps per second, in sync and async mode, with lanes in lock-step turns
//! and free-running.
//!
//! `cargo bench -p steprl-tests --bench fleet_training` (needs `plugins/build.sh`).
//! Options by environment: `FLEET_SERVERS` (64), `FLEET_LATENCY_MS` (200),
//! `FLEET_ROUNDS` (6), `FLEET_HIDDEN` (the MLP's width, 32; a wider one makes the
//! update longer than the rollout), `FLEET_EPOCHS` (2).

use std::time::Instant;

use steprl_tests::osworld_server::OsworldServer;
use steprl_tests::repo_root;

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The run config: every server granted, four tasks of the local OSWorld suite, one
/// episode per server a round.
fn config(fleet: &[OsworldServer], mode: &str, stepping: &str) -> String {
    let urls: Vec<String> = fleet.iter().map(|s| format!("\"{}\"", s.url())).collect();
    let grants: Vec<String> = fleet
        .iter()
        .map(|s| format!("\"{}\"", s.authority()))
        .collect();
    let fixtures = repo_root().join("tests/fixtures/osworld");
    let n = fleet.len();
    format!(
        r#"
seed = 3
rounds = {rounds}

[env]
plugin = "{env}"
[env.config]
servers = [{urls}]
task_dir = "/tasks"
cache_dir = "/cache"
step_pause_ms = 0
retry_interval_ms = 0
retries = 1
http_timeout_ms = 10000
health_timeout_ms = 2000
health_tries = 1
ready_timeout_ms = 5000
max_steps = 3
[env.grants]
http = [{grants}]
read_dirs = {{ "/tasks" = "{tasks}", "/cache" = "{cache}" }}

[checker]
plugin = "{checker}"
[resampler]
plugin = "{resampler}"

[algo]
include_failures = true

[checkpoint]
every = 1000

[rollout]
tasks_per_round = 4
copies_per_task = {copies}
mode = "{mode}"
stepping = "{stepping}"

[learner]
minibatch = 64
epochs = {epochs}

[policy]
embed_dim = 16
hidden = {hidden}
layers = 2

[eval]
episodes = 0
"#,
        rounds = env_usize("FLEET_ROUNDS", 6),
        env = steprl_tests::plugin_path("osworld").display(),
        checker = steprl_tests::plugin_path("osworld-checker").display(),
        resampler = steprl_tests::plugin_path("resample-step").display(),
        urls = urls.join(", "),
        grants = grants.join(", "),
        tasks = fixtures.join("tasks").display(),
        cache = fixtures.join("cache").display(),
        copies = n.div_ceil(4),
        epochs = env_usize("FLEET_EPOCHS", 2),
        hidden = env_usize("FLEET_HIDDEN", 32),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env_usize("FLEET_SERVERS", 64);
    let latency = std::time::Duration::from_millis(env_usize("FLEET_LATENCY_MS", 200) as u64);
    let fleet: Vec<OsworldServer> = (0..n).map(|_| OsworldServer::start()).collect();
    for s in &fleet {
        s.faults(|f| f.step_latency = latency);
    }
    println!(
        "## Training on {n} local OSWorld servers, {} ms a step, MLP hidden {}, {} epochs\n",
        latency.as_millis(),
        env_usize("FLEET_HIDDEN", 32),
        env_usize("FLEET_EPOCHS", 2)
    );
    println!(
        "| mode | stepping | rounds | wall s | rollout s | update + augmentation s | learner idle | env steps | env steps/s of wall | stale samples | mean start + reset s | env s of rollout |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (mode, stepping) in [
        ("sync", "lockstep"),
        ("async", "lockstep"),
        ("sync", "free"),
        ("async", "free"),
    ] {
        let out = tempfile::tempdir().unwrap();
        let mut t =
            steprl_tests::trainer(&config(&fleet, mode, stepping), &out.path().join("run")).await;
        let t0 = Instant::now();
        let (mut rollout, mut learner, mut steps, mut stale, mut rounds) = (0.0, 0.0, 0, 0, 0);
        let (mut reset, mut env) = (0.0, 0.0);
        while !t.finished() {
            let m = t.round().await.unwrap_or_else(|e| panic!("{e}"));
            rollout += m.perf.rollout_s;
            learner += m.perf.update_s + m.perf.augment_s;
            steps += m.env_steps;
            stale += m.stale_samples;
            reset += m.perf.reset_s;
            env += m.perf.env_s;
            rounds += 1;
        }
        let wall = t0.elapsed().as_secs_f64();
        println!(
            "| {mode} | {stepping} | {rounds} | {wall:.1} | {rollout:.1} | {learner:.1} | {:.1}% | {steps} | {:.1} | {stale} | {:.2} | {env:.1} |",
            100.0 * (1.0 - learner / wall),
            steps as f64 / wall,
            reset / f64::from(rounds.max(1))
        );
    }
}

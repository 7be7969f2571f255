//! Server pools end to end: the osworld adapter in the real sandbox over a pool of
//! local OSWorld servers (one episode at a time on each), health-checked at the start,
//! with servers that die, hang or answer 500s mid-run leaving the pool while every
//! planned episode is still judged, a revert per episode that names its server, and a
//! lane whose instance is lost to a trap told its server again.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use steprl_core::{EnvInstance, Environment, ObservationParts};
use steprl_rollout::Pool;
use steprl_sandbox::{DirGrant, Grants, Limits, PluginOptions, WasmEnvironment};
use steprl_tests::faults::Fault;
use steprl_tests::osworld_server::{OsworldServer, RevertController};
use steprl_tests::{load, repo_root, sandbox};

const WHOAMI: &str = "d8dc9f80-cc02-4e8e-bebf-81f4f2471b65";

fn fixtures() -> PathBuf {
    repo_root().join("tests/fixtures/osworld")
}

fn read_dirs() -> Vec<DirGrant> {
    vec![
        DirGrant {
            host: fixtures().join("tasks"),
            guest: "/tasks".into(),
        },
        DirGrant {
            host: fixtures().join("cache"),
            guest: "/cache".into(),
        },
    ]
}

/// The osworld plugin over `servers` (URLs), each granted, with `extra` config keys.
async fn pooled_env(servers: &[String], extra: Value, limits: Limits) -> WasmEnvironment {
    let mut config = json!({
        "servers": servers,
        "task_dir": "/tasks",
        "cache_dir": "/cache",
        "step_pause_ms": 0,
        "retry_interval_ms": 0,
        "health_timeout_ms": 400,
        "health_tries": 1,
    });
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let http = servers
        .iter()
        .map(|u| u.trim_start_matches("http://").to_owned())
        .chain(extra["revert_url"].as_str().map(|u| {
            u.trim_start_matches("http://")
                .trim_end_matches("/revert")
                .to_owned()
        }))
        .collect();
    let sb = sandbox();
    WasmEnvironment::new(
        &sb,
        &load(&sb, "osworld"),
        PluginOptions {
            config_json: config.to_string(),
            grants: Grants {
                http,
                read_dirs: read_dirs(),
                ..Grants::default()
            },
            limits,
            ..PluginOptions::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("osworld loads: {e}"))
}

/// A port nothing listens on.
fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_is_health_checked_at_the_start_and_names_the_servers_that_do_not_answer() {
    let up = OsworldServer::start();
    let hung = OsworldServer::start();
    hung.faults(|f| f.fault = Some((0, Fault::Hang)));
    let failing = OsworldServer::start();
    failing.faults(|f| f.fault = Some((0, Fault::Errors)));
    let servers = vec![up.url(), closed_port(), hung.url(), failing.url()];
    let env = Arc::new(pooled_env(&servers, json!({}), Limits::default()).await);
    assert_eq!(env.servers(), servers.as_slice());
    let table = Pool::new(env).admit().await;
    let answers: Vec<_> = table.iter().map(|h| h.answer.clone()).collect();
    assert_eq!(answers[0], Ok("Linux".into()));
    let why = |i: usize| answers[i].clone().unwrap_err();
    assert!(why(1).starts_with("GET /platform: "), "{}", why(1));
    assert!(why(1).to_lowercase().contains("refused"), "{}", why(1));
    assert!(why(2).to_lowercase().contains("time"), "{}", why(2));
    assert_eq!(why(3), "GET /platform: HTTP 500: injected failure");
}

/// A trainer over `servers` with a revert controller for them: two rounds of eight
/// episodes on two OSWorld tasks.
async fn pool_trainer(
    servers: &[&OsworldServer],
    controller: &RevertController,
    out: &std::path::Path,
) -> steprl_train::Trainer {
    let urls: Vec<String> = servers.iter().map(|s| format!("\"{}\"", s.url())).collect();
    let grants: Vec<String> = servers
        .iter()
        .map(|s| format!("\"{}\"", s.authority()))
        .chain([format!("\"{}\"", controller.authority())])
        .collect();
    let cfg_text = format!(
        r#"
seed = 5
rounds = 2

[env]
plugin = "{env}"
[env.config]
servers = [{urls}]
task_dir = "/tasks"
cache_dir = "/cache"
step_pause_ms = 0
retry_interval_ms = 0
retries = 1
http_timeout_ms = 1500
health_timeout_ms = 400
health_tries = 1
ready_timeout_ms = 1000
revert_url = "{revert}"
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
every = 100

[rollout]
tasks_per_round = 2
copies_per_task = 4

[learner]
minibatch = 16

[policy]
embed_dim = 8
hidden = 32
layers = 1
"#,
        env = steprl_tests::plugin_path("osworld").display(),
        checker = steprl_tests::plugin_path("osworld-checker").display(),
        resampler = steprl_tests::plugin_path("resample-step").display(),
        urls = urls.join(", "),
        grants = grants.join(", "),
        revert = controller.url(),
        tasks = fixtures().join("tasks").display(),
        cache = fixtures().join("cache").display(),
    );
    steprl_tests::trainer(&cfg_text, out).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn training_goes_on_while_servers_die_hang_and_fail_mid_run() {
    let healthy = OsworldServer::start();
    let dies = OsworldServer::start();
    let hangs = OsworldServer::start();
    let fails = OsworldServer::start();
    let fleet = [&healthy, &dies, &hangs, &fails];
    for s in &fleet {
        s.faults(|f| f.latency = Duration::from_millis(5));
    }
    // Each faulty server answers its health check and a few requests of its first
    // episode, then fails in the middle of it.
    dies.faults(|f| f.fault = Some((6, Fault::Die)));
    hangs.faults(|f| f.fault = Some((6, Fault::Hang)));
    fails.faults(|f| f.fault = Some((6, Fault::Errors)));
    let controller = RevertController::for_fleet(&fleet);
    let out = tempfile::tempdir().unwrap();
    let mut t = pool_trainer(&fleet, &controller, &out.path().join("run")).await;

    let m0 = t.round().await.unwrap_or_else(|e| panic!("{e}"));
    // Every planned episode is judged; the three lost with their servers ran again
    // on the one that answers, and none is a task or plugin failure.
    assert_eq!(m0.trajectories, 8, "{m0:?}");
    assert_eq!(m0.plugin_failures, 0, "{m0:?}");
    assert_eq!(m0.lost, 3, "{m0:?}");
    assert_eq!(
        m0.servers_down,
        [dies.url(), hangs.url(), fails.url()],
        "{m0:?}"
    );
    assert!(!dies.listening());

    // The dead one comes back (the fault cleared): the next round admits it; the
    // hung one and the failing one are still out.
    let mut dies = dies;
    dies.revive();
    dies.clear_requests();
    let m1 = t.round().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (m1.trajectories, m1.plugin_failures, m1.lost),
        (8, 0, 0),
        "{m1:?}"
    );
    assert_eq!(m1.servers_down, [hangs.url(), fails.url()], "{m1:?}");
    assert!(
        dies.requests().iter().any(|r| r.path == "/execute"),
        "the revived server ran episodes again"
    );

    // One revert before every episode started, each naming the server it ran on.
    let reverts = controller.reverts();
    let named: Vec<&str> = reverts
        .iter()
        .map(|r| r["server"].as_str().unwrap())
        .collect();
    assert!(named.len() >= 16 + 3, "{named:?}");
    assert!(named.contains(&healthy.url().as_str()));
    assert!(named.contains(&dies.url().as_str()));
    let urls: Vec<String> = [&healthy, &dies, &hangs, &fails]
        .iter()
        .map(|s| s.url())
        .collect();
    assert!(
        named.iter().all(|n| urls.iter().any(|u| u == n)),
        "{named:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_lost_to_a_trap_is_told_its_server_again() {
    let first = OsworldServer::start();
    let second = OsworldServer::start();
    let servers = vec![first.url(), second.url()];
    let limits = Limits {
        env_reset: Duration::from_millis(1500),
        ..Limits::default()
    };
    let env = pooled_env(&servers, json!({"action_space": "pyautogui"}), limits).await;
    let mut inst = env.instance().await.unwrap();
    inst.serve(1).await.unwrap();
    let parts = ObservationParts {
        text: true,
        ..ObservationParts::default()
    };
    // A reset slower than its deadline traps and drops the instance.
    second.faults(|f| f.latency = Duration::from_millis(1000));
    let ep = inst.start(WHOAMI, 0, parts).await.unwrap();
    let e = inst.reset(ep).await.unwrap_err().to_string();
    assert!(e.contains("limits.env_reset_ms"), "{e}");
    inst.close(ep).await;
    second.faults(|f| f.latency = Duration::ZERO);
    first.clear_requests();
    second.clear_requests();
    // The replacement instance runs its episodes on server 1 too, not on server 0.
    let ep = inst.start(WHOAMI, 0, parts).await.unwrap();
    inst.reset(ep).await.unwrap();
    inst.close(ep).await;
    assert!(first.requests().is_empty(), "{:?}", first.requests());
    assert!(second.requests().iter().any(|r| r.path == "/accessibility"));
    // An index outside the list is refused, naming how many there are.
    let e = inst.serve(2).await.unwrap_err().to_string();
    assert!(e.contains("server 2: the config lists 2 server(s)"), "{e}");
}

/// Always says the task is complete (action 0 of the AndroidWorld table): one step per
/// episode.
struct SaysComplete;

impl steprl_core::Policy for SaysComplete {
    fn parts(&self) -> ObservationParts {
        ObservationParts {
            text: true,
            ..ObservationParts::default()
        }
    }

    fn check(&self, _: &steprl_core::Observation) -> Result<(), String> {
        Ok(())
    }

    fn act(
        &mut self,
        views: &[steprl_core::View<'_>],
        _: steprl_core::Sampling,
        _: &mut [&mut steprl_core::SplitMix],
    ) -> Vec<steprl_core::Decision> {
        views
            .iter()
            .map(|_| steprl_core::Decision {
                action: steprl_core::Action::Discrete(0),
                logp: 0.0,
                completion: None,
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn androidworld_episodes_run_on_every_server_and_survive_one_that_dies_and_one_that_fails() {
    use steprl_tests::androidworld_server::AndroidWorldServer;
    let fleet = [
        AndroidWorldServer::start(),
        AndroidWorldServer::start(),
        AndroidWorldServer::start(),
    ];
    let urls: Vec<String> = fleet.iter().map(|s| s.url()).collect();
    let sb = sandbox();
    let env = steprl_tests::androidworld_pool(
        &sb,
        &fleet,
        json!({"timeout_ms": 2000, "health_timeout_ms": 400, "health_tries": 1}),
    )
    .await;
    let env = Arc::new(env);
    assert_eq!(env.servers(), urls.as_slice());
    let specs = steprl_tests::round_robin_specs(env.as_ref(), 0, 9);
    let mut checker = steprl_sandbox::WasmRewardChecker::new(
        &sb,
        &load(&sb, "androidworld-checker"),
        PluginOptions::default(),
    )
    .await
    .unwrap();
    let mut pool = Pool::new(env.clone());
    let table = pool.admit().await;
    assert!(table.iter().all(|h| h.up()), "{table:?}");
    // After its first episode, one server dies and another answers 500s.
    for s in &fleet[1..] {
        s.clear_requests();
    }
    let first_episode = 12;
    fleet[1].faults(|f| f.fault = Some((first_episode, Fault::Die)));
    fleet[2].faults(|f| f.fault = Some((first_episode, Fault::Errors)));
    let cfg = steprl_rollout::RolloutConfig {
        concurrency: 1,
        sampling: steprl_core::Sampling::Greedy,
        policy_version: 0,
        deadline: None,
        partial: false,
        stepping: steprl_rollout::Stepping::Lockstep,
    };
    let (results, stats) = pool
        .run(&specs, &mut SaysComplete, &mut checker, &cfg)
        .await
        .unwrap();
    assert_eq!(stats.trajectories, 9, "{stats:?}");
    assert_eq!((stats.plugin_failures, stats.lost), (0, 2), "{stats:?}");
    assert!(
        results
            .iter()
            .all(|r| matches!(r.outcome, steprl_rollout::Outcome::Judged { .. }))
    );
    assert_eq!(pool.servers_down(), [urls[1].clone(), urls[2].clone()]);
    // Each faulty server ran an episode before its fault (its device was initialized
    // for a task), so every server of the pool took part.
    for s in &fleet {
        let log = s.requests();
        assert!(
            log.iter().any(|r| r.starts_with("POST /task/initialize")),
            "{log:?}"
        );
    }
}

//! Benchmark (not a test): one lane per server against a fleet of local AndroidWorld
//! protocol servers, each step held for an injected latency (a VM's or an emulator's
//! step takes 0.2 to a few seconds): environment steps per second against the latency
//! bound (lanes / latency), with every server healthy, with one dead and with one hung;
//! training rounds of episodes of uneven length that wait for their last episode, close
//! at a deadline and discard the unfinished, or close at it and carry them (partial
//! rollouts); and the host memory each extra lane costs (uisim, no servers).
//!
//! `cargo bench -p steprl-tests --bench fleet` (needs `plugins/build.sh`). Options by
//! environment: `FLEET_SERVERS` (64), `FLEET_LATENCIES_MS` (`200,2000`), `FLEET_STEPS`
//! (steps per episode, 10), `FLEET_EPISODES_PER_LANE` (2, also a round's for the
//! partial rollouts), `FLEET_STEPPINGS` (`lockstep,free`), `FLEET_PARTIAL_LATENCIES_MS`
//! (`200,2000`), `FLEET_ROUNDS` (4), `FLEET_PARTIAL_MEAN_STEPS` (6),
//! `FLEET_PARTIAL_MAX_STEPS` (30), `FLEET_PARTIAL_DEADLINE_S` (a lane's expected work:
//! episodes a lane × mean steps × latency), `FLEET_LANES_FOR_MEMORY` (`1,100,1000`). An
//! empty list skips its section.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use steprl_core::{
    Action, Decision, Observation, ObservationParts, Policy, Sampling, SplitMix, View,
};
use steprl_rollout::{Pool, RolloutConfig, Stepping};
use steprl_sandbox::{PluginOptions, WasmEnvironment, WasmRewardChecker};
use steprl_tests::androidworld_server::{AndroidWorldServer, ServerOptions};
use steprl_tests::faults::Fault;
use steprl_tests::{androidworld_pool, load, round_robin_specs, sandbox};

/// Always the same action (AndroidWorld: `wait`, which never ends an episode; uisim:
/// any valid one), so every episode runs to its step limit.
struct Fixed {
    action: u32,
    parts: ObservationParts,
}

impl Policy for Fixed {
    fn parts(&self) -> ObservationParts {
        self.parts
    }

    fn check(&self, _: &Observation) -> Result<(), String> {
        Ok(())
    }

    fn act(&mut self, views: &[View<'_>], _: Sampling, _: &mut [&mut SplitMix]) -> Vec<Decision> {
        views
            .iter()
            .map(|v| {
                let action = match &v.observation.action_mask {
                    Some(m) if !m.get(self.action as usize).copied().unwrap_or(false) => {
                        m.iter().position(|ok| *ok).unwrap_or(0) as u32
                    }
                    _ => self.action,
                };
                Decision {
                    action: Action::Discrete(action),
                    logp: 0.0,
                    completion: None,
                }
            })
            .collect()
    }
}

/// Ends its episode (AndroidWorld action 0, `status complete`) with probability `p` at
/// each step and waits (action 5) otherwise, drawing from the episode's own stream: an
/// episode's length is geometric (mean 1/p, capped at the step limit) and the same
/// whichever way the rounds close, so a few long episodes make every round's tail.
struct Quitter {
    p: f64,
}

impl Policy for Quitter {
    fn parts(&self) -> ObservationParts {
        ObservationParts {
            text: true,
            ..ObservationParts::default()
        }
    }

    fn check(&self, _: &Observation) -> Result<(), String> {
        Ok(())
    }

    fn act(
        &mut self,
        views: &[View<'_>],
        _: Sampling,
        rngs: &mut [&mut SplitMix],
    ) -> Vec<Decision> {
        rngs.iter_mut()
            .take(views.len())
            .map(|rng| Decision {
                action: Action::Discrete(if rng.unit() < self.p { 0 } else { 5 }),
                logp: 0.0,
                completion: None,
            })
            .collect()
    }
}

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_list(key: &str, default: &str) -> Vec<u64> {
    std::env::var(key)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect()
}

/// Resident memory of this process, in MiB (Linux `/proc/self/status`).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// CPU seconds this process (the host and the servers in it) has used, user and
/// system (Linux `/proc/self/stat`, in clock ticks of 1/100 s).
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name's closing parenthesis: utime is the 12th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(f64::NAN))
        .collect();
    (f.get(11).copied().unwrap_or(f64::NAN) + f.get(12).copied().unwrap_or(f64::NAN)) / 100.0
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Healthy,
    OneDead,
    OneHung,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Healthy => "all servers healthy",
            Scenario::OneDead => "one server dies after its first episode",
            Scenario::OneHung => "one server hangs after its first episode",
        }
    }
}

struct Row {
    steps: u64,
    wall: f64,
    cpu: f64,
    batch: f64,
    reset_ms: f64,
    lost: u64,
    failures: u64,
    down: usize,
}

/// The length counted as long in the partial-rollout table: three times the mean.
fn long_len(p: f64) -> usize {
    3 * (1.0 / p).round() as usize
}

/// `n` fresh local AndroidWorld servers, the adapter pooled over them, its checker.
struct Fleet {
    servers: Vec<AndroidWorldServer>,
    env: Arc<WasmEnvironment>,
    checker: WasmRewardChecker,
    pool: Pool,
}

impl Fleet {
    /// Start the servers and admit them all; each step is then held `latency`.
    async fn start(n: usize, latency: Duration, max_steps: u32) -> Fleet {
        let servers: Vec<AndroidWorldServer> = (0..n)
            .map(|_| {
                AndroidWorldServer::start_with(ServerOptions {
                    ui_elements: true,
                    ..ServerOptions::default()
                })
            })
            .collect();
        let sb = sandbox();
        let timeout_ms = (latency.as_millis() as u64) * 3 + 2000;
        let env = Arc::new(
            androidworld_pool(
                &sb,
                &servers,
                json!({
                    "max_steps": max_steps,
                    "timeout_ms": timeout_ms,
                    "health_timeout_ms": 1000,
                    "health_tries": 1,
                    "ui_elements": "on",
                }),
            )
            .await,
        );
        let checker = WasmRewardChecker::new(
            &sb,
            &load(&sb, "androidworld-checker"),
            PluginOptions::default(),
        )
        .await
        .unwrap();
        let mut pool = Pool::new(env.clone());
        let table = pool.admit().await;
        assert!(table.iter().all(|h| h.up()), "every server answers");
        for server in &servers {
            server.faults(|f| f.step_latency = latency);
        }
        Fleet {
            servers,
            env,
            checker,
            pool,
        }
    }

    /// Let every server's request handlers end.
    fn stop(&self) {
        for server in &self.servers {
            server.faults(|f| {
                f.fault = None;
                f.stopping = true;
            });
        }
    }
}

/// One rollout of `episodes` episodes over a fresh fleet of `n` servers.
async fn fleet_run(
    n: usize,
    latency: Duration,
    steps: u32,
    episodes: usize,
    s: Scenario,
    stepping: Stepping,
) -> Row {
    let mut fleet = Fleet::start(n, latency, steps).await;
    let specs = round_robin_specs(fleet.env.as_ref(), 0, episodes);
    // Requests of one episode before its steps and after them (initialize, reset,
    // state, score): the fault starts once the first episode is over.
    let after = steps as usize * 2 + 12;
    match s {
        Scenario::Healthy => {}
        Scenario::OneDead => fleet.servers[0].faults(|f| f.fault = Some((after, Fault::Die))),
        Scenario::OneHung => fleet.servers[0].faults(|f| f.fault = Some((after, Fault::Hang))),
    }
    let mut policy = Fixed {
        action: 5,
        parts: ObservationParts {
            text: true,
            ..ObservationParts::default()
        },
    };
    let cfg = RolloutConfig {
        concurrency: n,
        sampling: Sampling::Greedy,
        policy_version: 0,
        deadline: None,
        partial: false,
        stepping,
    };
    let (t0, cpu0) = (Instant::now(), cpu_s());
    let (_, stats) = fleet
        .pool
        .run(&specs, &mut policy, &mut fleet.checker, &cfg)
        .await
        .expect("rollout");
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_s() - cpu0;
    fleet.stop();
    Row {
        steps: stats.env_steps,
        wall,
        cpu,
        batch: stats.env_steps as f64 / stats.batches.max(1) as f64,
        reset_ms: 1e3 * stats.reset.as_secs_f64() / stats.resets.max(1) as f64,
        lost: stats.lost,
        failures: stats.plugin_failures,
        down: fleet.pool.servers_down().len(),
    }
}

/// How a training round's rollout closes.
#[derive(Clone, Copy)]
enum Closing {
    /// No deadline: the round waits for its last episode.
    Wait,
    /// At the deadline; episodes still running are closed and thrown away.
    Discard,
    /// At the deadline; episodes still running continue into the next round (partial
    /// rollouts, `round_deadline_s`).
    Carry,
}

impl Closing {
    fn name(self) -> &'static str {
        match self {
            Closing::Wait => "wait for the last episode",
            Closing::Discard => "deadline, discard the unfinished",
            Closing::Carry => "deadline, carry the unfinished (partial)",
        }
    }
}

struct PartialRow {
    steps: u64,
    wall: f64,
    round_mean: f64,
    round_max: f64,
    judged: usize,
    mean_len: f64,
    long_share: f64,
    unfinished: u64,
    spanning: usize,
}

/// `rounds` rollouts of `per_round` new episodes each, one after the other (an update
/// that takes no time between them), each round's policy version its index.
#[allow(clippy::too_many_arguments)]
async fn partial_run(
    n: usize,
    latency: Duration,
    max_steps: u32,
    p: f64,
    per_round: usize,
    rounds: usize,
    deadline: Duration,
    closing: Closing,
    stepping: Stepping,
) -> PartialRow {
    let mut fleet = Fleet::start(n, latency, max_steps).await;
    let mut policy = Quitter { p };
    let (mut results, mut round_walls, mut unfinished) = (Vec::new(), Vec::new(), 0);
    let mut steps = 0;
    let t0 = Instant::now();
    for round in 0..rounds {
        let specs = round_robin_specs(fleet.env.as_ref(), round * per_round, per_round);
        let start = Instant::now();
        let cfg = RolloutConfig {
            concurrency: n,
            sampling: Sampling::Sample,
            policy_version: round as u32,
            deadline: match closing {
                Closing::Wait => None,
                Closing::Discard | Closing::Carry => Some(start + deadline),
            },
            partial: matches!(closing, Closing::Carry),
            stepping,
        };
        let (done, stats) = fleet
            .pool
            .run(&specs, &mut policy, &mut fleet.checker, &cfg)
            .await
            .expect("rollout");
        round_walls.push(start.elapsed().as_secs_f64());
        steps += stats.env_steps;
        unfinished += stats.abandoned;
        if round + 1 == rounds {
            unfinished += stats.carried;
        }
        results.extend(done);
    }
    let wall = t0.elapsed().as_secs_f64();
    fleet.stop();
    let lens: Vec<usize> = results.iter().map(|r| r.transitions.len()).collect();
    let long = long_len(p);
    PartialRow {
        steps,
        wall,
        round_mean: round_walls.iter().sum::<f64>() / rounds as f64,
        round_max: round_walls.iter().copied().fold(0.0, f64::max),
        judged: results.len(),
        mean_len: lens.iter().sum::<usize>() as f64 / lens.len().max(1) as f64,
        long_share: lens.iter().filter(|l| **l >= long).count() as f64 / lens.len().max(1) as f64,
        unfinished,
        spanning: results
            .iter()
            .filter(|r| {
                let v = |t: &steprl_core::Transition| t.policy_version;
                r.transitions.first().map(v) != r.transitions.last().map(v)
            })
            .count(),
    }
}

/// Resident memory with `lanes` uisim instances alive, each with an episode open.
async fn memory_with_lanes(lanes: usize) -> f64 {
    let sb = sandbox();
    let env = Arc::new(
        WasmEnvironment::new(
            &sb,
            &load(&sb, "uisim"),
            PluginOptions {
                config_json: r#"{"levels":[1]}"#.into(),
                ..PluginOptions::default()
            },
        )
        .await
        .unwrap(),
    );
    let mut checker =
        WasmRewardChecker::new(&sb, &load(&sb, "uisim-checker"), PluginOptions::default())
            .await
            .unwrap();
    let specs = round_robin_specs(env.as_ref(), 0, lanes);
    let mut pool = Pool::new(env.clone());
    let mut policy = Fixed {
        action: 0,
        parts: ObservationParts {
            tokens: true,
            ..ObservationParts::default()
        },
    };
    let cfg = RolloutConfig {
        concurrency: lanes,
        sampling: Sampling::Greedy,
        policy_version: 0,
        deadline: None,
        partial: false,
        stepping: Stepping::Lockstep,
    };
    // Every lane runs an episode; its instance stays in the pool for the next run.
    pool.run(&specs, &mut policy, &mut checker, &cfg)
        .await
        .expect("rollout");
    rss_mib()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env_usize("FLEET_SERVERS", 64);
    let steps = env_usize("FLEET_STEPS", 10) as u32;
    let per_lane = env_usize("FLEET_EPISODES_PER_LANE", 2);
    println!(
        "## {n} lanes against {n} local AndroidWorld servers, {steps} steps an episode, {per_lane} episodes a lane\n"
    );
    println!(
        "| step latency | stepping | scenario | env steps | wall s | env steps/s | bound ({n}/latency) | share of bound | CPU s (of the process) | mean batch | mean start + reset ms | lost | plugin failures | servers down |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let steppings: Vec<Stepping> = std::env::var("FLEET_STEPPINGS")
        .unwrap_or_else(|_| "lockstep,free".into())
        .split(',')
        .map(|v| match v.trim() {
            "free" => Stepping::Free,
            "lockstep" => Stepping::Lockstep,
            other => panic!("FLEET_STEPPINGS: `{other}` is neither lockstep nor free"),
        })
        .collect();
    for ms in env_list("FLEET_LATENCIES_MS", "200,2000") {
        let latency = Duration::from_millis(ms);
        let bound = n as f64 / latency.as_secs_f64();
        for &stepping in &steppings {
            for s in [Scenario::Healthy, Scenario::OneDead, Scenario::OneHung] {
                let r = fleet_run(n, latency, steps, per_lane * n, s, stepping).await;
                let rate = r.steps as f64 / r.wall;
                println!(
                    "| {ms} ms | {stepping:?} | {} | {} | {:.1} | {rate:.1} | {bound:.1} | {:.0}% | {:.1} | {:.1} | {:.0} | {} | {} | {} |",
                    s.name(),
                    r.steps,
                    r.wall,
                    100.0 * rate / bound,
                    r.cpu,
                    r.batch,
                    r.reset_ms,
                    r.lost,
                    r.failures,
                    r.down
                );
            }
        }
    }
    let rounds = env_usize("FLEET_ROUNDS", 4);
    let max_steps = env_usize("FLEET_PARTIAL_MAX_STEPS", 30) as u32;
    let p = 1.0 / env_usize("FLEET_PARTIAL_MEAN_STEPS", 6) as f64;
    println!(
        "\n## Partial rollouts: {rounds} rounds of {} new episodes on {n} servers; an episode ends with probability 1/{} a step (capped at {max_steps})\n",
        per_lane * n,
        (1.0 / p).round()
    );
    println!(
        "| step latency | stepping | round closes | deadline s | env steps | wall s | env steps/s | share of bound | mean round s | longest round s | episodes judged | their mean length | of them ≥ {} steps | unfinished at the end or discarded | judged across 2+ policy versions |",
        long_len(p)
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for ms in env_list("FLEET_PARTIAL_LATENCIES_MS", "200,2000") {
        let latency = Duration::from_millis(ms);
        let bound = n as f64 / latency.as_secs_f64();
        // A lane's expected work in a round: its episodes' mean length of steps.
        let deadline = std::env::var("FLEET_PARTIAL_DEADLINE_S")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(
                latency.mul_f64(per_lane as f64 / p),
                Duration::from_secs_f64,
            );
        for &stepping in &steppings {
            for closing in [Closing::Wait, Closing::Discard, Closing::Carry] {
                let r = partial_run(
                    n,
                    latency,
                    max_steps,
                    p,
                    per_lane * n,
                    rounds,
                    deadline,
                    closing,
                    stepping,
                )
                .await;
                let rate = r.steps as f64 / r.wall;
                let shown = match closing {
                    Closing::Wait => "–".to_owned(),
                    _ => format!("{:.1}", deadline.as_secs_f64()),
                };
                println!(
                    "| {ms} ms | {stepping:?} | {} | {shown} | {} | {:.1} | {rate:.1} | {:.0}% | {:.1} | {:.1} | {} | {:.2} | {:.1}% | {} | {} |",
                    closing.name(),
                    r.steps,
                    r.wall,
                    100.0 * rate / bound,
                    r.round_mean,
                    r.round_max,
                    r.judged,
                    r.mean_len,
                    100.0 * r.long_share,
                    r.unfinished,
                    r.spanning
                );
            }
        }
    }
    println!("\n## Host memory per lane (uisim instances, one episode each, no servers)\n");
    println!("| lanes | resident MiB after the rollout |");
    println!("|---|---|");
    for lanes in env_list("FLEET_LANES_FOR_MEMORY", "1,100,1000") {
        let mib = memory_with_lanes(lanes as usize).await;
        println!("| {lanes} | {mib:.0} |");
    }
}

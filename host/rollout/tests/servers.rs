//! Server pools in the rollout: one lane per server, each told which server it drives;
//! a server that stops answering leaves the pool and its episode runs again on another
//! one (lost, never a task failure); it rejoins when it answers again; a failure on a
//! server that still answers stays the episode's plugin failure; and no server left is
//! an error that names them. Every test runs with lanes in lock-step turns and with
//! free-running lanes.

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::{Biased, Corridor, CorridorInstance, GoalChecker, specs};
use steprl_core::{
    Action, CallError, EnvInfo, EnvInstance, Environment, EpisodeId, GuestError, Observation,
    ObservationParts, StepResult,
};
use steprl_rollout::{
    EpisodeResult, MAX_LOSSES, Outcome, Pool, RolloutConfig, RolloutError, RolloutStats, Sampling,
    Stepping,
};

/// Both ways of stepping the lanes.
const STEPPINGS: [Stepping; 2] = [Stepping::Lockstep, Stepping::Free];

/// What the servers of a [`Fleet`] do, shared by its instances.
#[derive(Default)]
struct FleetState {
    /// Per server: it answers nothing (refused).
    dead: Vec<bool>,
    /// Per server: it dies at its n-th step from now.
    die_at_step: Vec<Option<u32>>,
    /// Tasks whose first step kills whichever server runs them.
    killers: Vec<String>,
    /// (server, task) of every episode started.
    started: Vec<(u32, String)>,
    /// The server each new instance was told to serve, in order.
    served: Vec<u32>,
}

/// The corridor behind a fleet of servers `s0`, `s1`, ...
struct Fleet {
    names: Vec<String>,
    state: Arc<Mutex<FleetState>>,
}

impl Fleet {
    fn new(n: usize) -> Self {
        Fleet {
            names: (0..n).map(|i| format!("s{i}")).collect(),
            state: Arc::new(Mutex::new(FleetState {
                dead: vec![false; n],
                die_at_step: vec![None; n],
                ..FleetState::default()
            })),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut FleetState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }
}

#[async_trait]
impl Environment for Fleet {
    fn name(&self) -> &str {
        "fleet"
    }
    fn info(&self) -> &EnvInfo {
        Corridor.info()
    }
    async fn instantiate(&self) -> Result<Box<dyn EnvInstance>, CallError> {
        Ok(Box::new(FleetInstance {
            inner: CorridorInstance { episodes: vec![] },
            server: 0,
            state: self.state.clone(),
        }))
    }
    fn servers(&self) -> &[String] {
        &self.names
    }
}

struct FleetInstance {
    inner: CorridorInstance,
    server: u32,
    state: Arc<Mutex<FleetState>>,
}

fn refused(call: &'static str) -> CallError {
    CallError::Guest {
        plugin: "fleet".into(),
        call,
        error: GuestError::External("connection refused".into()),
    }
}

impl FleetInstance {
    fn answers(&self, call: &'static str) -> Result<(), CallError> {
        if self.state.lock().unwrap().dead[self.server as usize] {
            Err(refused(call))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl EnvInstance for FleetInstance {
    async fn start(
        &mut self,
        task_id: &str,
        seed: u64,
        parts: ObservationParts,
    ) -> Result<EpisodeId, CallError> {
        self.answers("episode.start")?;
        let s = self.server;
        self.state
            .lock()
            .unwrap()
            .started
            .push((s, task_id.to_owned()));
        self.inner.start(task_id, seed, parts).await
    }
    async fn reset(&mut self, ep: EpisodeId) -> Result<Observation, CallError> {
        self.answers("episode.reset")?;
        self.inner.reset(ep).await
    }
    async fn step(&mut self, ep: EpisodeId, action: &Action) -> Result<StepResult, CallError> {
        self.answers("episode.step")?;
        {
            let mut st = self.state.lock().unwrap();
            let s = self.server as usize;
            let task = &self.inner.episodes[ep.0 as usize].as_ref().unwrap().0;
            let dies = match &mut st.die_at_step[s] {
                Some(1) => true,
                Some(n) => {
                    *n -= 1;
                    false
                }
                None => false,
            };
            if dies || st.killers.contains(task) {
                st.dead[s] = true;
                st.die_at_step[s] = None;
                return Err(refused("episode.step"));
            }
        }
        self.inner.step(ep, action).await
    }
    async fn final_state(&mut self, ep: EpisodeId) -> Result<String, CallError> {
        self.answers("episode.final-state")?;
        self.inner.final_state(ep).await
    }
    async fn close(&mut self, ep: EpisodeId) {
        self.inner.close(ep).await;
    }
    async fn serve(&mut self, index: u32) -> Result<(), CallError> {
        self.server = index;
        self.state.lock().unwrap().served.push(index);
        Ok(())
    }
    async fn health(&mut self, index: u32) -> Result<String, String> {
        if self.state.lock().unwrap().dead[index as usize] {
            Err("connection refused".into())
        } else {
            Ok(format!("server {index}"))
        }
    }
}

fn cfg(stepping: Stepping) -> RolloutConfig {
    RolloutConfig {
        // A pooled environment runs one lane per server, whatever this says.
        concurrency: 64,
        sampling: Sampling::Sample,
        policy_version: 0,
        deadline: None,
        partial: false,
        stepping,
    }
}

fn plan(n: usize) -> Vec<steprl_rollout::EpisodeSpec> {
    let tasks: Vec<&str> = (0..n)
        .map(|i| if i % 2 == 0 { "goal-1" } else { "goal-2" })
        .collect();
    specs(&tasks)
}

async fn run_on(
    pool: &mut Pool,
    plan: &[steprl_rollout::EpisodeSpec],
    stepping: Stepping,
) -> Result<(Vec<EpisodeResult>, RolloutStats), RolloutError> {
    pool.run(
        plan,
        &mut Biased::default(),
        &mut GoalChecker,
        &cfg(stepping),
    )
    .await
}

/// The same plan without a pool, in lock-step turns: the results a pooled run must
/// reproduce.
async fn reference(plan: &[steprl_rollout::EpisodeSpec]) -> Vec<EpisodeResult> {
    let mut pool = Pool::new(Arc::new(Corridor));
    run_on(&mut pool, plan, Stepping::Lockstep).await.unwrap().0
}

#[tokio::test]
async fn a_server_that_dies_mid_run_leaves_the_pool_and_its_episode_runs_again_elsewhere() {
    for stepping in STEPPINGS {
        let plan = plan(12);
        let fleet = Arc::new(Fleet::new(3));
        fleet.with(|s| s.die_at_step[1] = Some(4));
        let mut pool = Pool::new(fleet.clone());
        let (results, stats) = run_on(&mut pool, &plan, stepping).await.unwrap();
        // Lost with its server and run again from its start, every episode comes out as
        // it would have without the failure.
        assert_eq!(results, reference(&plan).await);
        assert_eq!(stats.lost, 1);
        assert_eq!(stats.plugin_failures, 0);
        assert_eq!(stats.trajectories, 12);
        assert_eq!(pool.servers_down(), ["s1"]);
        fleet.with(|s| {
            // One instance per server, each told its own server.
            assert_eq!(s.served, [0, 1, 2]);
            // Server 1 ran episodes until it died, none after.
            let on_1 = s.started.iter().filter(|(srv, _)| *srv == 1).count();
            assert!(on_1 >= 1, "{:?}", s.started);
            let last_on_1 = s.started.iter().rposition(|(srv, _)| *srv == 1).unwrap();
            let after: Vec<_> = s.started[last_on_1..].iter().skip(1).collect();
            assert!(after.iter().all(|(srv, _)| *srv != 1), "{:?}", s.started);
            // 12 episodes and the one run again.
            assert_eq!(s.started.len(), 13, "{:?}", s.started);
        });
    }
}

#[tokio::test]
async fn a_server_down_at_start_is_in_the_table_and_runs_nothing_until_it_answers() {
    for stepping in STEPPINGS {
        let plan = plan(6);
        let fleet = Arc::new(Fleet::new(3));
        fleet.with(|s| s.dead[2] = true);
        let mut pool = Pool::new(fleet.clone());
        let table = pool.admit().await;
        let answers: Vec<_> = table.iter().map(|h| h.answer.clone()).collect();
        assert_eq!(
            answers,
            [
                Ok("server 0".into()),
                Ok("server 1".into()),
                Err("connection refused".into())
            ]
        );
        assert_eq!(
            steprl_rollout::health_table(&table),
            "  s0  up    server 0\n  s1  up    server 1\n  s2  DOWN  connection refused\n"
        );
        let (results, stats) = run_on(&mut pool, &plan, stepping).await.unwrap();
        assert_eq!(results, reference(&plan).await);
        assert_eq!((stats.lost, stats.plugin_failures), (0, 0));
        assert!(fleet.with(|s| s.started.iter().all(|(srv, _)| *srv != 2)));
        assert_eq!(pool.servers_down(), ["s2"]);

        // It answers again: the next rollout admits it and gives it episodes.
        fleet.with(|s| {
            s.dead[2] = false;
            s.started.clear();
        });
        let (results, _) = run_on(&mut pool, &plan, stepping).await.unwrap();
        assert_eq!(results, reference(&plan).await);
        assert!(pool.servers_down().is_empty());
        assert!(fleet.with(|s| s.started.iter().any(|(srv, _)| *srv == 2)));
    }
}

#[tokio::test]
async fn a_failure_on_a_server_that_still_answers_is_the_episodes_plugin_failure() {
    for stepping in STEPPINGS {
        let plan = specs(&["broken", "goal-1", "goal-2"]);
        let fleet = Arc::new(Fleet::new(2));
        let mut pool = Pool::new(fleet.clone());
        let (results, stats) = run_on(&mut pool, &plan, stepping).await.unwrap();
        assert_eq!((stats.lost, stats.plugin_failures), (0, 1));
        assert!(
            matches!(&results[0].outcome, Outcome::PluginFailure { error } if error.contains("boom"))
        );
        assert!(pool.servers_down().is_empty());
        assert_eq!(results[1..], reference(&plan).await[1..]);
    }
}

#[tokio::test]
async fn an_episode_that_takes_down_every_server_it_runs_on_is_a_plugin_failure_after_max_losses() {
    for stepping in STEPPINGS {
        let plan = specs(&["endless", "goal-1", "goal-2", "goal-1"]);
        let n = MAX_LOSSES as usize + 1;
        let fleet = Arc::new(Fleet::new(n));
        fleet.with(|s| s.killers = vec!["endless".into()]);
        let mut pool = Pool::new(fleet.clone());
        let (results, stats) = run_on(&mut pool, &plan, stepping).await.unwrap();
        assert_eq!(stats.lost, u64::from(MAX_LOSSES));
        assert_eq!(stats.plugin_failures, 1);
        match &results[0].outcome {
            Outcome::PluginFailure { error } => assert!(
                error.starts_with(&format!(
                    "lost with {MAX_LOSSES} servers that stopped answering"
                )),
                "{error}"
            ),
            o => panic!("{o:?}"),
        }
        assert_eq!(results[1..], reference(&plan).await[1..]);
        assert_eq!(pool.servers_down().len(), MAX_LOSSES as usize);
    }
}

#[tokio::test]
async fn no_server_left_is_an_error_that_names_every_server() {
    for stepping in STEPPINGS {
        let plan = plan(8);
        let fleet = Arc::new(Fleet::new(2));
        fleet.with(|s| s.die_at_step = vec![Some(2), Some(3)]);
        let mut pool = Pool::new(fleet.clone());
        let e = run_on(&mut pool, &plan, stepping)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("environment `fleet`: none of its 2 servers answers"),
            "{e}"
        );
        assert!(
            e.contains("  s0  DOWN  connection refused\n  s1  DOWN  connection refused\n"),
            "{e}"
        );
        assert!(e.contains("scripts/osworld-fleet.sh"), "{e}");

        // Nobody at the start either: the first rollout says so.
        let fleet = Arc::new(Fleet::new(2));
        fleet.with(|s| s.dead = vec![true, true]);
        let e = run_on(&mut Pool::new(fleet), &plan, stepping)
            .await
            .unwrap_err();
        assert!(matches!(e, RolloutError::NoServer { n: 2, .. }), "{e}");
    }
}

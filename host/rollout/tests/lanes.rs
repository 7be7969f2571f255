//! Free-running lanes: whatever order their steps come back in, they play the same
//! episodes as lock-step turns; and a lane whose step is slow holds up only itself,
//! where lock-step turns make every lane wait for it. In turns too, the episodes that
//! end together have their final states read at once.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use common::{Biased, Corridor, CorridorInstance, GoalChecker, specs};
use steprl_core::{
    Action, CallError, EnvInfo, EnvInstance, Environment, EpisodeId, Observation, ObservationParts,
    StepResult,
};
use steprl_rollout::{Pool, RolloutConfig, Sampling, Stepping};

/// The corridor, with each call of an episode coming back after a number of yields to
/// the runtime that varies with the episode and the step, so lanes overtake each other;
/// and, optionally, a gate: the first step of a `goal-2` episode waits until
/// `gate_after` episodes have ended (or gives up after many yields), and records
/// whether they did.
struct Jittery {
    gate_after: Option<usize>,
    ended: Arc<AtomicUsize>,
    released: Arc<AtomicBool>,
    /// Each final-state read waits until this many have started (or gives up), and
    /// `together` (true at first) stays true only if every read saw them.
    reads_together: Option<usize>,
    reading: Arc<AtomicUsize>,
    together: Arc<AtomicBool>,
}

struct JitteryInstance {
    inner: CorridorInstance,
    calls: u64,
    seeds: Vec<u64>,
    tasks: Vec<String>,
    gate_after: Option<usize>,
    ended: Arc<AtomicUsize>,
    released: Arc<AtomicBool>,
    reads_together: Option<usize>,
    reading: Arc<AtomicUsize>,
    together: Arc<AtomicBool>,
}

/// Yield to the runtime until `ready` says yes (true) or many yields have passed
/// (false).
async fn wait_for(ready: impl Fn() -> bool) -> bool {
    for _ in 0..10_000 {
        if ready() {
            return true;
        }
        tokio::task::yield_now().await;
    }
    false
}

impl JitteryInstance {
    async fn jitter(&mut self, ep: EpisodeId) {
        self.calls += 1;
        let seed = self.seeds[ep.0 as usize];
        let n = (seed.wrapping_mul(7919) ^ self.calls.wrapping_mul(104_729)) % 23;
        for _ in 0..n {
            tokio::task::yield_now().await;
        }
    }
}

#[async_trait]
impl Environment for Jittery {
    fn name(&self) -> &str {
        "corridor"
    }
    fn info(&self) -> &EnvInfo {
        Corridor.info()
    }
    async fn instantiate(&self) -> Result<Box<dyn EnvInstance>, CallError> {
        Ok(Box::new(JitteryInstance {
            inner: CorridorInstance { episodes: vec![] },
            calls: 0,
            seeds: vec![],
            tasks: vec![],
            gate_after: self.gate_after,
            ended: Arc::clone(&self.ended),
            released: Arc::clone(&self.released),
            reads_together: self.reads_together,
            reading: Arc::clone(&self.reading),
            together: Arc::clone(&self.together),
        }))
    }
}

#[async_trait]
impl EnvInstance for JitteryInstance {
    async fn start(
        &mut self,
        task_id: &str,
        seed: u64,
        parts: ObservationParts,
    ) -> Result<EpisodeId, CallError> {
        let ep = self.inner.start(task_id, seed, parts).await?;
        self.seeds.push(seed);
        self.tasks.push(task_id.to_owned());
        self.jitter(ep).await;
        Ok(ep)
    }
    async fn reset(&mut self, ep: EpisodeId) -> Result<Observation, CallError> {
        self.jitter(ep).await;
        self.inner.reset(ep).await
    }
    async fn step(&mut self, ep: EpisodeId, action: &Action) -> Result<StepResult, CallError> {
        let first = self.inner.episodes[ep.0 as usize]
            .as_ref()
            .is_some_and(|e| e.2 == 0);
        if let Some(k) = self.gate_after
            && first
            && self.tasks[ep.0 as usize] == "goal-2"
            && wait_for(|| self.ended.load(Ordering::SeqCst) >= k).await
        {
            self.released.store(true, Ordering::SeqCst);
        }
        self.jitter(ep).await;
        self.inner.step(ep, action).await
    }
    async fn final_state(&mut self, ep: EpisodeId) -> Result<String, CallError> {
        if let Some(k) = self.reads_together {
            self.reading.fetch_add(1, Ordering::SeqCst);
            let all = wait_for(|| self.reading.load(Ordering::SeqCst) >= k).await;
            self.together.fetch_and(all, Ordering::SeqCst);
        }
        self.jitter(ep).await;
        self.ended.fetch_add(1, Ordering::SeqCst);
        self.inner.final_state(ep).await
    }
    async fn close(&mut self, ep: EpisodeId) {
        self.inner.close(ep).await
    }
}

fn jittery(gate_after: Option<usize>) -> Jittery {
    Jittery {
        gate_after,
        ended: Arc::new(AtomicUsize::new(0)),
        released: Arc::new(AtomicBool::new(false)),
        reads_together: None,
        reading: Arc::new(AtomicUsize::new(0)),
        together: Arc::new(AtomicBool::new(false)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_running_lanes_play_the_episodes_of_lockstep_turns_whatever_the_order() {
    let tasks: Vec<&str> = (0..24)
        .map(|i| ["goal-1", "goal-2", "broken", "endless"][i % 4])
        .collect();
    let plan = specs(&tasks);
    let turns = RolloutConfig::whole(5, Sampling::Sample);
    let (want, want_stats) = Pool::new(Arc::new(Corridor))
        .run(&plan, &mut Biased::default(), &mut GoalChecker, &turns)
        .await
        .unwrap();
    let free = RolloutConfig {
        stepping: Stepping::Free,
        ..turns
    };
    for _ in 0..3 {
        let mut policy = Biased::default();
        let (got, stats) = Pool::new(Arc::new(jittery(None)))
            .run(&plan, &mut policy, &mut GoalChecker, &free)
            .await
            .unwrap();
        assert_eq!(got, want);
        assert_eq!(stats.env_steps, want_stats.env_steps);
        assert_eq!(stats.trajectories, want_stats.trajectories);
        assert_eq!(stats.plugin_failures, 6, "the broken tasks");
        assert!(policy.batches.iter().all(|b| (1..=5).contains(b)));
    }
}

/// A `goal-2` episode's first step waits for the three `goal-1` episodes beside it to
/// end. Free-running, they do; in lock-step turns they cannot (each turn waits for
/// every lane's step), so the gate gives up.
#[tokio::test]
async fn a_slow_lane_holds_up_only_itself_when_lanes_run_free() {
    let plan = specs(&["goal-2", "goal-1", "goal-1", "goal-1"]);
    for (stepping, released) in [(Stepping::Free, true), (Stepping::Lockstep, false)] {
        let env = Arc::new(jittery(Some(3)));
        let cfg = RolloutConfig {
            stepping,
            ..RolloutConfig::whole(4, Sampling::Sample)
        };
        let (results, stats) = Pool::new(env.clone())
            .run(&plan, &mut Biased::default(), &mut GoalChecker, &cfg)
            .await
            .unwrap();
        assert_eq!(results.len(), 4);
        assert_eq!(stats.trajectories, 4);
        assert_eq!(
            env.released.load(Ordering::SeqCst),
            released,
            "{stepping:?}: whether the other lanes ended while the slow step waited"
        );
    }
}

/// Four `endless` episodes walk greedily to their max-steps and end in the same turn:
/// their final states (requests to a server, for a real adapter) are read at once, not
/// one after the other.
#[tokio::test]
async fn in_turns_the_final_states_of_episodes_that_end_together_are_read_at_once() {
    let plan = specs(&["endless"; 4]);
    let env = Arc::new(Jittery {
        reads_together: Some(4),
        together: Arc::new(AtomicBool::new(true)),
        ..jittery(None)
    });
    let cfg = RolloutConfig::whole(4, Sampling::Greedy);
    let (results, _) = Pool::new(env.clone())
        .run(&plan, &mut Biased::default(), &mut GoalChecker, &cfg)
        .await
        .unwrap();
    assert!(results.iter().all(|r| r.transitions.len() == 6));
    assert_eq!(env.reading.load(Ordering::SeqCst), 4);
    assert!(env.together.load(Ordering::SeqCst));
}

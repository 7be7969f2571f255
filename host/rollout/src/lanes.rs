//! Free-running lanes ([`Stepping::Free`](crate::Stepping::Free)): each lane starts,
//! steps and ends its episodes on a task of its own, and one batched inference serves
//! whichever lanes wait for an action at that moment, so a slow step (a VM's seconds, a
//! hung server's timeout) holds up only its own lane.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};
use steprl_core::{
    CallError, Decision, EnvInstance, EpisodeId, Observation, Policy, RewardChecker, StepResult,
};
use tokio::task::JoinHandle;

use crate::pool::{Pool, RolloutConfig, Run, begin, probe, wind_up};
use crate::servers::RolloutError;

/// A lane's environment instance, lent to the lane's task while it runs.
type Instance = Option<Box<dyn EnvInstance>>;

/// What a lane's task did.
enum Done {
    /// It started an episode (spec `index`) and reset it, in `took`.
    Started {
        index: usize,
        r: Result<(EpisodeId, Observation), CallError>,
        took: Duration,
    },
    /// It took `decision`'s action.
    Stepped {
        decision: Decision,
        r: Result<StepResult, CallError>,
    },
    /// It read the ended episode's final state (see [`wind_up`]) and closed it.
    Ended {
        end: Result<(bool, bool), String>,
        fs: Option<Result<String, CallError>>,
    },
}

/// A lane's task, back: its lane, the instance it was lent, what it did, and, when it
/// failed in a pooled environment, its server's health.
struct Report {
    lane: usize,
    inst: Instance,
    done: Done,
    health: Option<Result<String, String>>,
}

/// The lanes' tasks in flight.
type Tasks = FuturesUnordered<JoinHandle<Report>>;

impl Pool {
    /// The free-running loop: start idle lanes, infer one batch for every lane waiting
    /// for an action, then wait for the next task (and every other one done by then)
    /// and land each. Ends when every spec is done or, once the deadline has passed
    /// (and a step was taken), when the tasks in flight are back: nothing new starts or
    /// steps after it.
    pub(crate) async fn free(
        &mut self,
        run: &mut Run,
        policy: &mut dyn Policy,
        checker: &mut dyn RewardChecker,
        cfg: &RolloutConfig,
    ) -> Result<(), RolloutError> {
        let n = run.active.len();
        let mut busy = vec![false; n];
        let mut tasks = Tasks::new();
        let mut reported = 0;
        loop {
            // As a lock-step turn does, a run takes steps before its deadline counts.
            let closing =
                run.stats.env_steps > 0 && cfg.deadline.is_some_and(|d| Instant::now() >= d);
            if !closing {
                if tasks.is_empty() {
                    self.readmit_if_none_up(run).await?;
                }
                for (lane, index) in self.starts(run, |l| !busy[l]) {
                    busy[lane] = true;
                    tasks.push(self.start_task(run, lane, index));
                }
                let waiting: Vec<usize> = (0..n)
                    .filter(|l| !busy[*l] && run.active[*l].is_some())
                    .collect();
                if !waiting.is_empty() {
                    for (lane, d) in self.infer(run, policy, cfg, &waiting) {
                        busy[lane] = true;
                        tasks.push(self.step_task(run, lane, d));
                    }
                }
            }
            if tasks.is_empty() {
                if closing || run.queue.is_empty() {
                    return Ok(());
                }
                continue;
            }
            let t0 = Instant::now();
            let mut back = vec![tasks.next().await.expect("a task in flight")];
            while let Some(Some(r)) = tasks.next().now_or_never() {
                back.push(r);
            }
            run.stats.env += t0.elapsed();
            for r in back {
                let r = r.unwrap_or_else(|e| match e.try_into_panic() {
                    Ok(p) => std::panic::resume_unwind(p),
                    Err(e) => panic!("a rollout lane's task ended unfinished: {e}"),
                });
                self.land(run, &*policy, checker, r, &mut busy, &mut tasks)
                    .await;
            }
            self.report(run, &mut reported);
        }
    }

    /// Take back a task's lane and record what it did: an episode started (or its
    /// failure), a step (an ended episode gets its end task), an episode judged.
    async fn land(
        &mut self,
        run: &mut Run,
        policy: &dyn Policy,
        checker: &mut dyn RewardChecker,
        report: Report,
        busy: &mut [bool],
        tasks: &mut Tasks,
    ) {
        let Report {
            lane,
            inst,
            done,
            health,
        } = report;
        self.lanes[lane] = inst;
        busy[lane] = false;
        let answers: Vec<(usize, Result<String, String>)> =
            health.map(|h| (lane, h)).into_iter().collect();
        match done {
            Done::Started { index, r, took } => {
                if let Some(s) = self.started(run, policy, lane, index, r, took).await {
                    self.settle(run, vec![s], &answers);
                }
            }
            Done::Stepped { decision, r } => {
                if let Some(end) = self.record(run, policy, lane, decision, r) {
                    busy[lane] = true;
                    tasks.push(self.end_task(run, lane, end));
                }
            }
            Done::Ended { end, fs } => {
                if let Some(s) = self.conclude(run, checker, lane, end, fs).await {
                    self.settle(run, vec![s], &answers);
                }
            }
        }
    }

    /// Start spec `index` on `lane` (creating the lane's instance if it has none).
    fn start_task(&mut self, run: &Run, lane: usize, index: usize) -> JoinHandle<Report> {
        let env = Arc::clone(&self.env);
        let mut inst = self.lanes[lane].take();
        let spec = run.specs[index].clone();
        let (parts, pooled) = (run.parts, self.servers.pooled());
        tokio::spawn(async move {
            let t = Instant::now();
            let r = begin(
                env.as_ref(),
                &mut inst,
                pooled.then_some(lane),
                &spec,
                parts,
            )
            .await;
            let took = t.elapsed();
            let health = match (&r, pooled) {
                (Err(_), true) => Some(probe(env.as_ref(), &mut inst, lane).await),
                _ => None,
            };
            Report {
                lane,
                inst,
                done: Done::Started { index, r, took },
                health,
            }
        })
    }

    /// Take `decision`'s action in `lane`'s episode.
    fn step_task(&mut self, run: &Run, lane: usize, decision: Decision) -> JoinHandle<Report> {
        let mut inst = self.lanes[lane].take();
        let episode = run.active[lane].as_ref().expect("active").episode;
        tokio::spawn(async move {
            let r = inst
                .as_mut()
                .expect("a lane with an episode has its instance")
                .step(episode, &decision.action)
                .await;
            Report {
                lane,
                inst,
                done: Done::Stepped { decision, r },
                health: None,
            }
        })
    }

    /// Read the final state of `lane`'s ended episode and close it.
    fn end_task(
        &mut self,
        run: &Run,
        lane: usize,
        end: Result<(bool, bool), String>,
    ) -> JoinHandle<Report> {
        let env = Arc::clone(&self.env);
        let mut inst = self.lanes[lane].take();
        let episode = run.active[lane].as_ref().expect("active").episode;
        let pooled = self.servers.pooled();
        tokio::spawn(async move {
            let i = inst
                .as_mut()
                .expect("a lane with an episode has its instance");
            let fs = wind_up(i.as_mut(), episode, &end).await;
            let failed = end.is_err() || matches!(fs, Some(Err(_)));
            let health = if failed && pooled {
                Some(probe(env.as_ref(), &mut inst, lane).await)
            } else {
                None
            };
            Report {
                lane,
                inst,
                done: Done::Ended { end, fs },
                health,
            }
        })
    }
}

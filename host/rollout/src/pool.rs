//! The rollout pool: lanes of environment instances, the fill/act/step loop, and the
//! per-episode results. It records raw steps (observation, action, behaviour
//! log-prob) and drives any [`Policy`] without knowing which network is behind it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use steprl_core::validate::{
    capped_reason, final_state_problem, observation_problems, verdict_problems,
};
use steprl_core::{
    Action, CallError, Decision, EnvInstance, Environment, EpisodeId, GuestError, Observation,
    ObservationParts, Policy, RewardChecker, Sampling, SplitMix, StepResult, TrajectorySummary,
    Transition, View, anchor,
};

use crate::servers::{MAX_LOSSES, RolloutError, ServerHealth, Servers, health_table};

/// Settings of a rollout.
#[derive(Debug, Clone, Copy)]
pub struct RolloutConfig {
    /// Episodes in flight at once (one environment instance per lane).
    pub concurrency: usize,
    /// Sample or act greedily.
    pub sampling: Sampling,
    /// The acting policy's version (its updates so far), recorded on every transition.
    pub policy_version: u32,
    /// Partial rollouts: when this moment passes, the run closes, and the episodes still
    /// in flight (and the specs not started) are carried into the next partial run,
    /// which continues them first. `None`: run every episode to its end.
    pub deadline: Option<Instant>,
    /// Whether this run continues carried episodes (a training rollout). A run that
    /// does not (an evaluation) closes them first and counts them abandoned.
    pub partial: bool,
    /// Whether lanes step together, in turns, or each on its own.
    pub stepping: Stepping,
}

/// How the lanes of a rollout take their steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stepping {
    /// In turns: every active lane's decision in one batch, then every lane's step,
    /// then the ended episodes' checks. Deterministic: the same plan, seeds and policy
    /// give the same batches and trajectories.
    #[default]
    Lockstep,
    /// Each lane on its own: a lane whose step came back waits only for the next
    /// inference, which batches every lane waiting at that moment, so a slow step
    /// holds up its own lane and no other (server fleets: steps of 0.2 s and more).
    /// Each lane runs its environment calls on its own task, so they also spread over
    /// the runtime's threads. Trajectories still follow each episode's own sampling
    /// stream, but the batches depend on timing, so a policy whose outputs depend on
    /// its batch (float rounding in batched kernels) may differ from run to run.
    Free,
}

impl RolloutConfig {
    /// Every episode to its end, by a policy of version 0: evaluations and tests.
    pub fn whole(concurrency: usize, sampling: Sampling) -> Self {
        RolloutConfig {
            concurrency,
            sampling,
            policy_version: 0,
            deadline: None,
            partial: false,
            stepping: Stepping::Lockstep,
        }
    }
}

/// One planned episode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpisodeSpec {
    /// Task id.
    pub task: String,
    /// Environment seed (picks the task's parameters).
    pub seed: u64,
    /// Seed of this episode's action sampling.
    pub sample_seed: u64,
}

/// How an episode ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// The reward checker judged it.
    Judged {
        /// Success.
        success: bool,
        /// Score in [0, 1].
        score: f32,
        /// The checker's reason.
        reason: String,
    },
    /// A plugin failed (trap, error, broken contract): not a task failure.
    PluginFailure {
        /// What failed.
        error: String,
    },
}

/// One finished episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeResult {
    /// What was planned.
    pub spec: EpisodeSpec,
    /// The decisions taken, in order.
    pub transitions: Vec<Transition>,
    /// Anchor key of each decision's observation.
    pub anchors: Vec<u64>,
    /// The last step said `done`.
    pub done: bool,
    /// The episode hit its step budget.
    pub truncated: bool,
    /// Judgement, or the plugin failure.
    pub outcome: Outcome,
}

impl EpisodeResult {
    /// Whether the checker judged it a success.
    pub fn success(&self) -> bool {
        matches!(self.outcome, Outcome::Judged { success: true, .. })
    }
}

/// Counters and timings of one rollout.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RolloutStats {
    /// Environment steps taken (including those of episodes later lost to a plugin).
    pub env_steps: u64,
    /// Episodes finished and judged.
    pub trajectories: u64,
    /// Episodes lost to plugin failures.
    pub plugin_failures: u64,
    /// Episodes lost with a server that stopped answering (a pooled environment): each
    /// ran again on another server, or, lost [`MAX_LOSSES`] times, counts as a plugin
    /// failure. Their steps are in `env_steps`.
    pub lost: u64,
    /// Text actions the environment rejected as invalid (each ended its episode).
    pub invalid_actions: u64,
    /// Episodes the host truncated at their task's max-steps (the environment had not
    /// ended them).
    pub host_truncated: u64,
    /// Policy forward passes (batches).
    pub batches: u64,
    /// Time in policy inference.
    pub inference: Duration,
    /// Time in environment calls (with free-running lanes, whose calls overlap: the
    /// time the loop waited for a lane to come back).
    pub env: Duration,
    /// Episodes started (each a `start` and a `reset` call).
    pub resets: u64,
    /// Time of those starts and resets, summed over episodes (a VM revert an adapter
    /// makes at reset is in it).
    pub reset: Duration,
    /// The longest of them.
    pub reset_max: Duration,
    /// Time in reward checks.
    pub check: Duration,
    /// Episodes still in flight when the run's deadline passed, carried into the next
    /// run (partial rollouts); specs not started yet are among them.
    #[serde(default)]
    pub carried: u64,
    /// Carried episodes an evaluation closed unfinished (never judged nor trained on).
    #[serde(default)]
    pub abandoned: u64,
}

/// One episode in flight.
pub(crate) struct Active {
    pub(crate) index: usize,
    pub(crate) episode: EpisodeId,
    pub(crate) observation: Observation,
    pub(crate) transitions: Vec<Transition>,
    pub(crate) anchors: Vec<u64>,
    pub(crate) rewards: Vec<f32>,
    pub(crate) rng: SplitMix,
    /// The task's max-steps (looked up once, not per step).
    pub(crate) budget: usize,
}

/// Called with (episodes finished, episodes planned) as a rollout progresses.
pub type Progress = Box<dyn FnMut(usize, usize) + Send>;

/// Lanes of environment instances, kept across rounds. When the environment runs a
/// pool of servers, lane `i` drives server `i`.
pub struct Pool {
    pub(crate) env: Arc<dyn Environment>,
    pub(crate) lanes: Vec<Option<Box<dyn EnvInstance>>>,
    pub(crate) progress: Option<Progress>,
    pub(crate) servers: Servers,
    /// Episodes a partial run left in flight, each on its lane, with its spec.
    pub(crate) carried: Vec<(usize, EpisodeSpec, Active)>,
    /// Specs a partial run did not start.
    pub(crate) unstarted: Vec<EpisodeSpec>,
}

impl Pool {
    /// A pool over `env` with no instances yet.
    pub fn new(env: Arc<dyn Environment>) -> Self {
        let servers = Servers::new(env.servers());
        Pool {
            env,
            lanes: Vec::new(),
            progress: None,
            servers,
            carried: Vec::new(),
            unstarted: Vec::new(),
        }
    }

    /// Health-check, through their lanes' instances and all at once, the servers out of
    /// the pool (at the first call: every server), and admit those that answer. Returns
    /// the last health of every server (empty for an environment without a pool).
    /// [`Pool::run`] calls it first, so a server that answers again rejoins at the
    /// next rollout.
    pub async fn admit(&mut self) -> Vec<ServerHealth> {
        let n = self.servers.health.len();
        while self.lanes.len() < n {
            self.lanes.push(None);
        }
        let (env, servers) = (&self.env, &self.servers);
        let checks = join_all(
            self.lanes
                .iter_mut()
                .enumerate()
                .take(n)
                .filter(|(i, _)| !servers.up(*i))
                .map(|(i, inst)| async move { (i, probe(env.as_ref(), inst, i).await) }),
        )
        .await;
        let first = !self.servers.admitted;
        for (i, answer) in checks {
            let h = &mut self.servers.health[i];
            if !first && let Ok(detail) = &answer {
                tracing::info!(
                    "server {} answers again ({detail}): back in the pool",
                    h.server
                );
            }
            h.answer = answer;
        }
        if first && n > 0 {
            let up = self.servers.count_up();
            let line = format!(
                "environment `{}`: {up} of {n} servers answer, so {up} lanes run:\n{}",
                self.env.name(),
                health_table(&self.servers.health).trim_end()
            );
            if up == n {
                tracing::info!("{line}");
            } else {
                tracing::warn!("{line}");
            }
        }
        self.servers.admitted = true;
        self.servers.health.clone()
    }

    /// The servers out of the pool now (empty without a pool).
    pub fn servers_down(&self) -> Vec<String> {
        self.servers.down()
    }

    pub(crate) fn no_server(&self) -> RolloutError {
        RolloutError::NoServer {
            env: self.env.name().to_owned(),
            n: self.servers.health.len(),
            table: health_table(&self.servers.health),
        }
    }

    /// Report progress to `f` whenever episodes finish (long rollouts, e.g. with a
    /// language-model policy, take minutes).
    pub fn on_progress(&mut self, f: Progress) {
        self.progress = Some(f);
    }

    /// The environment.
    pub fn env(&self) -> &Arc<dyn Environment> {
        &self.env
    }

    /// Run every spec to the end, `cfg.concurrency` at a time (or one per server in
    /// the pool of a pooled environment). Results come back in spec order. Each lane
    /// goes through four phases per step: fill (start an episode), infer (one batched
    /// decision), step, finish (close and judge an ended episode); `cfg.stepping` says
    /// whether all lanes take them together, in turns, or each on its own. An episode
    /// that failed in the environment is triaged (its server still answers: a plugin
    /// failure; it does not: lost and queued again). Fails only when no server of the
    /// pool answers.
    pub async fn run(
        &mut self,
        specs: &[EpisodeSpec],
        policy: &mut dyn Policy,
        checker: &mut dyn RewardChecker,
        cfg: &RolloutConfig,
    ) -> Result<(Vec<EpisodeResult>, RolloutStats), RolloutError> {
        let mut stats = RolloutStats::default();
        if !cfg.partial {
            stats.abandoned = self.abandon().await;
        }
        // Carried episodes first (each on its own lane), then the carried specs, then
        // this run's.
        let carried = std::mem::take(&mut self.carried);
        let n_carried = carried.len();
        let mut all: Vec<EpisodeSpec> = carried.iter().map(|(_, s, _)| s.clone()).collect();
        all.append(&mut self.unstarted);
        let first_new = all.len();
        all.extend_from_slice(specs);
        let pooled = self.servers.pooled();
        let n_lanes = if pooled {
            self.admit().await;
            self.servers.health.len()
        } else {
            let busy = carried.iter().map(|(l, _, _)| l + 1).max().unwrap_or(0);
            cfg.concurrency.max(1).min(all.len().max(1)).max(busy)
        };
        while self.lanes.len() < n_lanes {
            self.lanes.push(None);
        }
        let mut active: Vec<Option<Active>> = (0..n_lanes).map(|_| None).collect();
        for (i, (lane, _, mut a)) in carried.into_iter().enumerate() {
            a.index = i;
            active[lane] = Some(a);
        }
        let mut run = Run {
            specs: all.into(),
            parts: policy.parts(),
            version: cfg.policy_version,
            stats,
            results: vec![None; specs.len() + first_new],
            active,
            queue: (n_carried..first_new + specs.len()).collect(),
            losses: vec![0; specs.len() + first_new],
        };
        match cfg.stepping {
            Stepping::Lockstep => self.lockstep(&mut run, policy, checker, cfg).await?,
            Stepping::Free => self.free(&mut run, policy, checker, cfg).await?,
        }
        // The deadline passed: what is in flight or not started goes on next run.
        for (lane, slot) in run.active.iter_mut().enumerate() {
            if let Some(a) = slot.take() {
                self.carried.push((lane, run.specs[a.index].clone(), a));
            }
        }
        self.unstarted = run.queue.iter().map(|i| run.specs[*i].clone()).collect();
        run.stats.carried = (self.carried.len() + self.unstarted.len()) as u64;
        Ok((run.results.into_iter().flatten().collect(), run.stats))
    }

    /// The lock-step loop: each turn fills idle lanes, infers one batched decision for
    /// every active lane, steps them all and finishes the ended episodes; it stops when
    /// every spec is done or, after a turn, when the deadline has passed.
    async fn lockstep(
        &mut self,
        run: &mut Run,
        policy: &mut dyn Policy,
        checker: &mut dyn RewardChecker,
        cfg: &RolloutConfig,
    ) -> Result<(), RolloutError> {
        let mut reported = 0;
        loop {
            self.readmit_if_none_up(run).await?;
            self.fill(run, policy).await;
            let waiting: Vec<usize> = (0..run.active.len())
                .filter(|l| run.active[*l].is_some())
                .collect();
            if waiting.is_empty() {
                if run.queue.is_empty() {
                    return Ok(());
                }
                continue;
            }
            let chosen = self.infer(run, policy, cfg, &waiting);
            let ending = self.step(run, policy, chosen).await;
            self.finish(run, checker, ending).await;
            self.report(run, &mut reported);
            if cfg.deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(());
            }
        }
    }

    /// With specs still to start and no server of the pool up, check the servers once
    /// more; none answering is the run's error. Only lanes of servers in the pool run
    /// episodes, and a lane leaves with its server only between episodes: none up
    /// means none running.
    pub(crate) async fn readmit_if_none_up(&mut self, run: &Run) -> Result<(), RolloutError> {
        if self.servers.pooled() && self.servers.count_up() == 0 && !run.queue.is_empty() {
            self.admit().await;
            if self.servers.count_up() == 0 {
                return Err(self.no_server());
            }
        }
        Ok(())
    }

    /// Tell the progress callback, if the episodes finished have grown past `reported`.
    pub(crate) fn report(&mut self, run: &Run, reported: &mut usize) {
        if let Some(f) = self.progress.as_mut() {
            let done = run.results.iter().filter(|r| r.is_some()).count();
            if done > *reported {
                *reported = done;
                f(done, run.specs.len());
            }
        }
    }

    /// Episodes carried by a partial run and not finished yet (in flight or not
    /// started).
    pub fn carried(&self) -> usize {
        self.carried.len() + self.unstarted.len()
    }

    /// Close the carried episodes unfinished; returns how many there were.
    async fn abandon(&mut self) -> u64 {
        let n = self.carried();
        for (lane, _, a) in std::mem::take(&mut self.carried) {
            if let Some(inst) = self.lanes.get_mut(lane).and_then(Option::as_mut) {
                inst.close(a.episode).await;
            }
        }
        self.unstarted.clear();
        if n > 0 {
            tracing::warn!("{n} episode(s) carried by a partial rollout closed unfinished");
        }
        n as u64
    }

    /// The idle lanes to start now, each with the next spec in plan order: lanes with
    /// no episode (and, in a pooled environment, whose server is in the pool) for which
    /// `free` says yes.
    pub(crate) fn starts(
        &self,
        run: &mut Run,
        free: impl Fn(usize) -> bool,
    ) -> Vec<(usize, usize)> {
        let pooled = self.servers.pooled();
        let mut starting = Vec::new();
        for (lane, slot) in run.active.iter().enumerate() {
            if slot.is_none()
                && free(lane)
                && (!pooled || self.servers.up(lane))
                && let Some(index) = run.queue.pop_front()
            {
                starting.push((lane, index));
            }
        }
        starting
    }

    /// Phase 1, fill: give idle lanes the next specs in plan order, and start and reset
    /// them concurrently; a failed start or an observation outside the declared spaces
    /// is that episode's plugin failure.
    async fn fill(&mut self, run: &mut Run, policy: &dyn Policy) {
        let starting = self.starts(run, |_| true);
        let specs = Arc::clone(&run.specs);
        let pooled = self.servers.pooled();
        let t0 = Instant::now();
        let env = &self.env;
        let parts = run.parts;
        let started = join_all(
            self.lanes
                .iter_mut()
                .enumerate()
                .filter_map(|(lane, inst)| {
                    let &(_, index) = starting.iter().find(|(l, _)| *l == lane)?;
                    let spec = &specs[index];
                    Some(async move {
                        let t = Instant::now();
                        let server = pooled.then_some(lane);
                        let r = begin(env.as_ref(), inst, server, spec, parts).await;
                        (lane, index, r, t.elapsed())
                    })
                }),
        )
        .await;
        run.stats.env += t0.elapsed();
        let mut suspects = Vec::new();
        for (lane, index, r, took) in started {
            suspects.extend(self.started(run, policy, lane, index, r, took).await);
        }
        self.triage(run, suspects).await;
    }

    /// An episode's start on `lane` came back (after `took`): it is active there, or
    /// its plugin failure is recorded, or (the start failed in the environment) it is
    /// returned for [`Pool::triage`].
    pub(crate) async fn started(
        &mut self,
        run: &mut Run,
        policy: &dyn Policy,
        lane: usize,
        index: usize,
        r: Result<(EpisodeId, Observation), CallError>,
        took: Duration,
    ) -> Option<Suspect> {
        let spec = &run.specs[index];
        let stats = &mut run.stats;
        stats.resets += 1;
        stats.reset += took;
        stats.reset_max = stats.reset_max.max(took);
        match r {
            Ok((episode, obs)) => match check(&obs, self.env.as_ref(), policy) {
                Ok(()) => {
                    run.active[lane] = Some(Active {
                        index,
                        episode,
                        observation: obs,
                        transitions: Vec::new(),
                        anchors: Vec::new(),
                        rewards: Vec::new(),
                        rng: SplitMix::new(spec.sample_seed, 0),
                        budget: self
                            .env
                            .info()
                            .task(&spec.task)
                            .map_or(usize::MAX, |t| t.max_steps as usize),
                    });
                    None
                }
                Err(e) => {
                    if let Some(inst) = self.lanes[lane].as_mut() {
                        inst.close(episode).await;
                    }
                    stats.plugin_failures += 1;
                    run.results[index] = Some(failed(spec, Vec::new(), Vec::new(), e));
                    None
                }
            },
            Err(e) => Some(Suspect {
                lane,
                index,
                result: failed(spec, Vec::new(), Vec::new(), e.to_string()),
                ended: false,
            }),
        }
    }

    /// Phase 2, infer: one batched decision over the `waiting` lanes (each with an
    /// episode waiting for an action, in lane order), each lane drawing from its own
    /// sampling stream. Returns the decision per lane.
    pub(crate) fn infer(
        &self,
        run: &mut Run,
        policy: &mut dyn Policy,
        cfg: &RolloutConfig,
        waiting: &[usize],
    ) -> Vec<(usize, Decision)> {
        let t0 = Instant::now();
        let info = self.env.info();
        let mut rngs: Vec<SplitMix> = waiting
            .iter()
            .map(|l| run.active[*l].as_ref().expect("active").rng.clone())
            .collect();
        let decisions = {
            let views: Vec<View<'_>> = waiting
                .iter()
                .map(|l| {
                    let a = run.active[*l].as_ref().expect("active");
                    View {
                        instruction: info
                            .task(&run.specs[a.index].task)
                            .map_or("", |t| t.instruction.as_str()),
                        history: &a.transitions,
                        observation: &a.observation,
                    }
                })
                .collect();
            let mut streams: Vec<&mut SplitMix> = rngs.iter_mut().collect();
            policy.act(&views, cfg.sampling, &mut streams)
        };
        run.stats.inference += t0.elapsed();
        run.stats.batches += 1;
        for (lane, rng) in waiting.iter().zip(rngs) {
            run.active[*lane].as_mut().expect("active").rng = rng;
        }
        waiting.iter().copied().zip(decisions).collect()
    }

    /// Phase 3, step: every lane's action to its instance concurrently; record the
    /// transitions and return the lanes whose episodes ended, with how.
    async fn step(
        &mut self,
        run: &mut Run,
        policy: &dyn Policy,
        chosen: Vec<(usize, Decision)>,
    ) -> Vec<Ending> {
        let t0 = Instant::now();
        let mut by_lane: Vec<Option<Decision>> = (0..run.active.len()).map(|_| None).collect();
        for (lane, d) in chosen {
            by_lane[lane] = Some(d);
        }
        let stepped = join_all(
            self.lanes
                .iter_mut()
                .zip(run.active.iter())
                .zip(by_lane)
                .enumerate()
                .filter_map(|(lane, ((inst, a), d))| {
                    let (episode, d) = (a.as_ref()?.episode, d?);
                    let inst = inst.as_mut()?;
                    Some(async move {
                        let r = inst.step(episode, &d.action).await;
                        (lane, d, r)
                    })
                }),
        )
        .await;
        run.stats.env += t0.elapsed();
        stepped
            .into_iter()
            .filter_map(|(lane, d, r)| Some((lane, self.record(run, policy, lane, d, r)?)))
            .collect()
    }

    /// Record the step `lane` took with decision `d` (its result `r`); returns how the
    /// episode ended, if it did.
    pub(crate) fn record(
        &self,
        run: &mut Run,
        policy: &dyn Policy,
        lane: usize,
        d: Decision,
        r: Result<StepResult, CallError>,
    ) -> Option<Result<(bool, bool), String>> {
        let stats = &mut run.stats;
        stats.env_steps += 1;
        let a = run.active[lane].as_mut().expect("active");
        let observation = std::mem::take(&mut a.observation);
        a.anchors.push(anchor(&observation));
        a.transitions.push(Transition {
            observation,
            action: d.action,
            logp: d.logp,
            completion: d.completion,
            policy_version: run.version,
        });
        // A text action the environment rejects as invalid (a malformed generated
        // reply) ends the episode there, judged like any other: the policy's failure,
        // not the plugin's. It stays in the transitions (the learner sees it) but gets
        // no reward, and the checker is shown only the actions the environment took.
        if let Err(CallError::Guest {
            error: GuestError::InvalidAction(_),
            ..
        }) = &r
            && last_action_is_text(&a.transitions)
        {
            stats.invalid_actions += 1;
            return Some(Ok((false, true)));
        }
        let checked = r.map_err(|e| e.to_string()).and_then(|r| {
            check(&r.observation, self.env.as_ref(), policy)?;
            if !r.reward.is_finite() {
                return Err(format!(
                    "environment `{}` returned a step reward of {}, not a finite number",
                    self.env.name(),
                    r.reward
                ));
            }
            if let Some(p) = steprl_core::validate::info_problem(&r.info_json) {
                return Err(format!(
                    "environment `{}` returned a step whose {p}",
                    self.env.name()
                ));
            }
            Ok(r)
        });
        match checked {
            Ok(r) => {
                a.rewards.push(r.reward);
                a.observation = r.observation;
                // The host holds every episode to its task's max-steps: one the
                // environment does not end by then is truncated.
                if r.done || r.truncated {
                    Some(Ok((r.done, r.truncated)))
                } else if a.transitions.len() >= a.budget {
                    stats.host_truncated += 1;
                    Some(Ok((false, true)))
                } else {
                    None
                }
            }
            Err(e) => Some(Err(e)),
        }
    }

    /// Phase 4, finish: read the ended episodes' final states and close them, all at
    /// once (each may be requests to a server), then judge them in lane order.
    async fn finish(
        &mut self,
        run: &mut Run,
        checker: &mut dyn RewardChecker,
        ending: Vec<Ending>,
    ) {
        let t0 = Instant::now();
        let mut fss: Vec<Option<Option<Result<String, CallError>>>> =
            (0..run.active.len()).map(|_| None).collect();
        {
            let active = &run.active;
            let wound = join_all(
                self.lanes
                    .iter_mut()
                    .enumerate()
                    .filter_map(|(lane, inst)| {
                        let (_, end) = ending.iter().find(|(l, _)| *l == lane)?;
                        let episode = active[lane].as_ref()?.episode;
                        let inst = inst.as_mut()?;
                        Some(async move { (lane, wind_up(inst.as_mut(), episode, end).await) })
                    }),
            )
            .await;
            for (lane, fs) in wound {
                fss[lane] = Some(fs);
            }
        }
        run.stats.env += t0.elapsed();
        let mut suspects = Vec::new();
        for (lane, end) in ending {
            let fs = fss[lane].take().expect("every ended lane was wound up");
            suspects.extend(self.conclude(run, checker, lane, end, fs).await);
        }
        self.triage(run, suspects).await;
    }

    /// Judge the episode that ended on `lane` (how: `end`; its final state: `fs`, read
    /// by [`wind_up`]) and record its result; an episode that failed in the environment
    /// is returned for [`Pool::triage`] instead.
    pub(crate) async fn conclude(
        &mut self,
        run: &mut Run,
        checker: &mut dyn RewardChecker,
        lane: usize,
        end: Result<(bool, bool), String>,
        fs: Option<Result<String, CallError>>,
    ) -> Option<Suspect> {
        let a = run.active[lane].take().expect("active");
        let spec = &run.specs[a.index];
        let (done, truncated, fs) = match (end, fs) {
            (Ok((done, truncated)), Some(Ok(fs))) => (done, truncated, fs),
            (Ok((done, truncated)), Some(Err(e))) => {
                return Some(Suspect {
                    lane,
                    index: a.index,
                    result: EpisodeResult {
                        spec: spec.clone(),
                        transitions: a.transitions,
                        anchors: a.anchors,
                        done,
                        truncated,
                        outcome: Outcome::PluginFailure {
                            error: e.to_string(),
                        },
                    },
                    ended: true,
                });
            }
            (end, _) => {
                let e = end
                    .err()
                    .unwrap_or_else(|| "the final state was not read".into());
                return Some(Suspect {
                    lane,
                    index: a.index,
                    result: failed(spec, a.transitions, a.anchors, e),
                    ended: true,
                });
            }
        };
        let t0 = Instant::now();
        let outcome = judge(self.env.as_ref(), checker, spec, &a, (done, truncated), &fs).await;
        run.stats.check += t0.elapsed();
        match outcome {
            Outcome::PluginFailure { .. } => run.stats.plugin_failures += 1,
            Outcome::Judged { .. } => run.stats.trajectories += 1,
        }
        run.results[a.index] = Some(EpisodeResult {
            spec: spec.clone(),
            transitions: a.transitions,
            anchors: a.anchors,
            done,
            truncated,
            outcome,
        });
        steprl_core::failpoint::hit("rollout.episode");
        None
    }

    /// Episodes that failed in the environment. With a pool, each one's server is
    /// health-checked (all at once), then [`Pool::settle`] decides.
    async fn triage(&mut self, run: &mut Run, suspects: Vec<Suspect>) {
        if suspects.is_empty() {
            return;
        }
        let answers: Vec<(usize, Result<String, String>)> = if self.servers.pooled() {
            let env = &self.env;
            let lanes: Vec<usize> = suspects.iter().map(|s| s.lane).collect();
            join_all(
                self.lanes
                    .iter_mut()
                    .enumerate()
                    .filter(|(l, _)| lanes.contains(l))
                    .map(|(l, inst)| async move { (l, probe(env.as_ref(), inst, l).await) }),
            )
            .await
        } else {
            Vec::new()
        };
        self.settle(run, suspects, &answers);
    }

    /// Decide the episodes that failed in the environment, given their servers' health
    /// `answers` (none without a pool): a server that still answers makes the failure
    /// the episode's plugin failure (as without a pool); one that does not leaves the
    /// pool (one log line naming it), and its episode is lost and queued to run again
    /// on another server, or, lost [`MAX_LOSSES`] times, becomes a plugin failure.
    pub(crate) fn settle(
        &mut self,
        run: &mut Run,
        suspects: Vec<Suspect>,
        answers: &[(usize, Result<String, String>)],
    ) {
        for s in suspects {
            let answer = answers
                .iter()
                .find(|(l, _)| *l == s.lane)
                .map_or(Ok(()), |(_, a)| {
                    a.as_ref().map(|_| ()).map_err(Clone::clone)
                });
            let mut result = s.result;
            if let Err(why) = answer {
                self.servers.health[s.lane].answer = Err(why.clone());
                run.stats.lost += 1;
                run.losses[s.index] += 1;
                let server = &self.servers.health[s.lane].server;
                let (up, n) = (self.servers.count_up(), self.servers.health.len());
                let error = match &result.outcome {
                    Outcome::PluginFailure { error } => error.clone(),
                    Outcome::Judged { .. } => unreachable!("a suspect failed"),
                };
                if run.losses[s.index] < MAX_LOSSES {
                    tracing::warn!(
                        "server {server} left the pool: {why}; its episode of task {} (after: {error}) runs again on another server; {up} of {n} servers remain",
                        result.spec.task
                    );
                    run.queue.push_front(s.index);
                    continue;
                }
                tracing::warn!(
                    "server {server} left the pool: {why}; its episode of task {} was lost with {MAX_LOSSES} servers and counts as a plugin failure; {up} of {n} servers remain",
                    result.spec.task
                );
                result.outcome = Outcome::PluginFailure {
                    error: format!(
                        "lost with {MAX_LOSSES} servers that stopped answering (last: {server}: {why}; the episode: {error})"
                    ),
                };
            }
            run.stats.plugin_failures += 1;
            run.results[s.index] = Some(result);
            if s.ended {
                steprl_core::failpoint::hit("rollout.episode");
            }
        }
    }
}

/// An episode that failed in the environment, waiting for [`Pool::triage`].
pub(crate) struct Suspect {
    pub(crate) lane: usize,
    pub(crate) index: usize,
    /// Its result as a plugin failure.
    pub(crate) result: EpisodeResult,
    /// Whether it had started (a step or the final state failed), not its start.
    pub(crate) ended: bool,
}

/// The state of one [`Pool::run`]: the specs, what each lane runs, what has come back.
pub(crate) struct Run {
    /// Carried episodes' specs first, then carried unstarted specs, then the run's own.
    pub(crate) specs: Arc<[EpisodeSpec]>,
    pub(crate) parts: ObservationParts,
    /// The acting policy's version.
    pub(crate) version: u32,
    pub(crate) stats: RolloutStats,
    pub(crate) results: Vec<Option<EpisodeResult>>,
    /// One slot per lane.
    pub(crate) active: Vec<Option<Active>>,
    /// The specs still to start, in plan order (a lost episode goes back to the front).
    pub(crate) queue: VecDeque<usize>,
    /// Per spec: how often it was lost with its server.
    pub(crate) losses: Vec<u32>,
}

/// A lane whose episode ended at this step: `Ok((done, truncated))` to be judged, or
/// the plugin failure that ended it.
type Ending = (usize, Result<(bool, bool), String>);

/// The lane's instance, created (and told to serve `server`, in a pooled environment)
/// if it has none.
async fn lane_instance<'i>(
    env: &dyn Environment,
    inst: &'i mut Option<Box<dyn EnvInstance>>,
    server: Option<usize>,
) -> Result<&'i mut Box<dyn EnvInstance>, CallError> {
    if inst.is_none() {
        let mut created = env.instantiate().await?;
        if let Some(s) = server {
            created.serve(s as u32).await?;
        }
        *inst = Some(created);
    }
    Ok(inst.as_mut().expect("just created"))
}

/// Read an ended episode's final state (when it ended on the environment's or the
/// host's terms: `end` is `Ok`) and close it; `None` when it failed (only closed).
pub(crate) async fn wind_up(
    inst: &mut dyn EnvInstance,
    episode: EpisodeId,
    end: &Result<(bool, bool), String>,
) -> Option<Result<String, CallError>> {
    let fs = match end {
        Ok(_) => Some(inst.final_state(episode).await),
        Err(_) => None,
    };
    inst.close(episode).await;
    fs
}

/// Whether server `server` answers, asked through its lane's instance.
pub(crate) async fn probe(
    env: &dyn Environment,
    inst: &mut Option<Box<dyn EnvInstance>>,
    server: usize,
) -> Result<String, String> {
    match lane_instance(env, inst, Some(server)).await {
        Ok(inst) => inst.health(server as u32).await,
        Err(e) => Err(e.to_string()),
    }
}

/// Create the lane's instance if needed, start the episode and reset it.
pub(crate) async fn begin(
    env: &dyn Environment,
    inst: &mut Option<Box<dyn EnvInstance>>,
    server: Option<usize>,
    spec: &EpisodeSpec,
    parts: ObservationParts,
) -> Result<(EpisodeId, Observation), CallError> {
    let inst = lane_instance(env, inst, server).await?;
    let episode = inst.start(&spec.task, spec.seed, parts).await?;
    match inst.reset(episode).await {
        Ok(obs) => Ok((episode, obs)),
        Err(e) => {
            inst.close(episode).await;
            Err(e)
        }
    }
}

/// Whether an observation of environment `env` keeps to its declared spaces (tokens
/// inside the vocabulary and within max-tokens, finite features of the declared
/// length, the declared image size, an action mask that fits and allows an action)
/// and the policy can act on it.
fn check(obs: &Observation, env: &dyn Environment, policy: &dyn Policy) -> Result<(), String> {
    let problems = observation_problems(env.info(), obs);
    if !problems.is_empty() {
        return Err(format!(
            "environment `{}` returned an observation outside its declared spaces: {}",
            env.name(),
            problems.join("; ")
        ));
    }
    policy.check(obs)
}

/// Whether the last recorded action is a text action.
fn last_action_is_text(transitions: &[Transition]) -> bool {
    transitions
        .last()
        .is_some_and(|t| matches!(t.action, Action::Text(_)))
}

fn failed(
    spec: &EpisodeSpec,
    transitions: Vec<Transition>,
    anchors: Vec<u64>,
    error: String,
) -> EpisodeResult {
    EpisodeResult {
        spec: spec.clone(),
        transitions,
        anchors,
        done: false,
        truncated: false,
        outcome: Outcome::PluginFailure { error },
    }
}

/// The checker's verdict on an ended episode (with its done and truncated flags),
/// or the plugin failure that stands for a verdict outside the contract.
async fn judge(
    env: &dyn Environment,
    checker: &mut dyn RewardChecker,
    spec: &EpisodeSpec,
    episode: &Active,
    (done, truncated): (bool, bool),
    final_state: &str,
) -> Outcome {
    let (steps, rewards) = (&episode.transitions, &episode.rewards);
    if let Some(problem) = final_state_problem(final_state.len()) {
        return Outcome::PluginFailure {
            error: format!(
                "environment `{}`, task `{}`: {problem}",
                env.name(),
                spec.task
            ),
        };
    }
    let Some(task) = env.info().task(&spec.task) else {
        return Outcome::PluginFailure {
            error: format!("task `{}` is not offered by `{}`", spec.task, env.name()),
        };
    };
    let summary = TrajectorySummary {
        seed: spec.seed,
        // One reward per action the environment took: a rejected last action has none.
        actions: steps
            .iter()
            .take(rewards.len())
            .map(|s| s.action.clone())
            .collect(),
        rewards: rewards.to_vec(),
        done,
        truncated,
    };
    match checker.check(task, &summary, final_state).await {
        Ok(v) => {
            let problems = verdict_problems(&v);
            if problems.is_empty() {
                Outcome::Judged {
                    success: v.success,
                    score: v.score,
                    reason: capped_reason(v.reason),
                }
            } else {
                Outcome::PluginFailure {
                    error: format!(
                        "reward checker `{}` returned a verdict outside its contract: {}",
                        checker.name(),
                        problems.join("; ")
                    ),
                }
            }
        }
        Err(e) => Outcome::PluginFailure {
            error: e.to_string(),
        },
    }
}

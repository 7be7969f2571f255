//! The rollout pool over a native test environment: ordering, determinism, budget
//! accounting, batching, and plugin failures that end only their own episode.

use std::sync::Arc;

use async_trait::async_trait;
use steprl_core::{
    Action, ActionSpec, CallError, Decision, EnvInfo, EnvInstance, Environment, EpisodeId,
    GuestError, Observation, ObservationParts, ObservationSpec, Policy, RewardChecker, SplitMix,
    StepResult, TaskInfo, TrajectorySummary, Verdict, View, action_mask, sample_action,
};
use steprl_rollout::{
    EpisodeResult, EpisodeSpec, Outcome, Pool, RolloutConfig, RolloutStats, Sampling,
};

/// A corridor: start at 0, actions 0 = left, 1 = right, 2 = done; the task `goal-k`
/// succeeds when the agent says done at position k. Task `broken` fails on its first
/// step (a plugin error); `endless` never ends on its own; `bad-token` sends a token
/// outside the vocabulary after its first step; `nan-score` is judged with a NaN score.
struct Corridor;

struct CorridorInstance {
    episodes: Vec<Option<(String, i64, u32)>>,
}

fn task(id: &str) -> TaskInfo {
    TaskInfo {
        id: id.into(),
        suite: "test".into(),
        instruction: id.into(),
        max_steps: 6,
        difficulty: None,
        metadata_json: "{}".into(),
    }
}

fn obs(pos: i64) -> Observation {
    Observation {
        tokens: Some(vec![(pos + 10) as u32]),
        action_mask: Some(vec![pos > 0, true, true]),
        ..Default::default()
    }
}

#[async_trait]
impl Environment for Corridor {
    fn name(&self) -> &str {
        "corridor"
    }
    fn info(&self) -> &EnvInfo {
        static INFO: std::sync::OnceLock<EnvInfo> = std::sync::OnceLock::new();
        INFO.get_or_init(|| {
            EnvInfo::new(
                vec![
                    task("goal-1"),
                    task("goal-2"),
                    task("broken"),
                    task("endless"),
                    task("bad-token"),
                    task("nan-score"),
                    task("huge-state"),
                    task("long-reason"),
                ],
                ObservationSpec {
                    vocab_size: Some(32),
                    max_tokens: Some(1),
                    ..Default::default()
                },
                ActionSpec {
                    discrete: 3,
                    discrete_labels: vec![],
                    text: false,
                },
            )
        })
    }
    async fn instantiate(&self) -> Result<Box<dyn EnvInstance>, CallError> {
        Ok(Box::new(CorridorInstance { episodes: vec![] }))
    }
}

#[async_trait]
impl EnvInstance for CorridorInstance {
    async fn start(
        &mut self,
        task_id: &str,
        _seed: u64,
        _parts: ObservationParts,
    ) -> Result<EpisodeId, CallError> {
        self.episodes.push(Some((task_id.to_owned(), 0, 0)));
        Ok(EpisodeId(self.episodes.len() as u64 - 1))
    }
    async fn reset(&mut self, ep: EpisodeId) -> Result<Observation, CallError> {
        let e = self.episodes[ep.0 as usize].as_mut().unwrap();
        e.1 = 0;
        e.2 = 0;
        Ok(obs(0))
    }
    async fn step(&mut self, ep: EpisodeId, action: &Action) -> Result<StepResult, CallError> {
        let e = self.episodes[ep.0 as usize].as_mut().unwrap();
        e.2 += 1;
        if e.0 == "broken" && e.2 == 1 {
            return Err(CallError::Guest {
                plugin: "corridor".into(),
                call: "episode.step",
                error: GuestError::Internal("boom".into()),
            });
        }
        let done = match action {
            Action::Discrete(0) => {
                e.1 -= 1;
                false
            }
            Action::Discrete(1) => {
                e.1 += 1;
                false
            }
            _ => true,
        };
        let mut observation = obs(e.1);
        if e.0 == "bad-token" {
            observation.tokens = Some(vec![99]);
        }
        Ok(StepResult {
            observation,
            reward: 0.0,
            done: done && e.0 != "endless",
            truncated: !done && e.2 >= 6 && e.0 != "endless",
            info_json: String::new(),
        })
    }
    async fn final_state(&mut self, ep: EpisodeId) -> Result<String, CallError> {
        let e = self.episodes[ep.0 as usize].as_ref().unwrap();
        if e.0 == "huge-state" {
            return Ok("x".repeat(17 << 20));
        }
        Ok(format!("{}", e.1))
    }
    async fn close(&mut self, ep: EpisodeId) {
        self.episodes[ep.0 as usize] = None;
    }
}

struct GoalChecker;

#[async_trait]
impl RewardChecker for GoalChecker {
    fn name(&self) -> &str {
        "goal"
    }
    async fn check(
        &mut self,
        task: &TaskInfo,
        t: &TrajectorySummary,
        fs: &str,
    ) -> Result<Verdict, CallError> {
        let goal: i64 = task.id.trim_start_matches("goal-").parse().unwrap_or(-1);
        let success = t.done && fs.parse::<i64>() == Ok(goal);
        Ok(Verdict {
            success,
            score: if task.id == "nan-score" {
                f32::NAN
            } else {
                f32::from(u8::from(success))
            },
            reason: if task.id == "long-reason" {
                "why ".repeat(10_000)
            } else {
                String::new()
            },
            step_rewards: None,
        })
    }
}

/// Prefers "right" twice as much as the others; counts batch sizes.
#[derive(Default)]
struct Biased {
    batches: Vec<usize>,
}

impl Policy for Biased {
    fn parts(&self) -> ObservationParts {
        ObservationParts {
            tokens: true,
            ..ObservationParts::default()
        }
    }

    fn check(&self, observation: &Observation) -> Result<(), String> {
        observation
            .tokens
            .as_ref()
            .map(|_| ())
            .ok_or("no tokens".into())
    }

    fn act(
        &mut self,
        views: &[View<'_>],
        sampling: Sampling,
        rngs: &mut [&mut SplitMix],
    ) -> Vec<Decision> {
        self.batches.push(views.len());
        views
            .iter()
            .zip(rngs.iter_mut())
            .map(|(v, rng)| {
                let mask = action_mask(v.observation, 3);
                let w = [1.0f32, 2.0, 1.0];
                let total: f32 = w
                    .iter()
                    .zip(mask.iter())
                    .filter(|(_, m)| **m)
                    .map(|(w, _)| w)
                    .sum();
                let lp: Vec<f32> = w
                    .iter()
                    .zip(mask.iter())
                    .map(|(w, m)| {
                        if *m {
                            (w / total).ln()
                        } else {
                            f32::NEG_INFINITY
                        }
                    })
                    .collect();
                let a = sample_action(&lp, sampling == Sampling::Greedy, rng);
                Decision {
                    action: Action::Discrete(a),
                    logp: lp[a as usize],
                    completion: None,
                }
            })
            .collect()
    }
}

fn specs(tasks: &[&str]) -> Vec<EpisodeSpec> {
    tasks
        .iter()
        .enumerate()
        .map(|(i, t)| EpisodeSpec {
            task: (*t).into(),
            seed: i as u64,
            sample_seed: 100 + i as u64,
        })
        .collect()
}

/// Run `plan` on a fresh pool of corridors with `policy`, judged by the goal checker,
/// `concurrency` episodes at a time.
async fn run(
    plan: &[EpisodeSpec],
    policy: &mut Biased,
    concurrency: usize,
    sampling: Sampling,
) -> (Vec<EpisodeResult>, RolloutStats) {
    let cfg = RolloutConfig {
        concurrency,
        sampling,
    };
    Pool::new(Arc::new(Corridor))
        .run(plan, policy, &mut GoalChecker, &cfg)
        .await
}

#[tokio::test]
async fn results_come_back_in_plan_order_and_replay_exactly() {
    let plan = specs(&[
        "goal-1", "goal-2", "goal-1", "goal-2", "goal-1", "goal-2", "goal-1",
    ]);
    let (a, stats) = run(&plan, &mut Biased::default(), 3, Sampling::Sample).await;
    assert_eq!(a.len(), plan.len());
    for (r, s) in a.iter().zip(&plan) {
        assert_eq!(&r.spec, s);
        assert!(r.done || r.truncated);
        assert_eq!(r.transitions.len(), r.anchors.len());
        assert!(matches!(r.outcome, Outcome::Judged { .. }));
    }
    let steps: usize = a.iter().map(|r| r.transitions.len()).sum();
    assert_eq!(stats.env_steps, steps as u64);
    assert_eq!(stats.trajectories, 7);
    // Every episode's start and reset is timed once; the longest is one of them.
    assert_eq!(stats.resets, 7);
    assert!(stats.reset_max <= stats.reset);
    // Same plan, same seeds → same trajectories, whatever the concurrency.
    let (b, _) = run(&plan, &mut Biased::default(), 5, Sampling::Sample).await;
    assert_eq!(a, b);
}

#[tokio::test]
async fn inference_is_batched_over_waiting_lanes() {
    let plan = specs(&["goal-1"; 8]);
    let mut policy = Biased::default();
    run(&plan, &mut policy, 4, Sampling::Sample).await;
    assert_eq!(policy.batches[0], 4, "the first batch holds every lane");
    assert!(policy.batches.iter().all(|b| *b <= 4));
}

#[tokio::test]
async fn masked_actions_are_never_taken_and_logps_are_recorded() {
    let plan = specs(&["goal-2"; 6]);
    let (res, _) = run(&plan, &mut Biased::default(), 2, Sampling::Sample).await;
    for r in &res {
        for t in &r.transitions {
            let Action::Discrete(a) = t.action else {
                panic!("a text action")
            };
            let mask = t.observation.action_mask.as_ref().expect("corridor masks");
            assert!(mask[a as usize], "took a masked action");
            assert!(t.logp.is_finite() && t.logp <= 0.0);
        }
    }
}

#[tokio::test]
async fn greedy_policy_walks_right_until_truncated() {
    let plan = specs(&["goal-2"]);
    let (res, _) = run(&plan, &mut Biased::default(), 1, Sampling::Greedy).await;
    let acts: Vec<Action> = res[0]
        .transitions
        .iter()
        .map(|t| t.action.clone())
        .collect();
    assert_eq!(acts, vec![Action::Discrete(1); 6]);
    // The raw observations are recorded: positions 0..5 as tokens 10..15.
    let seen: Vec<u32> = res[0]
        .transitions
        .iter()
        .map(|t| t.observation.tokens.as_ref().unwrap()[0])
        .collect();
    assert_eq!(seen, vec![10, 11, 12, 13, 14, 15]);
    assert!(res[0].truncated && !res[0].success());
}

#[tokio::test]
async fn a_plugin_failure_ends_only_its_episode() {
    let plan = specs(&["goal-1", "broken", "goal-2", "broken", "goal-1"]);
    let (res, stats) = run(&plan, &mut Biased::default(), 2, Sampling::Sample).await;
    for (r, s) in res.iter().zip(&plan) {
        if s.task == "broken" {
            match &r.outcome {
                Outcome::PluginFailure { error } => assert!(error.contains("boom"), "{error}"),
                other => panic!("{other:?}"),
            }
        } else {
            assert!(
                matches!(r.outcome, Outcome::Judged { .. }),
                "{:?}",
                r.outcome
            );
        }
    }
    assert_eq!(stats.plugin_failures, 2);
    assert_eq!(stats.trajectories, 3);
}

/// Asks for text, which the corridor never sends.
struct WantsText;

impl Policy for WantsText {
    fn parts(&self) -> ObservationParts {
        ObservationParts {
            text: true,
            ..ObservationParts::default()
        }
    }

    fn check(&self, observation: &Observation) -> Result<(), String> {
        observation
            .text
            .as_ref()
            .map(|_| ())
            .ok_or("this policy reads text and the observation has none".into())
    }

    fn act(&mut self, _: &[View<'_>], _: Sampling, _: &mut [&mut SplitMix]) -> Vec<Decision> {
        unreachable!("never asked to act on an observation it refused")
    }
}

#[tokio::test]
async fn an_observation_the_policy_cannot_read_ends_the_episode_with_its_reason() {
    let plan = specs(&["goal-1", "goal-2"]);
    let cfg = RolloutConfig {
        concurrency: 2,
        sampling: Sampling::Sample,
    };
    let (res, stats) = Pool::new(Arc::new(Corridor))
        .run(&plan, &mut WantsText, &mut GoalChecker, &cfg)
        .await;
    assert_eq!(stats.plugin_failures, 2);
    for r in &res {
        match &r.outcome {
            Outcome::PluginFailure { error } => {
                assert!(error.contains("reads text"), "{error}")
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn progress_counts_finished_episodes_up_to_the_plan() {
    let plan = specs(&["goal-1", "broken", "goal-2", "goal-1", "goal-2"]);
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut pool = Pool::new(Arc::new(Corridor));
    let log = seen.clone();
    pool.on_progress(Box::new(move |done, total| {
        log.lock().unwrap().push((done, total))
    }));
    let cfg = RolloutConfig {
        concurrency: 2,
        sampling: Sampling::Sample,
    };
    pool.run(&plan, &mut Biased::default(), &mut GoalChecker, &cfg)
        .await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.last(), Some(&(5, 5)), "{seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "strictly increasing: {seen:?}"
    );
    assert!(seen.iter().all(|(_, t)| *t == 5));
}

#[tokio::test]
async fn the_host_truncates_an_episode_the_environment_never_ends_at_max_steps() {
    let plan = specs(&["endless", "goal-1"]);
    let (res, stats) = run(&plan, &mut Biased::default(), 2, Sampling::Sample).await;
    assert_eq!(res[0].transitions.len(), 6, "max-steps of the task");
    assert!(res[0].truncated && !res[0].done);
    assert!(
        matches!(res[0].outcome, Outcome::Judged { .. }),
        "{:?}",
        res[0].outcome
    );
    assert_eq!(stats.host_truncated, 1, "the corridor ends goal-1 itself");
}

#[tokio::test]
async fn observations_and_verdicts_outside_the_contract_are_plugin_failures() {
    let plan = specs(&[
        "bad-token",
        "nan-score",
        "goal-1",
        "huge-state",
        "long-reason",
    ]);
    let (res, stats) = run(&plan, &mut Biased::default(), 3, Sampling::Greedy).await;
    let error = |r: &EpisodeResult| match &r.outcome {
        Outcome::PluginFailure { error } => error.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        error(&res[0]),
        "environment `corridor` returned an observation outside its declared spaces: token 0 is id 99, outside the vocabulary of 32"
    );
    assert_eq!(
        error(&res[1]),
        "reward checker `goal` returned a verdict outside its contract: score NaN is not a number in [0, 1]"
    );
    assert!(matches!(res[2].outcome, Outcome::Judged { .. }));
    // A final state over the cap is not judged (nor kept); a long reason is cut.
    assert_eq!(
        error(&res[3]),
        "environment `corridor`, task `huge-state`: its final state is 17.0 MiB, above the 16 MiB the host accepts"
    );
    let Outcome::Judged { reason, .. } = &res[4].outcome else {
        panic!("{:?}", res[4].outcome);
    };
    assert!(
        reason.ends_with("(35904 more characters cut)"),
        "{}",
        reason.len()
    );
    assert_eq!(stats.plugin_failures, 3);
}

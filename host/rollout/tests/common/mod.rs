//! The test environment, checker and policy the rollout tests share: a corridor whose
//! tasks succeed at a goal position or fail on purpose, a goal checker, and a policy
//! that prefers "right".

#![allow(dead_code)]

use async_trait::async_trait;
use steprl_core::{
    Action, ActionSpec, CallError, Decision, EnvInfo, EnvInstance, Environment, EpisodeId,
    GuestError, Observation, ObservationParts, ObservationSpec, Policy, RewardChecker, SplitMix,
    StepResult, TaskInfo, TrajectorySummary, Verdict, View, action_mask, sample_action,
};
use steprl_rollout::{EpisodeSpec, Sampling};

/// A corridor: start at 0, actions 0 = left, 1 = right, 2 = done; the task `goal-k`
/// succeeds when the agent says done at position k. Task `broken` fails on its first
/// step (a plugin error); `endless` never ends on its own; `bad-token` sends a token
/// outside the vocabulary after its first step; `nan-score` is judged with a NaN score.
pub struct Corridor;

pub struct CorridorInstance {
    pub episodes: Vec<Option<(String, i64, u32)>>,
}

pub fn task(id: &str) -> TaskInfo {
    TaskInfo {
        id: id.into(),
        suite: "test".into(),
        instruction: id.into(),
        max_steps: 6,
        difficulty: None,
        metadata_json: "{}".into(),
    }
}

pub fn obs(pos: i64) -> Observation {
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

pub struct GoalChecker;

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
pub struct Biased {
    pub batches: Vec<usize>,
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

pub fn specs(tasks: &[&str]) -> Vec<EpisodeSpec> {
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

//! A property test of the host side of the plugin boundary: an environment and a reward
//! checker that answer every call with seeded-random hostile values (tokens past the
//! vocabulary, thousands of tokens, NaN and infinite features, rewards and scores, step
//! info that is not a JSON object, images of the wrong size, masks of the wrong length or
//! allowing nothing, errors and traps at any call, huge or non-JSON final states, endless
//! episodes, megabyte reasons).
//! Thousands of episodes must end without a panic, each judged within the contract or
//! lost as a plugin failure with a message; nothing outside the contract reaches a
//! policy or a verdict.

use std::sync::Arc;

use async_trait::async_trait;
use steprl_core::validate::{MAX_REASON_CHARS, observation_problems};
use steprl_core::{
    Action, ActionSpec, CallError, Decision, EnvInfo, EnvInstance, Environment, EpisodeId,
    GuestError, Image, ImageShape, Observation, ObservationParts, ObservationSpec, Policy,
    RewardChecker, Sampling, SplitMix, StepResult, TaskInfo, TrajectorySummary, TrapKind, Verdict,
    View, action_mask, sample_action,
};
use steprl_rollout::{EpisodeSpec, Outcome, Pool, RolloutConfig};

const ACTIONS: u32 = 4;
const VOCAB: u32 = 16;

fn info() -> EnvInfo {
    EnvInfo::new(
        (0..8)
            .map(|i| TaskInfo {
                id: format!("chaos-{i}"),
                suite: "chaos".into(),
                instruction: "survive".into(),
                max_steps: 12,
                difficulty: None,
                metadata_json: "{}".into(),
            })
            .collect(),
        ObservationSpec {
            text: true,
            vocab_size: Some(VOCAB),
            vocab: vec![],
            max_tokens: Some(8),
            feature_dim: Some(3),
            image: Some(ImageShape {
                width: 2,
                height: 2,
                channels: 1,
            }),
        },
        ActionSpec {
            discrete: ACTIONS,
            discrete_labels: vec![],
            text: false,
        },
    )
}

/// Mostly well-formed values, each part broken with some probability.
fn hostile_observation(r: &mut SplitMix) -> Observation {
    let mut o = Observation {
        text: Some("screen".into()),
        tokens: Some(
            (0..r.range(1, 9))
                .map(|_| r.below(VOCAB as usize) as u32)
                .collect(),
        ),
        features: Some(vec![0.5; 3]),
        image: Some(Image {
            width: 2,
            height: 2,
            channels: 1,
            data: vec![7; 4],
        }),
        action_mask: Some((0..ACTIONS).map(|_| true).collect()),
    };
    match r.below(80) {
        0 => o.tokens = Some(vec![u32::MAX]),
        1 => o.tokens = Some(vec![VOCAB]),
        2 => o.tokens = Some(vec![1; r.range(9, 5000)]),
        3 => o.features = Some(vec![f32::NAN, 0.0, 1.0]),
        4 => o.features = Some(vec![f32::INFINITY; 3]),
        5 => o.features = Some(vec![0.0; r.range(0, 100)]),
        6 => {
            o.image = Some(Image {
                width: u32::MAX,
                height: u32::MAX,
                channels: 255,
                data: vec![0; r.below(64)],
            })
        }
        7 => o.action_mask = Some(vec![false; ACTIONS as usize]),
        8 => o.action_mask = Some(vec![true; r.below(40)]),
        9 => o.tokens = None,
        _ => {}
    }
    o
}

fn failure(r: &mut SplitMix, call: &'static str) -> CallError {
    if r.coin() {
        CallError::Guest {
            plugin: "chaos".into(),
            call,
            error: GuestError::Internal("chaos".into()),
        }
    } else {
        CallError::Trap {
            plugin: "chaos".into(),
            call,
            kind: TrapKind::Guest("wasm `unreachable` instruction executed".into()),
        }
    }
}

struct Chaos {
    info: EnvInfo,
}

#[async_trait]
impl Environment for Chaos {
    fn name(&self) -> &str {
        "chaos"
    }
    fn info(&self) -> &EnvInfo {
        &self.info
    }
    async fn instantiate(&self) -> Result<Box<dyn EnvInstance>, CallError> {
        Ok(Box::new(ChaosInstance { eps: Vec::new() }))
    }
}

struct ChaosInstance {
    eps: Vec<SplitMix>,
}

impl ChaosInstance {
    fn rng(&mut self, ep: EpisodeId) -> &mut SplitMix {
        &mut self.eps[ep.0 as usize]
    }
}

#[async_trait]
impl EnvInstance for ChaosInstance {
    async fn start(
        &mut self,
        _task: &str,
        seed: u64,
        _parts: ObservationParts,
    ) -> Result<EpisodeId, CallError> {
        let mut r = SplitMix::new(seed, 7);
        if r.below(40) == 0 {
            return Err(failure(&mut r, "start"));
        }
        self.eps.push(r);
        Ok(EpisodeId(self.eps.len() as u64 - 1))
    }
    async fn reset(&mut self, ep: EpisodeId) -> Result<Observation, CallError> {
        let r = self.rng(ep);
        if r.below(40) == 0 {
            return Err(failure(r, "episode.reset"));
        }
        Ok(hostile_observation(r))
    }
    async fn step(&mut self, ep: EpisodeId, _action: &Action) -> Result<StepResult, CallError> {
        let r = self.rng(ep);
        if r.below(60) == 0 {
            return Err(failure(r, "episode.step"));
        }
        let reward = match r.below(80) {
            0 => f32::NAN,
            1 => f32::NEG_INFINITY,
            _ => 0.0,
        };
        Ok(StepResult {
            observation: hostile_observation(r),
            reward,
            // Some episodes never end on their own: the host's max-steps must.
            done: r.below(8) == 0,
            truncated: r.below(30) == 0,
            info_json: match r.below(40) {
                0 => "{not json".into(),
                1 => "[]".into(),
                2 => String::new(),
                _ => "{}".into(),
            },
        })
    }
    async fn final_state(&mut self, ep: EpisodeId) -> Result<String, CallError> {
        let r = self.rng(ep);
        match r.below(60) {
            0 | 1 => Err(failure(r, "episode.final-state")),
            2 => Ok("x".repeat(17 << 20)),
            3..=5 => Ok("not json at all".into()),
            _ => Ok("{}".into()),
        }
    }
    async fn close(&mut self, _ep: EpisodeId) {}
}

struct ChaosChecker;

#[async_trait]
impl RewardChecker for ChaosChecker {
    fn name(&self) -> &str {
        "chaos-checker"
    }
    async fn check(
        &mut self,
        _task: &TaskInfo,
        t: &TrajectorySummary,
        fs: &str,
    ) -> Result<Verdict, CallError> {
        let mut r = SplitMix::new(t.seed ^ fs.len() as u64, 11);
        if r.below(25) == 0 {
            return Err(failure(&mut r, "check"));
        }
        let score = match r.below(10) {
            0 => f32::NAN,
            1 => 2.0,
            2 => f32::INFINITY,
            3 => -0.5,
            _ => r.unit() as f32,
        };
        Ok(Verdict {
            success: r.coin(),
            score,
            reason: if r.below(10) == 0 {
                "é".repeat(300_000)
            } else {
                "ok".into()
            },
            step_rewards: (r.below(5) == 0).then(|| vec![f32::NAN; t.actions.len()]),
        })
    }
}

/// Uniform over the allowed actions; refuses nothing, so everything it is shown must
/// already be within the contract (checked by the test after the run).
struct Uniform {
    info: EnvInfo,
    seen_bad: Vec<String>,
}

impl Policy for Uniform {
    fn parts(&self) -> ObservationParts {
        ObservationParts::ALL
    }
    fn check(&self, _observation: &Observation) -> Result<(), String> {
        Ok(())
    }
    fn act(
        &mut self,
        views: &[View<'_>],
        sampling: Sampling,
        rngs: &mut [&mut SplitMix],
    ) -> Vec<Decision> {
        views
            .iter()
            .zip(rngs.iter_mut())
            .map(|(v, rng)| {
                let problems = observation_problems(&self.info, v.observation);
                if !problems.is_empty() {
                    self.seen_bad.push(problems.join("; "));
                }
                let mask = action_mask(v.observation, ACTIONS as usize);
                let n = mask.iter().filter(|m| **m).count().max(1) as f32;
                let lp: Vec<f32> = mask
                    .iter()
                    .map(|&m| if m { -n.ln() } else { f32::NEG_INFINITY })
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

#[tokio::test]
async fn hostile_answers_to_every_call_never_panic_the_host_nor_pass_the_contract() {
    let env = Arc::new(Chaos { info: info() });
    let mut policy = Uniform {
        info: info(),
        seen_bad: Vec::new(),
    };
    let (mut judged, mut lost) = (0, 0);
    for round in 0..6u64 {
        let plan: Vec<EpisodeSpec> = (0..400u64)
            .map(|i| EpisodeSpec {
                task: format!("chaos-{}", i % 8),
                seed: SplitMix::mix(&[round, i, 1]),
                sample_seed: SplitMix::mix(&[round, i, 2]),
            })
            .collect();
        let cfg = RolloutConfig {
            concurrency: 16,
            sampling: Sampling::Sample,
            policy_version: 0,
            deadline: None,
            partial: false,
            stepping: steprl_rollout::Stepping::Lockstep,
        };
        let (results, stats) = Pool::new(env.clone())
            .run(&plan, &mut policy, &mut ChaosChecker, &cfg)
            .await
            .expect("rollout");
        assert_eq!(results.len(), plan.len());
        for r in &results {
            // The host ends every episode by max-steps at the latest.
            assert!(r.transitions.len() <= 12, "{} steps", r.transitions.len());
            match &r.outcome {
                Outcome::Judged { score, reason, .. } => {
                    judged += 1;
                    assert!(score.is_finite() && (0.0..=1.0).contains(score), "{score}");
                    assert!(reason.chars().count() <= MAX_REASON_CHARS + 64);
                }
                Outcome::PluginFailure { error } => {
                    lost += 1;
                    assert!(
                        error.contains("chaos"),
                        "a failure names the plugin: {error}"
                    );
                }
            }
        }
        assert_eq!(
            stats.trajectories + stats.plugin_failures,
            plan.len() as u64
        );
    }
    assert!(
        policy.seen_bad.is_empty(),
        "the policy was shown observations outside the contract: {:?}",
        &policy.seen_bad[..policy.seen_bad.len().min(3)]
    );
    // Both ends were exercised.
    assert!(judged > 100 && lost > 100, "judged {judged}, lost {lost}");
}

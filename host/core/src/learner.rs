//! The learner as the trainer sees it: a [`Policy`] that also turns recorded episodes
//! into its own training samples, samples augmentation candidates at recorded states,
//! updates on samples, and saves itself. The trainer holds one behind this trait and
//! never sees the network or the tensor library.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::policy::{Policy, Transition, sample_action};
use crate::rng::SplitMix;

/// One training sample, in the network's own input encoding.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepSample {
    /// Policy input (token ids in the network's input space).
    pub context: Vec<u32>,
    /// Valid-action mask (empty for a generated text action).
    pub mask: Vec<bool>,
    /// The discrete action to reinforce or discourage (0 for a generated text action).
    pub action: u32,
    /// Its log-probability under the policy that produced the data (a text action's:
    /// the sum over its tokens).
    pub old_logp: f32,
    /// Advantage.
    pub advantage: f32,
    /// Sample weight (1 for rollout samples, λ_aug for augmentation).
    pub weight: f32,
    /// A generated text action's tokens, continuing `context` (empty for discrete).
    pub completion: Vec<u32>,
    /// log π_old of each token of `completion` (empty when the tokens were not sampled
    /// by the policy, as for demonstrations, which only behaviour cloning reads).
    pub token_logps: Vec<f32>,
    /// The policy version that produced the sample's action: the number of updates
    /// the acting policy had taken (the trainer sets it; 0 until then).
    pub policy_version: u32,
}

impl StepSample {
    /// Whether `other` took the same action (same discrete index and same tokens).
    pub fn same_action(&self, other: &StepSample) -> bool {
        self.action == other.action && self.completion == other.completion
    }
}

/// A recorded state of a trajectory: the state before step `t` of `steps`.
#[derive(Debug, Clone, Copy)]
pub struct State<'a> {
    /// The task's instruction.
    pub instruction: &'a str,
    /// The whole trajectory.
    pub steps: &'a [Transition],
    /// Which step's state.
    pub t: usize,
}

/// `G` candidate actions drawn from the current policy at one recorded state.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidates {
    /// The state as a sample whose action is the recorded one (advantage 0, weight 1).
    pub recorded: StepSample,
    /// The candidates in draw order, each the recorded sample with its own action and
    /// log-probability under the current policy (advantage 0, weight 1).
    pub draws: Vec<StepSample>,
}

impl Candidates {
    /// `group` discrete actions drawn from `logp` (the current policy at the state of
    /// `recorded`) with a stream seeded by `seed`, with their log-probabilities.
    pub fn draw(recorded: StepSample, logp: &[f32], group: u32, seed: u64) -> Candidates {
        let mut rng = SplitMix::new(seed, 0);
        let draws = (0..group)
            .map(|_| {
                let a = sample_action(logp, false, &mut rng);
                StepSample {
                    action: a,
                    old_logp: logp[a as usize],
                    ..recorded.clone()
                }
            })
            .collect();
        Candidates { recorded, draws }
    }

    /// Whether each draw took the recorded action.
    pub fn matches(&self) -> Vec<bool> {
        self.draws
            .iter()
            .map(|d| d.same_action(&self.recorded))
            .collect()
    }
}

/// What one update did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateStats {
    /// Samples in the round (the round's metrics count rollout and augmentation samples
    /// separately, so this is not serialized).
    #[serde(skip)]
    pub samples: usize,
    /// Gradient steps taken.
    pub gradient_steps: u32,
    /// Mean policy loss.
    pub policy_loss: f32,
    /// Mean entropy.
    pub entropy: f32,
    /// Mean approximate KL to the data-collecting policy.
    pub approx_kl: f32,
    /// Mean clip fraction.
    pub clip_frac: f32,
    /// Mean k3 KL to the reference.
    pub kl_ref: f32,
    /// Mean gradient norm before clipping.
    pub grad_norm: f32,
}

/// A learner's files could not be written.
#[derive(Debug, thiserror::Error)]
#[error("checkpoint file {path}: {message}")]
pub struct SaveError {
    /// The file.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

/// A trainable policy.
pub trait Learner: Policy {
    /// Number of parameters.
    fn num_params(&self) -> usize;

    /// The training samples of one trajectory, one per step, with per-step
    /// advantages `adv` (the inputs built exactly as the policy saw them when acting).
    fn samples(&self, instruction: &str, steps: &[Transition], adv: &[f32]) -> Vec<StepSample>;

    /// At each state, `group` candidate actions sampled from the current policy, the
    /// i-th state's draws from a stream seeded with `seeds[i]`.
    fn candidates(&mut self, states: &[State<'_>], group: u32, seeds: &[u64]) -> Vec<Candidates>;

    /// Behaviour cloning: `epochs` passes of shuffled minibatches minimizing
    /// −log π(action | input) over `samples` (their advantages and old log-probs are not
    /// read), with an Adam of its own at learning rate `lr`; `seed` orders the
    /// minibatches. Returns the mean loss of the first and of the last epoch.
    fn imitate(&mut self, samples: &[StepSample], epochs: u32, lr: f64, seed: u64) -> (f32, f32);

    /// Update on a round's samples; `seed` orders the minibatches.
    fn update(&mut self, samples: &[StepSample], seed: u64) -> UpdateStats;

    /// Write the learner's files (weights, reference, optimizer state) into `dir`.
    fn save(&self, dir: &Path) -> Result<(), SaveError>;

    /// A frozen copy of the current policy that acts exactly as this learner does now
    /// and goes on doing so while the learner updates (asynchronous rollouts).
    fn snapshot(&self) -> Box<dyn Policy>;
}

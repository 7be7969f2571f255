//! The policy as the rollout sees it: it names the observation parts it reads, and
//! turns each waiting episode's view (instruction, past steps, current observation)
//! into an action with its behaviour log-probability. Which network sits behind it —
//! an MLP over token ids, a language model over text — the rollout does not know.

use serde::{Deserialize, Serialize};

use crate::rng::SplitMix;
use crate::types::{Action, Observation, ObservationParts};

/// How actions are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sampling {
    /// Sample from the policy (training).
    Sample,
    /// Take the most likely action (evaluation).
    Greedy,
}

/// The tokens a generating policy emitted for a text action, each with its
/// log-probability under the policy that emitted it (so the update can form per-token
/// ratios without re-tokenizing the text).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Completion {
    /// Token ids, in order (an end-of-turn token included when one ended the reply).
    pub tokens: Vec<u32>,
    /// log π_old of each token.
    pub logps: Vec<f32>,
}

/// One decision of an episode, as recorded: the raw observation the policy saw, the
/// action it took, and log π_old(action | view) at the time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The observation (the parts the policy asked for, and the action mask).
    pub observation: Observation,
    /// The action taken.
    pub action: Action,
    /// Its log-probability under the policy that took it.
    pub logp: f32,
    /// For a generated text action, the tokens behind it (`None` for discrete actions
    /// and for actions the policy did not generate, such as demonstrations).
    pub completion: Option<Completion>,
    /// The version of the policy that took it (its updates so far); the steps of an
    /// episode carried across rounds (partial rollouts) have more than one.
    #[serde(default)]
    pub policy_version: u32,
}

/// What a policy sees of one episode waiting for an action.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The task's instruction.
    pub instruction: &'a str,
    /// The episode's steps so far.
    pub history: &'a [Transition],
    /// The observation to act on.
    pub observation: &'a Observation,
}

/// An action and its log-probability under the acting policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The action.
    pub action: Action,
    /// log π(action | view); for a sequence, the sum over its tokens.
    pub logp: f32,
    /// For a generated text action, its tokens and their log-probabilities.
    pub completion: Option<Completion>,
}

/// A policy the rollout can drive.
pub trait Policy: Send {
    /// The observation parts it reads; the rollout asks environments for these.
    fn parts(&self) -> ObservationParts;

    /// Why it cannot act on `observation`, if it cannot (e.g. a token policy given an
    /// observation without tokens). The rollout ends that episode as a plugin failure.
    fn check(&self, observation: &Observation) -> Result<(), String>;

    /// One decision per view, in order: sampled with the matching stream of `rngs`
    /// (one per view), or the most likely action under [`Sampling::Greedy`]. Views are
    /// batched across episodes, so implementations run one forward pass for all.
    fn act(
        &mut self,
        views: &[View<'_>],
        sampling: Sampling,
        rngs: &mut [&mut SplitMix],
    ) -> Vec<Decision>;
}

/// The valid-action mask of an observation over `n` discrete actions (all valid when
/// the environment sends none).
pub fn action_mask(observation: &Observation, n: usize) -> Vec<bool> {
    observation
        .action_mask
        .clone()
        .unwrap_or_else(|| vec![true; n])
}

/// Sample from `logp` (masked entries are −∞) with `rng`, or take the argmax when
/// `greedy`. Ties in greedy mode go to the lowest index.
pub fn sample_action(logp: &[f32], greedy: bool, rng: &mut SplitMix) -> u32 {
    if greedy {
        let mut best = 0;
        for (i, l) in logp.iter().enumerate() {
            if *l > logp[best] {
                best = i;
            }
        }
        return best as u32;
    }
    let max = logp.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let w: Vec<f64> = logp.iter().map(|l| f64::from(l - max).exp()).collect();
    rng.weighted(&w) as u32
}

/// One decision per view among `n` discrete actions: each view's encoded input
/// (`inputs`, in view order) with its action mask, scored in one batch by `score`
/// (log-probabilities per action), then sampled or taken greedily as
/// [`discrete_decisions`] does.
pub fn decide_among(
    n: usize,
    inputs: Vec<Vec<u32>>,
    views: &[View<'_>],
    sampling: Sampling,
    rngs: &mut [&mut SplitMix],
    score: impl FnOnce(&[(&[u32], &[bool])]) -> Vec<Vec<f32>>,
) -> Vec<Decision> {
    let masks: Vec<Vec<bool>> = views
        .iter()
        .map(|v| action_mask(v.observation, n))
        .collect();
    let pairs: Vec<(&[u32], &[bool])> = inputs
        .iter()
        .zip(&masks)
        .map(|(c, m)| (c.as_slice(), m.as_slice()))
        .collect();
    discrete_decisions(&score(&pairs), sampling, rngs)
}

/// Decisions from per-view log-probabilities over discrete actions: each sampled with
/// its view's stream, or the most likely under [`Sampling::Greedy`].
pub fn discrete_decisions(
    logps: &[Vec<f32>],
    sampling: Sampling,
    rngs: &mut [&mut SplitMix],
) -> Vec<Decision> {
    logps
        .iter()
        .zip(rngs.iter_mut())
        .map(|(lp, rng)| {
            let a = sample_action(lp, sampling == Sampling::Greedy, rng);
            Decision {
                action: Action::Discrete(a),
                logp: lp[a as usize],
                completion: None,
            }
        })
        .collect()
}

/// A key identifying an observation, so GiGPO can group steps at the same state: the
/// FNV-1a hash of its tokens when it has tokens, else of its text, else of its
/// features, else of its image bytes. Equal observations share a key.
pub fn anchor(observation: &Observation) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    };
    if let Some(tokens) = &observation.tokens {
        for t in tokens {
            eat(&t.to_le_bytes());
        }
    } else if let Some(text) = &observation.text {
        eat(text.as_bytes());
    } else if let Some(features) = &observation.features {
        for f in features {
            eat(&f.to_le_bytes());
        }
    } else if let Some(image) = &observation.image {
        eat(&image.data);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_actions_are_never_sampled() {
        let mut rng = SplitMix::new(1, 0);
        let logp = [
            f32::NEG_INFINITY,
            (0.5f32).ln(),
            (0.5f32).ln(),
            f32::NEG_INFINITY,
        ];
        for _ in 0..1000 {
            let a = sample_action(&logp, false, &mut rng);
            assert!(a == 1 || a == 2);
        }
    }

    #[test]
    fn sampling_follows_the_probabilities_and_greedy_takes_the_mode() {
        let mut rng = SplitMix::new(2, 0);
        let logp = [(0.2f32).ln(), (0.8f32).ln()];
        let n = 20_000;
        let ones = (0..n)
            .filter(|_| sample_action(&logp, false, &mut rng) == 1)
            .count();
        assert!((ones as f64 / f64::from(n) - 0.8).abs() < 0.02);
        assert_eq!(sample_action(&logp, true, &mut rng), 1);
        assert_eq!(sample_action(&[0.0, 0.0], true, &mut rng), 0);
    }

    fn tokens(t: &[u32]) -> Observation {
        Observation {
            tokens: Some(t.to_vec()),
            ..Default::default()
        }
    }

    #[test]
    fn anchors_separate_observations() {
        assert_eq!(anchor(&tokens(&[1, 2, 3])), anchor(&tokens(&[1, 2, 3])));
        assert_ne!(anchor(&tokens(&[1, 2, 3])), anchor(&tokens(&[1, 3, 2])));
        let text = |s: &str| Observation {
            text: Some(s.into()),
            ..Default::default()
        };
        assert_eq!(anchor(&text("a b")), anchor(&text("a b")));
        assert_ne!(anchor(&text("a b")), anchor(&text("a c")));
    }

    #[test]
    fn a_missing_mask_allows_every_action() {
        assert_eq!(action_mask(&Observation::default(), 3), vec![true; 3]);
        let o = Observation {
            action_mask: Some(vec![false, true]),
            ..Default::default()
        };
        assert_eq!(action_mask(&o, 2), vec![false, true]);
    }
}

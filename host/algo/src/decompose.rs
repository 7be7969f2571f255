//! Trajectory decomposition: step t of a trajectory becomes one sample
//! (context_t, action_t, old log-prob_t, A). context_t is the observation at t plus a
//! window of the last H (action, observation) pairs — `[obs_t, a_{t−1}, obs_{t−1}, …]`
//! — with padding before the start. H = 0 by default.

/// One decision of a rollout, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// Observation tokens the policy saw.
    pub tokens: Vec<u32>,
    /// Valid-action mask the policy saw.
    pub mask: Vec<bool>,
    /// Action taken.
    pub action: u32,
    /// log π_old(action | context) when it was taken.
    pub logp: f32,
}

/// One training sample.
#[derive(Debug, Clone, PartialEq)]
pub struct StepSample {
    /// Policy input tokens (see [`Context`]).
    pub context: Vec<u32>,
    /// Valid-action mask.
    pub mask: Vec<bool>,
    /// The action to reinforce or discourage.
    pub action: u32,
    /// Its log-probability under the policy that produced the data.
    pub old_logp: f32,
    /// Advantage.
    pub advantage: f32,
    /// Sample weight (1 for rollout samples, λ_aug for augmentation).
    pub weight: f32,
}

/// How contexts are laid out. Policy inputs use a token space of
/// `vocab + actions + 1`: observation tokens as they are, action a as `vocab + a`, and
/// `vocab + actions` for "no action" before the episode start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    /// History window H.
    pub history: usize,
    /// Observation tokens per step (observations are padded/cut to this length).
    pub obs_len: usize,
    /// The environment's vocabulary size.
    pub vocab: u32,
    /// Number of discrete actions.
    pub actions: u32,
    /// Padding token id (uisim: 0).
    pub pad: u32,
}

impl Context {
    /// Token space size of policy inputs.
    pub fn input_vocab(&self) -> u32 {
        self.vocab + self.actions + 1
    }

    /// Length of every context.
    pub fn len(&self) -> usize {
        (self.history + 1) * self.obs_len + self.history
    }

    /// Whether contexts are empty (never, for a real environment).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push_obs(&self, out: &mut Vec<u32>, tokens: Option<&[u32]>) {
        let start = out.len();
        if let Some(t) = tokens {
            out.extend(t.iter().take(self.obs_len));
        }
        out.resize(start + self.obs_len, self.pad);
    }

    /// The context at step t of a trajectory whose observations so far are
    /// `observations[..=t]` and actions `actions[..t]`.
    pub fn at(&self, observations: &[&[u32]], actions: &[u32], t: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.len());
        self.push_obs(&mut out, Some(observations[t]));
        for k in 1..=self.history {
            if k <= t {
                out.push(self.vocab + actions[t - k]);
                self.push_obs(&mut out, Some(observations[t - k]));
            } else {
                out.push(self.vocab + self.actions);
                self.push_obs(&mut out, None);
            }
        }
        out
    }
}

/// The step samples of one trajectory with per-step advantages `adv`.
pub fn decompose(ctx: &Context, steps: &[Transition], adv: &[f32]) -> Vec<StepSample> {
    let obs: Vec<&[u32]> = steps.iter().map(|s| s.tokens.as_slice()).collect();
    let acts: Vec<u32> = steps.iter().map(|s| s.action).collect();
    steps
        .iter()
        .zip(adv)
        .enumerate()
        .map(|(t, (s, a))| StepSample {
            context: ctx.at(&obs, &acts, t),
            mask: s.mask.clone(),
            action: s.action,
            old_logp: s.logp,
            advantage: *a,
            weight: 1.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(tokens: &[u32], action: u32) -> Transition {
        Transition {
            tokens: tokens.to_vec(),
            mask: vec![true; 3],
            action,
            logp: -0.5,
        }
    }

    #[test]
    fn without_history_the_context_is_the_observation() {
        let ctx = Context {
            history: 0,
            obs_len: 3,
            vocab: 10,
            actions: 3,
            pad: 0,
        };
        let steps = [tr(&[1, 2, 3], 0), tr(&[4, 5], 2)];
        let s = decompose(&ctx, &steps, &[0.5, 0.5]);
        assert_eq!(s[0].context, vec![1, 2, 3]);
        assert_eq!(s[1].context, vec![4, 5, 0], "short observations are padded");
        assert_eq!(
            (s[1].action, s[1].old_logp, s[1].advantage, s[1].weight),
            (2, -0.5, 0.5, 1.0)
        );
        assert_eq!(ctx.input_vocab(), 14);
    }

    #[test]
    fn history_appends_previous_actions_and_observations_with_padding() {
        let ctx = Context {
            history: 2,
            obs_len: 2,
            vocab: 10,
            actions: 3,
            pad: 0,
        };
        let steps = [tr(&[1, 1], 0), tr(&[2, 2], 1), tr(&[3, 3], 2)];
        let s = decompose(&ctx, &steps, &[1.0; 3]);
        assert_eq!(ctx.len(), 8);
        // t = 0: no history → "no action" token 13 and padding.
        assert_eq!(s[0].context, vec![1, 1, 13, 0, 0, 13, 0, 0]);
        // t = 2: [obs2, a1, obs1, a0, obs0].
        assert_eq!(s[2].context, vec![3, 3, 11, 2, 2, 10, 1, 1]);
    }
}

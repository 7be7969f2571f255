//! The token networks' policy input: step t of a trajectory becomes
//! `[obs_t, a_{t−1}, obs_{t−1}, …]` — the observation tokens at t plus a window of the
//! last H (action, observation) pairs, padded before the start — and a recorded
//! trajectory becomes one training sample per step. H = 0 by default. Built once here,
//! for acting, for training samples and for augmentation candidates alike.

use steprl_core::{Action, ActionSpec, ObservationSpec, StepSample, Transition, View, action_mask};

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
    /// The layout for an environment's spaces with history window `history`, or why a
    /// token policy cannot act in it.
    pub fn for_spaces(
        observation: &ObservationSpec,
        action: &ActionSpec,
        history: usize,
    ) -> Result<Context, String> {
        let vocab = observation.vocab_size.ok_or(
            "it declares no token vocabulary (the mlp and transformer policies read token observations)",
        )?;
        let obs_len = observation
            .max_tokens
            .ok_or("it declares no max-tokens (contexts need a fixed length)")?
            as usize;
        if action.discrete == 0 {
            return Err(
                "it has no discrete actions (the mlp and transformer policies choose among discrete actions)"
                    .into(),
            );
        }
        Ok(Context {
            history,
            obs_len,
            vocab,
            actions: action.discrete,
            pad: 0,
        })
    }

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

/// The discrete action index of an action a token policy took.
pub fn discrete(action: &Action) -> u32 {
    match action {
        Action::Discrete(a) => *a,
        Action::Text(_) => unreachable!("a discrete-action policy took a text action"),
    }
}

impl Context {
    /// The context before step `t` of `steps` (observation t, actions before it).
    pub fn of(&self, steps: &[Transition], t: usize) -> Vec<u32> {
        let obs: Vec<&[u32]> = steps[..=t]
            .iter()
            .map(|s| s.observation.tokens.as_deref().unwrap_or(&[]))
            .collect();
        let acts: Vec<u32> = steps[..t].iter().map(|s| discrete(&s.action)).collect();
        self.at(&obs, &acts, t)
    }

    /// The context of an episode waiting for an action.
    pub fn view(&self, view: &View<'_>) -> Vec<u32> {
        let mut obs: Vec<&[u32]> = view
            .history
            .iter()
            .map(|s| s.observation.tokens.as_deref().unwrap_or(&[]))
            .collect();
        obs.push(view.observation.tokens.as_deref().unwrap_or(&[]));
        let acts: Vec<u32> = view.history.iter().map(|s| discrete(&s.action)).collect();
        self.at(&obs, &acts, view.history.len())
    }

    /// Step t's recorded decision as a sample with advantage `advantage`, weight 1.
    pub fn sample(&self, steps: &[Transition], t: usize, advantage: f32) -> StepSample {
        let s = &steps[t];
        StepSample {
            context: self.of(steps, t),
            mask: action_mask(&s.observation, self.actions as usize),
            action: discrete(&s.action),
            old_logp: s.logp,
            advantage,
            weight: 1.0,
            ..StepSample::default()
        }
    }
}

/// The step samples of one trajectory with per-step advantages `adv`.
pub fn decompose(ctx: &Context, steps: &[Transition], adv: &[f32]) -> Vec<StepSample> {
    adv.iter()
        .take(steps.len())
        .enumerate()
        .map(|(t, a)| ctx.sample(steps, t, *a))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use steprl_core::Observation;

    fn tr(tokens: &[u32], action: u32) -> Transition {
        Transition {
            observation: Observation {
                tokens: Some(tokens.to_vec()),
                ..Default::default()
            },
            action: Action::Discrete(action),
            logp: -0.5,
            completion: None,
            policy_version: 0,
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
        assert_eq!(s[0].mask, vec![true; 3], "no mask sent: every action valid");
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

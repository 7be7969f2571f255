//! Every seed stream of a run, named in one place: which numbers feed which random
//! stream. The values are part of every run's reproducibility (a change here changes
//! every result and breaks bit-exact resume of older runs), so each function is pinned
//! by a test.

use crate::SplitMix;

/// Which plugin of a run a plugin seed is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginRole {
    /// A plugin loaded alone (`steprl plugin check`, `play`).
    Alone = 0,
    /// The run's environment.
    Env = 1,
    /// The run's reward checker.
    Checker = 2,
    /// The run's resampler.
    Resampler = 3,
}

/// The seed a plugin of the run is loaded with (its instances derive theirs from it).
pub fn plugin(run_seed: u64, role: PluginRole) -> u64 {
    run_seed ^ role as u64
}

/// The seed of a plugin's `index`-th instance after `generation` restarts (what the
/// guest's `wasi:random` streams and its `init` see).
pub fn instance(plugin_seed: u64, index: u64, generation: u64) -> u64 {
    let mut z = plugin_seed
        ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ generation.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of an instance's `wasi:random/insecure` generator.
pub fn insecure_random(instance_seed: u64) -> u64 {
    instance_seed ^ 0x9e37_79b9_7f4a_7c15
}

/// The environment seed of the `lane`-th episode of training round `round`.
pub fn rollout_episode(run_seed: u64, round: u32, lane: usize) -> u64 {
    SplitMix::mix(&[run_seed, u64::from(round), lane as u64, 1])
}

/// The action-sampling seed of the `lane`-th episode of training round `round`.
pub fn rollout_sampling(run_seed: u64, round: u32, lane: usize) -> u64 {
    SplitMix::mix(&[run_seed, u64::from(round), lane as u64, 2])
}

/// The seed of the `state`-th augmentation candidate group of round `round`.
pub fn augmentation(run_seed: u64, round: u32, state: usize) -> u64 {
    SplitMix::mix(&[run_seed, u64::from(round), state as u64, 3])
}

/// The seed of round `round`'s policy update (minibatch order, dropout).
pub fn update(run_seed: u64, round: u32) -> u64 {
    SplitMix::mix(&[run_seed, u64::from(round), 4])
}

/// The seed of the warm start from demonstrations.
pub fn warm_start(run_seed: u64) -> u64 {
    SplitMix::mix(&[run_seed, 0xbc])
}

/// Which evaluation an evaluation seed is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalSet {
    /// The training tasks.
    Training = 0xe7a1,
    /// The held-out tasks.
    Heldout = 0x4e1d,
}

/// The environment seed of evaluation episode `episode` of task `task` (its index in
/// the evaluated list).
pub fn eval_episode(run_seed: u64, set: EvalSet, task: usize, episode: u32) -> u64 {
    SplitMix::mix(&[run_seed, set as u64, task as u64, u64::from(episode)])
}

/// The action-sampling seed of that evaluation episode.
pub fn eval_sampling(run_seed: u64, set: EvalSet, task: usize, episode: u32) -> u64 {
    SplitMix::mix(&[run_seed, set as u64, task as u64, u64::from(episode), 1])
}

/// The environment seed of episode `episode` of task `task` in a conformance check.
pub fn conformance_episode(base: u64, task: usize, episode: u32) -> u64 {
    base.wrapping_mul(1_000_003)
        .wrapping_add(task as u64 * 1_009)
        .wrapping_add(u64::from(episode))
}

/// The stream numbers of the generators that the learner and the resamplers draw from
/// a seed given to them (`SplitMix::new(seed, stream)`).
pub mod stream {
    /// The learner's minibatch order in an update.
    pub const MINIBATCH: u64 = 0xba7c;
    /// The order of the cloning steps of a warm start.
    pub const IMITATION: u64 = 0xbc;
    /// LoRA dropout masks of a language-model update.
    pub const LORA_DROPOUT: u64 = 0xd409;
    /// The candidates of a language-model augmentation group.
    pub const LM_CANDIDATES: u64 = 0x10a;
    /// The candidates of a network's augmentation group.
    pub const NET_CANDIDATES: u64 = 0x1417;
    /// Token sampling in text generation.
    pub const GENERATION: u64 = 0x6e6e;
    /// Added to the round number: the shipped STEP resampler's plan.
    pub const STEP_PLAN: u64 = 1 << 40;
    /// Added to the round number: the progress and curriculum resamplers' plans.
    pub const STRATEGY_PLAN: u64 = 2 << 40;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pinned values: a change to any stream changes every run (and resume of old ones).
    #[test]
    fn seed_streams_keep_their_values() {
        assert_eq!(plugin(7, PluginRole::Env), 6);
        assert_eq!(plugin(7, PluginRole::Resampler), 4);
        assert_eq!(insecure_random(0), 0x9e37_79b9_7f4a_7c15);
        assert_eq!(instance(0, 0, 0), 0);
        assert_eq!(
            rollout_episode(1, 2, 3),
            SplitMix::mix(&[1, 2, 3, 1]),
            "rollout episode"
        );
        assert_eq!(rollout_sampling(1, 2, 3), SplitMix::mix(&[1, 2, 3, 2]));
        assert_eq!(augmentation(1, 2, 3), SplitMix::mix(&[1, 2, 3, 3]));
        assert_eq!(update(1, 2), SplitMix::mix(&[1, 2, 4]));
        assert_eq!(warm_start(1), SplitMix::mix(&[1, 0xbc]));
        assert_eq!(
            eval_episode(1, EvalSet::Heldout, 2, 3),
            SplitMix::mix(&[1, 0x4e1d, 2, 3])
        );
        assert_eq!(
            eval_sampling(1, EvalSet::Training, 2, 3),
            SplitMix::mix(&[1, 0xe7a1, 2, 3, 1])
        );
        assert_eq!(conformance_episode(2, 3, 4), 2_000_006 + 3_027 + 4);
        assert_eq!(instance(1, 2, 3), 0x1f8a_9604_d093_bf0a_u64);
    }

    #[test]
    fn streams_differ() {
        assert_ne!(rollout_episode(1, 2, 3), rollout_sampling(1, 2, 3));
        assert_ne!(instance(1, 0, 0), instance(1, 1, 0));
        assert_ne!(instance(1, 0, 0), instance(1, 0, 1));
        assert_ne!(
            eval_episode(1, EvalSet::Training, 0, 0),
            eval_episode(1, EvalSet::Heldout, 0, 0)
        );
    }
}

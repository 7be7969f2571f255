//! The policy as the rollout sees it: batched log-probabilities over discrete actions.
//! The learner implements it on burn; tests implement it natively.

/// A policy over discrete actions.
pub trait Policy: Send {
    /// For each input (context tokens, valid-action mask), the log-probability of every
    /// discrete action; masked actions get `f32::NEG_INFINITY` (probability zero).
    fn log_probs(&mut self, inputs: &[(&[u32], &[bool])]) -> Vec<Vec<f32>>;
}

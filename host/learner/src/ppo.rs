//! The PPO-clipped objective over step samples, as tensors: per-sample advantages and
//! weights, a masked categorical policy, an optional k3 KL penalty to a frozen
//! reference and an optional entropy bonus, with the usual diagnostics.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Bool, Device, Gradients, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use steprl_core::{StepSample, UpdateStats};

use crate::net::PolicyNet;

/// Update hyperparameters (the `[learner]` table).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PpoConfig {
    /// Adam learning rate.
    pub lr: f64,
    /// Passes over the round's samples.
    pub epochs: u32,
    /// Samples per gradient step.
    pub minibatch: usize,
    /// Clip range ε of the probability ratio.
    pub clip: f64,
    /// Coefficient of the k3 KL penalty to the frozen reference policy (0 = off).
    pub kl_coef: f64,
    /// Coefficient of the entropy bonus (0 = off).
    pub entropy_coef: f64,
    /// Global gradient-norm clip (0 = off).
    pub grad_clip: f64,
    /// Language-model policies: samples per forward/backward pass, the minibatch's
    /// gradients accumulated over its micro-batches before one optimizer step, so
    /// memory is bounded by the micro-batch (0 = the whole minibatch in one pass).
    pub micro_batch: usize,
}

impl Default for PpoConfig {
    fn default() -> Self {
        PpoConfig {
            lr: 1e-3,
            epochs: 2,
            minibatch: 256,
            clip: 0.2,
            kl_coef: 0.0,
            entropy_coef: 0.0,
            grad_clip: 1.0,
            micro_batch: 0,
        }
    }
}

impl PpoConfig {
    /// Problems with these settings (empty = fine).
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            p.push(format!(
                "learner.lr = {} must be a positive number",
                self.lr
            ));
        }
        if self.epochs == 0 {
            p.push("learner.epochs must be at least 1".into());
        }
        if self.minibatch == 0 {
            p.push("learner.minibatch must be at least 1".into());
        }
        if !(self.clip > 0.0 && self.clip < 1.0) {
            p.push(format!("learner.clip = {} must lie in (0, 1)", self.clip));
        }
        for (k, v) in [
            ("learner.kl_coef", self.kl_coef),
            ("learner.entropy_coef", self.entropy_coef),
            ("learner.grad_clip", self.grad_clip),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                p.push(format!("{k} = {v} must be zero or positive"));
            }
        }
        p
    }
}

/// Large negative logit for masked actions (finite, so 0 · logit stays 0).
pub const MASKED: f32 = -1e9;

/// Log-probabilities `[batch, actions]` with invalid actions (`invalid` true) at ~−∞.
pub fn masked_log_softmax(logits: Tensor<2>, invalid: Tensor<2, Bool>) -> Tensor<2> {
    log_softmax(logits.mask_fill(invalid, MASKED), 1)
}

/// What the objective needs of a minibatch besides the policy inputs.
pub struct Targets {
    /// Invalid actions `[B, A]`.
    pub invalid: Tensor<2, Bool>,
    /// Chosen actions `[B, 1]`.
    pub actions: Tensor<2, Int>,
    /// log π_old `[B]`.
    pub old_logp: Tensor<1>,
    /// Advantages `[B]`.
    pub advantages: Tensor<1>,
    /// Weights `[B]`.
    pub weights: Tensor<1>,
}

/// A minibatch of fixed-length token contexts as tensors.
pub struct Batch {
    /// Contexts `[B, L]`.
    pub tokens: Tensor<2, Int>,
    /// Masks, actions, old log-probs, advantages, weights.
    pub targets: Targets,
}

/// Contexts and masks as tensors on `device`.
pub fn inputs(
    contexts: &[&[u32]],
    masks: &[&[bool]],
    device: &Device,
) -> (Tensor<2, Int>, Tensor<2, Bool>) {
    let b = contexts.len();
    let l = contexts.first().map_or(0, |c| c.len());
    let a = masks.first().map_or(0, |m| m.len());
    let tokens: Vec<i32> = contexts
        .iter()
        .flat_map(|c| c.iter().map(|&t| t as i32))
        .collect();
    let invalid: Vec<bool> = masks.iter().flat_map(|m| m.iter().map(|&v| !v)).collect();
    (
        Tensor::from_data(TensorData::new(tokens, [b, l]), device),
        Tensor::from_data(TensorData::new(invalid, [b, a]), device),
    )
}

impl Targets {
    /// The targets of samples `idx` of `samples` on `device`.
    pub fn new(samples: &[StepSample], idx: &[usize], device: &Device) -> Targets {
        let b = idx.len();
        let a = idx.first().map_or(0, |&i| samples[i].mask.len());
        let invalid: Vec<bool> = idx
            .iter()
            .flat_map(|&i| samples[i].mask.iter().map(|&v| !v))
            .collect();
        let col = |f: &dyn Fn(&StepSample) -> f32| -> Tensor<1> {
            let v: Vec<f32> = idx.iter().map(|&i| f(&samples[i])).collect();
            Tensor::from_data(TensorData::new(v, [b]), device)
        };
        let actions: Vec<i32> = idx.iter().map(|&i| samples[i].action as i32).collect();
        Targets {
            invalid: Tensor::from_data(TensorData::new(invalid, [b, a]), device),
            actions: Tensor::from_data(TensorData::new(actions, [b, 1]), device),
            old_logp: col(&|s| s.old_logp),
            advantages: col(&|s| s.advantage),
            weights: col(&|s| s.weight),
        }
    }
}

impl Batch {
    /// The samples `idx` of `samples` on `device`.
    pub fn new(samples: &[StepSample], idx: &[usize], device: &Device) -> Batch {
        let ctx: Vec<&[u32]> = idx.iter().map(|&i| samples[i].context.as_slice()).collect();
        let b = idx.len();
        let l = ctx.first().map_or(0, |c| c.len());
        let tokens: Vec<i32> = ctx
            .iter()
            .flat_map(|c| c.iter().map(|&t| t as i32))
            .collect();
        Batch {
            tokens: Tensor::from_data(TensorData::new(tokens, [b, l]), device),
            targets: Targets::new(samples, idx, device),
        }
    }
}

/// The loss of one minibatch and its diagnostics.
pub struct Loss {
    /// The scalar to minimize (`[1]`, on the model's device).
    pub total: Tensor<1>,
    /// −(clipped surrogate), weighted mean.
    pub policy: f32,
    /// Mean entropy of the masked policy.
    pub entropy: f32,
    /// Mean (ratio − 1) − log ratio.
    pub approx_kl: f32,
    /// Share of samples whose ratio left [1 − ε, 1 + ε].
    pub clip_frac: f32,
    /// Mean k3 KL estimate to the reference (0 when the penalty is off).
    pub kl_ref: f32,
}

impl Loss {
    /// Count one gradient step in `stats`: add this minibatch's diagnostics and the
    /// gradient norm (the sums [`average`] turns into means).
    pub fn add_to(&self, stats: &mut UpdateStats, grad_norm: f64) {
        count_step(
            stats,
            [
                self.policy,
                self.entropy,
                self.approx_kl,
                self.clip_frac,
                self.kl_ref,
            ],
            grad_norm,
        );
    }
}

/// One gradient step's diagnostics (policy loss, entropy, approximate KL, clip
/// fraction, reference KL) and gradient norm added to `stats`.
fn count_step(stats: &mut UpdateStats, d: [f32; 5], grad_norm: f64) {
    stats.gradient_steps += 1;
    stats.policy_loss += d[0];
    stats.entropy += d[1];
    stats.approx_kl += d[2];
    stats.clip_frac += d[3];
    stats.kl_ref += d[4];
    stats.grad_norm += grad_norm as f32;
}

/// A minibatch processed as micro-batches: each one's loss is backpropagated at once
/// (its graph freed), weighted by its share of the minibatch, and its diagnostics
/// are summed with the same weights, so the summed gradients and diagnostics are
/// those of the whole minibatch.
#[derive(Default)]
pub struct Accumulated {
    /// One gradient set per micro-batch, summed by the optimizer.
    pub grads: Vec<Gradients>,
    /// The weighted diagnostics, in [`count_step`]'s order.
    diagnostics: [f32; 5],
}

impl Accumulated {
    /// Backpropagate micro-batch loss `l`, which is `share` of the minibatch.
    pub fn add(&mut self, l: Loss, share: f64) {
        let total = if share == 1.0 {
            l.total
        } else {
            l.total.mul_scalar(share)
        };
        self.grads.push(total.backward());
        let f = share as f32;
        let d = [l.policy, l.entropy, l.approx_kl, l.clip_frac, l.kl_ref];
        for (sum, x) in self.diagnostics.iter_mut().zip(d) {
            *sum += x * f;
        }
    }

    /// Count the minibatch's gradient step in `stats` (see [`Loss::add_to`]).
    pub fn add_to(&self, stats: &mut UpdateStats, grad_norm: f64) {
        count_step(stats, self.diagnostics, grad_norm);
    }
}

/// `idx` (a minibatch) split into micro-batches of `micro` samples (0 = one).
pub fn micro_batches(idx: &[usize], micro: usize) -> std::slice::Chunks<'_, usize> {
    idx.chunks(if micro == 0 { idx.len().max(1) } else { micro })
}

/// The per-step sums of [`Loss::add_to`] as means over the gradient steps.
pub fn average(stats: &mut UpdateStats) {
    let n = stats.gradient_steps as f32;
    stats.policy_loss /= n;
    stats.entropy /= n;
    stats.approx_kl /= n;
    stats.clip_frac /= n;
    stats.kl_ref /= n;
    stats.grad_norm /= n;
}

/// The loss of a token-network minibatch: the [`objective`] over the network's logits,
/// with the frozen reference's when the KL penalty is on.
pub fn loss(
    model: &PolicyNet,
    reference: Option<&PolicyNet>,
    batch: &Batch,
    cfg: &PpoConfig,
) -> Loss {
    let t = &batch.targets;
    let logp_all = masked_log_softmax(model.forward(batch.tokens.clone()), t.invalid.clone());
    let ref_all = match reference {
        Some(reference) if cfg.kl_coef > 0.0 => Some(masked_log_softmax(
            reference.forward(batch.tokens.clone().inner()),
            t.invalid.clone().inner(),
        )),
        _ => None,
    };
    objective(logp_all, ref_all, t, cfg)
}

/// The behaviour-cloning loss: −mean log π(action) over masked log-probabilities
/// `logp_all` `[B, A]`.
pub fn nll(logp_all: Tensor<2>, t: &Targets) -> Tensor<1> {
    let b = t.old_logp.dims()[0];
    logp_all
        .gather(1, t.actions.clone())
        .reshape([b])
        .mean()
        .neg()
}

/// L = −mean(w · min(r A, clip(r, 1 ± ε) A)) − c_H · H + c_KL · k3, with
/// r = π/π_old and k3 = exp(log π_ref − log π) − (log π_ref − log π) − 1, over masked
/// log-probabilities `logp_all` `[B, A]` (autodiff) and the reference's `ref_all`
/// (no autodiff; the penalty is added only when given and `kl_coef > 0`). The weighted
/// mean divides by the number of samples, so λ_aug scales augmentation samples.
pub fn objective(
    logp_all: Tensor<2>,
    ref_all: Option<Tensor<2>>,
    t: &Targets,
    cfg: &PpoConfig,
) -> Loss {
    let b = t.old_logp.dims()[0];
    let logp: Tensor<1> = logp_all.clone().gather(1, t.actions.clone()).reshape([b]);
    let log_ratio = logp.clone() - t.old_logp.clone();
    let ratio = log_ratio.clone().exp();
    let s1 = ratio.clone() * t.advantages.clone();
    let s2 = ratio.clone().clamp(1.0 - cfg.clip, 1.0 + cfg.clip) * t.advantages.clone();
    let policy = (s1.min_pair(s2) * t.weights.clone())
        .sum()
        .div_scalar(b as f64)
        .neg();
    let entropy = (logp_all.clone().exp() * logp_all).sum_dim(1).neg().mean();
    let mut total = policy.clone();
    if cfg.entropy_coef > 0.0 {
        total = total - entropy.clone().mul_scalar(cfg.entropy_coef);
    }
    let mut kl_ref = 0.0;
    if cfg.kl_coef > 0.0
        && let Some(ref_all) = ref_all
    {
        let ref_logp: Tensor<1> = ref_all.gather(1, t.actions.clone().inner()).reshape([b]);
        let d = ref_logp - logp.clone();
        let k3 = (d.clone().exp() - d).sub_scalar(1.0).mean();
        kl_ref = k3.clone().inner().into_scalar::<f32>();
        total = total + k3.mul_scalar(cfg.kl_coef);
    }
    let lr = log_ratio.inner();
    let r = ratio.inner();
    let approx_kl = (r.clone().sub_scalar(1.0) - lr).mean().into_scalar::<f32>();
    let clip_frac = r
        .sub_scalar(1.0)
        .abs()
        .greater_elem(cfg.clip)
        .float()
        .mean()
        .into_scalar::<f32>();
    Loss {
        policy: policy.inner().into_scalar::<f32>(),
        entropy: entropy.inner().into_scalar::<f32>(),
        approx_kl,
        clip_frac,
        kl_ref,
        total,
    }
}

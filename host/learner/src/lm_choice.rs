//! A pretrained language model as a discrete-action policy ("choice mode"). The prompt
//! ([`crate::prompt`]) goes through the model's chat template; each action's score is
//! the summed log-probability of its label, followed by the end-of-turn token, as the
//! assistant's reply. One pass over the prompt fills a KV cache that every label
//! continues in one batch. The policy is the softmax of the scores over the valid
//! actions, so the PPO objective of the token networks applies unchanged. The model,
//! its LoRA adapters and its checkpoint files are [`crate::lm_base::LoraLm`]'s.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::activation::log_softmax;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use steprl_core::{
    Action, Candidates, Decision, Learner, Observation, ObservationParts, Policy, Sampling,
    SaveError, SplitMix, State, StepSample, Transition, UpdateStats, View, action_mask,
    decide_among,
};
use steprl_lm::{CausalLm, KvCache, LanguageModel, Layout};

use crate::learner::LearnerError;
use crate::lm_base::{LoraLm, LoraSettings, LoraTraining, check_text, text_parts};
use crate::ppo::{self, Loss, PpoConfig, Targets};
use crate::prompt::choice_prompt;

/// A language model choosing among labelled actions, trained with LoRA.
pub struct LmChoiceLearner {
    base: LoraLm,
    labels: Vec<String>,
    label_ids: Vec<Vec<u32>>,
    history: usize,
    ppo: PpoConfig,
    memo: ScoreMemo,
}

/// Label scores already computed with the adapters of one version, by prompt: the
/// weights do not move during a round's rollout, and its states recur (every copy of a
/// task starts at the same screen; a screen revisited without history in the prompt
/// reads the same), so each distinct prompt is scored once per version.
#[derive(Default)]
struct ScoreMemo {
    version: u64,
    scores: HashMap<Vec<u32>, Vec<f32>>,
    hits: u64,
    misses: u64,
}

/// At most this many prompts are remembered; past it the memo starts over.
const MEMO_PROMPTS: usize = 4096;

impl ScoreMemo {
    /// Log-probabilities over actions (invalid ones −∞) for each (prompt, mask) under
    /// `net`, the adapters of `version`; each distinct prompt is scored once.
    fn log_probs(
        &mut self,
        version: u64,
        net: &CausalLm,
        label_ids: &[Vec<u32>],
        device: &Device,
        inputs: &[(&[u32], &[bool])],
    ) -> Vec<Vec<f32>> {
        if self.version != version || self.scores.len() >= MEMO_PROMPTS {
            self.scores.clear();
            self.version = version;
        }
        let a = label_ids.len();
        // The prompts not scored yet with these adapters, each once, in one batch.
        let mut misses: Vec<&[u32]> = Vec::new();
        for (prompt, _) in inputs {
            if self.scores.contains_key(*prompt) || misses.contains(prompt) {
                self.hits += 1;
            } else {
                self.misses += 1;
                misses.push(*prompt);
            }
        }
        if !misses.is_empty() {
            let scores: Vec<f32> = label_scores_batch(net, &misses, label_ids, device)
                .into_data()
                .try_into_vec()
                .expect("f32 scores");
            for (prompt, row) in misses.iter().zip(scores.chunks(a)) {
                self.scores.insert(prompt.to_vec(), row.to_vec());
            }
        }
        inputs
            .iter()
            .map(|(prompt, mask)| {
                let scores = Tensor::<2>::from_data(
                    TensorData::new(self.scores[*prompt].clone(), [1, a]),
                    device,
                );
                let lp = ppo::masked_log_softmax(scores, invalid(&[mask], device));
                let v: Vec<f32> = lp.into_data().try_into_vec().expect("f32 log-probs");
                v.iter()
                    .zip(mask.iter())
                    .map(|(l, ok)| if *ok { *l } else { f32::NEG_INFINITY })
                    .collect()
            })
            .collect()
    }
}

/// The prompt token ids of a decision among `labels`: the last `keep` actions of
/// `history` before, `observation` now, through `lm`'s chat template.
fn prompt_ids(
    lm: &LanguageModel,
    labels: &[String],
    keep: usize,
    instruction: &str,
    history: &[Transition],
    observation: &Observation,
) -> Vec<u32> {
    let recent: Vec<&str> = history
        .iter()
        .rev()
        .take(keep)
        .rev()
        .map(|t| match &t.action {
            Action::Discrete(a) => labels[*a as usize].as_str(),
            Action::Text(s) => s.as_str(),
        })
        .collect();
    let mask = action_mask(observation, labels.len());
    let text = choice_prompt(
        instruction,
        observation.text.as_deref().unwrap_or(""),
        labels,
        &mask,
        &recent,
    );
    lm.prompt_ids(&text, false)
        .expect("the chat template rendered at load renders every prompt")
}

/// A frozen copy of an [`LmChoiceLearner`]'s policy at one version of its adapters,
/// acting exactly as the learner did when the copy was made (with a score memo of its
/// own). The weights are the learner's tensors at that version, shared, not copied.
struct ChoiceSnapshot {
    /// For rendering prompts (tokenizer and chat template).
    lm: LanguageModel,
    net: CausalLm,
    version: u64,
    labels: Vec<String>,
    label_ids: Vec<Vec<u32>>,
    history: usize,
    device: Device,
    memo: ScoreMemo,
}

impl Policy for ChoiceSnapshot {
    fn parts(&self) -> ObservationParts {
        text_parts()
    }

    fn check(&self, observation: &Observation) -> Result<(), String> {
        check_text(observation)
    }

    fn act(
        &mut self,
        views: &[View<'_>],
        sampling: Sampling,
        rngs: &mut [&mut SplitMix],
    ) -> Vec<Decision> {
        let ChoiceSnapshot {
            lm,
            net,
            version,
            labels,
            label_ids,
            history,
            device,
            memo,
        } = self;
        let prompts = views
            .iter()
            .map(|v| {
                prompt_ids(
                    lm,
                    labels,
                    *history,
                    v.instruction,
                    v.history,
                    v.observation,
                )
            })
            .collect();
        decide_among(labels.len(), prompts, views, sampling, rngs, |inputs| {
            memo.log_probs(*version, net, label_ids, device, inputs)
        })
    }
}

impl LmChoiceLearner {
    /// Load the model at `model` on `device` (autodiff on), attach seeded LoRA adapters
    /// and score the environment's action `labels`.
    pub fn new(
        model: &Path,
        device: &Device,
        labels: &[String],
        history: usize,
        lora: &LoraSettings,
        ppo: PpoConfig,
        seed: u64,
    ) -> Result<Self, LearnerError> {
        let mut problems = ppo.problems();
        if labels.is_empty() {
            problems.push(
                "the environment declares no action labels; a language-model policy in choice mode chooses among labelled actions"
                    .into(),
            );
        }
        let base = LoraLm::new(model, device, lora, problems, seed)?;
        let end = base.lm.stop_ids[0];
        let mut label_ids = Vec::with_capacity(labels.len());
        for l in labels {
            let mut ids = base
                .lm
                .tokenizer
                .encode(l, false)
                .map_err(|e| LearnerError::Model {
                    path: model.display().to_string(),
                    message: format!("tokenizing the action label `{l}`: {e}"),
                })?;
            ids.push(end);
            label_ids.push(ids);
        }
        Ok(LmChoiceLearner {
            base,
            labels: labels.to_vec(),
            label_ids,
            history,
            ppo,
            memo: ScoreMemo::default(),
        })
    }

    /// Restore a learner saved by [`LmChoiceLearner::save_files`]; refuses a checkpoint
    /// of another base model.
    #[allow(clippy::too_many_arguments)]
    pub fn load(
        dir: &Path,
        model: &Path,
        device: &Device,
        labels: &[String],
        history: usize,
        lora: &LoraSettings,
        ppo: PpoConfig,
        purpose: crate::LoadFor,
    ) -> Result<Self, LearnerError> {
        let mut l = LmChoiceLearner::new(model, device, labels, history, lora, ppo, 0)?;
        l.base.restore(dir, model, purpose)?;
        Ok(l)
    }

    /// Trainable (adapter) parameters.
    pub fn trainable_params(&self) -> usize {
        self.base.trainable_params()
    }

    /// The action labels it chooses among.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Each label's token ids as scored: its tokens and the end-of-turn token.
    pub fn label_ids(&self) -> &[Vec<u32>] {
        &self.label_ids
    }

    /// Prompt token ids for a decision: `history` before, `observation` now.
    pub fn prompt_ids(
        &self,
        instruction: &str,
        history: &[Transition],
        observation: &Observation,
    ) -> Vec<u32> {
        prompt_ids(
            &self.base.lm,
            &self.labels,
            self.history,
            instruction,
            history,
            observation,
        )
    }

    /// Log-probabilities over actions (invalid ones −∞) for each (prompt, mask). Each
    /// distinct prompt is scored once per version of the adapters ([`ScoreMemo`]).
    pub fn log_probs_of(&mut self, inputs: &[(&[u32], &[bool])]) -> Vec<Vec<f32>> {
        let version = self.base.version();
        let device = self.base.infer_device.clone();
        let net = self.base.inference_net();
        self.memo
            .log_probs(version, net, &self.label_ids, &device, inputs)
    }

    /// How many prompts [`LmChoiceLearner::log_probs_of`] has scored through the model
    /// and how many it answered from the memo, since the learner was made.
    pub fn scoring_counts(&self) -> (u64, u64) {
        (self.memo.misses, self.memo.hits)
    }

    /// Update on a round's samples: `epochs` passes of shuffled minibatches, one Adam
    /// step each (over the minibatch's micro-batches). Samples sharing a prompt share
    /// its forward pass.
    pub fn update_on(&mut self, samples: &[StepSample], seed: u64) -> UpdateStats {
        // A sample with advantage 0 adds nothing to the clipped surrogate; unless the
        // entropy bonus or the KL penalty reads it, it is dropped before minibatching
        // (a forward and backward pass through the model saved; the minibatch mean is
        // then over the samples that carry signal).
        let order: Vec<usize> = (0..samples.len())
            .filter(|&i| {
                samples[i].advantage != 0.0 || self.ppo.entropy_coef > 0.0 || self.ppo.kl_coef > 0.0
            })
            .collect();
        self.run_update(samples, order, seed)
    }

    /// The label scores `[U, A]` of `prompts` (the distinct prompts among samples
    /// `idx`, each scored once, with autodiff) and, per sample, its row.
    fn scores_of(
        &self,
        prompts: &[&[u32]],
        samples: &[StepSample],
        idx: &[usize],
        device: &Device,
    ) -> (Tensor<2>, Tensor<1, Int>) {
        let row_of: Vec<i32> = idx
            .iter()
            .map(|&i| {
                let p = samples[i].context.as_slice();
                prompts
                    .iter()
                    .position(|q| *q == p)
                    .expect("a distinct prompt") as i32
            })
            .collect();
        (
            label_scores_batch(&self.base.lm.net, prompts, &self.label_ids, device),
            Tensor::from_data(TensorData::new(row_of, [idx.len()]), device),
        )
    }

    /// Log-probabilities over actions of the base model without adapters, for one
    /// (prompt, mask).
    pub fn reference_log_probs(&self, prompt: &[u32], mask: &[bool]) -> Vec<f32> {
        let scores = label_scores(
            &self.base.reference,
            prompt,
            &self.label_ids,
            &self.base.infer_device,
        );
        let lp = ppo::masked_log_softmax(
            scores.unsqueeze_dim(0),
            invalid(&[mask], &self.base.infer_device),
        );
        lp.into_data().try_into_vec().expect("f32 log-probs")
    }

    /// Write `lora.safetensors` (the adapter factors), `adam.bin` and `base.json` (the
    /// base model's path and SHA-256) into `dir`.
    pub fn save_files(&self, dir: &Path) -> Result<(), SaveError> {
        self.base.save_files(dir)
    }

    /// Where the base model was loaded from.
    pub fn model_path(&self) -> PathBuf {
        self.base.lm.path.clone()
    }
}

/// The distinct prompts among samples `idx`, in first-seen order.
fn distinct_prompts<'a>(samples: &'a [StepSample], idx: &[usize]) -> Vec<&'a [u32]> {
    let mut seen: Vec<&[u32]> = Vec::new();
    for &i in idx {
        let p = samples[i].context.as_slice();
        if !seen.contains(&p) {
            seen.push(p);
        }
    }
    seen
}

/// `[1, A]` invalid-action mask of one input.
fn invalid(masks: &[&[bool]], device: &Device) -> Tensor<2, Bool> {
    let a = masks[0].len();
    let v: Vec<bool> = masks.iter().flat_map(|m| m.iter().map(|x| !x)).collect();
    Tensor::from_data(TensorData::new(v, [masks.len(), a]), device)
}

/// Each action label's summed token log-probability as the continuation of `prompt`,
/// `[A]` ([`label_scores_batch`] of one prompt).
pub fn label_scores(
    net: &CausalLm,
    prompt: &[u32],
    labels: &[Vec<u32>],
    device: &Device,
) -> Tensor<1> {
    let a = labels.len();
    label_scores_batch(net, &[prompt], labels, device).reshape([a])
}

/// At most this many label tokens (prompts × labels × label width) are scored in one
/// pass; more prompts are split into passes of this size (each pass holds a
/// `[tokens, vocab]` block of log-probabilities).
pub const LABEL_TOKENS_PER_PASS: usize = 1024;

/// Each prompt's label scores `[P, A]`, every label's summed token log-probability as
/// the continuation of its prompt. Two passes per group of prompts: the prompts,
/// right-padded into one batch, fill a KV cache; then every label of every prompt runs
/// in one batch over that cache, each label a branch that reads its own prompt's real
/// tokens and its own earlier tokens ([`steprl_lm::Layout`]) — no copy of the cache per
/// label or per prompt.
pub fn label_scores_batch(
    net: &CausalLm,
    prompts: &[&[u32]],
    labels: &[Vec<u32>],
    device: &Device,
) -> Tensor<2> {
    label_scores_in_passes(net, prompts, labels, LABEL_TOKENS_PER_PASS, device)
}

/// [`label_scores_batch`] with at most `tokens_per_pass` label tokens a pass.
pub fn label_scores_in_passes(
    net: &CausalLm,
    prompts: &[&[u32]],
    labels: &[Vec<u32>],
    tokens_per_pass: usize,
    device: &Device,
) -> Tensor<2> {
    let a = labels.len();
    let width = labels.iter().map(Vec::len).max().unwrap_or(1);
    let per_prompt = (a * width.saturating_sub(1)).max(1);
    let group = (tokens_per_pass / per_prompt).max(1);
    let parts: Vec<Tensor<2>> = prompts
        .chunks(group)
        .map(|g| label_scores_group(net, g, labels, width, device))
        .collect();
    Tensor::cat(parts, 0)
}

fn label_scores_group(
    net: &CausalLm,
    prompts: &[&[u32]],
    labels: &[Vec<u32>],
    width: usize,
    device: &Device,
) -> Tensor<2> {
    let (p, a) = (prompts.len(), labels.len());
    let lens: Vec<usize> = prompts.iter().map(|q| q.len()).collect();
    let l = lens.iter().copied().max().unwrap_or(1);
    let mut cache = KvCache::new();
    let first_lp: Tensor<2> = log_softmax(net.prefill_last_logits(prompts, &mut cache, device), 1);
    let heads: Vec<i32> = (0..p)
        .flat_map(|_| labels.iter().map(|lab| lab[0] as i32))
        .collect();
    let head_lp = first_lp.gather(
        1,
        Tensor::<2, Int>::from_data(TensorData::new(heads, [p, a]), device),
    );
    if width == 1 {
        return head_lp;
    }
    // Label tokens 0..width-1 as inputs; each predicts the next one where it exists.
    // Branch (label) b's token j sits at position len + j and reads its prompt's real
    // tokens and its own tokens 0..=j.
    let w1 = width - 1;
    let n = a * w1;
    let total = l + n;
    let mut inputs = Vec::with_capacity(p * n);
    let mut next = Vec::with_capacity(p * n);
    let mut positions = Vec::with_capacity(p * n);
    let mut attends = vec![false; p * n * total];
    for (r, len) in lens.iter().enumerate() {
        for (b, lab) in labels.iter().enumerate() {
            for j in 0..w1 {
                inputs.push(*lab.get(j).unwrap_or(&0) as i32);
                next.push(*lab.get(j + 1).unwrap_or(&0) as i32);
                positions.push(len + j);
                let row = &mut attends[(r * n + b * w1 + j) * total..][..total];
                row[..*len].fill(true);
                row[l + b * w1..=l + b * w1 + j].fill(true);
            }
        }
    }
    let keep: Vec<f32> = labels
        .iter()
        .flat_map(|lab| (0..w1).map(move |j| if j + 1 < lab.len() { 1.0f32 } else { 0.0 }))
        .collect();
    let layout = Layout { positions, attends };
    let h = net.hidden_at(
        Tensor::from_data(TensorData::new(inputs, [p, n]), device),
        &layout,
        Some(&mut cache),
    );
    let lp = log_softmax(net.logits(h), 2);
    let picked: Tensor<3> = lp
        .gather(
            2,
            Tensor::<3, Int>::from_data(TensorData::new(next, [p, n, 1]), device),
        )
        .reshape([p, a, w1]);
    let keep = Tensor::<3>::from_data(TensorData::new(keep, [1, a, w1]), device);
    head_lp + (picked * keep).sum_dim(2).reshape([p, a])
}

impl Policy for LmChoiceLearner {
    fn parts(&self) -> ObservationParts {
        text_parts()
    }

    fn check(&self, observation: &Observation) -> Result<(), String> {
        check_text(observation)
    }

    fn act(
        &mut self,
        views: &[View<'_>],
        sampling: Sampling,
        rngs: &mut [&mut SplitMix],
    ) -> Vec<Decision> {
        let prompts = views
            .iter()
            .map(|v| self.prompt_ids(v.instruction, v.history, v.observation))
            .collect();
        decide_among(
            self.labels.len(),
            prompts,
            views,
            sampling,
            rngs,
            |inputs| self.log_probs_of(inputs),
        )
    }
}

impl LmChoiceLearner {
    fn sample(&self, instruction: &str, steps: &[Transition], t: usize, adv: f32) -> StepSample {
        let s = &steps[t];
        StepSample {
            context: self.prompt_ids(instruction, &steps[..t], &s.observation),
            mask: action_mask(&s.observation, self.labels.len()),
            action: match s.action {
                Action::Discrete(a) => a,
                Action::Text(_) => unreachable!("a choice-mode policy took a text action"),
            },
            old_logp: s.logp,
            advantage: adv,
            weight: 1.0,
            ..StepSample::default()
        }
    }
}

impl Learner for LmChoiceLearner {
    fn num_params(&self) -> usize {
        self.base.trainable_params()
    }

    fn samples(&self, instruction: &str, steps: &[Transition], adv: &[f32]) -> Vec<StepSample> {
        adv.iter()
            .take(steps.len())
            .enumerate()
            .map(|(t, a)| self.sample(instruction, steps, t, *a))
            .collect()
    }

    fn candidates(&mut self, states: &[State<'_>], group: u32, seeds: &[u64]) -> Vec<Candidates> {
        let recorded: Vec<StepSample> = states
            .iter()
            .map(|s| self.sample(s.instruction, s.steps, s.t, 0.0))
            .collect();
        let inputs: Vec<(&[u32], &[bool])> = recorded
            .iter()
            .map(|r| (r.context.as_slice(), r.mask.as_slice()))
            .collect();
        let logps = self.log_probs_of(&inputs);
        recorded
            .into_iter()
            .zip(&logps)
            .zip(seeds)
            .map(|((recorded, lp), seed)| Candidates::draw(recorded, lp, group, *seed))
            .collect()
    }

    fn imitate(&mut self, samples: &[StepSample], epochs: u32, lr: f64, seed: u64) -> (f32, f32) {
        let order: Vec<usize> = (0..samples.len()).collect();
        self.run_imitation(samples, order, epochs, lr, seed)
    }

    fn update(&mut self, samples: &[StepSample], seed: u64) -> UpdateStats {
        self.update_on(samples, seed)
    }

    fn save(&self, dir: &Path) -> Result<(), SaveError> {
        self.save_files(dir)
    }

    fn snapshot(&self) -> Box<dyn Policy> {
        let base = &self.base;
        Box::new(ChoiceSnapshot {
            lm: base.lm.clone(),
            net: base.inference_copy(),
            version: base.version(),
            labels: self.labels.clone(),
            label_ids: self.label_ids.clone(),
            history: self.history,
            device: base.infer_device.clone(),
            memo: ScoreMemo::default(),
        })
    }
}

impl LoraTraining for LmChoiceLearner {
    fn lora_mut(&mut self) -> &mut LoraLm {
        &mut self.base
    }

    fn ppo(&self) -> &PpoConfig {
        &self.ppo
    }

    fn micro_loss(&self, samples: &[StepSample], idx: &[usize]) -> Loss {
        let device = &self.base.lm.device;
        let prompts = distinct_prompts(samples, idx);
        let (per_prompt, pick) = self.scores_of(&prompts, samples, idx, device);
        let targets = Targets::new(samples, idx, device);
        let logp_all =
            ppo::masked_log_softmax(per_prompt.select(0, pick.clone()), targets.invalid.clone());
        let ref_all = (self.ppo.kl_coef > 0.0).then(|| {
            let infer = self.base.infer_device.clone();
            let scores =
                label_scores_batch(&self.base.reference, &prompts, &self.label_ids, &infer);
            ppo::masked_log_softmax(
                scores.select(0, pick.clone().inner()),
                targets.invalid.clone().inner(),
            )
        });
        ppo::objective(logp_all, ref_all, &targets, &self.ppo)
    }

    fn micro_nll(&self, samples: &[StepSample], idx: &[usize]) -> Tensor<1> {
        let device = &self.base.lm.device;
        let prompts = distinct_prompts(samples, idx);
        let (per_prompt, pick) = self.scores_of(&prompts, samples, idx, device);
        let targets = Targets::new(samples, idx, device);
        let logp_all = ppo::masked_log_softmax(per_prompt.select(0, pick), targets.invalid.clone());
        ppo::nll(logp_all, &targets)
    }
}

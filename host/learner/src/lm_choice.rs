//! A pretrained language model as a discrete-action policy ("choice mode"). The prompt
//! ([`crate::prompt`]) goes through the model's chat template; each action's score is
//! the summed log-probability of its label, followed by the end-of-turn token, as the
//! assistant's reply. One pass over the prompt fills a KV cache that every label
//! continues in one batch. The policy is the softmax of the scores over the valid
//! actions, so the PPO objective of the token networks applies unchanged. LoRA adapters
//! on the chosen projections (default q and v) are the only trained weights; they,
//! the optimizer state and the base model's SHA-256 make up a checkpoint.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use burn::module::{Lora, Module, ModuleMapper, ModuleVisitor, Param, ParamGroup, ParamId};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use sha2::{Digest, Sha256};
use steprl_core::{
    Action, Candidates, Decision, Learner, Observation, ObservationParts, Policy, Sampling,
    SaveError, SplitMix, State, StepSample, Transition, UpdateStats, View, action_mask,
    discrete_decisions,
};
use steprl_lm::{CausalLm, KvCache, LanguageModel};

use crate::adam::{Adam, AdamConfig};
use crate::learner::LearnerError;
use crate::ppo::{self, PpoConfig, Targets};
use crate::prompt::choice_prompt;

/// LoRA settings of a language-model policy.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraSettings {
    /// Rank r of the adapters.
    pub rank: usize,
    /// α: the adapters' product is scaled by α / r.
    pub alpha: f64,
    /// Projections that get adapters, by name (`q_proj`, `k_proj`, `v_proj`, `o_proj`,
    /// `gate_proj`, `up_proj`, `down_proj`).
    pub targets: Vec<String>,
}

/// Projection names a LoRA target may use.
pub const LORA_TARGETS: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

/// A language model choosing among labelled actions, trained with LoRA.
pub struct LmChoiceLearner {
    lm: LanguageModel,
    /// The base model without adapters, for the KL penalty: the frozen weights are the
    /// adapted model's own tensors (shared, not copied).
    reference: CausalLm,
    inference: Option<CausalLm>,
    infer_device: Device,
    labels: Vec<String>,
    label_ids: Vec<Vec<u32>>,
    history: usize,
    ppo: PpoConfig,
    adam: Adam,
    base_sha256: String,
    trainable: usize,
}

/// The SHA-256 of a model file, or of a directory's files in name order.
pub fn model_sha256(path: &Path) -> Result<String, LearnerError> {
    let err = |p: &Path, e: std::io::Error| LearnerError::Checkpoint {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    let mut h = Sha256::new();
    let mut files = Vec::new();
    if path.is_dir() {
        for e in std::fs::read_dir(path).map_err(|e| err(path, e))? {
            let p = e.map_err(|e| err(path, e))?.path();
            if p.is_file() {
                files.push(p);
            }
        }
        files.sort();
    } else {
        files.push(path.to_owned());
    }
    for f in files {
        let mut file = std::fs::File::open(&f).map_err(|e| err(&f, e))?;
        std::io::copy(&mut file, &mut h).map_err(|e| err(&f, e))?;
    }
    Ok(format!("{:x}", h.finalize()))
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
        if lora.rank == 0 {
            problems.push("policy.lora_rank must be at least 1".into());
        }
        if !(lora.alpha > 0.0 && lora.alpha.is_finite()) {
            problems.push(format!(
                "policy.lora_alpha = {} must be a positive number",
                lora.alpha
            ));
        }
        for t in &lora.targets {
            if !LORA_TARGETS.contains(&t.as_str()) {
                problems.push(format!(
                    "policy.lora_targets: unknown projection `{t}` (valid: {})",
                    LORA_TARGETS.join(", ")
                ));
            }
        }
        if lora.targets.is_empty() {
            problems.push("policy.lora_targets must name at least one projection".into());
        }
        if labels.is_empty() {
            problems.push(
                "the environment declares no action labels; a language-model policy in choice mode chooses among labelled actions"
                    .into(),
            );
        }
        if !problems.is_empty() {
            return Err(LearnerError::Config(problems.join("; ")));
        }
        let train_device = device.clone().autodiff();
        let mut lm =
            LanguageModel::load(model, &train_device).map_err(|e| LearnerError::Model {
                path: model.display().to_string(),
                message: e.to_string(),
            })?;
        if lm.chat_template.is_none() {
            return Err(LearnerError::Model {
                path: model.display().to_string(),
                message: "the model has no chat template; choice mode needs one (an instruction-tuned model)".into(),
            });
        }
        let end = *lm.stop_ids.first().ok_or_else(|| LearnerError::Model {
            path: model.display().to_string(),
            message: "the model declares no end-of-turn or EOS token".into(),
        })?;
        let mut label_ids = Vec::with_capacity(labels.len());
        for l in labels {
            let mut ids = lm
                .tokenizer
                .encode(l, false)
                .map_err(|e| LearnerError::Model {
                    path: model.display().to_string(),
                    message: format!("tokenizing the action label `{l}`: {e}"),
                })?;
            ids.push(end);
            label_ids.push(ids);
        }
        let base_sha256 = model_sha256(model)?;
        let group = ParamGroup::from_any_predicates(
            lora.targets
                .iter()
                .map(|t| format!("{t}.weight"))
                .collect::<Vec<_>>(),
        );
        let reference = lm.net.valid();
        let net = lm
            .net
            .clone()
            .apply_lora(Lora::new(lora.rank, lora.alpha).set_param_group(group));
        let net = net.map(&mut SeededLora {
            rng: SplitMix::new(seed, 0x10a),
            std: 1.0 / lora.rank as f64,
            path: Vec::new(),
        });
        lm.net = net;
        let mut count = CountTrainable(0);
        lm.net.visit(&mut count);
        Ok(LmChoiceLearner {
            lm,
            reference,
            inference: None,
            infer_device: device.clone().without_autodiff(),
            labels: labels.to_vec(),
            label_ids,
            history,
            ppo,
            adam: Adam::new(AdamConfig::default()),
            base_sha256,
            trainable: count.0,
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
    ) -> Result<Self, LearnerError> {
        let mut l = LmChoiceLearner::new(model, device, labels, history, lora, ppo, 0)?;
        let err = |path: &Path, e: &dyn std::fmt::Display| LearnerError::Checkpoint {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let path = dir.join("base.json");
        let text = std::fs::read_to_string(&path).map_err(|e| err(&path, &e))?;
        let base: serde_json::Value = serde_json::from_str(&text).map_err(|e| err(&path, &e))?;
        let saved = base["sha256"].as_str().unwrap_or_default();
        if saved != l.base_sha256 {
            return Err(LearnerError::Checkpoint {
                path: path.display().to_string(),
                message: format!(
                    "the checkpoint was trained on a base model with SHA-256 {saved} ({}), but {} has SHA-256 {}; resume with the same model",
                    base["model"].as_str().unwrap_or("?"),
                    model.display(),
                    l.base_sha256
                ),
            });
        }
        let path = dir.join("lora.safetensors");
        let bytes = std::fs::read(&path).map_err(|e| err(&path, &e))?;
        let adapters = read_adapters(&bytes).map_err(|e| err(&path, &e))?;
        let mut restore = RestoreLora {
            saved: adapters,
            path: Vec::new(),
            restored: 0,
        };
        l.lm.net = l.lm.net.map(&mut restore);
        if restore.restored != restore.saved.len() {
            return Err(err(
                &path,
                &format!(
                    "holds {} adapter tensors, the model's LoRA settings make {}; resume with the same [policy] lora settings",
                    restore.saved.len(),
                    restore.restored
                ),
            ));
        }
        let path = dir.join("adam.bin");
        let bytes = std::fs::read(&path).map_err(|e| err(&path, &e))?;
        l.adam = Adam::from_bytes(AdamConfig::default(), &bytes, &l.infer_device)?;
        Ok(l)
    }

    /// Trainable (adapter) parameters.
    pub fn trainable_params(&self) -> usize {
        self.trainable
    }

    /// The action labels it chooses among.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Prompt token ids for a decision: `history` before, `observation` now.
    pub fn prompt_ids(
        &self,
        instruction: &str,
        history: &[Transition],
        observation: &Observation,
    ) -> Vec<u32> {
        let recent: Vec<&str> = history
            .iter()
            .rev()
            .take(self.history)
            .rev()
            .map(|t| match &t.action {
                Action::Discrete(a) => self.labels[*a as usize].as_str(),
                Action::Text(s) => s.as_str(),
            })
            .collect();
        let mask = action_mask(observation, self.labels.len());
        let text = choice_prompt(
            instruction,
            observation.text.as_deref().unwrap_or(""),
            &self.labels,
            &mask,
            &recent,
        );
        self.lm
            .prompt_ids(&text, false)
            .expect("the chat template rendered at load renders every prompt")
    }

    fn inference_net(&mut self) -> &CausalLm {
        if self.inference.is_none() {
            self.inference = Some(self.lm.net.valid());
        }
        self.inference.as_ref().expect("just set")
    }

    /// Log-probabilities over actions (invalid ones −∞) for each (prompt, mask).
    pub fn log_probs_of(&mut self, inputs: &[(&[u32], &[bool])]) -> Vec<Vec<f32>> {
        let device = self.infer_device.clone();
        let labels = self.label_ids.clone();
        let net = self.inference_net();
        // Equal prompts (copies of a task at its first screen, states revisited) are
        // scored once.
        let mut scored: HashMap<&[u32], Vec<f32>> = HashMap::new();
        inputs
            .iter()
            .map(|(prompt, mask)| {
                let scores = scored.entry(prompt).or_insert_with(|| {
                    label_scores(net, prompt, &labels, &device)
                        .into_data()
                        .try_into_vec()
                        .expect("f32 scores")
                });
                let scores = Tensor::<2>::from_data(
                    TensorData::new(scores.clone(), [1, labels.len()]),
                    &device,
                );
                let lp = ppo::masked_log_softmax(scores, invalid(&[mask], &device));
                let v: Vec<f32> = lp.into_data().try_into_vec().expect("f32 log-probs");
                v.iter()
                    .zip(mask.iter())
                    .map(|(l, ok)| if *ok { *l } else { f32::NEG_INFINITY })
                    .collect()
            })
            .collect()
    }

    /// Update on a round's samples: `epochs` passes of shuffled minibatches, one Adam
    /// step each. Samples sharing a prompt share its forward pass.
    pub fn update_on(&mut self, samples: &[StepSample], seed: u64) -> UpdateStats {
        let mut stats = UpdateStats {
            samples: samples.len(),
            ..UpdateStats::default()
        };
        if samples.is_empty() {
            return stats;
        }
        // A sample with advantage 0 adds nothing to the clipped surrogate; unless the
        // entropy bonus or the KL penalty reads it, it is dropped before minibatching
        // (a forward and backward pass through the model saved; the minibatch mean is
        // then over the samples that carry signal).
        let mut order: Vec<usize> = (0..samples.len())
            .filter(|&i| {
                samples[i].advantage != 0.0 || self.ppo.entropy_coef > 0.0 || self.ppo.kl_coef > 0.0
            })
            .collect();
        if order.is_empty() {
            return stats;
        }
        self.inference = None;
        let device = self.lm.device.clone();
        let mut rng = SplitMix::new(seed, 0xba7c);
        for _ in 0..self.ppo.epochs {
            rng.shuffle(&mut order);
            for idx in order.chunks(self.ppo.minibatch) {
                let prompts = distinct_prompts(samples, idx);
                let (per_prompt, pick) = self.scores_of(&prompts, samples, idx, &device);
                let targets = Targets::new(samples, idx, &device);
                let logp_all = ppo::masked_log_softmax(
                    per_prompt.select(0, pick.clone()),
                    targets.invalid.clone(),
                );
                let ref_all = (self.ppo.kl_coef > 0.0).then(|| {
                    let infer = self.infer_device.clone();
                    let scores: Vec<Tensor<2>> = prompts
                        .iter()
                        .map(|p| {
                            label_scores(&self.reference, p, &self.label_ids, &infer)
                                .unsqueeze_dim(0)
                        })
                        .collect();
                    ppo::masked_log_softmax(
                        Tensor::cat(scores, 0).select(0, pick.clone().inner()),
                        targets.invalid.clone().inner(),
                    )
                });
                let l = ppo::objective(logp_all, ref_all, &targets, &self.ppo);
                let grads = l.total.backward();
                let clip = (self.ppo.grad_clip > 0.0).then_some(self.ppo.grad_clip);
                let net = self.lm.net.clone();
                let (net, norm) = self.adam.step(net, &grads, self.ppo.lr, clip);
                self.lm.net = net;
                l.add_to(&mut stats, norm);
            }
        }
        ppo::average(&mut stats);
        stats
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
        let scores: Vec<Tensor<2>> = prompts
            .iter()
            .map(|p| label_scores(&self.lm.net, p, &self.label_ids, device).unsqueeze_dim(0))
            .collect();
        (
            Tensor::cat(scores, 0),
            Tensor::from_data(TensorData::new(row_of, [idx.len()]), device),
        )
    }

    /// Log-probabilities over actions of the base model without adapters, for one
    /// (prompt, mask).
    pub fn reference_log_probs(&self, prompt: &[u32], mask: &[bool]) -> Vec<f32> {
        let scores = label_scores(&self.reference, prompt, &self.label_ids, &self.infer_device);
        let lp = ppo::masked_log_softmax(
            scores.unsqueeze_dim(0),
            invalid(&[mask], &self.infer_device),
        );
        lp.into_data().try_into_vec().expect("f32 log-probs")
    }

    /// Write `lora.safetensors` (the adapter factors), `adam.bin` and `base.json` (the
    /// base model's path and SHA-256) into `dir`.
    pub fn save_files(&self, dir: &Path) -> Result<(), SaveError> {
        let err = |path: &Path, e: &dyn std::fmt::Display| SaveError {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let mut collect = CollectLora {
            path: Vec::new(),
            out: BTreeMap::new(),
        };
        self.lm.net.visit(&mut collect);
        let bytes =
            write_adapters(&collect.out).map_err(|e| err(&dir.join("lora.safetensors"), &e))?;
        let base = serde_json::json!({
            "model": self.lm.path.display().to_string(),
            "sha256": self.base_sha256,
        });
        for (name, bytes) in [
            ("lora.safetensors", bytes),
            ("adam.bin", self.adam.to_bytes()),
            (
                "base.json",
                serde_json::to_vec_pretty(&base).expect("json").to_vec(),
            ),
        ] {
            let path = dir.join(name);
            let tmp = dir.join(format!("{name}.tmp"));
            std::fs::write(&tmp, bytes).map_err(|e| err(&tmp, &e))?;
            std::fs::rename(&tmp, &path).map_err(|e| err(&path, &e))?;
        }
        Ok(())
    }

    /// Where the base model was loaded from.
    pub fn model_path(&self) -> PathBuf {
        self.lm.path.clone()
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

/// Each label's summed token log-probability as the continuation of `prompt`, `[A]`:
/// one pass over the prompt, then every label in one batch over the repeated cache.
pub fn label_scores(
    net: &CausalLm,
    prompt: &[u32],
    labels: &[Vec<u32>],
    device: &Device,
) -> Tensor<1> {
    let a = labels.len();
    let width = labels.iter().map(Vec::len).max().unwrap_or(1);
    let ids: Vec<i32> = prompt.iter().map(|&t| t as i32).collect();
    let mut cache = KvCache::new();
    let first = net.last_logits(
        Tensor::<2, Int>::from_data(TensorData::new(ids, [1, prompt.len()]), device),
        Some(&mut cache),
    );
    let v = first.dims()[1];
    let first_lp: Tensor<1> = log_softmax(first, 1).reshape([v]);
    let heads: Vec<i32> = labels.iter().map(|l| l[0] as i32).collect();
    let head_lp = first_lp.select(0, Tensor::from_data(TensorData::new(heads, [a]), device));
    if width == 1 {
        return head_lp;
    }
    // Label tokens 0..width-1 as inputs; each predicts the next one where it exists.
    let mut inputs = Vec::with_capacity(a * (width - 1));
    let mut next = Vec::with_capacity(a * (width - 1));
    let mut keep = Vec::with_capacity(a * (width - 1));
    for l in labels {
        for j in 0..width - 1 {
            inputs.push(*l.get(j).unwrap_or(&0) as i32);
            next.push(*l.get(j + 1).unwrap_or(&0) as i32);
            keep.push(if j + 1 < l.len() { 1.0f32 } else { 0.0 });
        }
    }
    let mut cache = cache.repeat(a);
    let h = net.hidden(
        Tensor::from_data(TensorData::new(inputs, [a, width - 1]), device),
        Some(&mut cache),
    );
    let lp = log_softmax(net.logits(h), 2);
    let picked: Tensor<2> = lp
        .gather(
            2,
            Tensor::<3, Int>::from_data(TensorData::new(next, [a, width - 1, 1]), device),
        )
        .reshape([a, width - 1]);
    let keep = Tensor::<2>::from_data(TensorData::new(keep, [a, width - 1]), device);
    head_lp + (picked * keep).sum_dim(1).reshape([a])
}

impl Policy for LmChoiceLearner {
    fn parts(&self) -> ObservationParts {
        ObservationParts {
            text: true,
            ..ObservationParts::default()
        }
    }

    fn check(&self, observation: &Observation) -> Result<(), String> {
        match observation.text {
            Some(_) => Ok(()),
            None => Err(
                "the observation carries no text; a language-model policy reads the text rendering"
                    .into(),
            ),
        }
    }

    fn act(
        &mut self,
        views: &[View<'_>],
        sampling: Sampling,
        rngs: &mut [&mut SplitMix],
    ) -> Vec<Decision> {
        let n = self.labels.len();
        let prompts: Vec<Vec<u32>> = views
            .iter()
            .map(|v| self.prompt_ids(v.instruction, v.history, v.observation))
            .collect();
        let masks: Vec<Vec<bool>> = views
            .iter()
            .map(|v| action_mask(v.observation, n))
            .collect();
        let inputs: Vec<(&[u32], &[bool])> = prompts
            .iter()
            .zip(&masks)
            .map(|(p, m)| (p.as_slice(), m.as_slice()))
            .collect();
        discrete_decisions(&self.log_probs_of(&inputs), sampling, rngs)
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
        }
    }
}

impl Learner for LmChoiceLearner {
    fn num_params(&self) -> usize {
        self.trainable
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
        let mut adam = Adam::new(AdamConfig::default());
        let device = self.lm.device.clone();
        let mut rng = SplitMix::new(seed, 0xbc);
        let mut order: Vec<usize> = (0..samples.len()).collect();
        let (mut first, mut last) = (0.0, 0.0);
        self.inference = None;
        for epoch in 0..epochs {
            rng.shuffle(&mut order);
            let (mut sum, mut n) = (0.0f32, 0);
            for idx in order.chunks(self.ppo.minibatch) {
                let prompts = distinct_prompts(samples, idx);
                let (per_prompt, pick) = self.scores_of(&prompts, samples, idx, &device);
                let targets = Targets::new(samples, idx, &device);
                let logp_all =
                    ppo::masked_log_softmax(per_prompt.select(0, pick), targets.invalid.clone());
                let loss = ppo::nll(logp_all, &targets);
                sum += loss.clone().inner().into_scalar::<f32>();
                n += 1;
                let grads = loss.backward();
                let clip = (self.ppo.grad_clip > 0.0).then_some(self.ppo.grad_clip);
                let net = self.lm.net.clone();
                self.lm.net = adam.step(net, &grads, lr, clip).0;
            }
            let mean = sum / n.max(1) as f32;
            if epoch == 0 {
                first = mean;
            }
            last = mean;
        }
        (first, last)
    }

    fn update(&mut self, samples: &[StepSample], seed: u64) -> UpdateStats {
        self.update_on(samples, seed)
    }

    fn save(&self, dir: &Path) -> Result<(), SaveError> {
        self.save_files(dir)
    }
}

/// Replaces the LoRA factors burn initialized from its global generator with seeded
/// ones: A ~ N(0, std²) from our generator, B = 0 (so the model starts as the base).
struct SeededLora {
    rng: SplitMix,
    std: f64,
    path: Vec<String>,
}

impl SeededLora {
    fn normal(&mut self) -> f32 {
        let u1 = 1.0 - self.rng.unit();
        let u2 = self.rng.unit();
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos() * self.std) as f32
    }
}

impl ModuleMapper for SeededLora {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_owned());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if !self.path.iter().any(|p| p == "lora") {
            return param;
        }
        let (id, tensor, mapper) = param.consume();
        let dims = tensor.dims();
        let n: usize = dims.iter().product();
        let values: Vec<f32> = match self.path.last().map(String::as_str) {
            Some("a") => (0..n).map(|_| self.normal()).collect(),
            _ => vec![0.0; n],
        };
        let t =
            Tensor::<D>::from_data(TensorData::new(values, dims), &tensor.device()).require_grad();
        Param::from_mapped_value(id, t, mapper)
    }
}

/// Counts the elements of trainable parameters.
struct CountTrainable(usize);

impl ModuleVisitor for CountTrainable {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if param.val().is_require_grad() {
            self.0 += param.val().dims().iter().product::<usize>();
        }
    }
}

/// One saved adapter factor: parameter id, shape, values.
type Saved = (u64, Vec<usize>, Vec<f32>);

/// Collects the adapter factors by module path.
struct CollectLora {
    path: Vec<String>,
    out: BTreeMap<String, Saved>,
}

impl ModuleVisitor for CollectLora {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_owned());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !self.path.iter().any(|p| p == "lora") {
            return;
        }
        let t = param.val();
        let dims = t.dims().to_vec();
        let v: Vec<f32> = t
            .into_data()
            .convert::<f32>()
            .try_into_vec()
            .expect("f32 adapter");
        self.out
            .insert(self.path.join("."), (param.id.val(), dims, v));
    }
}

/// Puts saved adapter factors (and their parameter ids, which key the optimizer state)
/// back by module path.
struct RestoreLora {
    saved: BTreeMap<String, Saved>,
    path: Vec<String>,
    restored: usize,
}

impl ModuleMapper for RestoreLora {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_owned());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let key = self.path.join(".");
        let Some((id, dims, values)) = self.saved.get(&key) else {
            return param;
        };
        if param.val().dims().to_vec() != *dims {
            return param;
        }
        let (_, tensor, mapper) = param.consume();
        self.restored += 1;
        let shape: [usize; D] = dims.clone().try_into().expect("rank checked");
        let t = Tensor::<D>::from_data(TensorData::new(values.clone(), shape), &tensor.device())
            .require_grad();
        Param::from_mapped_value(ParamId::from(*id), t, mapper)
    }
}

fn write_adapters(
    adapters: &BTreeMap<String, Saved>,
) -> Result<Vec<u8>, safetensors::SafeTensorError> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = adapters
        .iter()
        .map(|(k, (_, dims, v))| {
            (
                k.clone(),
                dims.clone(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = bytes
        .iter()
        .map(|(k, dims, b)| {
            (
                k.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, dims.clone(), b)
                    .expect("shape matches data"),
            )
        })
        .collect();
    let ids: HashMap<String, String> = adapters
        .iter()
        .map(|(k, (id, _, _))| (k.clone(), id.to_string()))
        .collect();
    safetensors::serialize(views, Some(ids))
}

fn read_adapters(bytes: &[u8]) -> Result<BTreeMap<String, Saved>, String> {
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| e.to_string())?;
    let ids = meta.metadata().clone().unwrap_or_default();
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != safetensors::Dtype::F32 {
            return Err(format!("tensor `{name}` is not F32"));
        }
        let id: u64 = ids
            .get(&name)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("tensor `{name}` has no parameter id in the metadata"))?;
        let v: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        out.insert(name, (id, view.shape().to_vec(), v));
    }
    Ok(out)
}

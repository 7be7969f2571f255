//! A pretrained language model that writes its actions ("generate mode"): the reply to
//! the prompt ([`crate::prompt::generate_prompt`]) is sampled token by token (temperature,
//! top-p, a token budget, stop strings, the model's end-of-turn tokens) and sent to the
//! environment as a `text` action, with every token's log-probability kept. The update
//! is PPO over those tokens: each token's ratio is clipped on its own and carries its
//! step's advantage; a step's loss is the mean over its tokens, and the minibatch's the
//! weighted mean over its steps ("sequence-mean of token-means"), so one decision counts
//! once however long its text, as in choice mode and for the token networks. The model,
//! its LoRA adapters and its checkpoint files are [`crate::lm_base::LoraLm`]'s.
//!
//! Log-probabilities are those of the tempered distribution softmax(logits / T), in
//! acting and in training alike, so the ratio is 1 before the first update; top-p only
//! narrows which tokens are drawn (its truncation is not part of the log-probability).

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use steprl_core::{
    Action, Candidates, Completion, Decision, Learner, Observation, ObservationParts, Policy,
    Sampling, SaveError, SplitMix, State, StepSample, Transition, UpdateStats, View,
};
use steprl_lm::{CausalLm, KvCache, LanguageModel, Layout};

use crate::learner::LearnerError;
use crate::lm_base::{LoraLm, LoraSettings, LoraTraining, check_text, text_parts};
use crate::ppo::{Loss, PpoConfig};
use crate::prompt::generate_prompt;

/// How a generating policy writes a reply.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateSettings {
    /// Sampling temperature T (> 0); log-probabilities are those of softmax(logits / T).
    pub temperature: f32,
    /// Nucleus mass in (0, 1] tokens are drawn from while training.
    pub top_p: f32,
    /// Most tokens in one reply.
    pub max_new_tokens: usize,
    /// Strings that end a reply (the text stops before the first; the token that
    /// completed it is kept, so the model learns to stop).
    pub stop: Vec<String>,
    /// How to write an action, the prompt's last line (empty: "Reply with the next
    /// action only.").
    pub action_hint: String,
}

impl Default for GenerateSettings {
    fn default() -> Self {
        GenerateSettings {
            temperature: 1.0,
            top_p: 1.0,
            max_new_tokens: 64,
            stop: Vec::new(),
            action_hint: String::new(),
        }
    }
}

impl GenerateSettings {
    /// Problems with these settings (empty = fine).
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            p.push(format!(
                "policy.temperature = {} must be a positive number",
                self.temperature
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            p.push(format!("policy.top_p = {} must lie in (0, 1]", self.top_p));
        }
        if self.max_new_tokens == 0 {
            p.push("policy.max_new_tokens must be at least 1".into());
        }
        if self.stop.iter().any(String::is_empty) {
            p.push("policy.stop must not hold an empty string".into());
        }
        p
    }
}

/// A language model writing text actions, trained with LoRA.
pub struct LmGenerateLearner {
    base: LoraLm,
    settings: GenerateSettings,
    history: usize,
    ppo: PpoConfig,
}

/// One reply: its text (stop string and special tokens left out) and its tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The text sent as the action.
    pub text: String,
    /// The tokens and their log-probabilities.
    pub completion: Completion,
}

impl LmGenerateLearner {
    /// Load the model at `model` on `device` (autodiff on) and attach seeded LoRA
    /// adapters.
    pub fn new(
        model: &Path,
        device: &Device,
        settings: GenerateSettings,
        history: usize,
        lora: &LoraSettings,
        ppo: PpoConfig,
        seed: u64,
    ) -> Result<Self, LearnerError> {
        let mut problems = ppo.problems();
        problems.extend(settings.problems());
        let base = LoraLm::new(model, device, lora, problems, seed)?;
        Ok(LmGenerateLearner {
            base,
            settings,
            history,
            ppo,
        })
    }

    /// Restore a learner saved by [`LmGenerateLearner::save_files`]; refuses a
    /// checkpoint of another base model.
    #[allow(clippy::too_many_arguments)]
    pub fn load(
        dir: &Path,
        model: &Path,
        device: &Device,
        settings: GenerateSettings,
        history: usize,
        lora: &LoraSettings,
        ppo: PpoConfig,
        purpose: crate::LoadFor,
    ) -> Result<Self, LearnerError> {
        let mut l = LmGenerateLearner::new(model, device, settings, history, lora, ppo, 0)?;
        l.base.restore(dir, model, purpose)?;
        Ok(l)
    }

    /// Trainable (adapter) parameters.
    pub fn trainable_params(&self) -> usize {
        self.base.trainable_params()
    }

    /// Where the base model was loaded from.
    pub fn model_path(&self) -> PathBuf {
        self.base.lm.path.clone()
    }

    /// Write `lora.safetensors`, `adam.bin` and `base.json` into `dir`.
    pub fn save_files(&self, dir: &Path) -> Result<(), SaveError> {
        self.base.save_files(dir)
    }

    /// Prompt token ids for a decision: `history` before, `observation` now. An
    /// observation too long for the model's context with room for a reply is cut
    /// (its end dropped) until the prompt fits.
    pub fn prompt_ids(
        &self,
        instruction: &str,
        history: &[Transition],
        observation: &Observation,
    ) -> Vec<u32> {
        prompt_ids(
            &self.base.lm,
            &self.settings,
            self.history,
            instruction,
            history,
            observation,
        )
    }

    /// A reply to `prompt`: sampled from the tempered distribution within the top-p
    /// nucleus with `rng`, or the most likely token at each step.
    pub fn reply(&mut self, prompt: &[u32], sampling: Sampling, rng: &mut SplitMix) -> Reply {
        self.replies(&[prompt], sampling, &mut [rng])
            .pop()
            .expect("one reply per prompt")
    }

    /// One reply per prompt, the lanes decoded together: the prompts, right-padded,
    /// fill one KV cache in one pass, then every step feeds each lane's last token at
    /// its own position, reading its own prompt's real tokens and its own reply
    /// ([`steprl_lm::Layout`]). Lane `i` draws with `rngs[i]` only, so its reply is the
    /// one it would write alone (up to float rounding); a finished lane rides along
    /// until the last one ends.
    pub fn replies(
        &mut self,
        prompts: &[&[u32]],
        sampling: Sampling,
        rngs: &mut [&mut SplitMix],
    ) -> Vec<Reply> {
        self.base.inference_net();
        let net = self.base.inference_copy();
        let device = self.base.infer_device.clone();
        replies(
            &net,
            &self.base.lm,
            &self.settings,
            &device,
            prompts,
            sampling,
            rngs,
        )
    }

    /// The tokens of a text action the policy did not generate (a demonstration): the
    /// text's tokens and the end-of-turn token.
    pub fn text_tokens(&self, text: &str) -> Vec<u32> {
        let mut ids = self
            .base
            .lm
            .tokenizer
            .encode(text, false)
            .unwrap_or_default();
        ids.push(self.base.lm.stop_ids[0]);
        ids
    }

    /// log π of each completion token of samples `idx` under `net` (`[B, T]`, padded
    /// with 0 past each completion), the full tempered log-probabilities `[B, T, V]`,
    /// and the 0/1 mask of real tokens `[B, T]`.
    fn token_log_probs(
        &self,
        net: &CausalLm,
        samples: &[StepSample],
        idx: &[usize],
        device: &Device,
    ) -> (Tensor<2>, Tensor<3>, Tensor<2>) {
        let b = idx.len();
        let t = completion_width(samples, idx);
        // Each input is the prompt and the completion but its last token; position
        // len(prompt) − 1 + j predicts completion token j. Right padding never reaches
        // the positions read (attention is causal).
        let l = idx
            .iter()
            .map(|&i| samples[i].context.len() + samples[i].completion.len() - 1)
            .max()
            .unwrap_or(1);
        let mut input = vec![0i32; b * l];
        let mut at = vec![0i32; b * t];
        let mut target = vec![0i32; b * t];
        let mut keep = vec![0f32; b * t];
        for (r, &i) in idx.iter().enumerate() {
            let s = &samples[i];
            let seq: Vec<u32> = s
                .context
                .iter()
                .chain(&s.completion[..s.completion.len() - 1])
                .copied()
                .collect();
            for (k, tok) in seq.iter().enumerate() {
                input[r * l + k] = *tok as i32;
            }
            for (j, tok) in s.completion.iter().enumerate() {
                let p = (s.context.len() - 1 + j) as i32;
                at[r * t + j] = p;
                target[r * t + j] = *tok as i32;
                keep[r * t + j] = 1.0;
            }
        }
        let hidden = net.hidden(
            Tensor::from_data(TensorData::new(input, [b, l]), device),
            None,
        );
        let d = hidden.dims()[2];
        let at: Vec<i32> = at.iter().flat_map(|p| std::iter::repeat_n(*p, d)).collect();
        let picked = hidden.gather(
            1,
            Tensor::<3, Int>::from_data(TensorData::new(at, [b, t, d]), device),
        );
        let lp_all = log_softmax(
            net.logits(picked)
                .div_scalar(f64::from(self.settings.temperature)),
            2,
        );
        let logp = lp_all
            .clone()
            .gather(
                2,
                Tensor::<3, Int>::from_data(TensorData::new(target, [b, t, 1]), device),
            )
            .reshape([b, t]);
        let keep = Tensor::<2>::from_data(TensorData::new(keep, [b, t]), device);
        (logp * keep.clone(), lp_all, keep)
    }

    /// Update on a round's samples: `epochs` passes of shuffled minibatches, one Adam
    /// step each over the minibatch's micro-batches.
    pub fn update_on(&mut self, samples: &[StepSample], seed: u64) -> UpdateStats {
        // Samples without their tokens' behaviour log-probabilities (demonstrations)
        // cannot form ratios; zero-advantage samples carry no signal unless the entropy
        // bonus or the KL penalty reads them.
        let order: Vec<usize> = (0..samples.len())
            .filter(|&i| {
                let s = &samples[i];
                !s.completion.is_empty()
                    && s.token_logps.len() == s.completion.len()
                    && (s.advantage != 0.0 || self.ppo.entropy_coef > 0.0 || self.ppo.kl_coef > 0.0)
            })
            .collect();
        self.run_update(samples, order, seed)
    }

    /// log π of each sample's whole completion (the sum over its tokens) under the
    /// current adapters, for tests and diagnostics.
    pub fn sequence_log_probs(&self, samples: &[StepSample]) -> Vec<f32> {
        self.completion_log_probs(samples)
            .iter()
            .map(|v| v.iter().sum())
            .collect()
    }

    /// log π of each completion token of each sample under the current adapters.
    pub fn completion_log_probs(&self, samples: &[StepSample]) -> Vec<Vec<f32>> {
        let idx: Vec<usize> = (0..samples.len()).collect();
        let net = self.base.lm.net.valid();
        let (logp, _, _) = self.token_log_probs(&net, samples, &idx, &self.base.infer_device);
        let t = logp.dims()[1];
        let flat: Vec<f32> = logp.into_data().try_into_vec().expect("f32 log-probs");
        samples
            .iter()
            .enumerate()
            .map(|(r, s)| flat[r * t..r * t + s.completion.len()].to_vec())
            .collect()
    }

    fn sample(&self, instruction: &str, steps: &[Transition], t: usize, adv: f32) -> StepSample {
        let s = &steps[t];
        let (completion, token_logps) = match (&s.completion, &s.action) {
            (Some(c), _) => (c.tokens.clone(), c.logps.clone()),
            (None, Action::Text(text)) => (self.text_tokens(text), Vec::new()),
            (None, Action::Discrete(a)) => (self.text_tokens(&format!("action {a}")), Vec::new()),
        };
        StepSample {
            context: self.prompt_ids(instruction, &steps[..t], &s.observation),
            old_logp: s.logp,
            advantage: adv,
            weight: 1.0,
            completion,
            token_logps,
            ..StepSample::default()
        }
    }
}

/// The longest completion among samples `idx` (at least 1).
fn completion_width(samples: &[StepSample], idx: &[usize]) -> usize {
    idx.iter()
        .map(|&i| samples[i].completion.len())
        .max()
        .unwrap_or(1)
        .max(1)
}

/// The `p` rows of logits (`[p, vocab]` or `[p, 1, vocab]`), each as a vector.
fn rows<const D: usize>(logits: Tensor<D>, p: usize) -> Vec<Vec<f32>> {
    let v: Vec<f32> = logits.into_data().try_into_vec().expect("f32 logits");
    let n = v.len() / p;
    v.chunks(n).map(<[f32]>::to_vec).collect()
}

/// log softmax(logits / T), accumulated in f64.
fn tempered_log_softmax(logits: &[f32], temperature: f32) -> Vec<f32> {
    let t = f64::from(temperature);
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64 / t;
    let sum: f64 = logits.iter().map(|&x| (x as f64 / t - max).exp()).sum();
    let lse = max + sum.ln();
    logits
        .iter()
        .map(|&x| (x as f64 / t - lse) as f32)
        .collect()
}

fn argmax(lp: &[f32]) -> u32 {
    let mut best = 0;
    for (i, l) in lp.iter().enumerate() {
        if *l > lp[best] {
            best = i;
        }
    }
    best as u32
}

/// A token drawn from the smallest set of most likely tokens whose mass reaches `top_p`.
fn nucleus(lp: &[f32], top_p: f32, rng: &mut SplitMix) -> u32 {
    if top_p >= 1.0 {
        let w: Vec<f64> = lp.iter().map(|l| f64::from(*l).exp()).collect();
        return rng.weighted(&w) as u32;
    }
    let mut order: Vec<u32> = (0..lp.len() as u32).collect();
    order.sort_by(|&a, &b| lp[b as usize].total_cmp(&lp[a as usize]).then(a.cmp(&b)));
    let mut kept = Vec::new();
    let mut mass = 0.0;
    for id in &order {
        let p = f64::from(lp[*id as usize]).exp();
        kept.push(p);
        mass += p;
        if mass >= f64::from(top_p) {
            break;
        }
    }
    order[rng.weighted(&kept)]
}

/// The prompt token ids of a decision: the last `keep` actions of `history` before,
/// `observation` now, cut (its end dropped) until the prompt leaves room for a reply.
fn prompt_ids(
    lm: &LanguageModel,
    settings: &GenerateSettings,
    keep: usize,
    instruction: &str,
    history: &[Transition],
    observation: &Observation,
) -> Vec<u32> {
    let recent: Vec<String> = history
        .iter()
        .rev()
        .take(keep)
        .rev()
        .map(|t| match &t.action {
            Action::Discrete(a) => format!("action {a}"),
            Action::Text(s) => s.clone(),
        })
        .collect();
    let recent: Vec<&str> = recent.iter().map(String::as_str).collect();
    let room = lm
        .config
        .max_position_embeddings
        .saturating_sub(settings.max_new_tokens + 1);
    let mut obs: &str = observation.text.as_deref().unwrap_or("");
    loop {
        let text = generate_prompt(instruction, obs, &recent, &settings.action_hint);
        let ids = lm
            .prompt_ids(&text, false)
            .expect("the chat template rendered at load renders every prompt");
        if ids.len() <= room || obs.is_empty() {
            return ids;
        }
        let mut keep = obs.len() * room / ids.len();
        keep = keep.min(obs.len() - 1);
        while !obs.is_char_boundary(keep) {
            keep -= 1;
        }
        obs = &obs[..keep];
    }
}

/// One reply per prompt under `net`, the lanes decoded together (see
/// [`LmGenerateLearner::replies`]).
fn replies(
    net: &CausalLm,
    lm: &LanguageModel,
    s: &GenerateSettings,
    device: &Device,
    prompts: &[&[u32]],
    sampling: Sampling,
    rngs: &mut [&mut SplitMix],
) -> Vec<Reply> {
    let stop_ids = &lm.stop_ids;
    let ctx = lm.config.max_position_embeddings;
    let p = prompts.len();
    let lens: Vec<usize> = prompts.iter().map(|q| q.len()).collect();
    let l = lens.iter().copied().max().unwrap_or(1);
    let mut cache = KvCache::new();
    let mut logits = rows(net.prefill_last_logits(prompts, &mut cache, device), p);
    let mut completions = vec![Completion::default(); p];
    let mut cuts: Vec<Option<usize>> = vec![None; p];
    let mut done = vec![false; p];
    let mut fed = 0;
    loop {
        for r in 0..p {
            if done[r] {
                continue;
            }
            let lp = tempered_log_softmax(&logits[r], s.temperature);
            let token = match sampling {
                Sampling::Greedy => argmax(&lp),
                Sampling::Sample => nucleus(&lp, s.top_p, &mut *rngs[r]),
            };
            let c = &mut completions[r];
            c.tokens.push(token);
            c.logps.push(lp[token as usize]);
            if stop_ids.contains(&token) {
                done[r] = true;
                continue;
            }
            if !s.stop.is_empty() {
                let text = decode(lm, &completions[r].tokens);
                if let Some(at) = s.stop.iter().filter_map(|x| text.find(x.as_str())).min() {
                    cuts[r] = Some(at);
                    done[r] = true;
                    continue;
                }
            }
            let n = completions[r].tokens.len();
            if n >= s.max_new_tokens || lens[r] + n >= ctx {
                done[r] = true;
            }
        }
        if done.iter().all(|x| *x) {
            break;
        }
        // Each lane's newest token at its own position; it reads its prompt's real
        // tokens and the tokens fed for it so far.
        let total = l + fed + 1;
        let mut attends = vec![false; p * total];
        for (r, len) in lens.iter().enumerate() {
            let row = &mut attends[r * total..][..total];
            row[..*len].fill(true);
            row[l..].fill(true);
        }
        let layout = Layout {
            positions: lens.iter().map(|n| n + fed).collect(),
            attends,
        };
        let next: Vec<i32> = completions
            .iter()
            .map(|c| *c.tokens.last().expect("a token per lane") as i32)
            .collect();
        let h = net.hidden_at(
            Tensor::<2, Int>::from_data(TensorData::new(next, [p, 1]), device),
            &layout,
            Some(&mut cache),
        );
        logits = rows(net.logits(h), p);
        fed += 1;
    }
    completions
        .into_iter()
        .zip(cuts)
        .map(|(completion, cut)| {
            let mut text = decode(lm, &completion.tokens);
            if let Some(at) = cut {
                text.truncate(at);
            }
            Reply {
                text: text.trim().to_owned(),
                completion,
            }
        })
        .collect()
}

fn decode(lm: &LanguageModel, tokens: &[u32]) -> String {
    lm.tokenizer.decode(tokens, true).unwrap_or_default()
}

/// A frozen copy of an [`LmGenerateLearner`]'s policy at one version of its adapters,
/// writing exactly the replies the learner did when the copy was made. The weights
/// are the learner's tensors at that version, shared, not copied.
struct GenerateSnapshot {
    /// For prompts and decoding (tokenizer, chat template, stop ids).
    lm: LanguageModel,
    net: CausalLm,
    settings: GenerateSettings,
    history: usize,
    device: Device,
}

impl Policy for GenerateSnapshot {
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
        let prompts: Vec<Vec<u32>> = views
            .iter()
            .map(|v| {
                prompt_ids(
                    &self.lm,
                    &self.settings,
                    self.history,
                    v.instruction,
                    v.history,
                    v.observation,
                )
            })
            .collect();
        let refs: Vec<&[u32]> = prompts.iter().map(Vec::as_slice).collect();
        let r = replies(
            &self.net,
            &self.lm,
            &self.settings,
            &self.device,
            &refs,
            sampling,
            rngs,
        );
        text_decisions(r)
    }
}

/// Each reply as a text action with its summed log-probability.
fn text_decisions(replies: Vec<Reply>) -> Vec<Decision> {
    replies
        .into_iter()
        .map(|r| Decision {
            action: Action::Text(r.text),
            logp: r.completion.logps.iter().sum(),
            completion: Some(r.completion),
        })
        .collect()
}

impl Policy for LmGenerateLearner {
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
        let prompts: Vec<Vec<u32>> = views
            .iter()
            .map(|v| self.prompt_ids(v.instruction, v.history, v.observation))
            .collect();
        let refs: Vec<&[u32]> = prompts.iter().map(Vec::as_slice).collect();
        text_decisions(self.replies(&refs, sampling, rngs))
    }
}

/// Augmentation draws decoded together at most (each a lane with its own KV cache rows).
pub const CANDIDATE_LANES: usize = 16;

impl Learner for LmGenerateLearner {
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

    /// Every draw of every state is one lane of [`Self::replies`], decoded together
    /// up to [`CANDIDATE_LANES`] at a time; draw `j` of state `i` samples from its own
    /// stream `(seeds[i], j)`, so it is the reply it would be alone.
    fn candidates(&mut self, states: &[State<'_>], group: u32, seeds: &[u64]) -> Vec<Candidates> {
        let recorded: Vec<StepSample> = states
            .iter()
            .map(|s| self.sample(s.instruction, s.steps, s.t, 0.0))
            .collect();
        let lanes: Vec<(usize, u64)> = (0..states.len())
            .flat_map(|i| (0..group as u64).map(move |j| (i, j)))
            .collect();
        let mut draws: Vec<Vec<StepSample>> = vec![Vec::new(); states.len()];
        for chunk in lanes.chunks(CANDIDATE_LANES) {
            let prompts: Vec<&[u32]> = chunk
                .iter()
                .map(|(i, _)| recorded[*i].context.as_slice())
                .collect();
            let mut streams: Vec<SplitMix> = chunk
                .iter()
                .map(|(i, j)| SplitMix::new(seeds[*i], *j))
                .collect();
            let mut rngs: Vec<&mut SplitMix> = streams.iter_mut().collect();
            let replies = self.replies(&prompts, Sampling::Sample, &mut rngs);
            for ((i, _), r) in chunk.iter().zip(replies) {
                draws[*i].push(StepSample {
                    old_logp: r.completion.logps.iter().sum(),
                    completion: r.completion.tokens,
                    token_logps: r.completion.logps,
                    ..recorded[*i].clone()
                });
            }
        }
        recorded
            .into_iter()
            .zip(draws)
            .map(|(recorded, draws)| Candidates { recorded, draws })
            .collect()
    }

    fn imitate(&mut self, samples: &[StepSample], epochs: u32, lr: f64, seed: u64) -> (f32, f32) {
        let order: Vec<usize> = (0..samples.len())
            .filter(|&i| !samples[i].completion.is_empty())
            .collect();
        self.run_imitation(samples, order, epochs, lr, seed)
    }

    fn update(&mut self, samples: &[StepSample], seed: u64) -> UpdateStats {
        self.update_on(samples, seed)
    }

    fn save(&self, dir: &Path) -> Result<(), SaveError> {
        self.save_files(dir)
    }

    fn snapshot(&self) -> Box<dyn Policy> {
        Box::new(GenerateSnapshot {
            lm: self.base.lm.clone(),
            net: self.base.inference_copy(),
            settings: self.settings.clone(),
            history: self.history,
            device: self.base.infer_device.clone(),
        })
    }
}

impl LoraTraining for LmGenerateLearner {
    fn lora_mut(&mut self) -> &mut LoraLm {
        &mut self.base
    }

    fn ppo(&self) -> &PpoConfig {
        &self.ppo
    }

    /// The PPO loss over the completion tokens of samples `idx` (see the module docs).
    fn micro_loss(&self, samples: &[StepSample], idx: &[usize]) -> Loss {
        let device = &self.base.lm.device;
        let b = idx.len();
        let t = completion_width(samples, idx);
        let (logp, lp_all, keep) = self.token_log_probs(&self.base.lm.net, samples, idx, device);
        let col = |f: &dyn Fn(&StepSample) -> f32| -> Tensor<2> {
            let v: Vec<f32> = idx.iter().map(|&i| f(&samples[i])).collect();
            Tensor::from_data(TensorData::new(v, [b, 1]), device)
        };
        let mut old = vec![0f32; b * t];
        for (r, &i) in idx.iter().enumerate() {
            old[r * t..r * t + samples[i].token_logps.len()]
                .copy_from_slice(&samples[i].token_logps);
        }
        let old = Tensor::<2>::from_data(TensorData::new(old, [b, t]), device);
        let count = keep.clone().sum_dim(1); // [B, 1]
        let adv = col(&|s| s.advantage);
        let weights = col(&|s| s.weight);
        let log_ratio = (logp.clone() - old) * keep.clone();
        let ratio = log_ratio.clone().exp();
        let s1 = ratio.clone() * adv.clone();
        let s2 = ratio
            .clone()
            .clamp(1.0 - self.ppo.clip, 1.0 + self.ppo.clip)
            * adv;
        let per_step = (s1.min_pair(s2) * keep.clone()).sum_dim(1) / count.clone();
        let policy = (per_step * weights).sum().div_scalar(b as f64).neg();
        let token_entropy = (lp_all.clone().exp() * lp_all)
            .sum_dim(2)
            .reshape([b, t])
            .neg();
        let entropy = ((token_entropy * keep.clone()).sum_dim(1) / count.clone()).mean();
        let mut total = policy.clone();
        if self.ppo.entropy_coef > 0.0 {
            total = total - entropy.clone().mul_scalar(self.ppo.entropy_coef);
        }
        let mut kl_ref = 0.0;
        if self.ppo.kl_coef > 0.0 {
            let infer = self.base.infer_device.clone();
            let (ref_logp, _, _) = self.token_log_probs(&self.base.reference, samples, idx, &infer);
            let d = (Tensor::<2>::from_inner(ref_logp) - logp.clone()) * keep.clone();
            let k3 =
                ((d.clone().exp() - d).sub_scalar(1.0) * keep.clone()).sum_dim(1) / count.clone();
            let k3 = k3.mean();
            kl_ref = k3.clone().inner().into_scalar::<f32>();
            total = total + k3.mul_scalar(self.ppo.kl_coef);
        }
        let n_tokens = keep.clone().sum().inner().into_scalar::<f32>().max(1.0);
        let lr = log_ratio.inner();
        let r = ratio.inner();
        let k = keep.inner();
        let approx_kl = ((r.clone().sub_scalar(1.0) - lr) * k.clone())
            .sum()
            .into_scalar::<f32>()
            / n_tokens;
        let clip_frac = (r.sub_scalar(1.0).abs().greater_elem(self.ppo.clip).float() * k)
            .sum()
            .into_scalar::<f32>()
            / n_tokens;
        Loss {
            policy: policy.inner().into_scalar::<f32>(),
            entropy: entropy.inner().into_scalar::<f32>(),
            approx_kl,
            clip_frac,
            kl_ref,
            total,
        }
    }

    /// −(mean over each step's tokens of log π), averaged over the steps.
    fn micro_nll(&self, samples: &[StepSample], idx: &[usize]) -> Tensor<1> {
        let (logp, _, keep) =
            self.token_log_probs(&self.base.lm.net, samples, idx, &self.base.lm.device);
        (logp.sum_dim(1) / keep.sum_dim(1)).mean().neg()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tempered_log_probs_normalize_and_flatten_with_temperature() {
        let logits = [1.0, 2.0, 3.0];
        for t in [0.5, 1.0, 2.0] {
            let lp = tempered_log_softmax(&logits, t);
            let total: f64 = lp.iter().map(|l| f64::from(*l).exp()).sum();
            assert!((total - 1.0).abs() < 1e-6);
        }
        let sharp = tempered_log_softmax(&logits, 0.5);
        let flat = tempered_log_softmax(&logits, 2.0);
        assert!(sharp[2] > flat[2] && sharp[0] < flat[0]);
    }

    #[test]
    fn the_nucleus_keeps_the_most_likely_tokens_only() {
        let lp = tempered_log_softmax(&[0.0, 5.0, 4.9, -1.0], 1.0);
        let mut rng = SplitMix::new(1, 0);
        let draws: Vec<u32> = (0..200).map(|_| nucleus(&lp, 0.9, &mut rng)).collect();
        assert!(draws.iter().all(|d| *d == 1 || *d == 2), "{draws:?}");
        assert!(draws.contains(&1) && draws.contains(&2));
        let draws: Vec<u32> = (0..200).map(|_| nucleus(&lp, 0.01, &mut rng)).collect();
        assert!(draws.iter().all(|d| *d == 1));
        let all: Vec<u32> = (0..2000).map(|_| nucleus(&lp, 1.0, &mut rng)).collect();
        assert!(all.contains(&0), "top_p = 1 draws from every token");
    }
}

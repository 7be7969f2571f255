//! What both language-model policies share: the pretrained model loaded with seeded
//! LoRA adapters on the chosen projections (the only trained weights), the frozen base
//! for the KL penalty (the same tensors, without the adapters), an inference copy
//! refreshed after each update, Adam over the adapters, and the checkpoint files
//! (`lora.safetensors`, `adam.bin`, `base.json` with the base model's SHA-256).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use burn::module::{Lora, Module, ModuleMapper, ModuleVisitor, Param, ParamGroup, ParamId};
use burn::tensor::{Device, Gradients, Tensor, TensorData};
use sha2::{Digest, Sha256};
use steprl_core::seeds::stream;
use steprl_core::{Observation, ObservationParts, SaveError, SplitMix, StepSample, UpdateStats};
use steprl_lm::export::Change;
use steprl_lm::weights::HostTensor;
use steprl_lm::{CausalLm, LanguageModel};

use crate::adam::{Adam, AdamConfig};
use crate::learner::LearnerError;
use crate::ppo::{self, Accumulated, Loss, PpoConfig, micro_batches};

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
    /// Dropout on the adapters' input path while training (peft's `lora_dropout`; 0 =
    /// none). Acting, evaluation and the KL reference never drop.
    pub dropout: f64,
    /// Full fine-tuning instead of adapters: every decoder layer's projection weights
    /// (and biases) train; the embedding, the norms and the output head stay frozen.
    /// The other settings are then not read.
    pub full: bool,
}

/// The checkpoint file of the trained weights: the adapter factors, or with full
/// fine-tuning the decoder layers' projections.
pub fn trained_file(full: bool) -> &'static str {
    if full {
        "weights.safetensors"
    } else {
        "lora.safetensors"
    }
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

impl LoraSettings {
    /// Problems with these settings (empty = fine).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.full {
            return problems;
        }
        if self.rank == 0 {
            problems.push("policy.lora_rank must be at least 1".into());
        }
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            problems.push(format!(
                "policy.lora_alpha = {} must be a positive number",
                self.alpha
            ));
        }
        for t in &self.targets {
            if !LORA_TARGETS.contains(&t.as_str()) {
                problems.push(format!(
                    "policy.lora_targets: unknown projection `{t}` (valid: {})",
                    LORA_TARGETS.join(", ")
                ));
            }
        }
        if self.targets.is_empty() {
            problems.push("policy.lora_targets must name at least one projection".into());
        }
        if !(0.0..1.0).contains(&self.dropout) {
            problems.push(format!(
                "policy.lora_dropout = {} must be at least 0 and below 1",
                self.dropout
            ));
        }
        problems
    }
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

/// A pretrained language model with LoRA adapters, its frozen base and its optimizer.
pub struct LoraLm {
    /// The model; its net carries the adapters (autodiff on).
    pub lm: LanguageModel,
    /// The base model without adapters, for the KL penalty: the frozen weights are the
    /// adapted model's own tensors (shared, not copied).
    pub reference: CausalLm,
    inference: Option<CausalLm>,
    /// Bumped whenever the adapters change (an optimizer step, a restore), so results
    /// computed with the old ones can be told stale.
    version: u64,
    /// The device without autodiff (inference, the reference, optimizer state).
    pub infer_device: Device,
    adam: Adam,
    base_sha256: String,
    trainable: usize,
    full: bool,
}

impl LoraLm {
    /// Load the model at `model` on `device` (autodiff on) and attach LoRA adapters
    /// seeded by `seed` (B = 0, so it starts as the base model). `problems` are the
    /// caller's own settings problems, reported with the LoRA ones.
    pub fn new(
        model: &Path,
        device: &Device,
        lora: &LoraSettings,
        mut problems: Vec<String>,
        seed: u64,
    ) -> Result<Self, LearnerError> {
        problems.extend(lora.problems());
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
                message: "the model has no chat template; a language-model policy needs one (an instruction-tuned model)".into(),
            });
        }
        if lm.stop_ids.is_empty() {
            return Err(LearnerError::Model {
                path: model.display().to_string(),
                message: "the model declares no end-of-turn or EOS token".into(),
            });
        }
        let base_sha256 = model_sha256(model)?;
        let reference = lm.net.valid();
        if lora.full {
            // The frozen reference keeps the loaded tensors; the optimizer's steps give
            // the trained net new ones, so the two part after the first update.
            lm.net = lm.net.clone().map(&mut FullTraining { path: Vec::new() });
        } else {
            let group = ParamGroup::from_any_predicates(
                lora.targets
                    .iter()
                    .map(|t| format!("{t}.weight"))
                    .collect::<Vec<_>>(),
            );
            let net = lm
                .net
                .clone()
                .apply_lora(Lora::new(lora.rank, lora.alpha).set_param_group(group));
            let net = net.map(&mut SeededLora {
                rng: SplitMix::new(seed, stream::LM_CANDIDATES),
                std: 1.0 / lora.rank as f64,
                path: Vec::new(),
            });
            lm.net = net;
            lm.net.set_lora_dropout(lora.dropout);
        }
        let mut count = CountTrainable(0);
        lm.net.visit(&mut count);
        Ok(LoraLm {
            lm,
            reference,
            inference: None,
            version: 0,
            infer_device: device.clone().without_autodiff(),
            adam: Adam::new(AdamConfig::default()),
            base_sha256,
            trainable: count.0,
            full: lora.full,
        })
    }

    /// Put back the adapters and optimizer state saved in `dir` by
    /// [`LoraLm::save_files`] (the optimizer state only for training); refuses a
    /// checkpoint of another base model.
    pub fn restore(
        &mut self,
        dir: &Path,
        model: &Path,
        purpose: crate::LoadFor,
    ) -> Result<(), LearnerError> {
        let err = |path: &Path, e: &dyn std::fmt::Display| LearnerError::Checkpoint {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let path = dir.join("base.json");
        let text = std::fs::read_to_string(&path).map_err(|e| err(&path, &e))?;
        let base: serde_json::Value = serde_json::from_str(&text).map_err(|e| err(&path, &e))?;
        let saved = base["sha256"].as_str().unwrap_or_default();
        if saved != self.base_sha256 {
            return Err(LearnerError::Checkpoint {
                path: path.display().to_string(),
                message: format!(
                    "the checkpoint was trained on a base model with SHA-256 {saved} ({}), but {} has SHA-256 {}; resume with the same model",
                    base["model"].as_str().unwrap_or("?"),
                    model.display(),
                    self.base_sha256
                ),
            });
        }
        let path = dir.join(trained_file(self.full));
        if !path.exists() && dir.join(trained_file(!self.full)).exists() {
            return Err(err(
                &path,
                &format!(
                    "missing: the checkpoint holds {}, but [policy] finetune = \"{}\"; resume with the finetune setting it was trained with",
                    trained_file(!self.full),
                    if self.full { "full" } else { "lora" }
                ),
            ));
        }
        let bytes = std::fs::read(&path).map_err(|e| err(&path, &e))?;
        let adapters = read_adapters(&bytes).map_err(|e| err(&path, &e))?;
        let mut restore = RestoreLora {
            saved: adapters,
            path: Vec::new(),
            restored: 0,
        };
        self.lm.net = self.lm.net.clone().map(&mut restore);
        if restore.restored != restore.saved.len() {
            return Err(err(
                &path,
                &format!(
                    "holds {} trained tensors, the model's [policy] settings make {}; resume with the same [policy] lora and finetune settings",
                    restore.saved.len(),
                    restore.restored
                ),
            ));
        }
        if purpose == crate::LoadFor::Training {
            let path = dir.join("adam.bin");
            let bytes = std::fs::read(&path).map_err(|e| err(&path, &e))?;
            self.adam = Adam::from_bytes(AdamConfig::default(), &bytes, &self.infer_device)
                .map_err(LearnerError::adam(&path))?;
        }
        self.changed();
        Ok(())
    }

    /// Trainable (adapter) parameters.
    pub fn trainable_params(&self) -> usize {
        self.trainable
    }

    /// Which adapters the model holds now: a number that changes whenever they do.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The adapters changed: drop the inference copy and move the version on.
    fn changed(&mut self) {
        self.inference = None;
        self.version += 1;
    }

    /// The adapted model without autodiff, for acting (rebuilt after each update).
    pub fn inference_net(&mut self) -> &CausalLm {
        if self.inference.is_none() {
            self.inference = Some(self.lm.net.valid());
        }
        self.inference.as_ref().expect("just set")
    }

    /// A copy of the adapted model without autodiff at the adapters of now, which stays
    /// as it is when they change (the weights are shared, not copied).
    pub fn inference_copy(&self) -> CausalLm {
        self.inference
            .clone()
            .unwrap_or_else(|| self.lm.net.valid())
    }

    /// One Adam step of the adapters from the sum of `grads` (micro-batches' gradients)
    /// at learning rate `lr`, with the global-norm clip `clip`; returns the norm before
    /// clipping.
    pub fn step(&mut self, grads: &[Gradients], lr: f64, clip: f64) -> f64 {
        let clip = (clip > 0.0).then_some(clip);
        let net = self.lm.net.clone();
        let (net, norm) = self.adam.step_sum(net, grads, lr, clip);
        self.lm.net = net;
        self.changed();
        norm
    }

    /// Like [`LoraLm::step`], with an optimizer of the caller's own (behaviour cloning).
    pub fn step_with(&mut self, adam: &mut Adam, grads: &[Gradients], lr: f64, clip: f64) -> f64 {
        let clip = (clip > 0.0).then_some(clip);
        let net = self.lm.net.clone();
        let (net, norm) = adam.step_sum(net, grads, lr, clip);
        self.lm.net = net;
        self.changed();
        norm
    }

    /// Position LoRA dropout's random stream from an update's seed, so an update
    /// repeats exactly, after a resume too.
    pub fn seed_dropout(&self, seed: u64) {
        self.lm
            .net
            .seed_lora_dropout(SplitMix::new(seed, stream::LORA_DROPOUT).next_u64());
    }

    /// Write `lora.safetensors` (the adapter factors), `adam.bin` and `base.json` (the
    /// base model's path and SHA-256) into `dir`.
    pub fn save_files(&self, dir: &Path) -> Result<(), SaveError> {
        let err = |path: &Path, e: &dyn std::fmt::Display| SaveError {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let file = trained_file(self.full);
        let mut collect = CollectTrained {
            full: self.full,
            path: Vec::new(),
            out: BTreeMap::new(),
        };
        self.lm.net.visit(&mut collect);
        let bytes = write_adapters(&collect.out).map_err(|e| err(&dir.join(file), &e))?;
        let base = serde_json::json!({
            "model": self.lm.path.display().to_string(),
            "sha256": self.base_sha256,
        });
        for (name, bytes) in [
            (file, bytes),
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
}

/// The observation parts a language-model policy reads: the text rendering.
pub fn text_parts() -> ObservationParts {
    ObservationParts {
        text: true,
        ..ObservationParts::default()
    }
}

/// Why a language-model policy cannot act on `observation`, if it cannot.
pub fn check_text(observation: &Observation) -> Result<(), String> {
    match observation.text {
        Some(_) => Ok(()),
        None => Err(
            "the observation carries no text; a language-model policy reads the text rendering"
                .into(),
        ),
    }
}

/// The training loops both language-model learners run, given each micro-batch's loss:
/// PPO epochs over a round's samples and behaviour-cloning epochs over demonstrations,
/// shuffled minibatches, one Adam step per minibatch over its micro-batches.
pub(crate) trait LoraTraining {
    /// The model, its adapters and its optimizer.
    fn lora_mut(&mut self) -> &mut LoraLm;
    /// Update settings.
    fn ppo(&self) -> &PpoConfig;
    /// The PPO loss of samples `idx` (autodiff on).
    fn micro_loss(&self, samples: &[StepSample], idx: &[usize]) -> Loss;
    /// The behaviour-cloning loss of samples `idx`: −mean log π of their actions.
    fn micro_nll(&self, samples: &[StepSample], idx: &[usize]) -> Tensor<1>;

    /// `epochs` PPO passes over samples `order` (those that carry signal), the
    /// minibatches shuffled with `seed`.
    fn run_update(
        &mut self,
        samples: &[StepSample],
        mut order: Vec<usize>,
        seed: u64,
    ) -> UpdateStats {
        let mut stats = UpdateStats {
            samples: samples.len(),
            ..UpdateStats::default()
        };
        if order.is_empty() {
            return stats;
        }
        let ppo = *self.ppo();
        self.lora_mut().seed_dropout(seed);
        let mut rng = SplitMix::new(seed, stream::MINIBATCH);
        for _ in 0..ppo.epochs {
            rng.shuffle(&mut order);
            for idx in order.chunks(ppo.minibatch) {
                let idx = &by_prompt(samples, idx);
                let mut acc = Accumulated::default();
                for micro in micro_batches(idx, ppo.micro_batch) {
                    let l = self.micro_loss(samples, micro);
                    acc.add(l, micro.len() as f64 / idx.len() as f64);
                }
                let norm = self.lora_mut().step(&acc.grads, ppo.lr, ppo.grad_clip);
                acc.add_to(&mut stats, norm);
            }
        }
        ppo::average(&mut stats);
        stats
    }

    /// `epochs` behaviour-cloning passes over samples `order` with an Adam of its own
    /// at `lr`; the mean loss of the first and of the last epoch.
    fn run_imitation(
        &mut self,
        samples: &[StepSample],
        mut order: Vec<usize>,
        epochs: u32,
        lr: f64,
        seed: u64,
    ) -> (f32, f32) {
        let ppo = *self.ppo();
        let mut adam = Adam::new(AdamConfig::default());
        self.lora_mut().seed_dropout(seed ^ 0xbc);
        let mut rng = SplitMix::new(seed, stream::IMITATION);
        let (mut first, mut last) = (0.0, 0.0);
        for epoch in 0..epochs {
            rng.shuffle(&mut order);
            let (mut sum, mut n) = (0.0f32, 0);
            for idx in order.chunks(ppo.minibatch) {
                let idx = &by_prompt(samples, idx);
                let mut grads = Vec::new();
                for micro in micro_batches(idx, ppo.micro_batch) {
                    let share = micro.len() as f64 / idx.len() as f64;
                    let loss = self.micro_nll(samples, micro);
                    sum += loss.clone().inner().into_scalar::<f32>() * share as f32;
                    let loss = if share == 1.0 {
                        loss
                    } else {
                        loss.mul_scalar(share)
                    };
                    grads.push(loss.backward());
                }
                n += 1;
                self.lora_mut()
                    .step_with(&mut adam, &grads, lr, ppo.grad_clip);
            }
            let mean = sum / n.max(1) as f32;
            if epoch == 0 {
                first = mean;
            }
            last = mean;
            tracing::info!(
                target: "progress",
                "warm start: epoch {}/{epochs}, mean cloning loss {mean:.3}",
                epoch + 1
            );
        }
        (first, last)
    }
}

/// A minibatch's samples with equal prompts next to each other (otherwise in their
/// shuffled order), so micro-batches split it where prompts change: a prompt's forward
/// and backward pass, shared by its samples within a micro-batch, is then rarely
/// repeated in another.
fn by_prompt(samples: &[StepSample], idx: &[usize]) -> Vec<usize> {
    let mut first: HashMap<&[u32], usize> = HashMap::new();
    for (k, &i) in idx.iter().enumerate() {
        first.entry(samples[i].context.as_slice()).or_insert(k);
    }
    let mut out = idx.to_vec();
    out.sort_by_key(|&i| first[samples[i].context.as_slice()]);
    out
}

/// What the weights saved in checkpoint `dir` change in the base model, by Hugging
/// Face tensor name (`model.layers.L.self_attn.q_proj.weight`) and in its `[out, in]`
/// layout, ready for [`steprl_lm::export::export_hf`]: LoRA adapters as deltas
/// scale · (A B) with scale = α / r (`lora`), fully fine-tuned projections as
/// replacements.
pub fn trained_changes(
    dir: &Path,
    lora: &LoraSettings,
) -> Result<BTreeMap<String, Change>, LearnerError> {
    let path = dir.join(trained_file(lora.full));
    let err = |message: String| LearnerError::Checkpoint {
        path: path.display().to_string(),
        message,
    };
    let bytes = std::fs::read(&path).map_err(|e| err(e.to_string()))?;
    let saved = read_adapters(&bytes).map_err(err)?;
    let mut out = BTreeMap::new();
    if lora.full {
        for (key, (_, shape, values)) in &saved {
            let saved = HostTensor {
                shape: shape.clone(),
                data: values.clone(),
            };
            let t = match shape.as_slice() {
                // burn's `[in, out]` weight, transposed to Hugging Face's `[out, in]`.
                &[d_in, d_out] => HostTensor {
                    shape: vec![d_out, d_in],
                    data: saved.transposed_data(),
                },
                _ => saved,
            };
            out.insert(format!("model.{key}"), Change::Replace(t));
        }
        return Ok(out);
    }
    let scale = lora.alpha / lora.rank as f64;
    for (key, (_, a_shape, a)) in &saved {
        let Some(weight) = key.strip_suffix(".lora.a") else {
            continue;
        };
        let (_, b_shape, b) = saved
            .get(&format!("{weight}.lora.b"))
            .ok_or_else(|| err(format!("`{key}` has no matching `{weight}.lora.b`")))?;
        let (d_in, r) = (a_shape[0], a_shape[1]);
        let d_out = b_shape[1];
        if b_shape[0] != r {
            return Err(err(format!(
                "`{weight}`: factors of shapes {a_shape:?} and {b_shape:?} do not multiply"
            )));
        }
        if r != lora.rank {
            return Err(err(format!(
                "`{weight}` has rank {r}, the run's policy.lora_rank is {}",
                lora.rank
            )));
        }
        // delta[o][i] = scale · Σ_k a[i][k] · b[k][o]
        let mut data = vec![0f32; d_out * d_in];
        for i in 0..d_in {
            for k in 0..r {
                let aik = f64::from(a[i * r + k]) * scale;
                if aik == 0.0 {
                    continue;
                }
                for o in 0..d_out {
                    data[o * d_in + i] += (aik * f64::from(b[k * d_out + o])) as f32;
                }
            }
        }
        out.insert(
            format!("model.{weight}"),
            Change::Add(HostTensor {
                shape: vec![d_out, d_in],
                data,
            }),
        );
    }
    Ok(out)
}

/// Whether a module path names a decoder layer's projection weight or bias
/// (`layers.3.self_attn.q_proj.weight`): what full fine-tuning trains.
fn is_layer_projection(path: &[String]) -> bool {
    path.first().is_some_and(|p| p == "layers")
        && path.iter().any(|p| LORA_TARGETS.contains(&p.as_str()))
}

/// Full fine-tuning: the decoder layers' projections require gradients, every other
/// parameter (embedding, norms, output head) is frozen.
struct FullTraining {
    path: Vec<String>,
}

impl ModuleMapper for FullTraining {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_owned());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let trained = is_layer_projection(&self.path);
        param.set_require_grad(trained)
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

/// Collects the trained tensors by module path: the adapter factors, or with full
/// fine-tuning the decoder layers' projections.
struct CollectTrained {
    full: bool,
    path: Vec<String>,
    out: BTreeMap<String, Saved>,
}

impl ModuleVisitor for CollectTrained {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_owned());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let trained = if self.full {
            is_layer_projection(&self.path)
        } else {
            self.path.iter().any(|p| p == "lora")
        };
        if !trained {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minibatch_groups_equal_prompts_in_first_seen_order() {
        let s = |p: u32| StepSample {
            context: vec![p, 7],
            ..StepSample::default()
        };
        let samples = [s(3), s(1), s(3), s(2), s(1), s(3)];
        assert_eq!(by_prompt(&samples, &[5, 4, 3, 2, 1, 0]), [5, 2, 0, 4, 1, 3]);
        // Micro-batches of 2 then split only where the prompt changes, but for the
        // prompt with three samples.
        let order = by_prompt(&samples, &[0, 1, 2, 3, 4, 5]);
        assert_eq!(order, [0, 2, 5, 1, 4, 3]);
    }
}

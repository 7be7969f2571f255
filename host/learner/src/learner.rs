//! The token-network learner: an MLP or transformer policy and its frozen reference on
//! one device, acting in batches for rollouts, turning trajectories into samples with
//! its [`Context`], the clipped-objective update over a round's step samples, and
//! checkpoints of model, reference and optimizer state.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use steprl_core::seeds::stream;
use steprl_core::{
    Candidates, Decision, Learner, Observation, ObservationParts, Policy, Sampling, SaveError,
    SplitMix, State, StepSample, UpdateStats, View, decide_among,
};

use crate::adam::{Adam, AdamConfig, AdamStateError};
use crate::context::{Context, decompose};
use crate::net::{PolicyConfig, PolicyNet, Spaces};
use crate::ppo::{self, Batch, PpoConfig};

/// Why a learner could not be built or restored.
#[derive(Debug, thiserror::Error)]
pub enum LearnerError {
    /// Invalid hyperparameters.
    #[error("invalid learner settings: {0}")]
    Config(String),
    /// A checkpoint file could not be written or read.
    #[error("checkpoint file {path}: {message}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The pretrained model could not be used.
    #[error("model {path}: {message}")]
    Model {
        /// The model file or directory.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The optimizer state did not match.
    #[error("checkpoint file {path}: {source}")]
    Adam {
        /// The optimizer-state file.
        path: String,
        /// What is wrong with it.
        source: AdamStateError,
    },
}

impl LearnerError {
    /// The error of optimizer-state file `path`.
    pub(crate) fn adam(path: &Path) -> impl FnOnce(AdamStateError) -> LearnerError + '_ {
        move |source| LearnerError::Adam {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Policy, reference and optimizer on one device.
pub struct NetLearner {
    device: Device,
    infer_device: Device,
    context: Context,
    spaces: Spaces,
    ppo: PpoConfig,
    model: PolicyNet,
    reference: PolicyNet,
    adam: Adam,
    inference: Option<PolicyNet>,
}

impl NetLearner {
    /// A fresh learner on `device` (autodiff is turned on here) for inputs laid out by
    /// `context`, initialized from `seed`.
    pub fn new(
        device: &Device,
        context: Context,
        policy: &PolicyConfig,
        ppo: PpoConfig,
        seed: u64,
    ) -> Result<Self, LearnerError> {
        let problems: Vec<String> = policy
            .problems()
            .into_iter()
            .chain(ppo.problems())
            .collect();
        if !problems.is_empty() {
            return Err(LearnerError::Config(problems.join("; ")));
        }
        let spaces = Spaces {
            input_vocab: context.input_vocab() as usize,
            context_len: context.len(),
            actions: context.actions as usize,
        };
        let train_device = device.clone().autodiff();
        let model = policy.init(&spaces, &train_device, seed);
        let reference = model.valid();
        Ok(NetLearner {
            infer_device: device.clone().without_autodiff(),
            device: train_device,
            context,
            spaces,
            ppo,
            model,
            reference,
            adam: Adam::new(AdamConfig::default()),
            inference: None,
        })
    }

    /// The network's input and output sizes.
    pub fn spaces(&self) -> Spaces {
        self.spaces
    }

    /// How its inputs are laid out.
    pub fn context(&self) -> Context {
        self.context
    }

    /// Update on a round's samples: `epochs` passes of shuffled minibatches, one Adam
    /// step each. `seed` orders the minibatches.
    pub fn update(&mut self, samples: &[StepSample], seed: u64) -> UpdateStats {
        let mut stats = UpdateStats {
            samples: samples.len(),
            ..UpdateStats::default()
        };
        if samples.is_empty() {
            return stats;
        }
        self.inference = None;
        let mut rng = SplitMix::new(seed, stream::MINIBATCH);
        let mut order: Vec<usize> = (0..samples.len()).collect();
        let reference = (self.ppo.kl_coef > 0.0).then_some(&self.reference);
        let mut model = self.model.clone();
        for _ in 0..self.ppo.epochs {
            rng.shuffle(&mut order);
            for idx in order.chunks(self.ppo.minibatch) {
                let batch = Batch::new(samples, idx, &self.device);
                let l = ppo::loss(&model, reference, &batch, &self.ppo);
                let grads = l.total.backward();
                let clip = (self.ppo.grad_clip > 0.0).then_some(self.ppo.grad_clip);
                let (m, norm) = self.adam.step(model, &grads, self.ppo.lr, clip);
                model = m;
                l.add_to(&mut stats, norm);
            }
        }
        self.model = model;
        ppo::average(&mut stats);
        stats
    }

    /// Write `model.bpk`, `reference.bpk` and `adam.bin` into `dir` (each atomically).
    pub fn save_files(&self, dir: &Path) -> Result<(), SaveError> {
        let err = |path: &Path, e: &dyn std::fmt::Display| SaveError {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        for (name, net) in [
            ("model.bpk", &self.model),
            ("reference.bpk", &self.reference),
        ] {
            let path = dir.join(name);
            net.clone().save_file(&path).map_err(|e| err(&path, &e))?;
        }
        let path = dir.join("adam.bin");
        let tmp = dir.join("adam.bin.tmp");
        std::fs::write(&tmp, self.adam.to_bytes()).map_err(|e| err(&tmp, &e))?;
        std::fs::rename(&tmp, &path).map_err(|e| err(&path, &e))?;
        Ok(())
    }

    /// Restore a learner saved by [`NetLearner::save_files`].
    pub fn load(
        dir: &Path,
        device: &Device,
        context: Context,
        policy: &PolicyConfig,
        ppo: PpoConfig,
        purpose: crate::LoadFor,
    ) -> Result<Self, LearnerError> {
        let mut l = NetLearner::new(device, context, policy, ppo, 0)?;
        let spaces = l.spaces;
        let err = |path: &Path, e: &dyn std::fmt::Display| LearnerError::Checkpoint {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let path = dir.join("model.bpk");
        l.model = l.model.try_load_file(&path).map_err(|e| err(&path, &e))?;
        if purpose == crate::LoadFor::Evaluation {
            return Ok(l);
        }
        let path = dir.join("reference.bpk");
        l.reference = policy
            .init(&spaces, &l.infer_device, 0)
            .try_load_file(&path)
            .map_err(|e| err(&path, &e))?;
        let path = dir.join("adam.bin");
        let bytes = std::fs::read(&path).map_err(|e| err(&path, &e))?;
        l.adam = Adam::from_bytes(AdamConfig::default(), &bytes, &l.infer_device)
            .map_err(LearnerError::adam(&path))?;
        Ok(l)
    }

    fn inference_model(&mut self) -> &PolicyNet {
        if self.inference.is_none() {
            self.inference = Some(self.model.valid());
        }
        self.inference.as_ref().expect("just set")
    }

    /// Log-probabilities of every action for each input (masked actions −∞).
    pub fn log_probs_of(&mut self, inputs: &[(&[u32], &[bool])]) -> Vec<Vec<f32>> {
        if inputs.is_empty() {
            return Vec::new();
        }
        let device = self.infer_device.clone();
        log_probs(self.inference_model(), &device, inputs)
    }
}

/// Log-probabilities of every action under `net` for each input (masked actions −∞).
fn log_probs(net: &PolicyNet, device: &Device, inputs: &[(&[u32], &[bool])]) -> Vec<Vec<f32>> {
    if inputs.is_empty() {
        return Vec::new();
    }
    let contexts: Vec<&[u32]> = inputs.iter().map(|(c, _)| *c).collect();
    let masks: Vec<&[bool]> = inputs.iter().map(|(_, m)| *m).collect();
    let (tokens, invalid) = ppo::inputs(&contexts, &masks, device);
    let logp: Tensor<2> = ppo::masked_log_softmax(net.forward(tokens), invalid);
    let a = logp.dims()[1];
    let flat: Vec<f32> = logp.into_data().try_into_vec().expect("f32 log-probs");
    flat.chunks(a)
        .zip(&masks)
        .map(|(row, mask)| {
            row.iter()
                .zip(mask.iter())
                .map(|(l, ok)| if *ok { *l } else { f32::NEG_INFINITY })
                .collect()
        })
        .collect()
}

/// The observation parts a token network reads.
fn token_parts() -> ObservationParts {
    ObservationParts {
        tokens: true,
        ..ObservationParts::default()
    }
}

/// Why a token network cannot act on `observation`, if it cannot.
fn check_tokens(observation: &Observation) -> Result<(), String> {
    match observation.tokens {
        Some(_) => Ok(()),
        None => Err("the observation carries no tokens; training needs token observations".into()),
    }
}

/// A frozen copy of a [`NetLearner`]'s policy at one version (its inference network),
/// acting exactly as the learner did when the copy was made.
struct NetSnapshot {
    context: Context,
    device: Device,
    net: PolicyNet,
}

impl Policy for NetSnapshot {
    fn parts(&self) -> ObservationParts {
        token_parts()
    }

    fn check(&self, observation: &Observation) -> Result<(), String> {
        check_tokens(observation)
    }

    fn act(
        &mut self,
        views: &[View<'_>],
        sampling: Sampling,
        rngs: &mut [&mut SplitMix],
    ) -> Vec<Decision> {
        let contexts = views.iter().map(|v| self.context.view(v)).collect();
        let (net, device) = (&self.net, &self.device);
        let n = self.context.actions as usize;
        decide_among(n, contexts, views, sampling, rngs, |inputs| {
            log_probs(net, device, inputs)
        })
    }
}

impl Policy for NetLearner {
    fn parts(&self) -> ObservationParts {
        token_parts()
    }

    fn check(&self, observation: &Observation) -> Result<(), String> {
        check_tokens(observation)
    }

    fn act(
        &mut self,
        views: &[View<'_>],
        sampling: Sampling,
        rngs: &mut [&mut SplitMix],
    ) -> Vec<Decision> {
        let contexts = views.iter().map(|v| self.context.view(v)).collect();
        let n = self.context.actions as usize;
        decide_among(n, contexts, views, sampling, rngs, |inputs| {
            self.log_probs_of(inputs)
        })
    }
}
/// Candidate states are scored this many at a time.
const CANDIDATE_CHUNK: usize = 256;

impl Learner for NetLearner {
    fn num_params(&self) -> usize {
        self.model.num_params()
    }

    fn samples(
        &self,
        _instruction: &str,
        steps: &[steprl_core::Transition],
        adv: &[f32],
    ) -> Vec<StepSample> {
        decompose(&self.context, steps, adv)
    }

    fn candidates(&mut self, states: &[State<'_>], group: u32, seeds: &[u64]) -> Vec<Candidates> {
        let mut out = Vec::with_capacity(states.len());
        for (chunk, seeds) in states
            .chunks(CANDIDATE_CHUNK)
            .zip(seeds.chunks(CANDIDATE_CHUNK))
        {
            let recorded: Vec<StepSample> = chunk
                .iter()
                .map(|s| self.context.sample(s.steps, s.t, 0.0))
                .collect();
            let inputs: Vec<(&[u32], &[bool])> = recorded
                .iter()
                .map(|r| (r.context.as_slice(), r.mask.as_slice()))
                .collect();
            let logps = self.log_probs_of(&inputs);
            for ((recorded, lp), seed) in recorded.into_iter().zip(&logps).zip(seeds) {
                out.push(Candidates::draw(recorded, lp, group, *seed));
            }
        }
        out
    }

    fn imitate(&mut self, samples: &[StepSample], epochs: u32, lr: f64, seed: u64) -> (f32, f32) {
        let mut adam = Adam::new(AdamConfig::default());
        let mut rng = SplitMix::new(seed, stream::IMITATION);
        let mut order: Vec<usize> = (0..samples.len()).collect();
        let mut model = self.model.clone();
        let (mut first, mut last) = (0.0, 0.0);
        for epoch in 0..epochs {
            rng.shuffle(&mut order);
            let (mut sum, mut n) = (0.0f32, 0);
            for idx in order.chunks(self.ppo.minibatch) {
                let batch = Batch::new(samples, idx, &self.device);
                let logp_all = ppo::masked_log_softmax(
                    model.forward(batch.tokens.clone()),
                    batch.targets.invalid.clone(),
                );
                let loss = ppo::nll(logp_all, &batch.targets);
                sum += loss.clone().inner().into_scalar::<f32>();
                n += 1;
                let grads = loss.backward();
                let clip = (self.ppo.grad_clip > 0.0).then_some(self.ppo.grad_clip);
                model = adam.step(model, &grads, lr, clip).0;
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
        self.model = model;
        self.inference = None;
        (first, last)
    }

    fn update(&mut self, samples: &[StepSample], seed: u64) -> UpdateStats {
        NetLearner::update(self, samples, seed)
    }

    fn save(&self, dir: &Path) -> Result<(), SaveError> {
        self.save_files(dir)
    }

    fn snapshot(&self) -> Box<dyn Policy> {
        Box::new(NetSnapshot {
            context: self.context,
            device: self.infer_device.clone(),
            net: self.inference.clone().unwrap_or_else(|| self.model.valid()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Contexts of 3 tokens below 7, 4 actions: an input space of 12.
    fn spaces() -> Context {
        Context {
            history: 0,
            obs_len: 3,
            vocab: 7,
            actions: 4,
            pad: 0,
        }
    }

    fn learner(kind: crate::net::PolicyKind) -> NetLearner {
        let policy = PolicyConfig {
            kind,
            embed_dim: 8,
            hidden: 32,
            layers: 1,
            heads: 2,
            ..PolicyConfig::default()
        };
        let ppo = PpoConfig {
            lr: 0.01,
            epochs: 4,
            minibatch: 4,
            ..PpoConfig::default()
        };
        NetLearner::new(&Device::flex(), spaces(), &policy, ppo, 5).unwrap()
    }

    const X: [u32; 3] = [1, 2, 3];
    const Y: [u32; 3] = [4, 5, 6];
    const ALL: [bool; 4] = [true; 4];

    fn logp(l: &mut NetLearner, ctx: &[u32], a: usize) -> f32 {
        l.log_probs_of(&[(ctx, &ALL)])[0][a]
    }

    fn samples(l: &mut NetLearner) -> Vec<StepSample> {
        let sample = |l: &mut NetLearner, ctx: &[u32], action: u32, advantage: f32| StepSample {
            context: ctx.to_vec(),
            mask: ALL.to_vec(),
            action,
            old_logp: logp(l, ctx, action as usize),
            advantage,
            weight: 1.0,
            ..StepSample::default()
        };
        vec![sample(l, &X, 0, 1.0), sample(l, &Y, 1, -1.0)]
    }

    #[test]
    fn the_clipped_objective_raises_positive_and_lowers_negative_advantage_actions() {
        for kind in [
            crate::net::PolicyKind::Mlp,
            crate::net::PolicyKind::Transformer,
        ] {
            let mut l = learner(kind);
            let (x0, y1) = (logp(&mut l, &X, 0), logp(&mut l, &Y, 1));
            let s = samples(&mut l);
            let stats = l.update(&s, 1);
            assert_eq!(stats.gradient_steps, 4);
            assert!(stats.clip_frac >= 0.0 && stats.entropy > 0.0);
            let (x0b, y1b) = (logp(&mut l, &X, 0), logp(&mut l, &Y, 1));
            assert!(
                x0b > x0,
                "{kind:?}: positive advantage should rise: {x0} -> {x0b}"
            );
            assert!(
                y1b < y1,
                "{kind:?}: negative advantage should fall: {y1} -> {y1b}"
            );
        }
    }

    /// Sampled decisions on X and Y (the same streams every call).
    fn decisions(p: &mut dyn Policy) -> Vec<Decision> {
        let obs: Vec<Observation> = [X, Y]
            .iter()
            .map(|t| Observation {
                tokens: Some(t.to_vec()),
                ..Observation::default()
            })
            .collect();
        let views: Vec<View<'_>> = obs
            .iter()
            .map(|o| View {
                instruction: "",
                history: &[],
                observation: o,
            })
            .collect();
        let (mut a, mut b) = (SplitMix::new(1, 0), SplitMix::new(2, 0));
        p.act(&views, Sampling::Sample, &mut [&mut a, &mut b])
    }

    #[test]
    fn a_snapshot_acts_as_the_learner_did_and_stays_put_while_it_updates() {
        for kind in [
            crate::net::PolicyKind::Mlp,
            crate::net::PolicyKind::Transformer,
        ] {
            let mut l = learner(kind);
            let mut snap = l.snapshot();
            let before = decisions(&mut l);
            assert_eq!(decisions(snap.as_mut()), before, "{kind:?}");
            let s = samples(&mut l);
            l.update(&s, 1);
            let after = decisions(&mut l);
            assert_ne!(after, before, "{kind:?}: the update moved the learner");
            assert_eq!(
                decisions(snap.as_mut()),
                before,
                "{kind:?}: the snapshot stayed"
            );
            assert_eq!(snap.parts(), l.parts());
        }
    }

    #[test]
    fn masked_actions_have_zero_probability() {
        let mut l = learner(crate::net::PolicyKind::Mlp);
        let mask = [true, false, true, false];
        let lp = l.log_probs_of(&[(&X, &mask)]);
        assert_eq!(lp[0][1], f32::NEG_INFINITY);
        assert_eq!(lp[0][3], f32::NEG_INFINITY);
        let p: f32 = lp[0].iter().map(|x| x.exp()).sum();
        assert!((p - 1.0).abs() < 1e-5);
    }

    #[test]
    fn a_saved_learner_continues_exactly_like_the_original() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = learner(crate::net::PolicyKind::Mlp);
        let s = samples(&mut a);
        a.update(&s, 1);
        a.save_files(dir.path()).unwrap();
        let policy = PolicyConfig {
            kind: crate::net::PolicyKind::Mlp,
            embed_dim: 8,
            hidden: 32,
            layers: 1,
            heads: 2,
            ..PolicyConfig::default()
        };
        let mut b = NetLearner::load(
            dir.path(),
            &Device::flex(),
            spaces(),
            &policy,
            a.ppo,
            crate::LoadFor::Training,
        )
        .unwrap();
        assert_eq!(a.log_probs_of(&[(&X, &ALL)]), b.log_probs_of(&[(&X, &ALL)]));
        let sa = a.update(&s, 2);
        let sb = b.update(&s, 2);
        assert_eq!(sa, sb);
        assert_eq!(a.log_probs_of(&[(&Y, &ALL)]), b.log_probs_of(&[(&Y, &ALL)]));
    }

    #[test]
    fn a_missing_checkpoint_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = NetLearner::load(
            dir.path(),
            &Device::flex(),
            spaces(),
            &PolicyConfig::default(),
            PpoConfig::default(),
            crate::LoadFor::Evaluation,
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("model.bpk"), "{err}");
    }

    #[test]
    fn bad_settings_are_refused_with_the_key() {
        let ppo = PpoConfig {
            lr: -1.0,
            ..PpoConfig::default()
        };
        let err = NetLearner::new(&Device::flex(), spaces(), &PolicyConfig::default(), ppo, 0)
            .err()
            .unwrap();
        assert!(err.to_string().contains("learner.lr = -1"), "{err}");
    }
}

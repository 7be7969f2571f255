//! Benchmark (not a test): learner throughput for the shipped uisim MLP config.
//!
//! `cargo bench -p steprl-tests --bench learner_update` prints samples/s of the
//! clipped-objective update (4096 samples, 2 epochs, minibatch 256, Adam, grad clip 1.0)
//! and contexts/s of batched inference. `STEPRL_BENCH_BACKEND=wgpu` (or `auto`) runs it
//! on wgpu. `bench/torch_update.py` runs the same model, batch and optimizer in PyTorch.

use std::time::Instant;

use steprl_core::{Learner, SplitMix, StepSample};
use steprl_learner::{BackendChoice, Context, NetLearner, PolicyConfig, PpoConfig};

const VOCAB: u32 = 133;
const CONTEXT: usize = 80;
const ACTIONS: usize = 19;
const SAMPLES: usize = 4096;

fn samples(seed: u64) -> Vec<StepSample> {
    let mut rng = SplitMix::new(seed, 0);
    (0..SAMPLES)
        .map(|_| {
            let context: Vec<u32> = (0..CONTEXT)
                .map(|_| rng.below(VOCAB as usize) as u32)
                .collect();
            let action = rng.below(ACTIONS) as u32;
            StepSample {
                context,
                mask: vec![true; ACTIONS],
                action,
                old_logp: -(ACTIONS as f32).ln(),
                advantage: if rng.unit() < 0.5 { 1.0 } else { -1.0 },
                weight: 1.0,
                ..StepSample::default()
            }
        })
        .collect()
}

fn main() {
    let choice: BackendChoice = std::env::var("STEPRL_BENCH_BACKEND")
        .unwrap_or_else(|_| "cpu".into())
        .parse()
        .expect("STEPRL_BENCH_BACKEND is auto, cpu or wgpu");
    let selected = steprl_learner::select(choice).expect("backend");
    let context = Context {
        history: 0,
        obs_len: CONTEXT,
        vocab: VOCAB,
        actions: ACTIONS as u32,
        pad: 0,
    };
    let policy = PolicyConfig::default();
    let ppo = PpoConfig::default();
    let mut learner = NetLearner::new(&selected.device, context, &policy, ppo, 1).unwrap();
    let data = samples(2);
    // Warm up (kernel compilation on wgpu, allocator on CPU).
    learner.update(&data[..512], 0);
    let mut rates = Vec::new();
    for r in 0..5 {
        let t0 = Instant::now();
        let stats = learner.update(&data, r);
        let secs = t0.elapsed().as_secs_f64();
        rates.push((ppo.epochs as usize * SAMPLES) as f64 / secs);
        assert_eq!(
            stats.gradient_steps as usize,
            ppo.epochs as usize * SAMPLES.div_ceil(ppo.minibatch)
        );
    }
    rates.sort_by(f64::total_cmp);
    let inputs: Vec<(&[u32], &[bool])> = data[..64]
        .iter()
        .map(|s| (s.context.as_slice(), s.mask.as_slice()))
        .collect();
    learner.log_probs_of(&inputs);
    let t0 = Instant::now();
    let n = 200;
    for _ in 0..n {
        std::hint::black_box(learner.log_probs_of(&inputs));
    }
    let infer = (n * 64) as f64 / t0.elapsed().as_secs_f64();
    println!("backend: {} ({})", selected.backend, selected.description);
    println!(
        "model: mlp embed {} hidden {} layers {} — {} parameters",
        policy.embed_dim,
        policy.hidden,
        policy.layers,
        learner.num_params()
    );
    println!(
        "update: {:.0} samples/s (median of 5; {} samples × {} epochs, minibatch {})",
        rates[2], SAMPLES, ppo.epochs, ppo.minibatch
    );
    println!("inference: {infer:.0} contexts/s (batches of 64)");
}

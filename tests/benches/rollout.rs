//! Benchmark (not a test): rollout throughput, environment steps per second, at 1, 16,
//! 64 and 256 concurrent episodes of the uisim plugin judged by uisim-checker — with a
//! uniform policy (the pool and sandbox alone) and with the shipped MLP policy on the
//! CPU backend (batched inference included).
//!
//! `cargo bench -p steprl-tests --bench rollout` (needs `plugins/build.sh`).

use std::sync::Arc;
use std::time::Instant;

use steprl_algo::decompose::Context;
use steprl_core::{Environment, Policy};
use steprl_learner::{BackendChoice, Learner, PolicyConfig, PpoConfig, Spaces};
use steprl_rollout::{EpisodeSpec, Pool, RolloutConfig, Sampling};
use steprl_sandbox::{PluginOptions, WasmEnvironment, WasmRewardChecker};
use steprl_tests::{load, sandbox};

/// Every valid action equally likely.
struct Uniform;

impl Policy for Uniform {
    fn log_probs(&mut self, inputs: &[(&[u32], &[bool])]) -> Vec<Vec<f32>> {
        inputs
            .iter()
            .map(|(_, m)| {
                let n = m.iter().filter(|v| **v).count() as f32;
                m.iter()
                    .map(|v| if *v { -n.ln() } else { f32::NEG_INFINITY })
                    .collect()
            })
            .collect()
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sb = sandbox();
    let env = Arc::new(
        WasmEnvironment::new(
            &sb,
            &load(&sb, "uisim"),
            PluginOptions {
                config_json: r#"{"levels":[1,2]}"#.into(),
                ..PluginOptions::default()
            },
        )
        .await
        .unwrap(),
    );
    let mut checker =
        WasmRewardChecker::new(&sb, &load(&sb, "uisim-checker"), PluginOptions::default())
            .await
            .unwrap();
    let info = env.info().clone();
    let context = Context {
        history: 0,
        obs_len: info.observation.max_tokens.unwrap() as usize,
        vocab: info.observation.vocab_size.unwrap(),
        actions: info.action.discrete,
        pad: 0,
    };
    let specs: Vec<EpisodeSpec> = (0..512)
        .map(|i| EpisodeSpec {
            task: info.tasks[i % info.tasks.len()].id.clone(),
            seed: i as u64,
            sample_seed: 1000 + i as u64,
        })
        .collect();
    let device = steprl_learner::select(BackendChoice::Cpu).unwrap().device;
    let mut mlp = Learner::new(
        &device,
        Spaces {
            input_vocab: context.input_vocab() as usize,
            context_len: context.len(),
            actions: context.actions as usize,
        },
        &PolicyConfig::default(),
        PpoConfig::default(),
        1,
    )
    .unwrap();
    println!(
        "| concurrent episodes | env steps/s, uniform policy | env steps/s, MLP policy (CPU) | mean batch (MLP) |"
    );
    println!("|---|---|---|---|");
    for concurrency in [1usize, 16, 64, 256] {
        let cfg = RolloutConfig {
            concurrency,
            context,
            sampling: Sampling::Sample,
        };
        let mut pool = Pool::new(env.clone());
        // Warm up with one episode per lane, so every environment instance exists
        // before timing (instantiation is a one-off cost per lane).
        pool.run(
            &specs[..concurrency.max(32)],
            &mut Uniform,
            &mut checker,
            &cfg,
        )
        .await;
        let t0 = Instant::now();
        let (_, s) = pool.run(&specs, &mut Uniform, &mut checker, &cfg).await;
        let uniform = s.env_steps as f64 / t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let (_, s) = pool.run(&specs, &mut mlp, &mut checker, &cfg).await;
        let with_mlp = s.env_steps as f64 / t0.elapsed().as_secs_f64();
        println!(
            "| {concurrency} | {uniform:.0} | {with_mlp:.0} | {:.1} |",
            s.env_steps as f64 / s.batches as f64
        );
    }
}

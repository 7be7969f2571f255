//! Benchmark (not a test): rollout throughput, environment steps per second, at 1, 16,
//! 64 and 256 concurrent episodes of the uisim plugin judged by uisim-checker — with a
//! uniform policy (the pool and sandbox alone) and with the shipped MLP policy on the
//! CPU backend (batched inference included).
//!
//! `cargo bench -p steprl-tests --bench rollout` (needs `plugins/build.sh`).

use std::sync::Arc;
use std::time::Instant;

use steprl_core::{
    Action, Decision, Environment, Observation, ObservationParts, Policy, Sampling as Mode,
    SplitMix, View, action_mask, sample_action,
};
use steprl_learner::{BackendChoice, Context, NetLearner, PolicyConfig, PpoConfig};
use steprl_rollout::{EpisodeSpec, Pool, RolloutConfig, Sampling};
use steprl_sandbox::{PluginOptions, WasmEnvironment, WasmRewardChecker};
use steprl_tests::{load, sandbox};

/// Every valid action equally likely.
struct Uniform(usize);

impl Policy for Uniform {
    fn parts(&self) -> ObservationParts {
        ObservationParts {
            tokens: true,
            ..ObservationParts::default()
        }
    }

    fn check(&self, _: &Observation) -> Result<(), String> {
        Ok(())
    }

    fn act(&mut self, views: &[View<'_>], mode: Mode, rngs: &mut [&mut SplitMix]) -> Vec<Decision> {
        views
            .iter()
            .zip(rngs.iter_mut())
            .map(|(v, rng)| {
                let m = action_mask(v.observation, self.0);
                let n = m.iter().filter(|v| **v).count() as f32;
                let lp: Vec<f32> = m
                    .iter()
                    .map(|v| if *v { -n.ln() } else { f32::NEG_INFINITY })
                    .collect();
                let a = sample_action(&lp, mode == Mode::Greedy, rng);
                Decision {
                    action: Action::Discrete(a),
                    logp: lp[a as usize],
                    completion: None,
                }
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
    let mut uniform = Uniform(info.action.discrete as usize);
    let specs: Vec<EpisodeSpec> = (0..512)
        .map(|i| EpisodeSpec {
            task: info.tasks[i % info.tasks.len()].id.clone(),
            seed: i as u64,
            sample_seed: 1000 + i as u64,
        })
        .collect();
    let device = steprl_learner::select(BackendChoice::Cpu).unwrap().device;
    let mut mlp = NetLearner::new(
        &device,
        context,
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
            sampling: Sampling::Sample,
            policy_version: 0,
            deadline: None,
            partial: false,
            stepping: steprl_rollout::Stepping::Lockstep,
        };
        let mut pool = Pool::new(env.clone());
        // Warm up with one episode per lane, so every environment instance exists
        // before timing (instantiation is a one-off cost per lane).
        pool.run(
            &specs[..concurrency.max(32)],
            &mut uniform,
            &mut checker,
            &cfg,
        )
        .await
        .expect("rollout");
        let t0 = Instant::now();
        let (_, s) = pool
            .run(&specs, &mut uniform, &mut checker, &cfg)
            .await
            .expect("rollout");
        let uniform_rate = s.env_steps as f64 / t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let (_, s) = pool
            .run(&specs, &mut mlp, &mut checker, &cfg)
            .await
            .expect("rollout");
        let with_mlp = s.env_steps as f64 / t0.elapsed().as_secs_f64();
        println!(
            "| {concurrency} | {uniform_rate:.0} | {with_mlp:.0} | {:.1} |",
            s.env_steps as f64 / s.batches as f64
        );
    }
}

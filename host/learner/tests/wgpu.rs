//! One update on the wgpu backend (on machines without a GPU: Mesa's software Vulkan
//! adapter) must move the policy the same way as on the CPU backend. Without any
//! adapter the test prints that it was skipped — and fails instead when
//! `STEPRL_REQUIRE_WGPU=1` (CI sets it after installing the software driver).

use steprl_core::StepSample;
use steprl_learner::{BackendChoice, Context, NetLearner, PolicyConfig, PpoConfig, select};

const ALL: [bool; 5] = [true; 5];

fn learner(device: &burn::tensor::Device) -> NetLearner {
    // Contexts of 4 tokens below 10, 5 actions: an input space of 16.
    let context = Context {
        history: 0,
        obs_len: 4,
        vocab: 10,
        actions: 5,
        pad: 0,
    };
    let policy = PolicyConfig {
        embed_dim: 8,
        hidden: 32,
        layers: 2,
        ..PolicyConfig::default()
    };
    let ppo = PpoConfig {
        lr: 0.01,
        epochs: 3,
        minibatch: 4,
        ..PpoConfig::default()
    };
    NetLearner::new(device, context, &policy, ppo, 9).unwrap()
}

fn lp(l: &mut NetLearner, ctx: &[u32], a: usize) -> f32 {
    l.log_probs_of(&[(ctx, &ALL)])[0][a]
}

#[test]
fn one_update_on_wgpu_learns_in_the_same_direction_as_on_cpu() {
    let gpu = match select(BackendChoice::Wgpu) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("SKIPPED: no wgpu adapter on this machine ({e})");
            if std::env::var_os("STEPRL_REQUIRE_WGPU").is_some() {
                panic!("{msg}, but STEPRL_REQUIRE_WGPU is set");
            }
            eprintln!("{msg}");
            return;
        }
    };
    eprintln!("wgpu test running on {}", gpu.description);
    let cpu = select(BackendChoice::Cpu).unwrap();
    let (x, y) = ([1u32, 2, 3, 4], [5u32, 6, 7, 8]);
    let mut moves = Vec::new();
    for device in [&cpu.device, &gpu.device] {
        let mut l = learner(device);
        let (x0, y3) = (lp(&mut l, &x, 0), lp(&mut l, &y, 3));
        let samples = vec![
            StepSample {
                context: x.to_vec(),
                mask: ALL.to_vec(),
                action: 0,
                old_logp: x0,
                advantage: 1.0,
                weight: 1.0,
                ..StepSample::default()
            },
            StepSample {
                context: y.to_vec(),
                mask: ALL.to_vec(),
                action: 3,
                old_logp: y3,
                advantage: -1.0,
                weight: 1.0,
                ..StepSample::default()
            },
        ];
        l.update(&samples, 1);
        moves.push((lp(&mut l, &x, 0) - x0, lp(&mut l, &y, 3) - y3, x0));
    }
    let (cpu_up, cpu_down, cpu_start) = moves[0];
    let (gpu_up, gpu_down, gpu_start) = moves[1];
    assert!(
        (cpu_start - gpu_start).abs() < 1e-4,
        "same initialization: {cpu_start} vs {gpu_start}"
    );
    assert!(
        cpu_up > 0.0 && gpu_up > 0.0,
        "positive advantage rises: cpu {cpu_up}, wgpu {gpu_up}"
    );
    assert!(
        cpu_down < 0.0 && gpu_down < 0.0,
        "negative advantage falls: cpu {cpu_down}, wgpu {gpu_down}"
    );
    assert!(
        (cpu_up - gpu_up).abs() < 0.05 * cpu_up.abs().max(1e-3) + 1e-3,
        "cpu {cpu_up} vs wgpu {gpu_up}"
    );
}

//! Benchmark (not a test): the LM policy's two hot paths on SmolLM2-135M-Instruct (Q4_1
//! GGUF, `models/fetch.sh smollm2`) with LoRA rank 8 (α 16) on q and v —
//! 1. choice-mode scoring of a uisim screen (`open.settings`, seed 0): one prompt pass
//!    filling the KV cache, then all 19 action labels continuing it in one batch
//!    (median of 5 after a warm-up);
//! 2. one LoRA training step of generate mode: 4 (uisim prompt, 16-token reply)
//!    sequences, forward, per-token PPO loss, backward, Adam (median of 3 after a
//!    warm-up step), and the same forward pass alone without autodiff;
//!
//! 3. lanes batched against lanes one after another, in one process: choice scoring of
//!    8 distinct uisim screens (one padded batch, the labels as branches of each
//!    prompt's cache) and greedy replies of 16 tokens to 4 screens (decoded together);
//!
//! and peak RSS. It writes the token ids it used to `$STEPRL_BENCH_BATCH` (default
//! `target/lm-lora-batch.json`) so `bench/lm_lora_torch.py` runs the same tokens in
//! PyTorch + peft.
//!
//! `cargo bench -p steprl-tests --bench lm_lora`; `RAYON_NUM_THREADS=N` for N threads,
//! `STEPRL_BENCH_BACKEND=wgpu` for the GPU backend (default `cpu`).

use std::path::PathBuf;
use std::time::Instant;

use steprl_core::{Action, Completion, Learner, Observation, Sampling, StepSample, Transition};
use steprl_learner::lm_choice::{label_scores, label_scores_batch};
use steprl_learner::{
    GenerateSettings, LmChoiceLearner, LmGenerateLearner, LoraSettings, PpoConfig,
    burn_device::Device,
};
use uisim_model::SimAction;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A uisim screen as the LM policy reads it, and the task's instruction.
fn screen(task: &str, seed: u64) -> (Observation, String) {
    let ep = uisim_model::Episode::new(task, seed).expect("a uisim task");
    let o = ep.observe(true, false);
    (
        Observation {
            text: o.text,
            action_mask: Some(o.mask),
            ..Default::default()
        },
        ep.instance().instruction.clone(),
    )
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let model = root.join("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !model.exists() {
        eprintln!("{} is absent: run models/fetch.sh smollm2", model.display());
        return;
    }
    let choice: steprl_learner::BackendChoice = std::env::var("STEPRL_BENCH_BACKEND")
        .unwrap_or_else(|_| "cpu".into())
        .parse()
        .expect("STEPRL_BENCH_BACKEND is auto, cpu or wgpu");
    let selected = steprl_learner::select(choice).expect("backend");
    let device: Device = selected.device.clone();
    let lora = LoraSettings {
        rank: 8,
        alpha: 16.0,
        targets: vec!["q_proj".into(), "v_proj".into()],
        dropout: 0.0,
        full: false,
    };
    println!(
        "backend {} ({}), rayon threads {}",
        selected.backend,
        selected.description,
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all cores".into())
    );

    // 1. Choice scoring.
    let labels = <uisim_model::Act as SimAction>::labels();
    let (observation, instruction) = screen("open.settings", 0);
    let mut choice =
        LmChoiceLearner::new(&model, &device, &labels, 0, &lora, PpoConfig::default(), 1)
            .expect("model loads");
    let prompt = choice.prompt_ids(&instruction, &[], &observation);
    let all = vec![true; labels.len()];
    choice.log_probs_of(&[(&prompt, &all)]); // warm-up (builds the inference copy)
    let score: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            choice.log_probs_of(&[(&prompt, &all)]);
            t.elapsed().as_secs_f64()
        })
        .collect();
    let label_ids = choice.label_ids().to_vec();
    // 3a. Eight lanes' screens, scored one after another and as one batch.
    let lanes: Vec<Vec<u32>> = ["open.settings", "open.clock", "open.notes", "open.contacts"]
        .iter()
        .flat_map(|task| [0u64, 1].map(|seed| (task, seed)))
        .map(|(task, seed)| {
            let (o, i) = screen(task, seed);
            choice.prompt_ids(&i, &[], &o)
        })
        .collect();
    drop(choice);
    let base = steprl_lm::LanguageModel::load(&model, &device).expect("model loads");
    let refs: Vec<&[u32]> = lanes.iter().map(Vec::as_slice).collect();
    let one_by_one = || {
        for p in &refs {
            label_scores(&base.net, p, &label_ids, &device).into_data();
        }
    };
    let together = || {
        label_scores_batch(&base.net, &refs, &label_ids, &device).into_data();
    };
    one_by_one();
    together();
    let (mut lanes_apart, mut lanes_batched) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let t = Instant::now();
        one_by_one();
        lanes_apart.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        together();
        lanes_batched.push(t.elapsed().as_secs_f64());
    }
    drop(base);

    // 2. One LoRA training step.
    let mut learner = LmGenerateLearner::new(
        &model,
        &device,
        GenerateSettings::default(),
        0,
        &lora,
        PpoConfig {
            lr: 1e-4,
            epochs: 1,
            minibatch: 4,
            ..PpoConfig::default()
        },
        1,
    )
    .expect("model loads");
    let mut samples: Vec<StepSample> = Vec::new();
    for (k, (task, reply)) in [
        ("open.settings", "click 3"),
        ("open.clock", "open the clock app, then wait"),
        ("open.notes", "done"),
        ("open.contacts", "scroll down"),
    ]
    .iter()
    .enumerate()
    {
        let (observation, instruction) = screen(task, k as u64);
        let mut tokens = learner.text_tokens(reply);
        let pad = tokens[0];
        tokens.resize(16, pad);
        let t = Transition {
            observation,
            action: Action::Text((*reply).to_owned()),
            logp: 0.0,
            completion: Some(Completion {
                tokens,
                logps: vec![0.0; 16],
            }),
            policy_version: 0,
        };
        let adv = if k % 2 == 0 { 1.0 } else { -1.0 };
        samples.extend(learner.samples(&instruction, std::slice::from_ref(&t), &[adv]));
    }
    // Behaviour log-probs are the current policy's: the ratios start at 1.
    let current = learner.completion_log_probs(&samples);
    for (s, lp) in samples.iter_mut().zip(current) {
        s.token_logps = lp;
    }
    // Where a step's time goes: the same forward pass without autodiff.
    learner.completion_log_probs(&samples); // warm-up
    let forward: Vec<f64> = (0..3)
        .map(|_| {
            let t = Instant::now();
            learner.completion_log_probs(&samples);
            t.elapsed().as_secs_f64()
        })
        .collect();
    learner.update(&samples, 0); // warm-up
    let step: Vec<f64> = (1..=3)
        .map(|seed| {
            let t = Instant::now();
            let st = learner.update(&samples, seed);
            assert_eq!(st.gradient_steps, 1);
            t.elapsed().as_secs_f64()
        })
        .collect();
    let tokens: usize = samples
        .iter()
        .map(|s| s.context.len() + s.completion.len())
        .sum();
    drop(learner);

    // 3b. Greedy replies of 16 tokens to 4 screens, one after another and together.
    let mut writer = LmGenerateLearner::new(
        &model,
        &device,
        GenerateSettings {
            max_new_tokens: 16,
            ..GenerateSettings::default()
        },
        0,
        &lora,
        PpoConfig::default(),
        1,
    )
    .expect("model loads");
    let gen_refs: Vec<&[u32]> = samples.iter().map(|s| s.context.as_slice()).collect();
    let mut rng = steprl_core::SplitMix::new(0, 0);
    writer.reply(gen_refs[0], Sampling::Greedy, &mut rng); // warm-up
    let t = Instant::now();
    let apart: usize = gen_refs
        .iter()
        .map(|p| {
            writer
                .reply(p, Sampling::Greedy, &mut rng)
                .completion
                .tokens
                .len()
        })
        .sum();
    let gen_apart = t.elapsed().as_secs_f64();
    let mut streams: Vec<steprl_core::SplitMix> =
        (0..4).map(|i| steprl_core::SplitMix::new(i, 0)).collect();
    let mut rngs: Vec<&mut steprl_core::SplitMix> = streams.iter_mut().collect();
    let t = Instant::now();
    let together_tokens: usize = writer
        .replies(&gen_refs, Sampling::Greedy, &mut rngs)
        .iter()
        .map(|r| r.completion.tokens.len())
        .sum();
    let gen_together = t.elapsed().as_secs_f64();
    assert_eq!(apart, together_tokens, "the same greedy replies");

    let batch = serde_json::json!({
        "choice": {"prompt": prompt, "labels": label_ids},
        "step": samples.iter().map(|s| serde_json::json!({
            "prompt": s.context, "completion": s.completion, "advantage": s.advantage
        })).collect::<Vec<_>>(),
    });
    let out = std::env::var("STEPRL_BENCH_BATCH")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target/lm-lora-batch.json"));
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).ok();
    }
    std::fs::write(&out, batch.to_string()).expect("batch file");
    println!(
        "choice scoring  {:.3} s (a {}-token prompt, {} labels; median of 5)",
        median(score),
        prompt.len(),
        labels.len()
    );
    println!(
        "LoRA step       {:.3} s (4 sequences, {tokens} tokens, 16 reply tokens each; median of 3)",
        median(step)
    );
    println!(
        "  of which the forward pass alone (no autodiff) {:.3} s",
        median(forward)
    );
    println!(
        "8 lanes' choice scoring: one after another {:.3} s, one batch {:.3} s ({:.2}x; median of 3)",
        median(lanes_apart.clone()),
        median(lanes_batched.clone()),
        median(lanes_apart) / median(lanes_batched)
    );
    println!(
        "4 lanes' greedy replies ({apart} tokens): one after another {gen_apart:.3} s, together {gen_together:.3} s ({:.2}x)",
        gen_apart / gen_together
    );
    println!("peak RSS        {:.0} MiB", steprl_tests::peak_rss_mib());
    println!("tokens written to {}", out.display());
}

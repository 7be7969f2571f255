//! The language-model policy in generate mode, on the tiny random Llama fixture of
//! `host/lm`: replies follow the token budget and stop strings and record each token's
//! log-probability exactly as the update recomputes it (ratio 1 before an update, at
//! any temperature); the per-token PPO update moves a reply's probability with the sign
//! of its advantage; micro-batches accumulate to the same update as one pass;
//! checkpoints continue exactly; augmentation candidates are seeded replies; behaviour
//! cloning raises a demonstrated text; bad settings are named.

use std::path::{Path, PathBuf};

use steprl_core::{
    Action, Decision, Learner, Observation, Policy, Sampling, SplitMix, State, StepSample,
    Transition, View,
};
use steprl_learner::{
    GenerateSettings, LmGenerateLearner, LoraSettings, PpoConfig, burn_device::Device,
};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../lm/tests/fixtures/tiny-llama")
}

fn lora() -> LoraSettings {
    LoraSettings {
        rank: 4,
        alpha: 8.0,
        targets: vec!["q_proj".into(), "v_proj".into()],
        dropout: 0.0,
        full: false,
    }
}

/// Full fine-tuning of the decoder layers' projections.
fn full() -> LoraSettings {
    LoraSettings {
        full: true,
        ..lora()
    }
}

fn ppo() -> PpoConfig {
    PpoConfig {
        lr: 0.01,
        epochs: 3,
        minibatch: 4,
        ..PpoConfig::default()
    }
}

fn settings() -> GenerateSettings {
    GenerateSettings {
        temperature: 1.0,
        top_p: 1.0,
        max_new_tokens: 8,
        stop: Vec::new(),
        action_hint: "Reply with one shell command.".into(),
    }
}

fn learner_with(s: GenerateSettings, p: PpoConfig) -> LmGenerateLearner {
    LmGenerateLearner::new(&fixture(), &Device::flex(), s, 1, &lora(), p, 3).unwrap()
}

fn learner() -> LmGenerateLearner {
    learner_with(settings(), ppo())
}

fn obs(text: &str) -> Observation {
    Observation {
        text: Some(text.into()),
        ..Default::default()
    }
}

fn act(l: &mut LmGenerateLearner, o: &Observation, sampling: Sampling, seed: u64) -> Transition {
    let views = [View {
        instruction: "list the files",
        history: &[],
        observation: o,
    }];
    let mut rng = SplitMix::new(seed, 0);
    let d = l.act(&views, sampling, &mut [&mut rng]).remove(0);
    Transition {
        observation: o.clone(),
        action: d.action,
        logp: d.logp,
        completion: d.completion,
        policy_version: 0,
    }
}

#[test]
fn replies_keep_each_tokens_log_prob_as_the_update_recomputes_it() {
    for temperature in [1.0, 0.7] {
        let mut l = learner_with(
            GenerateSettings {
                temperature,
                ..settings()
            },
            ppo(),
        );
        let o = obs("$ ls\nnotes.txt");
        for seed in [1, 2, 3] {
            let t = act(&mut l, &o, Sampling::Sample, seed);
            let c = t
                .completion
                .clone()
                .expect("a generated action has its tokens");
            assert!(!c.tokens.is_empty() && c.tokens.len() <= 8, "{c:?}");
            assert_eq!(c.tokens.len(), c.logps.len());
            assert!((t.logp - c.logps.iter().sum::<f32>()).abs() < 1e-5);
            assert!(matches!(t.action, Action::Text(_)));
            let s = l.samples("list the files", std::slice::from_ref(&t), &[1.0]);
            assert_eq!(s[0].completion, c.tokens);
            assert_eq!(s[0].token_logps, c.logps);
            let again = l.sequence_log_probs(&s)[0];
            assert!(
                (again - t.logp).abs() < 1e-3,
                "T = {temperature}: acting said {}, the update's forward pass says {again}",
                t.logp
            );
        }
    }
}

#[test]
fn greedy_replies_repeat_and_sampled_ones_follow_the_seed() {
    let mut l = learner();
    let o = obs("$ ls\nnotes.txt");
    let g1 = act(&mut l, &o, Sampling::Greedy, 1);
    let g2 = act(&mut l, &o, Sampling::Greedy, 2);
    assert_eq!(g1, g2, "greedy ignores the stream");
    let s1 = act(&mut l, &o, Sampling::Sample, 7);
    assert_eq!(s1, act(&mut l, &o, Sampling::Sample, 7));
    let distinct: std::collections::BTreeSet<Vec<u32>> = (0..6)
        .map(|seed| {
            act(&mut l, &o, Sampling::Sample, seed)
                .completion
                .unwrap()
                .tokens
        })
        .collect();
    assert!(distinct.len() > 1, "sampling draws different replies");
}

/// Lanes decoded together (prompts of different lengths, right-padded; replies of
/// different lengths, finished lanes riding along) write what each lane writes alone,
/// with the same token log-probabilities, greedy and sampled with per-lane streams.
#[test]
fn lanes_decoded_together_write_what_each_writes_alone() {
    let mut l = learner_with(
        GenerateSettings {
            max_new_tokens: 12,
            // Common letters end replies at different lengths.
            stop: vec!["e".into(), "a".into(), "o".into()],
            ..settings()
        },
        ppo(),
    );
    let texts = [
        "$ ls",
        "$ ls -la /home/user/projects/steprl\nnotes.txt\nREADME.md",
        "$",
    ];
    let observations: Vec<Observation> = texts.iter().map(|t| obs(t)).collect();
    let views: Vec<View<'_>> = observations
        .iter()
        .map(|o| View {
            instruction: "list the files",
            history: &[],
            observation: o,
        })
        .collect();
    for sampling in [Sampling::Greedy, Sampling::Sample] {
        let mut streams: Vec<SplitMix> = (0..3).map(|i| SplitMix::new(40 + i, 0)).collect();
        let mut rngs: Vec<&mut SplitMix> = streams.iter_mut().collect();
        let together = l.act(&views, sampling, &mut rngs);
        let mut lengths = Vec::new();
        for (i, v) in views.iter().enumerate() {
            let mut rng = SplitMix::new(40 + i as u64, 0);
            let alone = l
                .act(std::slice::from_ref(v), sampling, &mut [&mut rng])
                .remove(0);
            let (a, b) = (
                alone.completion.as_ref().unwrap(),
                together[i].completion.as_ref().unwrap(),
            );
            assert_eq!(a.tokens, b.tokens, "lane {i}, {sampling:?}");
            assert_eq!(alone.action, together[i].action, "lane {i}, {sampling:?}");
            for (x, y) in a.logps.iter().zip(&b.logps) {
                assert!((x - y).abs() < 1e-4, "lane {i}: {x} vs {y}");
            }
            lengths.push(a.tokens.len());
        }
        if sampling == Sampling::Sample {
            assert!(
                lengths.iter().any(|n| *n != lengths[0]),
                "some lane finishes before another: {lengths:?}"
            );
        }
    }
}

#[test]
fn stop_strings_cut_the_text_and_end_the_reply() {
    let mut l = learner_with(
        GenerateSettings {
            max_new_tokens: 24,
            ..settings()
        },
        ppo(),
    );
    let o = obs("$ ls\nnotes.txt");
    // A sampled reply with a few characters, then the same draw stopping on its second.
    let (seed, t, full) = (100..200)
        .find_map(|seed| {
            let t = act(&mut l, &o, Sampling::Sample, seed);
            match &t.action {
                Action::Text(text) if text.chars().count() >= 3 => {
                    let text = text.clone();
                    Some((seed, t, text))
                }
                _ => None,
            }
        })
        .expect("some reply of the fixture has 3 characters");
    let stop: String = full.chars().nth(1).unwrap().to_string();
    let mut cut = learner_with(
        GenerateSettings {
            max_new_tokens: 24,
            stop: vec![stop.clone()],
            ..settings()
        },
        ppo(),
    );
    let c = act(&mut cut, &o, Sampling::Sample, seed);
    let Action::Text(short) = &c.action else {
        unreachable!()
    };
    assert!(
        !short.contains(&stop),
        "{short:?} still holds the stop {stop:?}"
    );
    assert!(full.starts_with(short.as_str()), "{full:?} / {short:?}");
    assert!(short.len() < full.len());
    let (n, m) = (
        c.completion.as_ref().unwrap().tokens.len(),
        t.completion.as_ref().unwrap().tokens.len(),
    );
    assert!(
        n <= m,
        "the reply ended at the stop string: {n} vs {m} tokens"
    );
    assert_eq!(
        c.completion.as_ref().unwrap().tokens[..],
        t.completion.as_ref().unwrap().tokens[..n],
        "the same draw up to the stop"
    );
}

fn rewarded(l: &mut LmGenerateLearner) -> Vec<StepSample> {
    let o = obs("$ ls\nnotes.txt");
    let good = act(l, &o, Sampling::Sample, 11);
    let bad = act(l, &o, Sampling::Sample, 12);
    assert_ne!(good.completion, bad.completion);
    let mut s = l.samples("list the files", std::slice::from_ref(&good), &[1.0]);
    s.extend(l.samples("list the files", std::slice::from_ref(&bad), &[-1.0]));
    s
}

/// Sampled replies on two screens (the same streams every call).
fn replies_of(p: &mut dyn Policy) -> Vec<Decision> {
    let (x, y) = (obs("$ ls\nnotes.txt"), obs("$ pwd\n/home"));
    let views = [
        View {
            instruction: "list the files",
            history: &[],
            observation: &x,
        },
        View {
            instruction: "list the files",
            history: &[],
            observation: &y,
        },
    ];
    let (mut a, mut b) = (SplitMix::new(5, 0), SplitMix::new(6, 0));
    p.act(&views, Sampling::Sample, &mut [&mut a, &mut b])
}

#[test]
fn a_snapshot_writes_what_the_learner_did_and_stays_put_while_it_updates() {
    let mut l = learner();
    let mut snap = l.snapshot();
    let before = replies_of(&mut l);
    assert_eq!(replies_of(snap.as_mut()), before);
    let s = rewarded(&mut l);
    l.update(&s, 1);
    let after = replies_of(&mut l);
    assert_ne!(after, before, "the update moved the learner");
    assert_eq!(replies_of(snap.as_mut()), before, "the snapshot stayed");
    let mut now = l.snapshot();
    assert_eq!(replies_of(now.as_mut()), after);
    assert_eq!(snap.parts(), l.parts());
}

#[test]
fn the_token_update_raises_a_rewarded_reply_and_lowers_a_punished_one() {
    let mut l = learner();
    let s = rewarded(&mut l);
    let before = l.sequence_log_probs(&s);
    let stats = l.update(&s, 1);
    assert_eq!(stats.gradient_steps, 3);
    assert!(
        stats.approx_kl.is_finite() && stats.entropy > 0.0,
        "{stats:?}"
    );
    let after = l.sequence_log_probs(&s);
    assert!(
        after[0] > before[0],
        "rewarded: {} -> {}",
        before[0],
        after[0]
    );
    assert!(
        after[1] < before[1],
        "punished: {} -> {}",
        before[1],
        after[1]
    );
    // Zero advantages and no penalties: nothing to learn, no step taken.
    let zero: Vec<StepSample> = s
        .iter()
        .map(|x| StepSample {
            advantage: 0.0,
            ..x.clone()
        })
        .collect();
    assert_eq!(l.update(&zero, 1).gradient_steps, 0);
}

#[test]
fn micro_batches_accumulate_to_the_same_update_as_one_pass() {
    let run = |micro: usize| {
        let mut l = learner_with(
            settings(),
            PpoConfig {
                epochs: 1,
                micro_batch: micro,
                ..ppo()
            },
        );
        let s = rewarded(&mut l);
        let stats = l.update(&s, 1);
        (l.sequence_log_probs(&s), stats)
    };
    let (whole, a) = run(0);
    let (micro, b) = run(1);
    assert_eq!(a.gradient_steps, 1);
    assert_eq!(b.gradient_steps, 1, "one optimizer step per minibatch");
    for (x, y) in whole.iter().zip(&micro) {
        assert!((x - y).abs() < 1e-4, "{whole:?} vs {micro:?}");
    }
    assert!((a.policy_loss - b.policy_loss).abs() < 1e-5);
    assert!((a.grad_norm - b.grad_norm).abs() < 1e-4 * a.grad_norm.max(1.0));
}

#[test]
fn the_kl_penalty_reads_the_base_model_and_is_zero_before_training() {
    let mut l = learner_with(
        settings(),
        PpoConfig {
            kl_coef: 0.1,
            epochs: 1,
            ..ppo()
        },
    );
    let s = rewarded(&mut l);
    let first = l.update(&s, 1);
    assert!(
        first.kl_ref.abs() < 1e-6,
        "adapters start at B = 0: {first:?}"
    );
    for _ in 0..3 {
        l.update(&s, 2);
    }
    let later = l.update(&s, 3);
    assert!(later.kl_ref > 0.0, "{later:?}");
}

#[test]
fn a_checkpoint_continues_exactly() {
    checkpoint_continues_exactly(&lora(), "lora.safetensors");
}

#[test]
fn a_fully_fine_tuned_checkpoint_continues_exactly() {
    checkpoint_continues_exactly(&full(), "weights.safetensors");
}

fn checkpoint_continues_exactly(lora: &LoraSettings, file: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut l =
        LmGenerateLearner::new(&fixture(), &Device::flex(), settings(), 1, lora, ppo(), 3).unwrap();
    let s = rewarded(&mut l);
    let before = l.sequence_log_probs(&s);
    l.update(&s, 1);
    assert_ne!(
        l.sequence_log_probs(&s),
        before,
        "the update moved the policy"
    );
    l.save(dir.path()).unwrap();
    assert!(dir.path().join(file).exists());
    let mut back = LmGenerateLearner::load(
        dir.path(),
        &fixture(),
        &Device::flex(),
        settings(),
        1,
        lora,
        ppo(),
        steprl_learner::LoadFor::Training,
    )
    .unwrap();
    assert_eq!(l.sequence_log_probs(&s), back.sequence_log_probs(&s));
    let a = l.update(&s, 2);
    let b = back.update(&s, 2);
    assert_eq!(a, b, "optimizer state restored");
    assert_eq!(l.sequence_log_probs(&s), back.sequence_log_probs(&s));
    // Resumed with the other finetune setting: named, not a bare missing file.
    let other = LoraSettings {
        full: !lora.full,
        ..lora.clone()
    };
    let err = LmGenerateLearner::load(
        dir.path(),
        &fixture(),
        &Device::flex(),
        settings(),
        1,
        &other,
        ppo(),
        steprl_learner::LoadFor::Training,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains(&format!("the checkpoint holds {file}")) && err.contains("finetune"),
        "{err}"
    );
}

#[test]
fn full_fine_tuning_trains_every_layer_projection_and_keeps_the_reference() {
    let kl = PpoConfig {
        kl_coef: 0.5,
        epochs: 1,
        ..ppo()
    };
    let mut f =
        LmGenerateLearner::new(&fixture(), &Device::flex(), settings(), 1, &full(), kl, 3).unwrap();
    let adapters = learner();
    // The tiny Llama: 2 layers of hidden 64 (q, o 64×64; k, v 64×32; MLP 64×128 ×3).
    assert_eq!(
        adapters.num_params(),
        2 * (64 * 4 + 4 * 64 + 64 * 4 + 4 * 32)
    );
    assert_eq!(
        f.num_params(),
        2 * (2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 128)
    );
    let s = rewarded(&mut f);
    let first = f.update(&s, 1);
    // Policy and reference are equal; only the order of the threads' partial sums can
    // differ between their two forward passes (seen: -3.7e-9).
    assert!(
        first.kl_ref.abs() < 1e-6,
        "the first step starts at the base: {first:?}"
    );
    let later = f.update(&s, 2);
    assert!(later.kl_ref > 0.0, "{later:?}");
}

#[test]
fn augmentation_candidates_are_seeded_replies_at_the_recorded_state() {
    let mut l = learner();
    let o = obs("$ ls\nnotes.txt");
    let t = act(&mut l, &o, Sampling::Sample, 4);
    let traj = [t.clone()];
    let states = [State {
        instruction: "list the files",
        steps: &traj,
        t: 0,
    }];
    let c = l.candidates(&states, 5, &[9]);
    assert_eq!(c[0].draws.len(), 5);
    assert_eq!(c[0].recorded.completion, t.completion.unwrap().tokens);
    for d in &c[0].draws {
        assert_eq!(d.context, c[0].recorded.context);
        assert_eq!(d.completion.len(), d.token_logps.len());
        assert!((d.old_logp - d.token_logps.iter().sum::<f32>()).abs() < 1e-5);
    }
    assert_eq!(c, l.candidates(&states, 5, &[9]), "same seed, same draws");
    let m = c[0].matches();
    assert_eq!(
        m,
        c[0].draws
            .iter()
            .map(|d| d.completion == c[0].recorded.completion)
            .collect::<Vec<_>>()
    );
}

/// Draws of several states, more than one batch of them, decoded together are the
/// replies each draw writes alone from its own stream.
#[test]
fn augmentation_draws_decoded_together_are_the_replies_each_writes_alone() {
    let mut l = learner();
    let (a, b) = (obs("$ ls\nnotes.txt"), obs("$ cat notes.txt\nbuy milk"));
    let ta = [act(&mut l, &a, Sampling::Sample, 4)];
    let tb = [act(&mut l, &b, Sampling::Sample, 5)];
    let states = [
        State {
            instruction: "list the files",
            steps: &ta,
            t: 0,
        },
        State {
            instruction: "read the notes",
            steps: &tb,
            t: 0,
        },
    ];
    let group = steprl_learner::lm_generate::CANDIDATE_LANES as u32 / 2 + 1;
    let seeds = [21, 22];
    let c = l.candidates(&states, group, &seeds);
    for (i, cand) in c.iter().enumerate() {
        assert_eq!(cand.draws.len(), group as usize);
        for (j, d) in cand.draws.iter().enumerate() {
            let mut rng = SplitMix::new(seeds[i], j as u64);
            let alone = l.reply(&cand.recorded.context, Sampling::Sample, &mut rng);
            assert_eq!(d.completion, alone.completion.tokens, "state {i}, draw {j}");
            for (x, y) in d.token_logps.iter().zip(&alone.completion.logps) {
                assert!((x - y).abs() < 1e-4, "state {i}, draw {j}: {x} vs {y}");
            }
        }
    }
}

#[test]
fn cloning_a_demonstrated_command_raises_its_probability() {
    let mut l = learner();
    let o = obs("$ ls\nnotes.txt");
    let demo = [Transition {
        observation: o,
        action: Action::Text("cat notes.txt".into()),
        logp: 0.0,
        completion: None,
        policy_version: 0,
    }];
    let s = l.samples("list the files", &demo, &[0.0]);
    assert!(
        s[0].token_logps.is_empty(),
        "a demonstration has no behaviour log-probs"
    );
    assert_eq!(s[0].completion, l.text_tokens("cat notes.txt"));
    let before = l.sequence_log_probs(&s)[0];
    let (first, last) = l.imitate(&s, 5, 0.01, 1);
    assert!(last < first, "{first} -> {last}");
    assert!(l.sequence_log_probs(&s)[0] > before);
    // A demonstration cannot form PPO ratios: the update skips it.
    let s = vec![StepSample {
        advantage: 1.0,
        ..s[0].clone()
    }];
    assert_eq!(l.update(&s, 1).gradient_steps, 0);
}

#[test]
fn long_observations_are_cut_to_leave_room_for_the_reply() {
    let l = learner();
    let o = obs(&"file.txt ".repeat(400));
    let p = l.prompt_ids("list the files", &[], &o);
    assert!(p.len() + 8 < 256, "prompt of {} tokens", p.len());
    let short = obs("file.txt");
    assert!(l.prompt_ids("list the files", &[], &short).len() < p.len());
}

#[test]
fn bad_generation_settings_are_named() {
    let bad = GenerateSettings {
        temperature: 0.0,
        top_p: 1.5,
        max_new_tokens: 0,
        stop: vec![String::new()],
        action_hint: String::new(),
    };
    let e = LmGenerateLearner::new(&fixture(), &Device::flex(), bad, 1, &lora(), ppo(), 1)
        .err()
        .unwrap()
        .to_string();
    for key in [
        "policy.temperature = 0",
        "policy.top_p = 1.5",
        "policy.max_new_tokens",
        "policy.stop",
    ] {
        assert!(e.contains(key), "{key} missing from: {e}");
    }
}

/// log π of each sample's completion under a plain (adapter-free) model, token by token.
fn plain_log_probs(lm: &steprl_lm::LanguageModel, samples: &[StepSample]) -> Vec<f32> {
    samples
        .iter()
        .map(|s| {
            let mut seq = s.context.clone();
            let mut total = 0.0;
            for &t in &s.completion {
                total += lm.next_logprobs(&seq).unwrap()[t as usize];
                seq.push(t);
            }
            total
        })
        .collect()
}

#[test]
fn exported_merged_weights_score_like_the_adapters() {
    exported_weights_score_like_the_trained_policy(&lora(), 4, "q and v of 2 layers");
}

#[test]
fn exported_fully_fine_tuned_weights_score_like_the_trained_policy() {
    exported_weights_score_like_the_trained_policy(&full(), 14, "7 projections of 2 layers");
}

fn exported_weights_score_like_the_trained_policy(lora: &LoraSettings, n: usize, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut l = LmGenerateLearner::new(
        &fixture(),
        &Device::flex(),
        settings(),
        1,
        lora,
        PpoConfig { lr: 0.05, ..ppo() },
        3,
    )
    .unwrap();
    let s = rewarded(&mut l);
    for seed in 0..3 {
        l.update(&s, seed);
    }
    l.save(dir.path()).unwrap();
    let adapted = l.sequence_log_probs(&s);
    let changes = steprl_learner::lm_base::trained_changes(dir.path(), lora).unwrap();
    assert_eq!(changes.len(), n, "{what}");
    let out = dir.path().join("merged");
    let e = steprl_lm::export::export_hf(&fixture(), &out, &changes).unwrap();
    assert_eq!(e.merged, n);
    let merged = steprl_lm::LanguageModel::load(&out, &Device::flex()).unwrap();
    let base = steprl_lm::LanguageModel::load(&fixture(), &Device::flex()).unwrap();
    assert_eq!(merged.stop_ids, base.stop_ids);
    assert_eq!(
        merged.config, base.config,
        "the written config.json reads back the same"
    );
    let from_merged = plain_log_probs(&merged, &s);
    let from_base = plain_log_probs(&base, &s);
    for i in 0..s.len() {
        assert!(
            (from_merged[i] - adapted[i]).abs() < 1e-3,
            "sample {i}: merged {} vs adapters {}",
            from_merged[i],
            adapted[i]
        );
        assert!(
            (from_base[i] - adapted[i]).abs() > 1e-2,
            "training moved sample {i} away from the base ({} vs {})",
            from_base[i],
            adapted[i]
        );
    }
    assert_eq!(
        merged.prompt_ids("hi", false).unwrap(),
        base.prompt_ids("hi", false).unwrap(),
        "tokenizer and chat template carried over"
    );
    // A change to a tensor the model lacks is refused before anything is written.
    let mut bad = changes.clone();
    let d = bad.values().next().unwrap().clone();
    bad.insert("model.layers.9.self_attn.q_proj.weight".into(), d);
    let err = steprl_lm::export::export_hf(&fixture(), &dir.path().join("bad"), &bad)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model.layers.9.self_attn.q_proj.weight"),
        "{err}"
    );
    assert!(!dir.path().join("bad").exists());
}

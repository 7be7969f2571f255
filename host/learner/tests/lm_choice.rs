//! The language-model policy in choice mode, on the tiny random Llama fixture of
//! `host/lm`: label scores from the shared prompt cache equal token-by-token scoring,
//! the policy is a distribution over the valid actions, the PPO update through LoRA
//! moves it the right way and trains only the adapters, checkpoints continue exactly
//! and refuse another base model, and bad settings are named.

use std::path::{Path, PathBuf};

use steprl_core::{
    Action, Decision, Learner, Observation, Policy, Sampling, SplitMix, State, StepSample,
    Transition, View,
};
use steprl_learner::lm_choice::{label_scores, label_scores_batch, label_scores_in_passes};
use steprl_learner::{LmChoiceLearner, LoraSettings, PpoConfig, burn_device::Device};
use steprl_lm::LanguageModel;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../lm/tests/fixtures/tiny-llama")
}

fn labels() -> Vec<String> {
    ["open settings", "go back", "tap wifi", "done"]
        .map(String::from)
        .to_vec()
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

fn ppo() -> PpoConfig {
    PpoConfig {
        lr: 0.01,
        epochs: 3,
        minibatch: 4,
        ..PpoConfig::default()
    }
}

fn learner(model: &Path) -> LmChoiceLearner {
    LmChoiceLearner::new(model, &Device::flex(), &labels(), 1, &lora(), ppo(), 3).unwrap()
}

fn obs(text: &str, mask: Option<Vec<bool>>) -> Observation {
    Observation {
        text: Some(text.into()),
        action_mask: mask,
        ..Default::default()
    }
}

fn probs(l: &mut LmChoiceLearner, o: &Observation) -> Vec<f32> {
    let p = l.prompt_ids("turn wifi on", &[], o);
    let mask = steprl_core::action_mask(o, 4);
    l.log_probs_of(&[(&p, &mask)])[0].clone()
}

#[test]
fn label_scores_from_the_shared_cache_equal_scoring_each_label_alone() {
    let lm = LanguageModel::load(&fixture(), &Device::flex()).unwrap();
    let prompt = lm.prompt_ids("Task: turn wifi on", false).unwrap();
    let end = lm.stop_ids[0];
    let label_ids: Vec<Vec<u32>> = labels()
        .iter()
        .map(|l| {
            let mut ids = lm.tokenizer.encode(l, false).unwrap();
            ids.push(end);
            ids
        })
        .collect();
    let scores: Vec<f32> = label_scores(&lm.net, &prompt, &label_ids, &Device::flex())
        .into_data()
        .try_into_vec()
        .unwrap();
    for (ids, got) in label_ids.iter().zip(&scores) {
        let mut seq = prompt.clone();
        let mut want = 0.0f32;
        for &t in ids {
            want += lm.next_logprobs(&seq).unwrap()[t as usize];
            seq.push(t);
        }
        assert!((want - got).abs() < 1e-4, "{ids:?}: {want} vs {got}");
    }
}

/// Prompts of different lengths (right-padded in one pass) and labels of different
/// lengths (branches over one cache) score as each prompt does alone, in one pass or
/// split over several.
#[test]
fn prompts_batched_across_lanes_score_as_each_prompt_alone() {
    let lm = LanguageModel::load(&fixture(), &Device::flex()).unwrap();
    let prompts: Vec<Vec<u32>> = [
        "Task: turn wifi on",
        "Task: open the settings and then turn the wifi on, please, now",
        "go",
    ]
    .iter()
    .map(|t| lm.prompt_ids(t, false).unwrap())
    .collect();
    assert!(prompts[1].len() > prompts[0].len() + 5, "lengths differ");
    let end = lm.stop_ids[0];
    let label_ids: Vec<Vec<u32>> = ["open settings and wait", "go back", "done"]
        .iter()
        .map(|l| {
            let mut ids = lm.tokenizer.encode(l, false).unwrap();
            ids.push(end);
            ids
        })
        .collect();
    let refs: Vec<&[u32]> = prompts.iter().map(Vec::as_slice).collect();
    let device = Device::flex();
    let one: Vec<f32> = label_scores_batch(&lm.net, &refs, &label_ids, &device)
        .into_data()
        .try_into_vec()
        .unwrap();
    let split: Vec<f32> = label_scores_in_passes(&lm.net, &refs, &label_ids, 1, &device)
        .into_data()
        .try_into_vec()
        .unwrap();
    assert_eq!(one.len(), 3 * 3);
    for (r, prompt) in prompts.iter().enumerate() {
        for (i, ids) in label_ids.iter().enumerate() {
            let mut seq = prompt.clone();
            let mut want = 0.0f32;
            for &t in ids {
                want += lm.next_logprobs(&seq).unwrap()[t as usize];
                seq.push(t);
            }
            let got = one[r * 3 + i];
            assert!(
                (want - got).abs() < 1e-4,
                "prompt {r} label {i}: {want} vs {got}"
            );
            assert!(
                (split[r * 3 + i] - got).abs() < 1e-4,
                "prompt {r} label {i} split"
            );
        }
    }
}

#[test]
fn the_policy_is_a_distribution_over_valid_actions_and_starts_as_the_base_model() {
    let mut l = learner(&fixture());
    assert_eq!(
        l.trainable_params(),
        2 * ((64 * 4 + 4 * 64) + (64 * 4 + 4 * 32)),
        "rank-4 adapters on q (64→64) and v (64→32) of 2 layers"
    );
    let o = obs("Settings\nwifi: off", Some(vec![true, false, true, true]));
    let lp = probs(&mut l, &o);
    assert_eq!(lp[1], f32::NEG_INFINITY);
    let total: f32 = lp.iter().map(|x| x.exp()).sum();
    assert!((total - 1.0).abs() < 1e-5, "{lp:?}");
    // B = 0 at the start: the adapted model scores exactly like the base.
    let lm = LanguageModel::load(&fixture(), &Device::flex()).unwrap();
    let mut ids = Vec::new();
    for label in labels() {
        let mut v = lm.tokenizer.encode(&label, false).unwrap();
        v.push(lm.stop_ids[0]);
        ids.push(v);
    }
    let prompt = l.prompt_ids("turn wifi on", &[], &o);
    let base: Vec<f32> = label_scores(&lm.net, &prompt, &ids, &Device::flex())
        .into_data()
        .try_into_vec()
        .unwrap();
    let valid = [0usize, 2, 3];
    let z = valid
        .iter()
        .map(|&i| base[i])
        .fold(f32::NEG_INFINITY, f32::max);
    let norm = z + valid.iter().map(|&i| (base[i] - z).exp()).sum::<f32>().ln();
    for i in valid {
        assert!((lp[i] - (base[i] - norm)).abs() < 1e-4, "{i}");
    }
}

#[test]
fn acting_samples_valid_actions_and_records_their_log_probs() {
    let mut l = learner(&fixture());
    let o = obs("Settings\nwifi: off", Some(vec![false, true, true, false]));
    let views = [View {
        instruction: "turn wifi on",
        history: &[],
        observation: &o,
    }];
    let lp = probs(&mut l, &o);
    let mut rng = SplitMix::new(5, 0);
    for _ in 0..20 {
        let d = l.act(&views, Sampling::Sample, &mut [&mut rng]);
        let Action::Discrete(a) = d[0].action else {
            panic!("text action")
        };
        assert!(a == 1 || a == 2, "took masked action {a}");
        assert!((d[0].logp - lp[a as usize]).abs() < 1e-6);
    }
    assert_eq!(
        l.check(&Observation::default()).unwrap_err(),
        "the observation carries no text; a language-model policy reads the text rendering"
    );
}

fn samples(l: &mut LmChoiceLearner) -> (Observation, Observation, Vec<StepSample>) {
    let x = obs("Settings\nwifi: off", None);
    let y = obs("Home screen", None);
    let step = |o: &Observation, a: u32, lp: f32| Transition {
        observation: o.clone(),
        action: Action::Discrete(a),
        logp: lp,
        completion: None,
        policy_version: 0,
    };
    let (lx, ly) = (probs(l, &x), probs(l, &y));
    let traj = [step(&x, 2, lx[2]), step(&y, 0, ly[0])];
    // The first step is reinforced, the second discouraged.
    let s = l.samples("turn wifi on", &traj, &[1.0, -1.0]);
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].action, s[1].action), (2, 0));
    assert_ne!(s[0].context, s[1].context);
    (x, y, s)
}

#[test]
fn the_update_raises_positive_and_lowers_negative_advantage_actions_through_lora_only() {
    let mut l = learner(&fixture());
    let (x, y, s) = samples(&mut l);
    // The second sample's prompt carries its history ("Your last actions: tap wifi").
    let (x2, y0) = (probs(&mut l, &x)[2], s[1].old_logp);
    let stats = l.update_on(&s, 1);
    assert_eq!(stats.gradient_steps, 3);
    assert!(stats.grad_norm > 0.0 && stats.entropy > 0.0);
    let x2b = probs(&mut l, &x)[2];
    let y0b = l.log_probs_of(&[(&s[1].context, &[true; 4])])[0][0];
    assert!(x2b > x2, "positive advantage should rise: {x2} -> {x2b}");
    assert!(y0b < y0, "negative advantage should fall: {y0} -> {y0b}");
    let _ = y;
}

/// Sampled decisions on two screens, the second with a step of history (the same
/// streams every call).
fn decisions(p: &mut dyn Policy) -> Vec<Decision> {
    let (x, y) = (obs("Settings\nwifi: off", None), obs("Home screen", None));
    let past = [Transition {
        observation: x.clone(),
        action: Action::Discrete(2),
        logp: -1.0,
        completion: None,
        policy_version: 0,
    }];
    let views = [
        View {
            instruction: "turn wifi on",
            history: &[],
            observation: &x,
        },
        View {
            instruction: "turn wifi on",
            history: &past,
            observation: &y,
        },
    ];
    let (mut a, mut b) = (SplitMix::new(1, 0), SplitMix::new(2, 0));
    p.act(&views, Sampling::Sample, &mut [&mut a, &mut b])
}

#[test]
fn a_snapshot_acts_as_the_learner_did_and_stays_put_while_it_updates() {
    let mut l = learner(&fixture());
    let mut snap = l.snapshot();
    let before = decisions(&mut l);
    assert_eq!(decisions(snap.as_mut()), before);
    // The random fixture is sharply peaked: update (reinforcing "tap wifi" on the
    // settings screen) until the learner's decisions move.
    let mut updates = 0;
    while decisions(&mut l) == before {
        assert!(updates < 30, "30 updates left the decisions as they were");
        let (_, _, s) = samples(&mut l);
        l.update_on(&s, updates);
        updates += 1;
    }
    let after = decisions(&mut l);
    assert_eq!(decisions(snap.as_mut()), before, "the snapshot stayed");
    // A snapshot made now acts as the updated learner.
    let mut now = l.snapshot();
    assert_eq!(decisions(now.as_mut()), after);
    assert_eq!(snap.parts(), l.parts());
}

#[test]
fn a_prompt_is_scored_once_per_version_of_the_adapters() {
    let mut l = learner(&fixture());
    let x = obs("Settings\nwifi: off", None);
    let first = probs(&mut l, &x);
    assert_eq!(l.scoring_counts(), (1, 0));
    // The same prompt again, and under another mask: answered from the memo, and the
    // masked distribution is renormalized over the valid actions.
    assert_eq!(probs(&mut l, &x), first);
    let p = l.prompt_ids("turn wifi on", &[], &x);
    let two = l.log_probs_of(&[(&p, &[true, false, true, false])])[0].clone();
    assert_eq!(l.scoring_counts(), (1, 2));
    assert_eq!(two[1], f32::NEG_INFINITY);
    let z: f32 = [two[0], two[2]].iter().map(|v| v.exp()).sum();
    assert!((z - 1.0).abs() < 1e-5, "{two:?}");
    // An update changes the adapters: the prompt is scored anew, and differently.
    let (_, _, s) = samples(&mut l);
    let (misses, _) = l.scoring_counts();
    l.update_on(&s, 1);
    let after = probs(&mut l, &x);
    assert_eq!(l.scoring_counts().0, misses + 1);
    assert_ne!(after, first);
}

#[test]
fn lora_dropout_changes_only_training_and_repeats_under_the_same_seed() {
    let with = |p: f64| {
        let settings = LoraSettings {
            dropout: p,
            ..lora()
        };
        LmChoiceLearner::new(
            &fixture(),
            &Device::flex(),
            &labels(),
            1,
            &settings,
            ppo(),
            3,
        )
        .unwrap()
    };
    let (mut plain, mut a, mut b) = (with(0.0), with(0.5), with(0.5));
    let (x, _, s) = samples(&mut plain);
    // Acting never drops: the policy is the same with or without dropout.
    assert_eq!(probs(&mut a, &x), probs(&mut plain, &x));
    let (sa, sb, sp) = (
        a.update_on(&s, 7),
        b.update_on(&s, 7),
        plain.update_on(&s, 7),
    );
    // The same seed draws the same masks; without dropout the gradients differ.
    assert_eq!(sa, sb);
    assert_eq!(probs(&mut a, &x), probs(&mut b, &x));
    assert_ne!(sa.grad_norm, sp.grad_norm, "{sa:?} {sp:?}");
    assert_ne!(probs(&mut a, &x), probs(&mut plain, &x));
    // Another seed, other masks.
    let mut c = with(0.5);
    c.update_on(&s, 8);
    assert_ne!(probs(&mut c, &x), probs(&mut a, &x));
}

#[test]
fn the_kl_penalty_measures_the_distance_to_the_base_model_with_adapters_off() {
    let kl = PpoConfig {
        kl_coef: 0.5,
        ..ppo()
    };
    let mut l =
        LmChoiceLearner::new(&fixture(), &Device::flex(), &labels(), 1, &lora(), kl, 3).unwrap();
    let (x, _, s) = samples(&mut l);
    let before = probs(&mut l, &x);
    let p = &s[0].context;
    let all = [true; 4];
    assert_eq!(
        l.reference_log_probs(p, &all),
        l.log_probs_of(&[(p, &all)])[0]
    );
    let stats = l.update_on(&s, 1);
    assert!(stats.kl_ref > 0.0, "{stats:?}");
    // The reference is still the base model: only the adapted policy moved.
    assert_eq!(l.reference_log_probs(p, &all), before);
    assert_ne!(probs(&mut l, &x), before);
}

#[test]
fn samples_without_advantage_cost_no_pass_through_the_model() {
    let mut l = learner(&fixture());
    let (x, _, mut s) = samples(&mut l);
    let before = probs(&mut l, &x);
    for x in &mut s {
        x.advantage = 0.0;
    }
    let stats = l.update_on(&s, 1);
    assert_eq!(stats.gradient_steps, 0);
    assert_eq!(probs(&mut l, &x), before, "nothing moved");
    // One informative sample of two: 3 epochs of one minibatch.
    s[0].advantage = 1.0;
    assert_eq!(l.update_on(&s, 1).gradient_steps, 3);
    assert!(probs(&mut l, &x)[2] > before[2]);
}

#[test]
fn augmentation_candidates_come_from_the_current_policy_with_their_log_probs() {
    let mut l = learner(&fixture());
    let (_, _, s) = samples(&mut l);
    let o = obs("Settings\nwifi: off", None);
    let traj = [Transition {
        observation: o.clone(),
        action: Action::Discrete(2),
        logp: s[0].old_logp,
        completion: None,
        policy_version: 0,
    }];
    let states = [State {
        instruction: "turn wifi on",
        steps: &traj,
        t: 0,
    }];
    let c = l.candidates(&states, 6, &[11]);
    assert_eq!(c[0].draws.len(), 6);
    assert_eq!(c[0].recorded.context, s[0].context);
    let lp = probs(&mut l, &o);
    for d in &c[0].draws {
        assert_eq!(d.old_logp, lp[d.action as usize]);
        assert_eq!(d.context, s[0].context);
    }
    assert_eq!(
        c[0].matches(),
        c[0].draws.iter().map(|d| d.action == 2).collect::<Vec<_>>()
    );
    assert_eq!(c, l.candidates(&states, 6, &[11]), "same seed, same draws");
}

#[test]
fn a_saved_learner_continues_exactly_and_refuses_another_base_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = learner(&fixture());
    let (x, _, s) = samples(&mut a);
    a.update_on(&s, 1);
    a.save_files(dir.path()).unwrap();
    let mut b = LmChoiceLearner::load(
        dir.path(),
        &fixture(),
        &Device::flex(),
        &labels(),
        1,
        &lora(),
        ppo(),
        steprl_learner::LoadFor::Training,
    )
    .unwrap();
    assert_eq!(probs(&mut a, &x), probs(&mut b, &x));
    let (sa, sb) = (a.update_on(&s, 2), b.update_on(&s, 2));
    assert_eq!(sa, sb);
    assert_eq!(probs(&mut a, &x), probs(&mut b, &x));

    // The same files under another name load; changed weights do not.
    let copy = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(fixture()).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, copy.path().join(f.file_name().unwrap())).unwrap();
    }
    LmChoiceLearner::load(
        dir.path(),
        copy.path(),
        &Device::flex(),
        &labels(),
        1,
        &lora(),
        ppo(),
        steprl_learner::LoadFor::Training,
    )
    .unwrap();
    let w = copy.path().join("generation_config.json");
    let text = std::fs::read_to_string(&w).unwrap();
    std::fs::write(&w, text.replace('}', ", \"note\": 1}")).unwrap();
    let err = LmChoiceLearner::load(
        dir.path(),
        copy.path(),
        &Device::flex(),
        &labels(),
        1,
        &lora(),
        ppo(),
        steprl_learner::LoadFor::Training,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("base.json") && err.contains("SHA-256") && err.contains("same model"),
        "{err}"
    );
}

#[test]
fn bad_settings_and_models_are_named() {
    let bad = LoraSettings {
        rank: 0,
        alpha: -1.0,
        targets: vec!["qproj".into()],
        dropout: 1.0,
        full: false,
    };
    let err = LmChoiceLearner::new(&fixture(), &Device::flex(), &labels(), 0, &bad, ppo(), 0)
        .err()
        .unwrap()
        .to_string();
    for want in [
        "policy.lora_rank must be at least 1",
        "policy.lora_alpha = -1",
        "unknown projection `qproj` (valid: q_proj, k_proj",
        "policy.lora_dropout = 1 must be at least 0 and below 1",
    ] {
        assert!(err.contains(want), "{err}");
    }
    let err = LmChoiceLearner::new(&fixture(), &Device::flex(), &[], 0, &lora(), ppo(), 0)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("declares no action labels"), "{err}");
    let missing = fixture().join("nope.gguf");
    let err = LmChoiceLearner::new(&missing, &Device::flex(), &labels(), 0, &lora(), ppo(), 0)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("nope.gguf"), "{err}");
}

#[test]
fn behaviour_cloning_raises_the_demonstrated_actions() {
    let mut l = learner(&fixture());
    let (x, y, s) = samples(&mut l);
    let (x2, y0) = (probs(&mut l, &x)[2], s[1].old_logp);
    let (first, last) = l.imitate(&s, 5, 0.01, 1);
    assert!(last < first, "cloning loss {first} -> {last}");
    assert!(probs(&mut l, &x)[2] > x2);
    assert!(l.log_probs_of(&[(&s[1].context, &[true; 4])])[0][0] > y0);
    let _ = y;
}

//! The parity check shared by the CPU test (parity.rs) and the wgpu test
//! (tests/tests/lm_wgpu.rs): one tiny model's cases against transformers' numbers.

use std::path::Path;

use serde_json::Value;
use steprl_lm::{Device, GenerateOptions, LanguageModel, Sampling};

/// Largest allowed |Δ log p| against transformers on the CPU backend, on the 5 most
/// likely first tokens (twice that on all 384). Both sides compute in f32: against a float64 run
/// of the same models transformers' f32 log-probs are off by up to 7.5e-5 and ours by up
/// to 1.0e-4 (on log-probs near -25, where an f32 ulp is 2e-6), so two f32
/// implementations can differ by about 1e-4 on the least likely tokens.
pub const TOLERANCE: f32 = 1e-4;

fn reference(fixtures: &Path) -> Value {
    let p = fixtures.join("reference.json");
    serde_json::from_str(&std::fs::read_to_string(&p).expect("reference.json")).expect("valid JSON")
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// Check every case of the model `key` (top-5 tokens to `tolerance`, all tokens to twice
/// that); returns the worst log-prob difference.
pub fn check(fixtures: &Path, key: &str, device: &Device, tolerance: f32) -> f32 {
    let r = reference(fixtures);
    let m = &r["models"][key];
    assert!(m.is_object(), "reference.json has no model `{key}`");
    let path = fixtures.join(m["path"].as_str().unwrap());
    let model = LanguageModel::load(&path, device).unwrap_or_else(|e| panic!("{key}: {e}"));
    let mut worst = 0.0f32;
    for case in m["cases"].as_array().unwrap() {
        let prompt = case["prompt"].as_str().unwrap();
        let raw = case["raw"].as_bool().unwrap();
        let ids = model.prompt_ids(prompt, raw).unwrap();
        assert_eq!(
            ids,
            u32s(&case["prompt_ids"]),
            "{key}: prompt ids of {prompt:?}"
        );
        let lp = model.next_logprobs(&ids).unwrap();
        let want = f32s(&case["first_logprobs"]);
        assert_eq!(lp.len(), want.len(), "{key}: vocabulary");
        let (at, diff) = lp
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .enumerate()
            .fold((0, 0.0f32), |m, (i, d)| if d > m.1 { (i, d) } else { m });
        eprintln!(
            "{key} {}: worst |Δ log p| {diff:e} at id {at} (log p {})",
            case["name"], want[at]
        );
        assert!(
            diff <= 2.0 * tolerance,
            "{key}: first-step log-probs of {prompt:?} differ by {diff}"
        );
        for pair in case["top5"].as_array().unwrap() {
            let id = pair[0].as_u64().unwrap() as usize;
            let d = (lp[id] - want[id]).abs();
            assert!(
                d <= tolerance,
                "{key}: log p of top token {id} for {prompt:?} differs by {d}"
            );
        }
        worst = worst.max(diff);
        let greedy = u32s(&case["greedy_ids"]);
        let out = model
            .generate(
                &ids,
                &GenerateOptions {
                    sampling: Sampling::Greedy,
                    max_tokens: 12,
                    seed: 0,
                },
                |_| {},
            )
            .unwrap();
        assert_eq!(out.ids, greedy, "{key}: greedy continuation of {prompt:?}");
        if let Some(text) = case["greedy_text"].as_str() {
            assert_eq!(out.text, text, "{key}: decoded text of {prompt:?}");
        }
        let top: Vec<u32> = out.top_logprobs.iter().map(|t| t.0).collect();
        let want_top: Vec<u32> = case["top5"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[0].as_u64().unwrap() as u32)
            .collect();
        assert_eq!(top, want_top, "{key}: top-5 first tokens of {prompt:?}");
        if let Some(t) = case["templated_text"].as_str() {
            assert_eq!(
                model.chat_prompt(prompt).unwrap(),
                t,
                "{key}: chat template text"
            );
        }
    }
    worst
}

//! The real pretrained model: SmolLM2-135M-Instruct (Q4_1 GGUF) as `models/fetch.sh
//! smollm2` installs it. Skipped, saying so, when the file is absent (set
//! STEPRL_REQUIRE_SMOLLM2=1 to fail instead). Reference numbers come from transformers
//! loading the same GGUF (fixtures/smollm2_reference.py).

use std::path::PathBuf;

use burn::tensor::Device;
use serde_json::Value;
use steprl_lm::{GenerateOptions, LanguageModel, Sampling};

/// |Δ log p| allowed on the 20 most likely first tokens (measured: 4.1e-5 at worst): both sides dequantize the same
/// Q4_1 blocks exactly, so what remains is f32 summation order over 30 layers.
const TOLERANCE: f32 = 2e-4;

/// The question whose greedy answer must name Paris (one of the reference's cases).
const PARIS: &str = "What is the capital of France? Answer in one word.";

fn model_path() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    if p.exists() {
        return Some(p);
    }
    let msg = format!(
        "SKIPPED: {} is absent; run models/fetch.sh smollm2",
        p.display()
    );
    if std::env::var_os("STEPRL_REQUIRE_SMOLLM2").is_some() {
        panic!("{msg} (STEPRL_REQUIRE_SMOLLM2 is set)");
    }
    eprintln!("{msg}");
    None
}

fn reference() -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smollm2-reference.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn smollm2_answers_paris_and_matches_transformers_log_probs() {
    let Some(path) = model_path() else { return };
    let model = LanguageModel::load(&path, &Device::flex()).unwrap();
    let r = reference();
    let mut asked_paris = false;
    for case in r["cases"].as_array().unwrap() {
        let prompt = case["prompt"].as_str().unwrap();
        let ids = model
            .prompt_ids(prompt, case["raw"].as_bool().unwrap())
            .unwrap();
        let want_ids: Vec<u32> = case["prompt_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(ids, want_ids, "prompt ids of {prompt:?}");
        let lp = model.next_logprobs(&ids).unwrap();
        let mut worst = 0.0f32;
        for pair in case["top20"].as_array().unwrap() {
            let (id, want) = (
                pair[0].as_u64().unwrap() as usize,
                pair[1].as_f64().unwrap() as f32,
            );
            worst = worst.max((lp[id] - want).abs());
        }
        eprintln!("{prompt:?}: worst |Δ log p| over the top 20 = {worst:e}");
        assert!(
            worst <= TOLERANCE,
            "{prompt:?}: log-probs differ by {worst}"
        );
        let out = model
            .generate(
                &ids,
                &GenerateOptions {
                    sampling: Sampling::Greedy,
                    max_tokens: 16,
                    seed: 0,
                },
                |_| {},
            )
            .unwrap();
        eprintln!("{prompt:?} -> {:?}", out.text);
        let want: Vec<u32> = case["greedy_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(out.ids, want, "greedy ids of {prompt:?} ({:?})", out.text);
        if prompt == PARIS {
            assert!(out.text.contains("Paris"), "{:?}", out.text);
            asked_paris = true;
        }
    }
    assert!(asked_paris, "the reference has the capital-of-France case");
}

//! Parity with PyTorch + transformers on the committed tiny random models
//! (tests/fixtures, made by make_fixtures.py): prompt ids, the chat template's text,
//! first-step log-probabilities (to 1e-4) and greedy continuations, for Llama and Qwen2
//! from safetensors (single and sharded) and from GGUF (F32/F16/BF16/Q8_0/Q4_0/Q4_1).

use std::path::PathBuf;

use burn::tensor::Device;
use steprl_lm::LanguageModel;
use support::{TOLERANCE, check};

mod support;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn tiny_llama_from_safetensors_matches_transformers() {
    let worst = check(&fixtures(), "tiny-llama", &Device::flex(), TOLERANCE);
    eprintln!("tiny-llama: worst |Δ log p| = {worst:e}");
}

#[test]
fn tiny_qwen2_from_sharded_safetensors_matches_transformers() {
    let worst = check(&fixtures(), "tiny-qwen2", &Device::flex(), TOLERANCE);
    eprintln!("tiny-qwen2: worst |Δ log p| = {worst:e}");
}

#[test]
fn tiny_llama_from_mixed_quantized_gguf_matches_transformers() {
    let worst = check(&fixtures(), "tiny-llama-q.gguf", &Device::flex(), TOLERANCE);
    eprintln!("tiny-llama-q.gguf: worst |Δ log p| = {worst:e}");
}

#[test]
fn tiny_qwen2_from_f16_gguf_matches_transformers() {
    let worst = check(&fixtures(), "tiny-qwen2.gguf", &Device::flex(), TOLERANCE);
    eprintln!("tiny-qwen2.gguf: worst |Δ log p| = {worst:e}");
}

#[test]
fn a_cached_continuation_equals_a_full_forward() {
    // Prefill part of the prompt, then the rest as a multi-token block with the cache:
    // the bottom-right causal mask must give the same last logits as one full pass.
    let device = Device::flex();
    let model = LanguageModel::load(&fixtures().join("tiny-llama"), &device).unwrap();
    let ids = model
        .prompt_ids("the cached half and the other half", true)
        .unwrap();
    assert!(ids.len() >= 4);
    let full = model.next_logprobs(&ids).unwrap();
    let mut cache = steprl_lm::KvCache::new();
    let split = ids.len() / 2;
    let tensor = |s: &[u32]| {
        burn::tensor::Tensor::<2, burn::tensor::Int>::from_data(
            burn::tensor::TensorData::new(
                s.iter().map(|&i| i as i32).collect::<Vec<_>>(),
                [1, s.len()],
            ),
            &device,
        )
    };
    let _ = model
        .net
        .last_logits(tensor(&ids[..split]), Some(&mut cache));
    let rest = model
        .net
        .last_logits(tensor(&ids[split..]), Some(&mut cache));
    let rest = steprl_lm::log_softmax(&rest.into_data().try_to_vec::<f32>().unwrap());
    let diff = full
        .iter()
        .zip(&rest)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(diff < TOLERANCE, "cached vs full differ by {diff}");
    assert_eq!(cache.len(), ids.len());
}

//! The language model on the wgpu backend (without a GPU: Mesa's software Vulkan
//! adapter) matches transformers like the CPU backend does: prompt ids, first-step
//! log-probs and greedy ids of the tiny Llama and Qwen2 fixtures, with the same check
//! and tolerance as host/lm's parity test. Skipped, saying so, without an adapter —
//! failing instead when `STEPRL_REQUIRE_WGPU=1` (CI sets it).

use std::path::PathBuf;

use steprl_learner::{BackendChoice, select};

#[path = "../../host/lm/tests/support/mod.rs"]
mod support;

#[test]
fn tiny_models_on_wgpu_match_transformers() {
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
    eprintln!("language-model wgpu test running on {}", gpu.description);
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../host/lm/tests/fixtures");
    for key in ["tiny-llama", "tiny-qwen2", "tiny-llama-q.gguf"] {
        let worst = support::check(&fixtures, key, &gpu.device, support::TOLERANCE);
        eprintln!("{key} on wgpu: worst |Δ log p| = {worst:e}");
    }
}

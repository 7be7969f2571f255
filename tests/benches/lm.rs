//! Benchmark (not a test): SmolLM2-135M-Instruct (Q4_1 GGUF, `models/fetch.sh smollm2`)
//! on burn — load time, prompt processing (a 128-token raw prompt in one forward pass,
//! median of 5), greedy generation with the KV cache (64 tokens after a chat prompt) and
//! peak RSS. `bench/lm_torch.py` measures the same in PyTorch + transformers.
//!
//! `cargo bench -p steprl-tests --bench lm`; `RAYON_NUM_THREADS=1` for one thread,
//! `STEPRL_BENCH_BACKEND=wgpu` for the GPU backend.

use std::path::PathBuf;
use std::time::Instant;

use steprl_learner::BackendChoice;
use steprl_lm::{GenerateOptions, LanguageModel, Sampling};

fn main() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !path.exists() {
        eprintln!("{} is absent: run models/fetch.sh smollm2", path.display());
        return;
    }
    let choice: BackendChoice = std::env::var("STEPRL_BENCH_BACKEND")
        .unwrap_or_else(|_| "cpu".into())
        .parse()
        .expect("STEPRL_BENCH_BACKEND is auto, cpu or wgpu");
    let selected = steprl_learner::select(choice).expect("backend");
    println!(
        "backend {} ({}), rayon threads {}",
        selected.backend,
        selected.description,
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all cores".into())
    );
    let t0 = Instant::now();
    let model = LanguageModel::load(&path, &selected.device).expect("model loads");
    let load = t0.elapsed().as_secs_f64();

    let text = "The quick brown fox jumps over the lazy dog. ".repeat(40);
    let ids = model.tokenizer.encode(&text, false).unwrap()[..128].to_vec();
    model.next_logprobs(&ids).unwrap(); // warm-up
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            model.next_logprobs(&ids).unwrap();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let prefill = 128.0 / times[2];

    let chat = model
        .prompt_ids(
            "Write a short story about a robot who learns to paint.",
            false,
        )
        .unwrap();
    let mut stop_free = model;
    stop_free.stop_ids.clear(); // always 64 tokens, like the PyTorch loop
    let out = stop_free
        .generate(
            &chat,
            &GenerateOptions {
                sampling: Sampling::Greedy,
                max_tokens: 64,
                seed: 0,
            },
            |_| {},
        )
        .unwrap();
    let decode = (out.ids.len() - 1) as f64 / out.decode_seconds;
    println!("load     {load:.2} s");
    println!("prefill  {prefill:.1} tokens/s (128-token prompt, median of 5)");
    println!("decode   {decode:.1} tokens/s (64 greedy tokens with the KV cache)");
    println!("peak RSS {:.0} MiB", steprl_tests::peak_rss_mib());
}

//! `steprl model inspect|generate` on the committed tiny models: the facts, greedy ids
//! equal to transformers', JSON output, and clear errors for bad input.

mod common;

use std::path::PathBuf;

use common::{steprl, text};
use serde_json::Value;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../lm/tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn reference_case(model: &str, name: &str) -> Value {
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("reference.json")).unwrap()).unwrap();
    r["models"][model]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
        .clone()
}

#[test]
fn inspect_shows_the_architecture_and_sizes() {
    let o = steprl(&["model", "inspect", &fixture("tiny-llama")]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    for want in [
        "llama",
        "layers",
        "4 query, 2 key/value, head dim 16",
        "384 embedding rows",
        "llama3 scaling",
        "chat template      yes",
        "F32",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    let o = steprl(&["model", "inspect", &fixture("tiny-llama-q.gguf"), "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format"], "gguf");
    assert_eq!(v["config"]["architecture"], "llama");
    assert!(v["storage"].as_str().unwrap().contains("Q4_1"));
}

#[test]
fn greedy_generation_prints_transformers_ids_as_json() {
    let case = reference_case("tiny-llama", "chat");
    let o = steprl(&[
        "model",
        "generate",
        &fixture("tiny-llama"),
        "--prompt",
        case["prompt"].as_str().unwrap(),
        "--greedy",
        "--max-tokens",
        "12",
        "--json",
        "--backend",
        "cpu",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("backend: cpu"), "{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["prompt_ids"], case["prompt_ids"]);
    assert_eq!(v["ids"], case["greedy_ids"]);
    let top: Vec<&Value> = v["top_logprobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p[0])
        .collect();
    let want: Vec<&Value> = case["top5"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p[0])
        .collect();
    assert_eq!(top, want);
}

#[test]
fn raw_prompts_skip_the_template_and_stop_at_the_end_token() {
    let case = reference_case("tiny-llama", "raw");
    let o = steprl(&[
        "model",
        "generate",
        &fixture("tiny-llama"),
        "--prompt",
        case["prompt"].as_str().unwrap(),
        "--raw",
        "--greedy",
        "--json",
        "--backend",
        "cpu",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["prompt_ids"], case["prompt_ids"]);
    assert_eq!(
        v["ids"], case["greedy_ids"],
        "stops at <|im_end|> as transformers did"
    );
    assert_eq!(v["stop"], "stop");
}

#[test]
fn sampling_is_seeded_and_streams_text() {
    let run = |seed: &str| {
        let o = steprl(&[
            "model",
            "generate",
            &fixture("tiny-qwen2"),
            "--prompt",
            "hello",
            "--seed",
            seed,
            "--temperature",
            "1.0",
            "--top-p",
            "0.95",
            "--max-tokens",
            "8",
            "--backend",
            "cpu",
        ]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{err}");
        assert!(err.contains("tokens/s"), "{err}");
        out
    };
    assert_eq!(run("5"), run("5"));
}

#[test]
fn bad_input_is_named() {
    let o = steprl(&["model", "inspect", "/nonexistent/model"]);
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(err.contains("/nonexistent/model"), "{err}");
    let o = steprl(&[
        "model",
        "generate",
        &fixture("tiny-llama"),
        "--prompt",
        "x",
        "--temperature",
        "0",
        "--backend",
        "cpu",
    ]);
    let (_, err) = text(&o);
    assert!(
        !o.status.success() && err.contains("temperature must be > 0"),
        "{err}"
    );
    let o = steprl(&[
        "model",
        "generate",
        &fixture("tiny-llama"),
        "--prompt",
        "x",
        "--greedy",
        "--temperature",
        "0.5",
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "--greedy conflicts with --temperature"
    );
    let o = steprl(&["model", "generate", "--help"]);
    let (out, _) = text(&o);
    assert!(
        out.contains("--raw") && out.contains("--top-p") && out.contains("chat template"),
        "{out}"
    );
}

//! Bad model input gets an error naming the file and what is wrong: unknown
//! architecture, missing tensor, shape mismatch, unsupported quantization type, truncated
//! files, a tokenizer that does not fit the embedding, a path that is not a model.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use steprl_lm::{LanguageModel, LmError};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A copy of the tiny Llama directory with `config.json` edited by `edit`.
fn llama_with(edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures().join("tiny-llama")).unwrap() {
        let e = entry.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    let cfg = dir.path().join("config.json");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, edit(&text)).unwrap();
    dir
}

fn load_err(path: &Path) -> (LmError, String) {
    let e = LanguageModel::load(path, &Device::flex()).unwrap_err();
    let s = e.to_string();
    (e, s)
}

fn set_key(json: &str, key: &str, value: serde_json::Value) -> String {
    let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
    v[key] = value;
    v.to_string()
}

#[test]
fn an_unknown_architecture_is_named_with_the_supported_ones() {
    let d = llama_with(|t| set_key(t, "model_type", "gpt_neox".into()));
    let (e, s) = load_err(d.path());
    assert!(matches!(e, LmError::UnknownArchitecture { .. }), "{s}");
    assert!(
        s.contains("config.json") && s.contains("gpt_neox") && s.contains("llama, qwen2"),
        "{s}"
    );
}

#[test]
fn a_missing_tensor_is_named() {
    let d = llama_with(|t| set_key(t, "num_hidden_layers", 3.into()));
    let (e, s) = load_err(d.path());
    assert!(matches!(e, LmError::MissingTensor { .. }), "{s}");
    assert!(
        s.contains("model.safetensors") && s.contains("`model.layers.2.self_attn.q_proj.weight`"),
        "{s}"
    );
}

#[test]
fn a_shape_mismatch_shows_both_shapes() {
    let d = llama_with(|t| set_key(t, "intermediate_size", 96.into()));
    let (e, s) = load_err(d.path());
    assert!(matches!(e, LmError::ShapeMismatch { .. }), "{s}");
    assert!(
        s.contains("model.layers.0.mlp.gate_proj.weight")
            && s.contains("[128, 64]")
            && s.contains("[96, 64]"),
        "{s}"
    );
}

#[test]
fn a_tokenizer_larger_than_the_embedding_is_refused() {
    let d = llama_with(|t| set_key(t, "vocab_size", 300.into()));
    let (e, s) = load_err(d.path());
    assert!(matches!(e, LmError::VocabMismatch { .. }), "{s}");
    assert!(
        s.contains("tokenizer.json") && s.contains("384 ids") && s.contains("300 rows"),
        "{s}"
    );
    // inspect refuses it too, without reading weights.
    assert!(LanguageModel::inspect(d.path()).is_err());
}

#[test]
fn a_truncated_safetensors_file_is_reported() {
    let d = llama_with(|t| t.to_owned());
    let st = d.path().join("model.safetensors");
    let bytes = std::fs::read(&st).unwrap();
    std::fs::write(&st, &bytes[..bytes.len() / 2]).unwrap();
    let (e, s) = load_err(d.path());
    assert!(matches!(e, LmError::Truncated { .. }), "{s}");
    assert!(s.contains("model.safetensors"), "{s}");
}

#[test]
fn a_truncated_gguf_file_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixtures().join("tiny-llama-q.gguf")).unwrap();
    for keep in [bytes.len() - 100, bytes.len() / 2, 1000, 10] {
        let p = d.path().join("cut.gguf");
        std::fs::write(&p, &bytes[..keep]).unwrap();
        let (e, s) = load_err(&p);
        assert!(matches!(e, LmError::Truncated { .. }), "{keep} bytes: {s}");
        assert!(s.contains("cut.gguf"), "{s}");
    }
}

/// Rewrite the storage type of GGUF tensor `name` in place.
fn set_gguf_type(bytes: &mut [u8], name: &str, ty: u32) {
    let pos = bytes
        .windows(name.len())
        .position(|w| w == name.as_bytes())
        .expect("tensor name in the file");
    let mut at = pos + name.len();
    let ndim = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    at += 4 + 8 * ndim;
    bytes[at..at + 4].copy_from_slice(&ty.to_le_bytes());
}

#[test]
fn an_unsupported_quantization_type_is_named() {
    let mut bytes = std::fs::read(fixtures().join("tiny-llama-q.gguf")).unwrap();
    // attn_output is F16 (2 bytes a value); I16 has the same size, so only the type changes.
    set_gguf_type(&mut bytes, "blk.0.attn_output.weight", 25);
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("odd.gguf");
    std::fs::write(&p, &bytes).unwrap();
    let (e, s) = load_err(&p);
    assert!(matches!(e, LmError::UnsupportedType { .. }), "{s}");
    assert!(
        s.contains("odd.gguf")
            && s.contains("blk.0.attn_output.weight")
            && s.contains("I16")
            && s.contains("Q4_1"),
        "{s}"
    );
}

#[test]
fn paths_that_are_not_models_say_what_a_model_is() {
    let d = tempfile::tempdir().unwrap();
    let (e, s) = load_err(d.path());
    assert!(matches!(e, LmError::NotAModel { .. }), "{s}");
    assert!(s.contains("config.json") && s.contains(".gguf"), "{s}");
    let (e, s) = load_err(&d.path().join("nope.gguf"));
    assert!(
        matches!(e, LmError::Io { .. }) && s.contains("nope.gguf"),
        "{s}"
    );
    let txt = d.path().join("notes.gguf");
    std::fs::write(&txt, "hello, not a model").unwrap();
    let (e, s) = load_err(&txt);
    assert!(
        matches!(e, LmError::Truncated { .. }) && s.contains("no GGUF magic"),
        "{s}"
    );
    let dir = llama_with(|t| t.to_owned());
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    let (_, s) = load_err(dir.path());
    assert!(s.contains("tokenizer.json") && s.contains("missing"), "{s}");
}

#[test]
fn inspect_reads_the_facts_without_weights() {
    let info = LanguageModel::inspect(&fixtures().join("tiny-qwen2")).unwrap();
    assert_eq!(info.config.architecture, steprl_lm::Architecture::Qwen2);
    assert_eq!(
        (
            info.config.num_layers,
            info.config.num_heads,
            info.config.num_kv_heads
        ),
        (2, 4, 2)
    );
    assert!(info.chat_template && info.config.tie_word_embeddings && info.config.qkv_bias);
    assert_eq!(info.tokenizer_vocab, 384);
    let info = LanguageModel::inspect(&fixtures().join("tiny-llama-q.gguf")).unwrap();
    for ty in ["Q4_0", "Q4_1", "Q8_0", "F16", "BF16", "F32"] {
        assert!(info.storage.contains(ty), "{}", info.storage);
    }
}

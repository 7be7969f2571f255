//! Writing a model as a Hugging Face directory (`config.json`, `model.safetensors` in
//! f32, `tokenizer.json`, `tokenizer_config.json` with the chat template,
//! `generation_config.json`) from any model this crate loads, GGUF included (its
//! weights dequantized), with weight deltas added on the way — how fine-tuned LoRA
//! adapters are merged into their base model.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::config::{ModelConfig, RopeScaling};
use crate::error::{LmError, Result, io};
use crate::load::open;
use crate::weights::HostTensor;

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    /// The directory.
    pub dir: PathBuf,
    /// Tensors written.
    pub tensors: usize,
    /// Of those, how many were changed (a delta added or the tensor replaced).
    pub merged: usize,
    /// Parameters written.
    pub parameters: usize,
}

/// How an export changes one tensor of the base model.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Add this delta (merged LoRA adapters).
    Add(HostTensor),
    /// Write this tensor instead (fully fine-tuned weights).
    Replace(HostTensor),
}

impl Change {
    fn tensor(&self) -> &HostTensor {
        match self {
            Change::Add(t) | Change::Replace(t) => t,
        }
    }
}

/// Every tensor name (Hugging Face naming) of a model with `cfg`, in file order.
pub fn tensor_names(cfg: &ModelConfig) -> Vec<String> {
    let mut names = vec!["model.embed_tokens.weight".to_owned()];
    for l in 0..cfg.num_layers {
        let p = format!("model.layers.{l}");
        for (proj, bias) in [
            ("self_attn.q_proj", cfg.qkv_bias),
            ("self_attn.k_proj", cfg.qkv_bias),
            ("self_attn.v_proj", cfg.qkv_bias),
            ("self_attn.o_proj", cfg.o_bias),
            ("mlp.gate_proj", cfg.mlp_bias),
            ("mlp.up_proj", cfg.mlp_bias),
            ("mlp.down_proj", cfg.mlp_bias),
        ] {
            names.push(format!("{p}.{proj}.weight"));
            if bias {
                names.push(format!("{p}.{proj}.bias"));
            }
        }
        names.push(format!("{p}.input_layernorm.weight"));
        names.push(format!("{p}.post_attention_layernorm.weight"));
    }
    names.push("model.norm.weight".to_owned());
    if !cfg.tie_word_embeddings {
        names.push("lm_head.weight".to_owned());
    }
    names
}

/// The `config.json` transformers reads for `cfg`.
pub fn hf_config(cfg: &ModelConfig, model: &Path) -> Result<Value> {
    let cannot = |detail: String| LmError::Export {
        path: model.to_path_buf(),
        detail,
    };
    let arch = cfg.architecture.name();
    let class = match arch {
        "llama" => "LlamaForCausalLM",
        _ => "Qwen2ForCausalLM",
    };
    let mut v = json!({
        "architectures": [class],
        "model_type": arch,
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.num_layers,
        "num_attention_heads": cfg.num_heads,
        "num_key_value_heads": cfg.num_kv_heads,
        "head_dim": cfg.head_dim,
        "hidden_act": "silu",
        "rms_norm_eps": cfg.rms_norm_eps,
        "rope_theta": cfg.rope_theta,
        "max_position_embeddings": cfg.max_position_embeddings,
        "tie_word_embeddings": cfg.tie_word_embeddings,
        "torch_dtype": "float32",
        "use_cache": true,
    });
    match arch {
        "llama" => {
            if cfg.qkv_bias != cfg.o_bias {
                return Err(cannot(
                    "a Llama model with biases on q, k, v but not on o (or the reverse) has no transformers config".into(),
                ));
            }
            v["attention_bias"] = json!(cfg.qkv_bias);
            v["mlp_bias"] = json!(cfg.mlp_bias);
        }
        _ => {
            if !cfg.qkv_bias || cfg.o_bias || cfg.mlp_bias {
                return Err(cannot(
                    "a Qwen2 model has biases on q, k and v only; this one differs".into(),
                ));
            }
        }
    }
    match &cfg.rope_scaling {
        None => {}
        Some(RopeScaling::Llama3 {
            factor,
            low_freq_factor,
            high_freq_factor,
            original_max_position_embeddings,
        }) => {
            v["rope_scaling"] = json!({
                "rope_type": "llama3",
                "factor": factor,
                "low_freq_factor": low_freq_factor,
                "high_freq_factor": high_freq_factor,
                // transformers wants an integer here.
                "original_max_position_embeddings": whole(*original_max_position_embeddings),
            });
        }
        Some(other) => {
            return Err(cannot(format!(
                "its RoPE scaling ({other:?}) has no transformers config; only Llama 3 scaling is written"
            )));
        }
    }
    if let Some(b) = cfg.bos_token_id {
        v["bos_token_id"] = json!(b);
    }
    match cfg.eos_token_ids.as_slice() {
        [] => {}
        [one] => v["eos_token_id"] = json!(one),
        many => v["eos_token_id"] = json!(many),
    }
    Ok(v)
}

/// `x` as a JSON integer when it is one, else as a number.
fn whole(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// Write the model at `model` (a Hugging Face directory or a GGUF file) into `out` as
/// a Hugging Face directory, with `changes` (by tensor name, same shape) applied to its
/// weights: deltas added, or tensors replaced. Fails, writing nothing, when a change
/// names no tensor of the model or has another shape. `out` is created; files already
/// there are replaced.
pub fn export_hf(model: &Path, out: &Path, changes: &BTreeMap<String, Change>) -> Result<Exported> {
    let o = open(model)?;
    let cfg = &o.config;
    let config = hf_config(cfg, model)?;
    let names = tensor_names(cfg);
    for (name, c) in changes {
        if !names.contains(name) {
            return Err(LmError::Export {
                path: model.to_path_buf(),
                detail: format!("a change names `{name}`, which the model does not have"),
            });
        }
        let d = c.tensor();
        if let Some(shape) = o.source.shape(name)
            && shape != d.shape
        {
            return Err(LmError::ShapeMismatch {
                path: model.to_path_buf(),
                name: name.clone(),
                expected: shape,
                found: d.shape.clone(),
            });
        }
    }
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::with_capacity(names.len());
    let (mut merged, mut parameters) = (0, 0);
    for name in &names {
        let mut t = o.source.get(name)?.ok_or_else(|| LmError::MissingTensor {
            path: o.source.file_of(name),
            name: o.source.file_name(name),
        })?;
        match changes.get(name) {
            Some(Change::Add(d)) => {
                for (w, x) in t.data.iter_mut().zip(&d.data) {
                    *w += x;
                }
                merged += 1;
            }
            Some(Change::Replace(d)) => {
                t.data.clone_from(&d.data);
                merged += 1;
            }
            None => {}
        }
        parameters += t.data.len();
        let bytes: Vec<u8> = t.data.iter().flat_map(|x| x.to_le_bytes()).collect();
        tensors.push((name.clone(), t.shape, bytes));
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(n, shape, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), b)
                    .expect("shape matches data"),
            )
        })
        .collect();
    let meta: HashMap<String, String> = [("format".to_owned(), "pt".to_owned())].into();
    let weights = safetensors::serialize(views, Some(meta)).map_err(|e| LmError::Export {
        path: out.join("model.safetensors"),
        detail: e.to_string(),
    })?;
    let mut tokenizer_config = json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "add_bos_token": false,
        "add_eos_token": false,
        "clean_up_tokenization_spaces": false,
        "model_max_length": cfg.max_position_embeddings,
    });
    if let Some(t) = &o.chat_template {
        tokenizer_config["chat_template"] = json!(t.source());
        if !t.bos_token().is_empty() {
            tokenizer_config["bos_token"] = json!(t.bos_token());
        }
        if !t.eos_token().is_empty() {
            tokenizer_config["eos_token"] = json!(t.eos_token());
        }
    }
    let mut generation = json!({});
    if let Some(b) = cfg.bos_token_id {
        generation["bos_token_id"] = json!(b);
    }
    if !o.stop_ids.is_empty() {
        generation["eos_token_id"] = json!(o.stop_ids);
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    let pretty = |v: &Value| serde_json::to_vec_pretty(v).expect("json");
    for (name, bytes) in [
        ("model.safetensors", weights),
        ("config.json", pretty(&config)),
        ("tokenizer.json", o.tokenizer.to_json()?.into_bytes()),
        ("tokenizer_config.json", pretty(&tokenizer_config)),
        ("generation_config.json", pretty(&generation)),
    ] {
        let path = out.join(name);
        let tmp = out.join(format!("{name}.tmp"));
        std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
    }
    Ok(Exported {
        dir: out.to_path_buf(),
        tensors: names.len(),
        merged,
        parameters,
    })
}

//! The architecture hyperparameters of a decoder-only model, read from a Hugging Face
//! `config.json` (transformers 4 `rope_theta`/`rope_scaling` or transformers 5
//! `rope_parameters`); the GGUF reader fills the same struct from its metadata.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::error::{LmError, Result};

/// A supported architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// Llama 2/3, SmolLM2, TinyLlama, ...
    Llama,
    /// Qwen2 / Qwen2.5: biases on q, k and v.
    Qwen2,
}

impl Architecture {
    /// The names accepted (HF `model_type` / GGUF `general.architecture`).
    pub const NAMES: &'static [&'static str] = &["llama", "qwen2"];

    /// From a `model_type`, an `architectures[0]` class name or a GGUF architecture.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "llama" | "LlamaForCausalLM" => Some(Architecture::Llama),
            "qwen2" | "Qwen2ForCausalLM" => Some(Architecture::Qwen2),
            _ => None,
        }
    }

    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Llama => "llama",
            Architecture::Qwen2 => "qwen2",
        }
    }
}

/// How rotary frequencies are rescaled.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum RopeScaling {
    /// Llama 3.1's piecewise scaling.
    Llama3 {
        /// Overall factor.
        factor: f64,
        /// Low-frequency factor.
        low_freq_factor: f64,
        /// High-frequency factor.
        high_freq_factor: f64,
        /// Context length the base model was trained with.
        original_max_position_embeddings: f64,
    },
    /// Per-frequency divisors (GGUF's `rope_freqs.weight`, llama.cpp's form of the above).
    Factors(Vec<f32>),
}

/// Everything the network's shape and numerics depend on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelConfig {
    /// Architecture.
    pub architecture: Architecture,
    /// Embedding rows.
    pub vocab_size: usize,
    /// Model width.
    pub hidden_size: usize,
    /// SwiGLU width.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub num_layers: usize,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads (GQA when fewer than `num_heads`).
    pub num_kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE base.
    pub rope_theta: f64,
    /// RoPE rescaling, if any.
    pub rope_scaling: Option<RopeScaling>,
    /// Longest context the model was trained for.
    pub max_position_embeddings: usize,
    /// Output head shares the embedding matrix.
    pub tie_word_embeddings: bool,
    /// Biases on q, k, v.
    pub qkv_bias: bool,
    /// Bias on the attention output projection.
    pub o_bias: bool,
    /// Biases on the MLP projections.
    pub mlp_bias: bool,
    /// Token ids that end generation (from the config; the tokenizer may add more).
    pub eos_token_ids: Vec<u32>,
    /// Beginning-of-sequence id, if declared.
    pub bos_token_id: Option<u32>,
}

impl ModelConfig {
    /// Parameters of the network (tied embeddings counted once).
    pub fn parameter_count(&self) -> usize {
        let (h, i, v) = (self.hidden_size, self.intermediate_size, self.vocab_size);
        let q = self.num_heads * self.head_dim;
        let kv = self.num_kv_heads * self.head_dim;
        let mut attn = h * q + 2 * h * kv + q * h;
        if self.qkv_bias {
            attn += q + 2 * kv;
        }
        if self.o_bias {
            attn += h;
        }
        let mut mlp = 3 * h * i;
        if self.mlp_bias {
            mlp += 2 * i + h;
        }
        let layer = attn + mlp + 2 * h;
        let head = if self.tie_word_embeddings { 0 } else { v * h };
        v * h + self.num_layers * layer + h + head
    }

    /// Checks that hold for every architecture.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let bad = |detail: String| {
            Err(LmError::BadConfig {
                path: path.to_path_buf(),
                detail,
            })
        };
        for (name, v) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_layers),
            ("num_attention_heads", self.num_heads),
            ("num_key_value_heads", self.num_kv_heads),
            ("head_dim", self.head_dim),
        ] {
            if v == 0 {
                return bad(format!("`{name}` must be positive"));
            }
        }
        if !self.num_heads.is_multiple_of(self.num_kv_heads) {
            return bad(format!(
                "num_attention_heads = {} is not a multiple of num_key_value_heads = {}",
                self.num_heads, self.num_kv_heads
            ));
        }
        if !self.head_dim.is_multiple_of(2) {
            return bad(format!(
                "head_dim = {} must be even for RoPE",
                self.head_dim
            ));
        }
        if self.rope_theta <= 0.0 {
            return bad(format!("rope theta {} must be positive", self.rope_theta));
        }
        Ok(())
    }

    /// Parse a Hugging Face `config.json`.
    pub fn from_hf_json(path: &Path, text: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(text).map_err(|e| LmError::Json {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        let missing = |key: &str| LmError::MissingKey {
            path: path.to_path_buf(),
            key: key.to_owned(),
        };
        let usize_key = |key: &str| -> Result<usize> {
            v.get(key)
                .and_then(Value::as_u64)
                .map(|x| x as usize)
                .ok_or_else(|| missing(key))
        };
        let arch_name = v
            .get("model_type")
            .and_then(Value::as_str)
            .or_else(|| {
                v.get("architectures")
                    .and_then(|a| a.get(0))
                    .and_then(Value::as_str)
            })
            .ok_or_else(|| missing("model_type"))?;
        let architecture =
            Architecture::parse(arch_name).ok_or_else(|| LmError::UnknownArchitecture {
                path: path.to_path_buf(),
                found: arch_name.to_owned(),
            })?;
        let hidden_size = usize_key("hidden_size")?;
        let num_heads = usize_key("num_attention_heads")?;
        let num_kv_heads = v
            .get("num_key_value_heads")
            .and_then(Value::as_u64)
            .map_or(num_heads, |x| x as usize);
        let head_dim = match v.get("head_dim").and_then(Value::as_u64) {
            Some(d) => d as usize,
            None => hidden_size.checked_div(num_heads).unwrap_or(0),
        };
        // transformers 5 folds theta and scaling into `rope_parameters`.
        let rope = v.get("rope_parameters").filter(|r| r.is_object());
        let rope_theta = rope
            .and_then(|r| r.get("rope_theta"))
            .or_else(|| v.get("rope_theta"))
            .and_then(Value::as_f64)
            .unwrap_or(10_000.0);
        let scaling = rope.or_else(|| v.get("rope_scaling").filter(|r| r.is_object()));
        let rope_scaling = match scaling {
            None => None,
            Some(s) => parse_rope_scaling(path, s)?,
        };
        let attention_bias = v
            .get("attention_bias")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let (qkv_bias, o_bias) = match architecture {
            Architecture::Llama => (attention_bias, attention_bias),
            Architecture::Qwen2 => (true, false),
        };
        let ids = |key: &str| token_ids(v.get(key));
        let cfg = ModelConfig {
            architecture,
            vocab_size: usize_key("vocab_size")?,
            hidden_size,
            intermediate_size: usize_key("intermediate_size")?,
            num_layers: usize_key("num_hidden_layers")?,
            num_heads,
            num_kv_heads,
            head_dim,
            rms_norm_eps: v
                .get("rms_norm_eps")
                .and_then(Value::as_f64)
                .unwrap_or(1e-6),
            rope_theta,
            rope_scaling,
            max_position_embeddings: v
                .get("max_position_embeddings")
                .and_then(Value::as_u64)
                .map_or(2048, |x| x as usize),
            tie_word_embeddings: v
                .get("tie_word_embeddings")
                .and_then(Value::as_bool)
                .unwrap_or(architecture == Architecture::Qwen2),
            qkv_bias,
            o_bias,
            mlp_bias: v.get("mlp_bias").and_then(Value::as_bool).unwrap_or(false),
            eos_token_ids: ids("eos_token_id"),
            bos_token_id: ids("bos_token_id").first().copied(),
        };
        cfg.validate(path)?;
        Ok(cfg)
    }
}

/// Token ids written as one number or a list (`eos_token_id: 2` or `[2, 3]`).
pub(crate) fn token_ids(v: Option<&Value>) -> Vec<u32> {
    match v {
        Some(Value::Number(n)) => n.as_u64().map(|x| vec![x as u32]).unwrap_or_default(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_u64)
            .map(|x| x as u32)
            .collect(),
        _ => Vec::new(),
    }
}

fn parse_rope_scaling(path: &Path, s: &Value) -> Result<Option<RopeScaling>> {
    let kind = s
        .get("rope_type")
        .or_else(|| s.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("default");
    match kind {
        "default" => Ok(None),
        "llama3" => {
            let f = |key: &str| {
                s.get(key)
                    .and_then(Value::as_f64)
                    .ok_or_else(|| LmError::MissingKey {
                        path: path.to_path_buf(),
                        key: format!("rope scaling `{key}`"),
                    })
            };
            Ok(Some(RopeScaling::Llama3 {
                factor: f("factor")?,
                low_freq_factor: f("low_freq_factor")?,
                high_freq_factor: f("high_freq_factor")?,
                original_max_position_embeddings: f("original_max_position_embeddings")?,
            }))
        }
        other => Err(LmError::BadConfig {
            path: path.to_path_buf(),
            detail: format!(
                "rope scaling type `{other}` is not supported (supported: default, llama3)"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LLAMA: &str = r#"{"model_type":"llama","vocab_size":100,"hidden_size":64,
        "intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,
        "num_key_value_heads":2,"rms_norm_eps":1e-5,"max_position_embeddings":256,
        "rope_theta":500000.0,"rope_scaling":{"rope_type":"llama3","factor":8.0,
        "low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192},
        "eos_token_id":[2,3],"bos_token_id":1}"#;

    #[test]
    fn transformers_4_llama_3_config_is_read() {
        let c = ModelConfig::from_hf_json(Path::new("c.json"), LLAMA).unwrap();
        assert_eq!(c.architecture, Architecture::Llama);
        assert_eq!((c.head_dim, c.num_kv_heads), (16, 2));
        assert_eq!(c.rope_theta, 500000.0);
        assert!(
            matches!(c.rope_scaling, Some(RopeScaling::Llama3 { factor, .. }) if factor == 8.0)
        );
        assert_eq!(c.eos_token_ids, vec![2, 3]);
        assert!(!c.tie_word_embeddings && !c.qkv_bias);
    }

    #[test]
    fn transformers_5_rope_parameters_are_read() {
        let text = LLAMA
            .replace(
                r#""rope_theta":500000.0,"rope_scaling""#,
                r#""rope_parameters""#,
            )
            .replace(
                r#""rope_type":"llama3","#,
                r#""rope_type":"llama3","rope_theta":500000.0,"#,
            );
        let c = ModelConfig::from_hf_json(Path::new("c.json"), &text).unwrap();
        assert_eq!(c.rope_theta, 500000.0);
        assert!(matches!(c.rope_scaling, Some(RopeScaling::Llama3 { .. })));
    }

    #[test]
    fn qwen2_has_qkv_biases_and_ties_by_default() {
        let text = LLAMA.replace(r#""model_type":"llama""#, r#""model_type":"qwen2""#);
        let c = ModelConfig::from_hf_json(Path::new("c.json"), &text).unwrap();
        assert!(c.qkv_bias && !c.o_bias && c.tie_word_embeddings);
    }

    #[test]
    fn bad_configs_name_the_file_and_the_problem() {
        let p = Path::new("m/config.json");
        let e = ModelConfig::from_hf_json(p, &LLAMA.replace("\"llama\"", "\"gpt_neox\""))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("m/config.json") && e.contains("gpt_neox") && e.contains("llama, qwen2"),
            "{e}"
        );
        let e = ModelConfig::from_hf_json(p, &LLAMA.replace("\"hidden_size\"", "\"hidden\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing key `hidden_size`"), "{e}");
        let e = ModelConfig::from_hf_json(
            p,
            &LLAMA.replace("\"num_key_value_heads\":2", "\"num_key_value_heads\":3"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not a multiple"), "{e}");
        let e = ModelConfig::from_hf_json(p, &LLAMA.replace("llama3", "yarn"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`yarn` is not supported"), "{e}");
        let e = ModelConfig::from_hf_json(p, "{").unwrap_err().to_string();
        assert!(e.contains("invalid JSON"), "{e}");
    }

    #[test]
    fn parameter_count_matches_a_hand_count() {
        let c = ModelConfig::from_hf_json(Path::new("c.json"), LLAMA).unwrap();
        // embed 6400 + head 6400 + final norm 64
        // per layer: q 64*64 + k,v 2*64*32 + o 64*64 + mlp 3*64*128 + 2 norms 128
        let layer = 4096 + 4096 + 4096 + 24576 + 128;
        assert_eq!(c.parameter_count(), 6400 + 6400 + 64 + 2 * layer);
    }
}

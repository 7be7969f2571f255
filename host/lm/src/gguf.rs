//! GGUF checkpoints: the container is read with `ggus` and ggml blocks are dequantized
//! with its `ggml-quants`; this file maps llama.cpp's metadata keys and tensor names to
//! the Hugging Face ones, undoes llama.cpp's q/k row permutation for Llama, and keeps the
//! tokenizer metadata for [`crate::tokenizer`].

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use ggus::ggml_quants::{DataBlock, Q4_0, Q4_1, Q8_0, QuantExt};
use ggus::{GGmlType, GGuf, GGufMetaMapExt};
use memmap2::Mmap;

use crate::config::{Architecture, ModelConfig, RopeScaling};
use crate::error::{LmError, Result, io};
use crate::weights::{HostTensor, TensorSource};

/// Storage types this loader dequantizes.
pub const SUPPORTED_TYPES: &str = "F32, F16, BF16, Q8_0, Q4_0, Q4_1";

/// The tokenizer as a GGUF file describes it.
#[derive(Debug, Clone, Default)]
pub struct GgufTokenizer {
    /// `tokenizer.ggml.model`: `gpt2` (byte-level BPE) or `llama` (SentencePiece).
    pub model: String,
    /// `tokenizer.ggml.pre`, the pre-tokenizer's name, if given.
    pub pre: Option<String>,
    /// Token strings by id.
    pub tokens: Vec<String>,
    /// Token types by id (1 normal, 2 unknown, 3 control, 4 user-defined, 6 byte).
    pub token_types: Vec<i32>,
    /// SentencePiece scores by id (empty for BPE).
    pub scores: Vec<f32>,
    /// BPE merges, `"a b"`.
    pub merges: Vec<String>,
    /// Beginning-of-sequence id.
    pub bos: Option<u32>,
    /// End-of-sequence id.
    pub eos: Option<u32>,
    /// Unknown-token id.
    pub unk: Option<u32>,
    /// Whether a BOS is prepended when encoding (`tokenizer.ggml.add_bos_token`).
    pub add_bos: Option<bool>,
    /// The chat template.
    pub chat_template: Option<String>,
}

struct TensorEntry {
    ty: GGmlType,
    /// ggml order: innermost dimension first.
    ne: Vec<usize>,
    offset: usize,
    nbytes: usize,
}

/// An open GGUF file.
pub struct GgufFile {
    path: PathBuf,
    map: Mmap,
    data_start: usize,
    tensors: BTreeMap<String, TensorEntry>,
    /// The model's hyperparameters.
    pub config: ModelConfig,
    /// The tokenizer's metadata.
    pub tokenizer: GgufTokenizer,
}

impl GgufFile {
    /// Open and parse `path` (the tensors are dequantized only when asked for).
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(io(path))?;
        // SAFETY: read-only mapping of a file we do not modify.
        let map = unsafe { Mmap::map(&file) }.map_err(io(path))?;
        let truncated = |detail: String| LmError::Truncated {
            path: path.to_path_buf(),
            detail,
        };
        if map.len() < 4 || &map[..4] != b"GGUF" {
            return Err(truncated("not a GGUF file (no GGUF magic)".into()));
        }
        // ggus slices the data section by the extents its tensor table announces and
        // panics when the file is shorter; catch that (without the panic message) and
        // report a truncated file.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let parsed = std::panic::catch_unwind(|| GGuf::new(&map));
        std::panic::set_hook(hook);
        let gguf = match parsed {
            Ok(Ok(g)) => g,
            Ok(Err(e)) => return Err(truncated(format!("GGUF header: {e}"))),
            Err(_) => {
                return Err(truncated(
                    "the tensor data ends before the extents its tensor table announces".into(),
                ));
            }
        };
        let data_start = gguf.data.as_ptr() as usize - map.as_ptr() as usize;
        let mut tensors = BTreeMap::new();
        for (name, meta) in &gguf.tensors {
            let info = meta.to_info();
            let ne: Vec<usize> = info.shape().iter().map(|&d| d as usize).collect();
            let entry = TensorEntry {
                ty: info.ty(),
                ne,
                offset: info.offset(),
                nbytes: info.nbytes(),
            };
            if data_start + entry.offset + entry.nbytes > map.len() {
                return Err(truncated(format!(
                    "tensor `{name}` needs bytes up to {} but the file has {}",
                    data_start + entry.offset + entry.nbytes,
                    map.len()
                )));
            }
            tensors.insert((*name).to_owned(), entry);
        }
        let config = read_config(path, &gguf, &tensors)?;
        let tokenizer = read_tokenizer(&gguf);
        drop(gguf);
        let mut file = GgufFile {
            path: path.to_path_buf(),
            map,
            data_start,
            tensors,
            config,
            tokenizer,
        };
        if file.tensors.contains_key("rope_freqs.weight") {
            let t = file.dequantize("rope_freqs.weight")?;
            file.config.rope_scaling = Some(RopeScaling::Factors(t.data));
        }
        file.config.validate(path)?;
        Ok(file)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Dequantize a tensor by its GGUF name; shape in PyTorch order (outermost first).
    fn dequantize(&self, name: &str) -> Result<HostTensor> {
        let e = &self.tensors[name];
        let n: usize = e.ne.iter().product();
        let start = self.data_start + e.offset;
        let bytes = &self.map[start..start + e.nbytes];
        let data = match e.ty {
            GGmlType::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            GGmlType::F16 => bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            GGmlType::BF16 => bytes
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            GGmlType::Q8_0 => blocks::<Q8_0, 32>(bytes, n),
            GGmlType::Q4_0 => blocks::<Q4_0, 32>(bytes, n),
            GGmlType::Q4_1 => blocks::<Q4_1, 32>(bytes, n),
            other => {
                return Err(LmError::UnsupportedType {
                    path: self.path.clone(),
                    name: name.to_owned(),
                    found: format!("{other:?}"),
                    supported: SUPPORTED_TYPES,
                });
            }
        };
        Ok(HostTensor {
            shape: e.ne.iter().rev().copied().collect(),
            data,
        })
    }
}

/// Dequantize ggml blocks of type `B` (each `N` values) into f32.
fn blocks<B, const N: usize>(bytes: &[u8], n: usize) -> Vec<f32>
where
    B: DataBlock + QuantExt<f32, N>,
{
    let size = std::mem::size_of::<B>();
    let count = bytes.len() / size;
    let mut out = vec![0.0f32; n];
    let aligned = (bytes.as_ptr() as usize).is_multiple_of(std::mem::align_of::<B>());
    let owned: Vec<B>;
    let src: &[B] = if aligned {
        // SAFETY: the blocks are `repr(C)` structs of integers and f16 values, for which
        // every bit pattern is valid; the pointer is aligned and `count * size` bytes long.
        unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<B>(), count) }
    } else {
        owned = (0..count)
            .map(|i| {
                // SAFETY: as above; read_unaligned copies one block out of the byte slice.
                unsafe { std::ptr::read_unaligned(bytes[i * size..].as_ptr().cast::<B>()) }
            })
            .collect();
        &owned
    };
    B::dequantize_slice(&mut out, src).expect("block count matches the element count");
    out
}

fn meta_err(path: &Path, key: &str) -> LmError {
    LmError::MissingKey {
        path: path.to_path_buf(),
        key: key.to_owned(),
    }
}

fn read_config(
    path: &Path,
    g: &GGuf<'_>,
    tensors: &BTreeMap<String, TensorEntry>,
) -> Result<ModelConfig> {
    let arch_name = g
        .general_architecture()
        .map_err(|_| meta_err(path, "general.architecture"))?;
    let architecture =
        Architecture::parse(arch_name).ok_or_else(|| LmError::UnknownArchitecture {
            path: path.to_path_buf(),
            found: arch_name.to_owned(),
        })?;
    let key = |k: &str| format!("{arch_name}.{k}");
    let usize_key = |k: &str| g.get_usize(&key(k)).map_err(|_| meta_err(path, &key(k)));
    let f32_key = |k: &str| g.get_f32(&key(k)).map_err(|_| meta_err(path, &key(k)));
    let hidden_size = usize_key("embedding_length")?;
    let num_heads = usize_key("attention.head_count")?;
    let num_kv_heads = usize_key("attention.head_count_kv").unwrap_or(num_heads);
    let head_dim = usize_key("attention.key_length")
        .or_else(|_| usize_key("rope.dimension_count"))
        .unwrap_or(hidden_size.checked_div(num_heads).unwrap_or(0));
    let vocab_size = match usize_key("vocab_size") {
        Ok(v) => v,
        Err(_) => tensors
            .get("token_embd.weight")
            .and_then(|t| t.ne.get(1).copied())
            .ok_or_else(|| meta_err(path, &key("vocab_size")))?,
    };
    let qkv_bias = tensors.contains_key("blk.0.attn_q.bias");
    Ok(ModelConfig {
        architecture,
        vocab_size,
        hidden_size,
        intermediate_size: usize_key("feed_forward_length")?,
        num_layers: usize_key("block_count")?,
        num_heads,
        num_kv_heads,
        head_dim,
        rms_norm_eps: f32_key("attention.layer_norm_rms_epsilon")? as f64,
        rope_theta: f32_key("rope.freq_base").map_or(10_000.0, |v| v as f64),
        rope_scaling: None,
        max_position_embeddings: usize_key("context_length").unwrap_or(2048),
        tie_word_embeddings: !tensors.contains_key("output.weight"),
        qkv_bias,
        o_bias: tensors.contains_key("blk.0.attn_output.bias"),
        mlp_bias: tensors.contains_key("blk.0.ffn_up.bias"),
        eos_token_ids: g
            .get_usize("tokenizer.ggml.eos_token_id")
            .map(|v| vec![v as u32])
            .unwrap_or_default(),
        bos_token_id: g
            .get_usize("tokenizer.ggml.bos_token_id")
            .ok()
            .map(|v| v as u32),
    })
}

fn read_tokenizer(g: &GGuf<'_>) -> GgufTokenizer {
    let strings = |k: &str| -> Vec<String> {
        g.get_str_arr(k)
            .map(|a| a.filter_map(|s| s.ok().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let id = |k: &str| g.get_usize(k).ok().map(|v| v as u32);
    GgufTokenizer {
        model: g.get_str("tokenizer.ggml.model").unwrap_or("").to_owned(),
        pre: g.get_str("tokenizer.ggml.pre").ok().map(str::to_owned),
        tokens: strings("tokenizer.ggml.tokens"),
        token_types: g
            .get_i32_arr("tokenizer.ggml.token_type")
            .map(|a| a.filter_map(|v| v.ok()).collect())
            .unwrap_or_default(),
        scores: g
            .get_f32_arr("tokenizer.ggml.scores")
            .map(|a| a.filter_map(|v| v.ok()).collect())
            .unwrap_or_default(),
        merges: strings("tokenizer.ggml.merges"),
        bos: id("tokenizer.ggml.bos_token_id"),
        eos: id("tokenizer.ggml.eos_token_id"),
        unk: id("tokenizer.ggml.unknown_token_id"),
        add_bos: g.get_bool("tokenizer.ggml.add_bos_token").ok(),
        chat_template: g.get_str("tokenizer.chat_template").ok().map(str::to_owned),
    }
}

/// The GGUF name of a Hugging Face tensor name (`None` for names GGUF has no form of).
pub fn gguf_name(hf: &str) -> Option<String> {
    match hf {
        "model.embed_tokens.weight" => return Some("token_embd.weight".into()),
        "model.norm.weight" => return Some("output_norm.weight".into()),
        "lm_head.weight" => return Some("output.weight".into()),
        _ => {}
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (layer, rest) = rest.split_once('.')?;
    let (module, kind) = rest.rsplit_once('.')?;
    let short = match module {
        "input_layernorm" => "attn_norm",
        "post_attention_layernorm" => "ffn_norm",
        "self_attn.q_proj" => "attn_q",
        "self_attn.k_proj" => "attn_k",
        "self_attn.v_proj" => "attn_v",
        "self_attn.o_proj" => "attn_output",
        "mlp.gate_proj" => "ffn_gate",
        "mlp.up_proj" => "ffn_up",
        "mlp.down_proj" => "ffn_down",
        _ => return None,
    };
    Some(format!("blk.{layer}.{short}.{kind}"))
}

/// Undo llama.cpp's row permutation of a Llama q or k projection (weight or bias):
/// GGUF rows run (head, pair index, half) where Hugging Face's run (head, half, pair index).
fn unpermute(t: HostTensor, heads: usize) -> HostTensor {
    let rows = t.shape[0];
    let cols: usize = t.shape[1..].iter().product::<usize>().max(1);
    let head_dim = rows / heads;
    let half = head_dim / 2;
    let mut out = vec![0.0f32; t.data.len()];
    for h in 0..heads {
        for i in 0..half {
            for j in 0..2 {
                let from = h * head_dim + i * 2 + j;
                let to = h * head_dim + j * half + i;
                out[to * cols..(to + 1) * cols]
                    .copy_from_slice(&t.data[from * cols..(from + 1) * cols]);
            }
        }
    }
    HostTensor {
        shape: t.shape,
        data: out,
    }
}

impl TensorSource for GgufFile {
    fn file_of(&self, _hf_name: &str) -> PathBuf {
        self.path.clone()
    }

    fn file_name(&self, hf_name: &str) -> String {
        gguf_name(hf_name).unwrap_or_else(|| hf_name.to_owned())
    }

    fn contains(&self, hf_name: &str) -> bool {
        gguf_name(hf_name).is_some_and(|n| self.tensors.contains_key(&n))
    }

    fn shape(&self, hf_name: &str) -> Option<Vec<usize>> {
        let n = gguf_name(hf_name)?;
        self.tensors
            .get(&n)
            .map(|e| e.ne.iter().rev().copied().collect())
    }

    fn get(&self, hf_name: &str) -> Result<Option<HostTensor>> {
        let Some(name) = gguf_name(hf_name).filter(|n| self.tensors.contains_key(n)) else {
            return Ok(None);
        };
        let t = self.dequantize(&name)?;
        let c = &self.config;
        // llama.cpp permutes Llama's q/k rows for its interleaved RoPE; Qwen2 keeps HF's.
        let t = if c.architecture == Architecture::Llama {
            if name.contains(".attn_q.") && t.shape[0] == c.num_heads * c.head_dim {
                unpermute(t, c.num_heads)
            } else if name.contains(".attn_k.") && t.shape[0] == c.num_kv_heads * c.head_dim {
                unpermute(t, c.num_kv_heads)
            } else {
                t
            }
        } else {
            t
        };
        Ok(Some(t))
    }

    fn storage(&self) -> String {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for e in self.tensors.values() {
            *counts.entry(format!("{:?}", e.ty)).or_default() += 1;
        }
        counts
            .iter()
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_names_map_to_llama_cpp_names() {
        assert_eq!(
            gguf_name("model.layers.3.self_attn.k_proj.bias").unwrap(),
            "blk.3.attn_k.bias"
        );
        assert_eq!(
            gguf_name("model.layers.0.mlp.down_proj.weight").unwrap(),
            "blk.0.ffn_down.weight"
        );
        assert_eq!(gguf_name("lm_head.weight").unwrap(), "output.weight");
        assert_eq!(gguf_name("model.layers.0.bogus.weight"), None);
    }

    #[test]
    fn unpermute_inverts_llama_cpps_permutation() {
        // 2 heads of head_dim 4, 1 column: HF rows [h0: a0 a1 b0 b1, h1: ...] where
        // (a_i, b_i) are the rotated pairs; llama.cpp stores them interleaved a0 b0 a1 b1.
        let hf: Vec<f32> = (0..8).map(|x| x as f32).collect();
        let gguf = vec![0.0, 2.0, 1.0, 3.0, 4.0, 6.0, 5.0, 7.0];
        let back = unpermute(
            HostTensor {
                shape: vec![8, 1],
                data: gguf,
            },
            2,
        );
        assert_eq!(back.data, hf);
    }
}

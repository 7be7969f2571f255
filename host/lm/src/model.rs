//! The decoder network (Llama and Qwen2 share it: RMSNorm, GQA attention with RoPE,
//! SwiGLU MLP) built from burn's nn modules, its construction from a [`TensorSource`] by
//! Hugging Face tensor names, and the forward pass with an optional KV cache.

use burn::module::{Module, Param};
use burn::nn::{Embedding, Linear, RmsNorm};
use burn::tensor::activation::silu;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use crate::config::ModelConfig;
use crate::error::Result;
use crate::rope::{self, Rope};
use crate::weights::{HostTensor, TensorSource};

/// Shapes the forward pass needs that are not parameters.
#[derive(Debug, Clone)]
pub struct Dims {
    /// Query heads.
    pub heads: usize,
    /// Key/value heads.
    pub kv_heads: usize,
    /// Width of a head.
    pub head_dim: usize,
    /// Rotary frequencies.
    pub rope: Rope,
}

/// Self-attention: q, k, v, o projections (HF names).
#[derive(Module, Debug)]
pub struct Attention {
    /// Query projection.
    pub q_proj: Linear,
    /// Key projection.
    pub k_proj: Linear,
    /// Value projection.
    pub v_proj: Linear,
    /// Output projection.
    pub o_proj: Linear,
}

/// SwiGLU feed-forward.
#[derive(Module, Debug)]
pub struct Mlp {
    /// Gate projection.
    pub gate_proj: Linear,
    /// Up projection.
    pub up_proj: Linear,
    /// Down projection.
    pub down_proj: Linear,
}

/// One pre-norm decoder layer.
#[derive(Module, Debug)]
pub struct DecoderLayer {
    /// Attention.
    pub self_attn: Attention,
    /// Feed-forward.
    pub mlp: Mlp,
    /// Norm before attention.
    pub input_layernorm: RmsNorm,
    /// Norm before the MLP.
    pub post_attention_layernorm: RmsNorm,
}

/// A causal language model.
#[derive(Module, Debug)]
pub struct CausalLm {
    /// Token embedding.
    pub embed_tokens: Embedding,
    /// Decoder layers.
    pub layers: Vec<DecoderLayer>,
    /// Final norm.
    pub norm: RmsNorm,
    /// Output head. Tied models get a copy of the embedding in the head's `[hidden,
    /// vocab]` layout: a transposed view would be re-laid out on every step.
    pub lm_head: Linear,
    /// Non-parameter shapes.
    #[module(skip)]
    pub dims: Dims,
}

/// Keys and values of the positions seen so far, per layer: `[batch, kv_heads, len, head_dim]`.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<Option<(Tensor<4>, Tensor<4>)>>,
    len: usize,
}

impl KvCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Positions cached.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The cache of a batch of one, repeated `n` times along the batch: `n`
    /// continuations of one shared prefix.
    pub fn repeat(&self, n: usize) -> KvCache {
        KvCache {
            layers: self
                .layers
                .iter()
                .map(|l| {
                    l.as_ref()
                        .map(|(k, v)| (k.clone().repeat_dim(0, n), v.clone().repeat_dim(0, n)))
                })
                .collect(),
            len: self.len,
        }
    }
}

fn tensor<const D: usize>(t: HostTensor, dims: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(t.data, dims), device)
}

/// `[rows, cols]` → `[cols, rows]` on the host (HF linear weights are `[out, in]`, burn's `[in, out]`).
fn transpose(t: &HostTensor) -> Vec<f32> {
    let (rows, cols) = (t.shape[0], t.shape[1]);
    let mut out = vec![0.0f32; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = t.data[r * cols + c];
        }
    }
    out
}

/// A linear layer over `[batch, len, d]` as one `[batch·len, d]` product: burn's 3-D
/// product runs each batch entry on its own (one thread), the 2-D one lets the CPU
/// backend split the rows over every core.
fn linear(layer: &Linear, x: Tensor<3>) -> Tensor<3> {
    let [b, t, d] = x.dims();
    let y = layer.forward(x.reshape([b * t, d]));
    let n = y.dims()[1];
    y.reshape([b, t, n])
}

struct Builder<'a> {
    src: &'a dyn TensorSource,
    device: &'a Device,
}

impl Builder<'_> {
    fn linear(&self, name: &str, d_in: usize, d_out: usize, bias: bool) -> Result<Linear> {
        let w = self
            .src
            .require(&format!("{name}.weight"), &[d_out, d_in])?;
        let weight =
            Tensor::<2>::from_data(TensorData::new(transpose(&w), [d_in, d_out]), self.device);
        let bias = if bias {
            let b = self.src.require(&format!("{name}.bias"), &[d_out])?;
            Some(Param::from_tensor(tensor(b, [d_out], self.device)))
        } else {
            None
        };
        Ok(Linear {
            weight: Param::from_tensor(weight),
            bias,
        })
    }

    fn norm(&self, name: &str, d: usize, eps: f64) -> Result<RmsNorm> {
        let g = self.src.require(&format!("{name}.weight"), &[d])?;
        Ok(RmsNorm {
            gamma: Param::from_tensor(tensor(g, [d], self.device)),
            epsilon: eps,
        })
    }
}

impl CausalLm {
    /// Build the network for `cfg` from `src` on `device`.
    pub fn load(cfg: &ModelConfig, src: &dyn TensorSource, device: &Device) -> Result<Self> {
        let b = Builder { src, device };
        let (h, i, v) = (cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size);
        let q = cfg.num_heads * cfg.head_dim;
        let kv = cfg.num_kv_heads * cfg.head_dim;
        let embed = src.require("model.embed_tokens.weight", &[v, h])?;
        let tied_head = cfg.tie_word_embeddings.then(|| Linear {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(transpose(&embed), [h, v]),
                device,
            )),
            bias: None,
        });
        let embed_tokens = Embedding {
            weight: Param::from_tensor(tensor(embed, [v, h], device)),
        };
        let mut layers = Vec::with_capacity(cfg.num_layers);
        for l in 0..cfg.num_layers {
            let p = format!("model.layers.{l}");
            layers.push(DecoderLayer {
                self_attn: Attention {
                    q_proj: b.linear(&format!("{p}.self_attn.q_proj"), h, q, cfg.qkv_bias)?,
                    k_proj: b.linear(&format!("{p}.self_attn.k_proj"), h, kv, cfg.qkv_bias)?,
                    v_proj: b.linear(&format!("{p}.self_attn.v_proj"), h, kv, cfg.qkv_bias)?,
                    o_proj: b.linear(&format!("{p}.self_attn.o_proj"), q, h, cfg.o_bias)?,
                },
                mlp: Mlp {
                    gate_proj: b.linear(&format!("{p}.mlp.gate_proj"), h, i, cfg.mlp_bias)?,
                    up_proj: b.linear(&format!("{p}.mlp.up_proj"), h, i, cfg.mlp_bias)?,
                    down_proj: b.linear(&format!("{p}.mlp.down_proj"), i, h, cfg.mlp_bias)?,
                },
                input_layernorm: b.norm(&format!("{p}.input_layernorm"), h, cfg.rms_norm_eps)?,
                post_attention_layernorm: b.norm(
                    &format!("{p}.post_attention_layernorm"),
                    h,
                    cfg.rms_norm_eps,
                )?,
            });
        }
        let norm = b.norm("model.norm", h, cfg.rms_norm_eps)?;
        let lm_head = match tied_head {
            Some(head) => head,
            None => b.linear("lm_head", h, v, false)?,
        };
        Ok(CausalLm {
            embed_tokens,
            layers,
            norm,
            lm_head,
            dims: Dims {
                heads: cfg.num_heads,
                kv_heads: cfg.num_kv_heads,
                head_dim: cfg.head_dim,
                rope: Rope::new(cfg.head_dim, cfg.rope_theta, cfg.rope_scaling.as_ref()),
            },
        })
    }

    /// Final hidden states `[batch, len, hidden]` for token ids `[batch, len]`. With a
    /// cache, the ids continue the cached positions and the cache grows by `len`.
    pub fn hidden(&self, ids: Tensor<2, Int>, mut cache: Option<&mut KvCache>) -> Tensor<3> {
        let [_, t] = ids.dims();
        let device = ids.device();
        let start = cache.as_ref().map_or(0, |c| c.len);
        if let Some(c) = cache.as_mut()
            && c.layers.len() != self.layers.len()
        {
            c.layers = vec![None; self.layers.len()];
        }
        let (cos, sin) = self.dims.rope.tables(start, t, &device);
        let mut x = self.embed_tokens.forward(ids);
        for (l, layer) in self.layers.iter().enumerate() {
            let slot = cache.as_mut().map(|c| &mut c.layers[l]);
            let a = layer.self_attn.forward(
                layer.input_layernorm.forward(x.clone()),
                &self.dims,
                (&cos, &sin),
                slot,
            );
            x = x + a;
            let m = layer
                .mlp
                .forward(layer.post_attention_layernorm.forward(x.clone()));
            x = x + m;
        }
        if let Some(c) = cache {
            c.len += t;
        }
        self.norm.forward(x)
    }

    /// Logits `[batch, len, vocab]` from hidden states.
    pub fn logits(&self, hidden: Tensor<3>) -> Tensor<3> {
        linear(&self.lm_head, hidden)
    }

    /// Logits of the last position only, `[batch, vocab]`.
    pub fn last_logits(&self, ids: Tensor<2, Int>, cache: Option<&mut KvCache>) -> Tensor<2> {
        let h = self.hidden(ids, cache);
        let [b, t, d] = h.dims();
        let last = h.slice([0..b, t - 1..t, 0..d]);
        let logits = self.logits(last);
        let v = logits.dims()[2];
        logits.reshape([b, v])
    }
}

impl Attention {
    fn forward(
        &self,
        x: Tensor<3>,
        dims: &Dims,
        (cos, sin): (&Tensor<4>, &Tensor<4>),
        cache: Option<&mut Option<(Tensor<4>, Tensor<4>)>>,
    ) -> Tensor<3> {
        let [b, t, _] = x.dims();
        let (h, kvh, hd) = (dims.heads, dims.kv_heads, dims.head_dim);
        let q = linear(&self.q_proj, x.clone())
            .reshape([b, t, h, hd])
            .swap_dims(1, 2);
        let k = linear(&self.k_proj, x.clone())
            .reshape([b, t, kvh, hd])
            .swap_dims(1, 2);
        let v = linear(&self.v_proj, x)
            .reshape([b, t, kvh, hd])
            .swap_dims(1, 2);
        let q = rope::apply(q, cos, sin);
        let k = rope::apply(k, cos, sin);
        let (k, v) = match cache {
            Some(slot) => {
                let (k, v) = match slot.take() {
                    Some((pk, pv)) => (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2)),
                    None => (k, v),
                };
                *slot = Some((k.clone(), v.clone()));
                (k, v)
            }
            None => (k, v),
        };
        let total = k.dims()[2];
        let (k, v) = if h == kvh {
            (k, v)
        } else {
            let rep = h / kvh;
            let expand = |x: Tensor<4>| -> Tensor<4> {
                x.unsqueeze_dim::<5>(2)
                    .expand([b, kvh, rep, total, hd])
                    .reshape([b, h, total, hd])
            };
            (expand(k), expand(v))
        };
        // Queries at the end of the key range: causal from the bottom-right. The fused
        // causal flag is used only where both alignments agree (no cached prefix).
        let (mask, is_causal) = if t == 1 {
            (None, false)
        } else if t == total {
            (None, true)
        } else {
            let offset = total - t;
            let m: Vec<bool> = (0..t)
                .flat_map(|i| (0..total).map(move |j| j > offset + i))
                .collect();
            let m = Tensor::<2, Bool>::from_data(TensorData::new(m, [t, total]), &q.device())
                .reshape([1, 1, t, total])
                .expand([b, h, t, total]);
            (Some(m), false)
        };
        let out = attention(
            q,
            k,
            v,
            mask,
            None,
            AttentionModuleOptions {
                scale: None,
                softcap: None,
                is_causal,
            },
        );
        self.o_proj
            .forward(out.swap_dims(1, 2).reshape([b, t, h * hd]))
    }
}

impl Mlp {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let g = silu(linear(&self.gate_proj, x.clone()));
        linear(&self.down_proj, g * linear(&self.up_proj, x))
    }
}

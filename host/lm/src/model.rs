//! The decoder network (Llama and Qwen2 share it: RMSNorm, GQA attention with RoPE,
//! SwiGLU MLP) built from burn's nn modules, its construction from a [`TensorSource`] by
//! Hugging Face tensor names, and the forward pass with an optional KV cache.

use burn::module::{Module, Param};
use burn::nn::{Embedding, Linear, RmsNorm};
use burn::tensor::activation::silu;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// Dropout on the input of LoRA adapters' path while training (0 = none); see
    /// [`CausalLm::set_lora_dropout`].
    pub lora_dropout: f64,
    /// Where the dropout masks' random stream stands (shared by clones of the model).
    pub dropout_draws: Arc<AtomicU64>,
}

/// SplitMix64's output function: the `i`-th draw of the dropout stream.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A `[rows, cols]` keep-mask scaled by 1 / keep, drawn from the model's own stream (not
/// the backend's global generator, which other models in the process also draw from).
fn dropout_mask(dims: &Dims, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    let keep = 1.0 - dims.lora_dropout;
    let n = (rows * cols) as u64;
    let start = dims.dropout_draws.fetch_add(n, Ordering::Relaxed);
    let threshold = (keep * u64::MAX as f64) as u64;
    let scale = (1.0 / keep) as f32;
    let v: Vec<f32> = (start..start + n)
        .map(|i| if mix(i) < threshold { scale } else { 0.0 })
        .collect();
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
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

/// Where each new token of a batch sits and which cached or new keys it may attend,
/// for [`CausalLm::hidden_at`]: rows of different lengths (right-padded prompts) and
/// several continuations of one prompt side by side (a tree of branches, each reading
/// the prompt and its own earlier tokens) in one pass.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The position of each new token, `batch · len` of them, row-major.
    pub positions: Vec<usize>,
    /// `[batch, len, cached + len]`, row-major: true where query token i of a row may
    /// attend key slot j (the cache's slots first, then the new tokens').
    pub attends: Vec<bool>,
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
/// A linear layer over `[batch, len, d]` as one `[batch·len, d]` product: burn's 3-D
/// product runs each batch entry on its own (one thread), the 2-D one lets the CPU
/// backend split the rows over every core.
///
/// With LoRA dropout on ([`Dims::lora_dropout`]), on a device that records gradients,
/// and a LoRA adapter on the weight, the adapter's path reads a dropped-out input, as
/// peft's LoRA dropout does: `y = x·W + s·drop(x)·A·B`. The reparameterized weight
/// already gives `x·W + s·x·A·B`, so the difference `s·(drop(x) − x)·A·B` is added.
fn linear(layer: &Linear, x: Tensor<3>, dims: Option<&Dims>) -> Tensor<3> {
    let [b, t, d] = x.dims();
    let x = x.reshape([b * t, d]);
    let mut y = layer.forward(x.clone());
    if let Some(dims) = dims
        && dims.lora_dropout > 0.0
        && x.device().is_autodiff()
        && let Some(adapter) = layer.weight.adapter()
    {
        let dropped = x.clone() * dropout_mask(dims, b * t, d, &x.device());
        let extra = (dropped - x)
            .matmul(adapter.a.val())
            .matmul(adapter.b.val())
            .mul_scalar(adapter.scale);
        y = y + extra;
    }
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
        let weight = Tensor::<2>::from_data(
            TensorData::new(w.transposed_data(), [d_in, d_out]),
            self.device,
        );
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
                TensorData::new(embed.transposed_data(), [h, v]),
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
                lora_dropout: 0.0,
                dropout_draws: Arc::new(AtomicU64::new(0)),
            },
        })
    }

    /// Final hidden states `[batch, len, hidden]` for token ids `[batch, len]`. With a
    /// cache, the ids continue the cached positions and the cache grows by `len`.
    pub fn hidden(&self, ids: Tensor<2, Int>, cache: Option<&mut KvCache>) -> Tensor<3> {
        let [_, t] = ids.dims();
        let start = cache.as_ref().map_or(0, |c| c.len);
        let tables = self.dims.rope.tables(start, t, &ids.device());
        self.forward(ids, tables, None, cache)
    }

    /// Final hidden states `[batch, len, hidden]` for token ids `[batch, len]` placed
    /// and masked by `layout` (each row's positions and what each token attends). With
    /// a cache, its slots come first in `layout.attends`, and it grows by `len` slots.
    pub fn hidden_at(
        &self,
        ids: Tensor<2, Int>,
        layout: &Layout,
        cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        let [b, t] = ids.dims();
        let device = ids.device();
        let total = cache.as_ref().map_or(0, |c| c.len) + t;
        assert_eq!(
            layout.attends.len(),
            b * t * total,
            "attends is [batch, len, cached + len]"
        );
        let tables = self.dims.rope.tables_at(&layout.positions, b, t, &device);
        // burn's attention masks out where the mask is true.
        let blocked: Vec<bool> = layout.attends.iter().map(|a| !a).collect();
        let blocked =
            Tensor::<3, Bool>::from_data(TensorData::new(blocked, [b, t, total]), &device)
                .reshape([b, 1, t, total]);
        self.forward(ids, tables, Some(blocked), cache)
    }

    fn forward(
        &self,
        ids: Tensor<2, Int>,
        (cos, sin): (Tensor<4>, Tensor<4>),
        blocked: Option<Tensor<4, Bool>>,
        mut cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        let [_, t] = ids.dims();
        if let Some(c) = cache.as_mut()
            && c.layers.len() != self.layers.len()
        {
            c.layers = vec![None; self.layers.len()];
        }
        let mut x = self.embed_tokens.forward(ids);
        for (l, layer) in self.layers.iter().enumerate() {
            let slot = cache.as_mut().map(|c| &mut c.layers[l]);
            let a = layer.self_attn.forward(
                layer.input_layernorm.forward(x.clone()),
                &self.dims,
                (&cos, &sin),
                blocked.as_ref(),
                slot,
            );
            x = x + a;
            let m = layer.mlp.forward(
                layer.post_attention_layernorm.forward(x.clone()),
                &self.dims,
            );
            x = x + m;
        }
        if let Some(c) = cache {
            c.len += t;
        }
        self.norm.forward(x)
    }

    /// Train LoRA adapters with dropout `p` on their input path (peft's `lora_dropout`).
    /// It applies only where gradients are recorded (the training device) and only to
    /// weights with adapters; inference copies and the frozen base are unaffected.
    /// The masks come from the model's own random stream, which
    /// [`CausalLm::seed_lora_dropout`] positions.
    pub fn set_lora_dropout(&mut self, p: f64) {
        self.dims.lora_dropout = p;
    }

    /// Start the dropout masks' stream at `seed`, so what follows repeats exactly.
    pub fn seed_lora_dropout(&self, seed: u64) {
        self.dims.dropout_draws.store(seed, Ordering::Relaxed);
    }

    /// Logits `[batch, len, vocab]` from hidden states.
    pub fn logits(&self, hidden: Tensor<3>) -> Tensor<3> {
        linear(&self.lm_head, hidden, None)
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

    /// Prefill prompts of different lengths as one right-padded batch and return the
    /// logits at each prompt's own last token, `[prompts, vocab]`. Causal attention keeps
    /// every real token from reading the padding after it; the cache then holds `max len`
    /// positions per row, the padded tail included, so what continues a shorter row must
    /// mask that tail (see [`Layout`]).
    pub fn prefill_last_logits(
        &self,
        prompts: &[&[u32]],
        cache: &mut KvCache,
        device: &Device,
    ) -> Tensor<2> {
        let p = prompts.len();
        let lens: Vec<usize> = prompts.iter().map(|q| q.len()).collect();
        let l = lens.iter().copied().max().unwrap_or(1);
        let mut ids = vec![0i32; p * l];
        for (r, q) in prompts.iter().enumerate() {
            for (k, t) in q.iter().enumerate() {
                ids[r * l + k] = *t as i32;
            }
        }
        let hidden = self.hidden(
            Tensor::<2, Int>::from_data(TensorData::new(ids, [p, l]), device),
            Some(cache),
        );
        let d = hidden.dims()[2];
        let last: Vec<i32> = lens
            .iter()
            .flat_map(|n| std::iter::repeat_n(*n as i32 - 1, d))
            .collect();
        let last = hidden.gather(
            1,
            Tensor::<3, Int>::from_data(TensorData::new(last, [p, 1, d]), device),
        );
        let logits = self.logits(last);
        let v = logits.dims()[2];
        logits.reshape([p, v])
    }
}

impl Attention {
    fn forward(
        &self,
        x: Tensor<3>,
        dims: &Dims,
        (cos, sin): (&Tensor<4>, &Tensor<4>),
        blocked: Option<&Tensor<4, Bool>>,
        cache: Option<&mut Option<(Tensor<4>, Tensor<4>)>>,
    ) -> Tensor<3> {
        let [b, t, _] = x.dims();
        let (h, kvh, hd) = (dims.heads, dims.kv_heads, dims.head_dim);
        let p = Some(dims);
        let q = linear(&self.q_proj, x.clone(), p)
            .reshape([b, t, h, hd])
            .swap_dims(1, 2);
        let k = linear(&self.k_proj, x.clone(), p)
            .reshape([b, t, kvh, hd])
            .swap_dims(1, 2);
        let v = linear(&self.v_proj, x, p)
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
        let (mask, is_causal) = if let Some(m) = blocked {
            (Some(m.clone().expand([b, h, t, total])), false)
        } else if t == 1 {
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
        linear(&self.o_proj, out.swap_dims(1, 2).reshape([b, t, h * hd]), p)
    }
}

impl Mlp {
    fn forward(&self, x: Tensor<3>, dims: &Dims) -> Tensor<3> {
        let p = Some(dims);
        let g = silu(linear(&self.gate_proj, x.clone(), p));
        linear(&self.down_proj, g * linear(&self.up_proj, x, p), p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Lora;

    fn dims(p: f64) -> Dims {
        Dims {
            heads: 1,
            kv_heads: 1,
            head_dim: 4,
            rope: Rope::new(4, 10_000.0, None),
            lora_dropout: p,
            dropout_draws: Arc::new(AtomicU64::new(5)),
        }
    }

    /// Sets every `[2, 3]` parameter (the adapter's B) to a fixed non-zero value.
    struct SetB;

    impl burn::module::ModuleMapper for SetB {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| {
                if t.dims().as_slice() == [2, 3] {
                    t.ones_like().mul_scalar(0.3)
                } else {
                    t
                }
            })
        }
    }

    fn tensor2(v: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v, shape), device)
    }

    #[test]
    fn lora_dropout_drops_the_adapter_input_only_while_training() {
        let device = Device::flex().autodiff();
        let w: Vec<f32> = (0..12).map(|i| i as f32 * 0.1 - 0.5).collect();
        let base = Linear {
            weight: Param::from_tensor(tensor2(w, [4, 3], &device)),
            bias: None,
        };
        // A seeded by burn; B (zero at first) set non-zero so the adapter path counts.
        let layer = base.apply_lora(Lora::new(2, 4.0)).map(&mut SetB);
        let x =
            tensor2((0..8).map(|i| i as f32 * 0.25).collect(), [2, 4], &device).reshape([1, 2, 4]);
        let plain = linear(&layer, x.clone(), None);
        // Off when p = 0, or without autodiff.
        let same = linear(&layer, x.clone(), Some(&dims(0.0)));
        assert_eq!(plain.to_data(), same.to_data());
        let d = dims(0.5);
        let infer = linear(&layer.valid(), x.clone().inner(), Some(&d));
        assert_eq!(plain.clone().inner().to_data(), infer.to_data());
        // On: x·W' + s·(drop(x) − x)·A·B with the mask the stream gives at that point.
        let start = d.dropout_draws.load(Ordering::Relaxed);
        let got = linear(&layer, x.clone(), Some(&d));
        assert_ne!(
            got.to_data(),
            plain.to_data(),
            "the adapter path reads the drops"
        );
        d.dropout_draws.store(start, Ordering::Relaxed);
        let mask = dropout_mask(&d, 2, 4, &device);
        let x2 = x.reshape([2, 4]);
        let ad = layer.weight.adapter().unwrap();
        let want = plain.reshape([2, 3])
            + (x2.clone() * mask.clone() - x2)
                .matmul(ad.a.val())
                .matmul(ad.b.val())
                .mul_scalar(ad.scale);
        got.reshape([2, 3])
            .into_data()
            .assert_approx_eq::<f32>(&want.into_data(), burn::tensor::Tolerance::default());
        // The mask keeps about half, each kept value scaled by 2.
        let m: Vec<f32> = mask.into_data().try_into_vec().unwrap();
        assert!(m.iter().all(|&v| v == 0.0 || v == 2.0), "{m:?}");
        // The next call draws further along the stream.
        assert_eq!(d.dropout_draws.load(Ordering::Relaxed), start + 8);
    }
}

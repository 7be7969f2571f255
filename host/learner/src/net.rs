//! Policy networks built from the environment's declared spaces: an MLP over the
//! embedded context tokens (position-aware: embeddings are concatenated), or a small
//! transformer encoder over them; both end in a head of one logit per discrete action.
//! Parameters are initialized from the run seed by our own generator, so initialization
//! is the same on every backend and thread.

use burn::module::{Module, ModuleMapper, Param};
use burn::nn::transformer::{
    TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput,
};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use steprl_core::SplitMix;
use steprl_core::seeds::stream;

/// Which network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    /// Embeddings of every context position, concatenated, through an MLP.
    Mlp,
    /// Token + position embeddings through a transformer encoder, mean-pooled.
    Transformer,
    /// A pretrained language model (`model`), trained with LoRA.
    Lm,
}

/// How a language-model policy acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LmMode {
    /// Choose among the environment's labelled discrete actions by each label's
    /// log-probability as the reply.
    #[default]
    Choice,
    /// Generate free text sent as `text` actions.
    Generate,
}

/// What of a pretrained language model trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Finetune {
    /// LoRA adapters on `lora_targets`.
    #[default]
    Lora,
    /// Every decoder layer's projections (embedding, norms and output head frozen).
    Full,
}

/// Network hyperparameters (the `[policy]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// `mlp`, `transformer` or `lm`.
    pub kind: PolicyKind,
    /// `lm`: the pretrained model, a GGUF file or a Hugging Face directory (relative
    /// paths are relative to the config file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<std::path::PathBuf>,
    /// `lm`: `choice` or `generate`.
    pub mode: LmMode,
    /// `lm`: `lora` (adapters) or `full` fine-tuning.
    pub finetune: Finetune,
    /// `lm`: LoRA rank.
    pub lora_rank: usize,
    /// `lm`: LoRA α (the adapters are scaled by α / rank).
    pub lora_alpha: f64,
    /// `lm`: projections with adapters.
    pub lora_targets: Vec<String>,
    /// `lm`: dropout on the adapters' input while training (0 = none).
    pub lora_dropout: f64,
    /// `lm`, generate mode: sampling temperature (log-probabilities are the tempered
    /// distribution's).
    pub temperature: f32,
    /// `lm`, generate mode: nucleus mass tokens are drawn from while training.
    pub top_p: f32,
    /// `lm`, generate mode: most tokens in one action.
    pub max_new_tokens: usize,
    /// `lm`, generate mode: strings that end an action's text.
    pub stop: Vec<String>,
    /// `lm`, generate mode: how to write an action, the prompt's last line (empty: a
    /// plain request for the next action).
    pub action_hint: String,
    /// Token embedding width.
    pub embed_dim: usize,
    /// MLP hidden width (transformer: feed-forward width).
    pub hidden: usize,
    /// Hidden layers (MLP) or encoder layers (transformer).
    pub layers: usize,
    /// Attention heads (transformer; must divide `embed_dim`).
    pub heads: usize,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            kind: PolicyKind::Mlp,
            model: None,
            mode: LmMode::Choice,
            finetune: Finetune::Lora,
            lora_rank: 8,
            lora_alpha: 16.0,
            lora_targets: vec!["q_proj".into(), "v_proj".into()],
            lora_dropout: 0.0,
            temperature: 1.0,
            top_p: 1.0,
            max_new_tokens: 64,
            stop: Vec::new(),
            action_hint: String::new(),
            embed_dim: 16,
            hidden: 256,
            layers: 2,
            heads: 4,
        }
    }
}

/// What the network's input and output look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spaces {
    /// Token space of contexts (observation vocabulary + action tokens + "no action").
    pub input_vocab: usize,
    /// Tokens per context.
    pub context_len: usize,
    /// Discrete actions.
    pub actions: usize,
}

/// The MLP policy.
#[derive(Module, Debug)]
pub struct MlpPolicy {
    embed: Embedding,
    hidden: Vec<Linear>,
    head: Linear,
}

/// The transformer policy.
#[derive(Module, Debug)]
pub struct TransformerPolicy {
    embed: Embedding,
    position: Embedding,
    encoder: TransformerEncoder,
    norm: LayerNorm,
    head: Linear,
}

/// A policy network of either kind.
// A learner holds one or two of these; the size difference between variants is moot.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum PolicyNet {
    /// MLP.
    Mlp(MlpPolicy),
    /// Transformer.
    Transformer(TransformerPolicy),
}

impl PolicyConfig {
    /// Problems with these settings for `spaces` (empty = fine).
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.kind == PolicyKind::Lm {
            if self.model.is_none() {
                p.push("policy.model must name the pretrained model (a .gguf file or a Hugging Face directory) when policy.kind = \"lm\"".to_owned());
            }
            if self.mode == LmMode::Generate {
                p.extend(self.generate().problems());
            }
            return p;
        }
        if self.model.is_some() {
            p.push(format!(
                "policy.model is only read when policy.kind = \"lm\" (kind is {:?})",
                self.kind
            ));
        }
        if self.embed_dim == 0 || self.hidden == 0 {
            p.push("policy.embed_dim and policy.hidden must be positive".to_owned());
        }
        if self.kind == PolicyKind::Transformer
            && (self.heads == 0 || !self.embed_dim.is_multiple_of(self.heads))
        {
            p.push(format!(
                "policy.heads = {} must divide policy.embed_dim = {}",
                self.heads, self.embed_dim
            ));
        }
        if self.kind == PolicyKind::Transformer && self.layers == 0 {
            p.push("policy.layers must be at least 1 for a transformer".to_owned());
        }
        p
    }

    /// The LoRA settings of an `lm` policy.
    pub fn lora(&self) -> crate::lm_base::LoraSettings {
        crate::lm_base::LoraSettings {
            rank: self.lora_rank,
            alpha: self.lora_alpha,
            targets: self.lora_targets.clone(),
            dropout: self.lora_dropout,
            full: self.finetune == Finetune::Full,
        }
    }

    /// The generation settings of an `lm` policy in generate mode.
    pub fn generate(&self) -> crate::lm_generate::GenerateSettings {
        crate::lm_generate::GenerateSettings {
            temperature: self.temperature,
            top_p: self.top_p,
            max_new_tokens: self.max_new_tokens,
            stop: self.stop.clone(),
            action_hint: self.action_hint.clone(),
        }
    }

    /// Build the network on `device`, initialized from `seed`.
    pub fn init(&self, spaces: &Spaces, device: &Device, seed: u64) -> PolicyNet {
        let d = self.embed_dim;
        let net = match self.kind {
            PolicyKind::Lm => unreachable!("a language-model policy is built by LmChoiceLearner"),
            PolicyKind::Mlp => {
                let mut hidden = Vec::new();
                let mut width = spaces.context_len * d;
                for _ in 0..self.layers {
                    hidden.push(LinearConfig::new(width, self.hidden).init(device));
                    width = self.hidden;
                }
                PolicyNet::Mlp(MlpPolicy {
                    embed: EmbeddingConfig::new(spaces.input_vocab, d).init(device),
                    hidden,
                    head: LinearConfig::new(width, spaces.actions).init(device),
                })
            }
            PolicyKind::Transformer => PolicyNet::Transformer(TransformerPolicy {
                embed: EmbeddingConfig::new(spaces.input_vocab, d).init(device),
                position: EmbeddingConfig::new(spaces.context_len, d).init(device),
                encoder: TransformerEncoderConfig::new(d, self.hidden, self.heads, self.layers)
                    .with_dropout(0.0)
                    .with_norm_first(true)
                    .init(device),
                norm: LayerNormConfig::new(d).init(device),
                head: LinearConfig::new(d, spaces.actions).init(device),
            }),
        };
        net.map(&mut SeededInit {
            rng: SplitMix::new(seed, stream::NET_CANDIDATES),
            path: Vec::new(),
        })
    }
}

impl PolicyNet {
    /// Logits `[batch, actions]` for contexts `[batch, context_len]`.
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        match self {
            PolicyNet::Mlp(m) => {
                let [b, l] = tokens.dims();
                let e: Tensor<3> = m.embed.forward(tokens);
                let d = e.dims()[2];
                let mut x: Tensor<2> = e.reshape([b, l * d]);
                for layer in &m.hidden {
                    x = relu(layer.forward(x));
                }
                m.head.forward(x)
            }
            PolicyNet::Transformer(t) => {
                let [b, l] = tokens.dims();
                let device = tokens.device();
                let positions: Tensor<2, Int> = Tensor::<1, Int>::arange(0..l as i64, &device)
                    .reshape([1, l])
                    .repeat_dim(0, b);
                let x = t.embed.forward(tokens) + t.position.forward(positions);
                let h = t.encoder.forward(TransformerEncoderInput::new(x));
                let d = h.dims()[2];
                let pooled: Tensor<2> = h.mean_dim(1).reshape([b, d]);
                t.head.forward(t.norm.forward(pooled))
            }
        }
    }
}

/// Replaces every parameter with values from our own seeded generator: linear weights
/// uniform in ±1/√fan_in, embedding rows uniform in ±0.5, biases 0, norm gains 1.
struct SeededInit {
    rng: SplitMix,
    path: Vec<String>,
}

impl ModuleMapper for SeededInit {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_owned());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let dims = tensor.dims();
        let device = tensor.device();
        let require_grad = tensor.is_require_grad();
        let n: usize = dims.iter().product();
        let name = self.path.last().map(String::as_str).unwrap_or("");
        let in_embedding = self.path.iter().any(|p| p == "embed" || p == "position");
        let values: Vec<f32> = if name == "gamma" {
            vec![1.0; n]
        } else if D == 1 {
            vec![0.0; n]
        } else {
            // Linear weights are [d_in, d_out]: fan-in is the first dimension.
            // Embedding rows are inputs themselves: a fixed ±0.5 range keeps them O(1).
            let bound = if in_embedding {
                0.5
            } else {
                1.0 / (dims[0] as f64).sqrt()
            };
            (0..n)
                .map(|_| ((self.rng.unit() * 2.0 - 1.0) * bound) as f32)
                .collect()
        };
        let mut t = Tensor::<D>::from_data(TensorData::new(values, dims), &device);
        if require_grad {
            t = t.require_grad();
        }
        Param::from_mapped_value(id, t, mapper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spaces() -> Spaces {
        Spaces {
            input_vocab: 20,
            context_len: 5,
            actions: 4,
        }
    }

    fn tokens(device: &Device) -> Tensor<2, Int> {
        Tensor::from_data(
            TensorData::new(vec![1i32, 2, 3, 4, 5, 0, 0, 7, 8, 9], [2, 5]),
            device,
        )
    }

    #[test]
    fn both_networks_map_contexts_to_one_logit_per_action() {
        let device = Device::flex();
        for kind in [PolicyKind::Mlp, PolicyKind::Transformer] {
            let cfg = PolicyConfig {
                kind,
                embed_dim: 8,
                hidden: 16,
                layers: 1,
                heads: 2,
                ..PolicyConfig::default()
            };
            assert!(cfg.problems().is_empty());
            let net = cfg.init(&spaces(), &device, 3);
            let out = net.forward(tokens(&device));
            assert_eq!(out.dims(), [2, 4], "{kind:?}");
            let v: Vec<f32> = out.into_data().try_into_vec().unwrap();
            assert!(v.iter().all(|x| x.is_finite()));
        }
    }

    #[test]
    fn initialization_depends_only_on_the_seed() {
        let device = Device::flex();
        let cfg = PolicyConfig::default();
        let out = |seed| -> Vec<f32> {
            cfg.init(&spaces(), &device, seed)
                .forward(tokens(&device))
                .into_data()
                .try_into_vec()
                .unwrap()
        };
        assert_eq!(out(7), out(7));
        assert_ne!(out(7), out(8));
    }

    #[test]
    fn bad_transformer_shapes_are_named() {
        let cfg = PolicyConfig {
            kind: PolicyKind::Transformer,
            embed_dim: 10,
            heads: 4,
            ..PolicyConfig::default()
        };
        assert!(cfg.problems()[0].contains("policy.heads = 4 must divide policy.embed_dim = 10"));
    }
}

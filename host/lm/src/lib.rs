//! Pretrained decoder-only language models on burn: Llama and Qwen2 loaded from Hugging
//! Face directories (safetensors) or GGUF files (dequantized at load), their tokenizer
//! and chat template, and KV-cache generation.

pub mod chat;
pub mod config;
pub mod error;
pub mod export;
pub mod generate;
pub mod gguf;
pub mod load;
pub mod model;
pub mod rope;
pub mod tokenizer;
pub mod weights;

/// The device models load onto (burn's; choose it with `steprl_learner::select`).
pub use burn::tensor::Device;
pub use chat::{ChatTemplate, Message};
pub use config::{Architecture, ModelConfig, RopeScaling};
pub use error::{LmError, Result};
pub use generate::{GenerateOptions, Generation, Sampling, StopReason, log_softmax, top_k};
pub use load::{Format, LanguageModel, ModelInfo};
pub use model::{CausalLm, KvCache, Layout};
pub use tokenizer::Tokenizer;

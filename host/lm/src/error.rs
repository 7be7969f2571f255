//! What can go wrong loading or running a language model; every message names the file
//! (and the tensor, key or type) and, where there is a choice, what would be valid.

use std::path::PathBuf;

/// A language-model error.
#[derive(Debug, thiserror::Error)]
pub enum LmError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The path is neither a model directory nor a `.gguf` file.
    #[error(
        "{path}: not a model (expected a Hugging Face directory with config.json, model.safetensors or model.safetensors.index.json and tokenizer.json, or a .gguf file)"
    )]
    NotAModel {
        /// The path given.
        path: PathBuf,
    },
    /// A JSON file could not be parsed.
    #[error("{path}: invalid JSON: {detail}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        detail: String,
    },
    /// The architecture is not one this crate implements.
    #[error("{path}: unknown architecture `{found}` (supported: {})", crate::config::Architecture::NAMES.join(", "))]
    UnknownArchitecture {
        /// The file.
        path: PathBuf,
        /// What the file says.
        found: String,
    },
    /// A required configuration key is missing.
    #[error("{path}: missing key `{key}`")]
    MissingKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },
    /// A configuration value is out of range or inconsistent.
    #[error("{path}: {detail}")]
    BadConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A tensor the architecture needs is not in the checkpoint.
    #[error("{path}: missing tensor `{name}`")]
    MissingTensor {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor's name as the file would spell it.
        name: String,
    },
    /// A tensor has another shape than the configuration implies.
    #[error("{path}: tensor `{name}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// The shape the configuration implies.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor is stored in a type this loader cannot dequantize.
    #[error(
        "{path}: tensor `{name}` is stored as {found}, which is not supported (supported: {supported})"
    )]
    UnsupportedType {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// The type in the file.
        found: String,
        /// The supported types.
        supported: &'static str,
    },
    /// The file ends before the data its header announces.
    #[error("{path}: truncated or corrupt: {detail}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What was expected.
        detail: String,
    },
    /// The tokenizer could not be built or used.
    #[error("{path}: tokenizer: {detail}")]
    Tokenizer {
        /// The tokenizer's file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The tokenizer produces ids the embedding has no row for.
    #[error(
        "{path}: the tokenizer's vocabulary ({tokenizer} ids) does not fit the embedding ({embedding} rows)"
    )]
    VocabMismatch {
        /// The tokenizer's file.
        path: PathBuf,
        /// Ids the tokenizer can produce.
        tokenizer: usize,
        /// Rows of the embedding.
        embedding: usize,
    },
    /// The model has no chat template but one was needed.
    #[error("{path}: the model has no chat template; pass the prompt raw (--raw) instead")]
    NoChatTemplate {
        /// The model.
        path: PathBuf,
    },
    /// The chat template failed to parse or render.
    #[error("{path}: chat template: {detail}")]
    ChatTemplate {
        /// The model.
        path: PathBuf,
        /// minijinja's message.
        detail: String,
    },
    /// The model cannot be written as a Hugging Face directory.
    #[error("{path}: cannot export: {detail}")]
    Export {
        /// The model or the file being written.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// Generation was asked for something impossible.
    #[error("{0}")]
    BadRequest(String),
    /// A tensor operation failed (reading back data from the device).
    #[error("tensor data: {0}")]
    Tensor(String),
}

/// Result with [`LmError`].
pub type Result<T> = std::result::Result<T, LmError>;

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> LmError {
    let path = path.into();
    move |source| LmError::Io { path, source }
}

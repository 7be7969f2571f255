//! Opening a model path: a Hugging Face directory (config.json, safetensors, tokenizer
//! files) or a GGUF file; `inspect` reads only metadata, `load` builds the network.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde::Serialize;
use serde_json::Value;

use crate::chat::ChatTemplate;
use crate::config::{ModelConfig, token_ids};
use crate::error::{LmError, Result, io};
use crate::gguf::GgufFile;
use crate::model::CausalLm;
use crate::tokenizer::Tokenizer;
use crate::weights::{SafetensorsSource, TensorSource};

/// End-of-turn tokens a chat template may close a turn with.
const END_OF_TURN: &[&str] = &[
    "<|im_end|>",
    "<|eot_id|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
];

/// Which kind of checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A Hugging Face directory with safetensors.
    Safetensors,
    /// A GGUF file.
    Gguf,
}

/// What `steprl model inspect` shows.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    /// The path given.
    pub path: PathBuf,
    /// Checkpoint format.
    pub format: Format,
    /// Hyperparameters.
    pub config: ModelConfig,
    /// Parameters of the network.
    pub parameters: usize,
    /// Storage types of the tensors (dtype or quantization).
    pub storage: String,
    /// Whether the model has a chat template.
    pub chat_template: bool,
    /// Ids the tokenizer can produce.
    pub tokenizer_vocab: usize,
    /// Ids that end generation.
    pub stop_ids: Vec<u32>,
}

/// A loaded language model: network, tokenizer, chat template.
#[derive(Debug, Clone)]
pub struct LanguageModel {
    /// The path it was loaded from.
    pub path: PathBuf,
    /// Hyperparameters.
    pub config: ModelConfig,
    /// The network.
    pub net: CausalLm,
    /// The tokenizer.
    pub tokenizer: Tokenizer,
    /// The chat template, if the model has one.
    pub chat_template: Option<ChatTemplate>,
    /// Ids that end generation: EOS and the chat template's end-of-turn token.
    pub stop_ids: Vec<u32>,
    /// The device the weights live on.
    pub device: Device,
}

pub(crate) struct Opened {
    pub(crate) format: Format,
    pub(crate) config: ModelConfig,
    pub(crate) source: Box<dyn TensorSource>,
    pub(crate) tokenizer: Tokenizer,
    pub(crate) chat_template: Option<ChatTemplate>,
    pub(crate) stop_ids: Vec<u32>,
}

fn read_json(path: &Path) -> Result<Option<Value>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| LmError::Json {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })
}

/// A token string from `tokenizer_config.json` (`"x"` or `{"content": "x"}`).
fn token_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

fn stop_ids(
    config: &ModelConfig,
    tok: &Tokenizer,
    extra: &[u32],
    template: Option<&ChatTemplate>,
) -> Vec<u32> {
    let mut ids: Vec<u32> = config.eos_token_ids.iter().chain(extra).copied().collect();
    if let Some(t) = template {
        for end in END_OF_TURN {
            if t.source().contains(end)
                && let Some(id) = tok.token_id(end)
            {
                ids.push(id);
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

pub(crate) fn open(path: &Path) -> Result<Opened> {
    if path.is_dir() {
        open_hf_dir(path)
    } else if path.is_file() {
        open_gguf(path)
    } else {
        Err(LmError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        })
    }
}

fn open_hf_dir(dir: &Path) -> Result<Opened> {
    let config_path = dir.join("config.json");
    if !config_path.is_file() {
        return Err(LmError::NotAModel {
            path: dir.to_path_buf(),
        });
    }
    let text = std::fs::read_to_string(&config_path).map_err(io(&config_path))?;
    let config = ModelConfig::from_hf_json(&config_path, &text)?;
    let weights = SafetensorsSource::open_dir(dir)?;
    let tok_path = dir.join("tokenizer.json");
    if !tok_path.is_file() {
        return Err(LmError::Tokenizer {
            path: tok_path,
            detail: "missing (a Hugging Face model directory needs tokenizer.json)".into(),
        });
    }
    let tokenizer = Tokenizer::from_file(&tok_path)?;
    let tc_path = dir.join("tokenizer_config.json");
    let tc = read_json(&tc_path)?.unwrap_or(Value::Null);
    let bos = token_string(tc.get("bos_token")).unwrap_or_default();
    let eos = token_string(tc.get("eos_token")).unwrap_or_default();
    let jinja_path = dir.join("chat_template.jinja");
    let source = match tc.get("chat_template") {
        Some(Value::String(s)) => Some((tc_path.clone(), s.clone())),
        Some(Value::Array(list)) => list
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
            .or_else(|| list.first())
            .and_then(|t| t.get("template").and_then(Value::as_str))
            .map(|s| (tc_path.clone(), s.to_owned())),
        _ if jinja_path.is_file() => Some((
            jinja_path.clone(),
            std::fs::read_to_string(&jinja_path).map_err(io(&jinja_path))?,
        )),
        _ => None,
    };
    let template = source.map(|(p, s)| ChatTemplate::new(&p, s, bos, eos.clone()));
    let mut extra = Vec::new();
    if let Some(id) = tokenizer.token_id(&eos).filter(|_| !eos.is_empty()) {
        extra.push(id);
    }
    if let Some(gc) = read_json(&dir.join("generation_config.json"))? {
        extra.extend(token_ids(gc.get("eos_token_id")));
    }
    let stop = stop_ids(&config, &tokenizer, &extra, template.as_ref());
    Ok(Opened {
        format: Format::Safetensors,
        config,
        source: Box::new(weights),
        tokenizer,
        chat_template: template,
        stop_ids: stop,
    })
}

fn open_gguf(path: &Path) -> Result<Opened> {
    let file = GgufFile::open(path)?;
    let config = file.config.clone();
    let tokenizer = Tokenizer::from_gguf(path, &file.tokenizer)?;
    let name = |id: Option<u32>| {
        id.and_then(|i| file.tokenizer.tokens.get(i as usize))
            .cloned()
            .unwrap_or_default()
    };
    let template =
        file.tokenizer.chat_template.clone().map(|s| {
            ChatTemplate::new(path, s, name(file.tokenizer.bos), name(file.tokenizer.eos))
        });
    let extra: Vec<u32> = file.tokenizer.eos.into_iter().collect();
    let stop = stop_ids(&config, &tokenizer, &extra, template.as_ref());
    Ok(Opened {
        format: Format::Gguf,
        config,
        source: Box::new(file),
        tokenizer,
        chat_template: template,
        stop_ids: stop,
    })
}

impl LanguageModel {
    /// Describe the model at `path` without building the network.
    pub fn inspect(path: &Path) -> Result<ModelInfo> {
        let o = open(path)?;
        o.tokenizer.check_fits(o.config.vocab_size)?;
        Ok(ModelInfo {
            path: path.to_path_buf(),
            format: o.format,
            parameters: o.config.parameter_count(),
            storage: o.source.storage(),
            chat_template: o.chat_template.is_some(),
            tokenizer_vocab: o.tokenizer.id_bound(),
            stop_ids: o.stop_ids,
            config: o.config,
        })
    }

    /// Load the model at `path` onto `device`.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let o = open(path)?;
        o.tokenizer.check_fits(o.config.vocab_size)?;
        let net = CausalLm::load(&o.config, o.source.as_ref(), device)?;
        Ok(LanguageModel {
            path: path.to_path_buf(),
            config: o.config,
            net,
            tokenizer: o.tokenizer,
            chat_template: o.chat_template,
            stop_ids: o.stop_ids,
            device: device.clone(),
        })
    }

    /// Prompt ids: `raw` tokenizes the text as is (no BOS, no template); otherwise the
    /// text is one user message through the chat template, with the assistant's header.
    pub fn prompt_ids(&self, prompt: &str, raw: bool) -> Result<Vec<u32>> {
        if raw {
            return self.tokenizer.encode(prompt, false);
        }
        let text = self.chat_prompt(prompt)?;
        self.tokenizer.encode(&text, false)
    }

    /// The chat template's rendering of `prompt` as one user message.
    pub fn chat_prompt(&self, prompt: &str) -> Result<String> {
        let t = self
            .chat_template
            .as_ref()
            .ok_or_else(|| LmError::NoChatTemplate {
                path: self.path.clone(),
            })?;
        t.render(&[crate::chat::Message::user(prompt)], true)
    }
}

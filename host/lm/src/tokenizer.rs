//! Text ↔ token ids with the `tokenizers` crate: a Hugging Face `tokenizer.json` as is,
//! or one assembled from GGUF metadata the way transformers 5 converts it (byte-level BPE
//! from tokens + merges with the split regex its `pre` name calls for; SentencePiece BPE
//! with merges derived from the scores).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::error::{LmError, Result};
use crate::gguf::GgufTokenizer;

/// Qwen2's split pattern (digits one by one).
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Llama 3's split pattern (digits in groups of up to three).
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The split pattern of a byte-level vocabulary, by its `tokenizer.ggml.pre` name (the
/// names transformers maps); `None` means GPT-2's own regex inside the byte-level step.
fn split_pattern(pre: Option<&str>) -> Option<&'static str> {
    match pre? {
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "smaug-bpe" | "dbrx" => {
            Some(LLAMA3_SPLIT)
        }
        "qwen2" | "deepseek-r1-qwen" | "megrez" => Some(QWEN2_SPLIT),
        _ => None,
    }
}

/// A tokenizer and the file it came from.
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("path", &self.path)
            .finish()
    }
}

impl Tokenizer {
    /// Load a Hugging Face `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_file(path).map_err(|e| LmError::Tokenizer {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        Ok(Tokenizer {
            inner,
            path: path.to_path_buf(),
        })
    }

    /// Build the tokenizer a GGUF file describes.
    pub fn from_gguf(path: &Path, t: &GgufTokenizer) -> Result<Self> {
        let json = gguf_tokenizer_json(path, t)?;
        let inner: tokenizers::Tokenizer =
            json.to_string()
                .parse()
                .map_err(|e: tokenizers::Error| LmError::Tokenizer {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                })?;
        Ok(Tokenizer {
            inner,
            path: path.to_path_buf(),
        })
    }

    /// The tokenizer as Hugging Face `tokenizer.json` text.
    pub fn to_json(&self) -> Result<String> {
        self.inner.to_string(true).map_err(|e| LmError::Tokenizer {
            path: self.path.clone(),
            detail: e.to_string(),
        })
    }

    /// The file this tokenizer was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Token ids of `text`; special tokens written in the text are recognized.
    /// `add_special_tokens` applies the tokenizer's post-processor (e.g. a BOS).
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        self.inner
            .encode(text, add_special_tokens)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| LmError::Tokenizer {
                path: self.path.clone(),
                detail: e.to_string(),
            })
    }

    /// Text of `ids`.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| LmError::Tokenizer {
                path: self.path.clone(),
                detail: e.to_string(),
            })
    }

    /// The id of a token string (including added tokens).
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The string of a token id.
    pub fn token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// One past the largest id the tokenizer can produce.
    pub fn id_bound(&self) -> usize {
        self.inner
            .get_vocab(true)
            .values()
            .max()
            .map_or(0, |m| *m as usize + 1)
    }

    /// The special (added, `special = true`) tokens by id.
    pub fn special_tokens(&self) -> BTreeMap<u32, String> {
        self.inner
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, t)| t.special)
            .map(|(id, t)| (id, t.content))
            .collect()
    }

    /// Refuse a tokenizer that can produce ids past the embedding's rows.
    pub fn check_fits(&self, embedding_rows: usize) -> Result<()> {
        let bound = self.id_bound();
        if bound > embedding_rows {
            return Err(LmError::VocabMismatch {
                path: self.path.clone(),
                tokenizer: bound,
                embedding: embedding_rows,
            });
        }
        Ok(())
    }
}

fn gguf_tokenizer_json(path: &Path, t: &GgufTokenizer) -> Result<Value> {
    let bad = |detail: String| LmError::Tokenizer {
        path: path.to_path_buf(),
        detail,
    };
    if t.tokens.is_empty() {
        return Err(bad("no `tokenizer.ggml.tokens` in the file".into()));
    }
    let vocab: serde_json::Map<String, Value> = t
        .tokens
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), json!(i)))
        .collect();
    let added: Vec<Value> = t
        .tokens
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let ty = t.token_types.get(i).copied().unwrap_or(1);
            (ty == 3 || ty == 4).then(|| {
                json!({"id": i, "content": s, "single_word": false, "lstrip": false,
                       "rstrip": false, "normalized": false, "special": ty == 3})
            })
        })
        .collect();
    match t.model.as_str() {
        "gpt2" => {
            let merges: Vec<Value> = t
                .merges
                .iter()
                .map(|m| match m.split_once(' ') {
                    Some((a, b)) => Ok(json!([a, b])),
                    None => Err(bad(format!(
                        "merge `{m}` is not two tokens separated by a space"
                    ))),
                })
                .collect::<Result<_>>()?;
            let byte_level = |use_regex: bool| json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": use_regex});
            // As transformers builds it: GPT-2 byte-level BPE, with the split regex the
            // `pre` name calls for (the architecture plays no part).
            let pre = match split_pattern(t.pre.as_deref()) {
                Some(pattern) => json!({"type": "Sequence", "pretokenizers": [
                    {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": false},
                    byte_level(false)
                ]}),
                None => byte_level(true),
            };
            Ok(json!({
                "version": "1.0", "truncation": null, "padding": null,
                "added_tokens": added, "normalizer": null, "pre_tokenizer": pre,
                "post_processor": null, "decoder": byte_level(true),
                "model": {"type": "BPE", "dropout": null, "unk_token": null,
                          "continuing_subword_prefix": null, "end_of_word_suffix": null,
                          "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                          "vocab": vocab, "merges": merges}
            }))
        }
        "llama" => {
            let merges = sentencepiece_merges(t);
            let unk = t
                .unk
                .and_then(|u| t.tokens.get(u as usize))
                .cloned()
                .map_or(Value::Null, Value::String);
            Ok(json!({
                "version": "1.0", "truncation": null, "padding": null,
                "added_tokens": added,
                "normalizer": null,
                "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false},
                "post_processor": null,
                "decoder": {"type": "Sequence", "decoders": [
                    {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                    {"type": "ByteFallback"}, {"type": "Fuse"},
                    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
                "model": {"type": "BPE", "dropout": null, "unk_token": unk,
                          "continuing_subword_prefix": null, "end_of_word_suffix": null,
                          "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
                          "vocab": vocab, "merges": merges}
            }))
        }
        other => Err(bad(format!(
            "tokenizer model `{other}` is not supported (supported: gpt2, llama)"
        ))),
    }
}

/// SentencePiece vocabularies carry scores instead of merges: every split of a token
/// into two known tokens is a merge, ranked by the merged token's score.
fn sentencepiece_merges(t: &GgufTokenizer) -> Vec<Value> {
    let ids: std::collections::HashMap<&str, usize> = t
        .tokens
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let score = |i: usize| t.scores.get(i).copied().unwrap_or(0.0);
    let mut merges: Vec<(f32, usize, usize, String, String)> = Vec::new();
    for (i, tok) in t.tokens.iter().enumerate() {
        let cuts: Vec<usize> = tok.char_indices().map(|(b, _)| b).skip(1).collect();
        for cut in cuts {
            let (l, r) = tok.split_at(cut);
            if let (Some(&li), Some(&ri)) = (ids.get(l), ids.get(r)) {
                merges.push((score(i), li, ri, l.to_owned(), r.to_owned()));
            }
        }
    }
    merges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    merges
        .into_iter()
        .map(|(_, _, _, l, r)| json!([l, r]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp_vocab() -> GgufTokenizer {
        let tokens = [
            "<unk>", "<s>", "</s>", "▁", "h", "e", "l", "o", "he", "ll", "hell", "hello", "▁hello",
        ];
        GgufTokenizer {
            model: "llama".into(),
            tokens: tokens.iter().map(|s| s.to_string()).collect(),
            token_types: vec![2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
            scores: vec![
                0.0, 0.0, 0.0, -1.0, -2.0, -2.0, -2.0, -2.0, -3.0, -3.0, -4.0, -5.0, -6.0,
            ],
            unk: Some(0),
            ..GgufTokenizer::default()
        }
    }

    #[test]
    fn sentencepiece_vocabularies_merge_by_score_and_decode_back() {
        let tok = Tokenizer::from_gguf(Path::new("sp.gguf"), &sp_vocab()).unwrap();
        let ids = tok.encode("hello", false).unwrap();
        assert_eq!(ids, vec![12], "▁hello is one token");
        assert_eq!(tok.decode(&ids, true).unwrap(), "hello");
        assert_eq!(
            tok.encode("</s>", false).unwrap(),
            vec![2],
            "control tokens are matched whole"
        );
    }

    #[test]
    fn unknown_tokenizer_models_are_refused_by_name() {
        let mut t = sp_vocab();
        t.model = "bert".into();
        let e = Tokenizer::from_gguf(Path::new("x.gguf"), &t)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x.gguf") && e.contains("`bert`") && e.contains("gpt2, llama"),
            "{e}"
        );
    }

    #[test]
    fn a_vocabulary_larger_than_the_embedding_is_refused() {
        let tok = Tokenizer::from_gguf(Path::new("sp.gguf"), &sp_vocab()).unwrap();
        assert!(tok.check_fits(13).is_ok());
        let e = tok.check_fits(10).unwrap_err().to_string();
        assert!(e.contains("13 ids") && e.contains("10 rows"), "{e}");
    }
}

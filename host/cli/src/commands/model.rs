//! `steprl model inspect` and `steprl model generate`: a pretrained language model's
//! facts, and text generated from a prompt.

use std::io::Write;

use anyhow::Context;
use steprl_lm::{GenerateOptions, LanguageModel, Sampling};

use crate::args::{GenerateArgs, ModelInspectArgs};

pub fn inspect(a: &ModelInspectArgs) -> anyhow::Result<bool> {
    let info = LanguageModel::inspect(&a.path)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(true);
    }
    let c = &info.config;
    let rows: Vec<(&str, String)> = vec![
        ("path", info.path.display().to_string()),
        ("format", format!("{:?}", info.format).to_lowercase()),
        ("architecture", c.architecture.name().to_owned()),
        (
            "parameters",
            format!(
                "{} ({:.1} M)",
                info.parameters,
                info.parameters as f64 / 1e6
            ),
        ),
        ("layers", c.num_layers.to_string()),
        ("hidden size", c.hidden_size.to_string()),
        ("intermediate size", c.intermediate_size.to_string()),
        (
            "heads",
            format!(
                "{} query, {} key/value, head dim {}",
                c.num_heads, c.num_kv_heads, c.head_dim
            ),
        ),
        (
            "vocabulary",
            format!(
                "{} embedding rows, tokenizer {} ids",
                c.vocab_size, info.tokenizer_vocab
            ),
        ),
        ("context length", c.max_position_embeddings.to_string()),
        (
            "rope",
            match &c.rope_scaling {
                None => format!("theta {}", c.rope_theta),
                Some(steprl_lm::RopeScaling::Llama3 { factor, .. }) => {
                    format!("theta {}, llama3 scaling ×{factor}", c.rope_theta)
                }
                Some(steprl_lm::RopeScaling::Factors(f)) => {
                    format!("theta {}, {} frequency factors", c.rope_theta, f.len())
                }
            },
        ),
        ("tied embeddings", c.tie_word_embeddings.to_string()),
        ("storage", info.storage.clone()),
        (
            "chat template",
            if info.chat_template { "yes" } else { "no" }.to_owned(),
        ),
        ("stop ids", format!("{:?}", info.stop_ids)),
    ];
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (k, v) in rows {
        println!("{k:<width$}  {v}");
    }
    Ok(true)
}

pub fn generate(a: &GenerateArgs) -> anyhow::Result<bool> {
    let selected = steprl_learner::backend::select(a.backend)?;
    eprintln!("backend: {} — {}", selected.backend, selected.description);
    let t0 = std::time::Instant::now();
    let model = LanguageModel::load(&a.path, &selected.device)
        .with_context(|| format!("could not load the model {}", a.path.display()))?;
    eprintln!(
        "loaded {} ({} layers, {:.1} M parameters) in {:.2} s",
        a.path.display(),
        model.config.num_layers,
        model.config.parameter_count() as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    let prompt_ids = model.prompt_ids(&a.prompt, a.raw)?;
    let opts = GenerateOptions {
        sampling: if a.greedy {
            Sampling::Greedy
        } else {
            Sampling::Sample {
                temperature: a.temperature,
                top_p: a.top_p,
            }
        },
        max_tokens: a.max_tokens,
        seed: a.seed,
    };
    let mut shown = String::new();
    let mut so_far = Vec::new();
    let stream = !a.json;
    let tokenizer = &model.tokenizer;
    let out = model.generate(&prompt_ids, &opts, |id| {
        if !stream {
            return;
        }
        so_far.push(id);
        // Print the newly decoded suffix (a token may complete a multi-byte character).
        if let Ok(text) = tokenizer.decode(&so_far, true)
            && text.len() > shown.len()
            && text.starts_with(&shown)
            && !text.ends_with('\u{fffd}')
        {
            print!("{}", &text[shown.len()..]);
            let _ = std::io::stdout().flush();
            shown = text;
        }
    })?;
    if a.json {
        let v = serde_json::json!({
            "prompt_ids": out.prompt_ids,
            "ids": out.ids,
            "text": out.text,
            "top_logprobs": out.top_logprobs.iter().map(|(id, lp)| serde_json::json!([id, lp])).collect::<Vec<_>>(),
            "stop": out.stop,
            "prompt_seconds": out.prompt_seconds,
            "decode_seconds": out.decode_seconds,
        });
        println!("{v}");
    } else {
        if out.text.len() > shown.len() && out.text.starts_with(&shown) {
            print!("{}", &out.text[shown.len()..]);
        }
        println!();
        let decoded = out.ids.len().saturating_sub(1);
        eprintln!(
            "prompt: {} tokens in {:.2} s ({:.1} tokens/s); generated {} tokens, {:.1} tokens/s after the first; stop: {:?}",
            out.prompt_ids.len(),
            out.prompt_seconds,
            out.prompt_ids.len() as f64 / out.prompt_seconds.max(1e-9),
            out.ids.len(),
            decoded as f64 / out.decode_seconds.max(1e-9),
            out.stop
        );
    }
    Ok(true)
}

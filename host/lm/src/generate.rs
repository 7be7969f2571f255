//! Autoregressive generation with a KV cache: greedy or temperature/top-p sampling from a
//! seeded generator, stopping at the model's stop ids or the token budget; the first
//! step's log-probabilities are kept for inspection and parity checks.

use std::time::Instant;

use burn::tensor::{Int, Tensor, TensorData};
use serde::Serialize;
use steprl_core::SplitMix;
use steprl_core::seeds::stream;

use crate::error::{LmError, Result};
use crate::load::LanguageModel;
use crate::model::KvCache;

/// How the next token is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampling {
    /// The most likely token.
    Greedy,
    /// Sample from softmax(logits / temperature) restricted to the top-p nucleus.
    Sample {
        /// Temperature (> 0).
        temperature: f32,
        /// Nucleus mass in (0, 1].
        top_p: f32,
    },
}

/// Generation settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenerateOptions {
    /// Token choice.
    pub sampling: Sampling,
    /// Most new tokens.
    pub max_tokens: usize,
    /// Seed of the sampling generator.
    pub seed: u64,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// A stop token was produced (it is the last id).
    Stop,
    /// `max_tokens` were produced.
    MaxTokens,
    /// The model's context length was reached.
    ContextFull,
}

/// A finished generation.
#[derive(Debug, Clone, Serialize)]
pub struct Generation {
    /// The prompt's ids.
    pub prompt_ids: Vec<u32>,
    /// The generated ids (a stop token included when one ended generation).
    pub ids: Vec<u32>,
    /// The generated text, special tokens left out.
    pub text: String,
    /// The 5 most likely first tokens as `(id, log-prob)`.
    pub top_logprobs: Vec<(u32, f32)>,
    /// Why it stopped.
    pub stop: StopReason,
    /// Seconds spent on the prompt (prefill).
    pub prompt_seconds: f64,
    /// Seconds spent producing the new tokens after the first.
    pub decode_seconds: f64,
}

/// `log_softmax` of a logit row, accumulated in f64.
pub fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&x| (x as f64 - max).exp()).sum();
    let lse = max + sum.ln();
    logits.iter().map(|&x| (x as f64 - lse) as f32).collect()
}

/// The `k` largest entries as `(index, value)`, largest first (ties: lower index first).
pub fn top_k(values: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut idx: Vec<u32> = (0..values.len() as u32).collect();
    idx.sort_by(|&a, &b| {
        values[b as usize]
            .total_cmp(&values[a as usize])
            .then(a.cmp(&b))
    });
    idx.into_iter()
        .take(k)
        .map(|i| (i, values[i as usize]))
        .collect()
}

fn choose(logits: &[f32], sampling: Sampling, rng: &mut SplitMix) -> u32 {
    match sampling {
        Sampling::Greedy => top_k(logits, 1)[0].0,
        Sampling::Sample { temperature, top_p } => {
            let scaled: Vec<f32> = logits.iter().map(|x| x / temperature).collect();
            let lp = log_softmax(&scaled);
            let mut order: Vec<(u32, f64)> = lp
                .iter()
                .enumerate()
                .map(|(i, l)| (i as u32, (*l as f64).exp()))
                .collect();
            order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let mut kept = Vec::new();
            let mut mass = 0.0;
            for (id, p) in order {
                kept.push((id, p));
                mass += p;
                if mass >= top_p as f64 {
                    break;
                }
            }
            let mut u = rng.unit() * mass;
            for (id, p) in &kept {
                if u < *p {
                    return *id;
                }
                u -= p;
            }
            kept.last().map_or(0, |k| k.0)
        }
    }
}

impl LanguageModel {
    fn ids_tensor(&self, ids: &[u32]) -> Tensor<2, Int> {
        let v: Vec<i32> = ids.iter().map(|&i| i as i32).collect();
        Tensor::from_data(TensorData::new(v, [1, ids.len()]), &self.device)
    }

    fn row(&self, t: Tensor<2>) -> Result<Vec<f32>> {
        t.into_data()
            .try_to_vec::<f32>()
            .map_err(|e| LmError::Tensor(format!("{e:?}")))
    }

    fn check_prompt(&self, prompt_ids: &[u32]) -> Result<()> {
        if prompt_ids.is_empty() {
            return Err(LmError::BadRequest("the prompt has no tokens".into()));
        }
        let ctx = self.config.max_position_embeddings;
        if prompt_ids.len() >= ctx {
            return Err(LmError::BadRequest(format!(
                "the prompt has {} tokens; the model's context is {ctx}",
                prompt_ids.len()
            )));
        }
        if let Some(bad) = prompt_ids
            .iter()
            .find(|&&i| i as usize >= self.config.vocab_size)
        {
            return Err(LmError::BadRequest(format!(
                "token id {bad} is outside the vocabulary ({} ids)",
                self.config.vocab_size
            )));
        }
        Ok(())
    }

    /// Log-probabilities of every token as the continuation of `prompt_ids`.
    pub fn next_logprobs(&self, prompt_ids: &[u32]) -> Result<Vec<f32>> {
        self.check_prompt(prompt_ids)?;
        let logits = self.net.last_logits(self.ids_tensor(prompt_ids), None);
        Ok(log_softmax(&self.row(logits)?))
    }

    /// Generate from `prompt_ids`; `on_token` sees each new id as it is chosen.
    pub fn generate(
        &self,
        prompt_ids: &[u32],
        opts: &GenerateOptions,
        mut on_token: impl FnMut(u32),
    ) -> Result<Generation> {
        self.check_prompt(prompt_ids)?;
        if let Sampling::Sample { temperature, top_p } = opts.sampling
            && (temperature.is_nan()
                || temperature <= 0.0
                || top_p.is_nan()
                || top_p <= 0.0
                || top_p > 1.0)
        {
            return Err(LmError::BadRequest(format!(
                "temperature must be > 0 and top-p in (0, 1]; got temperature {temperature}, top-p {top_p}"
            )));
        }
        let mut rng = SplitMix::new(opts.seed, stream::GENERATION);
        let mut cache = KvCache::new();
        let t0 = Instant::now();
        let logits = self.row(
            self.net
                .last_logits(self.ids_tensor(prompt_ids), Some(&mut cache)),
        )?;
        let prompt_seconds = t0.elapsed().as_secs_f64();
        let top_logprobs = top_k(&log_softmax(&logits), 5);
        let t1 = Instant::now();
        let mut ids = Vec::new();
        let mut logits = logits;
        let stop = loop {
            if ids.len() >= opts.max_tokens {
                break StopReason::MaxTokens;
            }
            let next = choose(&logits, opts.sampling, &mut rng);
            ids.push(next);
            on_token(next);
            if self.stop_ids.contains(&next) {
                break StopReason::Stop;
            }
            if ids.len() >= opts.max_tokens {
                break StopReason::MaxTokens;
            }
            if cache.len() + 1 >= self.config.max_position_embeddings {
                break StopReason::ContextFull;
            }
            logits = self.row(
                self.net
                    .last_logits(self.ids_tensor(&[next]), Some(&mut cache)),
            )?;
        };
        let decode_seconds = t1.elapsed().as_secs_f64();
        let text = self.tokenizer.decode(&ids, true)?;
        Ok(Generation {
            prompt_ids: prompt_ids.to_vec(),
            ids,
            text,
            top_logprobs,
            stop,
            prompt_seconds,
            decode_seconds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_softmax_normalizes_and_top_k_orders() {
        let lp = log_softmax(&[1.0, 2.0, 3.0]);
        let total: f64 = lp.iter().map(|&l| (l as f64).exp()).sum();
        assert!((total - 1.0).abs() < 1e-6);
        assert_eq!(
            top_k(&lp, 2).iter().map(|p| p.0).collect::<Vec<_>>(),
            vec![2, 1]
        );
    }

    #[test]
    fn a_tiny_nucleus_is_greedy_and_sampling_follows_the_seed() {
        let logits = [0.0, 5.0, 4.9, -1.0];
        let mut rng = SplitMix::new(1, 0);
        for _ in 0..20 {
            assert_eq!(
                choose(
                    &logits,
                    Sampling::Sample {
                        temperature: 1.0,
                        top_p: 0.01
                    },
                    &mut rng
                ),
                1
            );
        }
        let draws = |seed| {
            let mut rng = SplitMix::new(seed, 0);
            (0..50)
                .map(|_| {
                    choose(
                        &logits,
                        Sampling::Sample {
                            temperature: 1.0,
                            top_p: 1.0,
                        },
                        &mut rng,
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(3), draws(3));
        let d = draws(3);
        assert!(
            d.contains(&1) && d.contains(&2),
            "both likely tokens are drawn: {d:?}"
        );
    }
}

//! `steprl export`: a language-model run's LoRA adapters merged into its base model and
//! written as a Hugging Face directory.

use anyhow::{Context, bail};
use steprl_learner::PolicyKind;
use steprl_learner::lm_base::{model_sha256, trained_changes};
use steprl_train::RunConfig;

use super::train::{checkpoint_config, run_and_checkpoint};
use crate::args::ExportArgs;

pub fn export(a: &ExportArgs) -> anyhow::Result<bool> {
    let (run_dir, checkpoint) = run_and_checkpoint(&a.checkpoint)?;
    let config = checkpoint_config(&run_dir, &checkpoint);
    let cfg = RunConfig::load(&config)?;
    if cfg.policy.kind != PolicyKind::Lm {
        bail!(
            "{}: policy.kind is {:?}; export writes a language-model policy (policy.kind = \"lm\") merged with its adapters",
            config.display(),
            cfg.policy.kind
        );
    }
    let model = cfg
        .policy
        .model
        .as_deref()
        .context("the run's config names no policy.model")?;
    let base_json = checkpoint.join("base.json");
    let text = std::fs::read_to_string(&base_json)
        .with_context(|| format!("reading {}", base_json.display()))?;
    let base: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", base_json.display()))?;
    let trained_on = base["sha256"].as_str().unwrap_or_default();
    eprintln!("checking the base model {} ...", model.display());
    let sha = model_sha256(model)?;
    if sha != trained_on {
        bail!(
            "{}: the adapters were trained on a base model with SHA-256 {trained_on}, but {} has SHA-256 {sha}; export needs the same base model",
            base_json.display(),
            model.display()
        );
    }
    let lora = cfg.policy.lora();
    let changes = trained_changes(&checkpoint, &lora)?;
    let what = if lora.full {
        "fine-tuned weights"
    } else {
        "merged adapters"
    };
    eprintln!(
        "writing {} {what} of {} into {} ...",
        changes.len(),
        checkpoint.display(),
        model.display()
    );
    let e = steprl_lm::export::export_hf(model, &a.out, &changes)?;
    println!(
        "wrote {}: {} tensors ({} with {what}), {} parameters, f32",
        e.dir.display(),
        e.tensors,
        e.merged,
        e.parameters
    );
    println!(
        "load it with `steprl model inspect {0}` or transformers' AutoModelForCausalLM.from_pretrained(\"{0}\")",
        e.dir.display()
    );
    Ok(true)
}

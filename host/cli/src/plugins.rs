//! Loading a run's three plugins into the sandbox, each checked against its kind, with
//! the run's limits and seeds; errors name the config section.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use steprl_core::seeds::{self, PluginRole};
use steprl_core::{Environment, RewardChecker, scorable};
use steprl_sandbox::{
    DirGrant, Grants, Limits, PluginKind, PluginOptions, Sandbox, WasmEnvironment, WasmResampler,
    WasmRewardChecker,
};
use steprl_train::config::{GrantsSection, LimitsSection, PluginSection};
use steprl_train::{Plugins, RunConfig};

/// Sandbox limits from the `[limits]` table.
pub fn limits(l: &LimitsSection) -> Limits {
    Limits {
        init: Duration::from_millis(l.init_ms),
        env_reset: Duration::from_millis(l.env_reset_ms),
        env_step: Duration::from_millis(l.env_step_ms),
        check: Duration::from_millis(l.check_ms),
        plan: Duration::from_millis(l.plan_ms),
        memory_bytes: l.memory_mib * 1024 * 1024,
        fuel_per_call: None,
    }
}

/// Plugin options for one `[section]`; `role` gives each plugin its own seed.
pub fn options(cfg: &RunConfig, section: &PluginSection, role: PluginRole) -> PluginOptions {
    PluginOptions {
        config_json: RunConfig::plugin_json(section),
        seed: seeds::plugin(cfg.seed, role),
        limits: limits(&cfg.limits),
        grants: grants(&section.grants),
    }
}

/// Sandbox grants from a plugin's `grants` table.
pub fn grants(g: &GrantsSection) -> Grants {
    Grants {
        http: g.http.clone(),
        http_timeout: Duration::from_millis(g.http_timeout_ms),
        http_max_response_bytes: g.http_max_response_mib * 1024 * 1024,
        read_dirs: g
            .read_dirs
            .iter()
            .map(|(guest, host)| DirGrant {
                host: host.clone(),
                guest: guest.clone(),
            })
            .collect(),
    }
}

/// `env` with the tasks `checker` says it cannot judge marked unsupported (so training
/// and evaluation leave them out), and one line on stderr saying which and why.
pub async fn scorable(
    env: Arc<dyn Environment>,
    checker: &mut dyn RewardChecker,
) -> Arc<dyn Environment> {
    let excluded = scorable::unscorable(checker, &env.info().tasks).await;
    match scorable::summary(checker.name(), &excluded) {
        None => env,
        Some(line) => {
            eprintln!("{line}");
            Arc::new(scorable::Scorable::new(env, &excluded))
        }
    }
}

/// The plugin file of a config's or flag's plugin reference (a path, or a name found
/// on the plugin search path).
fn resolve(reference: &Path) -> anyhow::Result<std::path::PathBuf> {
    Ok(steprl_train::plugin_path::resolve(reference)?)
}

/// Load the three plugins of a run, each checked against its kind, with clear errors
/// naming the config key.
pub async fn plugins(
    sandbox: &Sandbox,
    cfg: &RunConfig,
    env_override: Option<&Path>,
    checker_override: Option<&Path>,
) -> anyhow::Result<Plugins> {
    let env_path = env_override.unwrap_or(&cfg.env.plugin);
    let env = sandbox
        .load(&resolve(env_path)?)
        .context("loading [env] plugin")?;
    env.expect_kind(PluginKind::Environment)
        .context("[env] plugin")?;
    let env = WasmEnvironment::new(sandbox, &env, options(cfg, &cfg.env, PluginRole::Env)).await?;
    let checker_path = checker_override.unwrap_or(&cfg.checker.plugin);
    let checker = sandbox
        .load(&resolve(checker_path)?)
        .context("loading [checker] plugin")?;
    checker
        .expect_kind(PluginKind::RewardChecker)
        .context("[checker] plugin")?;
    let mut checker = WasmRewardChecker::new(
        sandbox,
        &checker,
        options(cfg, &cfg.checker, PluginRole::Checker),
    )
    .await?;
    let env = scorable(Arc::new(env), &mut checker).await;
    let resampler = sandbox
        .load(&resolve(&cfg.resampler.plugin)?)
        .context("loading [resampler] plugin")?;
    resampler
        .expect_kind(PluginKind::Resampler)
        .context("[resampler] plugin")?;
    let resampler = WasmResampler::new(
        sandbox,
        &resampler,
        options(cfg, &cfg.resampler, PluginRole::Resampler),
    )
    .await?;
    Ok(Plugins {
        env,
        checker: Box::new(checker),
        resampler: Box::new(resampler),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config without `[limits]` runs plugins under exactly the sandbox's defaults.
    #[test]
    fn the_default_limits_table_gives_the_sandbox_defaults() {
        assert_eq!(limits(&LimitsSection::default()), Limits::default());
    }
}

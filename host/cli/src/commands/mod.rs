//! The commands: each turns parsed arguments into work and terminal output.

mod compare;
mod export;
mod model;
mod new;
mod play;
mod plugin;
mod tasks;
mod train;

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use steprl_sandbox::{
    DirGrant, Grants, Limits, LoadedPlugin, PluginOptions, Sandbox, SandboxConfig,
    default_cache_dir,
};

use crate::args::GrantArgs;

use crate::args::{Cli, Command, Global, ModelCommand, PluginCommand};

/// Run the parsed command. `Ok(false)` means the command ran but found problems (e.g.
/// conformance violations): the process should exit non-zero.
pub async fn run(cli: Cli) -> anyhow::Result<bool> {
    // Language-model commands need no WebAssembly sandbox.
    if let Command::Model(m) = &cli.command {
        return match m {
            ModelCommand::Inspect(a) => model::inspect(a),
            ModelCommand::Generate(a) => model::generate(a),
        };
    }
    if let Command::Export(a) = &cli.command {
        return export::export(a);
    }
    let sandbox = sandbox(&cli.global)?;
    match cli.command {
        Command::Plugin(PluginCommand::Inspect(a)) => plugin::inspect(&sandbox, &a).await,
        Command::Plugin(PluginCommand::Check(a)) => plugin::check(&sandbox, &a, &cli.global).await,
        Command::Plugin(PluginCommand::List) => plugin::list(&sandbox),
        Command::Plugin(PluginCommand::New(a)) => new::new(&a),
        Command::Tasks(a) => tasks::tasks(&sandbox, &a).await,
        Command::Play(a) => play::play(&sandbox, &a).await,
        Command::Train(a) => train::train(&sandbox, &a).await,
        Command::Resume(a) => train::resume(&sandbox, &a).await,
        Command::Eval(a) => train::eval(&sandbox, &a).await,
        Command::Compare(a) => compare::compare(&sandbox, &a).await,
        Command::Report(a) => compare::report(&a),
        Command::Model(_) | Command::Export(_) => unreachable!("handled above"),
    }
}

fn sandbox(global: &Global) -> anyhow::Result<Sandbox> {
    let cache_dir = if global.no_cache {
        None
    } else {
        global.cache_dir.clone().or_else(default_cache_dir)
    };
    Sandbox::new(SandboxConfig {
        cache_dir,
        ..SandboxConfig::default()
    })
    .map_err(|e| anyhow::anyhow!("{e:#}"))
    .context("could not start the WebAssembly sandbox")
}

/// Tell `env` that this command is done with it (its `lifecycle.shutdown`, for an
/// adapter that releases something outside the sandbox); a failure is a warning.
pub(crate) async fn shut_down(env: &dyn steprl_core::Environment) {
    if let Err(e) = env.shutdown().await {
        eprintln!("warning: {e}");
    }
}

/// Load a plugin file with a clear error naming it.
/// `file` may be a plugin name (`uisim`), found on the plugin search path.
fn load(sandbox: &Sandbox, file: &Path) -> anyhow::Result<LoadedPlugin> {
    let file = steprl_train::plugin_path::resolve(file)?;
    Ok(sandbox.load(&file)?)
}

/// An environment plugin from the command line: loaded, checked to be an environment,
/// initialized with `--config` and the `--grant-*` flags.
async fn environment(
    sandbox: &Sandbox,
    file: &Path,
    config: &str,
    grants: &GrantArgs,
) -> anyhow::Result<steprl_sandbox::WasmEnvironment> {
    let plugin = load(sandbox, file)?;
    plugin.expect_kind(steprl_sandbox::PluginKind::Environment)?;
    Ok(steprl_sandbox::WasmEnvironment::new(
        sandbox,
        &plugin,
        options(config, "--config", 0, grants)?,
    )
    .await?)
}

/// A reward checker from the command line: loaded, checked to be a checker,
/// initialized with `config` (the `--checker-config` flag) and the `--grant-*` flags.
async fn checker(
    sandbox: &Sandbox,
    file: &Path,
    config: &str,
    grants: &GrantArgs,
) -> anyhow::Result<steprl_sandbox::WasmRewardChecker> {
    let plugin = load(sandbox, file)?;
    plugin.expect_kind(steprl_sandbox::PluginKind::RewardChecker)?;
    Ok(steprl_sandbox::WasmRewardChecker::new(
        sandbox,
        &plugin,
        options(config, "--checker-config", 0, grants)?,
    )
    .await?)
}

/// Plugin options from a `--config` JSON string, validated as a JSON object, and the
/// `--grant-*` flags.
fn options(
    config: &str,
    flag: &str,
    seed: u64,
    grants: &GrantArgs,
) -> anyhow::Result<PluginOptions> {
    let mut dirs = Vec::new();
    for d in &grants.dirs {
        let Some((guest, host)) = d.split_once('=') else {
            anyhow::bail!("--grant-dir `{d}` must be GUEST=DIR, like `/tasks=osworld/tasks`");
        };
        dirs.push(DirGrant {
            host: host.into(),
            guest: guest.to_owned(),
        });
    }
    let ms = |flag: Option<u64>, default: Duration| flag.map_or(default, Duration::from_millis);
    let d = Grants::default();
    let l = Limits::default();
    let limits = Limits {
        init: ms(grants.init_ms, l.init),
        env_reset: ms(grants.env_reset_ms, l.env_reset),
        env_step: ms(grants.env_step_ms, l.env_step),
        check: ms(grants.check_ms, l.check),
        memory_bytes: grants.memory_mib.map_or(l.memory_bytes, |m| m << 20),
        ..l
    };
    let grants = Grants {
        http: grants.http.clone(),
        read_dirs: dirs,
        http_timeout: ms(grants.http_timeout_ms, d.http_timeout),
        ..d
    };
    match serde_json::from_str::<serde_json::Value>(config) {
        Ok(serde_json::Value::Object(_)) => Ok(PluginOptions {
            config_json: config.to_owned(),
            seed,
            grants,
            limits,
        }),
        Ok(_) => anyhow::bail!("{flag} must be a JSON object, like '{{\"levels\": [1]}}'"),
        Err(e) => anyhow::bail!("{flag} is not valid JSON: {e}"),
    }
}

/// Whether progress lines should be redrawn in place.
fn interactive() -> bool {
    std::io::stderr().is_terminal()
}

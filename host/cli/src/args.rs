//! Command-line arguments (clap): every command and flag with its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// steprl: train agent policies with STEP, with environments, reward checkers and
/// resampling strategies loaded as sandboxed WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "steprl", version, propagate_version = true)]
pub struct Cli {
    /// Settings shared by every command.
    #[command(flatten)]
    pub global: Global,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
pub struct Global {
    /// More log output (-v: plugin logs and progress details, -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Directory of the compiled-plugin cache [default: $STEPRL_CACHE_DIR, else
    /// ~/.cache/steprl/components].
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile plugins every time instead of using the cache.
    #[arg(long, global = true)]
    pub no_cache: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect and check plugin files.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// List the tasks an environment plugin offers.
    Tasks(TasksArgs),
    /// Run one scripted episode in the sandbox: print every observation's text and the
    /// checker's verdict, and optionally append the episode to a demonstration file.
    /// Validates a suite with an oracle before training; exits 1 when the checker says
    /// the episode failed.
    Play(PlayArgs),
    /// Train a policy with the run config: STEP, T-GRPO or GiGPO against the configured
    /// plugins; prints success before and after, writes metrics and checkpoints.
    Train(TrainArgs),
    /// Continue an interrupted run from its latest checkpoint, exactly as if it had not
    /// stopped.
    Resume(ResumeArgs),
    /// Evaluate a checkpoint: per-task success and the mean.
    Eval(EvalArgs),
    /// Merge a language-model run's LoRA adapters into its base model and write a
    /// Hugging Face directory (config.json, model.safetensors, tokenizer) that
    /// transformers and `steprl model` load.
    Export(ExportArgs),
    /// Run several methods (STEP, T-GRPO, GiGPO, STEP ablations) × seeds from one config
    /// at the same env-step budget, then write plots and a markdown report. Resumable:
    /// rerun the same command to continue.
    Compare(CompareArgs),
    /// Re-render the plots and report.md of a finished (or partial) run or comparison
    /// from its saved metrics alone.
    Report(ReportArgs),
    /// Inspect and run pretrained language models: Hugging Face directories
    /// (config.json + safetensors + tokenizer.json) and GGUF files.
    #[command(subcommand)]
    Model(ModelCommand),
}

/// `steprl model ...`
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Show a model's architecture, parameters, layers, heads, vocabulary, context
    /// length, storage type and whether it has a chat template (reads no weights).
    Inspect(ModelInspectArgs),
    /// Generate text from a prompt with a KV cache, stopping at the model's end-of-text
    /// or end-of-turn token.
    Generate(GenerateArgs),
}

/// Arguments of `steprl model inspect`.
#[derive(Debug, Args)]
pub struct ModelInspectArgs {
    /// A Hugging Face model directory or a .gguf file.
    pub path: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `steprl model generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// A Hugging Face model directory or a .gguf file.
    pub path: PathBuf,
    /// The prompt: sent as one user message through the model's chat template.
    #[arg(long, value_name = "TEXT")]
    pub prompt: String,
    /// Tokenize the prompt as is: no chat template, no BOS.
    #[arg(long)]
    pub raw: bool,
    /// Always take the most likely token.
    #[arg(long, conflicts_with_all = ["temperature", "top_p"])]
    pub greedy: bool,
    /// Sampling temperature (> 0).
    #[arg(long, default_value_t = 0.7, value_name = "T")]
    pub temperature: f32,
    /// Nucleus sampling: draw from the most likely tokens holding this much probability.
    #[arg(long, default_value_t = 0.9, value_name = "P")]
    pub top_p: f32,
    /// Most new tokens.
    #[arg(
        long,
        allow_negative_numbers = true,
        default_value_t = 128,
        value_name = "N"
    )]
    pub max_tokens: usize,
    /// Seed of the sampler.
    #[arg(
        long,
        allow_negative_numbers = true,
        default_value_t = 0,
        value_name = "S"
    )]
    pub seed: u64,
    /// Compute backend: auto (a hardware GPU through wgpu if present, else CPU), cpu, wgpu.
    #[arg(long, default_value = "auto", value_name = "BACKEND")]
    pub backend: steprl_learner::BackendChoice,
    /// Print one JSON object (prompt_ids, ids, text, top_logprobs, stop, timings)
    /// instead of streaming the text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `steprl train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The run config (TOML); see configs/uisim-step.toml.
    pub config: PathBuf,
    /// Run directory for metrics, checkpoints and the resolved config
    /// [default: runs/<config name>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Compute backend: auto (a hardware GPU through wgpu if present, else CPU), cpu, wgpu.
    #[arg(long, default_value = "auto", value_name = "BACKEND")]
    pub backend: steprl_learner::BackendChoice,
    /// Override the config's seed.
    #[arg(long, allow_negative_numbers = true, value_name = "SEED")]
    pub seed: Option<u64>,
    /// Override the config's number of rounds.
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub rounds: Option<u32>,
}

/// Arguments of `steprl compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The base run config: a STEP config whose resampler accepts `adaptive` (the
    /// shipped resample-step plugin); every method is derived from it, changing only
    /// the sampling and advantage settings.
    pub config: PathBuf,
    /// Methods, comma-separated: step, tgrpo, gigpo, step-no-resample, step-no-aug,
    /// step-no-both; `METHOD@RESAMPLER` runs a method planned by another resampler
    /// plugin (a name, found beside the config's resampler or on the plugin search
    /// path, or a path), e.g. `step@resample-progress`.
    #[arg(
        long,
        default_value = "step,tgrpo,gigpo,step-no-resample,step-no-aug,step-no-both",
        value_name = "LIST"
    )]
    pub methods: String,
    /// Seeds per method (the config's seed, seed + 1, ...).
    #[arg(
        long,
        allow_negative_numbers = true,
        default_value_t = 3,
        value_name = "N"
    )]
    pub seeds: u32,
    /// Environment steps per run (every method gets the same).
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub budget_env_steps: u64,
    /// Comparison directory [default: runs/compare-<config name>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Runs in parallel (each on its own thread).
    #[arg(
        long,
        allow_negative_numbers = true,
        default_value_t = 1,
        value_name = "N"
    )]
    pub jobs: usize,
    /// Learning rates to try first, comma-separated (e.g. 3e-4,1e-3,3e-3): every method
    /// trains at each rate with --grid-seeds seeds of its own, and the comparison then
    /// uses each method's best rate by final training success (the report shows the
    /// grid). Without it every method uses the config's `learner.lr`.
    #[arg(long, value_name = "LIST")]
    pub lr_grid: Option<String>,
    /// Seeds per grid cell (seed + 1000, seed + 1001, ...: never the comparison's seeds).
    #[arg(
        long,
        allow_negative_numbers = true,
        default_value_t = 2,
        value_name = "N"
    )]
    pub grid_seeds: u32,
    /// Learning rates per method instead of a grid, e.g.
    /// `step=3e-3,tgrpo=1e-3` (methods not named use the config's `learner.lr`); for
    /// rerunning a comparison with the rates an earlier grid picked.
    #[arg(long, value_name = "METHOD=LR,...", conflicts_with = "lr_grid")]
    pub lr: Option<String>,
    /// Compute backend (as for train).
    #[arg(long, default_value = "auto", value_name = "BACKEND")]
    pub backend: steprl_learner::BackendChoice,
}

/// Arguments of `steprl report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A comparison directory (with compare.json) or a run directory (with
    /// metrics.jsonl).
    pub dir: PathBuf,
}

/// Arguments of `steprl resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run directory `steprl train` wrote.
    pub run_dir: PathBuf,
    /// Swap the run's resampler for this plugin (a path or a name) from the next round
    /// on; the success record carries over. Recorded in the run's config.toml,
    /// config-history.jsonl and each round's metrics (`resampler`)
    #[arg(long, value_name = "FILE")]
    pub resampler: Option<PathBuf>,
    /// The swapped-in resampler's configuration (JSON object; with --resampler)
    #[arg(long, value_name = "JSON", requires = "resampler")]
    pub resampler_config: Option<String>,
    /// Compute backend (as for train).
    #[arg(long, default_value = "auto", value_name = "BACKEND")]
    pub backend: steprl_learner::BackendChoice,
}

/// Arguments of `steprl eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A checkpoint directory (runs/x/checkpoints/round-00010) or a run directory
    /// (its latest checkpoint).
    pub checkpoint: PathBuf,
    /// Environment plugin to evaluate on [default: the run's].
    #[arg(long, value_name = "FILE")]
    pub env: Option<PathBuf>,
    /// Reward checker [default: the run's].
    #[arg(long, value_name = "FILE")]
    pub checker: Option<PathBuf>,
    /// Episodes per task.
    #[arg(
        long,
        allow_negative_numbers = true,
        default_value_t = 4,
        value_name = "N"
    )]
    pub episodes: u32,
    /// Act greedily (most likely action) instead of sampling.
    #[arg(long)]
    pub greedy: bool,
    /// Compute backend (as for train).
    #[arg(long, default_value = "auto", value_name = "BACKEND")]
    pub backend: steprl_learner::BackendChoice,
}

/// Arguments of `steprl export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A checkpoint directory (runs/x/checkpoints/round-00010) or a run directory
    /// (its latest checkpoint).
    pub checkpoint: PathBuf,
    /// The directory to write (created; its model files are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// `steprl plugin ...`
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Show a plugin's kind, WIT version, exports, imports, size and compile time.
    Inspect(InspectArgs),
    /// Run a conformance check: random-policy episodes over every task for
    /// environments, generated calls for reward checkers and resamplers. Exits non-zero
    /// on any violation.
    Check(CheckArgs),
    /// List the plugins that can be named instead of given by path (`uisim`,
    /// `resample-step`): those in the directories of STEPRL_PLUGIN_PATH, then in the
    /// installed plugins' directory (`plugins/build.sh --install`), with kind and WIT
    /// version.
    List,
    /// Write a new plugin project: a minimal but real example of the world in the
    /// language, commented where an author changes it, that builds with one command
    /// (`sh build.sh`) and passes `steprl plugin check` as generated.
    New(NewArgs),
}

/// The world a new plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NewWorld {
    /// An environment (tasks, spaces, episodes).
    Environment,
    /// A reward checker (judges finished episodes).
    RewardChecker,
    /// A resampler (plans each round's rollouts).
    Resampler,
}

/// The language of a new plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NewLang {
    /// Rust, with the `steprl-plugin` SDK (built with cargo for wasm32-wasip2).
    Rust,
    /// Python, with componentize-py.
    Python,
    /// JavaScript, with componentize-js.
    Js,
}

/// Arguments of `steprl plugin new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The plugin's name: lower-case letters, digits and dashes (`my-suite`).
    pub name: String,
    /// The world it implements.
    #[arg(long, value_enum)]
    pub world: NewWorld,
    /// The language it is written in.
    #[arg(long, value_enum)]
    pub lang: NewLang,
    /// Where to write it [default: ./NAME]; must not exist or be empty.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Rust: the steprl checkout's SDK directory (`plugins/sdk-rust`) [default: the one
    /// this steprl was built from].
    #[arg(long, value_name = "DIR")]
    pub sdk: Option<PathBuf>,
}

/// Arguments of `steprl plugin inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The plugin component (.wasm).
    pub file: PathBuf,
    /// Configuration JSON passed to the plugin's `init`.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub config: String,
    /// Grants for the plugin: network and read-only directories.
    #[command(flatten)]
    pub grants: GrantArgs,
}

/// Arguments of `steprl plugin check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The plugin components (.wasm) to check, one after the other.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Random-policy episodes per task (environments).
    #[arg(
        long,
        allow_negative_numbers = true,
        default_value_t = 2,
        value_name = "N"
    )]
    pub episodes: u32,
    /// Base seed of the episodes and generated inputs.
    #[arg(
        long,
        allow_negative_numbers = true,
        default_value_t = 0,
        value_name = "S"
    )]
    pub seed: u64,
    /// Configuration JSON passed to the checked plugins' `init`.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub config: String,
    /// Grants for the checked plugins (and the `--with` plugin): network and read-only directories.
    #[command(flatten)]
    pub grants: GrantArgs,
    /// Environment plugin whose episodes feed a checked reward checker (and the other
    /// way round: a reward checker that judges a checked environment's episodes).
    /// Resamplers ignore it.
    #[arg(long, value_name = "FILE")]
    pub with: Option<PathBuf>,
    /// Configuration JSON for the `--with` plugin.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub with_config: String,
    /// Show every per-task row, not only those with violations.
    #[arg(long)]
    pub all_tasks: bool,
    /// Known solutions to replay through the environment and the reward checker (one of
    /// them checked, the other given with `--with`): JSON lines `{"task", "seed",
    /// "actions"}` as `steprl play --record` and `[warmstart] demos` use; each must end
    /// and be judged a success
    #[arg(long, value_name = "FILE")]
    pub demos: Option<PathBuf>,
    /// Wall-clock cap on the total time of each kind of call (reset, step, check, plan)
    /// over the whole check; past it the check stops with a violation saying so.
    #[arg(long, value_name = "SECS", default_value_t = 600.0, value_parser = positive_secs)]
    pub budget_s: f64,
}

impl CheckArgs {
    /// `--budget-s` as a duration.
    pub fn budget(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.budget_s)
    }
}

/// A positive, finite number of seconds (at most a year).
fn positive_secs(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if v.is_finite() && v > 0.0 && v <= 31_536_000.0 {
        Ok(v)
    } else {
        Err(format!(
            "`{s}`: give a number of seconds above 0 and at most 31536000"
        ))
    }
}

/// Arguments of `steprl tasks`.
#[derive(Debug, Args)]
pub struct TasksArgs {
    /// The environment plugin (.wasm).
    pub file: PathBuf,
    /// Configuration JSON passed to the plugin's `init`.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub config: String,
    /// Grants for the plugin: network and read-only directories.
    #[command(flatten)]
    pub grants: GrantArgs,
    /// Print JSON (one object per task) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// A reward checker (.wasm) to ask which tasks it can judge: the others are
    /// marked UNSCORABLE with its reason (training leaves them out too).
    #[arg(long, value_name = "FILE")]
    pub checker: Option<PathBuf>,
    /// Configuration JSON passed to the checker's `init`.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub checker_config: String,
}

/// `steprl play`.
#[derive(Debug, Args)]
pub struct PlayArgs {
    /// The environment plugin (.wasm).
    pub file: PathBuf,
    /// Task id (see `steprl tasks FILE`).
    #[arg(long)]
    pub task: String,
    /// Environment seed (picks the task's parameters).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    pub seed: u64,
    /// The actions, one per line: a label the environment declares (e.g. `click 3`),
    /// a discrete action index, or `text: ...` for a text action. Blank lines and lines
    /// starting with `#` are skipped. `-` reads standard input.
    #[arg(long, value_name = "FILE|-")]
    pub actions: String,
    /// A reward-checker plugin to judge the episode.
    #[arg(long, value_name = "CHECKER.wasm")]
    pub checker: Option<PathBuf>,
    /// Configuration JSON passed to the environment's `init`.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub config: String,
    /// Configuration JSON passed to the checker's `init`.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub checker_config: String,
    /// Append the episode to this demonstration file (JSON lines: task, seed, actions),
    /// unless the checker judged it a failure.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Grants for the environment (and the checker): network and read-only directories.
    #[command(flatten)]
    pub grants: GrantArgs,
}

/// Capabilities granted to a plugin run from the command line (a run config grants
/// them with `[env.grants]` and the like), and its sandbox limits (a run config's
/// `[limits]`). Nothing is granted by default; limits default as in a run config.
#[derive(Debug, Args, Default, Clone)]
pub struct GrantArgs {
    /// Let the plugin send HTTP requests to HOST:PORT (repeatable), e.g.
    /// `--grant-http 127.0.0.1:5000`.
    #[arg(long = "grant-http", value_name = "HOST:PORT")]
    pub http: Vec<String>,
    /// Let the plugin read the host directory DIR at the guest path GUEST (repeatable),
    /// e.g. `--grant-dir /tasks=osworld/tasks`.
    #[arg(long = "grant-dir", value_name = "GUEST=DIR")]
    pub dirs: Vec<String>,
    /// Cap on one granted HTTP request, in ms (a run config's `grants.http_timeout_ms`;
    /// default 60000).
    #[arg(long, value_name = "MS", value_parser = deadline())]
    pub http_timeout_ms: Option<u64>,
    /// Deadline of `init` and the declaration calls, in ms (`[limits] init_ms`;
    /// default 60000).
    #[arg(long, value_name = "MS", value_parser = deadline())]
    pub init_ms: Option<u64>,
    /// Deadline of an episode's start, reset and final state, in ms (`[limits]
    /// env_reset_ms`; default 30000). Raise it for setups that sleep or open large
    /// files.
    #[arg(long, value_name = "MS", value_parser = deadline())]
    pub env_reset_ms: Option<u64>,
    /// Deadline of one step, in ms (`[limits] env_step_ms`; default 5000).
    #[arg(long, value_name = "MS", value_parser = deadline())]
    pub env_step_ms: Option<u64>,
    /// Deadline of one reward check, in ms (`[limits] check_ms`; default 30000).
    #[arg(long, value_name = "MS", value_parser = deadline())]
    pub check_ms: Option<u64>,
    /// Memory cap of a plugin instance, in MiB (`[limits] memory_mib`; default 256).
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=steprl_train::config::MAX_MEMORY_MIB))]
    pub memory_mib: Option<u64>,
}

/// A deadline flag's parser: milliseconds in the range a run config's `[limits]` takes.
fn deadline() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(1..=steprl_train::config::MAX_DEADLINE_MS)
}

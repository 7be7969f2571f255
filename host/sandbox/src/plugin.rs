//! What a loaded plugin is (kind, exports, compiled component), the options it runs
//! with, and the guarded instance every plugin kind shares: deadlines, fuel, memory
//! cap, and re-creation after a trap.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use steprl_core::{CallError, TrapKind};
use wasmtime::component::types::{ComponentItem, Type};
use wasmtime::component::{Component, InstancePre};
use wasmtime::{Engine, Store, Trap};

use crate::error::LoadError;
use crate::grants::Grants;
use crate::host::{Clocks, HostState};
use crate::limits::{Call, Limits};
use crate::sandbox::Sandbox;
use crate::trap_log::TrapLog;

/// The three plugin kinds, one WIT world each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginKind {
    /// World `environment`, exports `steprl:plugin/env`.
    Environment,
    /// World `reward-checker`, exports `steprl:plugin/check`.
    RewardChecker,
    /// World `resampler`, exports `steprl:plugin/resample`.
    Resampler,
}

impl PluginKind {
    /// The WIT world name.
    pub fn world(self) -> &'static str {
        match self {
            PluginKind::Environment => "environment",
            PluginKind::RewardChecker => "reward-checker",
            PluginKind::Resampler => "resampler",
        }
    }

    /// The exported interface's name without package or version.
    fn interface(self) -> &'static str {
        match self {
            PluginKind::Environment => "env",
            PluginKind::RewardChecker => "check",
            PluginKind::Resampler => "resample",
        }
    }

    /// Classify a component by its exports; also lists them for `inspect`.
    pub(crate) fn detect(
        engine: &Engine,
        component: &Component,
        path: &Path,
    ) -> Result<(PluginKind, Vec<ExportedItem>), LoadError> {
        let ty = component.component_type();
        let mut found = None;
        let mut names = Vec::new();
        let mut items = Vec::new();
        for (name, ext) in ty.exports(engine) {
            names.push(name.to_owned());
            collect_items(engine, name, &ext.ty, &mut items);
            let Some(rest) = name.strip_prefix("steprl:plugin/") else {
                continue;
            };
            let (iface, version) = rest.split_once('@').unwrap_or((rest, ""));
            let Some(kind) = [
                PluginKind::Environment,
                PluginKind::RewardChecker,
                PluginKind::Resampler,
            ]
            .into_iter()
            .find(|k| k.interface() == iface) else {
                continue;
            };
            if version != crate::WIT_VERSION {
                return Err(LoadError::UnsupportedVersion {
                    path: path.to_owned(),
                    found: if version.is_empty() {
                        "(unversioned)".to_owned()
                    } else {
                        version.to_owned()
                    },
                });
            }
            found = Some(kind);
        }
        match found {
            Some(kind) => Ok((kind, items)),
            None => Err(LoadError::NotAPlugin {
                path: path.to_owned(),
                exports: names,
            }),
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PluginKind::Environment => "an environment",
            PluginKind::RewardChecker => "a reward-checker",
            PluginKind::Resampler => "a resampler",
        })
    }
}

/// Names of everything a component imports.
pub(crate) fn imports(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// One exported function or resource, for `steprl plugin inspect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedItem {
    /// `interface#name`, e.g. `steprl:plugin/env@0.1.0#tasks`.
    pub name: String,
    /// `func(a, b) -> 1 result`, or `resource`.
    pub signature: String,
}

fn collect_items(engine: &Engine, prefix: &str, item: &ComponentItem, out: &mut Vec<ExportedItem>) {
    match item {
        ComponentItem::ComponentInstance(inst) => {
            for (name, ext) in inst.exports(engine) {
                collect_items(engine, &format!("{prefix}#{name}"), &ext.ty, out);
            }
        }
        ComponentItem::ComponentFunc(f) => {
            let params: Vec<String> = f
                .params()
                .map(|(n, t)| format!("{n}: {}", type_name(&t)))
                .collect();
            let results: Vec<String> = f.results().map(|t| type_name(&t)).collect();
            out.push(ExportedItem {
                name: prefix.to_owned(),
                signature: format!(
                    "func({}){}",
                    params.join(", "),
                    if results.is_empty() {
                        String::new()
                    } else {
                        format!(" -> {}", results.join(", "))
                    }
                ),
            });
        }
        ComponentItem::Resource(_) => out.push(ExportedItem {
            name: prefix.to_owned(),
            signature: "resource".to_owned(),
        }),
        _ => {}
    }
}

/// A short WIT-like name of a component value type (nominal types by kind only).
fn type_name(t: &Type) -> String {
    match t {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(l) => format!("list<{}>", type_name(&l.ty())),
        Type::Option(o) => format!("option<{}>", type_name(&o.ty())),
        Type::Result(r) => format!(
            "result<{}, …>",
            r.ok().map(|t| type_name(&t)).unwrap_or_else(|| "_".into())
        ),
        Type::Record(_) => "record".into(),
        Type::Tuple(_) => "tuple".into(),
        Type::Variant(_) => "variant".into(),
        Type::Enum(_) => "enum".into(),
        Type::Flags(_) => "flags".into(),
        Type::Own(_) => "own<resource>".into(),
        Type::Borrow(_) => "borrow<resource>".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// A compiled, classified plugin file; instantiate it with the sandbox.
#[derive(Clone)]
pub struct LoadedPlugin {
    /// Name used in logs and errors (the file stem unless overridden).
    pub name: String,
    /// Where it came from.
    pub path: PathBuf,
    /// Which world it implements.
    pub kind: PluginKind,
    /// Size of the `.wasm` file.
    pub size_bytes: u64,
    /// Time to compile, or to load from the compile cache.
    pub compile_time: Duration,
    /// Whether the compiled artifact came from the cache.
    pub from_cache: bool,
    /// Exported functions and resources.
    pub exports: Vec<ExportedItem>,
    /// Imported interfaces (what the plugin asks the host for).
    pub imports: Vec<String>,
    pub(crate) component: Component,
}

impl LoadedPlugin {
    /// Check that the plugin is of `expected` kind.
    pub fn expect_kind(&self, expected: PluginKind) -> Result<(), LoadError> {
        if self.kind == expected {
            Ok(())
        } else {
            Err(LoadError::WrongKind {
                path: self.path.clone(),
                found: self.kind,
                expected,
            })
        }
    }

    /// Rename the plugin (the name appears in every log line and error).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
}

/// How one plugin runs.
#[derive(Debug, Clone)]
pub struct PluginOptions {
    /// The plugin's configuration as JSON, passed to `init`.
    pub config_json: String,
    /// Seeds the plugin's WASI randomness (each instance gets a derived seed).
    pub seed: u64,
    /// Deadlines, memory cap, fuel.
    pub limits: Limits,
    /// Network and directory access beyond the deny-by-default sandbox (none by default).
    pub grants: Grants,
}

impl Default for PluginOptions {
    fn default() -> Self {
        PluginOptions {
            config_json: "{}".to_owned(),
            seed: 0,
            limits: Limits::default(),
            grants: Grants::default(),
        }
    }
}

/// Per-kind glue for [`Guarded`]: how to instantiate the world's bindings and call
/// its `init`.
pub(crate) trait World: Send + Sync + 'static {
    type Bindings: Send + Sync + 'static;
    type Pre: Send + Sync + 'static;

    const KIND: PluginKind;
    const CLOCKS: Clocks;

    fn pre(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre>;

    fn instantiate(
        pre: &Self::Pre,
        store: &mut Store<HostState>,
    ) -> impl Future<Output = wasmtime::Result<Self::Bindings>> + Send;

    fn init(
        bindings: &Self::Bindings,
        store: &mut Store<HostState>,
        config_json: &str,
    ) -> impl Future<Output = wasmtime::Result<Result<(), steprl_core::GuestError>>> + Send;
}

/// What every instance of one plugin shares.
pub(crate) struct Shared<W: World> {
    pub(crate) name: Arc<str>,
    pub(crate) sandbox: Sandbox,
    pub(crate) pre: W::Pre,
    pub(crate) options: PluginOptions,
    /// The normalized network grant.
    allowed: Arc<[String]>,
    /// Traps seen, so each distinct one's backtrace is logged once.
    traps: TrapLog,
}

/// The first line of a wasm backtrace's text.
const BACKTRACE_HEADER: &str = "error while executing at wasm backtrace:";

impl<W: World> Drop for Shared<W> {
    fn drop(&mut self) {
        for line in self.traps.repeats() {
            tracing::warn!("plugin `{}`, {line}", self.name);
        }
    }
}

impl<W: World> Shared<W> {
    /// Check the grants and type-check the plugin against its world once
    /// (`InstancePre`). `wasi:http` is linked only when the grants name a destination.
    pub(crate) fn new(
        sandbox: &Sandbox,
        plugin: &LoadedPlugin,
        options: PluginOptions,
    ) -> Result<Self, LoadError> {
        plugin.expect_kind(W::KIND)?;
        let allowed = options
            .grants
            .validate()
            .map_err(|source| LoadError::Grant {
                plugin: plugin.name.clone(),
                source,
            })?;
        let wants_http = plugin.imports.iter().any(|i| i.starts_with("wasi:http/"));
        if wants_http && allowed.is_empty() {
            return Err(LoadError::NetworkNotGranted {
                plugin: plugin.name.clone(),
                path: plugin.path.clone(),
            });
        }
        let link_err = |e: wasmtime::Error| LoadError::Link {
            path: plugin.path.clone(),
            message: format!("{e:#}"),
        };
        let linker = if allowed.is_empty() {
            &sandbox.inner.linker
        } else {
            &sandbox.inner.http_linker
        };
        let pre = linker
            .instantiate_pre(&plugin.component)
            .map_err(link_err)?;
        let pre = W::pre(pre).map_err(link_err)?;
        Ok(Shared {
            name: Arc::from(plugin.name.as_str()),
            sandbox: sandbox.clone(),
            pre,
            options,
            allowed: allowed.into(),
            traps: TrapLog::default(),
        })
    }

    pub(crate) fn trap(&self, call: Call, err: wasmtime::Error, memory_denied: bool) -> CallError {
        let kind = match err.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => {
                let (limit, key) = call.deadline(&self.options.limits);
                TrapKind::Deadline { limit, key }
            }
            Some(Trap::OutOfFuel) => TrapKind::Fuel {
                limit: self.options.limits.fuel_per_call.unwrap_or(0),
            },
            Some(Trap::StackOverflow) => TrapKind::StackOverflow,
            _ if memory_denied => TrapKind::Memory {
                limit_bytes: self.options.limits.memory_bytes,
            },
            trap => {
                // The error's one-line reason; its wasm backtrace is logged once per
                // distinct trap (see `trap_log`), never repeated in every message.
                let message = match trap {
                    Some(t) => t.to_string(),
                    None => err
                        .chain()
                        .map(ToString::to_string)
                        .filter(|m| !m.starts_with(BACKTRACE_HEADER))
                        .collect::<Vec<_>>()
                        .join(": "),
                };
                if let Some(bt) = err.downcast_ref::<wasmtime::WasmBacktrace>() {
                    let text = bt.to_string();
                    let frames = text.strip_prefix(BACKTRACE_HEADER).unwrap_or(&text);
                    if let Some(line) = self.traps.record(call.name(), &message, frames) {
                        tracing::warn!("plugin `{}`, {line}", self.name);
                    }
                }
                TrapKind::Guest(message)
            }
        };
        CallError::Trap {
            plugin: self.name.to_string(),
            call: call.name(),
            kind,
        }
    }
}

/// A live instance: its store and bindings.
pub(crate) struct Live<W: World> {
    pub(crate) store: Store<HostState>,
    pub(crate) bindings: W::Bindings,
}

/// One plugin instance under guard: it is created lazily, every call runs under the
/// call's deadline (and fuel), and a trap drops it so the next call gets a fresh one.
pub(crate) struct Guarded<W: World> {
    pub(crate) shared: Arc<Shared<W>>,
    live: Option<Live<W>>,
    /// Bumped whenever the instance is dropped; lets callers detect lost state.
    pub(crate) generation: u32,
    /// Which instance this is among its siblings (seeds its randomness).
    index: u64,
}

impl<W: World> Guarded<W> {
    pub(crate) fn new(shared: Arc<Shared<W>>, index: u64) -> Self {
        Guarded {
            shared,
            live: None,
            generation: 0,
            index,
        }
    }

    /// Whether an instance currently exists.
    pub(crate) fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// The live instance, creating and initializing one if needed.
    pub(crate) async fn live(&mut self) -> Result<&mut Live<W>, CallError> {
        if self.live.is_none() {
            let live = self.create().await?;
            self.live = Some(live);
        }
        Ok(self.live.as_mut().expect("just created"))
    }

    async fn create(&mut self) -> Result<Live<W>, CallError> {
        let shared = &self.shared;
        let seed = mix(shared.options.seed, self.index, u64::from(self.generation));
        let state = HostState::new(
            shared.name.clone(),
            seed,
            shared.options.limits.memory_bytes,
            W::CLOCKS,
            &shared.options.grants,
            shared.allowed.clone(),
        )
        .map_err(|e| CallError::Host {
            plugin: shared.name.to_string(),
            call: "instantiate",
            message: format!("{e:#}"),
        })?;
        let mut store = Store::new(&shared.sandbox.inner.engine, state);
        store.limiter(|s| &mut s.limiter);
        let tick = shared.sandbox.epoch_tick();
        store.epoch_deadline_callback(move |ctx| Ok(crate::host::on_epoch(ctx.data(), tick)));
        arm(&mut store, Call::Init, shared);
        let bindings = match W::instantiate(&shared.pre, &mut store).await {
            Ok(b) => b,
            Err(e) => {
                let denied = store.data().limiter.denied;
                self.generation += 1;
                return Err(if e.downcast_ref::<Trap>().is_some() || denied {
                    shared.trap(Call::Init, e, denied)
                } else {
                    CallError::Host {
                        plugin: shared.name.to_string(),
                        call: "instantiate",
                        message: format!("{e:#}"),
                    }
                });
            }
        };
        arm(&mut store, Call::Init, shared);
        match W::init(&bindings, &mut store, &shared.options.config_json).await {
            Ok(Ok(())) => Ok(Live { store, bindings }),
            Ok(Err(error)) => {
                self.generation += 1;
                Err(CallError::Guest {
                    plugin: shared.name.to_string(),
                    call: Call::Init.name(),
                    error,
                })
            }
            Err(e) => {
                let denied = store.data().limiter.denied;
                self.generation += 1;
                Err(shared.trap(Call::Init, e, denied))
            }
        }
    }

    /// Prepare the live instance for `call` (deadline, fuel, limiter flag) and hand it
    /// out. The caller runs the call and passes the outcome to [`Guarded::finish`].
    pub(crate) async fn begin(&mut self, call: Call) -> Result<&mut Live<W>, CallError> {
        let shared = self.shared.clone();
        let live = self.live().await?;
        arm(&mut live.store, call, &shared);
        Ok(live)
    }

    /// Turn a wasmtime outcome into a `CallError`; on any trap the instance is dropped.
    pub(crate) fn finish<T>(
        &mut self,
        call: Call,
        outcome: wasmtime::Result<Result<T, steprl_core::GuestError>>,
    ) -> Result<T, CallError> {
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(error)) => Err(CallError::Guest {
                plugin: self.shared.name.to_string(),
                call: call.name(),
                error,
            }),
            Err(e) => Err(self.fail(call, e)),
        }
    }

    /// Drop the instance after a trap and describe the trap.
    pub(crate) fn fail(&mut self, call: Call, e: wasmtime::Error) -> CallError {
        let denied = self
            .live
            .as_ref()
            .map(|l| l.store.data().limiter.denied)
            .unwrap_or(false);
        self.live = None;
        self.generation += 1;
        let err = self.shared.trap(call, e, denied);
        tracing::warn!("{err}");
        err
    }
}

/// Set the deadline (and fuel) of the next call and clear the memory flag.
fn arm<W: World>(store: &mut Store<HostState>, call: Call, shared: &Shared<W>) {
    let (deadline, _) = call.deadline(&shared.options.limits);
    // The first slice ends within SLICE_TICKS epochs (or at the deadline, when that is
    // sooner); `host::on_epoch` then yields or traps.
    store.data_mut().deadline_at = Some(std::time::Instant::now() + deadline);
    let to_deadline = shared.sandbox.epoch_deadline_delta(deadline);
    store.set_epoch_deadline(to_deadline.min(crate::host::SLICE_TICKS));
    if shared.sandbox.inner.config.fuel
        && let Some(f) = shared.options.limits.fuel_per_call
    {
        // Setting fuel only fails when metering is off, which the check above excludes.
        let _ = store.set_fuel(f);
    } else if shared.sandbox.inner.config.fuel {
        let _ = store.set_fuel(u64::MAX);
    }
    store.data_mut().limiter.denied = false;
}

/// SplitMix64-style mixing of a run seed with instance coordinates.
fn mix(seed: u64, a: u64, b: u64) -> u64 {
    let mut z =
        seed ^ a.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ b.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

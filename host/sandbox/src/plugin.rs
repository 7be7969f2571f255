//! The options a plugin runs with, and the guarded instance every plugin kind shares:
//! deadlines, fuel, memory cap, and re-creation after a trap.

use std::sync::Arc;

use steprl_core::{CallError, TrapKind};
use wasmtime::component::InstancePre;
use wasmtime::{Store, Trap};

use crate::error::LoadError;
use crate::grants::Grants;
use crate::host::{Clocks, HostState};
use crate::kind::PluginKind;
use crate::limits::{Call, Limits};
use crate::loaded::LoadedPlugin;
use crate::sandbox::Sandbox;
use crate::trap_log::TrapLog;

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
    /// Instances started so far (each one ran `init`).
    pub(crate) started: std::sync::atomic::AtomicU64,
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
        if let Some(pool) = sandbox.instance_pool()
            && options.limits.memory_bytes > pool.memory_bytes
        {
            return Err(LoadError::MemoryOverPool {
                plugin: plugin.name.clone(),
                limit_mib: options.limits.memory_bytes.div_ceil(1 << 20),
                slot_mib: pool.memory_bytes >> 20,
            });
        }
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
            started: std::sync::atomic::AtomicU64::new(0),
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

/// The [`World`] glue of a world whose bindings are one exported interface with an
/// `init` (the reward checker's and the resampler's): `single_interface_world!(Name,
/// Bindings, BindingsPre, kind, interface accessor)`.
macro_rules! single_interface_world {
    ($world:ident, $bindings:ty, $pre:ident, $kind:expr, $iface:ident) => {
        pub(crate) struct $world;

        impl $crate::plugin::World for $world {
            type Bindings = $bindings;
            type Pre = $pre<$crate::host::HostState>;
            const KIND: $crate::kind::PluginKind = $kind;
            const CLOCKS: $crate::host::Clocks = $crate::host::Clocks::Virtual;

            fn pre(
                pre: wasmtime::component::InstancePre<$crate::host::HostState>,
            ) -> wasmtime::Result<Self::Pre> {
                $pre::new(pre)
            }

            async fn instantiate(
                pre: &Self::Pre,
                store: &mut wasmtime::Store<$crate::host::HostState>,
            ) -> wasmtime::Result<$bindings> {
                pre.instantiate_async(store).await
            }

            async fn init(
                b: &$bindings,
                store: &mut wasmtime::Store<$crate::host::HostState>,
                config_json: &str,
            ) -> wasmtime::Result<Result<(), steprl_core::GuestError>> {
                Ok(b.$iface()
                    .call_init(store, config_json)
                    .await?
                    .map_err(Into::into))
            }
        }
    };
}
pub(crate) use single_interface_world;

impl<W: World> Guarded<W> {
    /// Type-check `plugin` against world `W`, start its first instance and call `init`.
    pub(crate) async fn load(
        sandbox: &Sandbox,
        plugin: &LoadedPlugin,
        options: PluginOptions,
    ) -> Result<Self, LoadError> {
        let shared = Arc::new(Shared::<W>::new(sandbox, plugin, options)?);
        let mut guarded = Guarded::new(shared, 0);
        guarded.live().await?;
        Ok(guarded)
    }

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
        let seed = steprl_core::seeds::instance(
            shared.options.seed,
            self.index,
            u64::from(self.generation),
        );
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
        shared
            .started
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
                        message: instantiate_failure(&shared.sandbox, &e),
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

    /// One guarded call: arm `call`'s deadline on the live instance (creating it if
    /// needed), run `f` on its bindings and store, and turn the outcome into a
    /// `CallError` (dropping the instance on a trap). Every world's calls go through it.
    pub(crate) async fn call<T>(
        &mut self,
        call: Call,
        f: impl AsyncFnOnce(
            &W::Bindings,
            &mut Store<HostState>,
        ) -> wasmtime::Result<Result<T, steprl_core::GuestError>>,
    ) -> Result<T, CallError> {
        let live = self.begin(call).await?;
        let out = f(&live.bindings, &mut live.store).await;
        self.finish(call, out)
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

/// Why an instance could not be created, naming the instance pool when it is full.
fn instantiate_failure(sandbox: &Sandbox, e: &wasmtime::Error) -> String {
    match (
        e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>(),
        sandbox.instance_pool(),
    ) {
        (Some(full), Some(pool)) => format!(
            "the sandbox's instance pool is full ({full}): it holds {} plugin instances alive at once, all plugins together; drop an instance first or size the pool for more",
            pool.instances
        ),
        _ => format!("{e:#}"),
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

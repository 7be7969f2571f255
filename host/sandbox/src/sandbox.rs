//! The sandbox: one wasmtime engine with epoch interruption (a ticker thread), the
//! shared linkers (deny-by-default WASI + `log`, and the same plus `wasi:http` for
//! plugins granted network access), and plugin loading with the compile cache.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::bindings::v0_1_0::log;
use crate::cache::CompileCache;
use crate::error::LoadError;
use crate::host::HostState;
use crate::limits::Limits;
use crate::loaded::LoadedPlugin;

/// How the sandbox is set up (engine-wide settings).
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Directory of the compiled-component cache; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// Turn on fuel metering (needed for `Limits::fuel_per_call`; costs some speed).
    pub fuel: bool,
    /// Epoch tick; deadlines are enforced to within about one tick.
    pub epoch_tick: Duration,
    /// Reserve slots for plugin instances up front (wasmtime's pooling instance
    /// allocator) instead of allocating each instance's memories, tables and stack
    /// when it is created. `None` (the default) allocates on demand. See
    /// [`InstancePool`] and BENCHMARKS.md ("Instance re-creation") for what it buys.
    pub instance_pool: Option<InstancePool>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            cache_dir: default_cache_dir(),
            fuel: false,
            epoch_tick: Duration::from_millis(1),
            instance_pool: None,
        }
    }
}

/// A fixed pool of instance slots for one sandbox (all its plugins together), sized
/// for `instances` plugin instances alive at once.
///
/// Every instance counts while it exists: each rollout lane's environment instance,
/// an environment's load-time instance while it is kept (components that export
/// `lifecycle`), and every reward-checker and resampler instance. A trapped instance
/// frees its slot before it is re-created. Creating one more instance than the pool
/// holds fails with a `CallError::Host` that says the pool is full (never a panic).
///
/// Each linear memory gets a slot of `memory_bytes` (plus wasmtime's usual address
/// space reservation and guard; only what the guest touches becomes resident), and a
/// plugin whose `Limits::memory_bytes` exceeds it is refused when it is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstancePool {
    /// Plugin instances alive at once, all plugins of the sandbox together.
    pub instances: u32,
    /// Largest linear memory an instance may have, in bytes: the largest
    /// `Limits::memory_bytes` of the plugins run on this sandbox (at most 4 GiB).
    pub memory_bytes: u64,
}

impl InstancePool {
    /// Core wasm instances one component may contain (a Rust component has a few: its
    /// module, the WASI adapter and the shims wiring them; a componentize-py one has
    /// one per linked library).
    pub const CORE_INSTANCES_PER_COMPONENT: u32 = 32;
    /// Linear memories one component may contain.
    pub const MEMORIES_PER_COMPONENT: u32 = 4;
    /// Tables one component may contain.
    pub const TABLES_PER_COMPONENT: u32 = 16;
    /// Tables one core module may define.
    pub const TABLES_PER_MODULE: u32 = 2;
    /// Elements a table may hold (the store limiter's own cap is 1,000,000; the pool
    /// reserves this many pointer-sized entries per table slot).
    pub const TABLE_ELEMENTS: usize = 100_000;

    /// A pool for `instances` instances alive at once, whose memory slots fit
    /// `limits.memory_bytes` (the run config's `limits.memory_mib`).
    pub fn new(instances: u32, limits: &Limits) -> Self {
        InstancePool {
            instances,
            memory_bytes: limits.memory_bytes,
        }
    }

    /// The wasmtime pooling configuration of this pool.
    fn wasmtime_config(&self) -> Result<PoolingAllocationConfig, wasmtime::Error> {
        let n = self.instances;
        if n == 0 {
            wasmtime::bail!("instance_pool.instances must be at least 1");
        }
        const PAGE: u64 = 64 * 1024;
        if !(PAGE..=MAX_POOL_MEMORY_BYTES).contains(&self.memory_bytes) {
            wasmtime::bail!(
                "instance_pool.memory_bytes must be between 64 KiB and 4 GiB (one 32-bit linear memory), got {} bytes",
                self.memory_bytes
            );
        }
        let times = |per: u32| {
            n.checked_mul(per)
                .ok_or_else(|| wasmtime::format_err!("instance_pool.instances = {n} is too large"))
        };
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(n)
            .total_core_instances(times(Self::CORE_INSTANCES_PER_COMPONENT)?)
            .max_core_instances_per_component(Self::CORE_INSTANCES_PER_COMPONENT)
            .total_memories(times(Self::MEMORIES_PER_COMPONENT)?)
            .max_memories_per_component(Self::MEMORIES_PER_COMPONENT)
            .max_memory_size(self.memory_bytes.div_ceil(PAGE) as usize * PAGE as usize)
            .total_tables(times(Self::TABLES_PER_COMPONENT)?)
            .max_tables_per_component(Self::TABLES_PER_COMPONENT)
            .max_tables_per_module(Self::TABLES_PER_MODULE)
            .table_elements(Self::TABLE_ELEMENTS)
            // Every store keeps the fiber stack of its last call, and creating an
            // instance needs one before the instance count is checked: one spare stack
            // lets the (n+1)-th instance fail on the instance count, which names the
            // pool, not on stacks.
            .total_stacks(n.saturating_add(1));
        Ok(pool)
    }
}

/// Largest memory slot: a 32-bit linear memory, also wasmtime's default address
/// space reservation per memory (a slot can never exceed the reservation).
const MAX_POOL_MEMORY_BYTES: u64 = 4 << 30;

/// `$STEPRL_CACHE_DIR`, else `$XDG_CACHE_HOME/steprl/components`, else
/// `$HOME/.cache/steprl/components`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("STEPRL_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("steprl").join("components"))
}

/// Loads and runs plugins. Cheap to clone; all clones share one engine.
#[derive(Clone)]
pub struct Sandbox {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) engine: Engine,
    /// Deny-by-default WASI and `log`.
    pub(crate) linker: Linker<HostState>,
    /// The same plus `wasi:http` (types and outgoing handler), for granted plugins.
    pub(crate) http_linker: Linker<HostState>,
    pub(crate) config: SandboxConfig,
    cache: CompileCache,
    ticker_stop: Arc<AtomicBool>,
    /// When the ticker started; epoch `n` is never reached before `ticker_start + n·tick`.
    ticker_start: Instant,
    /// Epochs the ticker has added so far; written after each increment, so it never
    /// runs ahead of the engine's epoch.
    ticks_done: Arc<AtomicU64>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl Sandbox {
    /// A sandbox with `config`. Starts the epoch ticker thread.
    pub fn new(config: SandboxConfig) -> Result<Self, wasmtime::Error> {
        let mut wc = Config::new();
        wc.wasm_component_model(true)
            .epoch_interruption(true)
            .consume_fuel(config.fuel);
        if let Some(pool) = &config.instance_pool {
            wc.allocation_strategy(InstanceAllocationStrategy::Pooling(pool.wasmtime_config()?));
        }
        let engine = Engine::new(&wc).map_err(|e| match &config.instance_pool {
            Some(pool) => e.context(format!(
                "cannot reserve an instance pool for {} instances with {} MiB memory slots",
                pool.instances,
                pool.memory_bytes.div_ceil(1 << 20)
            )),
            None => e,
        })?;

        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        log::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
        let mut http_linker = linker.clone();
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut http_linker)?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        let ticks_done = Arc::new(AtomicU64::new(0));
        let ticker_start = Instant::now();
        {
            let stop = ticker_stop.clone();
            let done = ticks_done.clone();
            let engine = engine.clone();
            let tick = config.epoch_tick;
            std::thread::Builder::new()
                .name("steprl-epoch".into())
                .spawn(move || {
                    // Tick on the wall clock, not on sleep durations: a sleep overshoots
                    // by tens of microseconds, which would add up to deadlines several
                    // percent late. Late wake-ups catch up with extra ticks.
                    let start = ticker_start;
                    let mut ticks: u64 = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let due = start + tick * (ticks + 1) as u32;
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        let now_ticks =
                            (start.elapsed().as_nanos() / tick.as_nanos().max(1)) as u64;
                        while ticks < now_ticks {
                            engine.increment_epoch();
                            ticks += 1;
                            done.store(ticks, Ordering::Release);
                        }
                    }
                })
                .map_err(wasmtime::Error::from)?;
        }

        Ok(Sandbox {
            inner: Arc::new(Inner {
                engine,
                linker,
                http_linker,
                cache: CompileCache::new(config.cache_dir.clone()),
                config,
                ticker_stop,
                ticker_start,
                ticks_done,
            }),
        })
    }

    /// Read, compile (or load from the cache) and classify a plugin file.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<LoadedPlugin, LoadError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        self.load_bytes(path, &bytes)
    }

    /// Like [`Sandbox::load`], from bytes (binary or WAT text) already in memory;
    /// `path` names the plugin in errors, and its file stem becomes the plugin name.
    pub fn load_bytes(&self, path: &Path, bytes: &[u8]) -> Result<LoadedPlugin, LoadError> {
        let is_text = !bytes.starts_with(b"\0asm");
        if !is_text && bytes.get(4..8) != Some(&COMPONENT_VERSION[..]) {
            if bytes.get(4..8) == Some(&CORE_VERSION[..]) {
                return Err(LoadError::CoreModule {
                    path: path.to_owned(),
                });
            }
            return Err(LoadError::NotWasm {
                path: path.to_owned(),
            });
        }
        if is_text && !looks_like_wat(bytes) {
            return Err(LoadError::NotWasm {
                path: path.to_owned(),
            });
        }

        let started = Instant::now();
        let engine = &self.inner.engine;
        let cache_path = self.inner.cache.path_for(engine, bytes);
        let cached = cache_path
            .as_deref()
            .and_then(|p| self.inner.cache.load(engine, p));
        let from_cache = cached.is_some();
        let component = match cached {
            Some(c) => c,
            None => {
                let c = Component::new(engine, bytes).map_err(|e| LoadError::Compile {
                    path: path.to_owned(),
                    message: format!("{e:#}"),
                })?;
                if let Some(p) = &cache_path {
                    self.inner.cache.store(p, &c);
                }
                c
            }
        };
        let compile_time = started.elapsed();
        let (kind, exports) = crate::loaded::classify(engine, &component, path)?;
        let imports = crate::kind::imports(engine, &component);
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "plugin".to_owned());
        Ok(LoadedPlugin {
            name,
            path: path.to_owned(),
            kind,
            size_bytes: bytes.len() as u64,
            compile_time,
            from_cache,
            exports,
            imports,
            component,
        })
    }

    /// The instance pool, when the sandbox has one.
    pub fn instance_pool(&self) -> Option<InstancePool> {
        self.inner.config.instance_pool
    }

    /// The wasmtime engine's epoch tick (deadline resolution).
    pub fn epoch_tick(&self) -> Duration {
        self.inner.config.epoch_tick
    }

    /// How many epochs past the current one a deadline of `limit` from now lies, for
    /// `Store::set_epoch_deadline`. Anchored on the ticker's wall clock, not on the
    /// epoch count alone: when the ticker thread runs late (a busy machine) it catches
    /// up with a burst of ticks, and counting from the lagging epoch would fire early.
    pub(crate) fn epoch_deadline_delta(&self, limit: Duration) -> u64 {
        let inner = &self.inner;
        let since_start = inner.ticker_start.elapsed();
        // Read after the clock: `ticks_done` only grows, so a later read can only be
        // larger, which makes the delta smaller but never the deadline earlier than
        // the clock reading allows (see `deadline_delta`).
        let done = inner.ticks_done.load(Ordering::Acquire);
        deadline_delta(since_start, limit, inner.config.epoch_tick, done)
    }
}

/// Epochs to add to the engine's current epoch so that a deadline `limit` after
/// `since_start` (wall time since the ticker started) is not reached early, given that
/// the ticker has added `done` epochs so far (never more than the engine's epoch).
///
/// The ticker reaches epoch `n` only once `n · tick` of wall time has passed since it
/// started, so the deadline is the epoch `target = ⌈(since_start + limit) / tick⌉`. The
/// engine's epoch is at least `done`, so `done + delta` ≥ `target` is reached no
/// earlier; if the epoch moves on before the store call, the deadline only moves later.
fn deadline_delta(since_start: Duration, limit: Duration, tick: Duration, done: u64) -> u64 {
    let tick = tick.as_nanos().max(1);
    let target = (since_start.as_nanos() + limit.as_nanos()).div_ceil(tick);
    // At least one: a zero delta would trap at once.
    (target.saturating_sub(u128::from(done)).max(1)) as u64
}

/// Version/layer field after `\0asm` of a core module (version 1, layer 0).
const CORE_VERSION: [u8; 4] = [1, 0, 0, 0];
/// Version/layer field of a component (version 0xd, layer 1).
const COMPONENT_VERSION: [u8; 4] = [0x0d, 0, 1, 0];

/// WAT text starts (after whitespace and comments) with `(`.
fn looks_like_wat(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let mut rest = text.trim_start();
    while let Some(r) = rest.strip_prefix(";;") {
        rest = r
            .split_once('\n')
            .map(|(_, r)| r)
            .unwrap_or("")
            .trim_start();
    }
    rest.starts_with('(')
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{deadline_delta, looks_like_wat};

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_deadline_counts_from_the_wall_clock_not_from_a_lagging_epoch() {
        // Ticker on time: 10 ms elapsed, 10 epochs done; 200 ms deadline ends at epoch 210.
        assert_eq!(deadline_delta(10 * MS, 200 * MS, MS, 10), 200);
        // Between ticks (10.4 ms): the deadline rounds up to epoch 211, never down.
        let mid = 10 * MS + Duration::from_micros(400);
        assert_eq!(10 + deadline_delta(mid, 200 * MS, MS, 10), 211);
        // Ticker 5 ticks behind (descheduled): it will catch up with a burst, so the
        // delta must cover the lag, or the trap would come 5 ms early.
        assert_eq!(deadline_delta(15 * MS, 200 * MS, MS, 10), 205);
        // Coarser ticks round up too.
        assert_eq!(deadline_delta(3 * MS, 200 * MS, 7 * MS, 0), 29);
    }

    #[test]
    fn a_deadline_is_never_zero_epochs_away() {
        assert_eq!(deadline_delta(10 * MS, Duration::ZERO, MS, 10), 1);
        // `done` can be read after the clock and run past the target.
        assert_eq!(deadline_delta(10 * MS, Duration::ZERO, MS, 12), 1);
    }

    #[test]
    fn wat_detection() {
        assert!(looks_like_wat(b"  ;; hi\n (component)"));
        assert!(!looks_like_wat(b"hello"));
        assert!(!looks_like_wat(&[0xff, 0xfe, 0x00]));
    }
}

//! The per-instance host state: deny-by-default WASI (plus the plugin's granted
//! read-only directories and `wasi:http` hooks), the memory limiter, the `log` import,
//! guest stdout/stderr forwarded to the host log, and seeded randomness and virtual
//! clocks for plugins that must replay.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::io::AsyncWrite;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{
    FsPerms, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView,
};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::bindings::v0_1_0::log;
use crate::grants::{Grants, NetHooks};
use crate::log_budget::{Admit, LINES_PER_SECOND, LogBudget, TOTAL_LINES_PER_SECOND};

/// Everything one plugin instance's `Store` holds.
pub(crate) struct HostState {
    plugin: Arc<str>,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    /// Enforces the network grant (an empty grant refuses everything; `wasi:http` is
    /// linked only for plugins with a grant in the first place).
    net: NetHooks,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    /// How much more it may log (its `log` calls and stdout/stderr lines together).
    budget: Arc<std::sync::Mutex<LogBudget>>,
    /// When the call in progress must have returned (see [`on_epoch`]).
    pub(crate) deadline_at: Option<std::time::Instant>,
}

/// Epochs a running guest may go on for before it yields to the other lanes' futures.
pub(crate) const SLICE_TICKS: u64 = 5;

/// What happens when a running guest reaches its epoch deadline: past the call's
/// deadline it traps (as the deadline promises); before it, it yields to the async
/// executor and goes on for another slice, so a guest spinning until its deadline
/// never stalls the other lanes (the rollout drives all lanes' calls in one task).
pub(crate) fn on_epoch(state: &HostState, tick: Duration) -> wasmtime::UpdateDeadline {
    let now = std::time::Instant::now();
    match state.deadline_at {
        Some(at) if now < at => {
            let left = (at - now).as_nanos() / tick.as_nanos().max(1);
            wasmtime::UpdateDeadline::Yield((left as u64).clamp(1, SLICE_TICKS))
        }
        _ => wasmtime::UpdateDeadline::Interrupt,
    }
}

/// How an instance's clocks behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clocks {
    /// The host's real clocks (environment adapters that talk to real services).
    Real,
    /// Virtual clocks that start at zero and advance 1 µs per reading, so a reward
    /// checker or resampler behaves the same on every replay.
    Virtual,
}

impl HostState {
    /// Deny-by-default WASI: no env, args or sockets, and only the granted read-only
    /// directories; stdin closed; stdout/stderr to the host log; randomness seeded from
    /// `seed`. `allowed` is the normalized network grant.
    pub(crate) fn new(
        plugin: Arc<str>,
        seed: u64,
        memory_cap: u64,
        clocks: Clocks,
        grants: &Grants,
        allowed: Arc<[String]>,
    ) -> wasmtime::Result<Self> {
        let budget = Arc::new(std::sync::Mutex::new(LogBudget::new()));
        let mut b = WasiCtxBuilder::new();
        b.stdout(LogSink::new(plugin.clone(), Stream::Stdout, budget.clone()))
            .stderr(LogSink::new(plugin.clone(), Stream::Stderr, budget.clone()))
            .secure_random(StdRng::seed_from_u64(seed))
            .insecure_random(StdRng::seed_from_u64(steprl_core::seeds::insecure_random(
                seed,
            )))
            .insecure_random_seed(u128::from(seed))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        if clocks == Clocks::Virtual {
            let clock = VirtualClock::default();
            b.wall_clock(clock.clone()).monotonic_clock(clock);
        }
        for d in &grants.read_dirs {
            b.preopened_dir(&d.host, &d.guest, FsPerms::ReadOnly)
                .map_err(|e| {
                    wasmtime::Error::msg(format!(
                        "cannot open the granted directory {} (as `{}`): {e:#}",
                        d.host.display(),
                        d.guest
                    ))
                })?;
        }
        Ok(HostState {
            net: NetHooks::new(plugin.clone(), allowed, grants),
            plugin,
            wasi: b.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_cap),
            budget,
            deadline_at: None,
        })
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            hooks: &mut self.net,
            table: &mut self.table,
            ctx: &mut self.http,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl Drop for HostState {
    /// Lines dropped since the last one let through are said when the instance goes
    /// (otherwise a flood at the end of a run would vanish without a word).
    fn drop(&mut self) {
        let dropped = self
            .budget
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take_dropped();
        if dropped > 0 {
            tracing::warn!(
                target: "plugin",
                "[{}] {dropped} log lines dropped (more than {LINES_PER_SECOND} a second)",
                self.plugin
            );
        }
        report_total_dropped(
            total_budget()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take_dropped(),
        );
    }
}

/// The budget all plugins of the process share, on top of each instance's own.
fn total_budget() -> &'static std::sync::Mutex<LogBudget> {
    static TOTAL: std::sync::OnceLock<std::sync::Mutex<LogBudget>> = std::sync::OnceLock::new();
    TOTAL.get_or_init(|| std::sync::Mutex::new(LogBudget::with_limit(TOTAL_LINES_PER_SECOND)))
}

/// Say how many lines the process-wide budget dropped since it last said so.
fn report_total_dropped(dropped: u64) {
    if dropped > 0 {
        tracing::warn!(
            target: "plugin",
            "{dropped} plugin log lines dropped (more than {TOTAL_LINES_PER_SECOND} a second from all plugins together)"
        );
    }
}

/// Whether a plugin's line may be logged now under its own budget and the process-wide
/// one; says first how many were dropped since the last one.
fn admitted(plugin: &str, budget: &std::sync::Mutex<LogBudget>) -> bool {
    let now = std::time::Instant::now();
    let admit = budget.lock().unwrap_or_else(|e| e.into_inner()).admit(now);
    match admit {
        Admit::Drop => false,
        Admit::Log { dropped_before } => {
            if dropped_before > 0 {
                tracing::warn!(
                    target: "plugin",
                    "[{plugin}] {dropped_before} log lines dropped (more than {LINES_PER_SECOND} a second)"
                );
            }
            let total = total_budget()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .admit(now);
            match total {
                Admit::Drop => false,
                Admit::Log { dropped_before } => {
                    report_total_dropped(dropped_before);
                    true
                }
            }
        }
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) {
        let plugin = &*self.plugin;
        if !admitted(plugin, &self.budget) {
            return;
        }
        let message: &str = match message.char_indices().nth(MAX_LINE) {
            Some((cut, _)) => &message[..cut],
            None => &message,
        };
        match level {
            log::Level::Trace => tracing::trace!(target: "plugin", "[{plugin}] {message}"),
            log::Level::Debug => tracing::debug!(target: "plugin", "[{plugin}] {message}"),
            log::Level::Info => tracing::info!(target: "plugin", "[{plugin}] {message}"),
            log::Level::Warn => tracing::warn!(target: "plugin", "[{plugin}] {message}"),
            log::Level::Error => tracing::error!(target: "plugin", "[{plugin}] {message}"),
        }
    }
}

/// Caps the total size of an instance's linear memories. A growth past the cap is
/// denied (the guest sees `memory.grow` fail); if the guest then traps, the sandbox
/// reports the memory cap as the cause.
pub(crate) struct MemoryLimiter {
    cap: u64,
    used: u64,
    /// Set when a growth was denied; cleared before every call.
    pub(crate) denied: bool,
}

impl MemoryLimiter {
    fn new(cap: u64) -> Self {
        MemoryLimiter {
            cap,
            used: 0,
            denied: false,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grow = (desired - current) as u64;
        if self.used + grow > self.cap {
            self.denied = true;
            return Ok(false);
        }
        self.used += grow;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a million entries is far beyond any
        // plugin's needs and keeps a runaway table from eating host memory.
        Ok(desired <= 1_000_000)
    }
}

/// Which guest stream a sink forwards.
#[derive(Debug, Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Forwards a guest's stdout or stderr to the host log, line by line, prefixed with
/// the plugin's name.
#[derive(Clone)]
struct LogSink {
    plugin: Arc<str>,
    stream: Stream,
    budget: Arc<std::sync::Mutex<LogBudget>>,
}

impl LogSink {
    fn new(plugin: Arc<str>, stream: Stream, budget: Arc<std::sync::Mutex<LogBudget>>) -> Self {
        LogSink {
            plugin,
            stream,
            budget,
        }
    }
}

impl IsTerminal for LogSink {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogSink {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            sink: self.clone(),
            pending: Vec::new(),
        })
    }
}

/// Longest line kept before it is emitted unfinished (a guest printing without
/// newlines must not grow host memory without bound).
const MAX_LINE: usize = 16 * 1024;

struct LineWriter {
    sink: LogSink,
    pending: Vec<u8>,
}

impl LineWriter {
    fn emit(&self, line: &[u8]) {
        let plugin = &*self.sink.plugin;
        if !admitted(plugin, &self.sink.budget) {
            return;
        }
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        match self.sink.stream {
            Stream::Stdout => tracing::info!(target: "plugin", "[{plugin}] {text}"),
            Stream::Stderr => tracing::warn!(target: "plugin", "[{plugin} stderr] {text}"),
        }
    }

    fn drain_lines(&mut self) {
        while let Some(pos) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=pos).collect();
            self.emit(&line[..line.len() - 1]);
        }
        if self.pending.len() > MAX_LINE {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line);
        }
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.pending.extend_from_slice(buf);
        self.drain_lines();
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line);
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            self.emit(&self.pending);
        }
    }
}

/// A deterministic clock: starts at zero and advances 1 µs each time it is read.
#[derive(Clone, Default)]
struct VirtualClock {
    nanos: Arc<AtomicU64>,
}

impl VirtualClock {
    fn tick(&self) -> u64 {
        self.nanos.fetch_add(1_000, Ordering::Relaxed) + 1_000
    }
}

impl HostWallClock for VirtualClock {
    fn resolution(&self) -> Duration {
        Duration::from_micros(1)
    }
    fn now(&self) -> Duration {
        Duration::from_nanos(self.tick())
    }
}

impl HostMonotonicClock for VirtualClock {
    fn resolution(&self) -> u64 {
        1_000
    }
    fn now(&self) -> u64 {
        self.tick()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_denies_growth_past_the_cap_and_counts_all_memories() {
        let mut l = MemoryLimiter::new(10 * 65536);
        assert!(l.memory_growing(0, 6 * 65536, None).unwrap());
        assert!(l.memory_growing(0, 4 * 65536, None).unwrap());
        assert!(!l.denied);
        assert!(!l.memory_growing(4 * 65536, 5 * 65536, None).unwrap());
        assert!(l.denied);
    }

    #[test]
    fn virtual_clock_is_deterministic() {
        let a = VirtualClock::default();
        let b = VirtualClock::default();
        let ra: Vec<u64> = (0..3).map(|_| HostMonotonicClock::now(&a)).collect();
        let rb: Vec<u64> = (0..3).map(|_| HostMonotonicClock::now(&b)).collect();
        assert_eq!(ra, rb);
        assert!(ra[0] < ra[1] && ra[1] < ra[2]);
    }
}

//! Benchmark (not a test): the cost of the sandbox boundary.
//!
//! `cargo bench -p steprl-tests --bench plugin_boundary` prints a markdown table:
//! - a bare call (a WAT resampler answering `plan` with an empty list) against the same
//!   trait call on a native implementation: the per-call sandbox overhead;
//! - a uisim step through the sandbox (observation marshalled: tokens + mask, and
//!   text + tokens + mask) against the same logic compiled natively and called
//!   directly;
//! - the Python (componentize-py) resampler's `plan` per call;
//! - how late a deadline trap fires after its deadline.
//!
//! Needs the built plugins (`plugins/build.sh`).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use native::NativeResampler;
use steprl_conformance::synthetic_stats;
use steprl_core::{Action, EnvInstance, ObservationParts, PlanRequest, Resampler};
use steprl_sandbox::{Limits, PluginOptions, WasmEnvironment, WasmResampler};
use steprl_tests::{load, repo_root, sandbox};

mod native {
    use steprl_core::{CallError, PlanRequest, Resampler, TaskStat};

    /// The native twin of the WAT resampler's round-0 answer.
    pub struct NativeResampler;

    #[async_trait::async_trait]
    impl Resampler for NativeResampler {
        fn name(&self) -> &str {
            "native"
        }
        async fn plan(
            &mut self,
            _: u32,
            _: &[TaskStat],
            _: &PlanRequest,
        ) -> Result<Vec<String>, CallError> {
            Ok(Vec::new())
        }
    }
}

/// Median over `rounds` of the time per iteration of `iters` evaluations of `body`.
macro_rules! per_iter {
    ($rounds:expr, $iters:expr, $body:expr) => {{
        let mut samples = Vec::new();
        for _ in 0..$rounds {
            let t0 = Instant::now();
            for _ in 0..$iters {
                black_box($body);
            }
            samples.push(t0.elapsed() / $iters);
        }
        samples.sort();
        samples[samples.len() / 2]
    }};
}

fn fmt(d: Duration) -> String {
    format!("{:.3} µs", d.as_nanos() as f64 / 1000.0)
}

/// Reference solutions of a spread of tasks, as (task, seed, actions).
fn workload() -> Vec<(String, u64, Vec<u32>)> {
    let tasks = [
        "settings.connectivity-sweep",
        "contacts.add",
        "clock.alarm-set",
        "combo.note-and-sms",
        "combo.two-contacts",
    ];
    let mut w = Vec::new();
    for t in tasks {
        for seed in 0..4 {
            w.push((
                t.to_owned(),
                seed,
                uisim_model::reference_solution(t, seed).unwrap(),
            ));
        }
    }
    w
}

async fn sandboxed_step(
    env: &WasmEnvironment,
    parts: ObservationParts,
    work: &[(String, u64, Vec<u32>)],
) -> Duration {
    let mut inst = env.instance().await.unwrap();
    let mut samples = Vec::new();
    for _ in 0..30 {
        let mut total = Duration::ZERO;
        let mut steps = 0u32;
        for (task, seed, sol) in work {
            let ep = inst.start(task, *seed, parts).await.unwrap();
            inst.reset(ep).await.unwrap();
            let t0 = Instant::now();
            for a in sol {
                black_box(inst.step(ep, &Action::Discrete(*a)).await.unwrap());
            }
            total += t0.elapsed();
            steps += sol.len() as u32;
            inst.close(ep).await;
        }
        samples.push(total / steps);
    }
    samples.sort();
    samples[samples.len() / 2]
}

fn native_step(text: bool, work: &[(String, u64, Vec<u32>)]) -> Duration {
    let mut samples = Vec::new();
    for _ in 0..30 {
        let mut total = Duration::ZERO;
        let mut steps = 0u32;
        for (task, seed, sol) in work {
            let mut ep = uisim_model::Episode::new(task, *seed).unwrap();
            black_box(ep.observe(text, true));
            let t0 = Instant::now();
            for a in sol {
                black_box(ep.step(*a).unwrap());
                black_box(ep.observe(text, true));
            }
            total += t0.elapsed();
            steps += sol.len() as u32;
        }
        samples.push(total / steps);
    }
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let sb = sandbox();
    let wat =
        std::fs::read(repo_root().join("host/sandbox/tests/misbehaving-resampler.wat")).unwrap();
    let plugin = sb.load_bytes(Path::new("wat-resampler.wat"), &wat).unwrap();
    let mut wasm_r = WasmResampler::new(&sb, &plugin, PluginOptions::default())
        .await
        .unwrap();
    let mut native_r = NativeResampler;
    let req = PlanRequest {
        tasks_per_round: 8,
        copies_per_task: 4,
        seed: 1,
        settings: steprl_core::StepSettings::default(),
    };
    let bare_wasm = per_iter!(15, 20_000, wasm_r.plan(0, &[], &req).await.unwrap());
    let bare_native = per_iter!(15, 20_000, native_r.plan(0, &[], &req).await.unwrap());
    if std::env::var_os("STEPRL_BENCH_BARE_ONLY").is_some() {
        // For profiling the boundary alone: loop the bare call for a while and stop.
        let _ = per_iter!(100, 20_000, wasm_r.plan(0, &[], &req).await.unwrap());
        println!("bare call: {}", fmt(bare_wasm));
        return;
    }

    let env = WasmEnvironment::new(&sb, &load(&sb, "uisim"), PluginOptions::default())
        .await
        .unwrap();
    let work = workload();
    let tokens = ObservationParts {
        tokens: true,
        ..Default::default()
    };
    let all = ObservationParts {
        text: true,
        tokens: true,
        ..Default::default()
    };
    let step_wasm_tokens = sandboxed_step(&env, tokens, &work).await;
    let step_native_tokens = native_step(false, &work);
    let step_wasm_all = sandboxed_step(&env, all, &work).await;
    let step_native_all = native_step(true, &work);

    let mut py = WasmResampler::new(&sb, &load(&sb, "uniform-py"), PluginOptions::default())
        .await
        .unwrap();
    let stats = synthetic_stats(24);
    let py_plan = per_iter!(9, 200, py.plan(0, &stats, &req).await.unwrap());
    let mut wat_24 = WasmResampler::new(&sb, &plugin, PluginOptions::default())
        .await
        .unwrap();
    let wat_plan_24 = per_iter!(15, 5_000, wat_24.plan(0, &stats, &req).await.unwrap());

    let deadline = Duration::from_millis(100);
    let mut looping = WasmResampler::new(
        &sb,
        &plugin,
        PluginOptions {
            limits: Limits {
                plan: deadline,
                ..Limits::default()
            },
            ..PluginOptions::default()
        },
    )
    .await
    .unwrap();
    let mut late = Vec::new();
    for _ in 0..10 {
        let t0 = Instant::now();
        let _ = looping.plan(1, &[], &req).await.unwrap_err();
        late.push(t0.elapsed() - deadline);
    }
    late.sort();

    println!("| measurement | sandboxed | native | overhead | ratio |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, w: Duration, n: Duration| {
        println!(
            "| {name} | {} | {} | {} | {:.1}x |",
            fmt(w),
            fmt(n),
            fmt(w.saturating_sub(n)),
            w.as_secs_f64() / n.as_secs_f64()
        );
    };
    row(
        "bare call (`plan` → empty list), trait call incl. async",
        bare_wasm,
        bare_native,
    );
    row(
        "uisim step, tokens + mask",
        step_wasm_tokens,
        step_native_tokens,
    );
    row(
        "uisim step, text + tokens + mask",
        step_wasm_all,
        step_native_all,
    );
    println!(
        "| `plan` over 24 task stats, WAT guest (lowering only) | {} | – | – | – |",
        fmt(wat_plan_24)
    );
    println!(
        "| `plan` over 24 task stats, Python guest (componentize-py) | {} | – | – | – |",
        fmt(py_plan)
    );
    println!(
        "\ndeadline {} ms: trap fired {:.1} ms late at the median, {:.1} ms at worst (10 trials; {:.1}% over at worst)",
        deadline.as_millis(),
        late[late.len() / 2].as_secs_f64() * 1e3,
        late[late.len() - 1].as_secs_f64() * 1e3,
        late[late.len() - 1].as_secs_f64() / deadline.as_secs_f64() * 100.0
    );
}

//! Benchmark (not a test): re-creating uisim environment instances at many rollout
//! lanes, with wasmtime's on-demand instance allocator (the default) against the
//! pooling allocator (`SandboxConfig::instance_pool`).
//!
//! `cargo bench -p steprl-tests --bench instance_pool` prints a markdown table. Each
//! (allocator, lanes) pair runs in a child process of its own (so resident memory and
//! address space are that configuration's alone), three times, alternating the
//! allocators; every cell is the median of the three runs' medians. A run:
//! - starts the sandbox (engine + pool reservation) and loads uisim (its first
//!   instance, `init`, tasks and spaces);
//! - creates the first lane's instance (instantiate + `init`), then the others until
//!   all lanes are alive, and reads resident memory and address space;
//! - re-creates instances: drops one lane's instance and creates a new one, every
//!   lane in turn, five rounds (what the sandbox does after a trap);
//! - re-creates one and plays its first episode start, reset and step (the new
//!   instance's memory is touched again);
//! - drops all lanes and re-creates them at once, as tasks on two worker threads.
//!
//! Needs the built plugins (`plugins/build.sh`).

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use steprl_core::{Action, EnvInstance, ObservationParts};
use steprl_sandbox::{
    InstancePool, Limits, PluginOptions, Sandbox, SandboxConfig, WasmEnvInstance, WasmEnvironment,
};
use steprl_tests::load;

/// Set in a child: which allocator and how many lanes.
const MODE_VAR: &str = "STEPRL_BENCH_POOL_MODE";
const LANES: [u32; 2] = [64, 256];
const RUNS: usize = 3;
const ROUNDS: usize = 5;

/// One child's measurements (durations in µs, memory in MiB).
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    sandbox_start: f64,
    env_load: f64,
    first_lane: f64,
    create_alive: f64,
    recreate: f64,
    recreate_step: f64,
    all_at_once: f64,
    rss_mib: f64,
    vm_gib: f64,
}

const FIELDS: usize = 9;

impl Run {
    fn to_line(self) -> String {
        let v = [
            self.sandbox_start,
            self.env_load,
            self.first_lane,
            self.create_alive,
            self.recreate,
            self.recreate_step,
            self.all_at_once,
            self.rss_mib,
            self.vm_gib,
        ];
        let v: Vec<String> = v.iter().map(|x| format!("{x:.3}")).collect();
        format!("RESULT {}", v.join(" "))
    }

    fn from_line(line: &str) -> Option<Run> {
        let v: Vec<f64> = line
            .strip_prefix("RESULT ")?
            .split(' ')
            .map(|x| x.parse().ok())
            .collect::<Option<_>>()?;
        (v.len() == FIELDS).then(|| Run {
            sandbox_start: v[0],
            env_load: v[1],
            first_lane: v[2],
            create_alive: v[3],
            recreate: v[4],
            recreate_step: v[5],
            all_at_once: v[6],
            rss_mib: v[7],
            vm_gib: v[8],
        })
    }
}

fn us(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `VmRSS` and `VmSize` of this process, in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmSize:"))
}

async fn first_episode(inst: &mut WasmEnvInstance, action: u32) {
    let parts = ObservationParts {
        tokens: true,
        ..Default::default()
    };
    let ep = inst.start("contacts.add", 0, parts).await.unwrap();
    inst.reset(ep).await.unwrap();
    inst.step(ep, &Action::Discrete(action)).await.unwrap();
    inst.close(ep).await;
}

async fn child(pooling: bool, lanes: u32) -> Run {
    let mut run = Run::default();
    let t0 = Instant::now();
    let sb = Sandbox::new(SandboxConfig {
        // One slot more than the lanes: the loaded environment keeps an instance of
        // its own (it answered `init`, tasks and spaces).
        instance_pool: pooling.then(|| InstancePool::new(lanes + 1, &Limits::default())),
        ..SandboxConfig::default()
    })
    .expect("sandbox starts");
    run.sandbox_start = us(t0.elapsed());
    let plugin = load(&sb, "uisim");
    let t0 = Instant::now();
    let env = Arc::new(
        WasmEnvironment::new(&sb, &plugin, PluginOptions::default())
            .await
            .unwrap(),
    );
    run.env_load = us(t0.elapsed());

    let t0 = Instant::now();
    // `None` while a lane's instance is dropped and not yet re-created: the old one
    // goes first, as after a trap (a full pool has no slot for the new one until then).
    let mut alive = vec![Some(env.instance().await.unwrap())];
    run.first_lane = us(t0.elapsed());
    let mut creates = Vec::new();
    for _ in 1..lanes {
        let t0 = Instant::now();
        alive.push(Some(env.instance().await.unwrap()));
        creates.push(us(t0.elapsed()));
    }
    run.create_alive = median(creates);
    let (rss, vm) = memory_kib();
    run.rss_mib = rss as f64 / 1024.0;
    run.vm_gib = vm as f64 / (1024.0 * 1024.0);

    let mut recreates = Vec::new();
    for _ in 0..ROUNDS {
        for lane in alive.iter_mut() {
            let t0 = Instant::now();
            drop(lane.take());
            *lane = Some(env.instance().await.unwrap());
            recreates.push(us(t0.elapsed()));
        }
    }
    run.recreate = median(recreates);

    let action = uisim_model::reference_solution("contacts.add", 0).unwrap()[0];
    let mut with_step = Vec::new();
    for lane in alive.iter_mut() {
        let t0 = Instant::now();
        drop(lane.take());
        let inst = lane.insert(env.instance().await.unwrap());
        first_episode(inst, action).await;
        with_step.push(us(t0.elapsed()));
    }
    run.recreate_step = median(with_step);

    let mut at_once = Vec::new();
    for _ in 0..ROUNDS {
        alive.clear();
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..lanes)
            .map(|_| {
                let env = env.clone();
                tokio::spawn(async move { env.instance().await.unwrap() })
            })
            .collect();
        for t in tasks {
            alive.push(Some(t.await.unwrap()));
        }
        at_once.push(us(t0.elapsed()));
    }
    run.all_at_once = median(at_once);
    run
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Ok(mode) = std::env::var(MODE_VAR) {
        let (kind, lanes) = mode.split_once(':').expect("MODE:LANES");
        let run = child(kind == "pooling", lanes.parse().unwrap()).await;
        println!("{}", run.to_line());
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut rows = Vec::new();
    for lanes in LANES {
        let mut runs: [Vec<Run>; 2] = [Vec::new(), Vec::new()];
        for r in 0..RUNS {
            // Alternate which allocator goes first.
            let order = if r % 2 == 0 { [0, 1] } else { [1, 0] };
            for which in order {
                let kind = ["on-demand", "pooling"][which];
                let out = Command::new(&exe)
                    .env(MODE_VAR, format!("{kind}:{lanes}"))
                    .output()
                    .expect("child runs");
                let text = String::from_utf8_lossy(&out.stdout);
                let run = text.lines().find_map(Run::from_line).unwrap_or_else(|| {
                    panic!(
                        "{kind}:{lanes} failed: {text}{}",
                        String::from_utf8_lossy(&out.stderr)
                    )
                });
                runs[which].push(run);
            }
        }
        rows.push((lanes, runs));
    }

    println!("| measurement | lanes | on-demand | pooling | pooling / on-demand |");
    println!("|---|---|---|---|---|");
    type Pick = fn(&Run) -> f64;
    let metrics: [(&str, &str, Pick); FIELDS] = [
        ("sandbox start (engine; pool reservation)", "µs", |r| {
            r.sandbox_start
        }),
        (
            "load uisim (first instance + init + tasks/spaces)",
            "µs",
            |r| r.env_load,
        ),
        ("first lane instance (instantiate + init)", "µs", |r| {
            r.first_lane
        }),
        ("create one more while others live", "µs", |r| {
            r.create_alive
        }),
        ("re-create after drop (instantiate + init)", "µs", |r| {
            r.recreate
        }),
        ("re-create + start, reset, 1 step", "µs", |r| {
            r.recreate_step
        }),
        (
            "all lanes re-created at once, 2 threads (wall)",
            "µs",
            |r| r.all_at_once,
        ),
        ("resident memory, all lanes alive", "MiB", |r| r.rss_mib),
        ("address space, all lanes alive", "GiB", |r| r.vm_gib),
    ];
    for (name, unit, pick) in metrics {
        for (lanes, runs) in &rows {
            let on = median(runs[0].iter().map(pick).collect());
            let po = median(runs[1].iter().map(pick).collect());
            println!(
                "| {name} | {lanes} | {on:.1} {unit} | {po:.1} {unit} | {:.2}x |",
                po / on
            );
        }
    }
}

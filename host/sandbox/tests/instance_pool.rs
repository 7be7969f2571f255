//! The opt-in pooling instance allocator (`SandboxConfig::instance_pool`): instances
//! are created, trapped and re-created in a pool's slots, a full pool is a clear
//! error, and the memory cap still denies growth (and is named) as without a pool.

use std::path::Path;

use steprl_core::{CallError, PlanRequest, Resampler, TaskStat, TrapKind};
use steprl_sandbox::{
    InstancePool, Limits, LoadError, PluginOptions, Sandbox, SandboxConfig, WasmResampler,
};

/// The misbehaving WAT resampler of `wat_plugins.rs`: round 0 answers, 3 traps
/// (`unreachable`), 4 grows memory by 4 MiB and traps if that was refused.
const RESAMPLER_WAT: &str = include_str!("misbehaving-resampler.wat");

fn pooled(instances: u32, limits: &Limits) -> Sandbox {
    Sandbox::new(SandboxConfig {
        cache_dir: None,
        instance_pool: Some(InstancePool::new(instances, limits)),
        ..SandboxConfig::default()
    })
    .unwrap()
}

async fn resampler(sb: &Sandbox, limits: Limits) -> Result<WasmResampler, LoadError> {
    let plugin = sb
        .load_bytes(Path::new("wat-resampler.wat"), RESAMPLER_WAT.as_bytes())
        .unwrap();
    WasmResampler::new(
        sb,
        &plugin,
        PluginOptions {
            limits,
            ..PluginOptions::default()
        },
    )
    .await
}

fn request() -> PlanRequest {
    PlanRequest {
        tasks_per_round: 1,
        copies_per_task: 1,
        seed: 0,
        settings: steprl_core::StepSettings::default(),
    }
}

fn stats() -> Vec<TaskStat> {
    vec![TaskStat {
        id: "t".into(),
        attempts: 0,
        successes: 0,
        smoothed_rate: None,
        last_round: None,
    }]
}

#[tokio::test]
async fn a_trapped_instance_is_re_created_in_a_one_slot_pool() {
    // One slot: the re-created instance can only start if the trapped one gave its
    // slot back.
    let sb = pooled(1, &Limits::default());
    let mut r = resampler(&sb, Limits::default()).await.unwrap();
    assert_eq!(
        r.plan(0, &stats(), &request()).await.unwrap(),
        Vec::<String>::new()
    );
    for _ in 0..3 {
        let err = r.plan(3, &stats(), &request()).await.unwrap_err();
        assert!(
            matches!(&err, CallError::Trap { kind: TrapKind::Guest(m), call: "plan", .. } if m.contains("unreachable")),
            "{err:?}"
        );
        assert_eq!(
            r.plan(0, &stats(), &request()).await.unwrap(),
            Vec::<String>::new()
        );
    }
}

#[tokio::test]
async fn an_instance_past_the_pool_is_a_clear_error_and_a_freed_slot_is_reused() {
    let sb = pooled(2, &Limits::default());
    let a = resampler(&sb, Limits::default()).await.unwrap();
    let _b = resampler(&sb, Limits::default()).await.unwrap();
    let err = resampler(&sb, Limits::default())
        .await
        .err()
        .expect("a third instance does not fit a two-slot pool");
    let LoadError::Call(CallError::Host {
        plugin,
        call,
        message,
    }) = &err
    else {
        panic!("expected a host error, got {err:?}");
    };
    assert_eq!(plugin, "wat-resampler");
    assert_eq!(*call, "instantiate");
    assert!(
        message.contains("instance pool is full")
            && message.contains("holds 2 plugin instances")
            && message.contains("component instances"),
        "{message}"
    );
    // Dropping one instance frees its slot.
    drop(a);
    let mut c = resampler(&sb, Limits::default()).await.unwrap();
    assert_eq!(
        c.plan(0, &stats(), &request()).await.unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn the_memory_cap_is_still_enforced_and_named_in_a_pool() {
    let small = Limits {
        memory_bytes: 1024 * 1024,
        ..Limits::default()
    };
    let sb = pooled(1, &small);
    let mut r = resampler(&sb, small.clone()).await.unwrap();
    let err = r.plan(4, &stats(), &request()).await.unwrap_err();
    assert!(
        matches!(
            &err,
            CallError::Trap {
                kind: TrapKind::Memory {
                    limit_bytes: 1048576
                },
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        r.plan(0, &stats(), &request()).await.unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_memory_cap_larger_than_the_pool_slot_is_refused_at_load() {
    let sb = pooled(
        4,
        &Limits {
            memory_bytes: 1024 * 1024,
            ..Limits::default()
        },
    );
    let err = resampler(&sb, Limits::default())
        .await
        .err()
        .expect("a 256 MiB cap does not fit 1 MiB slots");
    assert!(matches!(err, LoadError::MemoryOverPool { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("256 MiB") && text.contains("1 MiB") && text.contains("limits.memory_mib"),
        "{text}"
    );
}

#[test]
fn a_pool_of_no_instances_or_odd_memory_is_refused() {
    let at = |instances, memory_bytes| {
        Sandbox::new(SandboxConfig {
            cache_dir: None,
            instance_pool: Some(InstancePool {
                instances,
                memory_bytes,
            }),
            ..SandboxConfig::default()
        })
        .err()
        .map(|e| format!("{e:#}"))
    };
    let none = at(0, 1 << 20).expect("zero instances");
    assert!(none.contains("at least 1"), "{none}");
    let huge = at(4, 8 << 30).expect("an 8 GiB slot");
    assert!(huge.contains("between 64 KiB and 4 GiB"), "{huge}");
    assert!(at(4, 1 << 20).is_none());
}

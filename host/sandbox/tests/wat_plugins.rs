//! Hand-written WAT components (no guest toolchain needed) that misbehave on purpose:
//! they prove that deadlines trap, memory caps deny growth, a trapped instance is
//! replaced, and bad files give clear errors.

use std::path::Path;
use std::time::{Duration, Instant};

use steprl_core::{CallError, GuestError, PlanRequest, Resampler, TaskStat, TrapKind};
use steprl_sandbox::{
    Limits, LoadError, PluginKind, PluginOptions, Sandbox, SandboxConfig, WasmEnvironment,
    WasmResampler,
};

/// A resampler whose `plan` behaves according to `round`:
/// 0 → Ok([]); 1 → loops forever; 2 → grows memory by 64 pages (4 MiB) and returns
/// Err(internal) if that was refused, Ok(["grew"]) otherwise; 3 → traps (`unreachable`);
/// 4 → grows by 64 pages and traps if refused.
const RESAMPLER_WAT: &str = include_str!("misbehaving-resampler.wat");

fn sandbox() -> Sandbox {
    Sandbox::new(SandboxConfig {
        cache_dir: None,
        ..SandboxConfig::default()
    })
    .unwrap()
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

async fn resampler(limits: Limits) -> WasmResampler {
    let sb = sandbox();
    let plugin = sb
        .load_bytes(Path::new("wat-resampler.wat"), RESAMPLER_WAT.as_bytes())
        .unwrap();
    assert_eq!(plugin.kind, PluginKind::Resampler);
    WasmResampler::new(
        &sb,
        &plugin,
        PluginOptions {
            limits,
            ..PluginOptions::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_well_behaved_call_answers() {
    let mut r = resampler(Limits::default()).await;
    assert_eq!(
        r.plan(0, &stats(), &request()).await.unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn an_infinite_loop_is_trapped_at_its_deadline_and_the_next_call_works() {
    let deadline = Duration::from_millis(200);
    let mut r = resampler(Limits {
        plan: deadline,
        ..Limits::default()
    })
    .await;
    let started = Instant::now();
    let err = r.plan(1, &stats(), &request()).await.unwrap_err();
    let elapsed = started.elapsed();
    match &err {
        CallError::Trap { plugin, call, kind } => {
            assert_eq!(plugin, "wat-resampler");
            assert_eq!(*call, "plan");
            assert_eq!(
                *kind,
                TrapKind::Deadline {
                    limit: deadline,
                    key: "limits.plan_ms"
                }
            );
        }
        other => panic!("expected a deadline trap, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("wat-resampler") && msg.contains("`plan`") && msg.contains("200 ms"),
        "{msg}"
    );
    // A deadline never fires early (how late it fires is measured in the benchmark,
    // not asserted here).
    assert!(
        elapsed >= deadline,
        "trapped after {elapsed:?}, before the {deadline:?} deadline"
    );
    // The trapped instance was dropped; the next call runs on a fresh one.
    assert_eq!(
        r.plan(0, &stats(), &request()).await.unwrap(),
        Vec::<String>::new()
    );
}

/// A guest spinning until its deadline yields to the other calls driven in the same
/// task (as the rollout drives every lane's calls): they all finish before it traps.
#[tokio::test]
async fn a_spinning_guest_does_not_stall_calls_beside_it() {
    let deadline = Duration::from_secs(2);
    let limits = Limits {
        plan: deadline,
        ..Limits::default()
    };
    let (mut spinning, mut quick) = (resampler(limits.clone()).await, resampler(limits).await);
    let events = std::sync::Mutex::new(Vec::new());
    let spin = async {
        let r = spinning.plan(1, &stats(), &request()).await;
        assert!(matches!(r, Err(CallError::Trap { .. })), "{r:?}");
        events.lock().unwrap().push("trap");
    };
    let others = async {
        for _ in 0..50 {
            quick.plan(0, &stats(), &request()).await.unwrap();
            events.lock().unwrap().push("ok");
        }
    };
    // Polled first, the spinning call would hold the thread until its deadline if it
    // did not yield.
    tokio::join!(spin, others);
    let events = events.into_inner().unwrap();
    assert_eq!(events.len(), 51);
    assert_eq!(events.last(), Some(&"trap"), "{events:?}");
}

#[tokio::test]
async fn memory_growth_past_the_cap_is_denied() {
    // 1 page (64 KiB) initial, cap 1 MiB: growing by 4 MiB must be refused, and the
    // guest sees the refusal (memory.grow returns -1) and answers with its own error.
    let mut r = resampler(Limits {
        memory_bytes: 1024 * 1024,
        ..Limits::default()
    })
    .await;
    let err = r.plan(2, &stats(), &request()).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Guest { error: GuestError::Internal(m), .. } if m == "denied"),
        "{err:?}"
    );
    // Under a larger cap the same growth succeeds.
    let mut roomy = resampler(Limits::default()).await;
    assert_eq!(
        roomy.plan(2, &stats(), &request()).await.unwrap(),
        vec!["grew"]
    );
}

#[tokio::test]
async fn a_trap_after_a_denied_growth_names_the_memory_cap() {
    let mut r = resampler(Limits {
        memory_bytes: 1024 * 1024,
        ..Limits::default()
    })
    .await;
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
    assert!(err.to_string().contains("memory cap of 1 MiB"), "{err}");
    assert_eq!(
        r.plan(0, &stats(), &request()).await.unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_trap_mid_call_names_plugin_and_call_and_the_next_call_gets_a_fresh_instance() {
    let mut r = resampler(Limits::default()).await;
    let err = r.plan(3, &stats(), &request()).await.unwrap_err();
    match &err {
        CallError::Trap {
            plugin,
            call,
            kind: TrapKind::Guest(msg),
        } => {
            assert_eq!(plugin, "wat-resampler");
            assert_eq!(*call, "plan");
            assert!(msg.contains("unreachable"), "{msg}");
            // One line: the backtrace is logged once, not carried by every error.
            assert!(!msg.contains('\n') && !msg.contains("backtrace"), "{msg}");
        }
        other => panic!("expected a guest trap, got {other:?}"),
    }
    assert!(err.to_string().contains("will be re-created"));
    for _ in 0..3 {
        assert_eq!(
            r.plan(0, &stats(), &request()).await.unwrap(),
            Vec::<String>::new()
        );
    }
}

#[tokio::test]
async fn unbounded_recursion_is_called_a_stack_overflow() {
    let mut r = resampler(Limits::default()).await;
    for _ in 0..2 {
        let err = r.plan(5, &stats(), &request()).await.unwrap_err();
        assert!(
            matches!(
                &err,
                CallError::Trap {
                    kind: TrapKind::StackOverflow,
                    call: "plan",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("stack overflow"), "{err}");
    }
    assert_eq!(
        r.plan(0, &stats(), &request()).await.unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn fuel_limits_trap_deterministically() {
    let sb = Sandbox::new(SandboxConfig {
        cache_dir: None,
        fuel: true,
        ..SandboxConfig::default()
    })
    .unwrap();
    let plugin = sb
        .load_bytes(Path::new("wat-resampler.wat"), RESAMPLER_WAT.as_bytes())
        .unwrap();
    let mut r = WasmResampler::new(
        &sb,
        &plugin,
        PluginOptions {
            limits: Limits {
                fuel_per_call: Some(100_000),
                ..Limits::default()
            },
            ..PluginOptions::default()
        },
    )
    .await
    .unwrap();
    let err = r.plan(1, &stats(), &request()).await.unwrap_err();
    assert!(
        matches!(
            &err,
            CallError::Trap {
                kind: TrapKind::Fuel { limit: 100_000 },
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
async fn a_plugin_of_another_kind_is_refused_by_name() {
    let sb = sandbox();
    let plugin = sb
        .load_bytes(Path::new("wat-resampler.wat"), RESAMPLER_WAT.as_bytes())
        .unwrap();
    let err = WasmEnvironment::new(&sb, &plugin, PluginOptions::default())
        .await
        .err()
        .expect("a resampler is not an environment");
    assert!(matches!(err, LoadError::WrongKind { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "wat-resampler.wat is a resampler plugin, but an environment plugin is needed here"
    );
}

#[test]
fn bad_files_give_clear_errors() {
    let sb = sandbox();
    let err = |bytes: &[u8]| sb.load_bytes(Path::new("bad.wasm"), bytes).err().unwrap();

    let garbage = err(b"\x7fELF not wasm at all");
    assert!(matches!(garbage, LoadError::NotWasm { .. }), "{garbage:?}");
    assert!(
        garbage
            .to_string()
            .contains("bad.wasm is not a WebAssembly file")
    );

    let text = err(b"hello world");
    assert!(matches!(text, LoadError::NotWasm { .. }), "{text:?}");

    let core = err(&wat::parse_str("(module)").unwrap());
    assert!(matches!(core, LoadError::CoreModule { .. }), "{core:?}");
    assert!(core.to_string().contains("wasm32-wasip2"), "{core}");

    let empty = err(b"(component)");
    assert!(matches!(empty, LoadError::NotAPlugin { .. }), "{empty:?}");
    assert!(
        empty.to_string().contains("steprl:plugin/env@0.1.0"),
        "{empty}"
    );

    let future = RESAMPLER_WAT.replace("resample@0.1.0", "resample@0.9.0");
    let future = err(future.as_bytes());
    assert!(
        matches!(&future, LoadError::UnsupportedVersion { found, .. } if found == "0.9.0"),
        "{future:?}"
    );

    let broken = err(b"(component (core module (func (result i32))))");
    assert!(matches!(broken, LoadError::Compile { .. }), "{broken:?}");

    let missing = sb
        .load(Path::new("/nonexistent/plugin.wasm"))
        .err()
        .unwrap();
    assert!(matches!(missing, LoadError::Read { .. }));
    assert!(missing.to_string().contains("/nonexistent/plugin.wasm"));
}

#[test]
fn compiled_components_are_cached_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let sb = Sandbox::new(SandboxConfig {
        cache_dir: Some(dir.path().to_owned()),
        ..SandboxConfig::default()
    })
    .unwrap();
    let first = sb
        .load_bytes(Path::new("a.wat"), RESAMPLER_WAT.as_bytes())
        .unwrap();
    assert!(!first.from_cache);
    let second = sb
        .load_bytes(Path::new("b.wat"), RESAMPLER_WAT.as_bytes())
        .unwrap();
    assert!(second.from_cache, "same bytes must hit the cache");
    let other = RESAMPLER_WAT.replace("\"denied\"", "\"refused\"");
    let third = sb.load_bytes(Path::new("c.wat"), other.as_bytes()).unwrap();
    assert!(!third.from_cache, "different bytes must not hit the cache");
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "two artifacts and their digests: {files:?}");
    assert!(files[0].ends_with(".cwasm") && files[1].ends_with(".cwasm.sha256"));
}

/// A cached artifact is native code: one whose bytes do not match the digest written
/// with it (corruption, or tampering) is recompiled with a warning, never run.
#[test]
fn a_corrupted_cache_entry_is_recompiled_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let sb = || {
        Sandbox::new(SandboxConfig {
            cache_dir: Some(dir.path().to_owned()),
            ..SandboxConfig::default()
        })
        .unwrap()
    };
    let first = sb()
        .load_bytes(Path::new("a.wat"), RESAMPLER_WAT.as_bytes())
        .unwrap();
    assert!(!first.from_cache);
    let artifact = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .expect("an artifact");
    // Overwrite a run of bytes in the middle (where the code section lives).
    let mut bytes = std::fs::read(&artifact).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b = 0xcc;
    }
    std::fs::write(&artifact, &bytes).unwrap();
    let again = sb()
        .load_bytes(Path::new("a.wat"), RESAMPLER_WAT.as_bytes())
        .unwrap();
    assert!(!again.from_cache, "a corrupted entry is not loaded");
    // The recompiled artifact replaced it, and loads from the cache again.
    let third = sb()
        .load_bytes(Path::new("a.wat"), RESAMPLER_WAT.as_bytes())
        .unwrap();
    assert!(third.from_cache);
    // An artifact without its digest is not trusted either.
    std::fs::remove_file(artifact.with_extension("cwasm.sha256")).unwrap();
    let fourth = sb()
        .load_bytes(Path::new("a.wat"), RESAMPLER_WAT.as_bytes())
        .unwrap();
    assert!(!fourth.from_cache);
}

/// A cache directory other users can write to is not used at all; one the sandbox
/// creates is private to its owner.
#[cfg(unix)]
#[test]
fn a_cache_directory_others_can_write_to_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("new-cache");
    Sandbox::new(SandboxConfig {
        cache_dir: Some(fresh.clone()),
        ..SandboxConfig::default()
    })
    .unwrap();
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "created owner-only");

    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let sb = Sandbox::new(SandboxConfig {
        cache_dir: Some(shared.clone()),
        ..SandboxConfig::default()
    })
    .unwrap();
    for _ in 0..2 {
        let p = sb
            .load_bytes(Path::new("a.wat"), RESAMPLER_WAT.as_bytes())
            .unwrap();
        assert!(!p.from_cache);
    }
    assert_eq!(
        std::fs::read_dir(&shared).unwrap().count(),
        0,
        "nothing written"
    );
}

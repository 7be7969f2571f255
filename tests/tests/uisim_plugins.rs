//! The built uisim plugins through the sandbox: conformance, reference solutions judged
//! by the checker plugin, independence of concurrent episodes, config errors.

use steprl_conformance::{EnvCheck, check_environment};
use steprl_core::{Action, CallError, Environment, GuestError, ObservationParts};
use steprl_sandbox::{LoadError, PluginOptions, WasmEnvironment, WasmRewardChecker};
use steprl_tests::{load, play_and_judge, sandbox};
use uisim_model::SimAction;

async fn env_and_checker() -> (WasmEnvironment, WasmRewardChecker) {
    let sb = sandbox();
    let env = WasmEnvironment::new(&sb, &load(&sb, "uisim"), PluginOptions::default())
        .await
        .unwrap();
    let checker =
        WasmRewardChecker::new(&sb, &load(&sb, "uisim-checker"), PluginOptions::default())
            .await
            .unwrap();
    (env, checker)
}

#[tokio::test]
async fn uisim_passes_the_conformance_check_with_its_checker() {
    let (env, mut checker) = env_and_checker().await;
    let report = check_environment(
        &env,
        Some(&mut checker),
        &EnvCheck {
            episodes: 2,
            seed: 7,
            budget: std::time::Duration::from_secs(600),
        },
        |_, _, _| {},
    )
    .await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert_eq!(report.tasks.len(), uisim_model::catalog().len());
    assert!(report.tasks.len() >= 40);
    assert!(report.tasks.iter().all(|t| t.episodes == 2));
    assert!(report.step.count() > 100);
}

#[tokio::test]
async fn reference_solutions_succeed_through_the_sandbox_and_the_checker_agrees() {
    let (env, mut checker) = env_and_checker().await;
    let mut inst = env.instance().await.unwrap();
    let done = uisim_model::Act::Done.index();
    for task in &env.info().tasks {
        for seed in 0..3 {
            let solution = uisim_model::reference_solution(&task.id, seed).unwrap();
            let (tokens, ended, v) =
                play_and_judge(&mut inst, &mut checker, task, seed, &solution).await;
            // The sandboxed plugin shows exactly what the native model shows.
            let native = uisim_model::Episode::new(&task.id, seed).unwrap();
            assert_eq!(tokens, native.observe(false, true).tokens, "{}", task.id);
            assert!(ended, "{} seed {seed}", task.id);
            assert!(v.success, "{} seed {seed}: {}", task.id, v.reason);
            assert_eq!(v.score, 1.0);

            // Saying done straight away fails (except where nothing needs doing, which
            // no task allows), and the checker says why.
            let (_, _, v) = play_and_judge(&mut inst, &mut checker, task, seed, &[done]).await;
            assert!(!v.success, "{}: doing nothing must not succeed", task.id);
            assert!(!v.reason.is_empty());
        }
    }
}

#[tokio::test]
async fn concurrent_episodes_on_one_instance_stay_independent() {
    let (env, _) = env_and_checker().await;
    let mut inst = env.instance().await.unwrap();
    use steprl_core::EnvInstance as _;
    let parts = ObservationParts::ALL;
    let tasks = ["contacts.add", "settings.wifi-on", "clock.alarm-set"];
    let mut eps = Vec::new();
    for t in tasks {
        let ep = inst.start(t, 11, parts).await.unwrap();
        inst.reset(ep).await.unwrap();
        eps.push((t, ep, uisim_model::reference_solution(t, 11).unwrap()));
    }
    // Interleave the three solutions step by step.
    let longest = eps.iter().map(|e| e.2.len()).max().unwrap();
    for i in 0..longest {
        for (_, ep, sol) in &eps {
            if let Some(a) = sol.get(i) {
                inst.step(*ep, &Action::Discrete(*a)).await.unwrap();
            }
        }
    }
    for (t, ep, sol) in &eps {
        let fs: serde_json::Value =
            serde_json::from_str(&inst.final_state(*ep).await.unwrap()).unwrap();
        let mut native = uisim_model::Episode::new(t, 11).unwrap();
        for a in sol {
            native.step(*a).unwrap();
        }
        assert_eq!(
            fs,
            serde_json::to_value(native.final_state()).unwrap(),
            "{t}"
        );
        inst.close(*ep).await;
    }
    // A closed episode is gone.
    let err = inst.step(eps[0].1, &Action::Discrete(0)).await.unwrap_err();
    assert!(matches!(err, CallError::EpisodeLost { .. }), "{err:?}");
}

#[tokio::test]
async fn bad_actions_and_finished_episodes_are_typed_errors() {
    let (env, _) = env_and_checker().await;
    let mut inst = env.instance().await.unwrap();
    use steprl_core::EnvInstance as _;
    let ep = inst
        .start("open.clock", 0, ObservationParts::ALL)
        .await
        .unwrap();
    inst.reset(ep).await.unwrap();
    let err = inst.step(ep, &Action::Discrete(999)).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Guest { error: GuestError::InvalidAction(m), call: "episode.step", .. } if m.contains("999")),
        "{err:?}"
    );
    let err = inst
        .step(ep, &Action::Text("tap".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            CallError::Guest {
                error: GuestError::InvalidAction(_),
                ..
            }
        ),
        "{err:?}"
    );
    let done = Action::Discrete(uisim_model::Act::Done.index());
    assert!(inst.step(ep, &done).await.unwrap().done);
    let err = inst.step(ep, &done).await.unwrap_err();
    assert!(
        matches!(
            &err,
            CallError::Guest {
                error: GuestError::EpisodeFinished,
                ..
            }
        ),
        "{err:?}"
    );
    let err = inst
        .start("no.such.task", 0, ObservationParts::ALL)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no.such.task"), "{err}");
}

#[tokio::test]
async fn plugin_config_errors_name_the_key() {
    let sb = sandbox();
    let uisim = load(&sb, "uisim");
    let opts = |c: &str| PluginOptions {
        config_json: c.into(),
        ..PluginOptions::default()
    };
    let err = WasmEnvironment::new(&sb, &uisim, opts(r#"{"levels":[9]}"#))
        .await
        .err()
        .unwrap();
    let LoadError::Call(CallError::Guest {
        plugin,
        call,
        error: GuestError::InvalidConfig(m),
    }) = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!((plugin.as_str(), *call), ("uisim", "init"));
    assert!(m.contains("levels") && m.contains("9"), "{m}");
    let err = WasmEnvironment::new(&sb, &uisim, opts(r#"{"level":[1]}"#))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("unknown field `level`"), "{err}");
    // A valid filter narrows the task list.
    let easy = WasmEnvironment::new(&sb, &uisim, opts(r#"{"levels":[1]}"#))
        .await
        .unwrap();
    assert!(easy.info().tasks.iter().all(|t| t.difficulty == Some(1)));
    assert_eq!(easy.info().tasks.len(), 15);

    let checker = load(&sb, "uisim-checker");
    let err = WasmRewardChecker::new(&sb, &checker, opts(r#"{"strict":true}"#))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("unknown key `strict`"), "{err}");
}

/// Shutting an environment down (`lifecycle.shutdown`, which every SDK environment
/// exports) reuses the instance that read the tasks at load: it starts no new instance,
/// so no `init` runs again at the end of every command.
#[tokio::test]
async fn shutdown_reuses_the_load_instance_and_starts_no_new_one() {
    let (env, _) = env_and_checker().await;
    assert_eq!(env.instances_started(), 1, "the load probe");
    env.shutdown().await.unwrap();
    env.shutdown().await.unwrap();
    assert_eq!(env.instances_started(), 1);
    let _lane = env.instance().await.unwrap();
    assert_eq!(
        env.instances_started(),
        2,
        "a lane is an instance of its own"
    );
}

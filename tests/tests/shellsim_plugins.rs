//! The built shellsim plugins through the sandbox: conformance with the checker,
//! reference solutions judged successful, doing nothing judged a failure, the same
//! observations as the native model, and config errors.

use shellsim_model::SimAction;
use steprl_conformance::{EnvCheck, check_environment};
use steprl_core::Environment;
use steprl_sandbox::{PluginOptions, WasmEnvironment, WasmRewardChecker};
use steprl_tests::{load, play_and_judge, sandbox};

async fn env_and_checker() -> (WasmEnvironment, WasmRewardChecker) {
    let sb = sandbox();
    let env = WasmEnvironment::new(&sb, &load(&sb, "shellsim"), PluginOptions::default())
        .await
        .unwrap();
    let checker = WasmRewardChecker::new(
        &sb,
        &load(&sb, "shellsim-checker"),
        PluginOptions::default(),
    )
    .await
    .unwrap();
    (env, checker)
}

#[tokio::test]
async fn shellsim_passes_the_conformance_check_with_its_checker() {
    let (env, mut checker) = env_and_checker().await;
    let report = check_environment(
        &env,
        Some(&mut checker),
        &EnvCheck {
            episodes: 2,
            seed: 3,
            budget: std::time::Duration::from_secs(600),
        },
        |_, _, _| {},
    )
    .await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert_eq!(report.tasks.len(), shellsim_model::catalog().len());
    assert!(report.tasks.len() >= 30);
    let levels: std::collections::BTreeSet<u8> = env
        .info()
        .tasks
        .iter()
        .filter_map(|t| t.difficulty)
        .collect();
    assert_eq!(levels.into_iter().collect::<Vec<_>>(), [1, 2, 3, 4]);
}

#[tokio::test]
async fn reference_solutions_succeed_and_doing_nothing_fails() {
    let (env, mut checker) = env_and_checker().await;
    let mut inst = env.instantiate().await.unwrap();
    let done = shellsim_model::Act::Done.index();
    for task in &env.info().tasks {
        for seed in 0..3 {
            let solution = shellsim_model::reference_solution(&task.id, seed).unwrap();
            let (tokens, ended, v) =
                play_and_judge(inst.as_mut(), &mut checker, task, seed, &solution).await;
            let native = shellsim_model::Episode::new(&task.id, seed).unwrap();
            assert_eq!(tokens, native.observe(false, true).tokens, "{}", task.id);
            assert!(ended, "{} seed {seed}", task.id);
            assert!(v.success, "{} seed {seed}: {}", task.id, v.reason);
            let (_, _, v) = play_and_judge(inst.as_mut(), &mut checker, task, seed, &[done]).await;
            assert!(!v.success, "{}: doing nothing must not succeed", task.id);
            assert!(!v.reason.is_empty());
        }
    }
}

#[tokio::test]
async fn bad_levels_are_refused_with_the_valid_ones() {
    let sb = sandbox();
    let err = WasmEnvironment::new(
        &sb,
        &load(&sb, "shellsim"),
        PluginOptions {
            config_json: r#"{"levels": [5]}"#.into(),
            ..PluginOptions::default()
        },
    )
    .await
    .err()
    .expect("level 5 is refused");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("levels: 5") && msg.contains("valid: 1, 2, 3, 4"),
        "{msg}"
    );
}

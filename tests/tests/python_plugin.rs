//! The Python resampler (componentize-py) loads through the same contract and answers.

use steprl_conformance::synthetic_stats;
use steprl_core::{CallError, GuestError, PlanRequest, Resampler};
use steprl_sandbox::{PluginKind, PluginOptions, WasmResampler};
use steprl_tests::{load, sandbox};

#[tokio::test]
async fn python_resampler_loads_and_plans_uniformly() {
    let sb = sandbox();
    let plugin = load(&sb, "uniform-py");
    assert_eq!(plugin.kind, PluginKind::Resampler);
    let mut r = WasmResampler::new(&sb, &plugin, PluginOptions::default())
        .await
        .unwrap();
    let stats = synthetic_stats(24);
    let request = PlanRequest {
        tasks_per_round: 6,
        copies_per_task: 3,
        seed: 5,
        settings: steprl_core::StepSettings::default(),
    };
    let plan = r.plan(0, &stats, &request).await.unwrap();
    assert_eq!(plan.len(), 18);
    let mut distinct: Vec<&String> = plan.iter().collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 6, "six distinct tasks, three copies each");
    assert!(plan.iter().all(|id| stats.iter().any(|s| &s.id == id)));
    assert_eq!(
        plan,
        r.plan(0, &stats, &request).await.unwrap(),
        "pure function"
    );
    let other = r
        .plan(0, &stats, &PlanRequest { seed: 6, ..request })
        .await
        .unwrap();
    assert_ne!(plan, other, "the seed changes the draw");
}

#[tokio::test]
async fn python_resampler_errors_are_typed() {
    let sb = sandbox();
    let plugin = load(&sb, "uniform-py");
    let err = WasmResampler::new(
        &sb,
        &plugin,
        PluginOptions {
            config_json: r#"{"replacement": true}"#.into(),
            ..PluginOptions::default()
        },
    )
    .await
    .err()
    .unwrap();
    assert!(
        err.to_string().contains("unknown key `replacement`"),
        "{err}"
    );
    let mut r = WasmResampler::new(&sb, &plugin, PluginOptions::default())
        .await
        .unwrap();
    let err = r
        .plan(
            0,
            &[],
            &PlanRequest {
                tasks_per_round: 1,
                copies_per_task: 1,
                seed: 0,
                settings: steprl_core::StepSettings::default(),
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CallError::Guest { error: GuestError::InvalidInput(_), plugin, .. } if plugin == "uniform-py"),
        "{err:?}"
    );
}

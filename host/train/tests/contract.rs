//! The trainer holds plugins to their contract, with native stand-ins for them: an
//! environment whose declarations break it (duplicate task ids) does not load, and a
//! resampler's plan larger than the B × N requested is cut to the request.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use steprl_core::{
    Action, ActionSpec, CallError, EnvInfo, EnvInstance, Environment, EpisodeId, Observation,
    ObservationParts, ObservationSpec, PlanRequest, Resampler, RewardChecker, StepResult, TaskInfo,
    TaskStat, TrajectorySummary, Verdict,
};
use steprl_train::{Plugins, RunConfig, Trainer};

/// One-step episodes over tasks `ids`.
struct OneStep {
    info: EnvInfo,
}

impl OneStep {
    fn new(ids: &[&str]) -> Self {
        OneStep {
            info: EnvInfo::new(
                ids.iter()
                    .map(|id| TaskInfo {
                        id: (*id).into(),
                        suite: "t".into(),
                        instruction: "i".into(),
                        max_steps: 3,
                        difficulty: None,
                        metadata_json: "{}".into(),
                    })
                    .collect(),
                ObservationSpec {
                    vocab_size: Some(4),
                    max_tokens: Some(1),
                    ..Default::default()
                },
                ActionSpec {
                    discrete: 2,
                    discrete_labels: vec![],
                    text: false,
                },
            ),
        }
    }
}

fn obs() -> Observation {
    Observation {
        tokens: Some(vec![1]),
        ..Default::default()
    }
}

struct Instance;

#[async_trait]
impl EnvInstance for Instance {
    async fn start(
        &mut self,
        _: &str,
        _: u64,
        _: ObservationParts,
    ) -> Result<EpisodeId, CallError> {
        Ok(EpisodeId(0))
    }
    async fn reset(&mut self, _: EpisodeId) -> Result<Observation, CallError> {
        Ok(obs())
    }
    async fn step(&mut self, _: EpisodeId, _: &Action) -> Result<StepResult, CallError> {
        Ok(StepResult {
            observation: obs(),
            reward: 0.0,
            done: true,
            truncated: false,
            info_json: String::new(),
        })
    }
    async fn final_state(&mut self, _: EpisodeId) -> Result<String, CallError> {
        Ok("{}".into())
    }
    async fn close(&mut self, _: EpisodeId) {}
}

#[async_trait]
impl Environment for OneStep {
    fn name(&self) -> &str {
        "one-step"
    }
    fn info(&self) -> &EnvInfo {
        &self.info
    }
    async fn instantiate(&self) -> Result<Box<dyn EnvInstance>, CallError> {
        Ok(Box::new(Instance))
    }
}

struct Fails;

#[async_trait]
impl RewardChecker for Fails {
    fn name(&self) -> &str {
        "fails"
    }
    async fn check(
        &mut self,
        _: &TaskInfo,
        _: &TrajectorySummary,
        _: &str,
    ) -> Result<Verdict, CallError> {
        Ok(Verdict {
            success: false,
            score: 0.0,
            reason: String::new(),
            step_rewards: None,
        })
    }
}

/// Plans `n` rollouts of task `a`, whatever was asked.
struct Greedy(usize);

/// Greedy(1) as a component without `resample-settings`: it cannot read the host's
/// STEP settings.
struct Deaf;

#[async_trait]
impl Resampler for Greedy {
    fn name(&self) -> &str {
        "greedy"
    }
    async fn plan(
        &mut self,
        _: u32,
        _: &[TaskStat],
        _: &PlanRequest,
    ) -> Result<Vec<String>, CallError> {
        Ok(vec!["a".into(); self.0])
    }
}

#[async_trait]
impl Resampler for Deaf {
    fn name(&self) -> &str {
        "deaf"
    }
    fn reads_settings(&self) -> bool {
        false
    }
    async fn plan(
        &mut self,
        round: u32,
        stats: &[TaskStat],
        request: &PlanRequest,
    ) -> Result<Vec<String>, CallError> {
        Greedy(1).plan(round, stats, request).await
    }
}

#[test]
fn changed_step_settings_warn_only_where_the_resampler_cannot_read_them() {
    use steprl_train::trainer::settings_unread;
    let mut cfg = config();
    assert_eq!(
        settings_unread(&cfg, &Deaf),
        None,
        "defaults: nothing to say"
    );
    cfg.algo.resample.adaptive = false;
    assert_eq!(settings_unread(&cfg, &Greedy(1)), None, "it reads them");
    let w = settings_unread(&cfg, &Deaf).expect("a warning");
    assert!(
        w.contains("`deaf`") && w.contains("adaptive = false") && w.contains("resample-settings"),
        "{w}"
    );
}

fn config() -> RunConfig {
    RunConfig::parse(
        r#"
seed = 1
rounds = 1
[env]
plugin = "env.wasm"
[checker]
plugin = "checker.wasm"
[resampler]
plugin = "resampler.wasm"
[rollout]
tasks_per_round = 2
copies_per_task = 3
concurrency = 2
[policy]
embed_dim = 4
hidden = 8
layers = 1
"#,
        Path::new("run.toml"),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn trainer(ids: &[&str], plan: usize, out: &Path) -> Result<Trainer, steprl_train::TrainError> {
    planned(ids, Box::new(Greedy(plan)), out)
}

/// A trainer on the CPU over one-step tasks `ids`, judged as failures, planned by
/// `resampler`, writing to `out`.
fn planned(
    ids: &[&str],
    resampler: Box<dyn Resampler>,
    out: &Path,
) -> Result<Trainer, steprl_train::TrainError> {
    let device = steprl_learner::select(steprl_learner::BackendChoice::Cpu)
        .unwrap()
        .device;
    Trainer::open(
        steprl_train::Start::Fresh(out),
        config(),
        Plugins {
            env: Arc::new(OneStep::new(ids)),
            checker: Box::new(Fails),
            resampler,
        },
        &device,
    )
}

#[test]
fn an_environment_with_duplicate_task_ids_does_not_load() {
    let dir = tempfile::tempdir().unwrap();
    let e = trainer(&["a", "b", "a"], 6, &dir.path().join("run"))
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("task id `a` appears more than once"), "{e}");
    assert!(e.contains("one-step"), "names the plugin: {e}");
}

#[tokio::test]
async fn a_plan_larger_than_requested_is_cut_to_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = trainer(&["a", "b"], 3_000_000, &dir.path().join("run")).unwrap();
    let m = t.round().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.trajectories, 2 * 3, "B × N = 6 rollouts, not 3,000,000");
}

/// Plans exactly the given rollouts.
struct Fixed(Vec<String>);

#[async_trait]
impl Resampler for Fixed {
    fn name(&self) -> &str {
        "fixed"
    }
    async fn plan(
        &mut self,
        _: u32,
        _: &[TaskStat],
        _: &PlanRequest,
    ) -> Result<Vec<String>, CallError> {
        Ok(self.0.clone())
    }
}

/// Seeded-random task lists (empty, repeated, odd or very long ids, many tasks) and
/// plans (empty, oversized, unknown or repeated ids) from hostile plugins: the trainer
/// refuses a bad task list by name, runs a round within the request, or refuses the
/// plan by name — never a panic, never more rollouts than B × N, never an unknown task.
#[tokio::test]
async fn random_task_lists_and_plans_are_run_within_the_request_or_refused_by_name() {
    let long = "x".repeat(10_000);
    let pool: Vec<&str> = vec!["a", "b", "", " ", "ünï/cødé", "a\u{0}b", "../x", &long, "9"];
    let mut rng = steprl_core::SplitMix::new(17, 0);
    let (mut refused_tasks, mut refused_plans, mut ran) = (0, 0, 0);
    for case in 0..60 {
        let n = match rng.below(6) {
            0 => 0,
            1 => 400 + rng.below(400),
            _ => 1 + rng.below(8),
        };
        let ids: Vec<String> = (0..n)
            .map(|i| {
                if n > 20 {
                    format!("t{i}")
                } else {
                    (*rng.pick(&pool)).to_owned()
                }
            })
            .collect();
        let plan: Vec<String> = match rng.below(5) {
            0 => Vec::new(),
            1 => vec![ids.first().cloned().unwrap_or_default(); 10_000],
            2 => vec!["not-a-task".into(); 1 + rng.below(4)],
            _ => (0..1 + rng.below(8))
                .map(|_| {
                    if ids.is_empty() {
                        "a".to_owned()
                    } else {
                        rng.pick(&ids).clone()
                    }
                })
                .collect(),
        };
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let dir = tempfile::tempdir().unwrap();
        let t = planned(
            &refs,
            Box::new(Fixed(plan.clone())),
            &dir.path().join("run"),
        );
        let mut t = match t {
            Ok(t) => t,
            Err(e) => {
                let e = e.to_string();
                assert!(
                    e.contains("one-step"),
                    "case {case}: a refused task list names the plugin: {e}"
                );
                refused_tasks += 1;
                continue;
            }
        };
        match t.round().await {
            Ok(m) => {
                ran += 1;
                assert!(
                    m.trajectories + m.plugin_failures <= 6,
                    "case {case}: {m:?}"
                );
                assert!(
                    m.task_rollouts.keys().all(|k| ids.contains(k)),
                    "case {case}: ran a task the environment does not offer"
                );
            }
            Err(e) => {
                let e = e.to_string();
                assert!(
                    e.contains("resampler `fixed`"),
                    "case {case}: a refused plan names the resampler: {e}"
                );
                refused_plans += 1;
            }
        }
    }
    assert!(
        refused_tasks > 0 && refused_plans > 0 && ran > 0,
        "every outcome was exercised: {refused_tasks} task lists refused, {refused_plans} plans refused, {ran} rounds run"
    );
}

/// A suite of 200,000 tasks: loading, the record and a round stay linear in the tasks
/// (task lookup is by map, not a search per episode).
#[tokio::test]
async fn a_suite_of_200000_tasks_loads_and_runs_a_round() {
    let ids: Vec<String> = (0..200_000).map(|i| format!("task-{i:06}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let mut t = planned(
        &refs,
        Box::new(Fixed(vec![ids[199_999].clone(); 6])),
        &dir.path().join("run"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.tasks().len(), 200_000);
    let m = t.round().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.trajectories, 6);
    eprintln!(
        "200,000 tasks: load and one round in {:?}",
        started.elapsed()
    );
}

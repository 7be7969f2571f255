//! Conformance runs behind `steprl plugin check`, as a library that tests and plugin
//! authors call too: random-policy episodes that validate every observation and replay
//! determinism for environments, generated calls for reward checkers and resamplers,
//! and demonstration replays. Works on the core traits, so native implementations are
//! checked the same way as sandboxed plugins.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use steprl_core::validate::{observation_problems, plan_problems, spec_problems, verdict_problems};
use steprl_core::{
    Action, CallError, EnvInfo, EnvInstance, Environment, ObservationParts, PlanRequest, Resampler,
    RewardChecker, StepResult, TaskInfo, TaskStat, TrajectorySummary,
};

/// One broken rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The task it happened in, if any.
    pub task: Option<String>,
    /// What was wrong.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.task {
            Some(t) => write!(f, "task `{t}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Latency samples of one call kind.
#[derive(Debug, Clone, Default)]
pub struct Timing(Vec<Duration>);

impl Timing {
    fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    /// Number of samples.
    pub fn count(&self) -> usize {
        self.0.len()
    }

    /// The samples' sum.
    pub fn total(&self) -> Duration {
        self.0.iter().sum()
    }

    /// Mean, or zero without samples.
    pub fn mean(&self) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        self.0.iter().sum::<Duration>() / self.0.len() as u32
    }

    /// The q-quantile (0..=1), or zero without samples.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let mut v = self.0.clone();
        v.sort();
        v[((v.len() - 1) as f64 * q).round() as usize]
    }
}

/// Per-task results of an environment run.
#[derive(Debug, Clone, Default)]
pub struct TaskRow {
    /// Task id.
    pub id: String,
    /// Difficulty.
    pub level: Option<u8>,
    /// Episodes run (the replay for determinism not counted).
    pub episodes: u32,
    /// Steps over all episodes.
    pub steps: u64,
    /// Episodes that ended with `done`.
    pub done: u32,
    /// Episodes that were truncated.
    pub truncated: u32,
    /// Successes according to the checker, if one was given.
    pub successes: Option<u32>,
    /// Violations in this task.
    pub violations: u32,
    /// The task declares itself not replayable (a live VM or emulator): its replay
    /// was checked to run consistently, not to match.
    pub live: bool,
}

/// What an environment conformance run found.
#[derive(Debug, Clone, Default)]
pub struct EnvReport {
    /// Per task.
    pub tasks: Vec<TaskRow>,
    /// `reset` latencies.
    pub reset: Timing,
    /// `step` latencies.
    pub step: Timing,
    /// `check` latencies of the `--with` reward checker.
    pub check: Timing,
    /// Everything that broke the contract.
    pub violations: Vec<Violation>,
    /// The check stopped early: a kind of call used up its wall-clock budget.
    pub stopped: bool,
}

/// Settings of an environment conformance run.
#[derive(Debug, Clone)]
pub struct EnvCheck {
    /// Random-policy episodes per task.
    pub episodes: u32,
    /// Base seed (task i, episode e uses a seed derived from it).
    pub seed: u64,
    /// Wall-clock cap on the total time of each kind of call over the whole check.
    pub budget: Duration,
}

/// The violation of a kind of call whose total time passed `budget`, if one did.
fn over_budget(calls: &[(&str, &Timing)], budget: Duration) -> Option<Violation> {
    let (call, t) = calls.iter().find(|(_, t)| t.total() > budget)?;
    Some(Violation {
        task: None,
        message: format!(
            "`{call}` calls took {:.3} s in all ({} calls), past the check's budget of {:.3} s per kind of call (--budget-s); the check stopped there",
            t.total().as_secs_f64(),
            t.count(),
            budget.as_secs_f64()
        ),
    })
}

impl EnvReport {
    /// Stop when reset, step or check calls used up the budget.
    fn stop_if_over(&mut self, budget: Duration) -> bool {
        if !self.stopped {
            let calls = [
                ("reset", &self.reset),
                ("step", &self.step),
                ("check", &self.check),
            ];
            if let Some(v) = over_budget(&calls, budget) {
                self.violations.push(v);
                self.stopped = true;
            }
        }
        self.stopped
    }
}

/// Run `opts.episodes` random-policy episodes of every task, validating every
/// observation; replay each task's first episode to check determinism (for a task that
/// declares `"replayable": false`, a live VM or emulator, to check that the replay runs
/// and keeps to the spaces); judge final states with `checker` if given.
pub async fn check_environment(
    env: &dyn Environment,
    mut checker: Option<&mut dyn RewardChecker>,
    opts: &EnvCheck,
    mut progress: impl FnMut(usize, usize, &str),
) -> EnvReport {
    let info = env.info();
    let mut report = EnvReport {
        violations: spec_problems(info)
            .into_iter()
            .map(|message| Violation {
                task: None,
                message,
            })
            .collect(),
        ..Default::default()
    };
    let mut instance = match env.instantiate().await {
        Ok(i) => i,
        Err(e) => {
            report.violations.push(Violation {
                task: None,
                message: e.to_string(),
            });
            return report;
        }
    };
    let n = info.tasks.len();
    for (ti, task) in info.tasks.iter().enumerate() {
        progress(ti, n, &task.id);
        let mut row = TaskRow {
            id: task.id.clone(),
            level: task.difficulty,
            successes: checker.as_ref().map(|_| 0),
            live: !task.replayable(),
            ..Default::default()
        };
        let before = report.violations.len();
        for e in 0..opts.episodes {
            if report.stop_if_over(opts.budget) {
                break;
            }
            let seed = steprl_core::seeds::conformance_episode(opts.seed, ti, e);
            let run = run_episode(&mut *instance, info, task, seed, &mut report, opts.budget).await;
            let trace = match run {
                Ok(t) => t,
                Err(err) => {
                    report.violations.push(Violation {
                        task: Some(task.id.clone()),
                        message: err.to_string(),
                    });
                    continue;
                }
            };
            if report.stop_if_over(opts.budget) {
                break;
            }
            row.episodes += 1;
            row.steps += trace.results.len() as u64;
            row.done += u32::from(trace.summary.done);
            row.truncated += u32::from(trace.summary.truncated);
            if let Some(c) = checker.as_deref_mut() {
                match judge_twice(c, task, &trace, &mut report.check).await {
                    Ok(success) => {
                        if let Some(s) = row.successes.as_mut() {
                            *s += u32::from(success);
                        }
                    }
                    Err(message) => report.violations.push(Violation {
                        task: Some(task.id.clone()),
                        message,
                    }),
                }
            }
            if e == 0 {
                let mut scratch = EnvReport::default();
                let replay =
                    run_episode(&mut *instance, info, task, seed, &mut scratch, opts.budget).await;
                report.reset.0.append(&mut scratch.reset.0);
                report.step.0.append(&mut scratch.step.0);
                if report.stop_if_over(opts.budget) {
                    break;
                }
                match replay {
                    // A live environment's replay need only run: its setup succeeds
                    // again and its observations keep to the spaces (checked as it ran).
                    Ok(_) if row.live => report.violations.extend(scratch.violations),
                    Ok(replay) if replay != trace => report.violations.push(Violation {
                        task: Some(task.id.clone()),
                        message: format!(
                            "not deterministic: seed {seed} with the same actions gave a different episode ({})",
                            trace.first_difference(&replay)
                        ),
                    }),
                    Ok(_) => {}
                    Err(err) => report.violations.push(Violation {
                        task: Some(task.id.clone()),
                        message: format!("replay failed: {err}"),
                    }),
                }
            }
        }
        row.violations = (report.violations.len() - before) as u32;
        report.tasks.push(row);
        if report.stopped {
            break;
        }
    }
    progress(n, n, "");
    report
}

/// Everything observable about one episode, for the determinism comparison.
#[derive(Debug, Clone, PartialEq)]
struct Trace {
    first: steprl_core::Observation,
    results: Vec<StepResult>,
    final_state: String,
    summary: TrajectorySummary,
}

impl Trace {
    fn first_difference(&self, other: &Trace) -> String {
        if self.first != other.first {
            return "the first observation differs".into();
        }
        if let Some(i) = self
            .results
            .iter()
            .zip(&other.results)
            .position(|(a, b)| a != b)
        {
            return format!("step {} differs", i + 1);
        }
        if self.results.len() != other.results.len() {
            return format!(
                "{} steps versus {}",
                self.results.len(),
                other.results.len()
            );
        }
        "the final state differs".into()
    }
}

/// Pick a random allowed action (uniform over the mask).
fn random_action(rng: &mut StdRng, info: &EnvInfo, mask: Option<&[bool]>) -> Action {
    let n = info.action.discrete;
    if n == 0 {
        return Action::Text("WAIT".into());
    }
    match mask {
        Some(m) => {
            let allowed: Vec<u32> = (0..n)
                .filter(|&i| m.get(i as usize) == Some(&true))
                .collect();
            if allowed.is_empty() {
                Action::Discrete(rng.random_range(0..n))
            } else {
                Action::Discrete(allowed[rng.random_range(0..allowed.len())])
            }
        }
        None => Action::Discrete(rng.random_range(0..n)),
    }
}

async fn run_episode(
    instance: &mut dyn EnvInstance,
    info: &EnvInfo,
    task: &TaskInfo,
    seed: u64,
    report: &mut EnvReport,
    budget: Duration,
) -> Result<Trace, CallError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let ep = instance
        .start(&task.id, seed, ObservationParts::ALL)
        .await?;
    let t0 = Instant::now();
    let first = instance.reset(ep).await;
    report.reset.push(t0.elapsed());
    let first = match first {
        Ok(o) => o,
        Err(e) => {
            instance.close(ep).await;
            return Err(e);
        }
    };
    let flag = |report: &mut EnvReport, step: usize, problems: Vec<String>| {
        for p in problems {
            report.violations.push(Violation {
                task: Some(task.id.clone()),
                message: format!("seed {seed}, step {step}: {p}"),
            });
        }
    };
    flag(report, 0, observation_problems(info, &first));
    let mut results: Vec<StepResult> = Vec::new();
    let mut actions = Vec::new();
    let mut mask = first.action_mask.clone();
    loop {
        if results.len() > task.max_steps as usize {
            flag(
                report,
                results.len(),
                vec![format!(
                    "the episode did not end after max-steps {}",
                    task.max_steps
                )],
            );
            break;
        }
        let action = random_action(&mut rng, info, mask.as_deref());
        let t0 = Instant::now();
        let r = instance.step(ep, &action).await;
        report.step.push(t0.elapsed());
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                instance.close(ep).await;
                return Err(e);
            }
        };
        actions.push(action);
        let mut problems = observation_problems(info, &r.observation);
        if !r.reward.is_finite() {
            problems.push(format!("reward {} is not a finite number", r.reward));
        }
        problems.extend(steprl_core::validate::info_problem(&r.info_json));
        flag(report, results.len() + 1, problems);
        mask = r.observation.action_mask.clone();
        let end = r.done || r.truncated;
        results.push(r);
        // Out of budget: the episode is cut short and the caller stops the check.
        if end || report.step.total() > budget {
            break;
        }
    }
    let final_state = instance.final_state(ep).await;
    instance.close(ep).await;
    let final_state = final_state?;
    if serde_json::from_str::<serde_json::Value>(&final_state).is_err() {
        flag(
            report,
            results.len(),
            vec!["final-state is not valid JSON".to_owned()],
        );
    }
    let last = results.last();
    let summary = TrajectorySummary {
        seed,
        rewards: results.iter().map(|r| r.reward).collect(),
        done: last.is_some_and(|r| r.done),
        truncated: last.is_some_and(|r| r.truncated),
        actions,
    };
    Ok(Trace {
        first,
        results,
        final_state,
        summary,
    })
}

/// Judge an episode twice (each call timed): the verdicts must agree and the score lie
/// in [0, 1].
async fn judge_twice(
    checker: &mut dyn RewardChecker,
    task: &TaskInfo,
    trace: &Trace,
    timing: &mut Timing,
) -> Result<bool, String> {
    let mut judge = async || {
        let t0 = Instant::now();
        let v = checker
            .check(task, &trace.summary, &trace.final_state)
            .await
            .map_err(|e| e.to_string());
        timing.push(t0.elapsed());
        v
    };
    let a = judge().await?;
    let b = judge().await?;
    let problems = verdict_problems(&a);
    if !problems.is_empty() {
        return Err(format!(
            "checker `{}`: {}",
            checker.name(),
            problems.join("; ")
        ));
    }
    if a != b {
        return Err(format!(
            "checker `{}` is not deterministic: {a:?} then {b:?}",
            checker.name()
        ));
    }
    Ok(a.success)
}

/// What a standalone reward-checker run found.
#[derive(Debug, Clone, Default)]
pub struct CheckerReport {
    /// Calls made.
    pub calls: u32,
    /// Calls answered with a verdict.
    pub verdicts: u32,
    /// Calls answered with a typed plugin error (allowed for made-up inputs).
    pub guest_errors: u32,
    /// Latencies.
    pub timing: Timing,
    /// Problems.
    pub violations: Vec<Violation>,
}

/// Call a reward checker with made-up inputs: it must answer (a verdict or a typed
/// error, never a trap), deterministically, with scores in [0, 1].
pub async fn check_checker(
    checker: &mut dyn RewardChecker,
    seed: u64,
    budget: Duration,
) -> CheckerReport {
    let mut report = CheckerReport::default();
    let task = TaskInfo {
        id: "conformance.synthetic".into(),
        suite: "conformance".into(),
        instruction: "A made-up task the checker has never seen".into(),
        max_steps: 10,
        difficulty: Some(1),
        metadata_json: "{}".into(),
    };
    let inputs = [
        (vec![], "{}"),
        (vec![Action::Discrete(0), Action::Discrete(1)], "{}"),
        (vec![Action::Text("DONE".into())], r#"{"state":"unknown"}"#),
        (vec![], "not json"),
    ];
    for (i, (actions, final_state)) in inputs.iter().enumerate() {
        let summary = TrajectorySummary {
            seed: seed + i as u64,
            rewards: vec![0.0; actions.len()],
            done: !actions.is_empty(),
            truncated: false,
            actions: actions.clone(),
        };
        if let Some(v) = over_budget(&[("check", &report.timing)], budget) {
            report.violations.push(v);
            break;
        }
        let mut answers = Vec::new();
        for _ in 0..2 {
            report.calls += 1;
            let t0 = Instant::now();
            let r = checker.check(&task, &summary, final_state).await;
            report.timing.push(t0.elapsed());
            match &r {
                Ok(v) => {
                    report.verdicts += 1;
                    for problem in verdict_problems(v) {
                        report.violations.push(Violation {
                            task: None,
                            message: format!("input {i}: {problem}"),
                        });
                    }
                }
                Err(CallError::Guest { .. }) => report.guest_errors += 1,
                Err(e) => report.violations.push(Violation {
                    task: None,
                    message: format!("input {i}: {e}"),
                }),
            }
            // Compared as printed, so NaN scores (reported above) compare equal.
            answers.push(format!("{:?}", r.map_err(|e| e.to_string())));
        }
        if answers[0] != answers[1] {
            report.violations.push(Violation {
                task: None,
                message: format!(
                    "input {i}: not deterministic ({} then {})",
                    answers[0], answers[1]
                ),
            });
        }
    }
    report
}

/// What a resampler run found.
#[derive(Debug, Clone, Default)]
pub struct ResamplerReport {
    /// Rounds planned.
    pub rounds: u32,
    /// Rollouts planned per round.
    pub plan_sizes: Vec<usize>,
    /// Rollouts per success-rate bucket over all rounds (`unseen`, `0`, `(0,0.5)`, ...).
    pub by_rate: BTreeMap<&'static str, usize>,
    /// Latencies.
    pub timing: Timing,
    /// Problems.
    pub violations: Vec<Violation>,
}

fn bucket(rate: Option<f64>) -> &'static str {
    match rate {
        None => "unseen",
        Some(r) if r <= 0.0 => "0",
        Some(r) if r < 0.5 => "(0, 0.5)",
        Some(r) if r < 1.0 => "[0.5, 1)",
        Some(_) => "1",
    }
}

/// Synthetic success records: every fourth task unseen, the rest spread over [0, 1].
pub fn synthetic_stats(n: usize) -> Vec<TaskStat> {
    (0..n)
        .map(|i| {
            let seen = i % 4 != 3;
            let rate = (i % 5) as f64 / 4.0;
            TaskStat {
                id: format!("task-{i:02}"),
                attempts: if seen { 8 } else { 0 },
                successes: if seen { (rate * 8.0).round() as u32 } else { 0 },
                smoothed_rate: seen.then_some(rate),
                last_round: seen.then_some(0),
            }
        })
        .collect()
}

/// Ask a resampler for `rounds` plans over synthetic records: only known task ids,
/// non-empty, and the same inputs give the same plan.
pub async fn check_resampler(
    resampler: &mut dyn Resampler,
    seed: u64,
    rounds: u32,
    budget: Duration,
) -> ResamplerReport {
    let stats = synthetic_stats(24);
    let mut report = ResamplerReport::default();
    for round in 0..rounds {
        if let Some(v) = over_budget(&[("plan", &report.timing)], budget) {
            report.violations.push(v);
            break;
        }
        let request = PlanRequest {
            tasks_per_round: 8,
            copies_per_task: 4,
            seed,
            settings: steprl_core::StepSettings::default(),
        };
        let t0 = Instant::now();
        let a = resampler.plan(round, &stats, &request).await;
        report.timing.push(t0.elapsed());
        let b = resampler.plan(round, &stats, &request).await;
        report.rounds += 1;
        let plan = match (a, b) {
            (Ok(a), Ok(b)) if a == b => a,
            (Ok(a), Ok(b)) => {
                report.violations.push(Violation {
                    task: None,
                    message: format!(
                        "round {round}: the same inputs gave two different plans ({} and {} rollouts); plans must be pure functions of their inputs",
                        a.len(),
                        b.len()
                    ),
                });
                a
            }
            (Err(e), _) | (_, Err(e)) => {
                report.violations.push(Violation {
                    task: None,
                    message: format!("round {round}: {e}"),
                });
                continue;
            }
        };
        for problem in plan_problems(&plan, &request) {
            report.violations.push(Violation {
                task: None,
                message: format!("round {round}: {problem}"),
            });
        }
        report.plan_sizes.push(plan.len());
        for id in &plan {
            match stats.iter().find(|s| &s.id == id) {
                Some(s) => *report.by_rate.entry(bucket(s.smoothed_rate)).or_default() += 1,
                None => report.violations.push(Violation {
                    task: None,
                    message: format!("round {round}: the plan names unknown task `{id}`"),
                }),
            }
        }
    }
    report
}

/// What replaying known solutions found: how many the checker judged a success, and
/// each demonstration that did not replay or was not judged a success.
#[derive(Debug, Default)]
pub struct DemoReport {
    /// Demonstrations replayed to their end.
    pub replayed: u32,
    /// Of those, the ones the checker judged a success.
    pub successes: u32,
    /// What went wrong, one per failing demonstration.
    pub violations: Vec<Violation>,
}

/// Replay known solutions (`demos`, each with its line in `file`) through `env` and
/// `checker`: every one must run through its actions, end, and be judged a success —
/// the success path a random policy rarely reaches.
pub async fn check_demos(
    env: &dyn Environment,
    checker: &mut dyn RewardChecker,
    demos: &[(usize, steprl_core::Demo)],
    file: &str,
) -> DemoReport {
    let mut report = DemoReport::default();
    let info = env.info();
    let mut inst: Option<Box<dyn EnvInstance>> = None;
    for (line, demo) in demos {
        let fail = |message: String| Violation {
            task: Some(demo.task.clone()),
            message: format!("demonstration {file}, line {line}: {message}"),
        };
        if inst.is_none() {
            match env.instantiate().await {
                Ok(i) => inst = Some(i),
                Err(e) => {
                    report.violations.push(fail(e.to_string()));
                    continue;
                }
            }
        }
        let i = inst.as_mut().expect("just made");
        match replay_demo(i.as_mut(), &mut *checker, info, demo).await {
            Ok(verdict) => {
                report.replayed += 1;
                if verdict.success {
                    report.successes += 1;
                } else {
                    report.violations.push(fail(format!(
                        "the checker judged the known solution a failure (score {}): {}",
                        verdict.score, verdict.reason
                    )));
                }
            }
            Err(message) => report.violations.push(fail(message)),
        }
    }
    report
}

/// One demonstration through `inst` and `checker`: its verdict, or what went wrong.
async fn replay_demo(
    inst: &mut dyn EnvInstance,
    checker: &mut dyn RewardChecker,
    info: &EnvInfo,
    demo: &steprl_core::Demo,
) -> Result<steprl_core::Verdict, String> {
    let task = info
        .task(&demo.task)
        .ok_or_else(|| format!("the environment offers no task `{}`", demo.task))?;
    let actions = demo
        .actions
        .iter()
        .enumerate()
        .map(|(k, a)| {
            info.action
                .parse_action(a)
                .map_err(|e| format!("action {}: {e}", k + 1))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let episode = inst
        .start(&task.id, demo.seed, ObservationParts::ALL)
        .await
        .map_err(|e| e.to_string())?;
    let outcome = play_demo(inst, checker, task, demo, &actions, episode).await;
    inst.close(episode).await;
    outcome
}

/// The steps, final state and verdict of a started demonstration episode.
async fn play_demo(
    inst: &mut dyn EnvInstance,
    checker: &mut dyn RewardChecker,
    task: &TaskInfo,
    demo: &steprl_core::Demo,
    actions: &[Action],
    episode: steprl_core::EpisodeId,
) -> Result<steprl_core::Verdict, String> {
    inst.reset(episode).await.map_err(|e| e.to_string())?;
    let (mut done, mut truncated) = (false, false);
    let mut rewards = Vec::new();
    for (k, a) in actions.iter().enumerate() {
        if done || truncated {
            return Err(format!(
                "the episode ended after {k} of its {} actions",
                actions.len()
            ));
        }
        let r = inst
            .step(episode, a)
            .await
            .map_err(|e| format!("action {} (`{}`): {e}", k + 1, demo.actions[k]))?;
        rewards.push(r.reward);
        done = r.done;
        truncated = r.truncated;
    }
    if !done && !truncated {
        return Err(format!(
            "the episode had not ended after its {} actions",
            actions.len()
        ));
    }
    let state = inst.final_state(episode).await.map_err(|e| e.to_string())?;
    let summary = TrajectorySummary {
        seed: demo.seed,
        actions: actions.to_vec(),
        rewards,
        done,
        truncated,
    };
    checker
        .check(task, &summary, &state)
        .await
        .map_err(|e| e.to_string())
}

//! The rollout pool over a native test environment: ordering, determinism, budget
//! accounting, batching, and plugin failures that end only their own episode. Each run
//! through [`run`] also runs with free-running lanes and must give the same results.

mod common;

use std::sync::Arc;

use common::{Biased, Corridor, GoalChecker, specs};
use steprl_core::*;
use steprl_rollout::{
    EpisodeResult, EpisodeSpec, Outcome, Pool, RolloutConfig, RolloutStats, Sampling, Stepping,
};

/// Run `plan` on a fresh pool of corridors with `policy`, judged by the goal checker,
/// `concurrency` episodes at a time, in lock-step turns. The same plan run with
/// free-running lanes (by a fresh policy) must give the same results and counts.
async fn run(
    plan: &[EpisodeSpec],
    policy: &mut Biased,
    concurrency: usize,
    sampling: Sampling,
) -> (Vec<EpisodeResult>, RolloutStats) {
    let cfg = RolloutConfig::whole(concurrency, sampling);
    let turns = Pool::new(Arc::new(Corridor))
        .run(plan, policy, &mut GoalChecker, &cfg)
        .await
        .expect("rollout");
    let free = RolloutConfig {
        stepping: Stepping::Free,
        ..cfg
    };
    let (results, stats) = Pool::new(Arc::new(Corridor))
        .run(plan, &mut Biased::default(), &mut GoalChecker, &free)
        .await
        .expect("free-running rollout");
    assert_eq!(
        results, turns.0,
        "free-running lanes play the same episodes"
    );
    assert_eq!(counts(&stats), counts(&turns.1));
    turns
}

/// A rollout's counters (its timings and batches depend on the stepping).
fn counts(s: &RolloutStats) -> [u64; 9] {
    [
        s.env_steps,
        s.trajectories,
        s.plugin_failures,
        s.lost,
        s.invalid_actions,
        s.host_truncated,
        s.resets,
        s.carried,
        s.abandoned,
    ]
}

#[tokio::test]
async fn results_come_back_in_plan_order_and_replay_exactly() {
    let plan = specs(&[
        "goal-1", "goal-2", "goal-1", "goal-2", "goal-1", "goal-2", "goal-1",
    ]);
    let (a, stats) = run(&plan, &mut Biased::default(), 3, Sampling::Sample).await;
    assert_eq!(a.len(), plan.len());
    for (r, s) in a.iter().zip(&plan) {
        assert_eq!(&r.spec, s);
        assert!(r.done || r.truncated);
        assert_eq!(r.transitions.len(), r.anchors.len());
        assert!(matches!(r.outcome, Outcome::Judged { .. }));
    }
    let steps: usize = a.iter().map(|r| r.transitions.len()).sum();
    assert_eq!(stats.env_steps, steps as u64);
    assert_eq!(stats.trajectories, 7);
    // Every episode's start and reset is timed once; the longest is one of them.
    assert_eq!(stats.resets, 7);
    assert!(stats.reset_max <= stats.reset);
    // Same plan, same seeds → same trajectories, whatever the concurrency.
    let (b, _) = run(&plan, &mut Biased::default(), 5, Sampling::Sample).await;
    assert_eq!(a, b);
}

#[tokio::test]
async fn inference_is_batched_over_waiting_lanes() {
    let plan = specs(&["goal-1"; 8]);
    let mut policy = Biased::default();
    run(&plan, &mut policy, 4, Sampling::Sample).await;
    assert_eq!(policy.batches[0], 4, "the first batch holds every lane");
    assert!(policy.batches.iter().all(|b| *b <= 4));
}

#[tokio::test]
async fn masked_actions_are_never_taken_and_logps_are_recorded() {
    let plan = specs(&["goal-2"; 6]);
    let (res, _) = run(&plan, &mut Biased::default(), 2, Sampling::Sample).await;
    for r in &res {
        for t in &r.transitions {
            let Action::Discrete(a) = t.action else {
                panic!("a text action")
            };
            let mask = t.observation.action_mask.as_ref().expect("corridor masks");
            assert!(mask[a as usize], "took a masked action");
            assert!(t.logp.is_finite() && t.logp <= 0.0);
        }
    }
}

#[tokio::test]
async fn greedy_policy_walks_right_until_truncated() {
    let plan = specs(&["goal-2"]);
    let (res, _) = run(&plan, &mut Biased::default(), 1, Sampling::Greedy).await;
    let acts: Vec<Action> = res[0]
        .transitions
        .iter()
        .map(|t| t.action.clone())
        .collect();
    assert_eq!(acts, vec![Action::Discrete(1); 6]);
    // The raw observations are recorded: positions 0..5 as tokens 10..15.
    let seen: Vec<u32> = res[0]
        .transitions
        .iter()
        .map(|t| t.observation.tokens.as_ref().unwrap()[0])
        .collect();
    assert_eq!(seen, vec![10, 11, 12, 13, 14, 15]);
    assert!(res[0].truncated && !res[0].success());
}

#[tokio::test]
async fn a_plugin_failure_ends_only_its_episode() {
    let plan = specs(&["goal-1", "broken", "goal-2", "broken", "goal-1"]);
    let (res, stats) = run(&plan, &mut Biased::default(), 2, Sampling::Sample).await;
    for (r, s) in res.iter().zip(&plan) {
        if s.task == "broken" {
            match &r.outcome {
                Outcome::PluginFailure { error } => assert!(error.contains("boom"), "{error}"),
                other => panic!("{other:?}"),
            }
        } else {
            assert!(
                matches!(r.outcome, Outcome::Judged { .. }),
                "{:?}",
                r.outcome
            );
        }
    }
    assert_eq!(stats.plugin_failures, 2);
    assert_eq!(stats.trajectories, 3);
}

/// Asks for text, which the corridor never sends.
struct WantsText;

impl Policy for WantsText {
    fn parts(&self) -> ObservationParts {
        ObservationParts {
            text: true,
            ..ObservationParts::default()
        }
    }

    fn check(&self, observation: &Observation) -> Result<(), String> {
        observation
            .text
            .as_ref()
            .map(|_| ())
            .ok_or("this policy reads text and the observation has none".into())
    }

    fn act(&mut self, _: &[View<'_>], _: Sampling, _: &mut [&mut SplitMix]) -> Vec<Decision> {
        unreachable!("never asked to act on an observation it refused")
    }
}

#[tokio::test]
async fn an_observation_the_policy_cannot_read_ends_the_episode_with_its_reason() {
    let plan = specs(&["goal-1", "goal-2"]);
    let cfg = RolloutConfig {
        concurrency: 2,
        sampling: Sampling::Sample,
        policy_version: 0,
        deadline: None,
        partial: false,
        stepping: Stepping::Lockstep,
    };
    let (res, stats) = Pool::new(Arc::new(Corridor))
        .run(&plan, &mut WantsText, &mut GoalChecker, &cfg)
        .await
        .expect("rollout");
    assert_eq!(stats.plugin_failures, 2);
    for r in &res {
        match &r.outcome {
            Outcome::PluginFailure { error } => {
                assert!(error.contains("reads text"), "{error}")
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn progress_counts_finished_episodes_up_to_the_plan() {
    let plan = specs(&["goal-1", "broken", "goal-2", "goal-1", "goal-2"]);
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut pool = Pool::new(Arc::new(Corridor));
    let log = seen.clone();
    pool.on_progress(Box::new(move |done, total| {
        log.lock().unwrap().push((done, total))
    }));
    let cfg = RolloutConfig {
        concurrency: 2,
        sampling: Sampling::Sample,
        policy_version: 0,
        deadline: None,
        partial: false,
        stepping: Stepping::Lockstep,
    };
    pool.run(&plan, &mut Biased::default(), &mut GoalChecker, &cfg)
        .await
        .expect("rollout");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.last(), Some(&(5, 5)), "{seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "strictly increasing: {seen:?}"
    );
    assert!(seen.iter().all(|(_, t)| *t == 5));
}

#[tokio::test]
async fn the_host_truncates_an_episode_the_environment_never_ends_at_max_steps() {
    let plan = specs(&["endless", "goal-1"]);
    let (res, stats) = run(&plan, &mut Biased::default(), 2, Sampling::Sample).await;
    assert_eq!(res[0].transitions.len(), 6, "max-steps of the task");
    assert!(res[0].truncated && !res[0].done);
    assert!(
        matches!(res[0].outcome, Outcome::Judged { .. }),
        "{:?}",
        res[0].outcome
    );
    assert_eq!(stats.host_truncated, 1, "the corridor ends goal-1 itself");
}

#[tokio::test]
async fn observations_and_verdicts_outside_the_contract_are_plugin_failures() {
    let plan = specs(&[
        "bad-token",
        "nan-score",
        "goal-1",
        "huge-state",
        "long-reason",
    ]);
    let (res, stats) = run(&plan, &mut Biased::default(), 3, Sampling::Greedy).await;
    let error = |r: &EpisodeResult| match &r.outcome {
        Outcome::PluginFailure { error } => error.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        error(&res[0]),
        "environment `corridor` returned an observation outside its declared spaces: token 0 is id 99, outside the vocabulary of 32"
    );
    assert_eq!(
        error(&res[1]),
        "reward checker `goal` returned a verdict outside its contract: score NaN is not a number in [0, 1]"
    );
    assert!(matches!(res[2].outcome, Outcome::Judged { .. }));
    // A final state over the cap is not judged (nor kept); a long reason is cut.
    assert_eq!(
        error(&res[3]),
        "environment `corridor`, task `huge-state`: its final state is 17.0 MiB, above the 16 MiB the host accepts"
    );
    let Outcome::Judged { reason, .. } = &res[4].outcome else {
        panic!("{:?}", res[4].outcome);
    };
    assert!(
        reason.ends_with("(35904 more characters cut)"),
        "{}",
        reason.len()
    );
    assert_eq!(stats.plugin_failures, 3);
}

/// Partial rollouts: a run whose deadline has already passed closes after one turn and
/// carries the episodes in flight (and the specs it did not start) into the next run,
/// which continues them first with the policy version it is given. Over the two runs
/// every episode comes back exactly once, as the whole run plays it: the same
/// actions, log-probabilities and verdicts, with each step marked by the version that
/// took it.
#[tokio::test]
async fn a_closed_run_carries_its_episodes_into_the_next_which_finishes_them_exactly() {
    for stepping in [Stepping::Lockstep, Stepping::Free] {
        closed_then_continued(stepping).await;
    }
}

async fn closed_then_continued(stepping: Stepping) {
    let plan = specs(&["goal-2", "goal-1", "goal-2", "goal-2", "goal-1"]);
    let (whole, _) = run(&plan, &mut Biased::default(), 3, Sampling::Sample).await;

    let mut pool = Pool::new(Arc::new(Corridor));
    let mut policy = Biased::default();
    let closed = RolloutConfig {
        deadline: Some(std::time::Instant::now()),
        partial: true,
        stepping,
        ..RolloutConfig::whole(3, Sampling::Sample)
    };
    let (first, s1) = pool
        .run(&plan, &mut policy, &mut GoalChecker, &closed)
        .await
        .unwrap();
    assert_eq!(s1.env_steps, 3, "one step of each of three lanes");
    assert_eq!(first.len() as u64 + s1.carried, plan.len() as u64);
    assert!(s1.carried >= 3, "{s1:?}");
    assert_eq!(pool.carried() as u64, s1.carried);

    let next = RolloutConfig {
        policy_version: 1,
        partial: true,
        stepping,
        ..RolloutConfig::whole(3, Sampling::Sample)
    };
    let (second, s2) = pool
        .run(&[], &mut policy, &mut GoalChecker, &next)
        .await
        .unwrap();
    assert_eq!(s2.carried, 0);
    assert_eq!(pool.carried(), 0);
    assert_eq!(
        s1.env_steps + s2.env_steps,
        whole
            .iter()
            .map(|r| r.transitions.len() as u64)
            .sum::<u64>()
    );

    let mut both: Vec<EpisodeResult> = first.into_iter().chain(second).collect();
    // The carried episode that had started shows both versions; one started after the
    // close shows only the new one.
    assert!(
        both.iter().any(
            |r| r.transitions.first().is_some_and(|t| t.policy_version == 0)
                && r.transitions.last().is_some_and(|t| t.policy_version == 1)
        ),
        "an episode spans the two runs"
    );
    assert!(
        both.iter()
            .any(|r| r.transitions.iter().all(|t| t.policy_version == 1))
    );
    for r in &mut both {
        for t in &mut r.transitions {
            t.policy_version = 0;
        }
    }
    both.sort_by_key(|r| r.spec.seed);
    assert_eq!(both, whole, "the same episodes as one whole run");
}

/// A run that does not continue carried episodes (an evaluation) closes them first and
/// counts them abandoned.
#[tokio::test]
async fn an_evaluation_closes_the_carried_episodes_and_counts_them() {
    let plan = specs(&["goal-2", "goal-2"]);
    let mut pool = Pool::new(Arc::new(Corridor));
    let mut policy = Biased::default();
    let closed = RolloutConfig {
        deadline: Some(std::time::Instant::now()),
        partial: true,
        ..RolloutConfig::whole(2, Sampling::Sample)
    };
    let (_, s1) = pool
        .run(&plan, &mut policy, &mut GoalChecker, &closed)
        .await
        .unwrap();
    assert_eq!(s1.carried, 2);
    let eval = RolloutConfig::whole(2, Sampling::Greedy);
    let (results, s2) = pool
        .run(&plan, &mut policy, &mut GoalChecker, &eval)
        .await
        .unwrap();
    assert_eq!(s2.abandoned, 2);
    assert_eq!(results.len(), 2, "the evaluation's own episodes only");
    assert_eq!(pool.carried(), 0);
}

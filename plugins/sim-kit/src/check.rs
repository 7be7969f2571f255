//! A simulated suite as a reward-checker plugin: it takes no configuration
//! ([`no_config`]), and judges a final state read from JSON ([`judge_json`]);
//! [`export_suite_checker!`](crate::export_suite_checker) is the `steprl-plugin` glue
//! that exports it through the `reward-checker` world.

use crate::{JudgeError, Judgement, Suite};

/// Why an episode cannot be judged, as the checker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckError {
    /// No such task.
    UnknownTask(String),
    /// The final state is malformed, or belongs to another episode.
    InvalidInput(String),
}

/// Accept only an empty config object: the checker `checker` takes no configuration.
/// `Err` names the first unknown key.
pub fn no_config(checker: &str, config_json: &str) -> Result<(), String> {
    match serde_json::from_str::<serde_json::Value>(config_json) {
        Ok(serde_json::Value::Object(m)) => match m.keys().next() {
            None => Ok(()),
            Some(k) => Err(format!(
                "unknown key `{k}`: {checker} takes no configuration"
            )),
        },
        _ => Err(format!(
            "expected a JSON object ({checker} takes no configuration)"
        )),
    }
}

/// Judge the episode of `task_id` with `seed` that ended in `final_state_json`;
/// `said_done` says whether its trajectory ended with `done`, which the final state
/// must agree with.
pub fn judge_json<S: Suite>(
    task_id: &str,
    seed: u64,
    said_done: bool,
    final_state_json: &str,
) -> Result<Judgement, CheckError> {
    let state: S::FinalState = serde_json::from_str(final_state_json).map_err(|e| {
        CheckError::InvalidInput(format!("final state is not a {} final state: {e}", S::NAME))
    })?;
    if said_done != S::said_done(&state) {
        return Err(CheckError::InvalidInput(format!(
            "the trajectory {} with done but the final state says said_done={}",
            if said_done { "ends" } else { "does not end" },
            S::said_done(&state)
        )));
    }
    S::judge(task_id, seed, said_done, &state).map_err(|e| match e {
        JudgeError::UnknownTask { task, .. } => CheckError::UnknownTask(task),
        JudgeError::Mismatch(_) => CheckError::InvalidInput(e.to_string()),
    })
}

/// Export the [`Suite`] `$suite`'s judge as this component's `reward-checker` world:
/// it takes no configuration, and a success scores 1, a failure 0. Invoke it once, at
/// the root of a plugin crate that depends on `steprl-plugin` with the
/// `reward-checker` feature.
#[macro_export]
macro_rules! export_suite_checker {
    ($suite:ty) => {
        type __SimKitCheckerSuite = $suite;

        /// The `reward-checker` world's glue for the suite.
        mod __sim_kit_checker {
            use ::steprl_plugin::check::{
                Action, PluginError, RewardChecker, TaskInfo, TrajectorySummary, Verdict,
            };
            use $crate::check::{CheckError, judge_json, no_config};
            use $crate::{SimAction, Suite};

            use super::__SimKitCheckerSuite as S;

            /// The checker (it takes no configuration).
            pub struct SuiteChecker;

            impl RewardChecker for SuiteChecker {
                fn init(config_json: &str) -> Result<Self, PluginError> {
                    no_config(&format!("{}-checker", S::NAME), config_json)
                        .map(|()| SuiteChecker)
                        .map_err(PluginError::InvalidConfig)
                }

                fn check(
                    &self,
                    task: &TaskInfo,
                    trajectory: &TrajectorySummary,
                    final_state_json: &str,
                ) -> Result<Verdict, PluginError> {
                    let done = <S as Suite>::Action::DONE.index();
                    let said_done = trajectory.actions.last() == Some(&Action::Discrete(done));
                    let j = judge_json::<S>(&task.id, trajectory.seed, said_done, final_state_json)
                        .map_err(|e| match e {
                            CheckError::UnknownTask(t) => PluginError::UnknownTask(t),
                            CheckError::InvalidInput(m) => PluginError::InvalidInput(m),
                        })?;
                    Ok(Verdict {
                        success: j.success,
                        score: if j.success { 1.0 } else { 0.0 },
                        reason: j.reason,
                        step_rewards: None,
                    })
                }
            }
        }

        ::steprl_plugin::export_reward_checker!(__sim_kit_checker::SuiteChecker);
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimEpisode;
    use crate::toy::Toy;

    #[test]
    fn only_an_empty_object_is_accepted() {
        assert_eq!(no_config("toy-checker", "{}"), Ok(()));
        assert_eq!(
            no_config("toy-checker", r#"{"strict":true}"#),
            Err("unknown key `strict`: toy-checker takes no configuration".into())
        );
        assert_eq!(
            no_config("toy-checker", "[]"),
            Err("expected a JSON object (toy-checker takes no configuration)".into())
        );
    }

    #[test]
    fn the_final_state_must_agree_with_the_trajectory() {
        let mut ep = Toy::start("toy/a", 1).unwrap();
        let json = |ep: &<Toy as Suite>::Episode| serde_json::to_string(&ep.final_state()).unwrap();
        let j = judge_json::<Toy>("toy/a", 1, false, &json(&ep)).unwrap();
        assert!(!j.success);
        assert_eq!(
            judge_json::<Toy>("toy/a", 1, true, &json(&ep)),
            Err(CheckError::InvalidInput(
                "the trajectory ends with done but the final state says said_done=false".into()
            ))
        );
        ep.step(1).unwrap();
        assert!(
            judge_json::<Toy>("toy/a", 1, true, &json(&ep))
                .unwrap()
                .success
        );
    }

    #[test]
    fn judge_errors_become_check_errors() {
        let ep = Toy::start("toy/a", 1).unwrap();
        let json = serde_json::to_string(&ep.final_state()).unwrap();
        assert_eq!(
            judge_json::<Toy>("toy/nope", 1, false, &json),
            Err(CheckError::UnknownTask("toy/nope".into()))
        );
        assert_eq!(
            judge_json::<Toy>("toy/a", 2, false, &json),
            Err(CheckError::InvalidInput("it is of seed 1, not 2".into()))
        );
        let Err(CheckError::InvalidInput(m)) = judge_json::<Toy>("toy/a", 1, false, "[]") else {
            panic!("a malformed final state is invalid input");
        };
        assert!(
            m.starts_with("final state is not a toy final state: "),
            "{m}"
        );
    }
}

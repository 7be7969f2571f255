//! A simulated suite as an environment plugin: its config (`levels`) and the tasks it
//! offers ([`SimEnv`]), and [`export_suite_environment!`](crate::export_suite_environment),
//! the `steprl-plugin` glue that exports it through the `environment` world.

use std::marker::PhantomData;

use serde::Deserialize;

use crate::{SimEpisode, Suite, TaskEntry};

/// Plugin configuration (the `[env.config]` table of a run config).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Offer only tasks of these difficulty levels (default: all).
    #[serde(default)]
    levels: Option<Vec<u8>>,
}

/// The suite `S`, as configured.
pub struct SimEnv<S> {
    levels: Option<Vec<u8>>,
    suite: PhantomData<fn() -> S>,
}

impl<S: Suite> SimEnv<S> {
    /// The environment for the plugin config `config_json`; `Err` says what is wrong
    /// with it.
    pub fn from_config(config_json: &str) -> Result<Self, String> {
        let config: Config = serde_json::from_str(config_json).map_err(|e| {
            format!(
                "{e} ({} accepts only `levels`, a list of difficulty levels 1-4)",
                S::NAME
            )
        })?;
        if let Some(bad) = config
            .levels
            .iter()
            .flatten()
            .find(|l| !(1..=4).contains(*l))
        {
            return Err(format!(
                "levels: {bad} is not a {} difficulty level (valid: 1, 2, 3, 4)",
                S::NAME
            ));
        }
        Ok(SimEnv {
            levels: config.levels,
            suite: PhantomData,
        })
    }

    /// Whether tasks of difficulty `level` are offered.
    pub fn offers(&self, level: u8) -> bool {
        self.levels.as_ref().is_none_or(|l| l.contains(&level))
    }

    /// The tasks offered, catalog order.
    pub fn tasks(&self) -> impl Iterator<Item = TaskEntry> + '_ {
        S::tasks().into_iter().filter(|t| self.offers(t.level))
    }

    /// The final state of `ep` as JSON.
    pub fn final_state_json(ep: &S::Episode) -> Result<String, String> {
        serde_json::to_string(&ep.final_state()).map_err(|e| e.to_string())
    }
}

/// Export the [`Suite`] `$suite` as this component's `environment` world: its tasks
/// (filtered by the `levels` config), token observations with a text rendering and
/// the valid-action mask, and discrete actions. Invoke it once, at the root of a
/// plugin crate that depends on `steprl-plugin` with the `environment` feature.
#[macro_export]
macro_rules! export_suite_environment {
    ($suite:ty) => {
        type __SimKitEnvironmentSuite = $suite;

        /// The `environment` world's glue for the suite.
        mod __sim_kit_environment {
            use ::steprl_plugin::env::{
                Action, ActionSpec, Environment, Episode, Observation, ObservationParts,
                ObservationSpec, PluginError, StepResult, TaskInfo,
            };
            use $crate::env::SimEnv;
            use $crate::{SimAction, SimEpisode, SimError, Suite};

            use super::__SimKitEnvironmentSuite as S;

            /// The suite, as configured.
            pub struct SuiteEnvironment(SimEnv<S>);

            impl Environment for SuiteEnvironment {
                type Episode = SuiteEpisode;

                fn init(config_json: &str) -> Result<Self, PluginError> {
                    SimEnv::from_config(config_json)
                        .map(SuiteEnvironment)
                        .map_err(PluginError::InvalidConfig)
                }

                fn tasks(&self) -> Vec<TaskInfo> {
                    self.0
                        .tasks()
                        .map(|t| TaskInfo {
                            id: t.id.to_owned(),
                            suite: S::NAME.to_owned(),
                            instruction: t.summary.to_owned(),
                            max_steps: t.max_steps,
                            difficulty: Some(t.level),
                            metadata_json: t.metadata_json(),
                        })
                        .collect()
                }

                fn observation_space(&self) -> ObservationSpec {
                    ObservationSpec {
                        text: true,
                        vocab_size: Some(S::vocab().len() as u32),
                        vocab: S::vocab().to_vec(),
                        max_tokens: Some(S::OBS_TOKENS as u32),
                        feature_dim: None,
                        image: None,
                    }
                }

                fn action_space(&self) -> ActionSpec {
                    ActionSpec {
                        discrete: <S as Suite>::Action::COUNT,
                        discrete_labels: <S as Suite>::Action::labels(),
                        text: false,
                    }
                }

                fn start(
                    &self,
                    task_id: &str,
                    seed: u64,
                    parts: ObservationParts,
                ) -> Result<SuiteEpisode, PluginError> {
                    let ep = S::start(task_id, seed).map_err(sim_error)?;
                    if !self.0.offers(ep.level()) {
                        return Err(PluginError::UnknownTask(format!(
                            "{task_id} (excluded by the `levels` config)"
                        )));
                    }
                    Ok(SuiteEpisode { ep, parts })
                }
            }

            fn sim_error(e: SimError) -> PluginError {
                match e {
                    SimError::UnknownTask { task, .. } => PluginError::UnknownTask(task),
                    SimError::ActionOutOfRange { .. } => PluginError::InvalidAction(e.to_string()),
                    SimError::Finished => PluginError::EpisodeFinished,
                }
            }

            /// One running episode and the observation parts the host asked for.
            pub struct SuiteEpisode {
                ep: <S as Suite>::Episode,
                parts: ObservationParts,
            }

            impl SuiteEpisode {
                fn observation(&self) -> Observation {
                    let o = self.ep.observe(
                        self.parts.contains(ObservationParts::TEXT),
                        self.parts.contains(ObservationParts::TOKENS),
                    );
                    Observation {
                        text: o.text,
                        tokens: o.tokens,
                        features: None,
                        image: None,
                        action_mask: Some(o.mask),
                    }
                }
            }

            impl Episode for SuiteEpisode {
                fn reset(&mut self) -> Result<Observation, PluginError> {
                    self.ep.reset();
                    Ok(self.observation())
                }

                fn step(&mut self, action: Action) -> Result<StepResult, PluginError> {
                    let Action::Discrete(index) = action else {
                        return Err(PluginError::InvalidAction(format!(
                            "{} takes discrete actions only",
                            S::NAME
                        )));
                    };
                    let out = self.ep.step(index).map_err(sim_error)?;
                    Ok(StepResult {
                        observation: self.observation(),
                        reward: 0.0,
                        done: out.done,
                        truncated: out.truncated,
                        info_json: out.info_json(),
                    })
                }

                fn final_state(&self) -> Result<String, PluginError> {
                    SimEnv::<S>::final_state_json(&self.ep).map_err(PluginError::Internal)
                }
            }
        }

        ::steprl_plugin::export_environment!(__sim_kit_environment::SuiteEnvironment);
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toy::Toy;

    #[test]
    fn levels_filter_the_tasks() {
        let all = SimEnv::<Toy>::from_config("{}").unwrap();
        assert_eq!(all.tasks().count(), 2);
        let easy = SimEnv::<Toy>::from_config(r#"{"levels":[1]}"#).unwrap();
        assert_eq!(easy.tasks().map(|t| t.id).collect::<Vec<_>>(), ["toy/a"]);
        assert!(easy.offers(1) && !easy.offers(2));
    }

    #[test]
    fn config_errors_name_the_key_and_the_valid_values() {
        let e = SimEnv::<Toy>::from_config(r#"{"levels":[5]}"#)
            .err()
            .unwrap();
        assert_eq!(
            e,
            "levels: 5 is not a toy difficulty level (valid: 1, 2, 3, 4)"
        );
        let e = SimEnv::<Toy>::from_config(r#"{"level":[1]}"#)
            .err()
            .unwrap();
        assert!(e.starts_with("unknown field `level`"), "{e}");
        assert!(
            e.ends_with("(toy accepts only `levels`, a list of difficulty levels 1-4)"),
            "{e}"
        );
    }

    #[test]
    fn the_final_state_is_json() {
        let ep = Toy::start("toy/a", 3).unwrap();
        assert_eq!(
            SimEnv::<Toy>::final_state_json(&ep).unwrap(),
            r#"{"task":"toy/a","seed":3,"said_done":false}"#
        );
    }
}

//! The `uisim` environment plugin: the simulated phone suite of `uisim-model`,
//! exported through the `environment` world.

use serde::Deserialize;
use steprl_plugin::env::{
    Action, ActionSpec, Environment, Episode, Observation, ObservationParts, ObservationSpec,
    PluginError, StepResult, TaskInfo,
};
use uisim_model::{Act, N_ACTIONS, OBS_TOKENS, SimError, vocab};

/// Plugin configuration (the `[env.config]` table of a run config).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Offer only tasks of these difficulty levels (default: all).
    #[serde(default)]
    levels: Option<Vec<u8>>,
}

/// The suite, as configured.
pub struct Uisim {
    levels: Option<Vec<u8>>,
}

impl Environment for Uisim {
    type Episode = UiEpisode;

    fn init(config_json: &str) -> Result<Self, PluginError> {
        let config: Config = serde_json::from_str(config_json).map_err(|e| {
            PluginError::InvalidConfig(format!(
                "{e} (uisim accepts only `levels`, a list of difficulty levels 1-4)"
            ))
        })?;
        if let Some(levels) = &config.levels
            && let Some(bad) = levels.iter().find(|l| !(1..=4).contains(*l))
        {
            return Err(PluginError::InvalidConfig(format!(
                "levels: {bad} is not a uisim difficulty level (valid: 1, 2, 3, 4)"
            )));
        }
        Ok(Uisim {
            levels: config.levels,
        })
    }

    fn tasks(&self) -> Vec<TaskInfo> {
        uisim_model::catalog()
            .iter()
            .filter(|t| self.levels.as_ref().is_none_or(|l| l.contains(&t.level)))
            .map(|t| TaskInfo {
                id: t.id.clone(),
                suite: uisim_model::SUITE.to_owned(),
                instruction: t.summary.clone(),
                max_steps: t.max_steps,
                difficulty: Some(t.level),
                metadata_json: serde_json::json!({ "family": t.family }).to_string(),
            })
            .collect()
    }

    fn observation_space(&self) -> ObservationSpec {
        ObservationSpec {
            text: true,
            vocab_size: Some(vocab::vocab_size()),
            vocab: vocab::vocab().to_vec(),
            max_tokens: Some(OBS_TOKENS as u32),
            feature_dim: None,
            image: None,
        }
    }

    fn action_space(&self) -> ActionSpec {
        ActionSpec {
            discrete: N_ACTIONS,
            discrete_labels: Act::labels(),
            text: false,
        }
    }

    fn start(
        &self,
        task_id: &str,
        seed: u64,
        parts: ObservationParts,
    ) -> Result<UiEpisode, PluginError> {
        let ep = uisim_model::Episode::new(task_id, seed).map_err(sim_error)?;
        if !self.tasks().iter().any(|t| t.id == task_id) {
            return Err(PluginError::UnknownTask(format!(
                "{task_id} (excluded by the `levels` config)"
            )));
        }
        Ok(UiEpisode { ep, parts })
    }
}

fn sim_error(e: SimError) -> PluginError {
    match e {
        SimError::UnknownTask(t) => PluginError::UnknownTask(t),
        SimError::ActionOutOfRange(_) => PluginError::InvalidAction(e.to_string()),
        SimError::Finished => PluginError::EpisodeFinished,
    }
}

/// One running episode and the observation parts the host asked for.
pub struct UiEpisode {
    ep: uisim_model::Episode,
    parts: ObservationParts,
}

impl UiEpisode {
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

impl Episode for UiEpisode {
    fn reset(&mut self) -> Result<Observation, PluginError> {
        self.ep.reset();
        Ok(self.observation())
    }

    fn step(&mut self, action: Action) -> Result<StepResult, PluginError> {
        let index = match action {
            Action::Discrete(i) => i,
            Action::Text(_) => {
                return Err(PluginError::InvalidAction(
                    "uisim takes discrete actions only".into(),
                ));
            }
        };
        let out = self.ep.step(index).map_err(sim_error)?;
        Ok(StepResult {
            observation: self.observation(),
            reward: 0.0,
            done: out.done,
            truncated: out.truncated,
            info_json: if out.invalid {
                r#"{"invalid":true}"#.to_owned()
            } else {
                String::new()
            },
        })
    }

    fn final_state(&self) -> Result<String, PluginError> {
        serde_json::to_string(&self.ep.final_state())
            .map_err(|e| PluginError::Internal(e.to_string()))
    }
}

steprl_plugin::export_environment!(Uisim);

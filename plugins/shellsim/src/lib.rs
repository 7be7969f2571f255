//! The `shellsim` environment plugin: the simulated file manager suite of
//! `shellsim-model`, exported through the `environment` world.

use serde::Deserialize;
use shellsim_model::{Act, N_ACTIONS, OBS_TOKENS, SimError, vocab};
use steprl_plugin::env::{
    Action, ActionSpec, Environment, Episode, Observation, ObservationParts, ObservationSpec,
    PluginError, StepResult, TaskInfo,
};

/// Plugin configuration (the `[env.config]` table of a run config).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Offer only tasks of these difficulty levels (default: all).
    #[serde(default)]
    levels: Option<Vec<u8>>,
}

/// The suite, as configured.
pub struct Shellsim {
    levels: Option<Vec<u8>>,
}

impl Shellsim {
    fn offers(&self, level: u8) -> bool {
        self.levels.as_ref().is_none_or(|l| l.contains(&level))
    }
}

impl Environment for Shellsim {
    type Episode = ShellEpisode;

    fn init(config_json: &str) -> Result<Self, PluginError> {
        let config: Config = serde_json::from_str(config_json).map_err(|e| {
            PluginError::InvalidConfig(format!(
                "{e} (shellsim accepts only `levels`, a list of difficulty levels 1-4)"
            ))
        })?;
        if let Some(bad) = config
            .levels
            .iter()
            .flatten()
            .find(|l| !(1..=4).contains(*l))
        {
            return Err(PluginError::InvalidConfig(format!(
                "levels: {bad} is not a shellsim difficulty level (valid: 1, 2, 3, 4)"
            )));
        }
        Ok(Shellsim {
            levels: config.levels,
        })
    }

    fn tasks(&self) -> Vec<TaskInfo> {
        shellsim_model::catalog()
            .iter()
            .filter(|t| self.offers(t.level))
            .map(|t| TaskInfo {
                id: t.id.clone(),
                suite: shellsim_model::SUITE.to_owned(),
                instruction: t.summary.to_owned(),
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
    ) -> Result<ShellEpisode, PluginError> {
        let ep = shellsim_model::Episode::new(task_id, seed).map_err(sim_error)?;
        if !self.offers(ep.task().level) {
            return Err(PluginError::UnknownTask(format!(
                "{task_id} (excluded by the `levels` config)"
            )));
        }
        Ok(ShellEpisode { ep, parts })
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
pub struct ShellEpisode {
    ep: shellsim_model::Episode,
    parts: ObservationParts,
}

impl ShellEpisode {
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

impl Episode for ShellEpisode {
    fn reset(&mut self) -> Result<Observation, PluginError> {
        self.ep.reset();
        Ok(self.observation())
    }

    fn step(&mut self, action: Action) -> Result<StepResult, PluginError> {
        let Action::Discrete(index) = action else {
            return Err(PluginError::InvalidAction(
                "shellsim takes discrete actions only".into(),
            ));
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

steprl_plugin::export_environment!(Shellsim);

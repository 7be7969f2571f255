//! The `androidworld` environment plugin: AndroidWorld tasks run through the suite's
//! FastAPI server, reached over `wasi:http` (the run config must grant the server's
//! `host:port`); the logic lives in `androidworld-model`.

use std::time::Duration;

use androidworld_model::{AgentAction, Config, Obs, Parts, Suite};
use steprl_plugin::env::{
    Action, ActionSpec, Environment, Episode, Image, ImageShape, Observation, ObservationParts,
    ObservationSpec, PluginError, StepResult, TaskInfo, plugin_error,
};
use steprl_plugin::http::Client;

/// The adapter: a connected suite.
pub struct AndroidWorld {
    suite: Suite<Client>,
}

impl Environment for AndroidWorld {
    type Episode = AwEpisode;

    fn init(config_json: &str) -> Result<Self, PluginError> {
        let config = Config::from_json(config_json).map_err(plugin_error)?;
        let timeout = Duration::from_millis(config.timeout_ms);
        let pooled = !config.pool.is_empty();
        let suite =
            Suite::connect(config, |base| Client::new(base, timeout)).map_err(plugin_error)?;
        let line = format!(
            "androidworld: {} task instances from {}, {} discrete actions",
            suite.tasks().len(),
            if pooled {
                format!("a pool of {} servers", suite.config().pool.len())
            } else {
                suite.config().base_url().to_owned()
            },
            suite.table().len()
        );
        // Every lane's instance runs `init`: with a pool, once per server in debug logs.
        if pooled {
            steprl_plugin::log::debug(&line);
        } else {
            steprl_plugin::log::info(&line);
        }
        Ok(AndroidWorld { suite })
    }

    fn tasks(&self) -> Vec<TaskInfo> {
        self.suite
            .tasks()
            .iter()
            .map(|t| TaskInfo {
                id: t.id.to_string(),
                suite: androidworld_model::SUITE.to_owned(),
                instruction: t.goal.clone(),
                max_steps: t.max_steps,
                difficulty: t.difficulty,
                metadata_json: serde_json::json!({
                    "task_type": t.id.task_type,
                    "task_idx": t.id.task_idx,
                    "template": t.template,
                    "replayable": false,
                })
                .to_string(),
            })
            .collect()
    }

    fn servers(&self) -> Vec<String> {
        self.suite.config().pool.clone()
    }

    fn health(&self, index: u32) -> Result<String, String> {
        let c = self.suite.config();
        let base = c
            .server(index as usize)
            .ok_or_else(|| format!("no server {index}"))?;
        let client = androidworld_model::Client::new(
            Client::new(base, Duration::from_millis(c.health_timeout_ms)),
            base,
        );
        androidworld_model::protocol::health(&client, c.health_tries)
    }

    fn serve(&self, index: u32) -> Result<(), PluginError> {
        self.suite.serve(index as usize).map_err(plugin_error)
    }

    fn shutdown(&self) -> Result<(), PluginError> {
        if self.suite.shut_down().map_err(plugin_error)? {
            steprl_plugin::log::info(&format!(
                "androidworld: closed the server's environment ({} /close)",
                self.suite.config().base_url()
            ));
        }
        Ok(())
    }

    fn observation_space(&self) -> ObservationSpec {
        let c = self.suite.config();
        ObservationSpec {
            text: true,
            vocab_size: None,
            vocab: Vec::new(),
            max_tokens: None,
            feature_dim: None,
            image: Some(ImageShape {
                width: c.image_width,
                height: c.image_height,
                channels: 3,
            }),
        }
    }

    fn action_space(&self) -> ActionSpec {
        let table = self.suite.table();
        ActionSpec {
            discrete: table.len(),
            discrete_labels: table.labels(),
            text: true,
        }
    }

    fn start(
        &self,
        task_id: &str,
        _seed: u64,
        parts: ObservationParts,
    ) -> Result<AwEpisode, PluginError> {
        // The task instance's parameters are fixed by the server's suite (its seed is
        // `suite_seed`); the episode seed does not change them.
        let parts = Parts {
            text: parts.contains(ObservationParts::TEXT),
            image: parts.contains(ObservationParts::IMAGE),
        };
        self.suite
            .start(task_id, parts)
            .map(AwEpisode)
            .map_err(plugin_error)
    }
}

/// One episode on the device.
pub struct AwEpisode(androidworld_model::Episode<Client>);

fn observation(o: Obs) -> Observation {
    Observation {
        text: o.text,
        tokens: None,
        features: None,
        image: o.image.map(|f| Image {
            width: f.width,
            height: f.height,
            channels: 3,
            data: f.data,
        }),
        action_mask: Some(o.mask),
    }
}

impl Episode for AwEpisode {
    fn reset(&mut self) -> Result<Observation, PluginError> {
        self.0.reset().map(observation).map_err(plugin_error)
    }

    fn step(&mut self, action: Action) -> Result<StepResult, PluginError> {
        let action = match action {
            Action::Discrete(i) => AgentAction::Discrete(i),
            Action::Text(t) => AgentAction::Text(t),
        };
        let out = self.0.step(&action).map_err(plugin_error)?;
        Ok(StepResult {
            observation: observation(out.obs),
            reward: 0.0,
            done: out.done,
            truncated: out.truncated,
            info_json: out.info,
        })
    }

    fn final_state(&self) -> Result<String, PluginError> {
        self.0.final_state().map_err(plugin_error)
    }
}

steprl_plugin::export_environment!(AndroidWorld);

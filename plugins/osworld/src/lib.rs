//! The `osworld` environment plugin: OSWorld tasks run against an OSWorld VM's server
//! over wasi:http, with the logic of `osworld-model` exported through the
//! `environment` world.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::time::Duration;

use osworld_model::actions::ActionTable;
use osworld_model::{AgentAction, Config, Obs, Parts, Session, Task, catalog, session, tokens};
use steprl_plugin::env::{
    Action, ActionSpec, Environment, Episode, Image, ImageShape, Observation, ObservationParts,
    ObservationSpec, PluginError, StepResult, TaskInfo, plugin_error,
};
use steprl_plugin::http::Client;

/// The suite: the configuration and the parsed tasks.
pub struct Osworld {
    config: Arc<Config>,
    /// The config as each server's episodes see it (one entry without a pool).
    per_server: Vec<Arc<Config>>,
    /// The server this instance's episodes run on (`servers.serve`).
    served: Cell<usize>,
    tasks: Vec<Arc<Task>>,
    /// Tasks already warned about sharing the VM's state (no `revert_url`).
    warned: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Osworld {
    fn table(&self) -> ActionTable {
        session::action_table(&self.config)
    }
}

impl Environment for Osworld {
    type Episode = OsworldEpisode;

    fn init(config_json: &str) -> Result<Self, PluginError> {
        let config = Config::parse(config_json).map_err(plugin_error)?;
        let mut tasks =
            catalog::load(config.task_dir.as_deref(), &config.task_files).map_err(plugin_error)?;
        for t in &mut tasks {
            t.check_cache(&config.cache_dir);
        }
        let unsupported = tasks.iter().filter(|t| t.unsupported.is_some()).count();
        let where_ = if config.pool.is_empty() {
            format!("server {}", config.base_url())
        } else {
            format!("a pool of {} servers", config.pool.len())
        };
        // Every lane's instance runs `init`: with a pool, say it once per server only
        // in debug logs.
        let line = format!(
            "osworld: {} tasks ({} unsupported), {where_}",
            tasks.len(),
            unsupported,
        );
        if config.pool.is_empty() {
            steprl_plugin::log::info(&line);
        } else {
            steprl_plugin::log::debug(&line);
        }
        let per_server = if config.pool.is_empty() {
            vec![Arc::new(config.clone())]
        } else {
            config
                .pool
                .iter()
                .map(|url| Arc::new(config.serving(url)))
                .collect()
        };
        Ok(Osworld {
            config: Arc::new(config),
            per_server,
            served: Cell::new(0),
            tasks: tasks.into_iter().map(Arc::new).collect(),
            warned: Default::default(),
        })
    }

    fn tasks(&self) -> Vec<TaskInfo> {
        self.tasks
            .iter()
            .map(|t| TaskInfo {
                id: t.id.clone(),
                suite: t.domain.clone(),
                instruction: t.instruction.clone(),
                max_steps: self.config.max_steps,
                difficulty: None,
                metadata_json: t.metadata().to_string(),
            })
            .collect()
    }

    fn observation_space(&self) -> ObservationSpec {
        let c = &self.config;
        ObservationSpec {
            text: true,
            vocab_size: Some(tokens::vocab_size()),
            vocab: tokens::vocab(),
            max_tokens: Some(tokens::max_tokens(c.elements as usize) as u32),
            feature_dim: None,
            image: c.observation.screenshot().then_some(ImageShape {
                width: c.screenshot_width,
                height: c.screenshot_height,
                channels: 3,
            }),
        }
    }

    fn action_space(&self) -> ActionSpec {
        if self.config.action_space == osworld_model::ActionSpaceKind::Som {
            let t = self.table();
            ActionSpec {
                discrete: t.len() as u32,
                discrete_labels: t.labels(),
                text: true,
            }
        } else {
            ActionSpec {
                discrete: 0,
                discrete_labels: Vec::new(),
                text: true,
            }
        }
    }

    fn servers(&self) -> Vec<String> {
        self.config.pool.clone()
    }

    fn health(&self, index: u32) -> Result<String, String> {
        let config = self
            .per_server
            .get(index as usize)
            .ok_or_else(|| format!("no server {index}"))?;
        let transport = Client::new(
            config.base_url(),
            Duration::from_millis(config.health_timeout_ms),
        );
        osworld_model::vm::health(
            &transport,
            Duration::from_millis(config.health_timeout_ms),
            config.health_tries,
        )
    }

    fn serve(&self, index: u32) -> Result<(), PluginError> {
        if index as usize >= self.per_server.len() {
            return Err(PluginError::InvalidInput(format!(
                "server {index}: the config lists {} server(s)",
                self.per_server.len()
            )));
        }
        self.served.set(index as usize);
        Ok(())
    }

    fn start(
        &self,
        task_id: &str,
        _seed: u64,
        parts: ObservationParts,
    ) -> Result<OsworldEpisode, PluginError> {
        let task = self
            .tasks
            .iter()
            .find(|t| t.id == task_id)
            .ok_or_else(|| PluginError::UnknownTask(task_id.to_owned()))?;
        if self.config.revert_url.is_none()
            && self
                .warned
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(task.id.clone())
        {
            steprl_plugin::log::warn(&format!(
                "task {}: no revert_url: its episodes share the VM's state (what one episode \
                 did is there in the next, so a stale success can score); set revert_url to a \
                 revert controller, or task_reset_steps (see the README)",
                task.id
            ));
        }
        let config = self.per_server[self.served.get()].clone();
        let transport = Client::new(
            config.base_url(),
            Duration::from_millis(config.http_timeout_ms),
        );
        let parts = Parts {
            text: parts.contains(ObservationParts::TEXT),
            tokens: parts.contains(ObservationParts::TOKENS),
            image: parts.contains(ObservationParts::IMAGE),
        };
        let session = Session::new(transport, config, task.clone(), parts).map_err(plugin_error)?;
        Ok(OsworldEpisode {
            session: RefCell::new(session),
        })
    }
}

/// One episode on the VM.
pub struct OsworldEpisode {
    session: RefCell<Session<Client>>,
}

fn observation(o: Obs) -> Observation {
    Observation {
        text: o.text,
        tokens: o.tokens,
        features: None,
        image: o.image.map(|i| Image {
            width: i.width,
            height: i.height,
            channels: 3,
            data: i.data,
        }),
        action_mask: o.mask,
    }
}

impl Episode for OsworldEpisode {
    fn reset(&mut self) -> Result<Observation, PluginError> {
        self.session
            .get_mut()
            .reset()
            .map(observation)
            .map_err(plugin_error)
    }

    fn step(&mut self, action: Action) -> Result<StepResult, PluginError> {
        let a = match &action {
            Action::Discrete(i) => AgentAction::Discrete(*i),
            Action::Text(t) => AgentAction::Text(t),
        };
        let out = self.session.get_mut().step(a).map_err(plugin_error)?;
        Ok(StepResult {
            observation: observation(out.obs),
            reward: 0.0,
            done: out.done,
            truncated: out.truncated,
            info_json: out.info.to_string(),
        })
    }

    fn final_state(&self) -> Result<String, PluginError> {
        self.session
            .borrow_mut()
            .final_state()
            .map_err(plugin_error)
    }
}

steprl_plugin::export_environment!(Osworld);

//! __NAME__: a steprl environment plugin in Rust.
//!
//! A minimal but real suite to change into yours: each task asks to add up to a target
//! (1 or 2 at a time) and then say done. Observations carry text (for language-model
//! policies) and two token ids (for the token networks); actions are three labelled
//! discrete actions. The state `init` builds is kept by the SDK across calls.
//!
//! Build: sh build.sh        Check: steprl plugin check __NAME__.wasm

use steprl_plugin::env::{
    Action, ActionSpec, Environment, Episode, Observation, ObservationParts, ObservationSpec,
    PluginError, StepResult, TaskInfo,
};

// CHANGE: your tasks (id, target), vocabulary size and action labels.
const TASKS: [(&str, u32); 2] = [("reach-3", 3), ("reach-5", 5)];
const VOCAB: u32 = 16;
const ACTIONS: [&str; 3] = ["add 1", "add 2", "done"];

/// The suite, built by `init` from the config.
pub struct Suite;

impl Environment for Suite {
    type Episode = Reach;

    fn init(config_json: &str) -> Result<Self, PluginError> {
        // CHANGE: read your config keys here; unknown ones should be refused by name.
        let config: serde_json::Value = serde_json::from_str(config_json)
            .map_err(|e| PluginError::InvalidConfig(format!("config is not JSON: {e}")))?;
        match config.as_object() {
            Some(m) if m.is_empty() => Ok(Suite),
            Some(m) => Err(PluginError::InvalidConfig(format!(
                "unknown key `{}` (__NAME__ takes no configuration)",
                m.keys().next().expect("non-empty")
            ))),
            None => Err(PluginError::InvalidConfig("config must be a JSON object".into())),
        }
    }

    fn tasks(&self) -> Vec<TaskInfo> {
        TASKS
            .iter()
            .map(|&(id, target)| TaskInfo {
                id: id.into(),
                suite: "__NAME__".into(),
                instruction: format!("Add up to exactly {target}, then say done."),
                max_steps: target + 2,
                difficulty: Some(if target < 4 { 1 } else { 2 }),
                metadata_json: "{}".into(),
            })
            .collect()
    }

    fn observation_space(&self) -> ObservationSpec {
        // Token ids stay below vocab-size; id 0 is the host's padding.
        ObservationSpec {
            text: true,
            vocab_size: Some(VOCAB),
            vocab: Vec::new(),
            max_tokens: Some(2),
            feature_dim: None,
            image: None,
        }
    }

    fn action_space(&self) -> ActionSpec {
        ActionSpec {
            discrete: ACTIONS.len() as u32,
            discrete_labels: ACTIONS.iter().map(|s| (*s).to_owned()).collect(),
            text: false,
        }
    }

    fn start(
        &self,
        task_id: &str,
        _seed: u64,
        parts: ObservationParts,
    ) -> Result<Reach, PluginError> {
        // CHANGE: draw the task's random parameters from the seed (same seed, same episode).
        let target = TASKS
            .iter()
            .find(|(id, _)| *id == task_id)
            .map(|&(_, t)| t)
            .ok_or_else(|| PluginError::UnknownTask(task_id.into()))?;
        Ok(Reach {
            target,
            parts,
            value: 0,
            said_done: false,
        })
    }
}

/// One episode.
pub struct Reach {
    target: u32,
    parts: ObservationParts,
    value: u32,
    said_done: bool,
}

impl Reach {
    fn observe(&self) -> Observation {
        Observation {
            text: self.parts.contains(ObservationParts::TEXT).then(|| {
                format!(
                    "Value {}, target {}. Actions: {}.",
                    self.value,
                    self.target,
                    ACTIONS.join(", ")
                )
            }),
            tokens: self.parts.contains(ObservationParts::TOKENS).then(|| {
                vec![
                    1 + self.value.min(VOCAB - 2),
                    1 + self.target.min(VOCAB - 2),
                ]
            }),
            features: None,
            image: None,
            action_mask: None,
        }
    }
}

impl Episode for Reach {
    fn reset(&mut self) -> Result<Observation, PluginError> {
        self.value = 0;
        self.said_done = false;
        Ok(self.observe())
    }

    fn step(&mut self, action: Action) -> Result<StepResult, PluginError> {
        if self.said_done {
            return Err(PluginError::EpisodeFinished);
        }
        match action {
            Action::Discrete(0) => self.value += 1,
            Action::Discrete(1) => self.value += 2,
            Action::Discrete(2) => self.said_done = true,
            other => {
                return Err(PluginError::InvalidAction(format!(
                    "{other:?} (valid: discrete 0..{})",
                    ACTIONS.len() - 1
                )));
            }
        }
        Ok(StepResult {
            observation: self.observe(),
            reward: 0.0,
            done: self.said_done,
            truncated: false,
            info_json: String::new(),
        })
    }

    fn final_state(&self) -> Result<String, PluginError> {
        // What the checker judges: keep it small and self-contained.
        Ok(serde_json::json!({
            "value": self.value,
            "target": self.target,
            "said_done": self.said_done,
        })
        .to_string())
    }
}

steprl_plugin::export_environment!(Suite);

//! A hostile environment plugin: two one-object tasks (`walk-1`, `walk-2`: step right
//! k times, then `done`) that misbehave in the way its config's `mode` names, so the
//! tests in `tests/tests/hostile.rs` can check the host's named outcome for each:
//! `well-behaved`, `token-past-vocab`, `nan-features`, `nan-reward`, `endless`, `spin`,
//! `panic`, `recurse`, `grow-memory`, `huge-final-state`, `huge-vocab`, `duplicate-ids`,
//! `log-flood`, `bad-info`, `shutdown-panic` (runs well, panics in
//! `lifecycle.shutdown`).

use steprl_plugin::env::{
    Action, ActionSpec, Environment, Episode, Observation, ObservationParts, ObservationSpec,
    PluginError, StepResult, TaskInfo,
};

const MODES: &[&str] = &[
    "well-behaved",
    "token-past-vocab",
    "nan-features",
    "nan-reward",
    "endless",
    "spin",
    "panic",
    "recurse",
    "grow-memory",
    "huge-final-state",
    "huge-vocab",
    "duplicate-ids",
    "log-flood",
    "bad-info",
    "shutdown-panic",
];

/// The suite, in one mode.
pub struct Hostile {
    mode: &'static str,
}

impl Environment for Hostile {
    type Episode = Walk;

    fn init(config_json: &str) -> Result<Self, PluginError> {
        let v: serde_json::Value = serde_json::from_str(config_json)
            .map_err(|e| PluginError::InvalidConfig(e.to_string()))?;
        let mode = v
            .get("mode")
            .and_then(|m| m.as_str())
            .unwrap_or("well-behaved");
        let mode = MODES.iter().find(|m| **m == mode).ok_or_else(|| {
            PluginError::InvalidConfig(format!("mode `{mode}`: one of {}", MODES.join(", ")))
        })?;
        Ok(Hostile { mode })
    }

    fn shutdown(&self) -> Result<(), PluginError> {
        if self.mode == "shutdown-panic" {
            panic!("hostile-env panics in shutdown");
        }
        Ok(())
    }

    fn tasks(&self) -> Vec<TaskInfo> {
        let task = |k: u32| TaskInfo {
            id: format!("walk-{k}"),
            suite: "hostile".into(),
            instruction: format!("step right {k} times, then say done"),
            max_steps: 6,
            difficulty: Some(1),
            metadata_json: "{}".into(),
        };
        let mut t = vec![task(1), task(2)];
        if self.mode == "duplicate-ids" {
            t.push(task(1));
        }
        t
    }

    fn observation_space(&self) -> ObservationSpec {
        ObservationSpec {
            text: true,
            vocab_size: Some(if self.mode == "huge-vocab" {
                u32::MAX
            } else {
                8
            }),
            vocab: vec![],
            max_tokens: Some(2),
            feature_dim: Some(1),
            image: None,
        }
    }

    fn action_space(&self) -> ActionSpec {
        ActionSpec {
            discrete: 2,
            discrete_labels: vec!["right".into(), "done".into()],
            text: false,
        }
    }

    fn start(
        &self,
        task_id: &str,
        _seed: u64,
        _parts: ObservationParts,
    ) -> Result<Walk, PluginError> {
        let goal = match task_id {
            "walk-1" => 1,
            "walk-2" => 2,
            other => return Err(PluginError::UnknownTask(other.into())),
        };
        Ok(Walk {
            mode: self.mode,
            goal,
            pos: 0,
            done: false,
        })
    }
}

/// One episode: a position on a line.
pub struct Walk {
    mode: &'static str,
    goal: u32,
    pos: u32,
    done: bool,
}

/// Unbounded recursion the optimizer cannot turn into a loop (on purpose).
#[inline(never)]
#[allow(unconditional_recursion)]
fn deeper(n: u64, trail: &mut Vec<u64>) -> u64 {
    trail.push(n);
    let r = deeper(n + 1, trail);
    r.wrapping_add(trail[n as usize])
}

impl Walk {
    fn observe(&self) -> Observation {
        let token = if self.mode == "token-past-vocab" && self.pos > 0 {
            8
        } else {
            self.pos.min(7)
        };
        let feature = if self.mode == "nan-features" && self.pos > 0 {
            f32::NAN
        } else {
            self.pos as f32
        };
        Observation {
            text: Some(format!("at {} of {}", self.pos, self.goal)),
            tokens: Some(vec![token, self.goal]),
            features: Some(vec![feature]),
            image: None,
            action_mask: None,
        }
    }
}

impl Episode for Walk {
    fn reset(&mut self) -> Result<Observation, PluginError> {
        self.pos = 0;
        self.done = false;
        Ok(self.observe())
    }

    fn step(&mut self, action: Action) -> Result<StepResult, PluginError> {
        match self.mode {
            "spin" => loop {
                std::hint::black_box(self.pos);
            },
            "panic" => panic!("hostile-env panics in step"),
            "recurse" => {
                let mut trail = Vec::new();
                self.pos = deeper(0, &mut trail) as u32;
            }
            "grow-memory" => {
                // Untouched capacity: each push grows linear memory by 16 MiB at once.
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(Vec::with_capacity(16 << 20));
                    std::hint::black_box(&hoard);
                }
            }
            "log-flood" => {
                for i in 0..1000 {
                    eprintln!("hostile-env line {i}");
                }
            }
            _ => {}
        }
        match action {
            Action::Discrete(0) => self.pos += 1,
            Action::Discrete(1) => self.done = true,
            other => return Err(PluginError::InvalidAction(format!("{other:?}"))),
        }
        Ok(StepResult {
            observation: self.observe(),
            reward: if self.mode == "nan-reward" {
                f32::NAN
            } else {
                0.0
            },
            done: self.done && self.mode != "endless",
            truncated: false,
            info_json: if self.mode == "bad-info" {
                "{not json".into()
            } else {
                "{}".into()
            },
        })
    }

    fn final_state(&self) -> Result<String, PluginError> {
        if self.mode == "huge-final-state" {
            return Ok(format!("{{\"pad\":\"{}\"}}", "x".repeat(20 << 20)));
        }
        Ok(format!(
            "{{\"pos\":{},\"goal\":{},\"done\":{}}}",
            self.pos, self.goal, self.done
        ))
    }
}

steprl_plugin::export_environment!(Hostile);

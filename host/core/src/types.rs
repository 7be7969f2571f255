//! Plain-Rust mirrors of the WIT data types (`steprl:plugin/types`), used by every
//! crate above the sandbox.

use serde::{Deserialize, Serialize};

/// One task a plugin offers; a seed picks its random parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInfo {
    /// Stable identifier, unique within the plugin.
    pub id: String,
    /// Suite or domain name.
    pub suite: String,
    /// Natural-language instruction (may hold `{slot}` placeholders).
    pub instruction: String,
    /// Step budget after which the episode is truncated.
    pub max_steps: u32,
    /// Difficulty level, 1 = easiest.
    pub difficulty: Option<u8>,
    /// Opaque JSON object.
    pub metadata_json: String,
}

impl TaskInfo {
    /// Why this plugin cannot run the task, when its metadata says so: the one key the
    /// host reads from task metadata is `"unsupported": "reason"` (e.g. an OSWorld
    /// task with a setup step the adapter does not implement). Training skips such
    /// tasks and `steprl tasks` marks them.
    pub fn unsupported(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(&self.metadata_json).ok()?;
        v.get("unsupported")?.as_str().map(str::to_owned)
    }

    /// Whether an episode of this task can be replayed exactly (same seed and actions,
    /// same episode): true unless the metadata says `"replayable": false`, as the
    /// adapters of live environments (a real VM or emulator) do. `plugin check` checks
    /// such a task's replay for consistency (it runs, its observations keep to the
    /// spaces) instead of for equality.
    pub fn replayable(&self) -> bool {
        let v: Option<serde_json::Value> = serde_json::from_str(&self.metadata_json).ok();
        v.and_then(|v| v.get("replayable")?.as_bool()) != Some(false)
    }
}

/// A raw HWC image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes per pixel.
    pub channels: u8,
    /// `width * height * channels` bytes, row-major.
    pub data: Vec<u8>,
}

/// Which observation parts the host asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ObservationParts {
    /// Text rendering.
    pub text: bool,
    /// Token ids.
    pub tokens: bool,
    /// Dense features.
    pub features: bool,
    /// Image.
    pub image: bool,
}

impl ObservationParts {
    /// Every part.
    pub const ALL: Self = Self {
        text: true,
        tokens: true,
        features: true,
        image: true,
    };
}

/// What the agent sees after `reset` or `step`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Observation {
    /// Text rendering.
    pub text: Option<String>,
    /// Token ids below the declared vocabulary size.
    pub tokens: Option<Vec<u32>>,
    /// Dense features.
    pub features: Option<Vec<f32>>,
    /// Image.
    pub image: Option<Image>,
    /// One entry per discrete action, true = allowed; `None` = all allowed.
    pub action_mask: Option<Vec<bool>>,
}

/// An action taken by the agent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// Index into the discrete action space.
    Discrete(u32),
    /// Free text.
    Text(String),
}

/// The result of one environment step.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StepResult {
    /// Observation after the action.
    pub observation: Observation,
    /// Immediate reward.
    pub reward: f32,
    /// The episode ended on its own terms.
    pub done: bool,
    /// The episode was cut short.
    pub truncated: bool,
    /// Opaque JSON object, empty when none.
    pub info_json: String,
}

/// Shape of image observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageShape {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes per pixel.
    pub channels: u8,
}

/// What observations an environment produces.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ObservationSpec {
    /// Observations carry text.
    pub text: bool,
    /// Token vocabulary size; `None` = no tokens.
    pub vocab_size: Option<u32>,
    /// Token strings (empty or `vocab_size` entries).
    pub vocab: Vec<String>,
    /// Upper bound on tokens per observation.
    pub max_tokens: Option<u32>,
    /// Feature vector length; `None` = no features.
    pub feature_dim: Option<u32>,
    /// Image shape; `None` = no images.
    pub image: Option<ImageShape>,
}

/// What actions an environment accepts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ActionSpec {
    /// Number of discrete actions (0 = none).
    pub discrete: u32,
    /// Names of the discrete actions (empty or `discrete` entries).
    pub discrete_labels: Vec<String>,
    /// Text actions accepted.
    pub text: bool,
}

impl ActionSpec {
    /// An action written as a line: a declared label, a discrete index, or `text: ...`
    /// (how `steprl play` and demonstration files write actions).
    pub fn parse_action(&self, line: &str) -> Result<Action, String> {
        if let Some(i) = self.discrete_labels.iter().position(|l| l == line) {
            return Ok(Action::Discrete(i as u32));
        }
        if let Ok(i) = line.parse::<u32>() {
            if i < self.discrete {
                return Ok(Action::Discrete(i));
            }
            return Err(format!(
                "action index {i} is out of range (the environment has {} discrete actions)",
                self.discrete
            ));
        }
        if let Some(t) = line.strip_prefix("text:") {
            if self.text {
                return Ok(Action::Text(t.trim_start().to_owned()));
            }
            return Err("this environment accepts no text actions".into());
        }
        let shown: Vec<&str> = self
            .discrete_labels
            .iter()
            .take(12)
            .map(String::as_str)
            .collect();
        Err(format!(
            "`{line}` is not an action: use a label ({}{}), an index below {}{}",
            shown.join(", "),
            if self.discrete_labels.len() > shown.len() {
                ", …"
            } else {
                ""
            },
            self.discrete,
            if self.text { ", or `text: ...`" } else { "" }
        ))
    }

    /// An action as a line [`ActionSpec::parse_action`] reads back.
    pub fn action_line(&self, a: &Action) -> String {
        match a {
            Action::Discrete(i) => self
                .discrete_labels
                .get(*i as usize)
                .cloned()
                .unwrap_or_else(|| i.to_string()),
            Action::Text(t) => format!("text: {t}"),
        }
    }
}

/// What an environment declares once, at load: its tasks and spaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvInfo {
    /// Every task the environment offers.
    pub tasks: Vec<TaskInfo>,
    /// Observation space.
    pub observation: ObservationSpec,
    /// Action space.
    pub action: ActionSpec,
    /// Task positions by id, built on the first lookup.
    #[serde(skip)]
    index: TaskIndex,
}

/// Task id → position in [`EnvInfo::tasks`]; never part of equality or output.
#[derive(Clone, Default)]
struct TaskIndex(std::sync::OnceLock<(usize, std::collections::HashMap<String, usize>)>);

impl PartialEq for TaskIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for TaskIndex {}

impl std::fmt::Debug for TaskIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskIndex")
    }
}

impl EnvInfo {
    /// An environment's declarations.
    pub fn new(tasks: Vec<TaskInfo>, observation: ObservationSpec, action: ActionSpec) -> Self {
        EnvInfo {
            tasks,
            observation,
            action,
            index: TaskIndex::default(),
        }
    }

    /// The task with this id, if any: a map lookup, so a run over hundreds of thousands
    /// of tasks does not turn quadratic. (The first id wins when ids repeat, as the
    /// validation refuses.) Should `tasks` change after the first lookup, a miss in the
    /// map falls back to a search.
    pub fn task(&self, id: &str) -> Option<&TaskInfo> {
        let (len, map) = self.index.0.get_or_init(|| {
            let mut map = std::collections::HashMap::with_capacity(self.tasks.len());
            for (i, t) in self.tasks.iter().enumerate() {
                map.entry(t.id.clone()).or_insert(i);
            }
            (self.tasks.len(), map)
        });
        if let Some(t) = map.get(id).and_then(|&i| self.tasks.get(i))
            && t.id == id
        {
            return Some(t);
        }
        if *len == self.tasks.len() && !map.contains_key(id) {
            return None;
        }
        self.tasks.iter().find(|t| t.id == id)
    }
}

/// A finished episode as the reward checker sees it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TrajectorySummary {
    /// The seed the episode was started with.
    pub seed: u64,
    /// Actions taken, in order.
    pub actions: Vec<Action>,
    /// Environment rewards, one per step.
    pub rewards: Vec<f32>,
    /// The last step reported `done`.
    pub done: bool,
    /// The episode was truncated.
    pub truncated: bool,
}

/// A reward checker's judgement of one episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The task was accomplished.
    pub success: bool,
    /// Score in [0, 1].
    pub score: f32,
    /// Human-readable reason.
    pub reason: String,
    /// Optional per-step rewards.
    pub step_rewards: Option<Vec<f32>>,
}

/// What the host records about one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskStat {
    /// Task id.
    pub id: String,
    /// Counted rollouts.
    pub attempts: u32,
    /// Successful rollouts.
    pub successes: u32,
    /// Smoothed success rate; `None` while unseen.
    pub smoothed_rate: Option<f64>,
    /// Last round the task was rolled out in.
    pub last_round: Option<u32>,
}

/// The plan shape the host asks a resampler for, and the host's STEP settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlanRequest {
    /// B: distinct tasks per round.
    pub tasks_per_round: u32,
    /// N: rollouts per task.
    pub copies_per_task: u32,
    /// The run's resampling seed (the same every round; combine with the round).
    pub seed: u64,
    /// STEP's resampling settings (`[algo.resample]`); only resamplers that export
    /// `resample-settings` receive them.
    pub settings: StepSettings,
}

/// The host's settings of STEP's adaptive resampling, `[algo.resample]` of the run
/// config. The paper does not give s0; the default is `design.md`'s.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StepSettings {
    /// s0: the cache threshold (tasks with 0 < ŝ < s0) and the midpoint of p_rep.
    pub s0: f64,
    /// Replace copies of easy tasks by cache tasks (STEP); off = uniform B × N.
    pub adaptive: bool,
}

impl Default for StepSettings {
    fn default() -> Self {
        StepSettings {
            s0: 0.5,
            adaptive: true,
        }
    }
}

impl StepSettings {
    /// What is wrong with these settings, if anything (s0 must lie in (0, 1)).
    pub fn problem(&self) -> Option<String> {
        (!(self.s0 > 0.0 && self.s0 < 1.0))
            .then(|| format!("s0 = {} must lie strictly between 0 and 1", self.s0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(metadata_json: &str) -> TaskInfo {
        TaskInfo {
            id: "t".into(),
            suite: "s".into(),
            instruction: "i".into(),
            max_steps: 1,
            difficulty: None,
            metadata_json: metadata_json.into(),
        }
    }

    #[test]
    fn tasks_are_found_by_id_through_the_index_and_after_a_change() {
        let named = |id: &str| TaskInfo {
            id: id.into(),
            ..task("{}")
        };
        let mut info = EnvInfo::new(
            (0..1000).map(|i| named(&format!("t{i}"))).collect(),
            ObservationSpec::default(),
            ActionSpec::default(),
        );
        assert_eq!(info.task("t999").unwrap().id, "t999");
        assert_eq!(info.task("t0").unwrap().id, "t0");
        assert!(info.task("t1000").is_none());
        // Changed after the index was built: still answered right.
        info.tasks.push(named("late"));
        info.tasks.swap(0, 1);
        assert_eq!(info.task("late").unwrap().id, "late");
        assert_eq!(info.task("t0").unwrap().id, "t0");
        assert_eq!(info.task("t1").unwrap().id, "t1");
        assert!(info.task("none").is_none());
        // The index is no part of equality.
        let fresh = EnvInfo::new(
            info.tasks.clone(),
            info.observation.clone(),
            info.action.clone(),
        );
        assert_eq!(fresh, info);
    }

    #[test]
    fn only_a_string_under_unsupported_marks_a_task() {
        assert_eq!(
            task(r#"{"unsupported": "unsupported setup step login"}"#).unsupported(),
            Some("unsupported setup step login".into())
        );
        assert!(task("{}").replayable() && task("not json").replayable());
        assert!(task(r#"{"replayable": true}"#).replayable());
        assert!(!task(r#"{"replayable": false}"#).replayable());
        for m in ["{}", "", "not json", r#"{"unsupported": true}"#, "[]"] {
            assert_eq!(task(m).unsupported(), None, "{m}");
        }
    }

    fn spec() -> ActionSpec {
        ActionSpec {
            discrete: 3,
            discrete_labels: vec!["click 0".into(), "back".into(), "done".into()],
            text: false,
        }
    }

    #[test]
    fn actions_are_labels_indices_or_text() {
        assert_eq!(spec().parse_action("back"), Ok(Action::Discrete(1)));
        assert_eq!(spec().parse_action("2"), Ok(Action::Discrete(2)));
        let e = spec().parse_action("7").unwrap_err();
        assert!(e.contains("out of range"), "{e}");
        let e = spec().parse_action("text: hi").unwrap_err();
        assert!(e.contains("no text actions"), "{e}");
        let with_text = ActionSpec {
            text: true,
            ..spec()
        };
        assert_eq!(
            with_text.parse_action("text: hello world"),
            Ok(Action::Text("hello world".into()))
        );
        let e = spec().parse_action("clik 0").unwrap_err();
        assert!(
            e.contains("`clik 0` is not an action") && e.contains("click 0, back, done"),
            "{e}"
        );
        for a in [Action::Discrete(1), Action::Text("x y".into())] {
            assert_eq!(with_text.parse_action(&with_text.action_line(&a)), Ok(a));
        }
    }
}

/// One demonstration: a task, the environment seed and the actions an oracle took (one
/// JSON line of a demonstration file; `steprl play --record` writes them, the warm
/// start and `steprl plugin check --demos` replay them).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Demo {
    /// Task id.
    pub task: String,
    /// Environment seed.
    pub seed: u64,
    /// Actions: labels, discrete indices, or `text: ...`.
    pub actions: Vec<String>,
}

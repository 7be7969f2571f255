//! The final-state contract between the osworld environment adapter and the osworld
//! reward checker: what `final-state()` returns, as serde types both sides share.
//!
//! ```json
//! {
//!   "task_id": "94d95f96-9699-4208-98ba-3c3119edf9c2",
//!   "evaluator": {"func": "check_include_exclude", "conj": "and", "options": {}},
//!   "result": "spotify: /snap/bin/spotify\n",
//!   "expected": {"include": ["spotify"], "exclude": ["not found"]},
//!   "last_action": "DONE"
//! }
//! ```
//!
//! Values are what OSWorld's getters produce, with file *contents* where OSWorld
//! passes file paths: a string for text (file contents, command output, the
//! accessibility tree XML), a JSON value for structured getters (`rule` gives its
//! `rules` as-is), `null` for "missing" (the file does not exist, the getter gave
//! `None`), and an array of those for a getter with `multi: true` (but, as in
//! OSWorld, the one value itself when its `gives` picks exactly one file).

use serde::{Deserialize, Serialize};
pub use serde_json::{Map, Value};

/// The `func` value of an infeasible task: it scores 1 iff the agent gave up (`FAIL`).
pub const INFEASIBLE: &str = "infeasible";
/// The special action that says "task done".
pub const DONE: &str = "DONE";
/// The special action that says "I give up: the task cannot be done".
pub const FAIL: &str = "FAIL";
/// The special action that says "wait".
pub const WAIT: &str = "WAIT";

/// What the osworld adapter's `final-state()` returns (serialized as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalState {
    /// The OSWorld task id (the example's `id`, a UUID).
    pub task_id: String,
    /// The task's evaluator: which metrics, how they combine, their options.
    pub evaluator: Evaluator,
    /// The outputs of the task's `evaluator.result` getters: one value for a single
    /// `func`, an array with one value per metric for a list of `func`s. Absent for
    /// infeasible tasks. For a single `func`, absent or `null` both mean "missing".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// The outputs of the task's `evaluator.expected` getters, shaped like
    /// `result`; absent when the task has none. A `null` inside the array means
    /// "this metric has no expected value".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
    /// The agent's last action: `"DONE"`, `"FAIL"`, `"WAIT"`, pyautogui code, or a
    /// computer_13 action as JSON (`{"action_type": "FAIL"}` counts as `FAIL`);
    /// `null` when the agent took no action.
    #[serde(default)]
    pub last_action: Option<String>,
}

/// A task's `evaluator` block. Extra fields of OSWorld's evaluator (the getter specs
/// `result` and `expected`, `postconfig`) are ignored, so the adapter may
/// deserialize the task file's evaluator straight into this type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluator {
    /// One metric name, a list of metric names, or [`INFEASIBLE`].
    pub func: Func,
    /// How a list of metrics combines (default `and`).
    #[serde(default)]
    pub conj: Conj,
    /// Keyword options for the metric(s): one object, or one per metric (`null` or
    /// `{}` for none) when `func` is a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Options>,
}

/// `evaluator.func`: one metric or a list of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Func {
    /// A single metric (or [`INFEASIBLE`]).
    One(String),
    /// Several metrics combined with [`Evaluator::conj`].
    Many(Vec<String>),
}

impl Func {
    /// The metric names, in order.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Func::One(f) => vec![f.as_str()],
            Func::Many(fs) => fs.iter().map(String::as_str).collect(),
        }
    }

    /// Whether this is the infeasible-task marker.
    pub fn is_infeasible(&self) -> bool {
        matches!(self, Func::One(f) if f == INFEASIBLE)
    }
}

/// `evaluator.conj`: how a list of metrics combines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Conj {
    /// 0 as soon as one metric scores 0, else the mean of the scores.
    #[default]
    And,
    /// 1 as soon as one metric scores 1, else the maximum.
    Or,
}

impl Conj {
    /// `"and"` or `"or"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Conj::And => "and",
            Conj::Or => "or",
        }
    }
}

/// `evaluator.options`: keyword arguments for the metric(s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Options {
    /// Options of a single metric.
    One(Map<String, Value>),
    /// Options per metric of a list (`null` = none).
    Many(Vec<Option<Map<String, Value>>>),
}

/// Whether an agent action is OSWorld's `FAIL`: the literal `FAIL`, or a computer_13
/// action whose `action_type` is `FAIL`.
pub fn is_fail_action(action: &str) -> bool {
    if action == FAIL {
        return true;
    }
    match serde_json::from_str::<Value>(action) {
        Ok(Value::Object(m)) => m.get("action_type").and_then(Value::as_str) == Some(FAIL),
        _ => false,
    }
}

impl FinalState {
    /// Whether the agent's last action was `FAIL` (see [`is_fail_action`]).
    pub fn agent_failed(&self) -> bool {
        self.last_action.as_deref().is_some_and(is_fail_action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_contract_examples() {
        let s: FinalState = serde_json::from_value(json!({
            "task_id": "94d95f96-9699-4208-98ba-3c3119edf9c2",
            "evaluator": {"func": "check_include_exclude"},
            "result": "spotify\n",
            "expected": {"include": ["spotify"], "exclude": ["not found"]},
            "last_action": "DONE"
        }))
        .unwrap();
        assert_eq!(s.evaluator.func, Func::One("check_include_exclude".into()));
        assert_eq!(s.evaluator.conj, Conj::And);
        assert!(s.evaluator.options.is_none());
        assert!(!s.agent_failed());

        let s: FinalState = serde_json::from_value(json!({
            "task_id": "t",
            "evaluator": {"func": ["exact_match", "compare_text_file"], "conj": "or",
                          "options": [{}, {"ignore_blanks": true}]},
            "result": ["a", null],
            "expected": [{"expected": "a"}, "gold"],
            "last_action": null
        }))
        .unwrap();
        assert_eq!(
            s.evaluator.func.names(),
            vec!["exact_match", "compare_text_file"]
        );
        assert_eq!(s.evaluator.conj, Conj::Or);
        assert!(matches!(s.evaluator.options, Some(Options::Many(ref v)) if v.len() == 2));
        assert_eq!(s.result, Some(json!(["a", null])));
    }

    #[test]
    fn infeasible_without_result_and_null_means_missing() {
        let s: FinalState = serde_json::from_str(
            r#"{"task_id":"t","evaluator":{"func":"infeasible"},"last_action":"FAIL"}"#,
        )
        .unwrap();
        assert!(s.evaluator.func.is_infeasible());
        assert!(s.result.is_none() && s.expected.is_none());
        assert!(s.agent_failed());
        let s: FinalState = serde_json::from_str(
            r#"{"task_id":"t","evaluator":{"func":"exact_match"},"result":null}"#,
        )
        .unwrap();
        assert!(s.result.is_none() && s.last_action.is_none());
    }

    #[test]
    fn the_osworld_evaluator_block_deserializes_as_is() {
        // Evaluator of OSWorld task 0512bb38-d531-4acf-9e7e-0add90816068 (vs_code).
        let e: Evaluator = serde_json::from_value(json!({
            "func": "is_extension_installed",
            "result": {"type": "vm_command_line",
                       "command": ["code", "--list-extensions", "|", "grep", "undefined_publisher.test"]},
            "expected": {"type": "rule", "rules": {"type": "contain", "expected": "undefined_publisher.test"}},
            "postconfig": []
        }))
        .unwrap();
        assert_eq!(e.func, Func::One("is_extension_installed".into()));
    }

    #[test]
    fn round_trips() {
        let s = FinalState {
            task_id: "t".into(),
            evaluator: Evaluator {
                func: Func::Many(vec!["a".into(), "b".into()]),
                conj: Conj::Or,
                options: Some(Options::Many(vec![None, Some(Map::new())])),
            },
            result: Some(json!([1, "x"])),
            expected: None,
            last_action: Some(DONE.into()),
        };
        let text = serde_json::to_string(&s).unwrap();
        assert!(!text.contains("\"expected\""));
        assert_eq!(serde_json::from_str::<FinalState>(&text).unwrap(), s);
    }

    #[test]
    fn fail_actions() {
        assert!(is_fail_action("FAIL"));
        assert!(is_fail_action(r#"{"action_type": "FAIL"}"#));
        assert!(!is_fail_action("fail"));
        assert!(!is_fail_action("DONE"));
        assert!(!is_fail_action(r#"{"action_type": "DONE"}"#));
        assert!(!is_fail_action("pyautogui.click(1, 2)"));
    }
}

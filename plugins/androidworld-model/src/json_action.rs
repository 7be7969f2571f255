//! AndroidWorld's `JSONAction`: the action body `/execute_action` takes, and the
//! validation of raw JSON actions an agent sends as `text` actions.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::AwError;

/// Every `action_type` the suite's `JSONAction` accepts.
pub const ACTION_TYPES: [&str; 14] = [
    "click",
    "double_tap",
    "scroll",
    "swipe",
    "input_text",
    "navigate_home",
    "navigate_back",
    "keyboard_enter",
    "open_app",
    "status",
    "wait",
    "long_press",
    "answer",
    "unknown",
];

/// The fields of a `JSONAction`.
pub const FIELDS: [&str; 10] = [
    "action_type",
    "index",
    "x",
    "y",
    "text",
    "direction",
    "goal_status",
    "app_name",
    "keycode",
    "clear_text",
];

/// Scroll and swipe directions.
pub const DIRECTIONS: [&str; 4] = ["up", "down", "left", "right"];

/// The `goal_status` values that end an episode.
pub const GOAL_STATUSES: [&str; 2] = ["complete", "infeasible"];

/// One action for the device, serialized as the JSON object `/execute_action` takes
/// (absent fields are left out, as the suite's `json_str` does).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JsonAction {
    /// One of [`ACTION_TYPES`].
    pub action_type: String,
    /// A UI element index (exclusive with `x`/`y`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<i64>,
    /// Screen x in device pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<i64>,
    /// Screen y in device pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<i64>,
    /// Text to type, or the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// One of [`DIRECTIONS`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// `complete` or `infeasible` for `status` actions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goal_status: Option<String>,
    /// The app to open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    /// An Android keycode (`KEYCODE_...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keycode: Option<String>,
    /// Clear the field before typing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clear_text: Option<bool>,
}

impl JsonAction {
    /// An action with only its type set.
    pub fn of(action_type: &str) -> Self {
        JsonAction {
            action_type: action_type.to_owned(),
            ..Default::default()
        }
    }

    /// The JSON body for `/execute_action`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a JsonAction always serializes")
    }

    /// The `goal_status` when this is a `status` action.
    pub fn status(&self) -> Option<&str> {
        (self.action_type == "status")
            .then_some(self.goal_status.as_deref())
            .flatten()
    }

    /// Parse and validate a raw `JSONAction` sent as a `text` action. Refuses what the
    /// server's `JSONAction` would refuse (unknown fields or action types, an index
    /// together with coordinates, a bad direction or keycode) and, so that a typo is an
    /// invalid action rather than a server error or a silent no-op, the actions that
    /// lack what they need: clicks without a target, scrolls and swipes without a
    /// direction, `open_app` without an app, `status` without `complete`/`infeasible`,
    /// `answer` without text.
    pub fn parse(raw: &str) -> Result<JsonAction, AwError> {
        let bad = |why: String| {
            AwError::InvalidAction(format!(
                "{why} (a text action is one JSONAction object, e.g. \
                 {{\"action_type\":\"click\",\"x\":540,\"y\":1200}}; action types: {})",
                ACTION_TYPES.join(", ")
            ))
        };
        let value: Value = serde_json::from_str(raw.trim())
            .map_err(|e| bad(format!("the text action is not JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(bad("the text action is not a JSON object".into()));
        };
        let unknown: Vec<&str> = map
            .keys()
            .map(String::as_str)
            .filter(|k| !FIELDS.contains(k))
            .collect();
        if !unknown.is_empty() {
            return Err(bad(format!(
                "unknown JSONAction field(s) {} (fields: {})",
                unknown.join(", "),
                FIELDS.join(", ")
            )));
        }
        let action = from_map(&map).map_err(bad)?;
        action.validate().map_err(bad)?;
        Ok(action)
    }

    /// Check the constraints of [`JsonAction::parse`] on an action built in code.
    pub fn validate(&self) -> Result<(), String> {
        let t = self.action_type.as_str();
        if !ACTION_TYPES.contains(&t) {
            return Err(format!("unknown action_type `{t}`"));
        }
        if self.index.is_some() && (self.x.is_some() || self.y.is_some()) {
            return Err("give either `index` or `x`/`y`, not both".into());
        }
        if self.x.is_some() != self.y.is_some() {
            return Err("`x` and `y` go together".into());
        }
        if let Some(v) = [self.x, self.y].into_iter().flatten().find(|v| *v < 0) {
            return Err(format!("coordinates must be non-negative, got {v}"));
        }
        if let Some(d) = &self.direction
            && !DIRECTIONS.contains(&d.as_str())
        {
            return Err(format!(
                "direction `{d}` is not one of {}",
                DIRECTIONS.join(", ")
            ));
        }
        if let Some(k) = &self.keycode
            && !k.starts_with("KEYCODE_")
        {
            return Err(format!("keycode `{k}` must start with KEYCODE_"));
        }
        let targeted = self.index.is_some() || self.x.is_some();
        match t {
            "click" | "double_tap" | "long_press" if !targeted => {
                Err(format!("`{t}` needs `index` or `x` and `y`"))
            }
            "scroll" | "swipe" if self.direction.is_none() => {
                Err(format!("`{t}` needs a `direction`"))
            }
            "open_app" if self.app_name.as_deref().is_none_or(str::is_empty) => {
                Err("`open_app` needs an `app_name`".into())
            }
            "status"
                if !self
                    .goal_status
                    .as_deref()
                    .is_some_and(|s| GOAL_STATUSES.contains(&s)) =>
            {
                Err(format!(
                    "`status` needs `goal_status` `complete` or `infeasible`, got {}",
                    self.goal_status
                        .as_deref()
                        .map_or("none".to_owned(), |s| format!("`{s}`"))
                ))
            }
            "answer" if self.text.is_none() => Err("`answer` needs `text`".into()),
            _ => Ok(()),
        }
    }
}

fn from_map(map: &Map<String, Value>) -> Result<JsonAction, String> {
    let string = |k: &str| -> Result<Option<String>, String> {
        match map.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(format!("`{k}` must be a string, got {v}")),
        }
    };
    let int = |k: &str| -> Result<Option<i64>, String> {
        match map.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Ok(Some(i)),
                (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => Ok(Some(f as i64)),
                _ => Err(format!("`{k}` must be an integer, got {n}")),
            },
            // The suite's JSONAction accepts an index given as a numeric string.
            Some(Value::String(s)) if k == "index" => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("`index` must be an integer, got \"{s}\"")),
            Some(v) => Err(format!("`{k}` must be an integer, got {v}")),
        }
    };
    let action_type = match map.get("action_type") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => return Err("`action_type` is missing".into()),
        Some(v) => return Err(format!("`action_type` must be a string, got {v}")),
    };
    // The suite's JSONAction turns a non-string text into its string form.
    let text = match map.get("text") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Some(v.to_string()),
        Some(v) => return Err(format!("`text` must be a string, got {v}")),
    };
    let clear_text = match map.get("clear_text") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(v) => return Err(format!("`clear_text` must be true or false, got {v}")),
    };
    Ok(JsonAction {
        action_type,
        index: int("index")?,
        x: int("x")?,
        y: int("y")?,
        text,
        direction: string("direction")?,
        goal_status: string("goal_status")?,
        app_name: string("app_name")?,
        keycode: string("keycode")?,
        clear_text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(raw: &str) -> String {
        match JsonAction::parse(raw) {
            Err(AwError::InvalidAction(m)) => m,
            other => panic!("{raw}: expected InvalidAction, got {other:?}"),
        }
    }

    #[test]
    fn valid_actions_parse_and_serialize_without_absent_fields() {
        let a = JsonAction::parse(r#"{"action_type":"click","x":540,"y":1200}"#).unwrap();
        assert_eq!(a.to_json(), r#"{"action_type":"click","x":540,"y":1200}"#);
        let a = JsonAction::parse(r#" {"action_type":"click","index":"3"} "#).unwrap();
        assert_eq!(a.index, Some(3));
        let a = JsonAction::parse(
            r#"{"action_type":"input_text","text":42,"index":1,"clear_text":true}"#,
        )
        .unwrap();
        assert_eq!(a.text.as_deref(), Some("42"));
        assert_eq!(a.clear_text, Some(true));
        let a =
            JsonAction::parse(r#"{"action_type":"status","goal_status":"infeasible"}"#).unwrap();
        assert_eq!(a.status(), Some("infeasible"));
        let a = JsonAction::parse(r#"{"action_type":"answer","text":"3 events"}"#).unwrap();
        assert_eq!(a.status(), None);
        for ok in [
            r#"{"action_type":"navigate_home"}"#,
            r#"{"action_type":"scroll","direction":"down","index":2}"#,
            r#"{"action_type":"swipe","direction":"left"}"#,
            r#"{"action_type":"open_app","app_name":"Contacts"}"#,
            r#"{"action_type":"wait","x":null}"#,
            r#"{"action_type":"long_press","x":1.0,"y":2}"#,
            r#"{"action_type":"keyboard_enter","keycode":"KEYCODE_ENTER"}"#,
            r#"{"action_type":"unknown"}"#,
        ] {
            JsonAction::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn bad_actions_are_invalid_with_the_reason() {
        assert!(err("not json").contains("not JSON"));
        assert!(err("[1]").contains("not a JSON object"));
        assert!(err(r#"{"action_type":"fly"}"#).contains("unknown action_type `fly`"));
        assert!(err(r#"{"x":1,"y":2}"#).contains("`action_type` is missing"));
        let m = err(r#"{"action_type":"click","x":1,"y":2,"bogus":1,"z":0}"#);
        assert!(m.contains("unknown JSONAction field(s) bogus, z"), "{m}");
        assert!(err(r#"{"action_type":"click","index":1,"x":1,"y":2}"#).contains("not both"));
        assert!(err(r#"{"action_type":"click","x":1}"#).contains("go together"));
        assert!(err(r#"{"action_type":"click"}"#).contains("needs `index` or `x` and `y`"));
        assert!(err(r#"{"action_type":"click","x":-1,"y":2}"#).contains("non-negative"));
        assert!(err(r#"{"action_type":"click","x":1.5,"y":2}"#).contains("integer"));
        assert!(err(r#"{"action_type":"click","index":"two"}"#).contains("integer"));
        assert!(err(r#"{"action_type":"scroll"}"#).contains("needs a `direction`"));
        assert!(err(r#"{"action_type":"scroll","direction":"sideways"}"#).contains("not one of"));
        assert!(err(r#"{"action_type":"open_app"}"#).contains("app_name"));
        assert!(err(r#"{"action_type":"status"}"#).contains("got none"));
        assert!(err(r#"{"action_type":"status","goal_status":"done"}"#).contains("`done`"));
        assert!(err(r#"{"action_type":"answer"}"#).contains("needs `text`"));
        assert!(err(r#"{"action_type":"wait","keycode":"ENTER"}"#).contains("KEYCODE_"));
        assert!(err(r#"{"action_type":"input_text","text":[1]}"#).contains("must be a string"));
        assert!(err(r#"{"action_type":"input_text","clear_text":1}"#).contains("true or false"));
        // Every message teaches the format.
        assert!(err("{}").contains("action types: click, double_tap"));
    }
}

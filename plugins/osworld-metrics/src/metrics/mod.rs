//! The metrics this checker implements, by family, and [`prepare`]: a metric name,
//! its expected value and options turned into a ready [`Scorer`] (or the error that
//! says why not).
//!
//! Every metric follows its OSWorld namesake (`desktop_env/evaluators/metrics`), with
//! file contents where OSWorld opens a file path. Deviations are documented on each
//! function; the ones common to all:
//! - options a metric does not read are refused ([`MetricError::BadOption`]) instead
//!   of being swallowed by Python's `**options`;
//! - a `null` result scores 0 before the metric runs (see [`crate::score`]);
//! - where Python would raise on a malformed expected value or result, a typed
//!   error says what is wrong.

pub mod a11y;
pub mod json;
pub mod lists;
pub mod os;
pub mod similarity;
pub mod text;
pub mod vscode;

use serde_json::{Map, Value};

use crate::error::MetricError;

/// The names of the metrics this checker implements.
pub const SUPPORTED: &[&str] = &[
    "exact_match",
    "match_in_list",
    "is_in_list",
    "literal_match",
    "fuzzy_match",
    "check_include_exclude",
    "check_direct_json_object",
    "check_list",
    "check_csv",
    "check_json",
    "diff_text_file",
    "compare_text_file",
    "file_contains",
    "check_line_number",
    "check_accessibility_tree",
    "is_extension_installed",
    "check_json_settings",
    "check_json_keybindings",
    "is_utc_0",
    "check_text_enlarged",
    "check_gnome_favorite_apps",
    "check_moved_jpgs",
    "is_in_vm_clickboard",
];

/// A metric with its expected value and options already checked: scores results.
pub trait Scorer {
    /// The metric's score in [0, 1] for a (non-null) result value.
    fn score(&self, result: &Value) -> Result<f64, MetricError>;
}

impl<F: Fn(&Value) -> Result<f64, MetricError>> Scorer for F {
    fn score(&self, result: &Value) -> Result<f64, MetricError> {
        self(result)
    }
}

/// Checks `expected` and `options` for the metric `name` and returns its scorer;
/// [`MetricError::Unsupported`] for a metric this checker does not implement.
pub fn prepare(
    name: &str,
    expected: Option<&Value>,
    options: &Map<String, Value>,
) -> Result<Box<dyn Scorer>, MetricError> {
    let a = Args {
        metric: name,
        expected,
        options,
    };
    Ok(match name {
        "exact_match" => text::exact_match(&a)?,
        "match_in_list" => text::match_in_list(&a)?,
        "is_in_list" => text::is_in_list(&a)?,
        "literal_match" => text::literal_match(&a)?,
        "check_include_exclude" => text::check_include_exclude(&a)?,
        "file_contains" => text::file_contains(&a)?,
        "check_line_number" => text::check_line_number(&a)?,
        "fuzzy_match" => similarity::fuzzy_match(&a)?,
        "diff_text_file" => similarity::diff_text_file(&a)?,
        "check_direct_json_object" => json::check_direct_json_object(&a)?,
        "check_json" => json::check_json(&a)?,
        "check_json_settings" => json::check_json_settings(&a)?,
        "check_json_keybindings" => json::check_json_keybindings(&a)?,
        "check_list" => lists::check_list(&a)?,
        "check_csv" => lists::check_csv(&a)?,
        "compare_text_file" => vscode::compare_text_file(&a)?,
        "is_extension_installed" => vscode::is_extension_installed(&a)?,
        "check_accessibility_tree" => a11y::check_accessibility_tree(&a)?,
        "is_utc_0" => os::is_utc_0(&a)?,
        "check_text_enlarged" => os::check_text_enlarged(&a)?,
        "check_gnome_favorite_apps" => os::check_gnome_favorite_apps(&a)?,
        "check_moved_jpgs" => os::check_moved_jpgs(&a)?,
        "is_in_vm_clickboard" => os::is_in_vm_clickboard(&a)?,
        _ => {
            return Err(MetricError::Unsupported {
                metric: name.into(),
            });
        }
    })
}

/// Scores one result with the metric `name` (prepare, then score; a `null` result
/// scores 0).
pub fn evaluate(
    name: &str,
    result: &Value,
    expected: Option<&Value>,
    options: &Map<String, Value>,
) -> Result<f64, MetricError> {
    let scorer = prepare(name, expected, options)?;
    if result.is_null() {
        return Ok(0.0);
    }
    scorer.score(result)
}

/// What a metric is prepared from, with helpers that name the metric in errors.
pub struct Args<'a> {
    /// The metric's name.
    pub metric: &'a str,
    /// The expected value (OSWorld's second argument), if any.
    pub expected: Option<&'a Value>,
    /// The keyword options.
    pub options: &'a Map<String, Value>,
}

impl<'a> Args<'a> {
    /// Refuses any option outside `allowed`.
    pub(crate) fn allow_options(&self, allowed: &[&str]) -> Result<(), MetricError> {
        for key in self.options.keys() {
            if !allowed.contains(&key.as_str()) {
                let valid = if allowed.is_empty() {
                    format!("{} takes no options", self.metric)
                } else {
                    format!("valid options: {}", allowed.join(", "))
                };
                return Err(self.bad_option(key, &format!("unknown option ({valid})")));
            }
        }
        Ok(())
    }

    /// A boolean option (absent = `default`).
    pub(crate) fn bool_option(&self, key: &str, default: bool) -> Result<bool, MetricError> {
        match self.options.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.bad_option(key, &format!("expected true or false, got {v}"))),
        }
    }

    /// A string option (absent = `default`).
    pub(crate) fn str_option(&self, key: &str, default: &'a str) -> Result<&'a str, MetricError> {
        match self.options.get(key) {
            None => Ok(default),
            Some(Value::String(s)) => Ok(s),
            Some(v) => Err(self.bad_option(key, &format!("expected a string, got {v}"))),
        }
    }

    pub(crate) fn bad_option(&self, key: &str, reason: &str) -> MetricError {
        MetricError::BadOption {
            metric: self.metric.into(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// The expected value, required.
    pub(crate) fn expected(&self) -> Result<&'a Value, MetricError> {
        match self.expected {
            Some(v) if !v.is_null() => Ok(v),
            _ => Err(MetricError::MissingExpected {
                metric: self.metric.into(),
            }),
        }
    }

    /// The expected value as the rules object of a `rule` getter.
    pub(crate) fn rules(&self) -> Result<&'a Map<String, Value>, MetricError> {
        match self.expected()? {
            Value::Object(m) => Ok(m),
            v => Err(self.bad_expected(".", &format!("expected rules (an object), got {v}"))),
        }
    }

    /// `rules[key]`, required.
    pub(crate) fn rule(&self, key: &str) -> Result<&'a Value, MetricError> {
        self.rules()?
            .get(key)
            .ok_or_else(|| self.bad_expected(key, "missing"))
    }

    /// `rules[key]` as a list of strings; absent = empty.
    pub(crate) fn rule_strings(&self, key: &str) -> Result<Vec<String>, MetricError> {
        match self.rules()?.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(xs)) => xs
                .iter()
                .map(|x| match x {
                    Value::String(s) => Ok(s.clone()),
                    v => Err(self.bad_expected(key, &format!("expected strings, got {v}"))),
                })
                .collect(),
            Some(v) => Err(self.bad_expected(key, &format!("expected a list of strings, got {v}"))),
        }
    }

    /// The expected value as text (a gold file's contents).
    pub(crate) fn expected_text(&self) -> Result<&'a str, MetricError> {
        match self.expected()? {
            Value::String(s) => Ok(s),
            v => {
                Err(self.bad_expected(".", &format!("expected file contents (a string), got {v}")))
            }
        }
    }

    pub(crate) fn bad_expected(&self, key: &str, reason: &str) -> MetricError {
        MetricError::BadExpected {
            metric: self.metric.into(),
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// The result as text (file contents, command output); the error names `metric`.
pub(crate) fn result_text<'v>(metric: &str, result: &'v Value) -> Result<&'v str, MetricError> {
    match result {
        Value::String(s) => Ok(s),
        v => Err(MetricError::BadResult {
            metric: metric.into(),
            reason: format!(
                "must be text (file contents or command output), got {}",
                kind(v)
            ),
        }),
    }
}

/// A value's JSON kind, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// 1.0 for true, 0.0 for false.
pub(crate) fn score_of(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_supported_name_prepares_or_fails_on_its_inputs_not_its_name() {
        for name in SUPPORTED {
            let r = prepare(name, None, &Map::new());
            assert!(
                !matches!(r, Err(MetricError::Unsupported { .. })),
                "{name} is listed but not dispatched"
            );
        }
    }

    #[test]
    fn unknown_metric_is_unsupported() {
        let e = evaluate("compare_table", &json!("x"), None, &Map::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "metric compare_table not supported by this checker"
        );
    }

    #[test]
    fn unknown_option_names_metric_and_key() {
        let mut o = Map::new();
        o.insert("ignore_case".into(), json!(true));
        let e = evaluate(
            "exact_match",
            &json!("a"),
            Some(&json!({"expected": "a"})),
            &o,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "metric exact_match: option `ignore_case`: unknown option (exact_match takes no options)"
        );
    }

    #[test]
    fn null_result_scores_zero_after_checking_the_inputs() {
        let rules = json!({"expected": "x"});
        assert_eq!(
            evaluate("exact_match", &Value::Null, Some(&rules), &Map::new()),
            Ok(0.0)
        );
        assert!(evaluate("exact_match", &Value::Null, None, &Map::new()).is_err());
    }
}

//! Metrics over JSON objects and JSON files: `check_direct_json_object`,
//! `check_json` (OSWorld `general.py`), `check_json_settings`,
//! `check_json_keybindings` (OSWorld `vscode.py`).

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::{Args, Scorer, result_text, score_of};
use crate::error::MetricError;
use crate::py::{self, PyRegex, ReFlags};

/// The value OSWorld getters put in place of a value they failed to compute.
pub const EVALUATION_FAILED: &str = "__EVALUATION_FAILED__";

/// A JSON file's contents as Python's `json.load` reads them (`None` where it
/// raises).
fn load_json(text: &str) -> Option<Value> {
    serde_json::from_str(&py::read_text(text)).ok()
}

/// `check_direct_json_object(result, rules)`: compares a JSON object (or text
/// holding one, with `'` read as `"`) against `rules["expected"]` key by key.
/// - default: 1 iff `result.get(k) == v` for every `k: v` of the expected object;
/// - `rules["expect_in_result"]`: a list `v` needs one of its items in (a list) or
///   equal to (a string) `result[k]`; a string `v` must occur in `result[k]`.
///
/// Any expected value equal to `__EVALUATION_FAILED__` scores 0; a result that is
/// not a JSON object scores 0 (OSWorld raises when the text is not JSON).
/// Deviation: with `"ignore_list_order": true` inside the expected object, OSWorld
/// also visits that flag as a key and raises (scoring 0 always); here the flag is
/// skipped and every other key compares `sorted()` values.
pub fn check_direct_json_object(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&[])?;
    let expected = match a.rule("expected")? {
        Value::Object(m) => m.clone(),
        v => return Err(a.bad_expected("expected", &format!("must be an object, got {v}"))),
    };
    let in_result = match a.rules()?.get("expect_in_result") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => {
            return Err(a.bad_expected(
                "expect_in_result",
                &format!("must be true or false, got {v}"),
            ));
        }
    };
    let ignore_order = expected
        .get("ignore_list_order")
        .is_some_and(|v| v == &Value::Bool(true));
    let failed = expected
        .values()
        .any(|v| v.as_str() == Some(EVALUATION_FAILED));
    Ok(Box::new(move |r: &Value| {
        if failed {
            return Ok(0.0);
        }
        let parsed;
        let result = match r {
            Value::String(s) => {
                parsed = serde_json::from_str::<Value>(py::strip(s).replace('\'', "\"").as_str());
                match &parsed {
                    Ok(v) => v,
                    Err(_) => return Ok(0.0),
                }
            }
            v => v,
        };
        let Value::Object(result) = result else {
            return Ok(0.0);
        };
        let null = Value::Null;
        let actual = |k: &str| result.get(k).unwrap_or(&null);
        Ok(score_of(if in_result {
            expected
                .iter()
                .all(|(k, v)| in_result_matches(v, actual(k)))
        } else if ignore_order {
            expected
                .iter()
                .filter(|(k, _)| k.as_str() != "ignore_list_order")
                .all(|(k, v)| match (sorted(v), sorted(actual(k))) {
                    (Some(x), Some(y)) => py::eq(&Value::Array(x), &Value::Array(y)),
                    _ => false,
                })
        } else {
            expected.iter().all(|(k, v)| py::eq(v, actual(k)))
        }))
    }))
}

/// One key of `expect_in_result` mode.
fn in_result_matches(expected: &Value, actual: &Value) -> bool {
    match expected {
        Value::Array(options) => options.iter().any(|e| match actual {
            Value::Array(_) => py::contains(actual, e) == Some(true),
            Value::String(_) => py::eq(e, actual),
            _ => false,
        }),
        Value::String(_) => py::contains(actual, expected) == Some(true),
        _ => false,
    }
}

/// Python `sorted(v)`: a list's items, a string's characters or a dict's keys in
/// order; `None` where Python raises.
fn sorted(v: &Value) -> Option<Vec<Value>> {
    let mut items: Vec<Value> = match v {
        Value::Array(xs) => xs.clone(),
        Value::String(s) => s.chars().map(|c| Value::String(c.to_string())).collect(),
        Value::Object(m) => m.keys().map(|k| Value::String(k.clone())).collect(),
        _ => return None,
    };
    let mut comparable = true;
    items.sort_by(|x, y| {
        py::cmp(x, y).unwrap_or_else(|| {
            comparable = false;
            Ordering::Equal
        })
    });
    comparable.then_some(items)
}

/// A `check_json` rule: a key path, a method and its reference value.
struct JsonRule {
    key: Vec<Value>,
    method: Method,
    reference: Value,
}

/// `_match_value_to_rule` methods.
enum Method {
    /// `re`, `re.IGNORECASE`, ...: `re.search(ref, value, flags)`.
    Re(PyRegex),
    /// `eq`, `ne`, `lt`, `le`, `gt`, `ge`.
    Cmp(&'static str),
    /// `approx:T`: `|float(value) − ref| ≤ T` (false when `float()` fails).
    Approx(f64),
    /// `range.XY` with X, Y ∈ {t, e}: `ref[0] <X value <Y ref[1]`.
    Range(bool, bool),
    /// `str_list_eq` / `str_set_eq`: `value.strip("\"'").split(",")` as a list or
    /// set equals `ref`.
    StrList { as_set: bool },
}

impl JsonRule {
    fn parse(a: &Args, at: &str, rule: &Value) -> Result<Self, MetricError> {
        let bad = |what: &str, reason: &str| a.bad_expected(&format!("{at}.{what}"), reason);
        let Value::Object(rule) = rule else {
            return Err(a.bad_expected(at, &format!("must be an object, got {rule}")));
        };
        let key = match rule.get("key") {
            Some(Value::Array(k)) => k.clone(),
            Some(v) => return Err(bad("key", &format!("must be a list of keys, got {v}"))),
            None => return Err(bad("key", "missing")),
        };
        let name = match rule.get("method") {
            Some(Value::String(m)) => m.as_str(),
            Some(v) => return Err(bad("method", &format!("must be a string, got {v}"))),
            None => return Err(bad("method", "missing")),
        };
        let reference = rule
            .get("ref")
            .cloned()
            .ok_or_else(|| bad("ref", "missing"))?;
        let method = if name.starts_with("re") {
            let mut flags = ReFlags::default();
            for flag in name.split('.').skip(1) {
                if !flags.add(flag) {
                    return Err(bad("method", &format!("unknown regex flag `{flag}`")));
                }
            }
            let Value::String(pattern) = &reference else {
                return Err(bad(
                    "ref",
                    &format!("a pattern must be a string, got {reference}"),
                ));
            };
            Method::Re(PyRegex::new(a.metric, pattern, flags)?)
        } else if let Some(op) = ["eq", "ne", "lt", "le", "gt", "ge"]
            .into_iter()
            .find(|&o| o == name)
        {
            Method::Cmp(op)
        } else if let Some(t) = name.strip_prefix("approx:") {
            let t = py::float(&Value::String(t.into())).ok_or_else(|| {
                bad(
                    "method",
                    &format!("`{name}`: the threshold is not a number"),
                )
            })?;
            if !reference.is_number() {
                return Err(bad("ref", &format!("must be a number, got {reference}")));
            }
            Method::Approx(t)
        } else if let Some(ends) = name.strip_prefix("range.") {
            let inclusive = |c: Option<char>| match c {
                Some('t') => Ok(false),
                Some('e') => Ok(true),
                _ => Err(bad(
                    "method",
                    &format!("`{name}`: expected range.tt, .te, .et or .ee"),
                )),
            };
            let mut cs = ends.chars();
            let (l, r) = (inclusive(cs.next())?, inclusive(cs.next())?);
            if !matches!(&reference, Value::Array(xs) if xs.len() == 2) {
                return Err(bad("ref", &format!("must be [low, high], got {reference}")));
            }
            Method::Range(l, r)
        } else if name == "str_list_eq" || name == "str_set_eq" {
            if !matches!(reference, Value::Array(_) | Value::String(_)) {
                return Err(bad(
                    "ref",
                    &format!("must be a list of strings, got {reference}"),
                ));
            }
            Method::StrList {
                as_set: name == "str_set_eq",
            }
        } else if name == "spreadsheet_range" {
            return Err(MetricError::UnsupportedRule {
                metric: a.metric.into(),
                key: format!("{at}.method"),
                reason: "`spreadsheet_range` (openpyxl cell ranges)".into(),
            });
        } else {
            return Err(bad(
                "method",
                &format!(
                    "unknown method `{name}` (valid: re[.FLAG...], eq, ne, lt, le, gt, ge, approx:T, range.XY, str_list_eq, str_set_eq)"
                ),
            ));
        };
        Ok(JsonRule {
            key,
            method,
            reference,
        })
    }

    /// `_match_value_to_rule(value, rule)`; `Err` where Python raises.
    fn matches(&self, value: &Value) -> Result<bool, ()> {
        let r = &self.reference;
        match &self.method {
            Method::Re(re) => value.as_str().map(|s| re.search(s)).ok_or(()),
            Method::Cmp("eq") => Ok(py::eq(value, r)),
            Method::Cmp("ne") => Ok(!py::eq(value, r)),
            Method::Cmp(op) => {
                let o = py::cmp(value, r).ok_or(())?;
                Ok(match *op {
                    "lt" => o.is_lt(),
                    "le" => o.is_le(),
                    "gt" => o.is_gt(),
                    _ => o.is_ge(),
                })
            }
            Method::Approx(t) => Ok(match (py::float(value), r.as_f64()) {
                (Some(v), Some(x)) => (v - x).abs() <= *t,
                _ => false,
            }),
            Method::Range(left_eq, right_eq) => {
                let bounds = r.as_array().ok_or(())?;
                let below = |lo: &Value, hi: &Value, inclusive: bool| {
                    py::cmp(lo, hi)
                        .map(|o| if inclusive { o.is_le() } else { o.is_lt() })
                        .ok_or(())
                };
                Ok(below(&bounds[0], value, *left_eq)? && below(value, &bounds[1], *right_eq)?)
            }
            Method::StrList { as_set } => {
                let s = value.as_str().ok_or(())?;
                let mut got: Vec<Value> = s
                    .trim_matches(['"', '\''])
                    .split(',')
                    .map(|p| Value::String(p.into()))
                    .collect();
                let mut want: Vec<Value> = match r {
                    Value::Array(xs) => xs.clone(),
                    Value::String(t) => t.chars().map(|c| Value::String(c.into())).collect(),
                    _ => return Err(()),
                };
                if *as_set {
                    dedup(&mut got);
                    dedup(&mut want);
                    Ok(got.len() == want.len()
                        && got.iter().all(|g| want.iter().any(|w| py::eq(g, w))))
                } else {
                    Ok(py::eq(&Value::Array(got), &Value::Array(want)))
                }
            }
        }
    }
}

fn dedup(xs: &mut Vec<Value>) {
    let mut out: Vec<Value> = Vec::with_capacity(xs.len());
    for x in xs.drain(..) {
        if !out.iter().any(|o| py::eq(o, &x)) {
            out.push(x);
        }
    }
    *xs = out;
}

/// Python `value[k]` on a loaded JSON value.
enum Lookup {
    Found(Value),
    /// `KeyError` or `TypeError`.
    Missing,
    /// `IndexError`.
    OutOfRange,
}

fn index(value: &Value, k: &Value) -> Lookup {
    let found = Lookup::Found;
    match value {
        Value::Object(m) => match k {
            Value::String(s) => m.get(s).cloned().map_or(Lookup::Missing, found),
            _ => Lookup::Missing,
        },
        Value::Array(_) | Value::String(_) => {
            let i = match k {
                Value::Bool(b) => i128::from(*b),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => i128::from(i),
                    None => return Lookup::Missing,
                },
                _ => return Lookup::Missing,
            };
            let items: Vec<Value> = match value {
                Value::Array(xs) => xs.clone(),
                Value::String(s) => s.chars().map(|c| Value::String(c.into())).collect(),
                _ => unreachable!(),
            };
            let n = items.len() as i128;
            let i = if i < 0 { i + n } else { i };
            if (0..n).contains(&i) {
                found(items[i as usize].clone())
            } else {
                Lookup::OutOfRange
            }
        }
        _ => Lookup::Missing,
    }
}

/// `check_json(result, rules, is_yaml=False)`: loads the JSON file and checks each
/// `rules["expect"]` rule (the value at `key` must exist and match `method`/`ref`)
/// and each `rules["unexpect"]` rule (the value, `None` when absent, must not
/// match). A file that is not JSON scores 0.
/// `is_yaml: true` is refused ([`MetricError::UnsupportedOption`]): no YAML parser.
pub fn check_json(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&["is_yaml"])?;
    if a.bool_option("is_yaml", false)? {
        return Err(MetricError::UnsupportedOption {
            metric: a.metric.into(),
            key: "is_yaml".into(),
            reason: "true (YAML files)".into(),
        });
    }
    let list = |key: &str| -> Result<Vec<JsonRule>, MetricError> {
        match a.rules()?.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(rs)) => rs
                .iter()
                .enumerate()
                .map(|(i, r)| JsonRule::parse(a, &format!("{key}[{i}]"), r))
                .collect(),
            Some(v) => Err(a.bad_expected(key, &format!("must be a list of rules, got {v}"))),
        }
    };
    let expect = list("expect")?;
    let unexpect = list("unexpect")?;
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        let Some(data) = load_json(result_text(&metric, r)?) else {
            return Ok(0.0);
        };
        for rule in &expect {
            let mut value = data.clone();
            for k in &rule.key {
                match index(&value, k) {
                    Lookup::Found(v) => value = v,
                    Lookup::Missing | Lookup::OutOfRange => return Ok(0.0),
                }
            }
            if rule.matches(&value) != Ok(true) {
                return Ok(0.0);
            }
        }
        for rule in &unexpect {
            let mut value = data.clone();
            for k in &rule.key {
                match index(&value, k) {
                    Lookup::Found(v) => value = v,
                    Lookup::Missing => {
                        value = Value::Null;
                        break;
                    }
                    Lookup::OutOfRange => return Ok(0.0),
                }
            }
            if rule.matches(&value) != Ok(false) {
                return Ok(0.0);
            }
        }
        Ok(1.0)
    }))
}

/// The expected object of `check_json_settings`.
fn expected_object(a: &Args) -> Result<Map<String, Value>, MetricError> {
    match a.rule("expected")? {
        Value::Object(m) => Ok(m.clone()),
        v => Err(a.bad_expected("expected", &format!("must be an object, got {v}"))),
    }
}

/// `check_json_settings(settings_file, rules)`: 1 iff the file is a JSON object
/// holding every top-level `k: v` of `rules["expected"]` (Python `==` on values).
/// A file that is not a JSON object scores 0 (VS Code's JSON-with-comments
/// included, as in OSWorld).
pub fn check_json_settings(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&[])?;
    let expected = expected_object(a)?;
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        let Some(Value::Object(data)) = load_json(result_text(&metric, r)?) else {
            return Ok(0.0);
        };
        Ok(score_of(
            expected
                .iter()
                .all(|(k, v)| data.get(k).is_some_and(|d| py::eq(d, v))),
        ))
    }))
}

/// `check_json_keybindings(keybindings_file, rules)`: 1 iff the file is a JSON list
/// (read whole, or else after skipping its first line, VS Code's comment header)
/// containing an entry equal to `rules["expected"]`.
pub fn check_json_keybindings(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&[])?;
    let expected = a.rule("expected")?.clone();
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        let text = py::read_text(result_text(&metric, r)?).into_owned();
        let after_first_line = text.split_once('\n').map_or("", |(_, rest)| rest);
        let list =
            [text.as_str(), after_first_line].into_iter().find_map(
                |t| match serde_json::from_str::<Value>(t) {
                    Ok(Value::Array(xs)) => Some(xs),
                    _ => None,
                },
            );
        Ok(match list {
            Some(xs) => score_of(xs.iter().any(|x| py::eq(x, &expected))),
            None => 0.0,
        })
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use crate::error::MetricError;
    use crate::metrics::evaluate;

    fn run(metric: &str, result: Value, expected: Value) -> f64 {
        evaluate(metric, &result, Some(&expected), &Map::new()).unwrap()
    }

    #[test]
    fn direct_json_object_from_url_parameters() {
        // chrome 7f52cab9-535c-4835-ac8c-391ee64dc930: query parameters of the tab.
        let rules = json!({"expected": {"q": "drip coffee maker",
            "tbs": "mr:1,price:1,ppr_min:25,ppr_max:60,sales:1,pdtr0:1825161|1825162"}});
        let good = json!({"q": "drip coffee maker",
            "tbs": "mr:1,price:1,ppr_min:25,ppr_max:60,sales:1,pdtr0:1825161|1825162", "hl": "en"});
        assert_eq!(run("check_direct_json_object", good, rules.clone()), 1.0);
        let bad = json!({"q": "drip coffee maker", "tbs": "mr:1,price:1,ppr_min:25,ppr_max:80"});
        assert_eq!(run("check_direct_json_object", bad, rules.clone()), 0.0);
        assert_eq!(
            run(
                "check_direct_json_object",
                json!({"q": "drip coffee maker"}),
                rules.clone()
            ),
            0.0
        );
        assert_eq!(run("check_direct_json_object", json!(["q"]), rules), 0.0);
    }

    #[test]
    fn direct_json_object_from_script_output_in_result_mode() {
        // multi_apps ce2b64a2-ddc1-4f91-8c7d-a88be7121aac: a script prints a Python
        // dict of image hash -> mountain name.
        let rules = json!({"expected": {
            "ec07": ["Kilimanjaro"], "6ed4": ["Himalayas", "Everest", "Sagarmatha"], "79f4": ["Hua", "hua"]},
            "expect_in_result": true});
        let out = "{'ec07': 'Kilimanjaro', '6ed4': 'Everest', '79f4': 'Hua'}\n";
        assert_eq!(
            run("check_direct_json_object", json!(out), rules.clone()),
            1.0
        );
        let lists =
            "{'ec07': ['Mount Kilimanjaro', 'Kilimanjaro'], '6ed4': ['Everest'], '79f4': ['hua']}";
        assert_eq!(
            run("check_direct_json_object", json!(lists), rules.clone()),
            1.0
        );
        let wrong = "{'ec07': 'Kilimanjaro', '6ed4': 'K2', '79f4': 'Hua'}";
        assert_eq!(
            run("check_direct_json_object", json!(wrong), rules.clone()),
            0.0
        );
        assert_eq!(
            run(
                "check_direct_json_object",
                json!("Traceback (most recent call last):"),
                rules.clone()
            ),
            0.0
        );
        assert_eq!(run("check_direct_json_object", json!("null"), rules), 0.0);
        // A string expectation is a substring test.
        let rules = json!({"expected": {"time": "10:15"}, "expect_in_result": true});
        assert_eq!(
            run(
                "check_direct_json_object",
                json!({"time": "March 4, 10:15 am"}),
                rules.clone()
            ),
            1.0
        );
        assert_eq!(
            run("check_direct_json_object", json!({"when": "10:15"}), rules),
            0.0
        );
    }

    #[test]
    fn direct_json_object_failed_getter_and_list_order() {
        let rules = json!({"expected": {"from": "__EVALUATION_FAILED__"}});
        assert_eq!(
            run(
                "check_direct_json_object",
                json!({"from": "__EVALUATION_FAILED__"}),
                rules
            ),
            0.0
        );
        let rules = json!({"expected": {"tabs": ["a", "b"], "ignore_list_order": true}});
        assert_eq!(
            run(
                "check_direct_json_object",
                json!({"tabs": ["b", "a"]}),
                rules.clone()
            ),
            1.0
        );
        assert_eq!(
            run(
                "check_direct_json_object",
                json!({"tabs": ["b", "c"]}),
                rules
            ),
            0.0
        );
        let e = evaluate(
            "check_direct_json_object",
            &json!({}),
            Some(&json!({"expected": [1]})),
            &Map::new(),
        )
        .unwrap_err();
        assert!(matches!(e, MetricError::BadExpected { .. }), "{e}");
    }

    #[test]
    fn check_json_on_thunderbird_xulstore() {
        // thunderbird 480bcfea-d68f-4aaa-a0a9-2589ef319381: unified folders mode.
        let rules = json!({"expect": [{"key": ["chrome://messenger/content/messenger.xhtml", "folderTree", "mode"],
                                        "method": "re", "ref": "\\bsmart\\b"}]});
        let store = |mode: &str| {
            json!({"chrome://messenger/content/messenger.xhtml": {"folderTree": {"mode": mode}}})
                .to_string()
        };
        assert_eq!(run("check_json", json!(store("smart")), rules.clone()), 1.0);
        assert_eq!(
            run("check_json", json!(store("all,smart")), rules.clone()),
            1.0
        );
        assert_eq!(
            run("check_json", json!(store("smartest")), rules.clone()),
            0.0
        );
        assert_eq!(run("check_json", json!("{}"), rules.clone()), 0.0);
        assert_eq!(run("check_json", json!("not json"), rules), 0.0);
    }

    #[test]
    fn check_json_on_an_extension_manifest() {
        // multi_apps 74d5859f-ed66-4d3e-aa0e-93d7a592ce41: manifest.json fields.
        let rules = json!({"expect": [
            {"key": ["name"], "method": "eq", "ref": "happy-extension"},
            {"key": ["version"], "method": "eq", "ref": "0.0.1"},
            {"key": ["background", "scripts"], "method": "eq", "ref": ["background_script.js"]},
            {"key": ["browser_action", "default_icon"], "method": "eq", "ref": {"64": "icons/icon.png"}}
        ]});
        let manifest = json!({"name": "happy-extension", "version": "0.0.1",
            "background": {"scripts": ["background_script.js"]},
            "browser_action": {"default_icon": {"64": "icons/icon.png"}, "default_title": "happy"}});
        assert_eq!(
            run("check_json", json!(manifest.to_string()), rules.clone()),
            1.0
        );
        let mut v1 = manifest.clone();
        v1["version"] = json!("1.0");
        assert_eq!(run("check_json", json!(v1.to_string()), rules), 0.0);
    }

    #[test]
    fn check_json_methods_and_unexpect() {
        let data = json!({"size": 12, "items": ["a", "b"], "tags": "\"x,y\""}).to_string();
        let ok = |rules: Value| run("check_json", json!(data.clone()), rules);
        assert_eq!(
            ok(json!({"expect": [{"key": ["size"], "method": "approx:0.5", "ref": 12.4}]})),
            1.0
        );
        assert_eq!(
            ok(json!({"expect": [{"key": ["size"], "method": "approx:0.1", "ref": 12.4}]})),
            0.0
        );
        assert_eq!(
            ok(json!({"expect": [{"key": ["size"], "method": "range.te", "ref": [10, 12]}]})),
            1.0
        );
        assert_eq!(
            ok(json!({"expect": [{"key": ["size"], "method": "range.tt", "ref": [10, 12]}]})),
            0.0
        );
        assert_eq!(
            ok(json!({"expect": [{"key": ["size"], "method": "ge", "ref": 12.0}]})),
            1.0
        );
        assert_eq!(
            ok(json!({"expect": [{"key": ["size"], "method": "lt", "ref": "12"}]})),
            0.0
        );
        assert_eq!(
            ok(json!({"expect": [{"key": ["items", -1], "method": "eq", "ref": "b"}]})),
            1.0
        );
        assert_eq!(
            ok(json!({"expect": [{"key": ["items", 5], "method": "eq", "ref": "b"}]})),
            0.0
        );
        assert_eq!(
            ok(json!({"expect": [{"key": ["tags"], "method": "str_list_eq", "ref": ["x", "y"]}]})),
            1.0
        );
        assert_eq!(
            ok(json!({"expect": [{"key": ["tags"], "method": "str_set_eq", "ref": ["y", "x"]}]})),
            1.0
        );
        assert_eq!(
            ok(json!({"expect": [{"key": ["tags"], "method": "str_list_eq", "ref": ["y", "x"]}]})),
            0.0
        );
        assert_eq!(
            ok(json!({"expect": [{"key": ["items", 0], "method": "re.IGNORECASE", "ref": "^A$"}]})),
            1.0
        );
        // unexpect: an absent key is None, which equals nothing but None.
        assert_eq!(
            ok(json!({"unexpect": [{"key": ["gone", "deeper"], "method": "eq", "ref": "x"}]})),
            1.0
        );
        assert_eq!(
            ok(json!({"unexpect": [{"key": ["size"], "method": "eq", "ref": 12}]})),
            0.0
        );
        // An index out of range in unexpect raises in OSWorld: 0.
        assert_eq!(
            ok(json!({"unexpect": [{"key": ["items", 9], "method": "eq", "ref": "x"}]})),
            0.0
        );
    }

    #[test]
    fn check_json_refuses_what_it_cannot_do() {
        // multi_apps e2392362-125e-4f76-a2ee-524b183a3412 reads a YAML file.
        let rules = json!({"expect": [{"key": ["name"], "method": "eq", "ref": "Test Account"}]});
        let o = json!({"is_yaml": true}).as_object().unwrap().clone();
        let e = evaluate(
            "check_json",
            &json!("name: Test Account\n"),
            Some(&rules),
            &o,
        )
        .unwrap_err();
        assert!(e.is_unsupported(), "{e}");
        let rules =
            json!({"expect": [{"key": ["a"], "method": "spreadsheet_range", "ref": ["A1", "B2"]}]});
        assert!(
            evaluate("check_json", &json!("{}"), Some(&rules), &Map::new())
                .unwrap_err()
                .is_unsupported()
        );
        let rules = json!({"expect": [{"key": ["a"], "method": "similar", "ref": 1}]});
        let e = evaluate("check_json", &json!("{}"), Some(&rules), &Map::new()).unwrap_err();
        assert!(e.to_string().contains("expect[0].method"), "{e}");
        let rules = json!({"expect": [{"key": "a", "method": "eq", "ref": 1}]});
        assert!(evaluate("check_json", &json!("{}"), Some(&rules), &Map::new()).is_err());
    }

    #[test]
    fn json_settings() {
        // vs_code 276cc624-87ea-4f08-ab93-f770e3790175: line length 50.
        let rules = json!({"expected": {"editor.wordWrapColumn": 50}});
        let settings = "{\n  \"workbench.colorTheme\": \"Default Dark+\",\n  \"editor.wordWrapColumn\": 50\n}\n";
        assert_eq!(
            run("check_json_settings", json!(settings), rules.clone()),
            1.0
        );
        assert_eq!(
            run(
                "check_json_settings",
                json!("{\"editor.wordWrapColumn\": 80}"),
                rules.clone()
            ),
            0.0
        );
        assert_eq!(run("check_json_settings", json!("{}"), rules.clone()), 0.0);
        // JSON with comments is not JSON to Python either.
        let commented = "// user settings\n{\"editor.wordWrapColumn\": 50}";
        assert_eq!(
            run("check_json_settings", json!(commented), rules.clone()),
            0.0
        );
        assert_eq!(run("check_json_settings", json!("[]"), rules), 0.0);
        // vs_code c6bf789c-ba3a-4209-971d-b63abf0ab733: nested values compare whole.
        let rules = json!({"expected": {"files.exclude": {"**/__pycache__": true}}});
        assert_eq!(
            run(
                "check_json_settings",
                json!("{\"files.exclude\": {\"**/__pycache__\": true}}"),
                rules.clone()
            ),
            1.0
        );
        assert_eq!(
            run(
                "check_json_settings",
                json!("{\"files.exclude\": {\"**/__pycache__\": true, \"**/.git\": true}}"),
                rules
            ),
            0.0
        );
        // vs_code 6ed0a554-cbee-4b44-84ea-fd6c042f4fe1: a workspace file.
        let rules = json!({"expected": {"folders": [{"path": "project"}, {"path": "data1"}, {"path": "data2"}]}});
        let ws = json!({"folders": [{"path": "project"}, {"path": "data1"}, {"path": "data2"}], "settings": {}});
        assert_eq!(
            run("check_json_settings", json!(ws.to_string()), rules),
            1.0
        );
    }

    #[test]
    fn json_keybindings() {
        // vs_code 930fdb3b-11a8-46fe-9bac-577332e2640e: ctrl+j focuses the editor.
        let rules = json!({"expected": {"key": "ctrl+j", "command": "workbench.action.focusActiveEditorGroup",
                                        "when": "terminalFocus"}});
        let with_header = "// Place your key bindings in this file to override the defaults\n[\n  {\"key\": \"ctrl+j\", \"command\": \"workbench.action.focusActiveEditorGroup\", \"when\": \"terminalFocus\"}\n]\n";
        assert_eq!(
            run("check_json_keybindings", json!(with_header), rules.clone()),
            1.0
        );
        let plain = "[{\"command\": \"workbench.action.focusActiveEditorGroup\", \"when\": \"terminalFocus\", \"key\": \"ctrl+j\"}]";
        assert_eq!(
            run("check_json_keybindings", json!(plain), rules.clone()),
            1.0
        );
        let other = "[{\"key\": \"ctrl+k\", \"command\": \"workbench.action.focusActiveEditorGroup\", \"when\": \"terminalFocus\"}]";
        assert_eq!(
            run("check_json_keybindings", json!(other), rules.clone()),
            0.0
        );
        assert_eq!(
            run(
                "check_json_keybindings",
                json!("{\"key\": \"ctrl+j\"}"),
                rules.clone()
            ),
            0.0
        );
        assert_eq!(
            run("check_json_keybindings", json!("// a\n// b\n[]"), rules),
            0.0
        );
    }
}

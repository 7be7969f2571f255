//! Literal and substring metrics over command output and file contents
//! (OSWorld `general.py`): `exact_match`, `match_in_list`, `is_in_list`,
//! `literal_match`, `check_include_exclude`, `file_contains`, `check_line_number`.

use regex::Regex;
use serde_json::Value;

use super::{Args, Scorer, kind, result_text, score_of};
use crate::error::MetricError;
use crate::py;

fn type_error(metric: &str, what: &str) -> MetricError {
    MetricError::BadResult {
        metric: metric.into(),
        reason: what.into(),
    }
}

/// `exact_match(result, rules)`: 1 iff `result == rules["expected"]` (Python `==`,
/// so `"100\n"` differs from `"100"`).
pub fn exact_match(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&[])?;
    let expected = a.rule("expected")?.clone();
    Ok(Box::new(move |r: &Value| {
        Ok(score_of(py::eq(r, &expected)))
    }))
}

/// `match_in_list(result, rules)`: 1 iff `result in rules["expected"]` (a list:
/// membership; a string: substring).
pub fn match_in_list(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&[])?;
    let expected = a.rule("expected")?.clone();
    if !matches!(
        expected,
        Value::Array(_) | Value::String(_) | Value::Object(_)
    ) {
        return Err(a.bad_expected("expected", &format!("must be a list, got {expected}")));
    }
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        py::contains(&expected, r).map(score_of).ok_or_else(|| {
            type_error(
                &metric,
                &format!("{} cannot be looked up in {expected}", kind(r)),
            )
        })
    }))
}

/// `is_in_list(result, rules)`: 1 iff `rules["expected"] in result` (text:
/// substring; a list: membership).
pub fn is_in_list(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&[])?;
    let expected = a.rule("expected")?.clone();
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        py::contains(r, &expected)
            .map(score_of)
            .ok_or_else(|| type_error(&metric, &format!("({}) cannot contain {expected}", kind(r))))
    }))
}

/// `literal_match(result, expected, type="str", ignore_case=False)`: with `type`
/// `str`, 1 iff `str(result) == str(expected)` (Python `str()`); with `type` `list`,
/// 1 iff both are lists of the same length whose items' `str()` are equal. The
/// expected value is the getter's output itself (not rules).
pub fn literal_match(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&["type", "ignore_case"])?;
    let ignore_case = a.bool_option("ignore_case", false)?;
    let as_list = match a.str_option("type", "str")? {
        "str" => false,
        "list" => true,
        other => {
            return Err(a.bad_option("type", &format!("`{other}`: valid types are str, list")));
        }
    };
    let norm = move |v: &Value| {
        let s = py::to_str(v);
        if ignore_case { py::lower(&s) } else { s }
    };
    let expected = a.expected()?.clone();
    Ok(Box::new(move |r: &Value| {
        if !as_list {
            return Ok(score_of(norm(r) == norm(&expected)));
        }
        Ok(match (r, &expected) {
            (Value::Array(xs), Value::Array(ys)) if xs.len() == ys.len() => {
                score_of(xs.iter().zip(ys).all(|(x, y)| norm(x) == norm(y)))
            }
            _ => 0.0,
        })
    }))
}

/// `check_include_exclude(result, rules)`: 1 iff every `rules["include"]` string is
/// in the result and no `rules["exclude"]` string is (absent lists are empty).
pub fn check_include_exclude(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&[])?;
    let include = a.rule_strings("include")?;
    let exclude = a.rule_strings("exclude")?;
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        let has = |s: &String| {
            py::contains(r, &Value::String(s.clone()))
                .ok_or_else(|| type_error(&metric, &format!("({}) cannot contain text", kind(r))))
        };
        for s in &include {
            if !has(s)? {
                return Ok(0.0);
            }
        }
        for s in &exclude {
            if has(s)? {
                return Ok(0.0);
            }
        }
        Ok(1.0)
    }))
}

/// `file_contains(file, rules)`: 1 iff every string of `rules["expected"]` (a list,
/// or one string) occurs in the file's text.
pub fn file_contains(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&[])?;
    let needles = match a.rule("expected")? {
        Value::String(s) => vec![s.clone()],
        _ => a.rule_strings("expected")?,
    };
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        let text = py::read_text(result_text(&metric, r)?);
        Ok(score_of(needles.iter().all(|n| text.contains(n.as_str()))))
    }))
}

/// `check_line_number(file, rules)`: 1 iff the number of the file's lines holding a
/// time `HH:MM:SS` equals `int(rules["expected"])`; 0 when that is not an integer
/// (Python's `int()` raises and the metric returns 0).
pub fn check_line_number(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&[])?;
    let expected = py::int(a.rule("expected")?);
    let time = Regex::new(r"([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)")
        .map_err(|e| a.bad_expected(".", &e.to_string()))?;
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        let lines = py::file_lines(result_text(&metric, r)?);
        let count = lines.iter().filter(|l| time.is_match(l)).count();
        Ok(score_of(expected == Some(count as i128)))
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

    fn opts(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn exact_match_on_command_output() {
        // OSWorld os 28cc3b7e-b194-4bc9-8353-d04c0f4d56d2: the volume, with its newline.
        let rules = json!({"expected": "100\n"});
        assert_eq!(run("exact_match", json!("100\n"), rules.clone()), 1.0);
        assert_eq!(run("exact_match", json!("100"), rules.clone()), 0.0);
        assert_eq!(run("exact_match", json!("75\n"), rules), 0.0);
        // chrome 030eeff7-b492-4218-b312-701ec99ee0cc: "true" from a getter.
        assert_eq!(
            run("exact_match", json!("true"), json!({"expected": "true"})),
            1.0
        );
        assert_eq!(
            run("exact_match", json!(true), json!({"expected": "true"})),
            0.0
        );
    }

    #[test]
    fn exact_match_needs_the_expected_rule() {
        let e = evaluate(
            "exact_match",
            &json!("a"),
            Some(&json!({"expect": "a"})),
            &Map::new(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "metric exact_match: expected value `expected`: missing"
        );
        let e = evaluate("exact_match", &json!("a"), None, &Map::new()).unwrap_err();
        assert!(matches!(e, MetricError::MissingExpected { .. }));
    }

    #[test]
    fn match_in_list_and_is_in_list() {
        let rules = json!({"expected": ["firefox.desktop", "google-chrome.desktop"]});
        assert_eq!(
            run("match_in_list", json!("firefox.desktop"), rules.clone()),
            1.0
        );
        assert_eq!(run("match_in_list", json!("vlc.desktop"), rules), 0.0);
        assert!(
            evaluate(
                "match_in_list",
                &json!("x"),
                Some(&json!({"expected": 3})),
                &Map::new()
            )
            .is_err()
        );
        // chrome 6766f2b8-8a72-417f-a9e5-56fcaa735837: the unpacked extension path is
        // among the installed ones.
        let rules = json!({"expected": "/home/user/Desktop/helloExtension"});
        let installed = json!(["/opt/ext/a", "/home/user/Desktop/helloExtension"]);
        assert_eq!(run("is_in_list", installed, rules.clone()), 1.0);
        assert_eq!(run("is_in_list", json!(["/opt/ext/a"]), rules.clone()), 0.0);
        // multi_apps 48d05431-6cd5-4e76-82eb-12b60d823f7d: substring of `conda list`.
        let rules = json!({"expected": "packages in environment at"});
        let out = "# packages in environment at /home/user/anaconda3:\n#\n";
        assert_eq!(run("is_in_list", json!(out), rules.clone()), 1.0);
        assert_eq!(
            run(
                "is_in_list",
                json!("conda: command not found\n"),
                rules.clone()
            ),
            0.0
        );
        assert!(evaluate("is_in_list", &json!(5), Some(&rules), &Map::new()).is_err());
    }

    #[test]
    fn literal_match_list_ignoring_case() {
        // multi_apps 5990457f-2adb-467b-a4af-5c857c92d762: the last row of a sheet vs
        // values scraped from a web page.
        let o = opts(json!({"type": "list", "ignore_case": true}));
        let expected = json!(["Yann LeCun", "345074", "147", "372", "Deep learning"]);
        let row = json!(["yann lecun", 345074, 147, "372", "DEEP LEARNING"]);
        assert_eq!(
            evaluate("literal_match", &row, Some(&expected), &o),
            Ok(1.0)
        );
        let short = json!(["yann lecun", 345074]);
        assert_eq!(
            evaluate("literal_match", &short, Some(&expected), &o),
            Ok(0.0)
        );
        let wrong = json!(["Yann LeCun", 345075, 147, "372", "Deep learning"]);
        assert_eq!(
            evaluate("literal_match", &wrong, Some(&expected), &o),
            Ok(0.0)
        );
        assert_eq!(
            evaluate("literal_match", &json!("x"), Some(&expected), &o),
            Ok(0.0)
        );
    }

    #[test]
    fn literal_match_str() {
        assert_eq!(run("literal_match", json!(1.0), json!("1.0")), 1.0);
        assert_eq!(run("literal_match", json!(1), json!("1.0")), 0.0);
        assert_eq!(run("literal_match", json!("ABC"), json!("abc")), 0.0);
        let o = opts(json!({"ignore_case": true}));
        assert_eq!(
            evaluate("literal_match", &json!("ABC"), Some(&json!("abc")), &o),
            Ok(1.0)
        );
        let o = opts(json!({"type": "dict"}));
        let e = evaluate("literal_match", &json!("a"), Some(&json!("a")), &o).unwrap_err();
        assert!(
            matches!(e, MetricError::BadOption { ref key, .. } if key == "type"),
            "{e}"
        );
        let o = opts(json!({"ignore_case": "yes"}));
        assert!(evaluate("literal_match", &json!("a"), Some(&json!("a")), &o).is_err());
    }

    #[test]
    fn check_include_exclude_on_a_script_report() {
        // multi_apps 2b9493d7-49b8-493a-a71b-56cd1f4d6908: LibreOffice killed from a terminal.
        let rules = json!({
            "include": ["no libreoffice is running", "killed from terminal"],
            "exclude": ["libreoffice is still running", "not killed from terminal"]
        });
        let good = "no libreoffice is running\nkilled from terminal\n";
        assert_eq!(
            run("check_include_exclude", json!(good), rules.clone()),
            1.0
        );
        let bad = "no libreoffice is running\nnot killed from terminal\n";
        assert_eq!(run("check_include_exclude", json!(bad), rules.clone()), 0.0);
        let still = "libreoffice is still running\nkilled from terminal\n";
        assert_eq!(run("check_include_exclude", json!(still), rules), 0.0);
        // os 94d95f96-9699-4208-98ba-3c3119edf9c2: `which spotify`.
        let rules = json!({"include": ["spotify"], "exclude": ["not found"]});
        assert_eq!(
            run(
                "check_include_exclude",
                json!("/snap/bin/spotify\n"),
                rules.clone()
            ),
            1.0
        );
        assert_eq!(
            run(
                "check_include_exclude",
                json!("spotify not found\n"),
                rules.clone()
            ),
            0.0
        );
        assert_eq!(run("check_include_exclude", json!(""), rules), 0.0);
        // os cc9d4f34-1ca0-4a1b-8ff2-09302696acb9: only an exclude list.
        let rules = json!({"include": [], "exclude": ["/bin/sh ./my_process.sh"]});
        assert_eq!(
            run(
                "check_include_exclude",
                json!("user 12 grep my_process.sh\n"),
                rules
            ),
            1.0
        );
        let bad_rules = json!({"include": "spotify"});
        assert!(
            evaluate(
                "check_include_exclude",
                &json!("x"),
                Some(&bad_rules),
                &Map::new()
            )
            .is_err()
        );
    }

    #[test]
    fn file_contains_and_check_line_number() {
        // multi_apps 2373b66a-092d-44cb-bfd7-82e86e7a3b4d: a `sar` report.
        let head = "Linux 6.5.0 (ubuntu) \t01/30/2024 \t_x86_64_\t(4 CPU)\n\n";
        let mut report = format!("{head}12:00:01 CPU %user %nice %system %iowait %steal %idle\n");
        for s in 2..=31 {
            report.push_str(&format!("12:00:{s:02} all 1.0 0.0 0.5 0.0 0.0 98.5\n"));
        }
        let words =
            json!({"expected": ["CPU", "%user", "%nice", "%system", "%iowait", "%steal", "%idle"]});
        assert_eq!(
            run("file_contains", json!(report.clone()), words.clone()),
            1.0
        );
        assert_eq!(run("file_contains", json!("CPU %user\n"), words), 0.0);
        assert_eq!(
            run("file_contains", json!("abc"), json!({"expected": "b"})),
            1.0
        );
        assert_eq!(
            run(
                "check_line_number",
                json!(report.clone()),
                json!({"expected": "31"})
            ),
            1.0
        );
        assert_eq!(
            run(
                "check_line_number",
                json!(report.clone()),
                json!({"expected": 30})
            ),
            0.0
        );
        assert_eq!(
            run(
                "check_line_number",
                json!(report),
                json!({"expected": "many"})
            ),
            0.0
        );
        // 24:00:00 is not a time; 23:59:60 is.
        let t = "24:00:00\n23:59:60\r\n7:00:00\n";
        assert_eq!(
            run("check_line_number", json!(t), json!({"expected": "1"})),
            1.0
        );
        assert!(
            evaluate(
                "file_contains",
                &json!({"a": 1}),
                Some(&json!({"expected": []})),
                &Map::new()
            )
            .is_err()
        );
    }
}

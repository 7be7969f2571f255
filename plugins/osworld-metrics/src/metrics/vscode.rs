//! Metrics from OSWorld's `vscode.py` that are not about JSON: `compare_text_file`
//! and `is_extension_installed`.

use serde_json::Value;

use super::{Args, Scorer, kind, result_text, score_of};
use crate::error::MetricError;
use crate::py;

/// The text `compare_text_file` compares, after its options.
fn normalize(text: &str, ignore_blanks: bool, ignore_case: bool) -> String {
    let text = py::read_text(text);
    let mut out = if ignore_blanks {
        // re.sub(r'[\t\n]', ' ', t).strip(), then re.sub(r'\s+', ' ', t).
        let tabs = text.replace(['\t', '\n'], " ");
        let mut collapsed = String::with_capacity(tabs.len());
        let mut in_space = false;
        for c in py::strip(&tabs).chars() {
            if py::is_space(c) {
                if !in_space {
                    collapsed.push(' ');
                }
                in_space = true;
            } else {
                collapsed.push(c);
                in_space = false;
            }
        }
        collapsed
    } else {
        text.into_owned()
    };
    if ignore_case {
        out = py::lower(&out);
    }
    out
}

/// `compare_text_file(file, gold_file, ignore_blanks=False, ignore_case=False)`: 1
/// iff the two files' texts are equal; `ignore_blanks` turns every run of
/// whitespace into one space and trims the ends, `ignore_case` lower-cases both.
/// Deviation: OSWorld scores an empty *path* 0; here an empty file is text like
/// any other (a missing file is `null`, which scores 0).
pub fn compare_text_file(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&["ignore_blanks", "ignore_case"])?;
    let ignore_blanks = a.bool_option("ignore_blanks", false)?;
    let ignore_case = a.bool_option("ignore_case", false)?;
    let gold = normalize(a.expected_text()?, ignore_blanks, ignore_case);
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        let text = normalize(result_text(&metric, r)?, ignore_blanks, ignore_case);
        Ok(score_of(text == gold))
    }))
}

/// `is_extension_installed(output, rules)`: with `rules["type"]` `contain`, 1 iff
/// `rules["expected"]` occurs in the output; with `not_contain`, 1 iff it does not.
pub fn is_extension_installed(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&[])?;
    let want = match a.rule("type")? {
        Value::String(t) if t == "contain" => true,
        Value::String(t) if t == "not_contain" => false,
        v => {
            return Err(a.bad_expected(
                "type",
                &format!("`{v}`: valid types are contain, not_contain"),
            ));
        }
    };
    let expected = a.rule("expected")?.clone();
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        let found = py::contains(r, &expected).ok_or_else(|| MetricError::BadResult {
            metric: metric.clone(),
            reason: format!("({}) cannot contain {expected}", kind(r)),
        })?;
        Ok(score_of(found == want))
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use crate::metrics::evaluate;

    fn opts(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn compare_text_file_exact() {
        // vs_code 2nd task (replace text): the edited file against the gold file.
        let gold = json!("Hello, World!\nfoo bar\n");
        let run =
            |r: &str| evaluate("compare_text_file", &json!(r), Some(&gold), &Map::new()).unwrap();
        assert_eq!(run("Hello, World!\nfoo bar\n"), 1.0);
        assert_eq!(run("Hello, World!\r\nfoo bar\r\n"), 1.0);
        assert_eq!(run("Hello, World!\nfoo bar"), 0.0);
        assert_eq!(run("hello, world!\nfoo bar\n"), 0.0);
        assert_eq!(run(""), 0.0);
        let empty = json!("");
        assert_eq!(
            evaluate("compare_text_file", &json!(""), Some(&empty), &Map::new()),
            Ok(1.0)
        );
    }

    #[test]
    fn compare_text_file_ignoring_blanks_and_case() {
        // multi_apps df67aebb-fb3a-44fd-b75b-51b6012df509: a .bib file, blanks ignored.
        let gold = json!("@article{a,\n  title={Attention},\n  year={2017}\n}\n");
        let o = opts(json!({"ignore_blanks": true}));
        let reflowed = "  @article{a,\ttitle={Attention},\n\n year={2017}\n}";
        assert_eq!(
            evaluate("compare_text_file", &json!(reflowed), Some(&gold), &o),
            Ok(1.0)
        );
        let joined = "@article{a,title={Attention},year={2017}}";
        assert_eq!(
            evaluate("compare_text_file", &json!(joined), Some(&gold), &o),
            Ok(0.0)
        );
        let upper = "@ARTICLE{a,\n  title={ATTENTION},\n  year={2017}\n}\n";
        assert_eq!(
            evaluate("compare_text_file", &json!(upper), Some(&gold), &o),
            Ok(0.0)
        );
        let o = opts(json!({"ignore_blanks": true, "ignore_case": true}));
        assert_eq!(
            evaluate("compare_text_file", &json!(upper), Some(&gold), &o),
            Ok(1.0)
        );
        let o = opts(json!({"ignore_whitespace": true}));
        let e = evaluate("compare_text_file", &json!(upper), Some(&gold), &o).unwrap_err();
        assert_eq!(
            e.to_string(),
            "metric compare_text_file: option `ignore_whitespace`: unknown option (valid options: ignore_blanks, ignore_case)"
        );
        assert!(
            evaluate(
                "compare_text_file",
                &json!("x"),
                Some(&json!({"expected": "x"})),
                &Map::new()
            )
            .is_err()
        );
    }

    #[test]
    fn extension_installed() {
        // vs_code 0512bb38-d531-4acf-9e7e-0add90816068: `code --list-extensions | grep ...`.
        let rules = json!({"type": "contain", "expected": "undefined_publisher.test"});
        let run = |r: Value, rules: &Value| {
            evaluate("is_extension_installed", &r, Some(rules), &Map::new())
        };
        assert_eq!(
            run(
                json!("ms-python.python\nundefined_publisher.test\n"),
                &rules
            ),
            Ok(1.0)
        );
        assert_eq!(run(json!(""), &rules), Ok(0.0));
        let gone = json!({"type": "not_contain", "expected": "ms-python.python"});
        assert_eq!(run(json!("ms-toolsai.jupyter\n"), &gone), Ok(1.0));
        assert_eq!(run(json!("ms-python.python\n"), &gone), Ok(0.0));
        let bad = json!({"type": "equal", "expected": "x"});
        assert!(run(json!("x"), &bad).is_err());
        assert!(run(json!(3), &rules).is_err());
    }
}

//! The os-domain metrics of OSWorld's `desktop_env/evaluators/metrics/basic_os.py` that
//! read command output or a directory listing: `is_utc_0`, `check_text_enlarged`,
//! `check_gnome_favorite_apps`, `check_moved_jpgs` and `is_in_vm_clickboard`.

use serde_json::Value;

use super::{Args, Scorer, kind, result_text, score_of};
use crate::error::MetricError;

fn bad(metric: &str, reason: String) -> MetricError {
    MetricError::BadResult {
        metric: metric.into(),
        reason,
    }
}

/// `is_utc_0(timedatectl_output)`: 1 iff the fourth line of `timedatectl status` (its
/// `Time zone: … (UTC, +0000)` line) ends with `+0000)`, as OSWorld reads it (no
/// stripping).
pub fn is_utc_0(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&[])?;
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        let text = result_text(&metric, r)?;
        let line = text.split('\n').nth(3).ok_or_else(|| {
            bad(
                &metric,
                format!("`timedatectl` output has no fourth line (the time zone): {text:?}"),
            )
        })?;
        Ok(score_of(line.ends_with("+0000)")))
    }))
}

/// `check_text_enlarged(scaling_factor_str)`: 1 iff the text scaling factor (the output
/// of `gsettings get org.gnome.desktop.interface text-scaling-factor`) is above 1.
pub fn check_text_enlarged(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&[])?;
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        let text = result_text(&metric, r)?;
        let factor: f64 = text.trim().parse().map_err(|_| {
            bad(
                &metric,
                format!("the scaling factor {text:?} is not a number"),
            )
        })?;
        Ok(score_of(factor > 1.0))
    }))
}

/// Python string literals in a list, as `gsettings get` prints one (`['a.desktop',
/// "b.desktop"]`); `None` when the text is not such a list.
pub fn str_list(text: &str) -> Option<Vec<String>> {
    let inner = text.trim().strip_prefix('[')?.strip_suffix(']')?;
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(quote) = chars.next() else {
            return Some(out);
        };
        if quote != '\'' && quote != '"' {
            return None;
        }
        let mut s = String::new();
        loop {
            match chars.next()? {
                '\\' => s.push(chars.next()?),
                c if c == quote => break,
                c => s.push(c),
            }
        }
        out.push(s);
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => return Some(out),
            Some(',') => {}
            Some(_) => return None,
        }
    }
}

/// Whether `got` and `want` hold the same names: same count, same set (OSWorld's
/// `len(a) == len(b) and set(a) == set(b)`).
fn same_names(got: &[String], want: &[String]) -> bool {
    use std::collections::BTreeSet;
    got.len() == want.len()
        && got.iter().collect::<BTreeSet<_>>() == want.iter().collect::<BTreeSet<_>>()
}

/// `check_gnome_favorite_apps(apps_str, rule)`: 1 iff the favourite apps (the list
/// `gsettings get org.gnome.shell favorite-apps` prints) are `rule["expected"]`, in any
/// order.
pub fn check_gnome_favorite_apps(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&[])?;
    let want = a.rule_strings("expected")?;
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        let text = result_text(&metric, r)?;
        let got = str_list(text).ok_or_else(|| {
            bad(
                &metric,
                format!("the favourite apps {text:?} are not a list of strings"),
            )
        })?;
        Ok(score_of(same_names(&got, &want)))
    }))
}

/// `check_moved_jpgs(directory_list, rule)`: 1 iff the names directly in the listed
/// directory (a `list_directory` tree's `children`) are `rule["expected"]`, in any
/// order.
pub fn check_moved_jpgs(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&[])?;
    let want = a.rule_strings("expected")?;
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        let children = r.get("children").and_then(Value::as_array).ok_or_else(|| {
            bad(
                &metric,
                format!("must be a directory tree with `children`, got {r}"),
            )
        })?;
        let got: Vec<String> = children
            .iter()
            .map(|c| match c.get("name") {
                Some(Value::String(n)) => Ok(n.clone()),
                _ => Err(bad(&metric, format!("a child without a name: {c}"))),
            })
            .collect::<Result<_, _>>()?;
        Ok(score_of(same_names(&got, &want)))
    }))
}

/// `is_in_vm_clickboard(config, terminal_output)`: its arguments are the other way round
/// from the other metrics (the task's `result` is the rule, its `expected` the clipboard,
/// `xsel --clipboard --output`): 1 iff `config["expected"]` (a string, or each string of
/// a list) is in the clipboard text. A clipboard the getter could not read scores 0.
pub fn is_in_vm_clickboard(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&[])?;
    let clipboard = match a.expected {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => {
            return Err(a.bad_expected(
                "expected",
                &format!("must be the clipboard's text, got {}", kind(v)),
            ));
        }
    };
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        let wanted = match r.get("expected") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(bad(
                        &metric,
                        format!("expected items must be text, got {other}"),
                    )),
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(bad(
                    &metric,
                    format!("the result must be the rule {{\"expected\": …}}, got {r}"),
                ));
            }
        };
        Ok(score_of(clipboard.as_deref().is_some_and(|text| {
            wanted.iter().all(|w| text.contains(w.as_str()))
        })))
    }))
}

#[cfg(test)]
mod tests {
    use super::super::evaluate;
    use super::*;
    use serde_json::{Map, json};

    fn score(name: &str, result: Value, expected: Option<Value>) -> Result<f64, MetricError> {
        evaluate(name, &result, expected.as_ref(), &Map::new())
    }

    const TIMEDATECTL: &str = "               Local time: Fri 2024-06-07 10:00:00 UTC\n           Universal time: Fri 2024-06-07 10:00:00 UTC\n                 RTC time: Fri 2024-06-07 10:00:00\n                Time zone: Etc/UTC (UTC, +0000)\nSystem clock synchronized: yes\n";

    #[test]
    fn is_utc_0_reads_the_time_zone_line() {
        // Task b6781586: `timedatectl status` through vm_command_line.
        assert_eq!(score("is_utc_0", json!(TIMEDATECTL), None).unwrap(), 1.0);
        let berlin = TIMEDATECTL.replace("Etc/UTC (UTC, +0000)", "Europe/Berlin (CEST, +0200)");
        assert_eq!(score("is_utc_0", json!(berlin), None).unwrap(), 0.0);
        assert!(score("is_utc_0", json!("one line"), None).is_err());
        assert_eq!(score("is_utc_0", Value::Null, None).unwrap(), 0.0);
    }

    #[test]
    fn check_text_enlarged_compares_the_factor_with_one() {
        // Task 3ce045a0: gsettings prints the factor with a newline.
        assert_eq!(
            score("check_text_enlarged", json!("1.25\n"), None).unwrap(),
            1.0
        );
        assert_eq!(
            score("check_text_enlarged", json!("1.0\n"), None).unwrap(),
            0.0
        );
        assert!(score("check_text_enlarged", json!("large"), None).is_err());
    }

    #[test]
    fn favourite_apps_and_moved_files_are_compared_as_sets_of_equal_size() {
        // Task ec4e3f68.
        let rule = json!({"expected": ["google-chrome.desktop", "thunderbird.desktop"]});
        let apps = "['thunderbird.desktop', 'google-chrome.desktop']\n";
        let s = |r: &str| score("check_gnome_favorite_apps", json!(r), Some(rule.clone()));
        assert_eq!(s(apps).unwrap(), 1.0);
        assert_eq!(s("['google-chrome.desktop']\n").unwrap(), 0.0);
        assert_eq!(
            s("['google-chrome.desktop', 'thunderbird.desktop', 'x.desktop']").unwrap(),
            0.0
        );
        assert!(s("@as []").is_err(), "Python's eval fails on it too");
        assert_eq!(
            str_list(r#"[ "a\"b", 'c' ]"#),
            Some(vec!["a\"b".into(), "c".into()])
        );
        assert_eq!(str_list("[]"), Some(vec![]));
        // Task 23393935: list_directory of ~/Desktop/cpjpg.
        let rule = json!({"expected": ["a.jpg", "b.jpg"]});
        let tree = |names: &[&str]| {
            json!({"type": "directory", "name": "cpjpg",
                "children": names.iter().map(|n| json!({"type": "file", "name": n})).collect::<Vec<_>>()})
        };
        let m = |t: Value| score("check_moved_jpgs", t, Some(rule.clone()));
        assert_eq!(m(tree(&["b.jpg", "a.jpg"])).unwrap(), 1.0);
        assert_eq!(m(tree(&["a.jpg"])).unwrap(), 0.0);
        assert_eq!(m(tree(&["a.jpg", "b.jpg", "c.png"])).unwrap(), 0.0);
        assert!(m(json!({"error": "No such file or directory"})).is_err());
    }

    #[test]
    fn is_in_vm_clickboard_reads_its_arguments_the_other_way_round() {
        // Task 716a6079: result is the rule, expected the clipboard text.
        let clip = json!("/home/user/Data3/List3/secret.docx");
        let c = |rule: Value, clip: Option<Value>| score("is_in_vm_clickboard", rule, clip);
        assert_eq!(
            c(
                json!({"expected": "/home/user/Data3/List3/secret.docx"}),
                Some(clip.clone())
            )
            .unwrap(),
            1.0
        );
        assert_eq!(
            c(json!({"expected": "other.docx"}), Some(clip.clone())).unwrap(),
            0.0
        );
        assert_eq!(
            c(json!({"expected": ["Data3", "secret"]}), Some(clip.clone())).unwrap(),
            1.0
        );
        assert_eq!(
            c(json!({"expected": ["Data3", "nope"]}), Some(clip)).unwrap(),
            0.0
        );
        assert_eq!(c(json!({"expected": "x"}), Some(Value::Null)).unwrap(), 0.0);
    }
}

//! Line- and record-wise metrics over listings and exports (OSWorld `general.py`):
//! `check_list` (regexes over lines) and `check_csv` (records of a CSV file, read
//! like Python's `csv.DictReader`).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{Args, Scorer, result_text, score_of};
use crate::error::MetricError;
use crate::py::{self, PyRegex, ReFlags};

/// `check_list(file, rules)`: 1 iff every regex of `rules["expect"]` is found
/// (`re.search`) in some line of the file and no regex of `rules["unexpect"]` is
/// found in any line (lines as Python iterates a text file, with their `\n`).
pub fn check_list(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&[])?;
    let compile = |key: &str| -> Result<Vec<PyRegex>, MetricError> {
        a.rule_strings(key)?
            .iter()
            .map(|p| PyRegex::new(a.metric, p, ReFlags::default()))
            .collect()
    };
    let expect = compile("expect")?;
    let unexpect = compile("unexpect")?;
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        let lines = py::file_lines(result_text(&metric, r)?);
        let found = expect.iter().all(|re| lines.iter().any(|l| re.search(l)));
        let clean = !unexpect.iter().any(|re| lines.iter().any(|l| re.search(l)));
        Ok(score_of(found && clean))
    }))
}

/// A CSV record as `csv.DictReader` gives it: field name -> value (`None` for a
/// field missing from a short row).
type Record = HashMap<String, Value>;

/// `check_csv(file, rules)`: 1 iff every pattern of `rules["expect"]` matches some
/// record and no pattern of `rules["unexpect"]` matches any record, where a pattern
/// `{field: value}` matches a record holding every such field with that value.
pub fn check_csv(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&[])?;
    let patterns = |key: &str| -> Result<Vec<Map<String, Value>>, MetricError> {
        match a.rules()?.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(ps)) => ps
                .iter()
                .map(|p| match p {
                    Value::Object(m) => Ok(m.clone()),
                    v => Err(a.bad_expected(key, &format!("patterns must be objects, got {v}"))),
                })
                .collect(),
            Some(v) => Err(a.bad_expected(key, &format!("must be a list of patterns, got {v}"))),
        }
    };
    let expect = patterns("expect")?;
    let unexpect = patterns("unexpect")?;
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        let records = dict_reader(&py::read_text(result_text(&metric, r)?));
        let matches = |p: &Map<String, Value>, rec: &Record| {
            p.iter()
                .all(|(k, v)| rec.get(k).is_some_and(|x| py::eq(x, v)))
        };
        let found = expect
            .iter()
            .all(|p| records.iter().any(|rec| matches(p, rec)));
        let clean = !unexpect
            .iter()
            .any(|p| records.iter().any(|rec| matches(p, rec)));
        Ok(score_of(found && clean))
    }))
}

/// `csv.DictReader` over text: the first row names the fields, blank rows are
/// skipped, short rows get `None` for the missing fields, extra values are dropped
/// (Python files them under the key `None`, which no pattern can name).
fn dict_reader(text: &str) -> Vec<Record> {
    let mut rows = parse_csv(text).into_iter();
    let Some(header) = rows.next() else {
        return Vec::new();
    };
    rows.filter(|row| !row.is_empty())
        .map(|row| {
            let mut rec = Record::new();
            for (i, name) in header.iter().enumerate() {
                let v = row.get(i).map_or(Value::Null, |s| Value::String(s.clone()));
                rec.insert(name.clone(), v);
            }
            rec
        })
        .collect()
}

/// Rows of Python's `csv.reader` with the default `excel` dialect (`,`, `"`, doubled
/// quotes, not strict) over text whose newlines are `\n`; a blank line is an
/// empty row.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    #[derive(PartialEq)]
    enum State {
        StartRecord,
        StartField,
        InField,
        InQuoted,
        QuoteInQuoted,
    }
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut state = State::StartRecord;
    for c in text.chars() {
        state = match state {
            State::StartRecord | State::StartField if c == '\n' => {
                if state == State::StartField {
                    row.push(std::mem::take(&mut field));
                }
                rows.push(std::mem::take(&mut row));
                State::StartRecord
            }
            State::StartRecord | State::StartField => match c {
                '"' => State::InQuoted,
                ',' => {
                    row.push(std::mem::take(&mut field));
                    State::StartField
                }
                _ => {
                    field.push(c);
                    State::InField
                }
            },
            State::InField | State::QuoteInQuoted => match c {
                '\n' => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                    State::StartRecord
                }
                ',' => {
                    row.push(std::mem::take(&mut field));
                    State::StartField
                }
                '"' if state == State::QuoteInQuoted => {
                    field.push('"');
                    State::InQuoted
                }
                _ => {
                    field.push(c);
                    State::InField
                }
            },
            State::InQuoted => {
                if c == '"' {
                    State::QuoteInQuoted
                } else {
                    field.push(c);
                    State::InQuoted
                }
            }
        };
    }
    // A last line without its newline ends its record the same way.
    if state != State::StartRecord {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::evaluate;
    use serde_json::json;

    fn run(metric: &str, result: &str, expected: Value) -> f64 {
        evaluate(metric, &json!(result), Some(&expected), &Map::new()).unwrap()
    }

    #[test]
    fn csv_reader_follows_python() {
        let rows = parse_csv("a,b,c\n1,\"x, y\",\"say \"\"hi\"\"\"\n\n\"multi\nline\",2\nlast,,");
        assert_eq!(
            rows,
            vec![
                vec!["a", "b", "c"],
                vec!["1", "x, y", "say \"hi\""],
                vec![],
                vec!["multi\nline", "2"],
                vec!["last", "", ""],
            ]
        );
        // Not strict: text after a closing quote joins the field; a quote inside an
        // unquoted field is literal.
        assert_eq!(parse_csv("\"ab\"c,d\"e\n"), vec![vec!["abc", "d\"e"]]);
        assert_eq!(parse_csv(""), Vec::<Vec<String>>::new());
        let recs = dict_reader("k,v\nonly\n\n1,2,3\n");
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0]["v"], Value::Null);
        assert_eq!(recs[1]["v"], json!("2"));
    }

    #[test]
    fn check_list_on_gsettings_output() {
        // multi_apps f8369178-fafe-40c2-adc4-b9b08a125456: the theme is Orchis.
        let rules = json!({"expect": ["Orchis"]});
        assert_eq!(run("check_list", "'Orchis-Dark'\n", rules.clone()), 1.0);
        assert_eq!(run("check_list", "'Yaru'\n", rules), 0.0);
        // multi_apps e1fc0df3-c8b9-4ee7-864c-d0b590d3aa56: two listings.
        let jdk = json!({"expect": ["openjdk-\\d+-(jre|jdk)"]});
        assert_eq!(
            run(
                "check_list",
                "ii  openjdk-17-jre:amd64 17.0.9\n",
                jdk.clone()
            ),
            1.0
        );
        assert_eq!(run("check_list", "ii  openjdk-jre\n", jdk), 0.0);
    }

    #[test]
    fn check_list_expect_and_unexpect() {
        // thunderbird 37b9808f-b2b4-4177-ab00-9ddfae4bad27: Thunderbird no longer runs.
        let rules = json!({"unexpect": ["/usr/lib/thunderbird/thunderbird"]});
        assert_eq!(
            run("check_list", "PID CMD\n1 /sbin/init\n", rules.clone()),
            1.0
        );
        assert_eq!(
            run(
                "check_list",
                "PID CMD\n77 /usr/lib/thunderbird/thunderbird\n",
                rules.clone()
            ),
            0.0
        );
        assert_eq!(run("check_list", "", rules), 1.0);
        // multi_apps: an empty diff is expected (`unexpect: [".+"]`).
        let rules = json!({"unexpect": [".+"]});
        assert_eq!(run("check_list", "", rules.clone()), 1.0);
        assert_eq!(run("check_list", "\n\n", rules.clone()), 1.0);
        assert_eq!(run("check_list", "< row 3\n", rules), 0.0);
        // thunderbird: every expected regex needs its own line, in any order.
        let rules = json!({"expect": ["Welcome.*\\.eml$", "A Test E-mail.*\\.eml$"]});
        assert_eq!(
            run(
                "check_list",
                "A Test E-mail 1.eml\nWelcome 2.eml\n",
                rules.clone()
            ),
            1.0
        );
        assert_eq!(
            run(
                "check_list",
                "A Test E-mail 1.eml\nWelcome 2.eml.bak\n",
                rules
            ),
            0.0
        );
    }

    #[test]
    fn check_list_refuses_lookahead() {
        // thunderbird 2ad9387a-65d8-4e33-ad5b-7580065a27ca uses a negative lookahead.
        let rules = json!({"expect": ["\\bCOMPANY\\.msf\\b", "\\bCOMPANY/?(?!\\.msf)"]});
        let e = evaluate("check_list", &json!("COMPANY\n"), Some(&rules), &Map::new()).unwrap_err();
        assert!(matches!(e, MetricError::UnsupportedPattern { .. }), "{e}");
        assert!(e.to_string().contains("COMPANY/?(?!"), "{e}");
    }

    #[test]
    fn check_csv_accounts_export() {
        // thunderbird 7b6c7e24-c58a-49fc-a5bb-d57b80e5b4c3 / bb5e4c0d-f964-439c-97b6-bdb9747de3f4.
        let csv = "url,user,password\r\nimap://outlook.office365.com,anonym-x2024@outlook.com,\"p,w\"\r\nsmtp://smtp.office365.com,anonym-x2024@outlook.com,\"p,w\"\r\n";
        let added = json!({"expect": [
            {"url": "imap://outlook.office365.com", "user": "anonym-x2024@outlook.com", "password": "p,w"},
            {"url": "smtp://smtp.office365.com", "user": "anonym-x2024@outlook.com", "password": "p,w"}]});
        assert_eq!(run("check_csv", csv, added.clone()), 1.0);
        let only_imap =
            "url,user,password\nimap://outlook.office365.com,anonym-x2024@outlook.com,\"p,w\"\n";
        assert_eq!(run("check_csv", only_imap, added), 0.0);
        let removed = json!({"unexpect": [{"url": "imap://outlook.office365.com", "user": "anonym-x2024@outlook.com"}]});
        assert_eq!(run("check_csv", csv, removed.clone()), 0.0);
        assert_eq!(run("check_csv", "url,user,password\n", removed), 1.0);
        let bad = json!({"expect": ["imap"]});
        assert!(evaluate("check_csv", &json!(csv), Some(&bad), &Map::new()).is_err());
    }
}

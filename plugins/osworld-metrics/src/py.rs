//! Python semantics the metrics rely on, over JSON values and text: `==` and `<`
//! between values, `in`, `str()`/`repr()`, `int()`/`float()` of strings,
//! `str.splitlines`/`strip`/`isspace`, text-mode file reading (universal newlines),
//! and `re.search` on top of Rust's `regex`.

use std::borrow::Cow;
use std::cmp::Ordering;

use regex::{Regex, RegexBuilder};
use serde_json::{Number, Value};

use crate::error::MetricError;

/// A JSON number or bool as Python sees it (bool is an int).
enum Num {
    Int(i128),
    Float(f64),
}

fn num(v: &Value) -> Option<Num> {
    match v {
        Value::Bool(b) => Some(Num::Int(i128::from(*b))),
        Value::Number(n) => Some(number(n)),
        _ => None,
    }
}

fn number(n: &Number) -> Num {
    if let Some(i) = n.as_i64() {
        Num::Int(i128::from(i))
    } else if let Some(u) = n.as_u64() {
        Num::Int(i128::from(u))
    } else {
        Num::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

fn num_cmp(a: &Num, b: &Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(y)),
        (Num::Int(x), Num::Float(y)) => (*x as f64).partial_cmp(y),
        (Num::Float(x), Num::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(y),
    }
}

/// Python `a == b` for values loaded by `json.load` (`1 == 1.0`, `True == 1`).
pub fn eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| eq(v, w)))
        }
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => num_cmp(&x, &y) == Some(Ordering::Equal),
            _ => false,
        },
    }
}

/// Python `a < b` ordering; `None` where Python raises `TypeError` (mixed types,
/// dicts, `None`).
pub fn cmp(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                if !eq(p, q) {
                    return cmp(p, q);
                }
            }
            Some(x.len().cmp(&y.len()))
        }
        _ => num_cmp(&num(a)?, &num(b)?),
    }
}

/// Python `item in container`; `None` where Python raises `TypeError`.
pub fn contains(container: &Value, item: &Value) -> Option<bool> {
    match container {
        Value::String(s) => item.as_str().map(|i| s.contains(i)),
        Value::Array(xs) => Some(xs.iter().any(|x| eq(x, item))),
        // Dict membership tests keys (all strings after json.load); unhashable
        // items raise.
        Value::Object(m) => match item {
            Value::String(k) => Some(m.contains_key(k)),
            Value::Array(_) | Value::Object(_) => None,
            _ => Some(false),
        },
        _ => None,
    }
}

/// Python `str(v)`.
pub fn to_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        _ => repr(v),
    }
}

/// Python `repr(v)` of a value loaded by `json.load`.
pub fn repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => match number(n) {
            Num::Int(i) => i.to_string(),
            Num::Float(f) => float_repr(f),
        },
        Value::String(s) => str_repr(s),
        Value::Array(xs) => {
            let items: Vec<String> = xs.iter().map(repr).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", str_repr(k), repr(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// Python `repr(float)`: the shortest round-trip digits, positional for decimal
/// exponents in [-4, 16), scientific (`1e+16`, `1e-05`) otherwise.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // `{:e}` gives the shortest round-trip digits: "1.2345e-5".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let body = if exp < 0 {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        } else if exp + 1 >= n {
            format!("{}{}.0", digits, "0".repeat((exp + 1 - n) as usize))
        } else {
            let (int, frac) = digits.split_at((exp + 1) as usize);
            format!("{int}.{frac}")
        };
        format!("{sign}{body}")
    } else {
        let m = if digits.len() == 1 {
            digits
        } else {
            format!("{}.{}", &digits[..1], &digits[1..])
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{esign}{:02}", exp.abs())
    }
}

/// Python `repr(str)`: single quotes unless the text has `'` and no `"`.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python `str.isspace()` for one character: Unicode White_Space plus the
/// separators U+001C..U+001F.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python `str.strip()`.
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// Python `str.lower()`.
pub fn lower(s: &str) -> String {
    s.to_lowercase()
}

/// Text as Python reads it from a file opened in text mode: `\r\n` and lone `\r`
/// become `\n` (universal newlines).
pub fn read_text(contents: &str) -> Cow<'_, str> {
    if contents.contains('\r') {
        Cow::Owned(contents.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(contents)
    }
}

/// `for line in f` over a file opened in text mode: lines with their `\n`.
pub fn file_lines(contents: &str) -> Vec<String> {
    read_text(contents)
        .split_inclusive('\n')
        .map(str::to_owned)
        .collect()
}

/// Python `str.splitlines()` (no ends kept).
pub fn splitlines(s: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let is_break = matches!(
            c,
            '\n' | '\r'
                | '\u{0b}'
                | '\u{0c}'
                | '\u{1c}'
                | '\u{1d}'
                | '\u{1e}'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if is_break {
            lines.push(&s[start..i]);
            let mut end = i + c.len_utf8();
            if c == '\r' && chars.peek().map(|&(_, n)| n) == Some('\n') {
                chars.next();
                end += 1;
            }
            start = end;
        }
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

/// Python `int(x)` for a JSON value: ints as-is, floats truncated, bools 0/1, and
/// strings in Python's integer syntax (surrounding whitespace, a sign, `_` between
/// digits). `None` where Python raises.
pub fn int(v: &Value) -> Option<i128> {
    match v {
        Value::String(s) => {
            let t = strip(s);
            let (neg, digits) = match t.as_bytes().first() {
                Some(b'-') => (true, &t[1..]),
                Some(b'+') => (false, &t[1..]),
                _ => (false, t),
            };
            let clean = underscored_digits(digits)?;
            let n: i128 = clean.parse().ok()?;
            Some(if neg { -n } else { n })
        }
        _ => match num(v)? {
            Num::Int(i) => Some(i),
            Num::Float(f) if f.is_finite() => Some(f.trunc() as i128),
            Num::Float(_) => None,
        },
    }
}

/// Digits with Python's single underscores between them, underscores removed.
fn underscored_digits(s: &str) -> Option<String> {
    if s.is_empty() || s.starts_with('_') || s.ends_with('_') || s.contains("__") {
        return None;
    }
    let clean: String = s.chars().filter(|&c| c != '_').collect();
    clean.chars().all(|c| c.is_ascii_digit()).then_some(clean)
}

/// Python `float(x)` for a JSON value; `None` where Python raises.
pub fn float(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => {
            let t = strip(s);
            if t.contains('_') {
                // Underscores only between digits.
                let b = t.as_bytes();
                let ok = b.iter().enumerate().all(|(i, &c)| {
                    c != b'_'
                        || (i > 0
                            && i + 1 < b.len()
                            && b[i - 1].is_ascii_digit()
                            && b[i + 1].is_ascii_digit())
                });
                if !ok {
                    return None;
                }
            }
            let clean: String = t.chars().filter(|&c| c != '_').collect();
            clean.parse::<f64>().ok()
        }
        _ => match num(v)? {
            Num::Int(i) => Some(i as f64),
            Num::Float(f) => Some(f),
        },
    }
}

/// Flags of Python's `re` module, as named in OSWorld rules (`re.IGNORECASE`, ...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReFlags {
    /// `re.I` / `re.IGNORECASE`.
    pub ignore_case: bool,
    /// `re.M` / `re.MULTILINE`.
    pub multi_line: bool,
    /// `re.S` / `re.DOTALL`.
    pub dot_all: bool,
    /// `re.X` / `re.VERBOSE`.
    pub verbose: bool,
    /// `re.A` / `re.ASCII`.
    pub ascii: bool,
}

impl ReFlags {
    /// Adds the flag named `name` (`I`, `IGNORECASE`, ...); `false` for an unknown
    /// name.
    pub fn add(&mut self, name: &str) -> bool {
        match name {
            "I" | "IGNORECASE" => self.ignore_case = true,
            "M" | "MULTILINE" => self.multi_line = true,
            "S" | "DOTALL" => self.dot_all = true,
            "X" | "VERBOSE" => self.verbose = true,
            "A" | "ASCII" => self.ascii = true,
            "U" | "UNICODE" | "NOFLAG" => {}
            _ => return false,
        }
        true
    }
}

/// A compiled Python regular expression, run with `re.search` semantics.
#[derive(Debug, Clone)]
pub struct PyRegex(Regex);

impl PyRegex {
    /// Compiles a Python pattern. `\Z` becomes `\z`; Python constructs Rust's
    /// `regex` lacks (look-around, back-references) give
    /// [`MetricError::UnsupportedPattern`] naming `metric`.
    pub fn new(metric: &str, pattern: &str, flags: ReFlags) -> Result<Self, MetricError> {
        RegexBuilder::new(&translate_pattern(pattern))
            .case_insensitive(flags.ignore_case)
            .multi_line(flags.multi_line)
            .dot_matches_new_line(flags.dot_all)
            .ignore_whitespace(flags.verbose)
            .unicode(!flags.ascii)
            .build()
            .map(PyRegex)
            .map_err(|e| MetricError::UnsupportedPattern {
                metric: metric.into(),
                pattern: pattern.into(),
                reason: e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .into(),
            })
    }

    /// Python `re.search(pattern, text) is not None`. Python's `$` also matches
    /// right before a final `\n`; that is emulated by searching the text without
    /// its final newline as well.
    pub fn search(&self, text: &str) -> bool {
        self.0.is_match(text)
            || text
                .strip_suffix('\n')
                .is_some_and(|head| self.0.is_match(head))
    }
}

/// Rewrites the Python-only escape `\Z` (end of text) to Rust's `\z`.
fn translate_pattern(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('Z') if !in_class => out.push_str("\\z"),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_equality() {
        assert!(eq(&json!(1), &json!(1.0)));
        assert!(eq(&json!(true), &json!(1)));
        assert!(!eq(&json!("1"), &json!(1)));
        assert!(eq(&json!({"a": [1, 2.0]}), &json!({"a": [1.0, 2]})));
        assert!(!eq(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!eq(&json!(null), &json!(false)));
    }

    #[test]
    fn python_ordering() {
        assert_eq!(cmp(&json!(1), &json!(2.5)), Some(Ordering::Less));
        assert_eq!(cmp(&json!("b"), &json!("a")), Some(Ordering::Greater));
        assert_eq!(cmp(&json!([1, 2]), &json!([1, 3])), Some(Ordering::Less));
        assert_eq!(cmp(&json!([1]), &json!([1, 0])), Some(Ordering::Less));
        assert_eq!(cmp(&json!("1"), &json!(1)), None);
        assert_eq!(cmp(&json!(null), &json!(1)), None);
    }

    #[test]
    fn python_in() {
        assert_eq!(contains(&json!("abc"), &json!("bc")), Some(true));
        assert_eq!(contains(&json!("abc"), &json!(1)), None);
        assert_eq!(contains(&json!([1, "a"]), &json!(1.0)), Some(true));
        assert_eq!(contains(&json!({"k": 1}), &json!("k")), Some(true));
        assert_eq!(contains(&json!({"k": 1}), &json!(1)), Some(false));
        assert_eq!(contains(&json!(3), &json!(3)), None);
    }

    #[test]
    fn python_str_and_repr() {
        assert_eq!(to_str(&json!("x")), "x");
        assert_eq!(to_str(&json!(345074)), "345074");
        assert_eq!(to_str(&json!(1.5)), "1.5");
        assert_eq!(to_str(&json!(true)), "True");
        assert_eq!(to_str(&json!(null)), "None");
        assert_eq!(
            to_str(&json!(["a", 1, {"k": "it's"}])),
            r#"['a', 1, {'k': "it's"}]"#
        );
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1e-5), "1e-05");
        assert_eq!(float_repr(0.0001), "0.0001");
        assert_eq!(float_repr(123456.789), "123456.789");
        assert_eq!(float_repr(1e15), "1000000000000000.0");
        assert_eq!(float_repr(-2.5e-7), "-2.5e-07");
        assert_eq!(float_repr(3.0), "3.0");
    }

    #[test]
    fn python_text_helpers() {
        assert_eq!(
            splitlines("a\nb\r\nc\rd\u{2028}e\n"),
            vec!["a", "b", "c", "d", "e"]
        );
        assert_eq!(splitlines(""), Vec::<&str>::new());
        assert_eq!(splitlines("\n"), vec![""]);
        assert_eq!(file_lines("a\r\nb\rc"), vec!["a\n", "b\n", "c"]);
        assert_eq!(strip("\u{1f} x \u{a0}"), "x");
        assert!(is_space('\u{1c}') && !is_space('x'));
    }

    #[test]
    fn python_int_and_float() {
        assert_eq!(int(&json!(" 31\n")), Some(31));
        assert_eq!(int(&json!("1_000")), Some(1000));
        assert_eq!(int(&json!("-7")), Some(-7));
        assert_eq!(int(&json!("3.0")), None);
        assert_eq!(int(&json!("1__0")), None);
        assert_eq!(int(&json!(31.9)), Some(31));
        assert_eq!(float(&json!(" 2.5 ")), Some(2.5));
        assert_eq!(float(&json!("1_0.5")), Some(10.5));
        assert_eq!(float(&json!("abc")), None);
        assert_eq!(float(&json!(true)), Some(1.0));
        assert_eq!(float(&json!(null)), None);
    }

    #[test]
    fn python_regex_search() {
        let r = PyRegex::new("m", r"Orchis$", ReFlags::default()).unwrap();
        assert!(r.search("theme 'Orchis'\nOrchis\n"));
        assert!(!r.search("Orchis-dark\n"));
        let r = PyRegex::new("m", r"end\Z", ReFlags::default()).unwrap();
        assert!(r.search("the end"));
        let mut f = ReFlags::default();
        assert!(f.add("IGNORECASE"));
        assert!(!f.add("BOGUS"));
        assert!(PyRegex::new("m", "SMART", f).unwrap().search("smart"));
        let e = PyRegex::new("check_list", r"a(?!\.msf)", ReFlags::default()).unwrap_err();
        assert!(matches!(e, MetricError::UnsupportedPattern { .. }), "{e}");
        assert!(e.to_string().contains("a(?!\\.msf)"));
    }
}

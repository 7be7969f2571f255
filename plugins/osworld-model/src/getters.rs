//! OSWorld evaluator getters: parsing the `result` / `expected` specs the adapter can
//! run, and the host-only ones computed here (`rule`, `rule_relativeTime` with its
//! date arithmetic, the `multi` / `gives` selection of file getters).

use serde_json::{Map, Value};

use crate::setup::Command;

/// One getter spec the adapter runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Getter {
    /// `vm_file`: file contents from the VM (`/file`); `null` when missing.
    VmFile {
        /// The VM paths (one unless `multi`).
        paths: Vec<String>,
        /// Whether `path` / `dest` were lists.
        multi: bool,
        /// Which files are returned (default `[0]`).
        gives: Vec<usize>,
    },
    /// `vm_command_line`: stdout of a command (`/execute`).
    VmCommandLine {
        /// The command.
        command: Command,
        /// Through a shell.
        shell: bool,
    },
    /// `vm_command_error`: stderr of a command.
    VmCommandError {
        /// The command.
        command: Command,
        /// Through a shell.
        shell: bool,
    },
    /// `vm_terminal_output` (`/terminal`).
    VmTerminalOutput,
    /// `accessibility_tree` (`/accessibility`): the XML.
    AccessibilityTree,
    /// `list_directory` (`/list_directory`): the directory tree.
    ListDirectory {
        /// The directory on the VM.
        path: String,
    },
    /// `vm_screen_size` (`/screen_size`).
    VmScreenSize,
    /// `vm_window_size` (`/window_size`).
    VmWindowSize {
        /// The window's class name.
        app_class_name: String,
    },
    /// `rule`: its `rules`, as-is.
    Rule {
        /// The rules.
        rules: Value,
    },
    /// `rule_relativeTime`: its `rules` with relative dates resolved to today.
    RuleRelativeTime {
        /// The rules.
        rules: Value,
    },
    /// `cache_file`: a file of the task's cache directory.
    CacheFile {
        /// Path relative to `<cache_dir>/<task id>/`.
        path: String,
    },
    /// `cloud_file`: a file OSWorld downloads into the task's cache; served from the
    /// granted cache only (`<cache_dir>/<task id>/<dest>`).
    CloudFile {
        /// The cache file names (`dest`).
        dests: Vec<String>,
        /// Whether `path` / `dest` were lists.
        multi: bool,
        /// Which files are returned.
        gives: Vec<usize>,
    },
}

/// The getter types the adapter implements.
pub const SUPPORTED_GETTERS: &[&str] = &[
    "vm_file",
    "vm_command_line",
    "vm_command_error",
    "vm_terminal_output",
    "accessibility_tree",
    "list_directory",
    "vm_screen_size",
    "vm_window_size",
    "rule",
    "rule_relativeTime",
    "cache_file",
    "cloud_file",
];

fn str_or_list(
    m: &Map<String, Value>,
    ty: &str,
    key: &str,
    multi: bool,
) -> Result<Vec<String>, String> {
    let bad = || {
        if multi {
            format!("getter {ty}: `{key}` must be a list of strings (multi)")
        } else {
            format!("getter {ty}: `{key}` must be a string")
        }
    };
    match (m.get(key), multi) {
        (Some(Value::String(s)), false) => Ok(vec![s.clone()]),
        (Some(Value::Array(a)), true) => a
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(bad))
            .collect(),
        _ => Err(bad()),
    }
}

fn gives(m: &Map<String, Value>, ty: &str) -> Result<Vec<usize>, String> {
    match m.get("gives") {
        None | Some(Value::Null) => Ok(vec![0]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_u64()
                    .map(|n| n as usize)
                    .ok_or_else(|| format!("getter {ty}: `gives` must list indices"))
            })
            .collect(),
        Some(_) => Err(format!("getter {ty}: `gives` must list indices")),
    }
}

fn field_str(m: &Map<String, Value>, ty: &str, key: &str) -> Result<String, String> {
    m.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("getter {ty}: `{key}` must be a string"))
}

impl Getter {
    /// Parse one getter spec (`{"type": ..., ...}`). A type the adapter does not
    /// implement gives `unsupported getter X`.
    pub fn parse(spec: &Value) -> Result<Getter, String> {
        let m = spec
            .as_object()
            .ok_or_else(|| format!("a getter must be an object, found {spec}"))?;
        let ty = m
            .get("type")
            .and_then(Value::as_str)
            .ok_or("a getter has no `type`")?;
        let multi = m.get("multi").and_then(Value::as_bool).unwrap_or(false);
        let command = || -> Result<(Command, bool), String> {
            let c = match m.get("command") {
                Some(Value::String(s)) if !s.is_empty() => Command::Line(s.clone()),
                Some(Value::Array(a)) if !a.is_empty() => Command::Args(
                    a.iter()
                        .map(|v| v.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| format!("getter {ty}: command arguments must be strings"))?,
                ),
                _ => return Err(format!("getter {ty}: `command` must be a string or list")),
            };
            Ok((c, m.get("shell").and_then(Value::as_bool).unwrap_or(false)))
        };
        Ok(match ty {
            "vm_file" => Getter::VmFile {
                paths: str_or_list(m, ty, "path", multi)?,
                multi,
                gives: gives(m, ty)?,
            },
            "vm_command_line" => {
                let (command, shell) = command()?;
                Getter::VmCommandLine { command, shell }
            }
            "vm_command_error" => {
                let (command, shell) = command()?;
                Getter::VmCommandError { command, shell }
            }
            "vm_terminal_output" => Getter::VmTerminalOutput,
            "accessibility_tree" => Getter::AccessibilityTree,
            "list_directory" => Getter::ListDirectory {
                path: field_str(m, ty, "path")?,
            },
            "vm_screen_size" => Getter::VmScreenSize,
            "vm_window_size" => Getter::VmWindowSize {
                app_class_name: field_str(m, ty, "app_class_name")?,
            },
            "rule" => Getter::Rule {
                rules: m
                    .get("rules")
                    .cloned()
                    .ok_or_else(|| format!("getter {ty}: `rules` is required"))?,
            },
            "rule_relativeTime" => {
                let rules = m
                    .get("rules")
                    .cloned()
                    .ok_or_else(|| format!("getter {ty}: `rules` is required"))?;
                // Check the shape now, so a bad task is marked before it runs.
                resolve_relative_time(&rules, CivilDate::new(2024, 1, 1))?;
                Getter::RuleRelativeTime { rules }
            }
            "cache_file" => Getter::CacheFile {
                path: field_str(m, ty, "path")?,
            },
            "cloud_file" => Getter::CloudFile {
                dests: str_or_list(m, ty, "dest", multi)?,
                multi,
                gives: gives(m, ty)?,
            },
            other => return Err(format!("unsupported getter {other}")),
        })
    }
}

/// A task's `evaluator.result` or `evaluator.expected`: one spec, or one per metric
/// (`null` entries allowed in `expected`).
#[derive(Debug, Clone, PartialEq)]
pub enum GetterSet {
    /// One getter (the evaluator has one `func`).
    One(Getter),
    /// One entry per metric.
    Many(Vec<Option<Getter>>),
}

impl GetterSet {
    /// Parse `result` / `expected`; `None` when absent or empty (OSWorld treats an
    /// empty one as absent).
    pub fn parse(v: Option<&Value>) -> Result<Option<GetterSet>, String> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) if a.is_empty() => Ok(None),
            Some(Value::Object(m)) if m.is_empty() => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|s| match s {
                    Value::Null => Ok(None),
                    Value::Object(m) if m.is_empty() => Ok(None),
                    other => Getter::parse(other).map(Some),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|g| Some(GetterSet::Many(g))),
            Some(other) => Getter::parse(other).map(|g| Some(GetterSet::One(g))),
        }
    }

    /// The number of entries (1 for `One`).
    pub fn len(&self) -> usize {
        match self {
            GetterSet::One(_) => 1,
            GetterSet::Many(v) => v.len(),
        }
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Pick the `gives` entries of a file getter's outputs the way OSWorld returns them:
/// the one value when exactly one is given, else the list.
pub fn select_gives(values: Vec<Value>, gives: &[usize]) -> Value {
    let picked: Vec<Value> = values
        .into_iter()
        .enumerate()
        .filter(|(i, _)| gives.contains(i))
        .map(|(_, v)| v)
        .collect();
    if picked.len() == 1 {
        picked.into_iter().next().unwrap_or(Value::Null)
    } else {
        Value::Array(picked)
    }
}

/// A calendar date (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CivilDate {
    /// Year.
    pub year: i64,
    /// Month, 1–12.
    pub month: u32,
    /// Day of month, 1–31.
    pub day: u32,
}

impl CivilDate {
    /// A date (not validated).
    pub const fn new(year: i64, month: u32, day: u32) -> Self {
        CivilDate { year, month, day }
    }

    /// Days since 1970-01-01.
    pub fn to_days(self) -> i64 {
        let y = if self.month <= 2 {
            self.year - 1
        } else {
            self.year
        };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = self.month as i64;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + self.day as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01.
    pub fn from_days(days: i64) -> Self {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        CivilDate { year, month, day }
    }

    /// Today in UTC from the system clock.
    pub fn today_utc() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        CivilDate::from_days(secs.div_euclid(86_400))
    }

    /// Monday = 0 … Sunday = 6 (Python's `weekday()`).
    pub fn weekday(self) -> i64 {
        // 1970-01-01 was a Thursday (3).
        (self.to_days() + 3).rem_euclid(7)
    }

    /// This date plus `n` days.
    pub fn plus(self, n: i64) -> Self {
        CivilDate::from_days(self.to_days() + n)
    }

    /// Whether the date exists.
    pub fn is_valid(self) -> bool {
        (1..=12).contains(&self.month)
            && self.day >= 1
            && CivilDate::from_days(self.to_days()) == self
    }
}

const DOW: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTH_ABBR: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const MONTH_FULL: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Fill a time format: `{DoW}`, `{Month}`, `{DayD}`, `{Year}`, `{Month0D}`, `{month}`,
/// `{MonthFull}`, `{Day0D}` (each replaced once, in that order).
pub fn format_date(fmt: &str, d: CivilDate) -> String {
    let m = (d.month - 1) as usize;
    let subs = [
        ("{DoW}", DOW[d.weekday() as usize].to_owned()),
        ("{Month}", MONTH_ABBR[m].to_owned()),
        ("{DayD}", d.day.to_string()),
        ("{Year}", d.year.to_string()),
        ("{Month0D}", format!("{:02}", d.month)),
        ("{month}", MONTH_FULL[m].to_lowercase()),
        ("{MonthFull}", MONTH_FULL[m].to_owned()),
        ("{Day0D}", format!("{:02}", d.day)),
    ];
    let mut out = fmt.to_owned();
    for (k, v) in subs {
        out = out.replacen(k, &v, 1);
    }
    out
}

fn next_month_day(now: CivilDate, day: u32) -> CivilDate {
    if now.month == 12 {
        CivilDate::new(now.year + 1, 1, day)
    } else {
        CivilDate::new(now.year, now.month + 1, day)
    }
}

/// Resolve one relative-time phrase; `from` is the phrase of the range start when
/// resolving a range end (`next Friday` depends on it).
fn resolve_phrase(phrase: &str, now: CivilDate, from: Option<&str>) -> Result<CivilDate, String> {
    let wd = now.weekday();
    let d = match phrase {
        "tomorrow" => now.plus(1),
        "after 3 days" => now.plus(3),
        "5th next month" => next_month_day(now, 5),
        "10th next month" => next_month_day(now, 10),
        "11th next month" => next_month_day(now, 11),
        "this month" => now,
        "this Saturday" => now.plus(5 - wd),
        "this Sunday" => now.plus(6 - wd),
        "next Monday" => now.plus(6 - wd + 1),
        "next Friday" => {
            if wd < 4 && from == Some("next Monday") {
                now.plus(4 - wd + 7)
            } else if wd < 4 {
                now.plus(4 - wd)
            } else {
                now.plus(6 - wd + 5)
            }
        }
        "first monday four months later" => {
            let year = if now.month >= 9 {
                now.year + 1
            } else {
                now.year
            };
            // OSWorld computes (month + 4) % 12, which is 0 for August; read it as December.
            let month = match (now.month + 4) % 12 {
                0 => 12,
                m => m,
            };
            let first = CivilDate::new(year, month, 1);
            first.plus((6 - first.weekday() + 1) % 7)
        }
        "last year" => {
            let d = CivilDate::new(now.year - 1, now.month, now.day);
            if d.is_valid() {
                d
            } else {
                // 29 February of a leap year has no counterpart.
                CivilDate::new(now.year - 1, 2, 28)
            }
        }
        other => {
            return Err(format!(
                "rule_relativeTime: unknown relative time `{other}`"
            ));
        }
    };
    Ok(d)
}

/// `rule_relativeTime`: resolve `rules.relativeTime.from` (and `to`) against `today`
/// and write the formatted dates into `rules.expected.time` (or `expected.from` and
/// `expected.to`); returns the rules.
pub fn resolve_relative_time(rules: &Value, today: CivilDate) -> Result<Value, String> {
    let mut rules = rules.clone();
    let rel = rules
        .get("relativeTime")
        .and_then(Value::as_object)
        .ok_or("rule_relativeTime: `rules.relativeTime` must be an object")?
        .clone();
    let from = rel
        .get("from")
        .and_then(Value::as_str)
        .ok_or("rule_relativeTime: `relativeTime.from` must be a string")?;
    let to = rel.get("to").and_then(Value::as_str);
    let expected = rules
        .get_mut("expected")
        .and_then(Value::as_object_mut)
        .ok_or("rule_relativeTime: `rules.expected` must be an object")?;
    let mut fill = |key: &str, date: CivilDate| -> Result<(), String> {
        let fmt = expected
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("rule_relativeTime: `expected.{key}` must be a string"))?;
        let s = format_date(fmt, date);
        expected.insert(key.to_owned(), Value::String(s));
        Ok(())
    };
    match to {
        None => fill("time", resolve_phrase(from, today, None)?)?,
        Some(to) => {
            fill("from", resolve_phrase(from, today, None)?)?;
            fill("to", resolve_phrase(to, today, Some(from))?)?;
        }
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn supported_getters_parse() {
        let g =
            Getter::parse(&json!({"type": "vm_file", "path": "/home/user/a.txt", "dest": "a.txt"}))
                .unwrap();
        assert_eq!(
            g,
            Getter::VmFile {
                paths: vec!["/home/user/a.txt".into()],
                multi: false,
                gives: vec![0]
            }
        );
        let g = Getter::parse(
            &json!({"type": "vm_file", "multi": true, "path": ["/a", "/b"],
            "dest": ["a", "b"], "gives": [1]}),
        )
        .unwrap();
        assert!(
            matches!(g, Getter::VmFile { ref paths, multi: true, ref gives } if paths.len() == 2 && gives == &[1])
        );
        let g = Getter::parse(
            &json!({"type": "vm_command_line", "command": "which spotify", "shell": true}),
        )
        .unwrap();
        assert_eq!(
            g,
            Getter::VmCommandLine {
                command: Command::Line("which spotify".into()),
                shell: true
            }
        );
        for t in ["vm_terminal_output", "accessibility_tree", "vm_screen_size"] {
            Getter::parse(&json!({ "type": t })).unwrap();
        }
        Getter::parse(&json!({"type": "list_directory", "path": "/home/user"})).unwrap();
        Getter::parse(&json!({"type": "vm_window_size", "app_class_name": "gnome-terminal"}))
            .unwrap();
        Getter::parse(&json!({"type": "rule", "rules": {"expected": "x"}})).unwrap();
        Getter::parse(&json!({"type": "cache_file", "path": "out.txt"})).unwrap();
        Getter::parse(
            &json!({"type": "cloud_file", "path": "https://x/gold.txt", "dest": "gold.txt"}),
        )
        .unwrap();
    }

    #[test]
    fn unsupported_and_malformed_getters() {
        assert_eq!(
            Getter::parse(&json!({"type": "open_tabs_info"})).unwrap_err(),
            "unsupported getter open_tabs_info"
        );
        assert!(
            Getter::parse(&json!({"type": "vm_file"}))
                .unwrap_err()
                .contains("`path`")
        );
        assert!(
            Getter::parse(&json!({"type": "vm_command_line"}))
                .unwrap_err()
                .contains("command")
        );
    }

    #[test]
    fn getter_sets_keep_null_entries() {
        let s = GetterSet::parse(Some(&json!([{"type": "rule", "rules": 1}, null])))
            .unwrap()
            .unwrap();
        assert!(matches!(s, GetterSet::Many(ref v) if v.len() == 2 && v[1].is_none()));
        assert_eq!(GetterSet::parse(Some(&json!([]))).unwrap(), None);
        assert_eq!(GetterSet::parse(None).unwrap(), None);
    }

    #[test]
    fn gives_selection_follows_osworld() {
        let v = vec![json!("a"), json!("b"), json!(null)];
        assert_eq!(select_gives(v.clone(), &[0]), json!("a"));
        assert_eq!(select_gives(v.clone(), &[0, 2]), json!(["a", null]));
        assert_eq!(select_gives(v, &[1]), json!("b"));
    }

    #[test]
    fn civil_dates_round_trip() {
        for (d, days) in [
            (CivilDate::new(1970, 1, 1), 0),
            (CivilDate::new(2000, 3, 1), 11_017),
            (CivilDate::new(2024, 2, 29), 19_782),
        ] {
            assert_eq!(d.to_days(), days);
            assert_eq!(CivilDate::from_days(days), d);
        }
        assert_eq!(CivilDate::new(2024, 6, 3).weekday(), 0); // a Monday
        assert_eq!(CivilDate::new(2024, 6, 9).weekday(), 6);
        assert!(!CivilDate::new(2023, 2, 29).is_valid());
    }

    #[test]
    fn relative_times_resolve() {
        // Wednesday 2024-06-05.
        let now = CivilDate::new(2024, 6, 5);
        let r = resolve_relative_time(
            &json!({"relativeTime": {"from": "tomorrow"},
                    "expected": {"time": "{DoW}, {Month} {DayD}, {Year}"}}),
            now,
        )
        .unwrap();
        assert_eq!(r["expected"]["time"], "Thu, Jun 6, 2024");
        let r = resolve_relative_time(
            &json!({"relativeTime": {"from": "next Monday", "to": "next Friday"},
                    "expected": {"from": "{Year}-{Month0D}-{Day0D}", "to": "{MonthFull} {DayD}"}}),
            now,
        )
        .unwrap();
        assert_eq!(r["expected"]["from"], "2024-06-10");
        assert_eq!(r["expected"]["to"], "June 14");
        let r = resolve_relative_time(
            &json!({"relativeTime": {"from": "10th next month"}, "expected": {"time": "{month} {Day0D}"}}),
            CivilDate::new(2024, 12, 20),
        )
        .unwrap();
        assert_eq!(r["expected"]["time"], "january 10");
        let r = resolve_relative_time(
            &json!({"relativeTime": {"from": "first monday four months later"}, "expected": {"time": "{Year}-{Month0D}-{Day0D}"}}),
            now,
        )
        .unwrap();
        // October 2024 starts on a Tuesday; its first Monday is the 7th.
        assert_eq!(r["expected"]["time"], "2024-10-07");
        assert!(
            resolve_relative_time(
                &json!({"relativeTime": {"from": "someday"}, "expected": {"time": ""}}),
                now
            )
            .is_err()
        );
    }
}

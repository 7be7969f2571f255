//! OSWorld task JSON files: parsing a task (id, instruction, setup, evaluator), its
//! domain, its text slots, what the adapter cannot run, and the task metadata the host
//! sees.

use osworld_metrics::state::Evaluator;
use serde_json::{Value, json};

use crate::error::{OsworldError, Result};
use crate::getters::{Getter, GetterSet};
use crate::setup::{self, SetupStep};

/// The task JSON key with explicit text slots (a steprl extension OSWorld ignores).
pub const TEXT_SLOTS_KEY: &str = "steprl_text_slots";

/// One OSWorld task, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The task id (`id`, a UUID in OSWorld).
    pub id: String,
    /// The instruction.
    pub instruction: String,
    /// The domain (suite): the task file's directory under the task dir in OSWorld's
    /// `examples/<domain>/<id>.json` layout, else `snapshot`, else `osworld`.
    pub domain: String,
    /// The file the task came from.
    pub file: String,
    /// `snapshot`, `source`, `related_apps` as given.
    pub snapshot: Option<String>,
    /// Where the task came from.
    pub source: Option<String>,
    /// Related applications.
    pub related_apps: Vec<String>,
    /// Strings the agent can type (see [`text_slots`]).
    pub text_slots: Vec<String>,
    /// The setup steps (`config`); empty when a step is unsupported.
    pub setup: Vec<SetupStep>,
    /// `evaluator.postconfig`; empty when a step is unsupported.
    pub postconfig: Vec<SetupStep>,
    /// The evaluator as the checker reads it (func, conj, options).
    pub evaluator: Evaluator,
    /// `evaluator.result` getters (absent for infeasible tasks).
    pub result: Option<GetterSet>,
    /// `evaluator.expected` getters.
    pub expected: Option<GetterSet>,
    /// Why the adapter cannot run this task (`unsupported setup step X`, `unsupported
    /// getter Y`, ...), if so.
    pub unsupported: Option<String>,
}

impl Task {
    /// Parse a task file's text. `domain_dir` is the name of the directory the file is
    /// in when that directory is below the task dir (OSWorld's layout).
    pub fn parse(text: &str, file: &str, domain_dir: Option<&str>) -> Result<Task> {
        let bad = |message: String| OsworldError::InvalidTask {
            file: file.to_owned(),
            message,
        };
        let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| bad("an OSWorld task is a JSON object".into()))?;
        let field = |k: &str| -> Result<String> {
            match obj.get(k) {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                _ => Err(bad(format!("`{k}` must be a non-empty string"))),
            }
        };
        let id = field("id")?;
        let instruction = field("instruction")?;
        let opt = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
        let snapshot = opt("snapshot");
        let ev = obj
            .get("evaluator")
            .ok_or_else(|| bad("no `evaluator`".into()))?;
        // An evaluator that does not parse marks its task (below) rather than stopping the
        // whole task set from loading (OSWorld's own has one, vlc/a1c3ab35).
        let (evaluator, bad_evaluator): (Evaluator, Option<String>) =
            match serde_json::from_value(ev.clone()) {
                Ok(e) => (e, None),
                Err(e) => (
                    serde_json::from_value(json!({"func": ""})).expect("an empty evaluator"),
                    Some(format!("evaluator: {e}")),
                ),
            };
        let empty = Vec::new();
        let config = match obj.get("config") {
            None | Some(Value::Null) => &empty,
            Some(Value::Array(a)) => a,
            Some(_) => return Err(bad("`config` must be a list of setup steps".into())),
        };
        let postconfig = match ev.get("postconfig") {
            None | Some(Value::Null) => &empty,
            Some(Value::Array(a)) => a,
            Some(_) => return Err(bad("`evaluator.postconfig` must be a list".into())),
        };
        // Why the task cannot run, first reason first.
        let mut notes: Vec<String> = bad_evaluator.into_iter().collect();
        let setup = setup::plan(config).unwrap_or_else(|e| {
            notes.push(e);
            Vec::new()
        });
        let post = setup::plan(postconfig).unwrap_or_else(|e| {
            notes.push(format!("postconfig: {e}"));
            Vec::new()
        });
        let infeasible = evaluator.func.is_infeasible();
        let result = if infeasible {
            None
        } else {
            GetterSet::parse(ev.get("result")).unwrap_or_else(|e| {
                notes.push(e);
                None
            })
        };
        let expected = if infeasible {
            None
        } else {
            GetterSet::parse(ev.get("expected")).unwrap_or_else(|e| {
                notes.push(e);
                None
            })
        };
        if notes.is_empty()
            && !infeasible
            && evaluator.func.names().iter().any(|f| f.trim().is_empty())
        {
            // OSWorld's task set has placeholders with `"func": ""`: runnable by no one.
            notes.push("the evaluator names no metric (`func` is empty)".into());
        }
        if notes.is_empty() && !infeasible {
            let n = evaluator.func.names().len();
            let many = matches!(evaluator.func, osworld_metrics::state::Func::Many(_));
            let shape_ok = |g: &Option<GetterSet>, required: bool| match g {
                None => !required,
                Some(GetterSet::One(_)) => !many,
                Some(GetterSet::Many(v)) => many && v.len() == n,
            };
            // A malformed evaluator marks its task (one odd file in a task set of
            // hundreds does not stop the others from loading).
            if !shape_ok(&result, true) {
                notes.push(format!(
                    "evaluator: `result` must give {n} getter(s), one per func"
                ));
            } else if !shape_ok(&expected, false) {
                notes.push(format!(
                    "evaluator: `expected` must give {n} getter(s), one per func"
                ));
            }
        }
        let unsupported = notes.into_iter().next();
        let text_slots = match obj.get(TEXT_SLOTS_KEY) {
            Some(Value::Array(a)) => a
                .iter()
                .map(|s| {
                    s.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| bad(format!("`{TEXT_SLOTS_KEY}` must list strings")))
                })
                .collect::<Result<Vec<_>>>()?,
            Some(_) => return Err(bad(format!("`{TEXT_SLOTS_KEY}` must list strings"))),
            None => quoted_strings(&instruction),
        };
        let domain = domain_dir
            .map(str::to_owned)
            .or_else(|| snapshot.clone())
            .unwrap_or_else(|| "osworld".into());
        Ok(Task {
            id,
            instruction,
            domain,
            file: file.to_owned(),
            snapshot,
            source: opt("source"),
            related_apps: obj
                .get("related_apps")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            text_slots,
            setup,
            postconfig: post,
            evaluator,
            result,
            expected,
            unsupported,
        })
    }

    /// The files the task's setup, postconfig and cache getters read from the cache
    /// (`cache_dir`) that are not there: for each, the path the adapter looks at first.
    /// Checked when the task list is built, so a task whose files are missing is marked
    /// before an episode runs, not found out at its final state.
    pub fn missing_cache_files(&self, cache_dir: &str) -> Vec<String> {
        let exists = |paths: &[String]| paths.iter().any(|p| std::path::Path::new(p).is_file());
        let mut missing = Vec::new();
        let mut captured = Vec::new();
        for step in self.setup.iter().chain(&self.postconfig) {
            match step {
                SetupStep::Download { files } => {
                    for (url, vm_path) in files {
                        let c = setup::download_candidates(cache_dir, &self.id, url, vm_path);
                        if !exists(&c) {
                            missing.push(c[0].clone());
                        }
                    }
                }
                SetupStep::UploadFile { files } => {
                    for (local, _) in files {
                        let c = setup::upload_candidates(cache_dir, &self.id, local);
                        if !exists(&c) {
                            missing.push(c[0].clone());
                        }
                    }
                }
                SetupStep::Execute { stdout, stderr, .. } => {
                    captured.extend(stdout.iter().chain(stderr).cloned());
                }
                _ => {}
            }
        }
        let task_cache = format!("{}/{}", cache_dir.trim_end_matches('/'), self.id);
        let getters = [&self.result, &self.expected];
        for set in getters.into_iter().flatten() {
            let list: Vec<&Getter> = match set {
                GetterSet::One(g) => vec![g],
                GetterSet::Many(v) => v.iter().flatten().collect(),
            };
            for g in list {
                let names: Vec<&String> = match g {
                    Getter::CacheFile { path } => vec![path],
                    Getter::CloudFile { dests, .. } => dests.iter().collect(),
                    _ => Vec::new(),
                };
                for name in names {
                    let path = format!("{task_cache}/{name}");
                    if !captured.contains(name) && !exists(std::slice::from_ref(&path)) {
                        missing.push(path);
                    }
                }
            }
        }
        missing
    }

    /// Mark the task unrunnable when files it needs are missing from the cache (see
    /// [`Task::missing_cache_files`]); a task already marked keeps its reason.
    pub fn check_cache(&mut self, cache_dir: &str) {
        if self.unsupported.is_some() {
            return;
        }
        let missing = self.missing_cache_files(cache_dir);
        if let Some(first) = missing.first() {
            let more = match missing.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            self.unsupported = Some(format!(
                "missing from the cache: {first}{more} (the adapter never downloads; put the file there, in the directory granted as `{cache_dir}`)"
            ));
        }
    }

    /// Whether the task is infeasible (scored by the agent saying `FAIL`).
    pub fn infeasible(&self) -> bool {
        self.evaluator.func.is_infeasible()
    }

    /// The task metadata JSON the host sees (`unsupported` is the key the host reads).
    pub fn metadata(&self) -> Value {
        let mut m = json!({
            "file": self.file,
            "snapshot": self.snapshot,
            "source": self.source,
            "related_apps": self.related_apps,
            "func": self.evaluator.func.names(),
            "setup": self.setup.iter().map(SetupStep::kind).collect::<Vec<_>>(),
            "text_slots": self.text_slots,
            "infeasible": self.infeasible(),
            "replayable": false,
        });
        if let Some(u) = &self.unsupported {
            m["unsupported"] = Value::String(u.clone());
        }
        m
    }
}

/// The text slots of an instruction without explicit ones: every string quoted in it
/// with double quotes (`"..."`), curly double quotes (`“...”`) or backticks, in
/// order, without repeats. Single quotes are not used (apostrophes).
pub fn quoted_strings(instruction: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut chars = instruction.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let close = match c {
            '"' => '"',
            '“' => '”',
            '`' => '`',
            _ => continue,
        };
        let start = i + c.len_utf8();
        if let Some(end) = instruction[start..].find(close) {
            let s = &instruction[start..start + end];
            if !s.trim().is_empty() && !out.iter().any(|o| o == s) {
                out.push(s.to_owned());
            }
            // Skip past the closing quote.
            while let Some(&(j, _)) = chars.peek() {
                if j > start + end {
                    break;
                }
                chars.next();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPOTIFY: &str = r#"{
        "id": "94d95f96-9699-4208-98ba-3c3119edf9c2",
        "snapshot": "os",
        "instruction": "I want to install Spotify on my current system. Could you please help me?",
        "source": "https://example.org/howto",
        "config": [{"type": "execute", "parameters": {"command": ["python", "-c",
            "import pyautogui; import time; pyautogui.click({SCREEN_WIDTH_HALF}, {SCREEN_HEIGHT_HALF}); time.sleep(0.5);"]}}],
        "trajectory": "trajectories/",
        "related_apps": ["os"],
        "evaluator": {
            "func": "check_include_exclude",
            "result": {"type": "vm_command_line", "command": "which spotify"},
            "expected": {"type": "rule", "rules": {"include": ["spotify"], "exclude": ["not found"]}}
        }
    }"#;

    #[test]
    fn an_os_task_parses() {
        let t = Task::parse(SPOTIFY, "/tasks/os/94d9.json", Some("os")).unwrap();
        assert_eq!(t.id, "94d95f96-9699-4208-98ba-3c3119edf9c2");
        assert_eq!(t.domain, "os");
        assert_eq!(t.setup.len(), 1);
        assert!(t.unsupported.is_none());
        assert!(matches!(t.result, Some(GetterSet::One(_))));
        assert!(matches!(t.expected, Some(GetterSet::One(_))));
        let m = t.metadata();
        assert_eq!(m["setup"], json!(["execute"]));
        assert!(m.get("unsupported").is_none());
    }

    #[test]
    fn unsupported_steps_and_getters_are_marked_not_refused() {
        let text = r#"{"id": "c1", "instruction": "Open two tabs", "snapshot": "chrome",
            "config": [{"type": "launch", "parameters": {"command": ["google-chrome"]}},
                       {"type": "chrome_open_tabs", "parameters": {"urls_to_open": ["https://a"]}}],
            "evaluator": {"func": "is_expected_tabs", "result": {"type": "open_tabs_info"},
                          "expected": {"type": "rule", "rules": {"type": "url", "urls": []}}}}"#;
        let t = Task::parse(text, "c1.json", None).unwrap();
        assert_eq!(
            t.unsupported.as_deref(),
            Some("unsupported setup step chrome_open_tabs")
        );
        assert_eq!(t.domain, "chrome");
        assert_eq!(
            t.metadata()["unsupported"],
            "unsupported setup step chrome_open_tabs"
        );
        let text = r#"{"id": "c2", "instruction": "x",
            "evaluator": {"func": "is_expected_tabs", "result": {"type": "open_tabs_info"}}}"#;
        let t = Task::parse(text, "c2.json", None).unwrap();
        assert_eq!(
            t.unsupported.as_deref(),
            Some("unsupported getter open_tabs_info")
        );
        assert_eq!(t.domain, "osworld");
    }

    #[test]
    fn infeasible_tasks_need_no_getters() {
        let text = r#"{"id": "inf", "instruction": "Set my GPU clock to 9 GHz",
            "evaluator": {"func": "infeasible"}}"#;
        let t = Task::parse(text, "inf.json", None).unwrap();
        assert!(t.infeasible());
        assert!(t.result.is_none() && t.unsupported.is_none());
    }

    #[test]
    fn lists_of_metrics_need_matching_getters() {
        let text = r#"{"id": "m", "instruction": "x", "evaluator": {
            "func": ["exact_match", "check_include_exclude"], "conj": "or",
            "result": [{"type": "vm_command_line", "command": "a"}, {"type": "vm_terminal_output"}],
            "expected": [{"type": "rule", "rules": {"expected": "a"}}, null]}}"#;
        let t = Task::parse(text, "m.json", None).unwrap();
        assert!(matches!(t.result, Some(GetterSet::Many(ref v)) if v.len() == 2));
        let text = r#"{"id": "m", "instruction": "x", "evaluator": {
            "func": ["exact_match", "check_include_exclude"],
            "result": {"type": "vm_terminal_output"}}}"#;
        // Marked, not refused: one malformed file does not stop a task set loading.
        let t = Task::parse(text, "m.json", None).unwrap();
        assert_eq!(
            t.unsupported.as_deref(),
            Some("evaluator: `result` must give 2 getter(s), one per func")
        );
        let text = r#"{"id": "v", "instruction": "x", "evaluator": "evaluation_dir"}"#;
        let t = Task::parse(text, "v.json", None).unwrap();
        assert!(
            t.unsupported
                .as_deref()
                .unwrap()
                .starts_with("evaluator: invalid type: string"),
            "{t:?}"
        );
        // OSWorld's placeholders with an empty func (e.g. chrome/1c114e4f).
        let text = r#"{"id": "p", "instruction": "x", "evaluator": {"func": "", "result": {}, "expected": {}}}"#;
        let t = Task::parse(text, "p.json", None).unwrap();
        assert_eq!(
            t.unsupported.as_deref(),
            Some("the evaluator names no metric (`func` is empty)")
        );
    }

    #[test]
    fn malformed_files_name_the_file_and_field() {
        let e = Task::parse("{", "a.json", None).unwrap_err().to_string();
        assert!(e.starts_with("a.json: not JSON"), "{e}");
        let e = Task::parse(r#"{"id": "x"}"#, "b.json", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`instruction`"), "{e}");
        let e = Task::parse(r#"{"id": "x", "instruction": "y"}"#, "c.json", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("evaluator"), "{e}");
    }

    #[test]
    fn text_slots_come_from_quotes_or_the_explicit_key() {
        assert_eq!(
            quoted_strings(
                r#"Rename "a.txt" to “b.txt”, then type `ls -l` and "a.txt" again; it's fine"#
            ),
            vec!["a.txt", "b.txt", "ls -l"]
        );
        assert!(quoted_strings("no quotes here").is_empty());
        assert!(quoted_strings(r#"unterminated "quote"#).is_empty());
        let text = r#"{"id": "s", "instruction": "Type \"x\"", "steprl_text_slots": ["echo hi"],
            "evaluator": {"func": "infeasible"}}"#;
        assert_eq!(
            Task::parse(text, "s.json", None).unwrap().text_slots,
            vec!["echo hi"]
        );
    }

    #[test]
    fn files_missing_from_the_cache_mark_the_task_when_the_list_is_built() {
        let cache = tempfile::tempdir().unwrap();
        let dir = cache.path().to_str().unwrap();
        let text = r#"{"id": "t1", "instruction": "Edit the sheet",
            "config": [
                {"type": "download", "parameters": {"files": [
                    {"url": "https://example.com/a.xlsx", "path": "/home/user/a.xlsx"}]}},
                {"type": "execute", "parameters": {"command": "ls", "stdout": "ls.txt"}}],
            "evaluator": {"func": ["compare_table", "check_include_exclude"],
                "result": [{"type": "vm_file", "path": "/home/user/a.xlsx", "dest": "a.xlsx"},
                           {"type": "cache_file", "path": "ls.txt"}],
                "expected": [{"type": "cloud_file", "path": "https://example.com/gold.xlsx", "dest": "gold.xlsx"},
                             {"type": "rule", "rules": {"include": ["a"]}}]}}"#;
        let mut t = Task::parse(text, "t1.json", None).unwrap();
        let download = format!(
            "{dir}/t1/{}",
            setup::osworld_cache_name("https://example.com/a.xlsx", "/home/user/a.xlsx")
        );
        assert_eq!(
            t.missing_cache_files(dir),
            [download.clone(), format!("{dir}/t1/gold.xlsx")],
            "ls.txt is the execute step's captured stdout, not a cache file"
        );
        let mut marked = t.clone();
        marked.check_cache(dir);
        let why = marked.unsupported.unwrap();
        assert!(
            why.starts_with(&format!("missing from the cache: {download} (and 1 more)")),
            "{why}"
        );
        // With the files in place (under any of the names tried) the task runs.
        std::fs::create_dir(cache.path().join("t1")).unwrap();
        std::fs::write(cache.path().join("t1/a.xlsx"), b"x").unwrap();
        std::fs::write(cache.path().join("t1/gold.xlsx"), b"x").unwrap();
        assert!(t.missing_cache_files(dir).is_empty());
        t.check_cache(dir);
        assert_eq!(t.unsupported, None);
    }
}

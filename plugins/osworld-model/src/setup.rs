//! OSWorld setup steps (`config` and `evaluator.postconfig` entries): parsing into a
//! plan, the screen/password placeholders of `execute`, `until` conditions, and where
//! a `download` step's file lives in the granted cache.

use serde_json::{Map, Value};

/// A command as OSWorld gives it: one string (shell line, or shlex-split by the
/// server) or an argument list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// One string.
    Line(String),
    /// An argument vector.
    Args(Vec<String>),
}

impl Command {
    fn parse(v: &Value) -> Result<Command, String> {
        match v {
            Value::String(s) if !s.is_empty() => Ok(Command::Line(s.clone())),
            Value::Array(items) if !items.is_empty() => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(format!("command arguments must be strings, found {other}")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Command::Args),
            _ => Err("`command` must be a non-empty string or list of strings".into()),
        }
    }

    /// The JSON form sent to the server.
    pub fn to_json(&self) -> Value {
        match self {
            Command::Line(s) => Value::String(s.clone()),
            Command::Args(a) => Value::Array(a.iter().cloned().map(Value::String).collect()),
        }
    }

    /// The command for messages.
    pub fn display(&self) -> String {
        match self {
            Command::Line(s) => s.clone(),
            Command::Args(a) => a.join(" "),
        }
    }

    /// `launch` without a shell splits a multi-word string on whitespace (as
    /// OSWorld's setup controller does before sending it).
    pub fn split_for_launch(&self, shell: bool) -> Command {
        match self {
            Command::Line(s) if !shell && s.split_whitespace().count() > 1 => {
                Command::Args(s.split_whitespace().map(str::to_owned).collect())
            }
            other => other.clone(),
        }
    }
}

/// Values substituted into `execute` / `command` steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholders {
    /// `{CLIENT_PASSWORD}`.
    pub password: String,
    /// `{SCREEN_WIDTH}` (and half of it for `{SCREEN_WIDTH_HALF}`).
    pub width: u32,
    /// `{SCREEN_HEIGHT}` (and `{SCREEN_HEIGHT_HALF}`).
    pub height: u32,
}

impl Placeholders {
    /// Replace the placeholders in one string (the `_HALF` forms first, so that
    /// `{SCREEN_WIDTH}` never eats the prefix of `{SCREEN_WIDTH_HALF}`).
    pub fn apply_str(&self, s: &str) -> String {
        s.replace("{CLIENT_PASSWORD}", &self.password)
            .replace("{SCREEN_WIDTH_HALF}", &(self.width / 2).to_string())
            .replace("{SCREEN_HEIGHT_HALF}", &(self.height / 2).to_string())
            .replace("{SCREEN_WIDTH}", &self.width.to_string())
            .replace("{SCREEN_HEIGHT}", &self.height.to_string())
    }

    /// Replace the placeholders in every part of a command.
    pub fn apply(&self, c: &Command) -> Command {
        match c {
            Command::Line(s) => Command::Line(self.apply_str(s)),
            Command::Args(a) => Command::Args(a.iter().map(|s| self.apply_str(s)).collect()),
        }
    }
}

/// What an `execute` step's result must show before the step counts as done; empty =
/// the first successful answer. Any one condition given suffices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Until {
    /// The exit status equals this.
    pub returncode: Option<i64>,
    /// Stdout contains this.
    pub stdout: Option<String>,
    /// Stderr contains this.
    pub stderr: Option<String>,
}

impl Until {
    /// Whether no condition is given.
    pub fn is_empty(&self) -> bool {
        self.returncode.is_none() && self.stdout.is_none() && self.stderr.is_none()
    }

    /// Whether an execute result meets a condition (always true when empty).
    pub fn met(&self, returncode: i64, stdout: &str, stderr: &str) -> bool {
        self.is_empty()
            || self.returncode == Some(returncode)
            || self.stdout.as_deref().is_some_and(|s| stdout.contains(s))
            || self.stderr.as_deref().is_some_and(|s| stderr.contains(s))
    }
}

/// `activate_window` / `close_window` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowTarget {
    /// Window title (or class with `by_class`).
    pub window_name: String,
    /// Match the whole title case-sensitively.
    pub strict: bool,
    /// Match the window class instead of the title.
    pub by_class: bool,
}

/// One setup step the adapter can run.
#[derive(Debug, Clone, PartialEq)]
pub enum SetupStep {
    /// `launch`: start a program without waiting (`/setup/launch`).
    Launch {
        /// The program and arguments.
        command: Command,
        /// Run through a shell.
        shell: bool,
    },
    /// `open`: open a file or application and wait for its window
    /// (`/setup/open_file`).
    Open {
        /// The path on the VM.
        path: String,
    },
    /// `execute` / `command`: run a command and wait for it (`/setup/execute`),
    /// repeated until `until` holds.
    Execute {
        /// The command (placeholders not yet substituted).
        command: Command,
        /// Run through a shell.
        shell: bool,
        /// Keep stdout under this cache file name (readable by `cache_file`).
        stdout: Option<String>,
        /// Keep stderr under this cache file name.
        stderr: Option<String>,
        /// Repeat until this holds.
        until: Until,
    },
    /// `execute_with_verification` (`/setup/execute_with_verification`).
    ExecuteWithVerification {
        /// The command.
        command: Command,
        /// Run through a shell.
        shell: bool,
        /// `{window_exists?, command_success?}`, passed through.
        verification: Value,
        /// Seconds the server waits for the verification.
        max_wait_time: f64,
        /// Seconds between checks.
        check_interval: f64,
    },
    /// `sleep`.
    Sleep {
        /// Seconds.
        seconds: f64,
    },
    /// `activate_window` (`/setup/activate_window`).
    ActivateWindow(WindowTarget),
    /// `close_window` (`/setup/close_window`).
    CloseWindow(WindowTarget),
    /// `upload_file`: local files (read from a granted directory) uploaded to the VM.
    UploadFile {
        /// `(local_path, path on the VM)` pairs.
        files: Vec<(String, String)>,
    },
    /// `download`: files OSWorld would fetch from a URL, served from the granted cache
    /// and uploaded to the VM.
    Download {
        /// `(url, path on the VM)` pairs.
        files: Vec<(String, String)>,
    },
}

/// The step types the adapter implements.
pub const SUPPORTED_STEPS: &[&str] = &[
    "launch",
    "open",
    "execute",
    "command",
    "execute_with_verification",
    "sleep",
    "activate_window",
    "close_window",
    "upload_file",
    "download",
];

fn params_of(step: &Value) -> Result<(&str, Map<String, Value>), String> {
    let obj = step
        .as_object()
        .ok_or_else(|| format!("a setup step must be an object, found {step}"))?;
    let ty = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or("a setup step has no `type`")?;
    let params = match obj.get("parameters") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => return Err(format!("setup step {ty}: `parameters` is {other}")),
    };
    Ok((ty, params))
}

fn get_str(p: &Map<String, Value>, ty: &str, key: &str) -> Result<String, String> {
    match p.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(format!(
            "setup step {ty}: `{key}` must be a non-empty string"
        )),
    }
}

/// A flag as OSWorld's Python reads it: by truthiness. Task files give `"shell":
/// "true"` as a string (a non-empty string is true — `"false"` too, as in Python);
/// numbers are true unless zero; absent or `null` is false.
fn get_bool(p: &Map<String, Value>, key: &str) -> bool {
    match p.get(key) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|x| x != 0.0),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

fn get_opt_str(p: &Map<String, Value>, key: &str) -> Option<String> {
    p.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn get_num(p: &Map<String, Value>, ty: &str, key: &str, default: f64) -> Result<f64, String> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_f64()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| format!("setup step {ty}: `{key}` must be a non-negative number")),
    }
}

fn file_pairs(
    p: &Map<String, Value>,
    ty: &str,
    from: &str,
) -> Result<Vec<(String, String)>, String> {
    let files = p
        .get("files")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("setup step {ty}: `files` must be a list"))?;
    files
        .iter()
        .map(|f| {
            let m = f
                .as_object()
                .ok_or_else(|| format!("setup step {ty}: each file must be an object"))?;
            Ok((get_str(m, ty, from)?, get_str(m, ty, "path")?))
        })
        .collect()
}

fn window(p: &Map<String, Value>, ty: &str) -> Result<WindowTarget, String> {
    Ok(WindowTarget {
        window_name: get_str(p, ty, "window_name")?,
        strict: get_bool(p, "strict"),
        by_class: get_bool(p, "by_class"),
    })
}

impl SetupStep {
    /// Parse one `{type, parameters}` entry. A type the adapter does not implement
    /// gives `unsupported setup step X`; a malformed one says what is wrong.
    pub fn parse(step: &Value) -> Result<SetupStep, String> {
        let (ty, p) = params_of(step)?;
        let command = || {
            Command::parse(p.get("command").unwrap_or(&Value::Null))
                .map_err(|e| format!("setup step {ty}: {e}"))
        };
        Ok(match ty {
            "launch" => SetupStep::Launch {
                command: command()?,
                shell: get_bool(&p, "shell"),
            },
            "open" => SetupStep::Open {
                path: get_str(&p, ty, "path")?,
            },
            "execute" | "command" => {
                let until = match p.get("until") {
                    None | Some(Value::Null) => Until::default(),
                    Some(Value::Object(u)) => Until {
                        returncode: u.get("returncode").and_then(Value::as_i64),
                        stdout: get_opt_str(u, "stdout"),
                        stderr: get_opt_str(u, "stderr"),
                    },
                    Some(other) => {
                        return Err(format!(
                            "setup step {ty}: `until` must be an object, found {other}"
                        ));
                    }
                };
                SetupStep::Execute {
                    command: command()?,
                    shell: get_bool(&p, "shell"),
                    stdout: get_opt_str(&p, "stdout"),
                    stderr: get_opt_str(&p, "stderr"),
                    until,
                }
            }
            "execute_with_verification" => SetupStep::ExecuteWithVerification {
                command: command()?,
                shell: get_bool(&p, "shell"),
                verification: p
                    .get("verification")
                    .cloned()
                    .unwrap_or(Value::Object(Map::new())),
                max_wait_time: get_num(&p, ty, "max_wait_time", 10.0)?,
                check_interval: get_num(&p, ty, "check_interval", 1.0)?,
            },
            "sleep" => SetupStep::Sleep {
                seconds: get_num(&p, ty, "seconds", f64::NAN).and_then(|s| {
                    if s.is_nan() {
                        Err(format!("setup step {ty}: `seconds` is required"))
                    } else {
                        Ok(s)
                    }
                })?,
            },
            "activate_window" => SetupStep::ActivateWindow(window(&p, ty)?),
            "close_window" => SetupStep::CloseWindow(window(&p, ty)?),
            "upload_file" => SetupStep::UploadFile {
                files: file_pairs(&p, ty, "local_path")?,
            },
            "download" => SetupStep::Download {
                files: file_pairs(&p, ty, "url")?,
            },
            other => return Err(format!("unsupported setup step {other}")),
        })
    }

    /// The step's OSWorld type name.
    pub fn kind(&self) -> &'static str {
        match self {
            SetupStep::Launch { .. } => "launch",
            SetupStep::Open { .. } => "open",
            SetupStep::Execute { .. } => "execute",
            SetupStep::ExecuteWithVerification { .. } => "execute_with_verification",
            SetupStep::Sleep { .. } => "sleep",
            SetupStep::ActivateWindow(_) => "activate_window",
            SetupStep::CloseWindow(_) => "close_window",
            SetupStep::UploadFile { .. } => "upload_file",
            SetupStep::Download { .. } => "download",
        }
    }
}

/// Parse a list of steps (`config` or `postconfig`); the first problem is the error.
pub fn plan(steps: &[Value]) -> Result<Vec<SetupStep>, String> {
    steps.iter().map(SetupStep::parse).collect()
}

/// The base name of a path (`a/b/c.txt` → `c.txt`; also for `\` separators).
pub fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// OSWorld's name for a downloaded file in a task's cache directory:
/// `<uuid5(NAMESPACE_URL, url)>_<basename(path)>`.
pub fn osworld_cache_name(url: &str, vm_path: &str) -> String {
    format!("{}_{}", uuid5_url(url), basename(vm_path))
}

/// Where a `download` step's file may be in the cache, in the order tried:
/// OSWorld's own cache name, then the VM file's base name, then the URL's base name
/// (all under `<cache_dir>/<task id>/`).
pub fn download_candidates(
    cache_dir: &str,
    task_id: &str,
    url: &str,
    vm_path: &str,
) -> Vec<String> {
    let dir = format!("{}/{}", cache_dir.trim_end_matches('/'), task_id);
    let url_path = url.split(['?', '#']).next().unwrap_or(url);
    let mut out = vec![
        format!("{dir}/{}", osworld_cache_name(url, vm_path)),
        format!("{dir}/{}", basename(vm_path)),
    ];
    let from_url = format!("{dir}/{}", basename(url_path));
    if !basename(url_path).is_empty() && !out.contains(&from_url) {
        out.push(from_url);
    }
    out
}

/// Where an `upload_file` step's `local_path` may be, in the order tried: the path
/// itself when absolute, else under the task's cache directory, then under the cache.
pub fn upload_candidates(cache_dir: &str, task_id: &str, local: &str) -> Vec<String> {
    if local.starts_with('/') {
        vec![local.to_owned()]
    } else {
        let cache = cache_dir.trim_end_matches('/');
        vec![
            format!("{cache}/{task_id}/{local}"),
            format!("{cache}/{local}"),
        ]
    }
}

/// RFC 4122 name-based UUID (version 5, SHA-1) in the URL namespace, lower-case
/// hyphenated, as Python's `uuid.uuid5(uuid.NAMESPACE_URL, url)` prints it.
pub fn uuid5_url(name: &str) -> String {
    // 6ba7b811-9dad-11d1-80b4-00c04fd430c8
    const NAMESPACE_URL: [u8; 16] = [
        0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30,
        0xc8,
    ];
    let mut h = sha1_smol::Sha1::new();
    h.update(&NAMESPACE_URL);
    h.update(name.as_bytes());
    let d = h.digest().bytes();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_supported_type_parses() {
        let steps = json!([
            {"type": "launch", "parameters": {"command": ["gedit"]}},
            {"type": "open", "parameters": {"path": "/home/user/a.txt"}},
            {"type": "execute", "parameters": {"command": "echo hi", "shell": true,
                "until": {"returncode": 0}, "stdout": "out.txt"}},
            {"type": "command", "parameters": {"command": ["ls"]}},
            {"type": "execute_with_verification", "parameters": {"command": ["gedit"],
                "verification": {"window_exists": "gedit"}, "max_wait_time": 5}},
            {"type": "sleep", "parameters": {"seconds": 0.5}},
            {"type": "activate_window", "parameters": {"window_name": "Terminal", "strict": true}},
            {"type": "close_window", "parameters": {"window_name": "gedit", "by_class": true}},
            {"type": "upload_file", "parameters": {"files": [{"local_path": "a.txt", "path": "/tmp/a.txt"}]}},
            {"type": "download", "parameters": {"files": [{"url": "https://x/y.txt", "path": "/tmp/y.txt"}]}}
        ]);
        let p = plan(steps.as_array().unwrap()).unwrap();
        let kinds: Vec<_> = p.iter().map(SetupStep::kind).collect();
        assert_eq!(
            kinds,
            [
                "launch",
                "open",
                "execute",
                "execute",
                "execute_with_verification",
                "sleep",
                "activate_window",
                "close_window",
                "upload_file",
                "download"
            ]
        );
        match &p[2] {
            SetupStep::Execute { until, stdout, .. } => {
                assert_eq!(until.returncode, Some(0));
                assert_eq!(stdout.as_deref(), Some("out.txt"));
            }
            other => panic!("{other:?}"),
        }
        match &p[4] {
            SetupStep::ExecuteWithVerification {
                max_wait_time,
                check_interval,
                ..
            } => {
                assert_eq!((*max_wait_time, *check_interval), (5.0, 1.0));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_and_malformed_steps_say_what() {
        let e = SetupStep::parse(
            &json!({"type": "chrome_open_tabs", "parameters": {"urls_to_open": []}}),
        )
        .unwrap_err();
        assert_eq!(e, "unsupported setup step chrome_open_tabs");
        let e = SetupStep::parse(&json!({"type": "open", "parameters": {}})).unwrap_err();
        assert!(e.contains("`path`"), "{e}");
        let e = SetupStep::parse(&json!({"type": "execute", "parameters": {"command": []}}))
            .unwrap_err();
        assert!(e.contains("command"), "{e}");
        let e = SetupStep::parse(&json!({"type": "sleep", "parameters": {}})).unwrap_err();
        assert!(e.contains("seconds"), "{e}");
    }

    #[test]
    fn placeholders_are_substituted_half_forms_first() {
        let p = Placeholders {
            password: "pw".into(),
            width: 1920,
            height: 1080,
        };
        let c = Command::Args(vec![
            "echo {CLIENT_PASSWORD} | sudo -S true".into(),
            "{SCREEN_WIDTH}x{SCREEN_HEIGHT}".into(),
            "{SCREEN_WIDTH_HALF},{SCREEN_HEIGHT_HALF}".into(),
        ]);
        assert_eq!(
            p.apply(&c),
            Command::Args(vec![
                "echo pw | sudo -S true".into(),
                "1920x1080".into(),
                "960,540".into()
            ])
        );
    }

    #[test]
    fn until_conditions() {
        let u = Until::default();
        assert!(u.met(1, "", ""));
        let u = Until {
            returncode: Some(0),
            stdout: Some("ready".into()),
            stderr: None,
        };
        assert!(u.met(0, "", ""));
        assert!(u.met(1, "server ready\n", ""));
        assert!(!u.met(1, "starting", "ready"));
    }

    #[test]
    fn flags_are_read_as_python_reads_them() {
        let shell = |v: Value| match SetupStep::parse(
            &json!({"type": "execute", "parameters": {"command": "ls", "shell": v}}),
        )
        .unwrap()
        {
            SetupStep::Execute { shell, .. } => shell,
            other => panic!("{other:?}"),
        };
        // `"shell": "true"` is how five multi_apps tasks (e.g. 2373b66a) write it.
        assert!(shell(json!("true")));
        assert!(
            shell(json!("false")),
            "a non-empty string is truthy in Python"
        );
        assert!(shell(json!(true)) && shell(json!(1)));
        assert!(!shell(json!("")) && !shell(json!(false)) && !shell(json!(0)));
        assert!(!shell(Value::Null));
    }

    #[test]
    fn launch_strings_split_without_shell() {
        let c = Command::Line("gedit /home/user/a.txt".into());
        assert_eq!(
            c.split_for_launch(false),
            Command::Args(vec!["gedit".into(), "/home/user/a.txt".into()])
        );
        assert_eq!(c.split_for_launch(true), c);
    }

    #[test]
    fn uuid5_matches_python() {
        // python3 -c 'import uuid; print(uuid.uuid5(uuid.NAMESPACE_URL, "https://example.com/a.txt"))'
        assert_eq!(
            uuid5_url("https://example.com/a.txt"),
            "95d3cadc-7917-5c25-a263-69b99f7afebb"
        );
        // python3 -c 'import uuid; print(uuid.uuid5(uuid.NAMESPACE_URL, "http://www.python.org"))'
        assert_eq!(
            uuid5_url("http://www.python.org"),
            "5e077b6f-5fcc-5a59-b52a-0092db3520c3"
        );
    }

    #[test]
    fn download_candidates_in_order() {
        let c = download_candidates(
            "/cache/",
            "t1",
            "https://h/files/raw.txt?dl=1",
            "/home/user/notes.txt",
        );
        assert_eq!(c.len(), 3);
        assert!(c[0].starts_with("/cache/t1/") && c[0].ends_with("_notes.txt"));
        assert_eq!(c[1], "/cache/t1/notes.txt");
        assert_eq!(c[2], "/cache/t1/raw.txt");
    }
}

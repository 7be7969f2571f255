//! A local stand-in for OSWorld's VM server (`desktop_env/server/main.py`): the same
//! endpoints, request bodies, status codes and error shapes, backed by a simulated
//! Ubuntu desktop — a fake file system, a shell with a table of commands, a pyautogui
//! interpreter for action code, a terminal and a text editor whose accessibility tree is
//! rendered in OSWorld's XML shape — and a record of every request.
//!
//! It is not OSWorld: nothing runs for real. It answers the way the Flask server
//! answers, so the osworld adapter can be tested end to end without a VM.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::{Value, json};

/// The simulated user's home directory.
pub const HOME: &str = "/home/user";
/// The simulated screen.
pub const SCREEN_W: i64 = 1920;
/// The simulated screen height.
pub const SCREEN_H: i64 = 1080;
const PROMPT: &str = "user@ubuntu:~$ ";

const NS: &[(&str, &str)] = &[
    ("st", "https://accessibility.ubuntu.example.org/ns/state"),
    (
        "attr",
        "https://accessibility.ubuntu.example.org/ns/attributes",
    ),
    (
        "cp",
        "https://accessibility.ubuntu.example.org/ns/component",
    ),
    (
        "doc",
        "https://accessibility.ubuntu.example.org/ns/document",
    ),
    (
        "docattr",
        "https://accessibility.ubuntu.example.org/ns/document/attributes",
    ),
    ("txt", "https://accessibility.ubuntu.example.org/ns/text"),
    ("val", "https://accessibility.ubuntu.example.org/ns/value"),
    ("act", "https://accessibility.ubuntu.example.org/ns/action"),
];

// ---------------------------------------------------------------------------------
// Records

/// One request the server received, and the status it answered.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET` or `POST`.
    pub method: String,
    /// The path (without the query).
    pub path: String,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The status code answered.
    pub status: u16,
}

impl Recorded {
    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as form fields (urlencoded or multipart).
    pub fn form(&self) -> Vec<(String, Vec<u8>)> {
        parse_form(self.content_type.as_deref(), &self.body)
    }

    /// The command of an `/execute` request, joined with spaces.
    pub fn command(&self) -> Option<String> {
        let v = self.json()?;
        match v.get("command")? {
            Value::String(s) => Some(s.clone()),
            Value::Array(a) => Some(
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------
// File system

/// A file system entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory.
    Dir,
    /// A file with its bytes and whether it is executable.
    File {
        /// Contents.
        data: Vec<u8>,
        /// `chmod +x`.
        exec: bool,
    },
}

/// A fake file system: absolute normalized paths to entries.
#[derive(Debug, Clone, Default)]
pub struct Fs {
    nodes: BTreeMap<String, Node>,
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => "/",
    }
}

fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

impl Fs {
    /// The standard home: `~/Desktop`, `~/Documents`, `~/Downloads`, `/tmp`.
    pub fn standard() -> Fs {
        let mut fs = Fs::default();
        for d in ["/", "/home", HOME, "/tmp", "/usr", "/usr/bin", "/etc"] {
            fs.nodes.insert(d.into(), Node::Dir);
        }
        for d in ["Desktop", "Documents", "Downloads", "Pictures"] {
            fs.nodes.insert(format!("{HOME}/{d}"), Node::Dir);
        }
        fs.write(&format!("{HOME}/.bashrc"), b"# ~/.bashrc\n".to_vec())
            .unwrap();
        fs.write("/etc/hostname", b"ubuntu\n".to_vec()).unwrap();
        fs
    }

    /// Normalize `path` against `cwd` (`~` expanded, `.`/`..` resolved).
    pub fn resolve(cwd: &str, path: &str) -> String {
        let full = if let Some(rest) = path.strip_prefix("~/") {
            format!("{HOME}/{rest}")
        } else if path == "~" {
            HOME.into()
        } else if path.starts_with('/') {
            path.into()
        } else {
            format!("{cwd}/{path}")
        };
        let mut parts: Vec<&str> = Vec::new();
        for p in full.split('/') {
            match p {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        format!("/{}", parts.join("/"))
    }

    /// The entry at an absolute path.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Whether a directory exists.
    pub fn is_dir(&self, path: &str) -> bool {
        matches!(self.get(path), Some(Node::Dir))
    }

    /// A file's bytes.
    pub fn read(&self, path: &str) -> Option<&[u8]> {
        match self.get(path) {
            Some(Node::File { data, .. }) => Some(data),
            _ => None,
        }
    }

    /// A file's text.
    pub fn read_text(&self, path: &str) -> Option<String> {
        self.read(path)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// Write a file (its directory must exist; keeps the exec bit).
    pub fn write(&mut self, path: &str, data: Vec<u8>) -> Result<(), String> {
        if !self.is_dir(parent(path)) {
            return Err("No such file or directory".into());
        }
        match self.nodes.get_mut(path) {
            Some(Node::Dir) => Err("Is a directory".into()),
            Some(Node::File { data: d, .. }) => {
                *d = data;
                Ok(())
            }
            None => {
                self.nodes
                    .insert(path.into(), Node::File { data, exec: false });
                Ok(())
            }
        }
    }

    /// Create directories down to `path`.
    pub fn mkdir_p(&mut self, path: &str) -> Result<(), String> {
        let mut cur = String::new();
        for p in path.split('/').filter(|p| !p.is_empty()) {
            cur.push('/');
            cur.push_str(p);
            match self.nodes.get(&cur) {
                Some(Node::File { .. }) => return Err("Not a directory".into()),
                Some(Node::Dir) => {}
                None => {
                    self.nodes.insert(cur.clone(), Node::Dir);
                }
            }
        }
        Ok(())
    }

    /// The names in a directory, sorted.
    pub fn list(&self, dir: &str) -> Vec<String> {
        let prefix = if dir == "/" {
            "/".to_owned()
        } else {
            format!("{dir}/")
        };
        self.nodes
            .keys()
            .filter(|k| {
                k.starts_with(&prefix) && k.len() > prefix.len() && !k[prefix.len()..].contains('/')
            })
            .map(|k| k[prefix.len()..].to_owned())
            .collect()
    }

    /// Remove an entry and everything below it.
    pub fn remove_tree(&mut self, path: &str) {
        let prefix = format!("{path}/");
        self.nodes
            .retain(|k, _| k != path && !k.starts_with(&prefix));
    }

    /// Move an entry (and its subtree).
    pub fn rename(&mut self, from: &str, to: &str) {
        let prefix = format!("{from}/");
        let moved: Vec<(String, Node)> = self
            .nodes
            .iter()
            .filter(|(k, _)| *k == from || k.starts_with(&prefix))
            .map(|(k, v)| (format!("{to}{}", &k[from.len()..]), v.clone()))
            .collect();
        self.remove_tree(from);
        self.nodes.extend(moved);
    }

    fn set_exec(&mut self, path: &str, on: bool) -> bool {
        match self.nodes.get_mut(path) {
            Some(Node::File { exec, .. }) => {
                *exec = on;
                true
            }
            Some(Node::Dir) => true,
            None => false,
        }
    }
}

// ---------------------------------------------------------------------------------
// Desktop

/// What a window shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum App {
    /// A terminal: the scrollback before the current prompt, and the typed line.
    Terminal {
        /// Everything before the current prompt.
        history: String,
        /// The line being typed.
        input: String,
    },
    /// A text editor on a file.
    Editor {
        /// The file.
        path: String,
        /// The (possibly unsaved) text.
        content: String,
    },
}

/// A window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Title (wmctrl matches it).
    pub title: String,
    /// WM class.
    pub class: String,
    /// The application.
    pub app: App,
    /// Geometry.
    pub x: i64,
    /// Top.
    pub y: i64,
    /// Width.
    pub w: i64,
    /// Height.
    pub h: i64,
}

impl Window {
    fn terminal() -> Window {
        Window {
            title: "Terminal".into(),
            class: "gnome-terminal-server".into(),
            app: App::Terminal {
                history: String::new(),
                input: String::new(),
            },
            x: 70,
            y: 80,
            w: 900,
            h: 640,
        }
    }

    fn editor(path: &str, content: String) -> Window {
        Window {
            title: format!("{} - Text Editor", base(path)),
            class: "gedit".into(),
            app: App::Editor {
                path: path.into(),
                content,
            },
            x: 1000,
            y: 80,
            w: 880,
            h: 640,
        }
    }

    /// The terminal's text (scrollback, prompt and typed line).
    pub fn terminal_text(&self) -> Option<String> {
        match &self.app {
            App::Terminal { history, input } => Some(format!("{history}{PROMPT}{input}")),
            App::Editor { .. } => None,
        }
    }
}

/// What a UI element does when clicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Activities,
    Widget(usize),
    Save(usize),
    Close(usize),
}

struct UiElement {
    role: &'static str,
    name: String,
    text: String,
    x: i64,
    y: i64,
    w: i64,
    h: i64,
    target: Target,
}

impl UiElement {
    fn contains(&self, x: i64, y: i64) -> bool {
        x >= self.x && x < self.x + self.w && y >= self.y && y < self.y + self.h
    }
}

/// The simulated desktop: windows (last = active), keyboard focus, mouse, scroll.
#[derive(Debug, Clone, Default)]
pub struct Desktop {
    /// Windows, bottom to top.
    pub windows: Vec<Window>,
    /// Whether the active window's main widget has keyboard focus.
    pub focused: bool,
    /// Mouse position.
    pub mouse: (i64, i64),
    /// Accumulated scroll clicks.
    pub scroll: i64,
    /// The wallpaper path.
    pub wallpaper: Option<String>,
}

impl Desktop {
    fn elements(&self) -> Vec<UiElement> {
        let mut out = vec![UiElement {
            role: "push-button",
            name: "Activities".into(),
            text: String::new(),
            x: 0,
            y: 0,
            w: 100,
            h: 32,
            target: Target::Activities,
        }];
        for (i, w) in self.windows.iter().enumerate() {
            out.push(UiElement {
                role: "push-button",
                name: "Close".into(),
                text: String::new(),
                x: w.x + w.w - 40,
                y: w.y,
                w: 40,
                h: 40,
                target: Target::Close(i),
            });
            match &w.app {
                App::Terminal { .. } => out.push(UiElement {
                    role: "terminal",
                    name: "Terminal".into(),
                    text: w.terminal_text().unwrap_or_default(),
                    x: w.x,
                    y: w.y + 40,
                    w: w.w,
                    h: w.h - 40,
                    target: Target::Widget(i),
                }),
                App::Editor { content, .. } => {
                    out.push(UiElement {
                        role: "push-button",
                        name: "Save".into(),
                        text: String::new(),
                        x: w.x + w.w - 120,
                        y: w.y,
                        w: 80,
                        h: 40,
                        target: Target::Save(i),
                    });
                    out.push(UiElement {
                        role: "text",
                        name: "Document".into(),
                        text: content.clone(),
                        x: w.x,
                        y: w.y + 80,
                        w: w.w,
                        h: w.h - 80,
                        target: Target::Widget(i),
                    });
                }
            }
        }
        out
    }

    fn active(&self) -> Option<usize> {
        self.windows.len().checked_sub(1)
    }

    fn raise(&mut self, i: usize) -> usize {
        let w = self.windows.remove(i);
        self.windows.push(w);
        self.windows.len() - 1
    }

    /// Index of the window wmctrl would pick for `name`.
    pub fn find_window(&self, name: &str, strict: bool, by_class: bool) -> Option<usize> {
        self.windows.iter().rposition(|w| {
            let hay = if by_class { &w.class } else { &w.title };
            if strict {
                hay == name
            } else {
                hay.to_lowercase().contains(&name.to_lowercase())
            }
        })
    }
}

// ---------------------------------------------------------------------------------
// The VM

/// Output of a command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOut {
    /// Stdout.
    pub stdout: String,
    /// Stderr.
    pub stderr: String,
    /// Exit status.
    pub code: i32,
}

impl ExecOut {
    fn ok(stdout: impl Into<String>) -> Self {
        ExecOut {
            stdout: stdout.into(),
            ..Default::default()
        }
    }
    fn err(stderr: impl Into<String>, code: i32) -> Self {
        ExecOut {
            stderr: stderr.into(),
            code,
            ..Default::default()
        }
    }
}

/// The whole simulated VM.
#[derive(Debug, Clone)]
pub struct Vm {
    /// The file system.
    pub fs: Fs,
    /// The desktop.
    pub desktop: Desktop,
    /// Programs `which` finds and `launch` can start.
    pub programs: BTreeSet<String>,
    /// Every request received.
    pub requests: Vec<Recorded>,
    /// The top bar's clock, when the VM has one: it advances a second at every look
    /// at the accessibility tree, as a live VM's clock runs between two episodes.
    pub clock: Option<u32>,
    /// A Windows VM as OSWorld's Windows server shows it: `/platform` says `Windows`
    /// and the accessibility tree uses the Windows namespaces, without `st:showing`.
    pub windows: bool,
    /// How long `/setup/open_file` takes before it answers (a large file opening;
    /// OSWorld's server waits up to 1,800 s for the window).
    pub open_delay: std::time::Duration,
}

const PROGRAMS: &[&str] = &[
    "bash",
    "cat",
    "chmod",
    "cp",
    "echo",
    "false",
    "gedit",
    "gnome-terminal",
    "grep",
    "head",
    "ls",
    "mkdir",
    "mv",
    "nautilus",
    "printf",
    "pwd",
    "python",
    "python3",
    "revert-snapshot",
    "rm",
    "sh",
    "sleep",
    "sort",
    "sudo",
    "sync",
    "tail",
    "test",
    "touch",
    "true",
    "uname",
    "wc",
    "which",
    "whoami",
    "wmctrl",
    "xdg-open",
];

impl Default for Vm {
    fn default() -> Self {
        Vm::standard()
    }
}

impl Vm {
    /// A fresh VM: the standard home, one open terminal, the standard programs.
    pub fn standard() -> Vm {
        Vm {
            fs: Fs::standard(),
            desktop: Desktop {
                windows: vec![Window::terminal()],
                focused: false,
                mouse: (SCREEN_W / 2, SCREEN_H / 2),
                scroll: 0,
                wallpaper: None,
            },
            programs: PROGRAMS.iter().map(|s| (*s).to_owned()).collect(),
            requests: Vec::new(),
            clock: None,
            windows: false,
            open_delay: std::time::Duration::ZERO,
        }
    }

    // ----- windows -----------------------------------------------------------------

    fn open_path(&mut self, path: &str) -> bool {
        if let Some(data) = self.fs.read_text(path) {
            self.desktop.windows.push(Window::editor(path, data));
            self.desktop.focused = true;
            true
        } else if self.fs.is_dir(path) {
            self.desktop.windows.push(Window {
                title: base(path).into(),
                class: "org.gnome.Nautilus".into(),
                app: App::Editor {
                    path: path.into(),
                    content: self.fs.list(path).join("\n"),
                },
                x: 200,
                y: 150,
                w: 800,
                h: 600,
            });
            true
        } else {
            false
        }
    }

    /// Start a program as `Popen` would: `Err` when it does not exist.
    fn spawn(&mut self, argv: &[String]) -> Result<(), String> {
        let prog = argv.first().map(|s| base(s).to_owned()).unwrap_or_default();
        if !self.programs.contains(&prog) {
            return Err(format!(
                "[Errno 2] No such file or directory: '{}'",
                argv.first().cloned().unwrap_or_default()
            ));
        }
        match prog.as_str() {
            "gnome-terminal" => {
                self.desktop.windows.push(Window::terminal());
                self.desktop.focused = true;
            }
            "gedit" | "xdg-open" | "nautilus" => match argv.get(1) {
                Some(p) => {
                    let p = Fs::resolve(HOME, p);
                    if !self.open_path(&p) && prog == "gedit" {
                        self.desktop.windows.push(Window::editor(&p, String::new()));
                    }
                }
                None if prog == "gedit" => self.desktop.windows.push(Window::editor(
                    &format!("{HOME}/Untitled Document 1"),
                    String::new(),
                )),
                None => {}
            },
            _ => {
                let line = argv.join(" ");
                self.shell(&line);
            }
        }
        Ok(())
    }

    fn save(&mut self, i: usize) {
        if let Some(Window {
            app: App::Editor { path, content },
            class,
            ..
        }) = self.desktop.windows.get(i)
            && class == "gedit"
        {
            let (path, content) = (path.clone(), content.clone());
            let _ = self.fs.write(&path, content.into_bytes());
        }
    }

    // ----- pyautogui ---------------------------------------------------------------

    fn click(&mut self, x: i64, y: i64) {
        self.desktop.mouse = (x, y);
        let hit = self
            .desktop
            .elements()
            .into_iter()
            .rev()
            .find(|e| e.contains(x, y))
            .map(|e| e.target);
        match hit {
            Some(Target::Widget(i)) => {
                self.desktop.raise(i);
                self.desktop.focused = true;
            }
            Some(Target::Save(i)) => {
                self.save(i);
                self.desktop.raise(i);
                self.desktop.focused = true;
            }
            Some(Target::Close(i)) => {
                self.desktop.windows.remove(i);
                self.desktop.focused = false;
            }
            Some(Target::Activities) | None => self.desktop.focused = false,
        }
    }

    fn focused_window(&mut self) -> Option<&mut Window> {
        if !self.desktop.focused {
            return None;
        }
        let i = self.desktop.active()?;
        self.desktop.windows.get_mut(i)
    }

    fn type_char(&mut self, c: char) {
        if c == '\n' {
            self.press("enter");
            return;
        }
        if let Some(w) = self.focused_window() {
            match &mut w.app {
                App::Terminal { input, .. } => input.push(c),
                App::Editor { content, .. } => content.push(c),
            }
        }
    }

    fn press(&mut self, key: &str) {
        let key = key.to_lowercase();
        let Some(i) = self
            .desktop
            .focused
            .then(|| self.desktop.active())
            .flatten()
        else {
            return;
        };
        let mut run: Option<String> = None;
        match (&mut self.desktop.windows[i].app, key.as_str()) {
            (App::Terminal { input, history }, "enter" | "return") => {
                let line = std::mem::take(input);
                history.push_str(PROMPT);
                history.push_str(&line);
                history.push('\n');
                run = Some(line);
            }
            (App::Terminal { input, .. }, "backspace") => {
                input.pop();
            }
            (App::Terminal { input, .. }, "space") => input.push(' '),
            (App::Editor { content, .. }, "enter" | "return") => content.push('\n'),
            (App::Editor { content, .. }, "backspace") => {
                content.pop();
            }
            (App::Editor { content, .. }, "tab") => content.push('\t'),
            (App::Editor { content, .. }, "space") => content.push(' '),
            _ => {}
        }
        if let Some(line) = run {
            let out = if line.trim().is_empty() {
                ExecOut::default()
            } else {
                self.shell(&line)
            };
            // The window list may have changed (a command opened one): find the terminal again.
            if let Some(App::Terminal { history, .. }) =
                self.desktop.windows.get_mut(i).map(|w| &mut w.app)
            {
                history.push_str(&out.stdout);
                history.push_str(&out.stderr);
            }
        }
    }

    fn hotkey(&mut self, keys: &[String]) {
        let k: Vec<String> = keys.iter().map(|k| k.to_lowercase()).collect();
        let k: Vec<&str> = k.iter().map(String::as_str).collect();
        match k.as_slice() {
            ["ctrl", "s"] => {
                if let Some(i) = self
                    .desktop
                    .focused
                    .then(|| self.desktop.active())
                    .flatten()
                {
                    self.save(i);
                }
            }
            ["ctrl", "alt", "t"] => {
                self.desktop.windows.push(Window::terminal());
                self.desktop.focused = true;
            }
            ["alt", "f4"] => {
                self.desktop.windows.pop();
                self.desktop.focused = false;
            }
            ["ctrl", "l"] => {
                if let Some(Window {
                    app: App::Terminal { history, .. },
                    ..
                }) = self.focused_window()
                {
                    history.clear();
                }
            }
            _ => {}
        }
    }

    /// Run Python code: pyautogui calls change the desktop; anything else fails the way
    /// Python would.
    pub fn python(&mut self, code: &str) -> ExecOut {
        let mut out = String::new();
        for stmt in split_statements(code) {
            let s = stmt.trim();
            if s.is_empty()
                || s.starts_with("import ")
                || s.starts_with("from ")
                || s.starts_with("pyautogui.FAILSAFE")
                || s.starts_with("pyautogui.PAUSE")
                || s.starts_with("time.sleep(")
            {
                continue;
            }
            let parsed = parse_call(s);
            let Some((func, args, kwargs)) = parsed else {
                return ExecOut {
                    stdout: out,
                    stderr: format!(
                        "  File \"<string>\", line 1\n    {s}\nSyntaxError: invalid syntax\n"
                    ),
                    code: 1,
                };
            };
            let num = |i: usize, key: &str| -> Option<i64> {
                args.get(i)
                    .or_else(|| kwargs.get(key))
                    .and_then(PyVal::as_num)
            };
            match func.as_str() {
                "print" => {
                    let parts: Vec<String> = args.iter().map(PyVal::display).collect();
                    out.push_str(&parts.join(" "));
                    out.push('\n');
                }
                "pyautogui.click"
                | "pyautogui.doubleClick"
                | "pyautogui.tripleClick"
                | "pyautogui.rightClick" => {
                    let (x, y) = match (num(0, "x"), num(1, "y")) {
                        (Some(x), Some(y)) => (x, y),
                        _ => self.desktop.mouse,
                    };
                    self.click(x, y);
                }
                "pyautogui.moveTo" | "pyautogui.dragTo" => {
                    if let (Some(x), Some(y)) = (num(0, "x"), num(1, "y")) {
                        self.desktop.mouse = (x, y);
                    }
                }
                "pyautogui.typewrite" | "pyautogui.write" => {
                    match args.first().or_else(|| kwargs.get("message")) {
                        Some(PyVal::Str(s)) => {
                            for c in s.chars() {
                                self.type_char(c);
                            }
                        }
                        Some(PyVal::List(keys)) => {
                            for k in keys {
                                if let Some(k) = k.as_str() {
                                    self.press(&k);
                                }
                            }
                        }
                        _ => {
                            return python_error(
                                out,
                                "TypeError: typewrite() missing 1 required positional argument: 'message'",
                            );
                        }
                    }
                }
                "pyautogui.press" => {
                    let times = kwargs.get("presses").and_then(PyVal::as_num).unwrap_or(1);
                    let keys: Vec<String> = match args.first() {
                        Some(PyVal::List(l)) => l.iter().filter_map(PyVal::as_str).collect(),
                        Some(v) => v.as_str().into_iter().collect(),
                        None => Vec::new(),
                    };
                    for _ in 0..times {
                        for k in &keys {
                            self.press(k);
                        }
                    }
                }
                "pyautogui.hotkey" => {
                    let keys: Vec<String> = args.iter().filter_map(PyVal::as_str).collect();
                    self.hotkey(&keys);
                }
                "pyautogui.scroll" | "pyautogui.vscroll" | "pyautogui.hscroll" => {
                    self.desktop.scroll += num(0, "clicks").unwrap_or(0);
                }
                "pyautogui.mouseDown"
                | "pyautogui.mouseUp"
                | "pyautogui.keyDown"
                | "pyautogui.keyUp" => {}
                other => {
                    let name = other.split('.').next_back().unwrap_or(other);
                    return python_error(
                        out,
                        &if other.starts_with("pyautogui.") {
                            format!("AttributeError: module 'pyautogui' has no attribute '{name}'")
                        } else {
                            format!(
                                "NameError: name '{}' is not defined",
                                other.split('.').next().unwrap_or(other)
                            )
                        },
                    );
                }
            }
        }
        ExecOut::ok(out)
    }

    // ----- shell -------------------------------------------------------------------

    /// Run a shell command line (`&&`, `||`, `;`, `|`, `>`, `>>`, `2>`, quotes, `~`,
    /// `$HOME`, `*` globs) in the home directory.
    pub fn shell(&mut self, line: &str) -> ExecOut {
        let toks = match tokenize(line) {
            Ok(t) => t,
            Err(e) => return ExecOut::err(format!("bash: -c: line 1: {e}\n"), 2),
        };
        let mut cwd = HOME.to_owned();
        let mut result = ExecOut::default();
        let mut status = 0;
        let mut skip = false;
        let mut segment: Vec<Tok> = Vec::new();
        let mut pending: Option<&'static str> = None;
        let mut toks = toks.into_iter().peekable();
        loop {
            let t = toks.next();
            let end = match &t {
                None => Some(";"),
                Some(Tok::Op(op)) if matches!(*op, "&&" | "||" | ";") => Some(*op),
                _ => None,
            };
            match end {
                None => segment.push(t.expect("a token")),
                Some(op) => {
                    let run = match pending {
                        Some("&&") => status == 0,
                        Some("||") => status != 0,
                        _ => true,
                    } && !skip;
                    if !segment.is_empty() && run {
                        let out = self.pipeline(&std::mem::take(&mut segment), &mut cwd);
                        status = out.code;
                        result.stdout.push_str(&out.stdout);
                        result.stderr.push_str(&out.stderr);
                    }
                    segment.clear();
                    skip = false;
                    pending = Some(op);
                    if t.is_none() {
                        break;
                    }
                }
            }
        }
        result.code = status;
        result
    }

    fn pipeline(&mut self, toks: &[Tok], cwd: &mut String) -> ExecOut {
        let cmds: Vec<&[Tok]> = toks.split(|t| *t == Tok::Op("|")).collect();
        let mut stdin = String::new();
        let mut stderr = String::new();
        let mut last = ExecOut::default();
        for (i, cmd) in cmds.iter().enumerate() {
            let mut argv: Vec<String> = Vec::new();
            let mut out_file: Option<(String, bool)> = None;
            let mut err_file: Option<String> = None;
            let mut err_to_out = false;
            let mut it = cmd.iter();
            while let Some(t) = it.next() {
                match t {
                    Tok::Word(w, quoted) => {
                        if !quoted && (w.contains('*') || w.contains('?')) {
                            argv.extend(self.glob(cwd, w));
                        } else {
                            argv.push(w.clone());
                        }
                    }
                    Tok::Op(op @ (">" | ">>")) => match it.next() {
                        Some(Tok::Word(f, _)) => out_file = Some((f.clone(), *op == ">>")),
                        _ => {
                            return ExecOut::err(
                                "bash: syntax error near unexpected token `newline'\n",
                                2,
                            );
                        }
                    },
                    Tok::Op("2>") => match it.next() {
                        Some(Tok::Word(f, _)) => err_file = Some(f.clone()),
                        _ => {
                            return ExecOut::err(
                                "bash: syntax error near unexpected token `newline'\n",
                                2,
                            );
                        }
                    },
                    Tok::Op("2>&1") => err_to_out = true,
                    Tok::Op(op) => {
                        return ExecOut::err(
                            format!("bash: syntax error near unexpected token `{op}'\n"),
                            2,
                        );
                    }
                }
            }
            let mut out = self.command(&argv, &stdin, cwd, true);
            if err_to_out {
                out.stdout.push_str(&std::mem::take(&mut out.stderr));
            }
            if let Some(f) = err_file {
                if f != "/dev/null" {
                    let p = Fs::resolve(cwd, &f);
                    let _ = self.fs.write(&p, out.stderr.clone().into_bytes());
                }
                out.stderr.clear();
            }
            if let Some((f, append)) = out_file {
                if f != "/dev/null" {
                    let p = Fs::resolve(cwd, &f);
                    let mut data = if append {
                        self.fs.read(&p).map(<[u8]>::to_vec).unwrap_or_default()
                    } else {
                        Vec::new()
                    };
                    data.extend_from_slice(out.stdout.as_bytes());
                    if let Err(e) = self.fs.write(&p, data) {
                        out.stderr.push_str(&format!("bash: {f}: {e}\n"));
                        out.code = 1;
                    }
                }
                out.stdout.clear();
            }
            stderr.push_str(&out.stderr);
            if i + 1 < cmds.len() {
                stdin = std::mem::take(&mut out.stdout);
            }
            last = out;
        }
        last.stderr = stderr;
        last
    }

    fn glob(&self, cwd: &str, pattern: &str) -> Vec<String> {
        let (dir_part, pat) = match pattern.rfind('/') {
            Some(i) => (&pattern[..=i], &pattern[i + 1..]),
            None => ("", pattern),
        };
        let dir = Fs::resolve(cwd, if dir_part.is_empty() { "." } else { dir_part });
        let mut m: Vec<String> = self
            .fs
            .list(&dir)
            .into_iter()
            .filter(|n| !n.starts_with('.') && wildcard(pat, n))
            .map(|n| format!("{dir_part}{n}"))
            .collect();
        if m.is_empty() {
            m.push(pattern.to_owned());
        }
        m.sort();
        m
    }

    /// Run one command (no shell syntax). `shell` selects bash's "command not found"
    /// over a spawn error.
    fn command(&mut self, argv: &[String], stdin: &str, cwd: &mut String, shell: bool) -> ExecOut {
        let Some(name) = argv.first() else {
            return ExecOut::default();
        };
        let args = &argv[1..];
        let prog = base(name);
        let r = |p: &str| Fs::resolve(cwd, p);
        let flags = |args: &[String]| -> (BTreeSet<char>, Vec<String>) {
            let mut f = BTreeSet::new();
            let mut rest = Vec::new();
            for a in args {
                if a.len() > 1 && a.starts_with('-') && !a.starts_with("--") && rest.is_empty() {
                    f.extend(a[1..].chars());
                } else {
                    rest.push(a.clone());
                }
            }
            (f, rest)
        };
        if !self.programs.contains(prog) && !matches!(prog, "cd" | "[") {
            return if shell {
                ExecOut::err(format!("bash: line 1: {name}: command not found\n"), 127)
            } else {
                ExecOut::err(format!("[Errno 2] No such file or directory: '{name}'"), -1)
            };
        }
        match prog {
            "true" | "sync" | "sleep" => ExecOut::default(),
            "false" => ExecOut::err("", 1),
            "pwd" => ExecOut::ok(format!("{cwd}\n")),
            "whoami" => ExecOut::ok("user\n"),
            // Stands in for the provider's snapshot revert OSWorld does before each task:
            // the standard file system and desktop come back.
            "revert-snapshot" => {
                self.fs = Fs::standard();
                self.desktop = Vm::standard().desktop;
                ExecOut::default()
            }
            "uname" => ExecOut::ok("Linux\n"),
            "cd" => {
                let target = r(args.first().map_or("~", String::as_str));
                if self.fs.is_dir(&target) {
                    *cwd = target;
                    ExecOut::default()
                } else {
                    ExecOut::err(
                        format!("bash: cd: {}: No such file or directory\n", args[0]),
                        1,
                    )
                }
            }
            "echo" => {
                let (f, rest) = flags(args);
                let mut s = rest.join(" ");
                if f.contains(&'e') {
                    s = unescape(&s);
                }
                if !f.contains(&'n') {
                    s.push('\n');
                }
                ExecOut::ok(s)
            }
            "printf" => {
                let Some(fmt) = args.first() else {
                    return ExecOut::err("printf: usage: printf format [arguments]\n", 2);
                };
                let mut vals = args[1..].iter();
                let fmt = unescape(fmt);
                let mut s = String::new();
                let mut chars = fmt.chars();
                while let Some(c) = chars.next() {
                    if c == '%' {
                        match chars.next() {
                            Some('%') => s.push('%'),
                            Some('s' | 'd') => s.push_str(vals.next().map_or("", String::as_str)),
                            Some(o) => {
                                s.push('%');
                                s.push(o);
                            }
                            None => s.push('%'),
                        }
                    } else {
                        s.push(c);
                    }
                }
                ExecOut::ok(s)
            }
            "cat" => {
                if args.is_empty() {
                    return ExecOut::ok(stdin);
                }
                let mut out = ExecOut::default();
                for a in args {
                    match self.fs.get(&r(a)) {
                        Some(Node::File { data, .. }) => {
                            out.stdout.push_str(&String::from_utf8_lossy(data))
                        }
                        Some(Node::Dir) => {
                            out.stderr.push_str(&format!("cat: {a}: Is a directory\n"));
                            out.code = 1;
                        }
                        None => {
                            out.stderr
                                .push_str(&format!("cat: {a}: No such file or directory\n"));
                            out.code = 1;
                        }
                    }
                }
                out
            }
            "ls" => {
                let (f, rest) = flags(args);
                let targets = if rest.is_empty() {
                    vec![".".to_owned()]
                } else {
                    rest
                };
                let mut out = ExecOut::default();
                let many = targets.len() > 1;
                for t in &targets {
                    let p = r(t);
                    match self.fs.get(&p) {
                        Some(Node::Dir) => {
                            if many {
                                out.stdout.push_str(&format!("{t}:\n"));
                            }
                            for n in self.fs.list(&p) {
                                if n.starts_with('.') && !f.contains(&'a') && !f.contains(&'A') {
                                    continue;
                                }
                                out.stdout.push_str(&n);
                                out.stdout.push('\n');
                            }
                        }
                        Some(Node::File { .. }) => out.stdout.push_str(&format!("{t}\n")),
                        None => {
                            out.stderr.push_str(&format!(
                                "ls: cannot access '{t}': No such file or directory\n"
                            ));
                            out.code = 2;
                        }
                    }
                }
                out
            }
            "mkdir" => {
                let (f, rest) = flags(args);
                let mut out = ExecOut::default();
                for a in &rest {
                    let p = r(a);
                    let res = if f.contains(&'p') {
                        self.fs.mkdir_p(&p)
                    } else if self.fs.get(&p).is_some() {
                        Err("File exists".into())
                    } else if !self.fs.is_dir(parent(&p)) {
                        Err("No such file or directory".into())
                    } else {
                        self.fs.mkdir_p(&p)
                    };
                    if let Err(e) = res {
                        out.stderr
                            .push_str(&format!("mkdir: cannot create directory ‘{a}’: {e}\n"));
                        out.code = 1;
                    }
                }
                out
            }
            "touch" => {
                let mut out = ExecOut::default();
                for a in args {
                    let p = r(a);
                    if self.fs.get(&p).is_none()
                        && let Err(e) = self.fs.write(&p, Vec::new())
                    {
                        out.stderr
                            .push_str(&format!("touch: cannot touch '{a}': {e}\n"));
                        out.code = 1;
                    }
                }
                out
            }
            "rm" => {
                let (f, rest) = flags(args);
                let mut out = ExecOut::default();
                for a in &rest {
                    let p = r(a);
                    match self.fs.get(&p) {
                        Some(Node::Dir) if !f.contains(&'r') && !f.contains(&'R') => {
                            out.stderr
                                .push_str(&format!("rm: cannot remove '{a}': Is a directory\n"));
                            out.code = 1;
                        }
                        Some(_) => self.fs.remove_tree(&p),
                        None if f.contains(&'f') => {}
                        None => {
                            out.stderr.push_str(&format!(
                                "rm: cannot remove '{a}': No such file or directory\n"
                            ));
                            out.code = 1;
                        }
                    }
                }
                out
            }
            "mv" | "cp" => {
                let (f, rest) = flags(args);
                if rest.len() < 2 {
                    return ExecOut::err(format!("{prog}: missing destination file operand\n"), 1);
                }
                let (srcs, dst) = rest.split_at(rest.len() - 1);
                let dst = r(&dst[0]);
                let mut out = ExecOut::default();
                for s in srcs {
                    let sp = r(s);
                    let target = if self.fs.is_dir(&dst) {
                        format!("{dst}/{}", base(&sp))
                    } else {
                        dst.clone()
                    };
                    match self.fs.get(&sp).cloned() {
                        None => {
                            out.stderr.push_str(&format!(
                                "{prog}: cannot stat '{s}': No such file or directory\n"
                            ));
                            out.code = 1;
                        }
                        Some(Node::Dir)
                            if prog == "cp" && !f.contains(&'r') && !f.contains(&'R') =>
                        {
                            out.stderr.push_str(&format!(
                                "cp: -r not specified; omitting directory '{s}'\n"
                            ));
                            out.code = 1;
                        }
                        Some(node) => {
                            if !self.fs.is_dir(parent(&target)) {
                                out.stderr.push_str(&format!(
                                    "{prog}: cannot create '{target}': No such file or directory\n"
                                ));
                                out.code = 1;
                            } else if prog == "mv" {
                                self.fs.rename(&sp, &target);
                            } else if let Node::File { data, exec } = node {
                                self.fs.nodes.insert(target, Node::File { data, exec });
                            } else {
                                let copy = self.fs.clone();
                                let mut tmp = copy;
                                tmp.rename(&sp, &target);
                                let prefix = format!("{target}/");
                                for (k, v) in tmp
                                    .nodes
                                    .into_iter()
                                    .filter(|(k, _)| *k == target || k.starts_with(&prefix))
                                {
                                    self.fs.nodes.insert(k, v);
                                }
                            }
                        }
                    }
                }
                out
            }
            "chmod" => {
                let (_, rest) = flags(args);
                let Some((mode, files)) = rest.split_first() else {
                    return ExecOut::err("chmod: missing operand\n", 1);
                };
                let exec = if mode.contains("+x") {
                    Some(true)
                } else if mode.contains("-x") {
                    Some(false)
                } else if let Some(d) = mode
                    .chars()
                    .next()
                    .filter(|_| mode.chars().all(|c| c.is_ascii_digit()))
                {
                    let owner = if mode.len() == 4 {
                        mode.chars().nth(1).unwrap_or(d)
                    } else {
                        d
                    };
                    Some(owner.to_digit(8).unwrap_or(0) & 1 == 1)
                } else {
                    None
                };
                let Some(exec) = exec else {
                    return ExecOut::err(format!("chmod: invalid mode: ‘{mode}’\n"), 1);
                };
                let mut out = ExecOut::default();
                for a in files {
                    if !self.fs.set_exec(&r(a), exec) {
                        out.stderr.push_str(&format!(
                            "chmod: cannot access '{a}': No such file or directory\n"
                        ));
                        out.code = 1;
                    }
                }
                out
            }
            "test" | "[" => {
                let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
                if prog == "[" {
                    if a.last() != Some(&"]") {
                        return ExecOut::err("bash: [: missing `]'\n", 2);
                    }
                    a.pop();
                }
                let mut negate = false;
                if a.first() == Some(&"!") {
                    negate = true;
                    a.remove(0);
                }
                let v = match a.as_slice() {
                    [] => false,
                    [s] => !s.is_empty(),
                    ["-e", p] => self.fs.get(&r(p)).is_some(),
                    ["-f", p] => matches!(self.fs.get(&r(p)), Some(Node::File { .. })),
                    ["-d", p] => self.fs.is_dir(&r(p)),
                    ["-x", p] => matches!(
                        self.fs.get(&r(p)),
                        Some(Node::File { exec: true, .. }) | Some(Node::Dir)
                    ),
                    ["-s", p] => self.fs.read(&r(p)).is_some_and(|d| !d.is_empty()),
                    ["-z", s] => s.is_empty(),
                    ["-n", s] => !s.is_empty(),
                    [x, "=" | "==", y] => x == y,
                    [x, "!=", y] => x != y,
                    _ => return ExecOut::err(format!("{prog}: unsupported expression\n"), 2),
                };
                if v != negate {
                    ExecOut::default()
                } else {
                    ExecOut::err("", 1)
                }
            }
            "which" => {
                let mut out = ExecOut::default();
                for a in args {
                    if self.programs.contains(a.as_str()) {
                        out.stdout.push_str(&format!("/usr/bin/{a}\n"));
                    } else {
                        out.code = 1;
                    }
                }
                out
            }
            "grep" => {
                let (f, rest) = flags(args);
                let Some((pat, files)) = rest.split_first() else {
                    return ExecOut::err("Usage: grep [OPTION]... PATTERNS [FILE]...\n", 2);
                };
                let input = if files.is_empty() {
                    stdin.to_owned()
                } else {
                    let mut s = String::new();
                    for file in files {
                        match self.fs.read_text(&r(file)) {
                            Some(t) => s.push_str(&t),
                            None => {
                                return ExecOut::err(
                                    format!("grep: {file}: No such file or directory\n"),
                                    2,
                                );
                            }
                        }
                    }
                    s
                };
                let ci = f.contains(&'i');
                let matches = |line: &str| {
                    let (l, p) = if ci {
                        (line.to_lowercase(), pat.to_lowercase())
                    } else {
                        (line.to_owned(), pat.clone())
                    };
                    let hit = if f.contains(&'x') {
                        l == p
                    } else if let Some(p) = p.strip_prefix('^') {
                        match p.strip_suffix('$') {
                            Some(p) => l == p,
                            None => l.starts_with(p),
                        }
                    } else if let Some(p) = p.strip_suffix('$') {
                        l.ends_with(p)
                    } else {
                        l.contains(&p)
                    };
                    hit != f.contains(&'v')
                };
                let hits: Vec<&str> = input.lines().filter(|l| matches(l)).collect();
                let code = if hits.is_empty() { 1 } else { 0 };
                let stdout = if f.contains(&'q') {
                    String::new()
                } else if f.contains(&'c') {
                    format!("{}\n", hits.len())
                } else {
                    hits.iter().map(|l| format!("{l}\n")).collect()
                };
                ExecOut {
                    stdout,
                    stderr: String::new(),
                    code,
                }
            }
            "wc" => {
                let (f, rest) = flags(args);
                let text = match rest.first() {
                    Some(file) => match self.fs.read_text(&r(file)) {
                        Some(t) => t,
                        None => {
                            return ExecOut::err(
                                format!("wc: {file}: No such file or directory\n"),
                                1,
                            );
                        }
                    },
                    None => stdin.to_owned(),
                };
                let n = if f.contains(&'w') {
                    text.split_whitespace().count()
                } else if f.contains(&'c') {
                    text.len()
                } else {
                    text.matches('\n').count()
                };
                ExecOut::ok(format!("{n}\n"))
            }
            "head" | "tail" | "sort" => {
                let mut n = 10usize;
                let mut files = Vec::new();
                let mut it = args.iter();
                while let Some(a) = it.next() {
                    if a == "-n" {
                        n = it.next().and_then(|v| v.parse().ok()).unwrap_or(10);
                    } else if let Some(v) = a.strip_prefix("-n") {
                        n = v.parse().unwrap_or(10);
                    } else {
                        files.push(a.clone());
                    }
                }
                let text = match files.first() {
                    Some(file) => match self.fs.read_text(&r(file)) {
                        Some(t) => t,
                        None => {
                            return ExecOut::err(
                                format!(
                                    "{prog}: cannot open '{file}' for reading: No such file or directory\n"
                                ),
                                1,
                            );
                        }
                    },
                    None => stdin.to_owned(),
                };
                let mut lines: Vec<&str> = text.lines().collect();
                let picked: Vec<&str> = match prog {
                    "head" => lines.into_iter().take(n).collect(),
                    "tail" => {
                        let skip = lines.len().saturating_sub(n);
                        lines.drain(skip..).collect()
                    }
                    _ => {
                        lines.sort();
                        lines
                    }
                };
                ExecOut::ok(picked.iter().map(|l| format!("{l}\n")).collect::<String>())
            }
            "sudo" => {
                let rest: Vec<String> = args
                    .iter()
                    .skip_while(|a| a.starts_with('-'))
                    .cloned()
                    .collect();
                self.command(&rest, stdin, cwd, shell)
            }
            "bash" | "sh" => match args {
                [c, line, ..] if c == "-c" => self.shell(line),
                _ => ExecOut::err("bash: only -c is simulated\n", 2),
            },
            "python" | "python3" => match args {
                [c, code, ..] if c == "-c" => self.python(code),
                _ => ExecOut::err("python: only -c is simulated\n", 2),
            },
            "wmctrl" => {
                let s: String = self
                    .desktop
                    .windows
                    .iter()
                    .enumerate()
                    .map(|(i, w)| format!("0x0{:07x}  0 ubuntu {}\n", i + 1, w.title))
                    .collect();
                ExecOut::ok(s)
            }
            "gedit" | "gnome-terminal" | "xdg-open" | "nautilus" => match self.spawn(argv) {
                Ok(()) => ExecOut::default(),
                Err(e) => ExecOut::err(e, 1),
            },
            other => ExecOut::err(format!("{other}: not simulated\n"), 1),
        }
    }

    /// `/execute` semantics: `command` (string or list), `shell`.
    fn execute(&mut self, body: &Value) -> Result<ExecOut, String> {
        let shell = body.get("shell").is_some_and(truthy);
        let command =
            body.get("command")
                .cloned()
                .unwrap_or(if shell { json!("") } else { json!([]) });
        if shell {
            let line = match &command {
                Value::String(s) => s.clone(),
                // Popen(list, shell=True) runs the first item as the script.
                Value::Array(a) => a.first().and_then(Value::as_str).unwrap_or("").to_owned(),
                _ => return Err("expected str, bytes or os.PathLike object".into()),
            };
            return Ok(self.shell(&line));
        }
        let mut argv: Vec<String> = match &command {
            Value::String(s) => shlex::split(s).ok_or("No closing quotation")?,
            Value::Array(a) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| "expected str, bytes or os.PathLike object".to_owned())
                })
                .collect::<Result<_, _>>()?,
            _ => return Err("expected str, bytes or os.PathLike object".into()),
        };
        for a in &mut argv {
            if let Some(rest) = a.strip_prefix("~/") {
                *a = format!("{HOME}/{rest}");
            }
        }
        if argv.is_empty() {
            return Err("list index out of range".into());
        }
        let mut cwd = HOME.to_owned();
        let out = self.command(&argv, "", &mut cwd, false);
        if out.code == -1 {
            return Err(out.stderr);
        }
        Ok(out)
    }

    // ----- rendering ---------------------------------------------------------------

    /// The accessibility tree XML, in the shape of OSWorld's `/accessibility`.
    pub fn accessibility_xml(&self) -> String {
        let mut x = String::from("<desktop-frame");
        for (p, uri) in NS {
            let _ = write!(x, " xmlns:{p}=\"{uri}\"");
        }
        x.push_str(" name=\"main\" st:enabled=\"true\" st:sensitive=\"true\" st:showing=\"true\" st:visible=\"true\">");
        let els = self.desktop.elements();
        let active = self.desktop.active();
        let geom = |e: &UiElement| {
            format!(
                " cp:screencoord=\"({}, {})\" cp:size=\"({}, {})\"",
                e.x, e.y, e.w, e.h
            )
        };
        let node = |e: &UiElement, focused: bool| {
            let mut s = format!("<{} name=\"{}\"", e.role, xml_escape(&e.name));
            s.push_str(" st:enabled=\"true\" st:sensitive=\"true\" st:focusable=\"true\"");
            if matches!(e.role, "terminal" | "text") {
                s.push_str(" st:editable=\"true\" st:multi-line=\"true\"");
            }
            if focused {
                s.push_str(" st:focused=\"true\"");
            }
            s.push_str(" st:showing=\"true\" st:visible=\"true\"");
            s.push_str(&geom(e));
            if e.role == "push-button" {
                s.push_str(" act:click_desc=\"Clicks the button\" act:click_kb=\"\"");
            }
            if e.text.is_empty() {
                s.push_str("/>");
            } else {
                s.push('>');
                s.push_str(&xml_escape(&e.text));
                let _ = write!(s, "</{}>", e.role);
            }
            s
        };
        x.push_str("<application name=\"gnome-shell\" attr:toolkit=\"Clutter\" st:enabled=\"true\" st:showing=\"true\" st:visible=\"true\">");
        x.push_str(&node(&els[0], false));
        if let Some(c) = self.clock {
            let _ = write!(
                x,
                "<label name=\"{:02}:{:02}:{:02}\" st:enabled=\"true\" st:showing=\"true\" st:visible=\"true\" cp:screencoord=\"(900, 0)\" cp:size=\"(120, 32)\"/>",
                c / 3600 % 24,
                c / 60 % 60,
                c % 60
            );
        }
        x.push_str("</application>");
        for (i, w) in self.desktop.windows.iter().enumerate() {
            let app = match w.app {
                App::Terminal { .. } => "gnome-terminal-server",
                App::Editor { .. } if w.class == "gedit" => "gedit",
                App::Editor { .. } => "nautilus",
            };
            let is_active = active == Some(i);
            let _ = write!(
                x,
                "<application name=\"{app}\" st:enabled=\"true\" st:showing=\"true\" st:visible=\"true\"><frame name=\"{}\"{} st:enabled=\"true\" st:resizable=\"true\" st:showing=\"true\" st:visible=\"true\" cp:screencoord=\"({}, {})\" cp:size=\"({}, {})\">",
                xml_escape(&w.title),
                if is_active { " st:active=\"true\"" } else { "" },
                w.x,
                w.y,
                w.w,
                w.h
            );
            for e in els.iter().filter(|e| matches!(e.target, Target::Widget(j) | Target::Save(j) | Target::Close(j) if j == i)) {
                let focused = is_active && self.desktop.focused && matches!(e.target, Target::Widget(_));
                x.push_str(&node(e, focused));
            }
            x.push_str("</frame></application>");
        }
        x.push_str("</desktop-frame>");
        x
    }

    /// `/terminal`: the active terminal's text when it is focused.
    pub fn terminal_output(&self) -> Option<String> {
        let i = self.desktop.active()?;
        if !self.desktop.focused {
            return None;
        }
        self.desktop.windows[i]
            .terminal_text()
            .map(|t| t.trim_end().to_owned())
    }

    /// A 1920×1080 PNG of the desktop (flat rectangles: top bar, windows, widgets).
    pub fn screenshot_png(&self) -> Vec<u8> {
        let (w, h) = (SCREEN_W as usize, SCREEN_H as usize);
        let mut px = vec![0u8; w * h * 3];
        let mut fill = |x: i64, y: i64, rw: i64, rh: i64, c: [u8; 3]| {
            for yy in y.max(0)..(y + rh).min(SCREEN_H) {
                let row = yy as usize * w;
                for xx in x.max(0)..(x + rw).min(SCREEN_W) {
                    let i = (row + xx as usize) * 3;
                    px[i..i + 3].copy_from_slice(&c);
                }
            }
        };
        fill(0, 0, SCREEN_W, SCREEN_H, [72, 30, 60]);
        fill(0, 0, SCREEN_W, 32, [20, 20, 20]);
        for e in self.desktop.elements() {
            let c = match e.role {
                "terminal" => [40, 40, 40],
                "text" => [250, 250, 250],
                _ => [200, 200, 200],
            };
            if let Target::Widget(i) = e.target {
                let win = &self.desktop.windows[i];
                fill(win.x, win.y, win.w, 40, [230, 230, 230]);
            }
            fill(e.x, e.y, e.w, e.h, c);
        }
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, w as u32, h as u32);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut wr = enc.write_header().expect("png header");
            wr.write_image_data(&px).expect("png data");
        }
        out
    }

    fn directory_tree(&self, path: &str) -> Value {
        let children: Vec<Value> = self
            .fs
            .list(path)
            .into_iter()
            .map(|n| {
                let p = if path == "/" {
                    format!("/{n}")
                } else {
                    format!("{path}/{n}")
                };
                if self.fs.is_dir(&p) {
                    self.directory_tree(&p)
                } else {
                    json!({"type": "file", "name": n})
                }
            })
            .collect();
        json!({"type": "directory", "name": base(path), "children": children})
    }
}

fn python_error(stdout: String, last_line: &str) -> ExecOut {
    ExecOut {
        stdout,
        stderr: format!(
            "Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\n{last_line}\n"
        ),
        code: 1,
    }
}

fn wildcard(pat: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pat.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('\\') => out.push('\\'),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

// ---------------------------------------------------------------------------------
// Shell tokens

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// A word and whether any of it was quoted (no globbing).
    Word(String, bool),
    Op(&'static str),
}

fn tokenize(line: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let flush = |toks: &mut Vec<Tok>, word: &mut String, in_word: &mut bool, quoted: &mut bool| {
        if *in_word {
            toks.push(Tok::Word(std::mem::take(word), *quoted));
        }
        *in_word = false;
        *quoted = false;
    };
    while i < chars.len() {
        let c = chars[i];
        let rest: String = chars[i..].iter().take(4).collect();
        match c {
            ' ' | '\t' | '\n' => {
                flush(&mut toks, &mut word, &mut in_word, &mut quoted);
                i += 1;
            }
            '#' if !in_word => break,
            '\'' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '\'')
                    .ok_or("unexpected EOF while looking for matching `''")?;
                word.extend(&chars[i + 1..i + 1 + end]);
                in_word = true;
                quoted = true;
                i += end + 2;
            }
            '"' => {
                i += 1;
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err("unexpected EOF while looking for matching `\"'".into());
                    };
                    i += 1;
                    match c {
                        '"' => break,
                        '\\' if matches!(chars.get(i), Some('"' | '\\' | '$' | '`')) => {
                            word.push(chars[i]);
                            i += 1;
                        }
                        '$' if chars[i..].iter().take(4).collect::<String>() == "HOME" => {
                            word.push_str(HOME);
                            i += 4;
                        }
                        c => word.push(c),
                    }
                }
                in_word = true;
                quoted = true;
            }
            '\\' => {
                if let Some(&n) = chars.get(i + 1) {
                    word.push(n);
                }
                in_word = true;
                quoted = true;
                i += 2;
            }
            '~' if !in_word && matches!(chars.get(i + 1), None | Some('/') | Some(' ')) => {
                word.push_str(HOME);
                in_word = true;
                i += 1;
            }
            '$' if rest.starts_with("$HOM")
                && chars[i..].iter().take(5).collect::<String>() == "$HOME" =>
            {
                word.push_str(HOME);
                in_word = true;
                i += 5;
            }
            '&' | '|' | ';' | '>' => {
                flush(&mut toks, &mut word, &mut in_word, &mut quoted);
                let (op, n): (&'static str, usize) = if rest.starts_with("&&") {
                    ("&&", 2)
                } else if rest.starts_with("||") {
                    ("||", 2)
                } else if rest.starts_with(">>") {
                    (">>", 2)
                } else if c == '>' {
                    (">", 1)
                } else if c == '|' {
                    ("|", 1)
                } else if c == ';' {
                    (";", 1)
                } else {
                    // A lone `&` (background): run in the foreground.
                    (";", 1)
                };
                toks.push(Tok::Op(op));
                i += n;
            }
            '2' if !in_word && rest.starts_with("2>&1") => {
                toks.push(Tok::Op("2>&1"));
                i += 4;
            }
            '2' if !in_word && rest.starts_with("2>") => {
                toks.push(Tok::Op("2>"));
                i += 2;
            }
            c => {
                word.push(c);
                in_word = true;
                i += 1;
            }
        }
    }
    flush(&mut toks, &mut word, &mut in_word, &mut quoted);
    Ok(toks)
}

// ---------------------------------------------------------------------------------
// Python literals

#[derive(Debug, Clone, PartialEq)]
enum PyVal {
    Num(f64),
    Str(String),
    List(Vec<PyVal>),
    Other(String),
}

impl PyVal {
    fn as_num(&self) -> Option<i64> {
        match self {
            PyVal::Num(n) => Some(n.round() as i64),
            _ => None,
        }
    }
    fn as_str(&self) -> Option<String> {
        match self {
            PyVal::Str(s) => Some(s.clone()),
            _ => None,
        }
    }
    fn display(&self) -> String {
        match self {
            PyVal::Num(n) if n.fract() == 0.0 => format!("{}", *n as i64),
            PyVal::Num(n) => n.to_string(),
            PyVal::Str(s) => s.clone(),
            PyVal::List(l) => format!(
                "[{}]",
                l.iter().map(PyVal::display).collect::<Vec<_>>().join(", ")
            ),
            PyVal::Other(s) => s.clone(),
        }
    }
}

/// Split code into statements at top-level `;` and newlines.
fn split_statements(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escape = false;
    for c in code.chars() {
        if let Some(q) = quote {
            cur.push(c);
            if escape {
                escape = false;
            } else if c == '\\' {
                escape = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                cur.push(c);
            }
            '(' | '[' | '{' => {
                depth += 1;
                cur.push(c);
            }
            ')' | ']' | '}' => {
                depth -= 1;
                cur.push(c);
            }
            ';' | '\n' if depth == 0 => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

type Call = (String, Vec<PyVal>, BTreeMap<String, PyVal>);

/// Parse `name(args)` with literal arguments.
fn parse_call(s: &str) -> Option<Call> {
    let open = s.find('(')?;
    let name = s[..open].trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        || !s.ends_with(')')
    {
        return None;
    }
    let inner: Vec<char> = s[open + 1..s.len() - 1].chars().collect();
    let mut p = PyParser { s: &inner, i: 0 };
    let mut args = Vec::new();
    let mut kwargs = BTreeMap::new();
    loop {
        p.ws();
        if p.i >= p.s.len() {
            break;
        }
        // keyword?
        let save = p.i;
        let ident: String = p.s[p.i..]
            .iter()
            .take_while(|c| c.is_alphanumeric() || **c == '_')
            .collect();
        let after = p.i + ident.chars().count();
        let mut q = PyParser { s: p.s, i: after };
        q.ws();
        if !ident.is_empty() && q.s.get(q.i) == Some(&'=') && q.s.get(q.i + 1) != Some(&'=') {
            q.i += 1;
            let v = q.value()?;
            kwargs.insert(ident, v);
            p.i = q.i;
        } else {
            p.i = save;
            args.push(p.value()?);
        }
        p.ws();
        match p.s.get(p.i) {
            Some(',') => p.i += 1,
            None => break,
            _ => return None,
        }
    }
    Some((name.to_owned(), args, kwargs))
}

struct PyParser<'a> {
    s: &'a [char],
    i: usize,
}

impl PyParser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_whitespace()) {
            self.i += 1;
        }
    }

    fn value(&mut self) -> Option<PyVal> {
        self.ws();
        let c = *self.s.get(self.i)?;
        match c {
            '\'' | '"' => {
                let q = c;
                self.i += 1;
                let mut out = String::new();
                loop {
                    let c = *self.s.get(self.i)?;
                    self.i += 1;
                    match c {
                        '\\' => {
                            let e = *self.s.get(self.i)?;
                            self.i += 1;
                            match e {
                                'n' => out.push('\n'),
                                't' => out.push('\t'),
                                'r' => out.push('\r'),
                                'x' => {
                                    let h: String =
                                        self.s.get(self.i..self.i + 2)?.iter().collect();
                                    self.i += 2;
                                    out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
                                }
                                o => out.push(o),
                            }
                        }
                        c if c == q => break,
                        c => out.push(c),
                    }
                }
                Some(PyVal::Str(out))
            }
            '[' | '(' => {
                let close = if c == '[' { ']' } else { ')' };
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.s.get(self.i) == Some(&close) {
                        self.i += 1;
                        break;
                    }
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(',') => self.i += 1,
                        Some(c) if *c == close => {
                            self.i += 1;
                            break;
                        }
                        _ => return None,
                    }
                }
                Some(PyVal::List(items))
            }
            _ => {
                let tok: String = self.s[self.i..]
                    .iter()
                    .take_while(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
                    .collect();
                if tok.is_empty() {
                    return None;
                }
                self.i += tok.chars().count();
                Some(match tok.parse::<f64>() {
                    Ok(n) => PyVal::Num(n),
                    Err(_) => PyVal::Other(tok),
                })
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// HTTP bodies

/// Parse form fields of a urlencoded or multipart body.
pub fn parse_form(content_type: Option<&str>, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let ct = content_type.unwrap_or("");
    if let Some(b) = ct.split("boundary=").nth(1) {
        let boundary = format!("--{}", b.trim_matches('"').split(';').next().unwrap_or(""));
        let mut out = Vec::new();
        let parts = split_bytes(body, boundary.as_bytes());
        for part in parts.into_iter().skip(1) {
            if part.starts_with(b"--") {
                break;
            }
            let part = part.strip_prefix(b"\r\n").unwrap_or(part);
            let Some(split) = find(part, b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&part[..split]).into_owned();
            let mut data = &part[split + 4..];
            if data.ends_with(b"\r\n") {
                data = &data[..data.len() - 2];
            }
            let name = head
                .split("name=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or("")
                .to_owned();
            out.push((name, data.to_vec()));
        }
        out
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        String::from_utf8_lossy(body)
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (url_decode(k), url_decode(v).into_bytes())
            })
            .collect()
    } else {
        Vec::new()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn split_bytes<'a>(mut hay: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(i) = find(hay, sep) {
        out.push(&hay[..i]);
        hay = &hay[i + sep.len()..];
    }
    out.push(hay);
    out
}

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(v)) => {
                out.push(v);
                i += 2;
            }
            (c, _) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------
// The server

struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    extra: Option<(&'static str, String)>,
}

fn reply_json(status: u16, v: Value) -> Reply {
    Reply {
        status,
        content_type: "application/json",
        body: format!("{v}\n").into_bytes(),
        extra: None,
    }
}

fn reply_text(status: u16, s: impl Into<String>) -> Reply {
    Reply {
        status,
        content_type: "text/html; charset=utf-8",
        body: s.into().into_bytes(),
        extra: None,
    }
}

fn flask_error(status: u16) -> Reply {
    let (title, text) = match status {
        400 => (
            "Bad Request",
            "The browser (or proxy) sent a request that this server could not understand.",
        ),
        404 => (
            "Not Found",
            "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.",
        ),
        405 => (
            "Method Not Allowed",
            "The method is not allowed for the requested URL.",
        ),
        415 => (
            "Unsupported Media Type",
            "Did not attempt to load JSON data because the request Content-Type was not &#39;application/json&#39;.",
        ),
        _ => (
            "Internal Server Error",
            "The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.",
        ),
    };
    reply_text(
        status,
        format!(
            "<!doctype html>\n<html lang=en>\n<title>{status} {title}</title>\n<h1>{title}</h1>\n<p>{text}</p>\n"
        ),
    )
}

const ROUTES: &[(&str, &str)] = &[
    ("POST", "/execute"),
    ("POST", "/setup/execute"),
    ("POST", "/execute_with_verification"),
    ("POST", "/setup/execute_with_verification"),
    ("POST", "/setup/launch"),
    ("GET", "/screenshot"),
    ("GET", "/terminal"),
    ("GET", "/accessibility"),
    ("POST", "/screen_size"),
    ("POST", "/window_size"),
    ("POST", "/desktop_path"),
    ("POST", "/list_directory"),
    ("POST", "/file"),
    ("POST", "/setup/upload"),
    ("GET", "/platform"),
    ("GET", "/cursor_position"),
    ("POST", "/setup/change_wallpaper"),
    ("POST", "/setup/download_file"),
    ("POST", "/setup/open_file"),
    ("POST", "/setup/activate_window"),
    ("POST", "/setup/close_window"),
    ("POST", "/run_python"),
];

impl Vm {
    /// Answer one request the way OSWorld's Flask server does.
    fn handle(&mut self, method: &str, path: &str, ct: Option<&str>, body: &[u8]) -> Reply {
        if !ROUTES.iter().any(|(_, p)| *p == path) {
            return flask_error(404);
        }
        if !ROUTES.iter().any(|(m, p)| *p == path && *m == method) {
            return flask_error(405);
        }
        // `request.json`: 415 unless the body is declared JSON, 400 if it does not parse.
        let json_body = || -> Result<Value, Reply> {
            if !ct.is_some_and(|c| c.starts_with("application/json")) {
                return Err(flask_error(415));
            }
            serde_json::from_slice(body).map_err(|_| flask_error(400))
        };
        let form = || parse_form(ct, body);
        let field = |name: &str| -> Option<String> {
            form()
                .into_iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| String::from_utf8_lossy(&v).into_owned())
        };
        let expand = |p: &str| Fs::resolve(HOME, &p.replace("$HOME", HOME));
        match path {
            "/execute" | "/setup/execute" => {
                let b = match json_body() {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                match self.execute(&b) {
                    Ok(o) => reply_json(
                        200,
                        json!({"status": "success", "output": o.stdout, "error": o.stderr, "returncode": o.code}),
                    ),
                    Err(e) => reply_json(500, json!({"status": "error", "message": e})),
                }
            }
            "/execute_with_verification" | "/setup/execute_with_verification" => {
                let b = match json_body() {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                let o = match self.execute(&b) {
                    Ok(o) => o,
                    Err(e) => return reply_json(500, json!({"status": "error", "message": e})),
                };
                let v = b.get("verification").cloned().unwrap_or(json!({}));
                if v.as_object().is_none_or(|m| m.is_empty()) {
                    return reply_json(
                        200,
                        json!({"status": "success", "output": o.stdout, "error": o.stderr, "returncode": o.code}),
                    );
                }
                let mut passed = true;
                if let Some(name) = v.get("window_exists").and_then(Value::as_str) {
                    passed &= self
                        .desktop
                        .windows
                        .iter()
                        .any(|w| w.title.to_lowercase().contains(&name.to_lowercase()));
                }
                if let Some(cmd) = v.get("command_success").and_then(Value::as_str) {
                    passed &= self.shell(cmd).code == 0;
                }
                let wait = b
                    .get("max_wait_time")
                    .and_then(Value::as_f64)
                    .unwrap_or(10.0);
                if passed {
                    reply_json(
                        200,
                        json!({"status": "success", "output": o.stdout, "error": o.stderr, "returncode": o.code, "verification": "passed", "wait_time": 0.0}),
                    )
                } else {
                    reply_json(
                        500,
                        json!({"status": "verification_failed", "output": o.stdout, "error": o.stderr, "returncode": o.code, "verification": "failed", "wait_time": wait}),
                    )
                }
            }
            "/setup/launch" => {
                let b = match json_body() {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                let shell = b.get("shell").is_some_and(truthy);
                let cmd = b.get("command").cloned().unwrap_or(json!([]));
                let argv: Vec<String> = match &cmd {
                    Value::String(s) if shell => vec![s.clone()],
                    Value::String(s) => shlex::split(s).unwrap_or_default(),
                    Value::Array(a) => a
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                    _ => Vec::new(),
                };
                let argv: Vec<String> = argv
                    .into_iter()
                    .map(|a| {
                        a.strip_prefix("~/")
                            .map_or(a.clone(), |r| format!("{HOME}/{r}"))
                    })
                    .collect();
                if shell {
                    let line = argv.join(" ");
                    self.shell(&line);
                    return reply_text(200, format!("{cmd} launched successfully"));
                }
                match self.spawn(&argv) {
                    Ok(()) => reply_text(200, format!("{} launched successfully", argv.join(" "))),
                    Err(e) => reply_json(500, json!({"status": "error", "message": e})),
                }
            }
            "/screenshot" => Reply {
                status: 200,
                content_type: "image/png",
                body: self.screenshot_png(),
                extra: None,
            },
            "/terminal" => reply_json(
                200,
                json!({"output": self.terminal_output(), "status": "success"}),
            ),
            "/accessibility" => {
                if let Some(c) = self.clock.as_mut() {
                    *c += 1;
                }
                let xml = self.accessibility_xml();
                let xml = if self.windows {
                    xml.replace(
                        "accessibility.ubuntu.example.org",
                        "accessibility.windows.example.org",
                    )
                    .replace(" st:showing=\"true\"", "")
                } else {
                    xml
                };
                reply_json(200, json!({"AT": xml}))
            }
            "/screen_size" => reply_json(200, json!({"width": SCREEN_W, "height": SCREEN_H})),
            "/window_size" => match field("app_class_name") {
                None => reply_json(400, json!({"error": "app_class_name is required"})),
                Some(c) => match self
                    .desktop
                    .windows
                    .iter()
                    .find(|w| w.class.to_lowercase() == c.to_lowercase())
                {
                    Some(w) => reply_json(200, json!({"width": w.w, "height": w.h})),
                    // The view returns None: Flask answers 500.
                    None => flask_error(500),
                },
            },
            "/desktop_path" => reply_json(200, json!({"desktop_path": format!("{HOME}/Desktop")})),
            "/list_directory" => {
                let b = match json_body() {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                let Some(p) = b.get("path").and_then(Value::as_str) else {
                    return reply_json(400, json!({"error": "Missing 'path' parameter"}));
                };
                // os.path.isdir does not expand `~`.
                if !p.starts_with('/') || !self.fs.is_dir(&Fs::resolve("/", p)) {
                    return reply_json(
                        400,
                        json!({"error": "The provided path is not a directory"}),
                    );
                }
                reply_json(
                    200,
                    json!({"directory_tree": self.directory_tree(&Fs::resolve("/", p))}),
                )
            }
            "/file" => match field("file_path") {
                None => reply_json(400, json!({"error": "file_path is required"})),
                Some(p) => match self.fs.read(&expand(&p)) {
                    Some(d) => Reply {
                        status: 200,
                        content_type: "application/octet-stream",
                        body: d.to_vec(),
                        extra: Some((
                            "Content-Disposition",
                            format!("attachment; filename={}", base(&p)),
                        )),
                    },
                    None => reply_json(404, json!({"error": "File not found"})),
                },
            },
            "/setup/upload" => {
                let f = form();
                let path = f
                    .iter()
                    .find(|(k, _)| k == "file_path")
                    .map(|(_, v)| String::from_utf8_lossy(v).into_owned());
                let data = f
                    .iter()
                    .find(|(k, _)| k == "file_data")
                    .map(|(_, v)| v.clone());
                match (path, data) {
                    (Some(p), Some(d)) => {
                        let p = expand(&p);
                        let n = d.len();
                        let res = self
                            .fs
                            .mkdir_p(parent(&p))
                            .and_then(|()| self.fs.write(&p, d));
                        match res {
                            Ok(()) => reply_text(200, format!("File Uploaded: {n} bytes")),
                            Err(e) => reply_json(
                                500,
                                json!({"error": format!("Failed to upload file: {e}")}),
                            ),
                        }
                    }
                    _ => reply_json(
                        400,
                        json!({"error": "file_path and file_data are required"}),
                    ),
                }
            }
            "/platform" => reply_text(200, if self.windows { "Windows" } else { "Linux" }),
            "/cursor_position" => {
                reply_json(200, json!([self.desktop.mouse.0, self.desktop.mouse.1]))
            }
            "/setup/change_wallpaper" => {
                let b = match json_body() {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                match b
                    .get("path")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                {
                    None => reply_text(400, "Path not supplied!"),
                    Some(p) if self.fs.get(&expand(p)).is_none() => {
                        reply_text(404, format!("File not found: {}", expand(p)))
                    }
                    Some(p) => {
                        self.desktop.wallpaper = Some(expand(p));
                        reply_text(200, "Wallpaper changed successfully")
                    }
                }
            }
            "/setup/download_file" => {
                let b = match json_body() {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                match (
                    b.get("url").and_then(Value::as_str),
                    b.get("path").and_then(Value::as_str),
                ) {
                    (Some(u), Some(_)) if !u.is_empty() => reply_text(
                        500,
                        format!(
                            "Failed to download {u}. No retries left. Error: the simulated VM has no network"
                        ),
                    ),
                    _ => reply_text(400, "Path or URL not supplied!"),
                }
            }
            "/setup/open_file" => {
                let b = match json_body() {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                let Some(p) = b
                    .get("path")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                else {
                    return reply_text(400, "Path not supplied!");
                };
                let full = expand(p);
                if self.fs.get(&full).is_some() {
                    self.open_path(&full);
                    reply_text(200, "File opened and window activated successfully")
                } else if self.programs.contains(p) {
                    match self.spawn(&[p.to_owned()]) {
                        Ok(()) => reply_text(200, "File opened and window activated successfully"),
                        Err(e) => reply_text(500, format!("Failed to open {p}. Error: {e}")),
                    }
                } else {
                    reply_text(404, format!("Application/file not found: {p}"))
                }
            }
            "/setup/activate_window" | "/setup/close_window" => {
                let b = match json_body() {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                let Some(name) = b
                    .get("window_name")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                else {
                    return reply_text(400, "window_name required");
                };
                let strict = b.get("strict").and_then(Value::as_bool).unwrap_or(false);
                let by_class = b.get("by_class").and_then(Value::as_bool).unwrap_or(false);
                let found = self.desktop.find_window(name, strict, by_class);
                if path == "/setup/activate_window" {
                    if let Some(i) = found {
                        self.desktop.raise(i);
                        self.desktop.focused = true;
                    }
                    reply_text(200, "Window activated successfully")
                } else {
                    if let Some(i) = found {
                        self.desktop.windows.remove(i);
                        self.desktop.focused = false;
                    }
                    reply_text(200, "Window closed successfully.")
                }
            }
            "/run_python" => {
                let b = match json_body() {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                let Some(code) = b
                    .get("code")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                else {
                    return reply_json(
                        400,
                        json!({"status": "error", "message": "Code not supplied!"}),
                    );
                };
                let o = self.python(code);
                let mut message = o.stdout.clone();
                if !o.stderr.is_empty() {
                    if !message.is_empty() {
                        message.push('\n');
                    }
                    message.push_str(&o.stderr);
                }
                reply_json(
                    200,
                    json!({"status": if o.code == 0 { "success" } else { "error" }, "message": message,
                    "need_more": false, "output": o.stdout, "error": o.stderr, "return_code": o.code}),
                )
            }
            _ => flask_error(404),
        }
    }
}

/// A JSON value as Python's `bool()` reads it (the server does `shell=data.get("shell")`).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// The running server.
pub struct OsworldServer {
    server: Arc<tiny_http::Server>,
    vm: Arc<Mutex<Vm>>,
    thread: Option<JoinHandle<()>>,
    port: u16,
}

impl OsworldServer {
    /// Start on a free port of 127.0.0.1 with a standard VM.
    pub fn start() -> OsworldServer {
        OsworldServer::start_with(Vm::standard())
    }

    /// Start with a given VM state.
    pub fn start_with(vm: Vm) -> OsworldServer {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let vm = Arc::new(Mutex::new(vm));
        let (s, v) = (server.clone(), vm.clone());
        let thread = std::thread::spawn(move || {
            for mut req in s.incoming_requests() {
                let method = req.method().to_string().to_uppercase();
                let path = req.url().split('?').next().unwrap_or("/").to_owned();
                let ct = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Content-Type"))
                    .map(|h| h.value.as_str().to_owned());
                let mut body = Vec::new();
                let _ = req.as_reader().read_to_end(&mut body);
                if path == "/setup/open_file" {
                    let delay = v.lock().unwrap_or_else(|e| e.into_inner()).open_delay;
                    std::thread::sleep(delay);
                }
                let reply = {
                    let mut vm = v.lock().unwrap_or_else(|e| e.into_inner());
                    let reply = vm.handle(&method, &path, ct.as_deref(), &body);
                    vm.requests.push(Recorded {
                        method,
                        path,
                        content_type: ct,
                        body,
                        status: reply.status,
                    });
                    reply
                };
                let mut resp = tiny_http::Response::from_data(reply.body)
                    .with_status_code(reply.status)
                    .with_header(
                        tiny_http::Header::from_bytes(
                            &b"Content-Type"[..],
                            reply.content_type.as_bytes(),
                        )
                        .expect("a valid header"),
                    );
                if let Some((k, v)) = reply.extra {
                    resp = resp.with_header(
                        tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes())
                            .expect("a valid header"),
                    );
                }
                let _ = req.respond(resp);
            }
        });
        OsworldServer {
            server,
            vm,
            thread: Some(thread),
            port,
        }
    }

    /// `127.0.0.1:<port>` (what the network grant names).
    pub fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.authority())
    }

    /// Read or change the VM.
    pub fn vm<R>(&self, f: impl FnOnce(&mut Vm) -> R) -> R {
        f(&mut self.vm.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.vm(|vm| vm.requests.clone())
    }

    /// Forget the recorded requests.
    pub fn clear_requests(&self) {
        self.vm(|vm| vm.requests.clear());
    }
}

/// A revert controller for an [`OsworldServer`], speaking the protocol the adapter's
/// `revert_url` expects (README, "Reverting the VM"): `POST` with `{"task_id",
/// "snapshot"}` puts the VM back into the state it had when the controller was made and
/// answers 200 `{"reverted": true}`; anything else is 404/405. It stands in for a
/// controller that recreates OSWorld's Docker container or reverts a VMware or
/// VirtualBox snapshot.
pub struct RevertController {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    port: u16,
    reverts: Arc<Mutex<Vec<Value>>>,
}

impl OsworldServer {
    /// A revert controller restoring the VM as it is now.
    pub fn revert_controller(&self) -> RevertController {
        let pristine = self.vm(|vm| vm.clone());
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let reverts = Arc::new(Mutex::new(Vec::new()));
        let (s, vm, log) = (server.clone(), self.vm.clone(), reverts.clone());
        let thread = std::thread::spawn(move || {
            for mut req in s.incoming_requests() {
                let mut body = Vec::new();
                let _ = req.as_reader().read_to_end(&mut body);
                let (status, answer) = match (req.method(), req.url()) {
                    (tiny_http::Method::Post, "/revert") => {
                        match serde_json::from_slice::<Value>(&body) {
                            Ok(v) if v.get("task_id").is_some() => {
                                let mut vm = vm.lock().unwrap_or_else(|e| e.into_inner());
                                let requests = std::mem::take(&mut vm.requests);
                                *vm = pristine.clone();
                                vm.requests = requests;
                                log.lock().unwrap_or_else(|e| e.into_inner()).push(v);
                                (200, json!({"reverted": true}))
                            }
                            _ => (
                                400,
                                json!({"error": "a JSON body with task_id is required"}),
                            ),
                        }
                    }
                    (_, "/revert") => (405, json!({"error": "POST only"})),
                    _ => (404, json!({"error": "not found"})),
                };
                let resp = tiny_http::Response::from_data(answer.to_string().into_bytes())
                    .with_status_code(status);
                let _ = req.respond(resp);
            }
        });
        RevertController {
            server,
            thread: Some(thread),
            port,
            reverts,
        }
    }
}

impl RevertController {
    /// `127.0.0.1:<port>` (what the network grant names).
    pub fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The URL the adapter's `revert_url` names.
    pub fn url(&self) -> String {
        format!("http://{}/revert", self.authority())
    }

    /// The bodies of the reverts asked for so far.
    pub fn reverts(&self) -> Vec<Value> {
        self.reverts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for RevertController {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for OsworldServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_runs_fixture_commands() {
        let mut vm = Vm::standard();
        let o = vm.shell("mkdir -p ~/Desktop/a && printf '#!/bin/sh\\necho hi\\n' > ~/Desktop/a/s.sh && chmod 644 ~/Desktop/a/s.sh");
        assert_eq!(o.code, 0, "{o:?}");
        assert_eq!(
            vm.fs.read_text("/home/user/Desktop/a/s.sh").unwrap(),
            "#!/bin/sh\necho hi\n"
        );
        let o =
            vm.shell("test -x /home/user/Desktop/a/s.sh && echo executable || echo not-executable");
        assert_eq!(o.stdout, "not-executable\n");
        vm.shell("chmod +x ~/Desktop/a/s.sh");
        let o =
            vm.shell("test -x /home/user/Desktop/a/s.sh && echo executable || echo not-executable");
        assert_eq!(o.stdout, "executable\n");
        assert_eq!(vm.shell("whoami > ~/w.txt; cat ~/w.txt").stdout, "user\n");
        assert_eq!(vm.shell("echo \"a b\" 'c  d' | grep -c b").stdout, "1\n");
        assert_eq!(vm.shell("which spotify").code, 1);
        assert_eq!(vm.shell("nosuch").code, 127);
        assert_eq!(
            vm.shell("ls ~/Desktop/a/*.sh").stdout,
            "/home/user/Desktop/a/s.sh\n"
        );
        assert_eq!(vm.shell("rm ~/nope").code, 1);
        assert_eq!(vm.shell("rm -f ~/nope").code, 0);
        assert_eq!(
            vm.shell("echo x >> ~/w.txt && cat ~/w.txt").stdout,
            "user\nx\n"
        );
    }

    #[test]
    fn pyautogui_code_drives_the_terminal() {
        let mut vm = Vm::standard();
        let o = vm.python("import pyautogui; import time; pyautogui.FAILSAFE = False; pyautogui.click(400, 300); pyautogui.typewrite('echo hi > ~/x.txt'); pyautogui.press('enter')");
        assert_eq!(o.code, 0, "{o:?}");
        assert_eq!(vm.fs.read_text("/home/user/x.txt").unwrap(), "hi\n");
        assert!(vm.terminal_output().unwrap().contains("echo hi > ~/x.txt"));
        let o = vm.python("pyautogui.clack(1, 2)");
        assert_eq!(o.code, 1);
        assert!(o.stderr.contains("AttributeError"));
        let o = vm.python("pyautogui.typewrite('it\\'s \"ok\"')");
        assert_eq!(o.code, 0);
        assert!(vm.terminal_output().unwrap().ends_with("it's \"ok\""));
    }

    #[test]
    fn the_tree_is_osworld_shaped() {
        let vm = Vm::standard();
        let xml = vm.accessibility_xml();
        assert!(xml.starts_with(
            "<desktop-frame xmlns:st=\"https://accessibility.ubuntu.example.org/ns/state\""
        ));
        assert!(xml.contains("<terminal name=\"Terminal\""));
        assert!(xml.contains("cp:screencoord=\"(70, 120)\" cp:size=\"(900, 600)\""));
        let png = vm.screenshot_png();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(png.len() < 200_000, "{}", png.len());
    }

    #[test]
    fn forms_parse() {
        let body = b"--xyz\r\nContent-Disposition: form-data; name=\"file_path\"\r\n\r\n/tmp/a\r\n--xyz\r\nContent-Disposition: form-data; name=\"file_data\"; filename=\"a\"\r\nContent-Type: application/octet-stream\r\n\r\nhello\r\n--xyz--\r\n";
        let f = parse_form(Some("multipart/form-data; boundary=xyz"), body);
        assert_eq!(
            f,
            vec![
                ("file_path".into(), b"/tmp/a".to_vec()),
                ("file_data".into(), b"hello".to_vec())
            ]
        );
        let f = parse_form(
            Some("application/x-www-form-urlencoded"),
            b"file_path=%2Fhome%2Fuser%2Fa%20b.txt&x=1+2",
        );
        assert_eq!(f[0].1, b"/home/user/a b.txt");
        assert_eq!(f[1].1, b"1 2");
    }
}

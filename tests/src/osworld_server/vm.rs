//! The simulated VM: its state and the shell commands it runs.

use super::*;

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
    pub(crate) fn ok(stdout: impl Into<String>) -> Self {
        ExecOut {
            stdout: stdout.into(),
            ..Default::default()
        }
    }
    pub(crate) fn err(stderr: impl Into<String>, code: i32) -> Self {
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

pub(crate) const PROGRAMS: &[&str] = &[
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

    pub(crate) fn open_path(&mut self, path: &str) -> bool {
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
    pub(crate) fn spawn(&mut self, argv: &[String]) -> Result<(), String> {
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

    pub(crate) fn save(&mut self, i: usize) {
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

    pub(crate) fn click(&mut self, x: i64, y: i64) {
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

    pub(crate) fn focused_window(&mut self) -> Option<&mut Window> {
        if !self.desktop.focused {
            return None;
        }
        let i = self.desktop.active()?;
        self.desktop.windows.get_mut(i)
    }

    pub(crate) fn type_char(&mut self, c: char) {
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

    pub(crate) fn press(&mut self, key: &str) {
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

    pub(crate) fn hotkey(&mut self, keys: &[String]) {
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

    pub(crate) fn pipeline(&mut self, toks: &[Tok], cwd: &mut String) -> ExecOut {
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

    pub(crate) fn glob(&self, cwd: &str, pattern: &str) -> Vec<String> {
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
    pub(crate) fn command(
        &mut self,
        argv: &[String],
        stdin: &str,
        cwd: &mut String,
        shell: bool,
    ) -> ExecOut {
        let Some(name) = argv.first() else {
            return ExecOut::default();
        };
        let args = &argv[1..];
        let prog = base(name);
        if !self.programs.contains(prog) && !matches!(prog, "cd" | "[") {
            return if shell {
                ExecOut::err(format!("bash: line 1: {name}: command not found\n"), 127)
            } else {
                ExecOut::err(format!("[Errno 2] No such file or directory: '{name}'"), -1)
            };
        }
        let run = programs::Run {
            prog,
            args,
            stdin,
            cwd,
            shell,
        };
        match prog {
            "true" | "sync" | "sleep" => ExecOut::default(),
            "false" => ExecOut::err("", 1),
            "pwd" => ExecOut::ok(format!("{}\n", run.cwd)),
            "whoami" => ExecOut::ok("user\n"),
            "revert-snapshot" => programs::revert_snapshot(self),
            "uname" => ExecOut::ok("Linux\n"),
            "cd" => programs::cd(self, run),
            "echo" => programs::echo(run),
            "printf" => programs::printf(run),
            "cat" => programs::cat(self, run),
            "ls" => programs::ls(self, run),
            "mkdir" => programs::mkdir(self, run),
            "touch" => programs::touch(self, run),
            "rm" => programs::rm(self, run),
            "mv" | "cp" => programs::mv_cp(self, run),
            "chmod" => programs::chmod(self, run),
            "test" | "[" => programs::test(self, run),
            "which" => programs::which(self, run),
            "grep" => programs::grep(self, run),
            "wc" => programs::wc(self, run),
            "head" | "tail" | "sort" => programs::head_tail_sort(self, run),
            "sudo" => programs::sudo(self, run),
            "bash" | "sh" => match args {
                [c, line, ..] if c == "-c" => self.shell(line),
                _ => ExecOut::err("bash: only -c is simulated\n", 2),
            },
            "python" | "python3" => match args {
                [c, code, ..] if c == "-c" => self.python(code),
                _ => ExecOut::err("python: only -c is simulated\n", 2),
            },
            "wmctrl" => programs::wmctrl(self),
            "gedit" | "gnome-terminal" | "xdg-open" | "nautilus" => match self.spawn(argv) {
                Ok(()) => ExecOut::default(),
                Err(e) => ExecOut::err(e, 1),
            },
            other => ExecOut::err(format!("{other}: not simulated\n"), 1),
        }
    }

    /// `/execute` semantics: `command` (string or list), `shell`.
    pub(crate) fn execute(&mut self, body: &Value) -> Result<ExecOut, String> {
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

    pub(crate) fn directory_tree(&self, path: &str) -> Value {
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

pub(crate) fn python_error(stdout: String, last_line: &str) -> ExecOut {
    ExecOut {
        stdout,
        stderr: format!(
            "Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\n{last_line}\n"
        ),
        code: 1,
    }
}

pub(crate) fn wildcard(pat: &str, name: &str) -> bool {
    pub(crate) fn go(p: &[char], n: &[char]) -> bool {
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

pub(crate) fn unescape(s: &str) -> String {
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

pub(crate) fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

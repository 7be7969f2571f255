//! The programs the simulated shell runs, one function each; `Vm::command` finds the
//! program and calls its function.

use super::*;

/// What a program is run with.
pub(crate) struct Run<'a> {
    /// The program's name, without its directory (`/bin/ls` is `ls`).
    pub prog: &'a str,
    /// The arguments after the program.
    pub args: &'a [String],
    /// Its standard input.
    pub stdin: &'a str,
    /// The working directory (`cd` changes it).
    pub cwd: &'a mut String,
    /// Run from a shell line (bash's messages) rather than as an argv list.
    pub shell: bool,
}

impl Run<'_> {
    /// `p` as an absolute path, read from the working directory.
    pub(crate) fn path(&self, p: &str) -> String {
        Fs::resolve(self.cwd, p)
    }
}

/// Leading single-dash flags (`-la` is `l`, `a`) and the other arguments.
pub(crate) fn flags(args: &[String]) -> (BTreeSet<char>, Vec<String>) {
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
}

/// `revert-snapshot`: stands in for the provider's snapshot revert OSWorld does before
/// each task; the standard file system and desktop come back.
pub(crate) fn revert_snapshot(vm: &mut Vm) -> ExecOut {
    vm.fs = Fs::standard();
    vm.desktop = Vm::standard().desktop;
    ExecOut::default()
}

/// `cd`.
pub(crate) fn cd(vm: &mut Vm, run: Run<'_>) -> ExecOut {
    let Run { args, .. } = run;
    let target = run.path(args.first().map_or("~", String::as_str));
    if vm.fs.is_dir(&target) {
        *run.cwd = target;
        ExecOut::default()
    } else {
        ExecOut::err(
            format!("bash: cd: {}: No such file or directory\n", args[0]),
            1,
        )
    }
}

/// `echo`.
pub(crate) fn echo(run: Run<'_>) -> ExecOut {
    let Run { args, .. } = run;
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

/// `printf`.
pub(crate) fn printf(run: Run<'_>) -> ExecOut {
    let Run { args, .. } = run;
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

/// `cat`.
pub(crate) fn cat(vm: &mut Vm, run: Run<'_>) -> ExecOut {
    let Run { args, stdin, .. } = run;
    if args.is_empty() {
        return ExecOut::ok(stdin);
    }
    let mut out = ExecOut::default();
    for a in args {
        match vm.fs.get(&run.path(a)) {
            Some(Node::File { data, .. }) => out.stdout.push_str(&String::from_utf8_lossy(data)),
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

/// `ls`.
pub(crate) fn ls(vm: &mut Vm, run: Run<'_>) -> ExecOut {
    let Run { args, .. } = run;
    let (f, rest) = flags(args);
    let targets = if rest.is_empty() {
        vec![".".to_owned()]
    } else {
        rest
    };
    let mut out = ExecOut::default();
    let many = targets.len() > 1;
    for t in &targets {
        let p = run.path(t);
        match vm.fs.get(&p) {
            Some(Node::Dir) => {
                if many {
                    out.stdout.push_str(&format!("{t}:\n"));
                }
                for n in vm.fs.list(&p) {
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

/// `mkdir`.
pub(crate) fn mkdir(vm: &mut Vm, run: Run<'_>) -> ExecOut {
    let Run { args, .. } = run;
    let (f, rest) = flags(args);
    let mut out = ExecOut::default();
    for a in &rest {
        let p = run.path(a);
        let res = if f.contains(&'p') {
            vm.fs.mkdir_p(&p)
        } else if vm.fs.get(&p).is_some() {
            Err("File exists".into())
        } else if !vm.fs.is_dir(parent(&p)) {
            Err("No such file or directory".into())
        } else {
            vm.fs.mkdir_p(&p)
        };
        if let Err(e) = res {
            out.stderr
                .push_str(&format!("mkdir: cannot create directory ‘{a}’: {e}\n"));
            out.code = 1;
        }
    }
    out
}

/// `touch`.
pub(crate) fn touch(vm: &mut Vm, run: Run<'_>) -> ExecOut {
    let Run { args, .. } = run;
    let mut out = ExecOut::default();
    for a in args {
        let p = run.path(a);
        if vm.fs.get(&p).is_none()
            && let Err(e) = vm.fs.write(&p, Vec::new())
        {
            out.stderr
                .push_str(&format!("touch: cannot touch '{a}': {e}\n"));
            out.code = 1;
        }
    }
    out
}

/// `rm`.
pub(crate) fn rm(vm: &mut Vm, run: Run<'_>) -> ExecOut {
    let Run { args, .. } = run;
    let (f, rest) = flags(args);
    let mut out = ExecOut::default();
    for a in &rest {
        let p = run.path(a);
        match vm.fs.get(&p) {
            Some(Node::Dir) if !f.contains(&'r') && !f.contains(&'R') => {
                out.stderr
                    .push_str(&format!("rm: cannot remove '{a}': Is a directory\n"));
                out.code = 1;
            }
            Some(_) => vm.fs.remove_tree(&p),
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

/// `mv | cp`.
pub(crate) fn mv_cp(vm: &mut Vm, run: Run<'_>) -> ExecOut {
    let Run { prog, args, .. } = run;
    let (f, rest) = flags(args);
    if rest.len() < 2 {
        return ExecOut::err(format!("{prog}: missing destination file operand\n"), 1);
    }
    let (srcs, dst) = rest.split_at(rest.len() - 1);
    let dst = run.path(&dst[0]);
    let mut out = ExecOut::default();
    for s in srcs {
        let sp = run.path(s);
        let target = if vm.fs.is_dir(&dst) {
            format!("{dst}/{}", base(&sp))
        } else {
            dst.clone()
        };
        match vm.fs.get(&sp).cloned() {
            None => {
                out.stderr.push_str(&format!(
                    "{prog}: cannot stat '{s}': No such file or directory\n"
                ));
                out.code = 1;
            }
            Some(Node::Dir) if prog == "cp" && !f.contains(&'r') && !f.contains(&'R') => {
                out.stderr
                    .push_str(&format!("cp: -r not specified; omitting directory '{s}'\n"));
                out.code = 1;
            }
            Some(node) => {
                if !vm.fs.is_dir(parent(&target)) {
                    out.stderr.push_str(&format!(
                        "{prog}: cannot create '{target}': No such file or directory\n"
                    ));
                    out.code = 1;
                } else if prog == "mv" {
                    vm.fs.rename(&sp, &target);
                } else if let Node::File { data, exec } = node {
                    vm.fs.nodes.insert(target, Node::File { data, exec });
                } else {
                    let copy = vm.fs.clone();
                    let mut tmp = copy;
                    tmp.rename(&sp, &target);
                    let prefix = format!("{target}/");
                    for (k, v) in tmp
                        .nodes
                        .into_iter()
                        .filter(|(k, _)| *k == target || k.starts_with(&prefix))
                    {
                        vm.fs.nodes.insert(k, v);
                    }
                }
            }
        }
    }
    out
}

/// `chmod`.
pub(crate) fn chmod(vm: &mut Vm, run: Run<'_>) -> ExecOut {
    let Run { args, .. } = run;
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
        if !vm.fs.set_exec(&run.path(a), exec) {
            out.stderr.push_str(&format!(
                "chmod: cannot access '{a}': No such file or directory\n"
            ));
            out.code = 1;
        }
    }
    out
}

/// `test | [`.
pub(crate) fn test(vm: &mut Vm, run: Run<'_>) -> ExecOut {
    let Run { prog, args, .. } = run;
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
        ["-e", p] => vm.fs.get(&run.path(p)).is_some(),
        ["-f", p] => matches!(vm.fs.get(&run.path(p)), Some(Node::File { .. })),
        ["-d", p] => vm.fs.is_dir(&run.path(p)),
        ["-x", p] => matches!(
            vm.fs.get(&run.path(p)),
            Some(Node::File { exec: true, .. }) | Some(Node::Dir)
        ),
        ["-s", p] => vm.fs.read(&run.path(p)).is_some_and(|d| !d.is_empty()),
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

/// `which`.
pub(crate) fn which(vm: &mut Vm, run: Run<'_>) -> ExecOut {
    let Run { args, .. } = run;
    let mut out = ExecOut::default();
    for a in args {
        if vm.programs.contains(a.as_str()) {
            out.stdout.push_str(&format!("/usr/bin/{a}\n"));
        } else {
            out.code = 1;
        }
    }
    out
}

/// `grep`.
pub(crate) fn grep(vm: &mut Vm, run: Run<'_>) -> ExecOut {
    let Run { args, stdin, .. } = run;
    let (f, rest) = flags(args);
    let Some((pat, files)) = rest.split_first() else {
        return ExecOut::err("Usage: grep [OPTION]... PATTERNS [FILE]...\n", 2);
    };
    let input = if files.is_empty() {
        stdin.to_owned()
    } else {
        let mut s = String::new();
        for file in files {
            match vm.fs.read_text(&run.path(file)) {
                Some(t) => s.push_str(&t),
                None => {
                    return ExecOut::err(format!("grep: {file}: No such file or directory\n"), 2);
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

/// `wc`.
pub(crate) fn wc(vm: &mut Vm, run: Run<'_>) -> ExecOut {
    let Run { args, stdin, .. } = run;
    let (f, rest) = flags(args);
    let text = match rest.first() {
        Some(file) => match vm.fs.read_text(&run.path(file)) {
            Some(t) => t,
            None => {
                return ExecOut::err(format!("wc: {file}: No such file or directory\n"), 1);
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

/// `head | tail | sort`.
pub(crate) fn head_tail_sort(vm: &mut Vm, run: Run<'_>) -> ExecOut {
    let Run {
        prog, args, stdin, ..
    } = run;
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
        Some(file) => match vm.fs.read_text(&run.path(file)) {
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

/// `sudo`.
pub(crate) fn sudo(vm: &mut Vm, run: Run<'_>) -> ExecOut {
    let Run {
        args,
        stdin,
        cwd,
        shell,
        ..
    } = run;
    let rest: Vec<String> = args
        .iter()
        .skip_while(|a| a.starts_with('-'))
        .cloned()
        .collect();
    vm.command(&rest, stdin, cwd, shell)
}

/// `wmctrl` (any flags): the open windows, one line each.
pub(crate) fn wmctrl(vm: &Vm) -> ExecOut {
    let s: String = vm
        .desktop
        .windows
        .iter()
        .enumerate()
        .map(|(i, w)| format!("0x0{:07x}  0 ubuntu {}\n", i + 1, w.title))
        .collect();
    ExecOut::ok(s)
}

//! The routes: each endpoint's answer, in Flask's shapes.

use super::*;

pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
    pub(crate) extra: Option<(&'static str, String)>,
}

pub(crate) fn reply_json(status: u16, v: Value) -> Reply {
    Reply {
        status,
        content_type: "application/json",
        body: format!("{v}\n").into_bytes(),
        extra: None,
    }
}

pub(crate) fn reply_text(status: u16, s: impl Into<String>) -> Reply {
    Reply {
        status,
        content_type: "text/html; charset=utf-8",
        body: s.into().into_bytes(),
        extra: None,
    }
}

pub(crate) fn flask_error(status: u16) -> Reply {
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

pub(crate) const ROUTES: &[(&str, &str)] = &[
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
    pub(crate) fn handle(
        &mut self,
        method: &str,
        path: &str,
        ct: Option<&str>,
        body: &[u8],
    ) -> Reply {
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
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

//! The OSWorld VM server's protocol as typed calls (`/execute`, `/file`,
//! `/accessibility`, `/setup/...`), over a [`Transport`]: the SDK's wasi:http
//! [`http::Client`] in the plugin, in-memory servers in tests.

use std::time::Duration;

use serde_json::{Value, json};
use steprl_plugin::http;

use crate::setup::Command;

/// HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
}

/// One multipart part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Field name.
    pub name: String,
    /// File name (file parts).
    pub filename: Option<String>,
    /// Content.
    pub data: Vec<u8>,
}

/// A request body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// No body.
    Empty,
    /// `application/json`.
    Json(Value),
    /// `application/x-www-form-urlencoded`.
    Form(Vec<(String, String)>),
    /// `multipart/form-data`.
    Multipart(Vec<Part>),
}

/// A request to the VM server.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Path on the VM's server, e.g. `/execute`, or an absolute `http(s)://` URL
    /// (the revert controller).
    pub path: String,
    /// Body.
    pub body: Body,
    /// This request's own timeout, when it needs longer than the configured one
    /// (`/setup/open_file` waits up to 1,800 s for the window on the server).
    pub timeout: Option<Duration>,
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// A short description of a failed answer: status and the error message or text.
    pub fn describe(&self) -> String {
        let detail = match self.json() {
            Some(Value::Object(m)) => m
                .get("error")
                .or_else(|| m.get("message"))
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .unwrap_or_else(|| self.text()),
            _ => self.text(),
        };
        let detail: String = detail.chars().take(500).collect();
        format!("HTTP {}: {}", self.status, detail.trim())
    }
}

impl Request {
    /// This request as the SDK's HTTP request to `client`'s server (a path goes to its
    /// base, an absolute URL where it says; the body encoded by kind).
    pub fn to_http(&self, client: &http::Client) -> http::Request {
        let method = match self.method {
            Method::Get => http::Method::Get,
            Method::Post => http::Method::Post,
        };
        let r = client.request(method, &self.path);
        let r = match self.timeout {
            Some(t) => r.timeout(t),
            None => r,
        };
        match &self.body {
            Body::Empty => r,
            Body::Json(v) => r.json(&v.to_string()),
            Body::Form(fields) => {
                let f: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                r.form(&f)
            }
            Body::Multipart(parts) => r.multipart(
                &parts
                    .iter()
                    .map(|p| http::Part {
                        name: p.name.clone(),
                        filename: p.filename.clone(),
                        data: p.data.clone(),
                    })
                    .collect::<Vec<_>>(),
            ),
        }
    }
}

impl From<http::Response> for Response {
    fn from(r: http::Response) -> Self {
        Response {
            status: r.status,
            body: r.body,
        }
    }
}

/// How requests reach the VM, and how time passes.
pub trait Transport {
    /// Send one request; `Err` for transport failures (no answer).
    fn send(&self, req: &Request) -> Result<Response, String>;
    /// Wait (setup `sleep`, step pauses, retry intervals).
    fn sleep(&self, d: Duration);
    /// Log a line (warnings about steps OSWorld tolerates failing).
    fn log(&self, _message: &str) {}
    /// Today's date, for `rule_relativeTime` (UTC from the system clock by default).
    fn today(&self) -> crate::getters::CivilDate {
        crate::getters::CivilDate::today_utc()
    }
}

/// The plugin's transport: the SDK's blocking wasi:http client for one VM server.
/// Transport failures (refused destination, timeout) come back described for the user.
impl Transport for http::Client {
    fn send(&self, req: &Request) -> Result<Response, String> {
        self.fetch(&req.to_http(self))
            .map(Response::from)
            .map_err(|e| e.to_string())
    }

    fn sleep(&self, d: Duration) {
        if !d.is_zero() {
            std::thread::sleep(d);
        }
    }

    fn log(&self, message: &str) {
        steprl_plugin::log::warn(message);
    }
}

/// What `/execute` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecResult {
    /// `status` (`success`).
    pub status: String,
    /// Stdout.
    pub output: String,
    /// Stderr.
    pub error: String,
    /// Exit status.
    pub returncode: i64,
}

impl ExecResult {
    fn from_json(v: &Value) -> ExecResult {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        ExecResult {
            status: s("status"),
            output: s("output"),
            error: s("error"),
            returncode: v.get("returncode").and_then(Value::as_i64).unwrap_or(-1),
        }
    }
}

/// Retry policy for one call.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts (at least 1).
    pub attempts: u32,
    /// Pause between attempts.
    pub interval: Duration,
}

/// Typed calls to the VM server.
pub struct VmClient<'a, T: Transport + ?Sized> {
    transport: &'a T,
    retry: Retry,
}

/// A request without a timeout of its own.
pub(crate) fn req(method: Method, path: &str, body: Body) -> Request {
    Request {
        method,
        path: path.to_owned(),
        body,
        timeout: None,
    }
}

fn json_cmd(command: &Command, shell: bool) -> Value {
    json!({"command": command.to_json(), "shell": shell})
}

impl<'a, T: Transport + ?Sized> VmClient<'a, T> {
    /// A client with a retry policy.
    pub fn new(transport: &'a T, retry: Retry) -> Self {
        VmClient { transport, retry }
    }

    /// Send, retrying transport failures and 5xx answers (not 4xx: those are final).
    pub fn call(&self, r: &Request) -> Result<Response, String> {
        let resp = self.send_retrying(r)?;
        if resp.status >= 500 {
            return Err(format!(
                "{} {}: {}",
                method_name(r.method),
                r.path,
                resp.describe()
            ));
        }
        Ok(resp)
    }

    /// Send, retrying transport failures and 5xx answers; the first answer below 500,
    /// else the last attempt's: its 5xx answer, or its transport failure as the error.
    fn send_retrying(&self, r: &Request) -> Result<Response, String> {
        let mut last = Err(String::new());
        for attempt in 0..self.retry.attempts.max(1) {
            if attempt > 0 {
                self.transport.sleep(self.retry.interval);
            }
            match self.transport.send(r) {
                Ok(resp) if resp.status < 500 => return Ok(resp),
                answer => last = answer,
            }
        }
        last.map_err(|e| format!("{} {}: {e}", method_name(r.method), r.path))
    }

    /// Send once, no retries.
    pub fn call_once(&self, r: &Request) -> Result<Response, String> {
        self.transport
            .send(r)
            .map_err(|e| format!("{} {}: {e}", method_name(r.method), r.path))
    }

    fn exec_like(
        &self,
        path: &str,
        command: &Command,
        shell: bool,
        once: bool,
    ) -> Result<ExecResult, String> {
        let r = req(Method::Post, path, Body::Json(json_cmd(command, shell)));
        let resp = if once {
            self.call_once(&r)?
        } else {
            self.call(&r)?
        };
        if resp.status != 200 {
            return Err(format!(
                "POST {path} `{}`: {}",
                command.display(),
                resp.describe()
            ));
        }
        let v = resp
            .json()
            .ok_or_else(|| format!("POST {path}: the answer is not JSON: {}", resp.text()))?;
        Ok(ExecResult::from_json(&v))
    }

    /// `POST /execute`.
    pub fn execute(&self, command: &Command, shell: bool) -> Result<ExecResult, String> {
        self.exec_like("/execute", command, shell, false)
    }

    /// `POST /setup/execute`, one attempt (the setup runner repeats it).
    pub fn setup_execute(&self, command: &Command, shell: bool) -> Result<ExecResult, String> {
        self.exec_like("/setup/execute", command, shell, true)
    }

    /// Run pyautogui code (`python -c` with OSWorld's import prefix) via `/execute`.
    pub fn run_python(&self, code: &str) -> Result<ExecResult, String> {
        self.execute(&Command::Args(crate::actions::python_command(code)), false)
    }

    /// `POST /setup/execute_with_verification`.
    pub fn execute_with_verification(
        &self,
        command: &Command,
        shell: bool,
        verification: &Value,
        max_wait_time: f64,
        check_interval: f64,
    ) -> Result<Value, String> {
        let body = json!({
            "command": command.to_json(),
            "shell": shell,
            "verification": verification,
            "max_wait_time": max_wait_time,
            "check_interval": check_interval,
        });
        let resp = self.call_once(&req(
            Method::Post,
            "/setup/execute_with_verification",
            Body::Json(body),
        ))?;
        if resp.status != 200 {
            return Err(format!(
                "`{}` was not verified: {}",
                command.display(),
                resp.describe()
            ));
        }
        resp.json().ok_or_else(|| {
            format!(
                "execute_with_verification: the answer is not JSON: {}",
                resp.text()
            )
        })
    }

    /// A setup endpoint with a JSON body; the answer as is.
    pub fn setup_json(&self, path: &str, body: Value) -> Result<Response, String> {
        self.call_once(&req(Method::Post, path, Body::Json(body)))
    }

    /// Like [`VmClient::setup_json`], with a timeout of its own.
    pub fn setup_json_waiting(
        &self,
        path: &str,
        body: Value,
        timeout: Duration,
    ) -> Result<Response, String> {
        let mut r = req(Method::Post, path, Body::Json(body));
        r.timeout = Some(timeout);
        self.call_once(&r)
    }

    /// `POST /setup/upload` (multipart `file_path`, `file_data`).
    pub fn upload(&self, vm_path: &str, data: Vec<u8>) -> Result<(), String> {
        let parts = vec![
            Part {
                name: "file_path".into(),
                filename: None,
                data: vm_path.as_bytes().to_vec(),
            },
            Part {
                name: "file_data".into(),
                filename: Some(crate::setup::basename(vm_path).to_owned()),
                data,
            },
        ];
        let resp = self.call(&req(Method::Post, "/setup/upload", Body::Multipart(parts)))?;
        if resp.status != 200 {
            return Err(format!("uploading {vm_path}: {}", resp.describe()));
        }
        Ok(())
    }

    /// `POST /file`: the file's bytes, `None` when the server says it is missing.
    pub fn file(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        let resp = self.call(&req(
            Method::Post,
            "/file",
            Body::Form(vec![("file_path".into(), path.into())]),
        ))?;
        Ok((resp.status == 200).then_some(resp.body))
    }

    /// `GET /accessibility`: the tree XML.
    pub fn accessibility(&self) -> Result<String, String> {
        let resp = self.call(&req(Method::Get, "/accessibility", Body::Empty))?;
        if resp.status != 200 {
            return Err(format!("GET /accessibility: {}", resp.describe()));
        }
        resp.json()
            .and_then(|v| v.get("AT").and_then(Value::as_str).map(str::to_owned))
            .ok_or_else(|| "GET /accessibility: no `AT` in the answer".into())
    }

    /// `GET /screenshot`: PNG bytes.
    pub fn screenshot(&self) -> Result<Vec<u8>, String> {
        let resp = self.call(&req(Method::Get, "/screenshot", Body::Empty))?;
        if resp.status != 200 {
            return Err(format!("GET /screenshot: {}", resp.describe()));
        }
        Ok(resp.body)
    }

    /// `GET /terminal`: the active terminal's text (`None` when there is none).
    pub fn terminal(&self) -> Result<Option<String>, String> {
        let resp = self.call(&req(Method::Get, "/terminal", Body::Empty))?;
        if resp.status != 200 {
            return Err(format!("GET /terminal: {}", resp.describe()));
        }
        Ok(resp
            .json()
            .and_then(|v| v.get("output").and_then(Value::as_str).map(str::to_owned)))
    }

    /// A JSON answer of `path`, `None` on any non-200 answer — a 5xx one too, once the
    /// retries are spent (as OSWorld's getters: `vm_window_size` for a window that
    /// does not exist gets an HTML 500 and gives `None`, which its metric scores 0).
    /// Only a server that cannot be reached at all is an error.
    pub fn json_or_none(
        &self,
        method: Method,
        path: &str,
        body: Body,
    ) -> Result<Option<Value>, String> {
        let resp = self.send_retrying(&req(method, path, body))?;
        Ok(if resp.status == 200 {
            resp.json()
        } else {
            None
        })
    }

    /// Like [`Client::json_or_none`], asked once: OSWorld's `vm_command_line` and
    /// `vm_command_error` getters post once and give `None` on a non-200 answer.
    pub fn json_once_or_none(
        &self,
        method: Method,
        path: &str,
        body: Body,
    ) -> Result<Option<Value>, String> {
        let resp = self.call_once(&req(method, path, body))?;
        Ok(if resp.status == 200 {
            resp.json()
        } else {
            None
        })
    }
}

/// Whether a VM's server answers: `GET /platform` under `timeout`, up to `tries` times
/// in a row (no pause between them). `Ok` with the platform at the first 200; the last
/// failure otherwise.
pub fn health<T: Transport + ?Sized>(
    transport: &T,
    timeout: Duration,
    tries: u32,
) -> Result<String, String> {
    let mut r = req(Method::Get, "/platform", Body::Empty);
    r.timeout = Some(timeout);
    let mut last = String::new();
    for _ in 0..tries.max(1) {
        match transport.send(&r) {
            Ok(resp) if resp.status == 200 => {
                let platform: String = resp.text().trim().chars().take(60).collect();
                return Ok(platform);
            }
            Ok(resp) => last = format!("GET /platform: {}", resp.describe()),
            Err(e) => last = format!("GET /platform: {e}"),
        }
    }
    Err(last)
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Get => "GET",
        Method::Post => "POST",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    struct Scripted {
        answers: RefCell<Vec<Result<Response, String>>>,
        sent: RefCell<Vec<Request>>,
        slept: RefCell<u32>,
    }

    impl Transport for Scripted {
        fn send(&self, req: &Request) -> Result<Response, String> {
            self.sent.borrow_mut().push(req.clone());
            self.answers.borrow_mut().remove(0)
        }
        fn sleep(&self, _d: Duration) {
            *self.slept.borrow_mut() += 1;
        }
    }

    impl Scripted {
        fn new(answers: Vec<Result<Response, String>>) -> Self {
            Scripted {
                answers: RefCell::new(answers),
                sent: RefCell::default(),
                slept: RefCell::default(),
            }
        }

        /// A client over this script, retrying `attempts` times without waiting.
        fn client(&self, attempts: u32) -> VmClient<'_, Self> {
            VmClient::new(
                self,
                Retry {
                    attempts,
                    interval: Duration::ZERO,
                },
            )
        }
    }

    fn ok(status: u16, body: &str) -> Result<Response, String> {
        Ok(Response {
            status,
            body: body.as_bytes().to_vec(),
        })
    }

    #[test]
    fn retries_5xx_and_transport_errors_but_not_4xx() {
        let t = Scripted::new(vec![
            Err("reset".into()),
            ok(500, r#"{"status": "error", "message": "boom"}"#),
            ok(
                200,
                r#"{"status": "success", "output": "hi\n", "error": "", "returncode": 0}"#,
            ),
        ]);
        let c = t.client(3);
        let r = c.execute(&Command::Line("echo hi".into()), true).unwrap();
        assert_eq!((r.output.as_str(), r.returncode), ("hi\n", 0));
        assert_eq!(*t.slept.borrow(), 2);
        assert_eq!(
            t.sent.borrow()[0].body,
            Body::Json(json!({"command": "echo hi", "shell": true}))
        );

        let t = Scripted::new(vec![ok(404, r#"{"error": "File not found"}"#)]);
        let c = t.client(3);
        assert_eq!(c.file("/nope").unwrap(), None);
        assert_eq!(t.sent.borrow().len(), 1);
    }

    #[test]
    fn health_asks_for_the_platform_and_gives_up_after_its_tries() {
        let t = Scripted::new(vec![Err("timed out".into()), ok(200, "Linux\n")]);
        assert_eq!(
            health(&t, Duration::from_millis(300), 2),
            Ok("Linux".into())
        );
        let sent = t.sent.borrow();
        assert_eq!(
            (sent[0].path.as_str(), sent[0].timeout),
            ("/platform", Some(Duration::from_millis(300)))
        );
        drop(sent);
        let t = Scripted::new(vec![Err("refused".into()), ok(500, "boom")]);
        assert_eq!(
            health(&t, Duration::from_millis(300), 2),
            Err("GET /platform: HTTP 500: boom".into())
        );
        let t = Scripted::new(vec![Err("connection refused".into())]);
        assert_eq!(
            health(&t, Duration::from_millis(300), 1),
            Err("GET /platform: connection refused".into())
        );
    }

    #[test]
    fn failures_are_described_with_the_server_message() {
        let t = Scripted::new(vec![
            ok(500, r#"{"status": "error", "message": "boom"}"#);
            2
        ]);
        let c = t.client(2);
        let e = c.accessibility().unwrap_err();
        assert_eq!(e, "GET /accessibility: HTTP 500: boom");
    }

    #[test]
    fn requests_become_sdk_http_requests_to_their_server() {
        let c = http::Client::new("http://10.0.0.5:5000", Duration::from_secs(5));
        let r = Request {
            method: Method::Post,
            path: "/execute".into(),
            body: Body::Json(json!({"command": "echo hi", "shell": true})),
            timeout: None,
        }
        .to_http(&c);
        assert_eq!(
            (r.method, r.url.as_str(), r.timeout),
            (
                http::Method::Post,
                "http://10.0.0.5:5000/execute",
                Some(Duration::from_secs(5))
            )
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body).unwrap(),
            json!({"command": "echo hi", "shell": true})
        );
        assert_eq!(r.headers[0].1, "application/json");

        let r = Request {
            method: Method::Post,
            path: "http://10.0.0.1:6000/revert".into(),
            body: Body::Form(vec![("file_path".into(), "/home/user/a b".into())]),
            timeout: Some(Duration::from_secs(1800)),
        }
        .to_http(&c);
        assert_eq!(r.url, "http://10.0.0.1:6000/revert");
        assert_eq!(r.timeout, Some(Duration::from_secs(1800)));
        assert_eq!(r.body, b"file_path=%2Fhome%2Fuser%2Fa%20b");

        let r = Request {
            method: Method::Get,
            path: "/screenshot".into(),
            body: Body::Empty,
            timeout: None,
        }
        .to_http(&c);
        assert_eq!((r.method, r.body.len()), (http::Method::Get, 0));
        // Natively there is no wasi:http: the client's failure is described.
        assert_eq!(
            Transport::send(&c, &req(Method::Get, "/screenshot", Body::Empty)),
            Err(http::HttpError::Unavailable.to_string())
        );
    }
}

//! The AndroidWorld server's HTTP protocol (`server/android_server.py`): one typed
//! method per endpoint over a [`Transport`] (the SDK's wasi:http [`http::Client`] in
//! the plugin, in-memory servers in tests), and readable errors from FastAPI's error
//! bodies.

use serde::de::DeserializeOwned;
use serde_json::Value;
use steprl_plugin::http;

use crate::error::AwError;
use crate::screenshot::{Frame, parse_screenshot};
use crate::ui_elements::{UiElement, UiElementsReply};

/// GET or POST (the only methods the server uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Post => "POST",
        })
    }
}

/// One request: the server's scalar arguments are query parameters; only
/// `/execute_action` has a (JSON) body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The method.
    pub method: Method,
    /// The endpoint path, e.g. `/task/score`.
    pub path: &'static str,
    /// Query parameters, unencoded.
    pub query: Vec<(&'static str, String)>,
    /// A JSON body.
    pub json: Option<String>,
}

impl Call {
    fn new(method: Method, path: &'static str) -> Self {
        Call {
            method,
            path,
            query: Vec::new(),
            json: None,
        }
    }

    fn q(mut self, key: &'static str, value: impl ToString) -> Self {
        self.query.push((key, value.to_string()));
        self
    }

    /// `METHOD /path?query` for messages.
    pub fn describe(&self) -> String {
        let q: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if q.is_empty() {
            format!("{} {}", self.method, self.path)
        } else {
            format!("{} {}?{}", self.method, self.path, q.join("&"))
        }
    }
}

impl Call {
    /// This call as the SDK's HTTP request to `client`'s server.
    pub fn to_http(&self, client: &http::Client) -> http::Request {
        let method = match self.method {
            Method::Get => http::Method::Get,
            Method::Post => http::Method::Post,
        };
        let mut r = client.request(method, self.path);
        for (k, v) in &self.query {
            r = r.query(k, v);
        }
        match &self.json {
            Some(body) => r.json(body),
            None => r,
        }
    }
}

/// A whole HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Sends requests to the server. The plugin implements it over `wasi:http`; tests
/// implement it in memory.
pub trait Transport {
    /// Send `call` and read the whole response. `Err` is a transport failure (refused
    /// destination, connection error, timeout), described for the user; HTTP error
    /// statuses come back as `Ok` replies.
    fn send(&self, call: &Call) -> Result<Reply, String>;
}

/// The plugin's transport: the SDK's blocking wasi:http client for one server (its
/// failures name the request and, for a refused destination, the grant to add).
impl Transport for http::Client {
    fn send(&self, call: &Call) -> Result<Reply, String> {
        self.fetch(&call.to_http(self))
            .map(|r| Reply {
                status: r.status,
                body: r.body,
            })
            .map_err(|e| e.to_string())
    }
}

/// The server's `{status, message}` acknowledgement.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Ack {
    /// `success` when it worked.
    #[serde(default)]
    pub status: Option<String>,
    /// What the server did.
    #[serde(default)]
    pub message: Option<String>,
}

/// Whether a server answers `GET /health`, asked up to `tries` times in a row: `Ok`
/// with its status, or the last failure.
pub fn health<T: Transport>(client: &Client<T>, tries: u32) -> Result<String, String> {
    let mut last = String::new();
    for _ in 0..tries.max(1) {
        match client.health() {
            Ok(ack) => return Ok(ack.status.unwrap_or_else(|| "ok".into())),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// The typed endpoints of one server.
pub struct Client<T> {
    transport: T,
    base: String,
}

impl<T: Transport> Client<T> {
    /// A client of the server at `base` (e.g. `http://127.0.0.1:5000`, for messages)
    /// over `transport`.
    pub fn new(transport: T, base: &str) -> Self {
        Client {
            transport,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// The server URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Send `call`; a non-2xx status becomes an external error naming the request, the
    /// status and FastAPI's `detail`.
    pub fn raw(&self, call: &Call) -> Result<Reply, AwError> {
        self.checked(call, self.send(call)?)
    }

    /// Send `call`; only a transport failure is an error.
    fn send(&self, call: &Call) -> Result<Reply, AwError> {
        self.transport.send(call).map_err(|e| {
            AwError::External(format!(
                "AndroidWorld server {}: {} failed: {e}",
                self.base,
                call.describe()
            ))
        })
    }

    /// `reply` if its status is 2xx, else an external error naming `call`, the status
    /// and FastAPI's `detail`.
    fn checked(&self, call: &Call, reply: Reply) -> Result<Reply, AwError> {
        if !(200..300).contains(&reply.status) {
            return Err(AwError::External(format!(
                "AndroidWorld server {}: {} answered HTTP {}: {}",
                self.base,
                call.describe(),
                reply.status,
                error_detail(&reply.body)
            )));
        }
        Ok(reply)
    }

    fn json<R: DeserializeOwned>(&self, call: &Call) -> Result<R, AwError> {
        let reply = self.raw(call)?;
        serde_json::from_slice(&reply.body).map_err(|e| {
            AwError::External(format!(
                "AndroidWorld server {}: {} answered an unexpected body ({e}): {}",
                self.base,
                call.describe(),
                snippet(&reply.body)
            ))
        })
    }

    /// `GET /health`.
    pub fn health(&self) -> Result<Ack, AwError> {
        self.json(&Call::new(Method::Get, "/health"))
    }

    /// `POST /reset?go_home=`.
    pub fn reset(&self, go_home: bool) -> Result<Ack, AwError> {
        self.json(&Call::new(Method::Post, "/reset").q("go_home", go_home))
    }

    /// `GET /screenshot?wait_to_stabilize=`, parsed to a frame.
    pub fn screenshot(&self, wait_to_stabilize: bool) -> Result<Frame, AwError> {
        let call = Call::new(Method::Get, "/screenshot").q("wait_to_stabilize", wait_to_stabilize);
        let reply = self.raw(&call)?;
        parse_screenshot(&reply.body)
            .map_err(|e| AwError::External(format!("AndroidWorld server {}: {e}", self.base)))
    }

    /// `GET /ui_elements?wait_to_stabilize=` (the route of `server-patch/`), or `None`
    /// when the server has no such route (HTTP 404: an unpatched server).
    pub fn ui_elements(&self, wait_to_stabilize: bool) -> Result<Option<Vec<UiElement>>, AwError> {
        let call = Call::new(Method::Get, "/ui_elements").q("wait_to_stabilize", wait_to_stabilize);
        let reply = self.send(&call)?;
        if reply.status == 404 {
            return Ok(None);
        }
        let reply = self.checked(&call, reply)?;
        let r: UiElementsReply = serde_json::from_slice(&reply.body).map_err(|e| {
            AwError::External(format!(
                "AndroidWorld server {}: {} answered an unexpected body ({e}): {}",
                self.base,
                call.describe(),
                snippet(&reply.body)
            ))
        })?;
        Ok(Some(r.ui_elements))
    }

    /// `POST /execute_action` with `action_json` as the body.
    pub fn execute_action(&self, action_json: &str) -> Result<Ack, AwError> {
        let mut call = Call::new(Method::Post, "/execute_action");
        call.json = Some(action_json.to_owned());
        self.json(&call)
    }

    /// `GET /suite/task_list?max_index=` (a negative index lists every task type).
    pub fn task_list(&self, max_index: i64) -> Result<Vec<String>, AwError> {
        #[derive(serde::Deserialize)]
        struct R {
            task_list: Vec<String>,
        }
        let r: R =
            self.json(&Call::new(Method::Get, "/suite/task_list").q("max_index", max_index))?;
        Ok(r.task_list)
    }

    /// `GET /suite/task_length?task_type=`: instances of a task type.
    pub fn task_length(&self, task_type: &str) -> Result<u32, AwError> {
        #[derive(serde::Deserialize)]
        struct R {
            length: u32,
        }
        let r: R =
            self.json(&Call::new(Method::Get, "/suite/task_length").q("task_type", task_type))?;
        Ok(r.length)
    }

    /// `GET /suite/reinitialize?n_task_combinations=&seed=&task_family=`.
    pub fn reinitialize(
        &self,
        n_task_combinations: u32,
        seed: i64,
        task_family: &str,
    ) -> Result<Ack, AwError> {
        self.json(
            &Call::new(Method::Get, "/suite/reinitialize")
                .q("n_task_combinations", n_task_combinations)
                .q("seed", seed)
                .q("task_family", task_family),
        )
    }

    fn task_call(method: Method, path: &'static str, task_type: &str, task_idx: u32) -> Call {
        Call::new(method, path)
            .q("task_type", task_type)
            .q("task_idx", task_idx)
    }

    /// `POST /task/initialize?task_type=&task_idx=`.
    pub fn initialize(&self, task_type: &str, task_idx: u32) -> Result<Ack, AwError> {
        self.json(&Self::task_call(
            Method::Post,
            "/task/initialize",
            task_type,
            task_idx,
        ))
    }

    /// `POST /task/tear_down?task_type=&task_idx=`.
    pub fn tear_down(&self, task_type: &str, task_idx: u32) -> Result<Ack, AwError> {
        self.json(&Self::task_call(
            Method::Post,
            "/task/tear_down",
            task_type,
            task_idx,
        ))
    }

    /// `GET /task/score?task_type=&task_idx=`: the task's own success in [0, 1] (no
    /// done-gating). A boolean score counts as 0 or 1.
    pub fn score(&self, task_type: &str, task_idx: u32) -> Result<f64, AwError> {
        let call = Self::task_call(Method::Get, "/task/score", task_type, task_idx);
        let v: Value = self.json(&call)?;
        match v.get("score") {
            Some(Value::Number(n)) if n.as_f64().is_some_and(f64::is_finite) => {
                Ok(n.as_f64().unwrap_or(0.0))
            }
            Some(Value::Bool(b)) => Ok(if *b { 1.0 } else { 0.0 }),
            _ => Err(AwError::External(format!(
                "AndroidWorld server {}: {} answered no numeric `score`: {}",
                self.base,
                call.describe(),
                snippet(v.to_string().as_bytes())
            ))),
        }
    }

    /// `GET /task/goal?task_type=&task_idx=`.
    pub fn goal(&self, task_type: &str, task_idx: u32) -> Result<String, AwError> {
        #[derive(serde::Deserialize)]
        struct R {
            goal: String,
        }
        let r: R = self.json(&Self::task_call(
            Method::Get,
            "/task/goal",
            task_type,
            task_idx,
        ))?;
        Ok(r.goal)
    }

    /// `GET /task/template?task_type=&task_idx=`.
    pub fn template(&self, task_type: &str, task_idx: u32) -> Result<String, AwError> {
        #[derive(serde::Deserialize)]
        struct R {
            template: String,
        }
        let r: R = self.json(&Self::task_call(
            Method::Get,
            "/task/template",
            task_type,
            task_idx,
        ))?;
        Ok(r.template)
    }

    /// `POST /close`: shuts the server's Android environment down (the emulator is
    /// unusable afterwards; the adapter calls it only at shutdown with `close_on_exit`).
    pub fn close(&self) -> Result<Ack, AwError> {
        self.json(&Call::new(Method::Post, "/close"))
    }
}

/// The human-readable part of an error body: FastAPI's `{"detail": "..."}`, its
/// validation list `{"detail": [{"loc": [...], "msg": ...}]}` as `loc: msg; ...`, or
/// the text (e.g. Starlette's plain `Internal Server Error`).
pub fn error_detail(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return snippet(body);
    };
    match v.get("detail") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|it| {
                let loc = it
                    .get("loc")
                    .and_then(Value::as_array)
                    .map(|l| {
                        l.iter()
                            .map(|p| match p {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                            .collect::<Vec<_>>()
                            .join(".")
                    })
                    .unwrap_or_default();
                let msg = it.get("msg").and_then(Value::as_str).unwrap_or("invalid");
                if loc.is_empty() {
                    msg.to_owned()
                } else {
                    format!("{loc}: {msg}")
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        Some(other) => other.to_string(),
        None => snippet(body),
    }
}

/// At most 300 characters of a body, for messages.
fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s = s.trim();
    if s.is_empty() {
        return "(empty body)".into();
    }
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::time::Duration;

    /// Answers every call with the next scripted reply and records the calls.
    struct Script {
        replies: RefCell<Vec<Result<Reply, String>>>,
        calls: RefCell<Vec<Call>>,
    }

    impl Script {
        fn new(replies: Vec<Result<(u16, &str), &str>>) -> Self {
            Script {
                replies: RefCell::new(
                    replies
                        .into_iter()
                        .rev()
                        .map(|r| {
                            r.map(|(status, body)| Reply {
                                status,
                                body: body.as_bytes().to_vec(),
                            })
                            .map_err(str::to_owned)
                        })
                        .collect(),
                ),
                calls: RefCell::new(Vec::new()),
            }
        }
    }

    impl Transport for Script {
        fn send(&self, call: &Call) -> Result<Reply, String> {
            self.calls.borrow_mut().push(call.clone());
            self.replies.borrow_mut().pop().expect("a scripted reply")
        }
    }

    #[test]
    fn endpoints_send_their_query_parameters() {
        let c = Client::new(
            Script::new(vec![
                Ok((200, r#"{"status":"success"}"#)),
                Ok((200, r#"{"task_list":["A","B"]}"#)),
                Ok((200, r#"{"length":2}"#)),
                Ok((200, r#"{"score":0.5}"#)),
                Ok((200, r#"{"score":true}"#)),
                Ok((200, r#"{"goal":"Turn wifi on."}"#)),
                Ok((200, r#"{"status":"success","message":"ok"}"#)),
                Ok((200, r#"{"pixels":[[[1,2,3]]]}"#)),
                Ok((200, r#"{"template":"Turn wifi {on_or_off}."}"#)),
            ]),
            "http://h:5/",
        );
        assert_eq!(c.base(), "http://h:5");
        assert_eq!(c.health().unwrap().status.as_deref(), Some("success"));
        assert_eq!(c.task_list(-1).unwrap(), ["A", "B"]);
        assert_eq!(c.task_length("A").unwrap(), 2);
        assert_eq!(c.score("A", 1).unwrap(), 0.5);
        assert_eq!(c.score("A", 1).unwrap(), 1.0);
        assert_eq!(c.goal("A", 0).unwrap(), "Turn wifi on.");
        assert_eq!(
            c.reinitialize(3, 7, "android_world")
                .unwrap()
                .message
                .as_deref(),
            Some("ok")
        );
        assert_eq!(c.screenshot(true).unwrap().data, [1, 2, 3]);
        assert_eq!(c.template("A", 0).unwrap(), "Turn wifi {on_or_off}.");
        let calls: Vec<String> = c
            .transport()
            .calls
            .borrow()
            .iter()
            .map(Call::describe)
            .collect();
        assert_eq!(
            calls,
            [
                "GET /health",
                "GET /suite/task_list?max_index=-1",
                "GET /suite/task_length?task_type=A",
                "GET /task/score?task_type=A&task_idx=1",
                "GET /task/score?task_type=A&task_idx=1",
                "GET /task/goal?task_type=A&task_idx=0",
                "GET /suite/reinitialize?n_task_combinations=3&seed=7&task_family=android_world",
                "GET /screenshot?wait_to_stabilize=true",
                "GET /task/template?task_type=A&task_idx=0",
            ]
        );
    }

    #[test]
    fn post_endpoints_and_the_action_body() {
        let ok = || Ok((200, r#"{"status":"success"}"#));
        let c = Client::new(
            Script::new(vec![ok(), ok(), ok(), ok(), ok()]),
            "http://h:5",
        );
        c.reset(true).unwrap();
        c.initialize("A", 0).unwrap();
        c.execute_action(r#"{"action_type":"wait"}"#).unwrap();
        c.tear_down("A", 0).unwrap();
        c.close().unwrap();
        let calls = c.transport().calls.borrow();
        let shown: Vec<String> = calls.iter().map(Call::describe).collect();
        assert_eq!(
            shown,
            [
                "POST /reset?go_home=true",
                "POST /task/initialize?task_type=A&task_idx=0",
                "POST /execute_action",
                "POST /task/tear_down?task_type=A&task_idx=0",
                "POST /close",
            ]
        );
        assert_eq!(calls[2].json.as_deref(), Some(r#"{"action_type":"wait"}"#));
    }

    #[test]
    fn errors_name_the_server_request_status_and_detail() {
        let c = Client::new(
            Script::new(vec![
                Ok((
                    422,
                    r#"{"detail":[{"type":"missing","loc":["query","task_idx"],"msg":"Field required","input":null}]}"#,
                )),
                Ok((400, r#"{"detail":"Invalid task family: nope"}"#)),
                Ok((500, "Internal Server Error")),
                Err("GET http://h:5/health: could not connect: ConnectionRefused"),
                Ok((200, "not json")),
                Ok((200, r#"{"score":"high"}"#)),
            ]),
            "http://h:5",
        );
        let e = c.initialize("A", 0).unwrap_err().to_string();
        assert_eq!(
            e,
            "AndroidWorld server http://h:5: POST /task/initialize?task_type=A&task_idx=0 answered HTTP 422: query.task_idx: Field required"
        );
        let e = c.reinitialize(2, 42, "nope").unwrap_err().to_string();
        assert!(
            e.ends_with("answered HTTP 400: Invalid task family: nope"),
            "{e}"
        );
        let e = c.score("X", 0).unwrap_err();
        assert!(
            matches!(&e, AwError::External(m) if m.contains("GET /task/score?task_type=X&task_idx=0 answered HTTP 500: Internal Server Error")),
            "{e}"
        );
        let e = c.health().unwrap_err().to_string();
        assert!(
            e.contains("GET /health failed: GET http://h:5/health: could not connect"),
            "{e}"
        );
        let e = c.health().unwrap_err().to_string();
        assert!(
            e.contains("unexpected body") && e.contains("not json"),
            "{e}"
        );
        let e = c.score("A", 0).unwrap_err().to_string();
        assert!(e.contains("no numeric `score`"), "{e}");
    }

    #[test]
    fn error_details_read_every_fastapi_shape() {
        assert_eq!(error_detail(br#"{"detail":"Not Found"}"#), "Not Found");
        assert_eq!(
            error_detail(br#"{"detail":[{"loc":["query","go_home"],"msg":"Field required"},{"loc":["body",0],"msg":"JSON decode error"}]}"#),
            "query.go_home: Field required; body.0: JSON decode error"
        );
        assert_eq!(error_detail(b""), "(empty body)");
        assert_eq!(error_detail(br#"{"x":1}"#), r#"{"x":1}"#);
        assert_eq!(error_detail(&[b'a'; 400]).chars().count(), 301);
    }

    #[test]
    fn calls_become_sdk_http_requests_to_their_server() {
        let c = http::Client::new("http://127.0.0.1:5001", Duration::from_millis(900));
        let r = Call::new(Method::Get, "/task/score")
            .q("task_type", "ContactsAddContact")
            .q("task_idx", 0)
            .to_http(&c);
        assert_eq!(
            (r.method, r.full_url(), r.timeout),
            (
                http::Method::Get,
                "http://127.0.0.1:5001/task/score?task_type=ContactsAddContact&task_idx=0".into(),
                Some(Duration::from_millis(900))
            )
        );
        let mut call = Call::new(Method::Post, "/execute_action");
        call.json = Some(r#"{"action_type":"click","index":3}"#.into());
        let r = call.to_http(&c);
        assert_eq!(r.body, br#"{"action_type":"click","index":3}"#);
        assert_eq!(r.headers[0].1, "application/json");
        assert_eq!(
            Transport::send(&c, &call),
            Err(http::HttpError::Unavailable.to_string())
        );
    }
}

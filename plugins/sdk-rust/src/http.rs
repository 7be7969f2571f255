//! A small blocking HTTP/1.1 client over `wasi:http/outgoing-handler`, for environment
//! adapters that talk to servers outside the sandbox (OSWorld's VM server,
//! AndroidWorld's FastAPI server). The host links `wasi:http` only for plugins whose run
//! config grants network access, and only to the granted `host:port`s; a refused
//! destination comes back as [`HttpError::Denied`].
//!
//! ```ignore
//! use steprl_plugin::http::Request;
//! let r = Request::get("http://127.0.0.1:5000/health").send()?;
//! let score: serde_json::Value = serde_json::from_slice(&r.body)?;
//! ```
//!
//! [`Client`] is one server's base URL and default timeout: an adapter's model crate
//! implements its own transport trait for it, so the plugin crate holds no HTTP glue.
//!
//! Outside a component (native unit tests) every request fails with
//! [`HttpError::Unavailable`]; test adapter logic natively through your own transport
//! trait (requests are built and checked natively), and the HTTP path end to end
//! through the sandbox.

use std::fmt;
use std::time::Duration;

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        })
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The URL could not be parsed (only `http://` and `https://` URLs are accepted).
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The host refused the destination: it is not in this plugin's network grant.
    Denied {
        /// The request's method and URL.
        request: String,
        /// The refused `host:port`.
        authority: String,
    },
    /// No connection, or no complete response, within the timeout.
    Timeout {
        /// The request's method and URL.
        request: String,
    },
    /// The connection failed (refused, reset, DNS).
    Connect {
        /// The request's method and URL.
        request: String,
        /// The transport's description.
        message: String,
    },
    /// The response body was larger than the host's cap.
    TooLarge {
        /// The request's method and URL.
        request: String,
    },
    /// Any other transport or protocol failure.
    Protocol {
        /// The request's method and URL.
        request: String,
        /// The transport's description.
        message: String,
    },
    /// Not running inside a component with `wasi:http` (e.g. a native unit test).
    Unavailable,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::InvalidUrl { url, reason } => write!(f, "invalid URL `{url}`: {reason}"),
            HttpError::Denied { request, authority } => write!(
                f,
                "{request}: the host refused `{authority}`: it is not in this plugin's network \
                 grant (add it to `grants.http` of this plugin in the run config)"
            ),
            HttpError::Timeout { request } => write!(f, "{request}: timed out"),
            HttpError::Connect { request, message } => {
                write!(f, "{request}: could not connect: {message}")
            }
            HttpError::TooLarge { request } => write!(
                f,
                "{request}: the response is larger than the host's cap \
                 (raise `grants.http_max_response_mib`)"
            ),
            HttpError::Protocol { request, message } => write!(f, "{request}: {message}"),
            HttpError::Unavailable => f.write_str(
                "HTTP is only available inside the steprl sandbox to plugins granted network access",
            ),
        }
    }
}

impl std::error::Error for HttpError {}

/// One multipart/form-data part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The form field name.
    pub name: String,
    /// The file name, for file parts.
    pub filename: Option<String>,
    /// The part's content.
    pub data: Vec<u8>,
}

/// An HTTP request under construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// `scheme://host:port/path`, without the query.
    pub url: String,
    /// Query parameters (percent-encoded on send).
    pub query: Vec<(String, String)>,
    /// Request headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Timeout for connecting and for the response; the host's own cap still applies.
    pub timeout: Option<Duration>,
}

impl Request {
    /// A request with `method` to `url` (which may already carry a query string).
    pub fn new(method: Method, url: &str) -> Self {
        Request {
            method,
            url: url.to_owned(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
        }
    }

    /// A GET request.
    pub fn get(url: &str) -> Self {
        Request::new(Method::Get, url)
    }

    /// A POST request.
    pub fn post(url: &str) -> Self {
        Request::new(Method::Post, url)
    }

    /// Add a query parameter.
    pub fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_owned(), value.to_string()));
        self
    }

    /// Add a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Set the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// A JSON body (already serialized).
    pub fn json(mut self, json: &str) -> Self {
        self.headers
            .push(("content-type".into(), "application/json".into()));
        self.body = json.as_bytes().to_vec();
        self
    }

    /// An `application/x-www-form-urlencoded` body.
    pub fn form(mut self, fields: &[(&str, &str)]) -> Self {
        self.headers.push((
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        self.body = encode_pairs(fields.iter().map(|(k, v)| (*k, *v))).into_bytes();
        self
    }

    /// A `multipart/form-data` body.
    pub fn multipart(mut self, parts: &[Part]) -> Self {
        let boundary = boundary_for(parts);
        let mut body = Vec::new();
        for p in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            let mut disp = format!("Content-Disposition: form-data; name=\"{}\"", p.name);
            if let Some(f) = &p.filename {
                disp.push_str(&format!("; filename=\"{f}\""));
            }
            body.extend_from_slice(disp.as_bytes());
            body.extend_from_slice(b"\r\n");
            if p.filename.is_some() {
                body.extend_from_slice(b"Content-Type: application/octet-stream\r\n");
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(&p.data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.headers.push((
            "content-type".into(),
            format!("multipart/form-data; boundary={boundary}"),
        ));
        self.body = body;
        self
    }

    /// `METHOD url` with the query, for messages.
    pub fn describe(&self) -> String {
        format!("{} {}", self.method, self.full_url())
    }

    /// The URL with the query parameters appended.
    pub fn full_url(&self) -> String {
        if self.query.is_empty() {
            return self.url.clone();
        }
        let sep = if self.url.contains('?') { '&' } else { '?' };
        let q = encode_pairs(self.query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        format!("{}{sep}{q}", self.url)
    }

    /// Send the request and read the whole response.
    pub fn send(&self) -> Result<Response, HttpError> {
        let url = self.full_url();
        let parsed = Url::parse(&url)?;
        imp::send(self, &parsed)
    }
}

/// A complete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Response headers (names lower-case).
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One server's base URL and default timeout: the transport an adapter's model crate
/// sends its requests through. A request to a path (`/execute`) goes to the base; an
/// absolute `http(s)://` URL (a revert controller beside the server) goes where it
/// says. Requests without their own timeout get the client's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    base: String,
    timeout: Duration,
}

impl Client {
    /// A client for the server at `base` (`http://127.0.0.1:5000`; a trailing `/` is
    /// dropped) whose requests time out after `timeout` unless they set their own.
    pub fn new(base: &str, timeout: Duration) -> Self {
        Client {
            base: base.trim_end_matches('/').to_owned(),
            timeout,
        }
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The default timeout.
    pub fn default_timeout(&self) -> Duration {
        self.timeout
    }

    /// A request with `method` to `target`: a path on this server, or an absolute URL.
    pub fn request(&self, method: Method, target: &str) -> Request {
        let url = if target.starts_with("http://") || target.starts_with("https://") {
            target.to_owned()
        } else if target.starts_with('/') {
            format!("{}{target}", self.base)
        } else {
            format!("{}/{target}", self.base)
        };
        Request::new(method, &url).timeout(self.timeout)
    }

    /// Send `req` (built by [`Client::request`] or by hand; the default timeout applies
    /// when it has none) and read the whole response.
    pub fn fetch(&self, req: &Request) -> Result<Response, HttpError> {
        if req.timeout.is_some() {
            req.send()
        } else {
            req.clone().timeout(self.timeout).send()
        }
    }
}

/// A parsed `http(s)://authority/path?query` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// Whether the scheme is https.
    pub https: bool,
    /// `host:port` as written (the port defaults by scheme).
    pub authority: String,
    /// The path and query, starting with `/`.
    pub path_and_query: String,
}

impl Url {
    /// Parse an absolute http or https URL.
    pub fn parse(url: &str) -> Result<Url, HttpError> {
        let bad = |reason: &str| HttpError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let (https, rest) = if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else {
            return Err(bad("it must start with http:// or https://"));
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        if authority.is_empty() {
            return Err(bad("no host"));
        }
        if authority.contains('@') {
            return Err(bad("user info in URLs is not supported"));
        }
        let mut path = rest[end..].split('#').next().unwrap_or("").to_owned();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("the path contains spaces or control characters"));
        }
        let has_port = authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        let authority = if has_port {
            authority.to_owned()
        } else {
            format!("{authority}:{}", if https { 443 } else { 80 })
        };
        Ok(Url {
            https,
            authority,
            path_and_query: path,
        })
    }
}

/// Percent-encode `s` for a query string or form body (RFC 3986 unreserved kept).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn encode_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    pairs
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A boundary that occurs in no part's data.
fn boundary_for(parts: &[Part]) -> String {
    let mut n: u64 = 0x5354_4550_726c;
    loop {
        let b = format!("steprl-boundary-{n:x}");
        if !parts
            .iter()
            .any(|p| p.data.windows(b.len()).any(|w| w == b.as_bytes()))
        {
            return b;
        }
        n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{HttpError, Request, Response, Url};

    pub(super) fn send(_req: &Request, _url: &Url) -> Result<Response, HttpError> {
        Err(HttpError::Unavailable)
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::{HttpError, Method, Request, Response, Url};
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{
        ErrorCode, Fields, IncomingBody, Method as WMethod, OutgoingBody, OutgoingRequest,
        RequestOptions, Scheme,
    };
    use wasip2::io::streams::StreamError;

    /// The most bytes one `blocking-write-and-flush` may take.
    const WRITE_CHUNK: usize = 4096;
    /// Bytes asked for per read.
    const READ_CHUNK: u64 = 64 * 1024;

    pub(super) fn send(req: &Request, url: &Url) -> Result<Response, HttpError> {
        let what = req.describe();
        let proto = |message: String| HttpError::Protocol {
            request: what.clone(),
            message,
        };
        let entries: Vec<(String, Vec<u8>)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec()))
            .collect();
        let headers = Fields::from_list(&entries)
            .map_err(|e| proto(format!("a request header was refused: {e:?}")))?;
        let out = OutgoingRequest::new(headers);
        let method = match req.method {
            Method::Get => WMethod::Get,
            Method::Post => WMethod::Post,
            Method::Put => WMethod::Put,
            Method::Delete => WMethod::Delete,
        };
        let scheme = if url.https {
            Scheme::Https
        } else {
            Scheme::Http
        };
        out.set_method(&method)
            .and_then(|()| out.set_scheme(Some(&scheme)))
            .and_then(|()| out.set_authority(Some(&url.authority)))
            .and_then(|()| out.set_path_with_query(Some(&url.path_and_query)))
            .map_err(|()| proto("the request line was refused".into()))?;
        let body = out
            .body()
            .map_err(|()| proto("no request body handle".into()))?;

        let options = RequestOptions::new();
        if let Some(t) = req.timeout {
            let ns = u64::try_from(t.as_nanos()).unwrap_or(u64::MAX);
            // The host may not support every option; its own cap applies regardless.
            let _ = options.set_connect_timeout(Some(ns));
            let _ = options.set_first_byte_timeout(Some(ns));
            let _ = options.set_between_bytes_timeout(Some(ns));
        }
        let future =
            outgoing_handler::handle(out, Some(options)).map_err(|e| error(&what, url, e))?;

        {
            let stream = body
                .write()
                .map_err(|()| proto("no request body stream".into()))?;
            for chunk in req.body.chunks(WRITE_CHUNK) {
                if let Err(e) = stream.blocking_write_and_flush(chunk) {
                    // The host may have refused or failed the request before taking
                    // the body (a destination outside the grant): report that cause.
                    future.subscribe().block();
                    if let Some(Ok(Err(code))) = future.get() {
                        return Err(error(&what, url, code));
                    }
                    return Err(proto(format!("sending the body failed: {e:?}")));
                }
            }
        }
        OutgoingBody::finish(body, None).map_err(|e| error(&what, url, e))?;

        let incoming = loop {
            match future.get() {
                Some(Ok(Ok(r))) => break r,
                Some(Ok(Err(e))) => return Err(error(&what, url, e)),
                Some(Err(())) => return Err(proto("the response was taken twice".into())),
                None => future.subscribe().block(),
            }
        };
        let status = incoming.status();
        let headers = incoming
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect();
        let body_handle = incoming
            .consume()
            .map_err(|()| proto("no response body".into()))?;
        let mut data = Vec::new();
        {
            let stream = body_handle
                .stream()
                .map_err(|()| proto("no response body stream".into()))?;
            loop {
                match stream.blocking_read(READ_CHUNK) {
                    Ok(bytes) => data.extend_from_slice(&bytes),
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(e)) => {
                        let code = wasip2::http::types::http_error_code(&e);
                        return Err(match code {
                            Some(c) => error(&what, url, c),
                            None => body_error(&what, &e.to_debug_string()),
                        });
                    }
                }
            }
        }
        let trailers = IncomingBody::finish(body_handle);
        loop {
            match trailers.get() {
                Some(Ok(Err(e))) => return Err(error(&what, url, e)),
                Some(_) => break,
                None => trailers.subscribe().block(),
            }
        }
        Ok(Response {
            status,
            headers,
            body: data,
        })
    }

    /// A failure while reading the body. Hosts do not always attach an error code to
    /// body-stream errors (wasmtime-wasi-http 48 does not), so the host's cap and
    /// timeout are recognized by their messages.
    fn body_error(what: &str, message: &str) -> HttpError {
        let request = what.to_owned();
        let lower = message.to_ascii_lowercase();
        if lower.contains("body size exceeds") {
            HttpError::TooLarge { request }
        } else if lower.contains("timeout") || lower.contains("timed out") {
            HttpError::Timeout { request }
        } else {
            HttpError::Protocol {
                request,
                message: format!("reading the response failed: {message}"),
            }
        }
    }

    fn error(what: &str, url: &Url, e: ErrorCode) -> HttpError {
        let request = what.to_owned();
        match e {
            ErrorCode::HttpRequestDenied => HttpError::Denied {
                request,
                authority: url.authority.clone(),
            },
            ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
            | ErrorCode::HttpResponseTimeout => HttpError::Timeout { request },
            ErrorCode::HttpResponseBodySize(_) => HttpError::TooLarge { request },
            ErrorCode::ConnectionRefused
            | ErrorCode::DestinationNotFound
            | ErrorCode::DestinationUnavailable
            | ErrorCode::DnsError(_)
            | ErrorCode::DnsTimeout
            | ErrorCode::ConnectionTerminated => HttpError::Connect {
                request,
                message: format!("{e:?}"),
            },
            other => HttpError::Protocol {
                request,
                message: format!("{other:?}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_default_ports() {
        let u = Url::parse("http://127.0.0.1:5000/execute").unwrap();
        assert_eq!(u.authority, "127.0.0.1:5000");
        assert_eq!(u.path_and_query, "/execute");
        assert!(!u.https);
        let u = Url::parse("https://example.org?x=1#frag").unwrap();
        assert_eq!(u.authority, "example.org:443");
        assert_eq!(u.path_and_query, "/?x=1");
        let u = Url::parse("http://[::1]/a").unwrap();
        assert_eq!(u.authority, "[::1]:80");
        assert!(matches!(
            Url::parse("ftp://x/"),
            Err(HttpError::InvalidUrl { .. })
        ));
        assert!(Url::parse("http:///a").is_err());
        assert!(Url::parse("http://u:p@host/").is_err());
        assert!(Url::parse("http://h/a b").is_err());
    }

    #[test]
    fn queries_and_forms_are_percent_encoded() {
        let r = Request::get("http://h:1/task/score")
            .query("task_type", "Contacts Add")
            .query("task_idx", 0);
        assert_eq!(
            r.full_url(),
            "http://h:1/task/score?task_type=Contacts%20Add&task_idx=0"
        );
        let r = Request::get("http://h:1/x?a=1").query("b", "/&");
        assert_eq!(r.full_url(), "http://h:1/x?a=1&b=%2F%26");
        let r = Request::post("http://h:1/file").form(&[("file_path", "/home/user/a b.txt")]);
        assert_eq!(r.body, b"file_path=%2Fhome%2Fuser%2Fa%20b.txt");
    }

    #[test]
    fn multipart_bodies_frame_every_part() {
        let r = Request::post("http://h:1/setup/upload").multipart(&[
            Part {
                name: "file_path".into(),
                filename: None,
                data: b"/home/user/x.txt".to_vec(),
            },
            Part {
                name: "file_data".into(),
                filename: Some("x.txt".into()),
                data: b"hello".to_vec(),
            },
        ]);
        let ct = &r.headers[0].1;
        let boundary = ct.split("boundary=").nth(1).unwrap();
        let body = String::from_utf8(r.body.clone()).unwrap();
        assert_eq!(body.matches(&format!("--{boundary}\r\n")).count(), 2);
        assert!(body.ends_with(&format!("--{boundary}--\r\n")));
        assert!(body.contains("name=\"file_data\"; filename=\"x.txt\""));
        assert!(body.contains("\r\n\r\nhello\r\n"));
    }

    #[test]
    fn clients_join_paths_to_their_base_and_keep_absolute_urls() {
        let c = Client::new("http://10.0.0.5:5000/", Duration::from_secs(7));
        assert_eq!(c.base(), "http://10.0.0.5:5000");
        let r = c.request(Method::Post, "/execute");
        assert_eq!(r.url, "http://10.0.0.5:5000/execute");
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.timeout, Some(Duration::from_secs(7)));
        assert_eq!(
            c.request(Method::Get, "task/score").url,
            "http://10.0.0.5:5000/task/score"
        );
        assert_eq!(
            c.request(Method::Post, "http://10.0.0.1:6000/revert").url,
            "http://10.0.0.1:6000/revert"
        );
        // A request's own timeout wins over the client's.
        let long = c
            .request(Method::Post, "/setup/open_file")
            .timeout(Duration::from_secs(1800));
        assert_eq!(long.timeout, Some(Duration::from_secs(1800)));
        assert_eq!(c.fetch(&long), Err(HttpError::Unavailable));
    }

    #[test]
    fn native_builds_have_no_transport() {
        assert_eq!(
            Request::get("http://h:1/").send(),
            Err(HttpError::Unavailable)
        );
    }
}

//! Capabilities a run config grants one plugin beyond the deny-by-default sandbox:
//! outgoing HTTP to an explicit list of `host:port`s (with a per-request timeout and a
//! response-size cap) and read-only directories. Also the `wasi:http` hooks that
//! enforce the network grant on every request.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

/// What one plugin may reach outside the sandbox. The default grants nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    /// Destinations for outgoing HTTP, as `host:port` (compared exactly, host
    /// case-insensitively: `localhost:5000` does not grant `127.0.0.1:5000`). Empty =
    /// `wasi:http` is not linked at all.
    pub http: Vec<String>,
    /// Cap on each request: connecting, waiting for the response, and each pause
    /// between body chunks, and the whole response.
    pub http_timeout: Duration,
    /// Cap on one response body, in bytes.
    pub http_max_response_bytes: u64,
    /// Read-only directories: each host directory appears at its guest path.
    pub read_dirs: Vec<DirGrant>,
}

impl Default for Grants {
    fn default() -> Self {
        Grants {
            http: Vec::new(),
            http_timeout: Duration::from_secs(60),
            http_max_response_bytes: 64 * 1024 * 1024,
            read_dirs: Vec::new(),
        }
    }
}

/// A host directory the plugin may read (never write) at `guest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the plugin sees it (an absolute path such as `/tasks`).
    pub guest: String,
}

/// A grant that cannot be honoured, named so the user can fix the run config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// An HTTP destination is not `host:port`.
    #[error(
        "network grant `{entry}` is not `host:port` (e.g. `127.0.0.1:5000`, or `127.0.0.1:5000-5007` for a server pool; no scheme, no path)"
    )]
    BadDestination {
        /// The entry as written.
        entry: String,
    },
    /// A granted directory does not exist or is not a directory.
    #[error("read-only directory grant `{guest}` = `{host}`: {reason}")]
    BadDirectory {
        /// The guest path.
        guest: String,
        /// The host path.
        host: String,
        /// What is wrong.
        reason: String,
    },
    /// A guest path is not absolute, or is given twice.
    #[error("read-only directory grant `{guest}`: {reason}")]
    BadGuestPath {
        /// The guest path.
        guest: String,
        /// What is wrong.
        reason: String,
    },
}

impl Grants {
    /// Check every entry; returns the normalized HTTP destinations.
    pub fn validate(&self) -> Result<Vec<String>, GrantError> {
        let mut http = Vec::new();
        for e in &self.http {
            let ds = normalize_destinations(e)
                .ok_or_else(|| GrantError::BadDestination { entry: e.clone() })?;
            http.extend(ds);
        }
        let mut seen = std::collections::HashSet::new();
        for d in &self.read_dirs {
            if !d.guest.starts_with('/') {
                return Err(GrantError::BadGuestPath {
                    guest: d.guest.clone(),
                    reason: "the guest path must be absolute (e.g. `/tasks`)".into(),
                });
            }
            if !seen.insert(d.guest.trim_end_matches('/').to_owned()) {
                return Err(GrantError::BadGuestPath {
                    guest: d.guest.clone(),
                    reason: "granted twice".into(),
                });
            }
            if !d.host.is_dir() {
                return Err(GrantError::BadDirectory {
                    guest: d.guest.clone(),
                    host: d.host.display().to_string(),
                    reason: if d.host.exists() {
                        "not a directory".into()
                    } else {
                        "no such directory".into()
                    },
                });
            }
        }
        Ok(http)
    }

    /// Whether any network destination is granted.
    pub fn has_network(&self) -> bool {
        !self.http.is_empty()
    }
}

/// Most ports one `host:A-B` grant may name.
const MAX_GRANT_RANGE: u32 = 1024;

/// The destinations of one grant entry: `host:port`, or `host:A-B` for every port from
/// A to B (a server pool on consecutive ports); `None` if `entry` is neither.
pub(crate) fn normalize_destinations(entry: &str) -> Option<Vec<String>> {
    if let Some((host, ports)) = entry.rsplit_once(':')
        && let Some((a, b)) = ports.split_once('-')
    {
        let (lo, hi) = (a.parse::<u16>().ok()?, b.parse::<u16>().ok()?);
        if lo > hi || u32::from(hi - lo) + 1 > MAX_GRANT_RANGE {
            return None;
        }
        return (lo..=hi)
            .map(|p| normalize_destination(&format!("{host}:{p}")))
            .collect();
    }
    normalize_destination(entry).map(|d| vec![d])
}

/// `host:port` with a lower-case host, or `None` if `entry` is not of that form.
pub(crate) fn normalize_destination(entry: &str) -> Option<String> {
    let (host, port) = entry.rsplit_once(':')?;
    if host.is_empty()
        || port.is_empty()
        || !port.bytes().all(|b| b.is_ascii_digit())
        || port.parse::<u16>().is_err()
        || host.contains(['/', '@', '?', '#', ' '])
    {
        return None;
    }
    Some(format!("{}:{port}", host.to_ascii_lowercase()))
}

/// The `wasi:http` hooks of one granted plugin instance: refuse every destination
/// outside the grant (naming the plugin and the host in the log), cap timeouts and
/// response sizes.
pub(crate) struct NetHooks {
    plugin: Arc<str>,
    allowed: Arc<[String]>,
    timeout: Duration,
    max_response_bytes: u64,
}

impl NetHooks {
    pub(crate) fn new(plugin: Arc<str>, allowed: Arc<[String]>, grants: &Grants) -> Self {
        NetHooks {
            plugin,
            allowed,
            timeout: grants.http_timeout,
            max_response_bytes: grants.http_max_response_bytes,
        }
    }

    /// The request's `host:port` (default port by scheme), if it has an authority.
    fn destination(uri: &http::Uri) -> Option<String> {
        let auth = uri.authority()?;
        let port = auth
            .port_u16()
            .unwrap_or(if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
                443
            } else {
                80
            });
        Some(format!("{}:{port}", auth.host().to_ascii_lowercase()))
    }
}

type ResponseFuture = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for NetHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> ResponseFuture {
        let plugin = self.plugin.clone();
        let dest = Self::destination(request.uri());
        let allowed = dest
            .as_ref()
            .is_some_and(|d| self.allowed.iter().any(|a| a == d));
        if !allowed {
            let shown = dest.unwrap_or_else(|| "(no host)".into());
            tracing::warn!(
                "plugin `{plugin}` was refused HTTP to `{shown}` ({} {}): not in its network grant [{}]",
                request.method(),
                request.uri(),
                self.allowed.join(", ")
            );
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        let cap = self.timeout;
        let clamp = |t: Option<Duration>| Some(t.map_or(cap, |t| t.min(cap)));
        let options = RequestOptions {
            connect_timeout: clamp(options.and_then(|o| o.connect_timeout)),
            first_byte_timeout: clamp(options.and_then(|o| o.first_byte_timeout)),
            between_bytes_timeout: clamp(options.and_then(|o| o.between_bytes_timeout)),
        };
        let max = self.max_response_bytes;
        let started = Instant::now();
        drop(fut);
        Box::new(async move {
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            let declared = response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > max) {
                tracing::warn!(
                    "plugin `{plugin}`: a response of {} bytes exceeds the cap of {max} bytes",
                    declared.unwrap_or(0)
                );
                return Err(wasmtime_wasi_http::Error::HttpResponseBodySize(declared));
            }
            let response = response.map(|body| {
                Capped {
                    inner: body.boxed_unsync(),
                    seen: 0,
                    max,
                    deadline: started + cap,
                }
                .boxed_unsync()
            });
            Ok((
                response,
                Box::new(io) as Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            ))
        })
    }
}

/// A response body that fails once it passes `max` bytes or its deadline.
struct Capped {
    inner: WasiBody,
    seen: u64,
    max: u64,
    deadline: Instant,
}

impl Body for Capped {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if Instant::now() > self.deadline {
            return Poll::Ready(Some(Err(wasmtime_wasi_http::Error::ConnectionReadTimeout)));
        }
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.seen += data.len() as u64;
            if self.seen > self.max {
                let max = self.max;
                return Poll::Ready(Some(Err(wasmtime_wasi_http::Error::HttpResponseBodySize(
                    Some(max),
                ))));
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_must_be_host_and_port() {
        assert_eq!(
            normalize_destination("LocalHost:5000").as_deref(),
            Some("localhost:5000")
        );
        assert_eq!(
            normalize_destination("[::1]:8080").as_deref(),
            Some("[::1]:8080")
        );
        for bad in [
            "localhost",
            "http://localhost:5000",
            "h:port",
            ":80",
            "h:99999",
            "h:5000/x",
        ] {
            assert_eq!(normalize_destination(bad), None, "{bad}");
        }
        let g = Grants {
            http: vec!["127.0.0.1".into()],
            ..Grants::default()
        };
        let e = g.validate().unwrap_err();
        assert!(
            e.to_string().contains("`127.0.0.1` is not `host:port`"),
            "{e}"
        );
    }

    #[test]
    fn port_ranges_grant_every_port_of_a_server_pool() {
        let g = Grants {
            http: vec!["LocalHost:5000-5002".into(), "10.0.0.9:7000".into()],
            ..Grants::default()
        };
        assert_eq!(
            g.validate().unwrap(),
            [
                "localhost:5000",
                "localhost:5001",
                "localhost:5002",
                "10.0.0.9:7000"
            ]
        );
        for bad in [
            "h:5002-5000",
            "h:1-2000",
            "h:1-x",
            "h:-5",
            "h:5-",
            "http://h:1-2",
        ] {
            assert_eq!(normalize_destinations(bad), None, "{bad}");
        }
        let g = Grants {
            http: vec!["h:5002-5000".into()],
            ..Grants::default()
        };
        let e = g.validate().unwrap_err().to_string();
        assert!(
            e.contains("`h:5002-5000` is not `host:port`") && e.contains("5000-5007"),
            "{e}"
        );
    }

    #[test]
    fn directory_grants_must_exist_and_be_absolute() {
        let dir = tempfile::tempdir().unwrap();
        let ok = Grants {
            read_dirs: vec![DirGrant {
                host: dir.path().to_owned(),
                guest: "/tasks".into(),
            }],
            ..Grants::default()
        };
        assert!(ok.validate().is_ok());
        let missing = Grants {
            read_dirs: vec![DirGrant {
                host: dir.path().join("nope"),
                guest: "/tasks".into(),
            }],
            ..Grants::default()
        };
        let e = missing.validate().unwrap_err().to_string();
        assert!(
            e.contains("`/tasks`") && e.contains("no such directory"),
            "{e}"
        );
        let relative = Grants {
            read_dirs: vec![DirGrant {
                host: dir.path().to_owned(),
                guest: "tasks".into(),
            }],
            ..Grants::default()
        };
        assert!(
            relative
                .validate()
                .unwrap_err()
                .to_string()
                .contains("absolute")
        );
        let twice = Grants {
            read_dirs: vec![
                DirGrant {
                    host: dir.path().to_owned(),
                    guest: "/t".into(),
                },
                DirGrant {
                    host: dir.path().to_owned(),
                    guest: "/t/".into(),
                },
            ],
            ..Grants::default()
        };
        assert!(
            twice
                .validate()
                .unwrap_err()
                .to_string()
                .contains("granted twice")
        );
    }

    #[test]
    fn request_destinations_default_their_port_by_scheme() {
        let u: http::Uri = "http://Example.org/x".parse().unwrap();
        assert_eq!(NetHooks::destination(&u).as_deref(), Some("example.org:80"));
        let u: http::Uri = "https://example.org/x".parse().unwrap();
        assert_eq!(
            NetHooks::destination(&u).as_deref(),
            Some("example.org:443")
        );
        let u: http::Uri = "http://127.0.0.1:5000/".parse().unwrap();
        assert_eq!(NetHooks::destination(&u).as_deref(), Some("127.0.0.1:5000"));
    }
}

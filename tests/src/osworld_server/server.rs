//! The HTTP server thread (with injected latency and faults) and the revert
//! controller.

use super::*;
use crate::faults::{Faults, Gate};

/// The running server.
pub struct OsworldServer {
    /// The listener; only the request thread holds it strongly, so a server that dies
    /// (an injected [`Fault::Die`]) stops listening.
    server: std::sync::Weak<tiny_http::Server>,
    vm: Arc<Mutex<Vm>>,
    faults: Arc<Mutex<Faults>>,
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
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let vm = Arc::new(Mutex::new(vm));
        let faults = Arc::new(Mutex::new(Faults::default()));
        let (weak, thread) = serve(server, vm.clone(), faults.clone());
        OsworldServer {
            server: weak,
            vm,
            faults,
            thread: Some(thread),
            port,
        }
    }

    /// Inject latency or a fault (see [`Faults`]).
    pub fn faults<R>(&self, f: impl FnOnce(&mut Faults) -> R) -> R {
        f(&mut self.faults.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Whether the server still listens (it has not died of an injected fault).
    pub fn listening(&self) -> bool {
        self.server.strong_count() > 0
    }

    /// Listen again on the same port after an injected death, with the fault cleared
    /// and the VM as it was.
    pub fn revive(&mut self) {
        assert!(!self.listening(), "the server still listens");
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.faults(|f| f.fault = None);
        let server =
            tiny_http::Server::http(("127.0.0.1", self.port)).expect("bind the port again");
        let (weak, thread) = serve(server, self.vm.clone(), self.faults.clone());
        self.server = weak;
        self.thread = Some(thread);
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

/// The request thread: answer each request from the VM (after the injected latency
/// and fault); it holds the only strong reference to the listener.
fn serve(
    server: tiny_http::Server,
    v: Arc<Mutex<Vm>>,
    faults: Arc<Mutex<Faults>>,
) -> (std::sync::Weak<tiny_http::Server>, JoinHandle<()>) {
    let server = Arc::new(server);
    let weak = Arc::downgrade(&server);
    let thread = std::thread::spawn(move || {
        let s = server;
        for mut req in s.incoming_requests() {
            match Faults::gate_request(&faults, req.url().starts_with("/execute")) {
                Gate::Serve => {}
                Gate::Error => {
                    let _ = req.respond(
                        tiny_http::Response::from_string("injected failure").with_status_code(500),
                    );
                    continue;
                }
                Gate::Die => break,
            }
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
    (weak, thread)
}

/// A revert controller for [`OsworldServer`]s, speaking the protocol the adapter's
/// `revert_url` expects (README, "Reverting the VM"): `POST` with `{"task_id",
/// "snapshot", "server"}` puts the VM of `server` (the only one, for a controller of one
/// server) back into the state it had when the controller was made and answers 200
/// `{"reverted": true}`; an unknown server is 404, anything else 400/404/405. It stands
/// in for a controller that recreates OSWorld's Docker containers or reverts VMware or
/// VirtualBox snapshots.
pub struct RevertController {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    port: u16,
    reverts: Arc<Mutex<Vec<Value>>>,
}

impl OsworldServer {
    /// A revert controller restoring the VM as it is now.
    pub fn revert_controller(&self) -> RevertController {
        RevertController::for_fleet(&[self])
    }
}

impl RevertController {
    /// One controller for a pool of servers, each restored to its state now.
    pub fn for_fleet(fleet: &[&OsworldServer]) -> RevertController {
        let vms: Vec<(String, Arc<Mutex<Vm>>, Vm)> = fleet
            .iter()
            .map(|s| (s.url(), s.vm.clone(), s.vm(|vm| vm.clone())))
            .collect();
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let reverts = Arc::new(Mutex::new(Vec::new()));
        let (s, log) = (server.clone(), reverts.clone());
        let thread = std::thread::spawn(move || {
            for mut req in s.incoming_requests() {
                let mut body = Vec::new();
                let _ = req.as_reader().read_to_end(&mut body);
                let (status, answer) = match (req.method(), req.url()) {
                    (tiny_http::Method::Post, "/revert") => {
                        match serde_json::from_slice::<Value>(&body) {
                            Ok(v) if v.get("task_id").is_some() => {
                                let named = v.get("server").and_then(Value::as_str);
                                let target = vms.iter().find(|(url, _, _)| {
                                    named.is_none_or(|n| n == url) || vms.len() == 1
                                });
                                match target {
                                    Some((_, vm, pristine)) => {
                                        let mut vm = vm.lock().unwrap_or_else(|e| e.into_inner());
                                        let requests = std::mem::take(&mut vm.requests);
                                        *vm = pristine.clone();
                                        vm.requests = requests;
                                        log.lock().unwrap_or_else(|e| e.into_inner()).push(v);
                                        (200, json!({"reverted": true}))
                                    }
                                    None => (404, json!({"error": "no such server"})),
                                }
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
        self.faults(|f| f.stopping = true);
        if let Some(s) = self.server.upgrade() {
            s.unblock();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

//! Failure injection for the local protocol servers: a latency on every request and,
//! after a number of requests, a fault — the server dies (stops listening, so
//! connections are refused), hangs (accepts and never answers) or answers every
//! request with HTTP 500. The servers' request loops ask [`Faults::gate`] first.

use std::sync::Mutex;
use std::time::Duration;

/// What goes wrong with a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// It stops listening: every later connection is refused.
    Die,
    /// It accepts requests and never answers them.
    Hang,
    /// It answers every request with HTTP 500.
    Errors,
}

/// A server's injected latency and fault.
#[derive(Debug, Default)]
pub struct Faults {
    /// Slept before every answer (a VM's step takes seconds).
    pub latency: Duration,
    /// Slept in addition before answering a step request (the action itself), for a
    /// latency per environment step rather than per request.
    pub step_latency: Duration,
    /// The fault, and how many requests are answered normally before it starts.
    pub fault: Option<(usize, Fault)>,
    /// Requests seen so far.
    pub seen: usize,
    /// The server is being dropped: a hang ends.
    pub stopping: bool,
}

/// What the request loop does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Answer it.
    Serve,
    /// Answer HTTP 500.
    Error,
    /// Stop listening (drop the request and the server).
    Die,
}

impl Faults {
    /// Called by a request loop for each request: count it, sleep the latency, and
    /// for a hang wait until the fault is cleared or the server stops (the client
    /// times out long before).
    pub fn gate(shared: &Mutex<Faults>) -> Gate {
        Faults::gate_request(shared, false)
    }

    /// [`Faults::gate`] for a request that is (`step`) or is not the environment step
    /// itself; a step also sleeps `step_latency`.
    pub fn gate_request(shared: &Mutex<Faults>, step: bool) -> Gate {
        let (latency, fault) = {
            let mut f = shared.lock().unwrap_or_else(|e| e.into_inner());
            f.seen += 1;
            let fault = match f.fault {
                Some((after, fault)) if f.seen > after => Some(fault),
                _ => None,
            };
            let extra = if step { f.step_latency } else { Duration::ZERO };
            (f.latency + extra, fault)
        };
        std::thread::sleep(latency);
        match fault {
            None => Gate::Serve,
            Some(Fault::Errors) => Gate::Error,
            Some(Fault::Die) => Gate::Die,
            Some(Fault::Hang) => {
                loop {
                    std::thread::sleep(Duration::from_millis(20));
                    let f = shared.lock().unwrap_or_else(|e| e.into_inner());
                    if f.stopping || !matches!(f.fault, Some((_, Fault::Hang))) {
                        break;
                    }
                }
                Gate::Error
            }
        }
    }
}

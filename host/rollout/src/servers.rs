//! The environment's server pool as the rollout sees it: which servers are in the pool,
//! what their last health check said, the health table, and the error when none is
//! left. Lane `i` of a pooled rollout always drives server `i`.

use std::fmt::Write as _;

/// Most times one episode is lost with its server before it counts as a plugin failure
/// (a task that takes down every server it runs on must not empty the pool).
pub const MAX_LOSSES: u32 = 3;

/// What the last health check of one server found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHealth {
    /// The server, as the environment names it (e.g. `http://127.0.0.1:5000`).
    pub server: String,
    /// Its answer (a short description, e.g. the platform), or why it did not answer.
    pub answer: Result<String, String>,
}

impl ServerHealth {
    /// Whether the server is in the pool.
    pub fn up(&self) -> bool {
        self.answer.is_ok()
    }
}

/// A rollout that cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    /// Every server of the environment's pool is out of it.
    #[error(
        "environment `{env}`: none of its {n} servers answers, so no episode can run:\n{table}Start the servers (see scripts/osworld-fleet.sh and scripts/androidworld-fleet.sh), check the `servers` list and its `[env.grants] http` entries, then resume the run"
    )]
    NoServer {
        /// The environment plugin.
        env: String,
        /// How many servers it lists.
        n: usize,
        /// The health table.
        table: String,
    },
}

/// The pool's servers, in the environment's order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Servers {
    pub(crate) health: Vec<ServerHealth>,
    /// Whether every server has been checked once (the table at start).
    pub(crate) admitted: bool,
}

impl Servers {
    /// The pool of `names`, none checked yet.
    pub(crate) fn new(names: &[String]) -> Self {
        Servers {
            health: names
                .iter()
                .map(|n| ServerHealth {
                    server: n.clone(),
                    answer: Err("not checked yet".into()),
                })
                .collect(),
            admitted: false,
        }
    }

    /// Whether the environment has a pool at all.
    pub(crate) fn pooled(&self) -> bool {
        !self.health.is_empty()
    }

    /// Whether server (lane) `i` may run episodes.
    pub(crate) fn up(&self, i: usize) -> bool {
        self.health.get(i).is_some_and(ServerHealth::up)
    }

    /// How many servers are in the pool.
    pub(crate) fn count_up(&self) -> usize {
        self.health.iter().filter(|h| h.up()).count()
    }

    /// The servers out of the pool.
    pub(crate) fn down(&self) -> Vec<String> {
        self.health
            .iter()
            .filter(|h| !h.up())
            .map(|h| h.server.clone())
            .collect()
    }
}

/// The health table: one line per server, `up` with its answer or `DOWN` with why.
pub fn health_table(health: &[ServerHealth]) -> String {
    let width = health.iter().map(|h| h.server.len()).max().unwrap_or(0);
    let mut out = String::new();
    for h in health {
        let (state, detail) = match &h.answer {
            Ok(d) => ("up  ", d.as_str()),
            Err(e) => ("DOWN", e.as_str()),
        };
        let _ = writeln!(out, "  {:<width$}  {state}  {detail}", h.server);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_says_which_server_answered_and_why_not() {
        let t = health_table(&[
            ServerHealth {
                server: "http://127.0.0.1:5000".into(),
                answer: Ok("Linux".into()),
            },
            ServerHealth {
                server: "http://10.0.0.2:5001".into(),
                answer: Err("connection refused".into()),
            },
        ]);
        assert_eq!(
            t,
            "  http://127.0.0.1:5000  up    Linux\n  http://10.0.0.2:5001   DOWN  connection refused\n"
        );
        let mut s = Servers::new(&["a".into(), "b".into()]);
        assert!(s.pooled() && !s.up(0) && s.count_up() == 0);
        s.health[1].answer = Ok(String::new());
        assert_eq!((s.count_up(), s.down()), (1, vec!["a".to_string()]));
        assert!(!Servers::new(&[]).pooled());
    }
}

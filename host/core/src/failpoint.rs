//! Crash injection for tests: `STEPRL_FAILPOINT=NAME:N` makes the process abort (no
//! unwinding, no destructors, no flushing: what `kill -9` leaves) the N-th time it
//! passes the point called NAME. The crash-safety tests use it to stop a run at exact
//! moments (mid-rollout, mid-update, between a checkpoint's files) and check that
//! `resume` still reproduces the uninterrupted run bit for bit. Unset, a point costs
//! one relaxed atomic load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The variable that arms a failpoint.
pub const VAR: &str = "STEPRL_FAILPOINT";

/// Points in the run where a crash can be injected.
pub const POINTS: &[&str] = &[
    "rollout.episode",
    "update.step",
    "metrics.appended",
    "checkpoint.partial",
    "checkpoint.renamed",
];

struct Armed {
    name: String,
    at: u64,
    hits: AtomicU64,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let v = std::env::var(VAR).ok()?;
            let (name, at) = parse(&v)?;
            Some(Armed {
                name,
                at,
                hits: AtomicU64::new(0),
            })
        })
        .as_ref()
}

/// `NAME:N` with a known point name and N ≥ 1; anything else arms nothing.
fn parse(v: &str) -> Option<(String, u64)> {
    let (name, n) = v.rsplit_once(':')?;
    let at: u64 = n.parse().ok()?;
    (at >= 1 && POINTS.contains(&name)).then(|| (name.to_owned(), at))
}

/// Pass the point called `name`: abort the process if it is the armed one and this is
/// the armed pass.
pub fn hit(name: &'static str) {
    debug_assert!(POINTS.contains(&name), "unknown failpoint {name}");
    let Some(a) = armed() else { return };
    if a.name == name && a.hits.fetch_add(1, Ordering::Relaxed) + 1 == a.at {
        eprintln!("{VAR}: aborting at {name}:{}", a.at);
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_points_with_a_positive_count_arm() {
        assert_eq!(parse("update.step:3"), Some(("update.step".to_owned(), 3)));
        assert_eq!(parse("update.step:0"), None);
        assert_eq!(parse("update.step"), None);
        assert_eq!(parse("nowhere:2"), None);
        assert_eq!(parse("update.step:x"), None);
    }
}

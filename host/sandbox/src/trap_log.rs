//! Guest traps' wasm backtraces, shown once per distinct trap: the first time a plugin
//! traps with a given message at a given place its backtrace is logged; later identical
//! traps are only counted, and the count is logged when the plugin is dropped. Error
//! messages carry the trap's one-line reason, never the backtrace, so a plugin that
//! traps in every episode costs one backtrace, not one per episode.

use std::collections::HashMap;
use std::sync::Mutex;

/// A trap's (one-line message, backtrace).
type TrapKey = (String, String);

/// Distinct traps of one plugin: how often each happened, and in which call first.
#[derive(Debug, Default)]
pub struct TrapLog {
    seen: Mutex<HashMap<TrapKey, (u64, &'static str)>>,
}

impl TrapLog {
    /// Record a trap in `call` with one-line `message` and `backtrace`: the text to log
    /// when this trap is new, `None` when it was seen before (then only counted).
    pub fn record(&self, call: &'static str, message: &str, backtrace: &str) -> Option<String> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let n = seen
            .entry((message.to_owned(), backtrace.to_owned()))
            .or_insert((0, call));
        n.0 += 1;
        (n.0 == 1).then(|| {
            format!(
                "call `{call}`: {message}; wasm backtrace (shown once for this trap, later ones are counted):\n{}",
                backtrace.trim_end()
            )
        })
    }

    /// One line per trap that happened more than once: how many times, in which call.
    pub fn repeats(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<String> = seen
            .iter()
            .filter(|(_, (n, _))| *n > 1)
            .map(|((message, _), (n, call))| {
                format!("call `{call}`: {message}: {n} times (backtrace logged at the first)")
            })
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backtrace_is_given_once_per_distinct_trap_and_repeats_are_counted() {
        let log = TrapLog::default();
        let first = log.record(
            "step",
            "wasm `unreachable` instruction executed",
            " 0: f\n 1: g\n",
        );
        let first = first.unwrap();
        assert!(first.contains("0: f\n 1: g"), "{first}");
        for _ in 0..63 {
            assert_eq!(
                log.record(
                    "step",
                    "wasm `unreachable` instruction executed",
                    " 0: f\n 1: g\n"
                ),
                None
            );
        }
        // Another place is another trap.
        assert!(
            log.record("step", "wasm `unreachable` instruction executed", " 0: h\n")
                .is_some()
        );
        assert_eq!(
            log.repeats(),
            vec![
                "call `step`: wasm `unreachable` instruction executed: 64 times (backtrace logged at the first)"
                    .to_owned()
            ]
        );
    }
}

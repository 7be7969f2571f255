//! How much a plugin instance may log: at most [`LINES_PER_SECOND`] lines (its `log`
//! calls and its stdout/stderr lines together) in any one-second window; the rest are
//! dropped and counted, and the next line let through is preceded by one saying how
//! many were dropped. A plugin logging in a loop costs a few hundred lines a second, not
//! the host's memory or the user's terminal.

use std::time::{Duration, Instant};

/// Lines an instance may log per second.
pub const LINES_PER_SECOND: u32 = 200;
/// Lines all plugins of the process together may log per second.
pub const TOTAL_LINES_PER_SECOND: u32 = 1000;

/// The budget of one instance.
#[derive(Debug)]
pub struct LogBudget {
    limit: u32,
    window_start: Option<Instant>,
    in_window: u32,
    dropped: u64,
}

/// What to do with one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Log it; first say that this many lines were dropped (when not 0).
    Log {
        /// Lines dropped since the last one logged.
        dropped_before: u64,
    },
    /// Drop it (counted).
    Drop,
}

impl Default for LogBudget {
    fn default() -> Self {
        LogBudget::new()
    }
}

impl LogBudget {
    /// A full budget.
    pub fn new() -> Self {
        LogBudget::with_limit(LINES_PER_SECOND)
    }

    /// A full budget of `limit` lines a second.
    pub fn with_limit(limit: u32) -> Self {
        LogBudget {
            limit,
            window_start: None,
            in_window: 0,
            dropped: 0,
        }
    }

    /// Whether a line arriving at `now` is logged.
    pub fn admit(&mut self, now: Instant) -> Admit {
        let fresh = self
            .window_start
            .is_none_or(|s| now.saturating_duration_since(s) >= Duration::from_secs(1));
        if fresh {
            self.window_start = Some(now);
            self.in_window = 0;
        }
        if self.in_window >= self.limit {
            self.dropped += 1;
            return Admit::Drop;
        }
        self.in_window += 1;
        let dropped_before = std::mem::take(&mut self.dropped);
        Admit::Log { dropped_before }
    }

    /// Lines dropped and not yet reported (reported by this call).
    pub fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_cut_to_the_budget_and_the_drop_is_reported_once() {
        let mut b = LogBudget::new();
        let t0 = Instant::now();
        let mut logged = 0;
        for i in 0..10_000u32 {
            // 10,000 lines within the first second.
            let now = t0 + Duration::from_micros(u64::from(i) * 50);
            if let Admit::Log { dropped_before } = b.admit(now) {
                assert_eq!(dropped_before, 0);
                logged += 1;
            }
        }
        assert_eq!(logged, LINES_PER_SECOND);
        // A second later: logged again, told how many were dropped, once.
        let later = t0 + Duration::from_secs(2);
        assert_eq!(
            b.admit(later),
            Admit::Log {
                dropped_before: 10_000 - u64::from(LINES_PER_SECOND)
            }
        );
        assert_eq!(b.admit(later), Admit::Log { dropped_before: 0 });
    }

    #[test]
    fn a_budget_holds_its_own_limit() {
        let mut b = LogBudget::with_limit(3);
        let t0 = Instant::now();
        let logged = (0..10)
            .filter(|_| matches!(b.admit(t0), Admit::Log { .. }))
            .count();
        assert_eq!(logged, 3);
        assert_eq!(b.take_dropped(), 7);
    }

    #[test]
    fn lines_dropped_at_the_end_are_handed_over_once() {
        let mut b = LogBudget::new();
        let t0 = Instant::now();
        for _ in 0..(LINES_PER_SECOND + 7) {
            b.admit(t0);
        }
        assert_eq!(b.take_dropped(), 7);
        assert_eq!(b.take_dropped(), 0);
    }
}

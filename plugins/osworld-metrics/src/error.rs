//! [`MetricError`]: every way a final state cannot be scored, naming the metric and the
//! key at fault, so that a task author (or the adapter's author) can fix it.

/// Why a final state could not be scored. A score is never guessed: anything this
/// checker does not implement, or input outside the contract, is one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    /// The evaluator names a metric this checker does not implement.
    #[error("metric {metric} not supported by this checker")]
    Unsupported {
        /// The metric's OSWorld name (e.g. `compare_table`).
        metric: String,
    },
    /// A metric option asks for a feature this checker does not implement
    /// (e.g. `check_json` with `is_yaml: true`).
    #[error("metric {metric}: option `{key}` {reason}: not supported by this checker")]
    UnsupportedOption {
        /// The metric.
        metric: String,
        /// The option key.
        key: String,
        /// What was asked for.
        reason: String,
    },
    /// A rule in the expected value asks for a feature this checker does not
    /// implement (e.g. `check_json`'s `spreadsheet_range` method).
    #[error("metric {metric}: rule `{key}` {reason}: not supported by this checker")]
    UnsupportedRule {
        /// The metric.
        metric: String,
        /// Where the rule sits in the expected value.
        key: String,
        /// What was asked for.
        reason: String,
    },
    /// A CSS selector or XPath expression outside the documented subset
    /// (see [`crate::metrics::a11y`]).
    #[error("metric {metric}: selector `{selector}` not supported by this checker: {reason}")]
    UnsupportedSelector {
        /// The metric.
        metric: String,
        /// The selector or expression as written in the task.
        selector: String,
        /// Which part of it is outside the subset.
        reason: String,
    },
    /// A Python regular expression that Rust's `regex` cannot run (look-around,
    /// back-references).
    #[error("metric {metric}: pattern `{pattern}` not supported by this checker: {reason}")]
    UnsupportedPattern {
        /// The metric.
        metric: String,
        /// The pattern as written in the task.
        pattern: String,
        /// The compiler's complaint.
        reason: String,
    },
    /// An option the metric does not take, or one of the wrong type.
    #[error("metric {metric}: option `{key}`: {reason}")]
    BadOption {
        /// The metric.
        metric: String,
        /// The option key.
        key: String,
        /// What is wrong and what would be valid.
        reason: String,
    },
    /// The metric needs an expected value (OSWorld's second argument) and the final
    /// state has none for it.
    #[error("metric {metric}: needs an expected value but the final state has none")]
    MissingExpected {
        /// The metric.
        metric: String,
    },
    /// The expected value (the rules, or the gold file's contents) is malformed.
    #[error("metric {metric}: expected value `{key}`: {reason}")]
    BadExpected {
        /// The metric.
        metric: String,
        /// The key inside the expected value (`.` for the value itself).
        key: String,
        /// What is wrong and what would be valid.
        reason: String,
    },
    /// The result value has a shape the metric cannot read (e.g. an object where
    /// file contents were due): the adapter's getter and the task disagree.
    #[error("metric {metric}: result {reason}")]
    BadResult {
        /// The metric.
        metric: String,
        /// What is wrong.
        reason: String,
    },
    /// The evaluator as a whole is malformed (arities of func, result, expected and
    /// options disagree, `infeasible` inside a list, ...).
    #[error("evaluator: {0}")]
    BadEvaluator(String),
}

impl MetricError {
    /// Whether the error says "this checker lacks a feature" (as opposed to "this
    /// input is malformed"); such errors become `PluginError::Unsupported`.
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            MetricError::Unsupported { .. }
                | MetricError::UnsupportedOption { .. }
                | MetricError::UnsupportedRule { .. }
                | MetricError::UnsupportedSelector { .. }
                | MetricError::UnsupportedPattern { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_message_is_exact() {
        let e = MetricError::Unsupported {
            metric: "compare_table".into(),
        };
        assert_eq!(
            e.to_string(),
            "metric compare_table not supported by this checker"
        );
        assert!(e.is_unsupported());
        assert!(!MetricError::BadEvaluator("x".into()).is_unsupported());
    }
}

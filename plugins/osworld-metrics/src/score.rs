//! OSWorld's scoring rules (`DesktopEnv.evaluate`) as a pure function of the final
//! state: infeasible tasks, `FAIL` as the last action, one metric or a list of
//! metrics combined with `and`/`or`, and a missing (`null`) result scoring 0.

use std::fmt;

use serde_json::{Map, Value};

use crate::error::MetricError;
use crate::metrics::{self, Scorer};
use crate::state::{Conj, FinalState, Func, INFEASIBLE, Options};

/// The score of a final state and how it was reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// The score in [0, 1] (OSWorld's `evaluate()` return value).
    pub value: f64,
    /// Which rule decided it.
    pub outcome: Outcome,
}

/// Which scoring rule decided a [`Score`].
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `func` is `infeasible`: 1 iff the agent's last action was `FAIL`.
    Infeasible {
        /// Whether the agent's last action was `FAIL`.
        agent_failed: bool,
    },
    /// A feasible task whose last action was `FAIL`: 0 without running metrics.
    AgentFailed,
    /// The metrics ran.
    Metrics {
        /// How they combined (irrelevant for a single metric).
        conj: Conj,
        /// The metrics that ran, in order.
        scores: Vec<MetricScore>,
        /// The metrics not run because the outcome was already decided (`and`
        /// after a 0, `or` after a 1), in order.
        skipped: Vec<String>,
    },
}

/// One metric's score.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricScore {
    /// The metric's name.
    pub metric: String,
    /// Its score in [0, 1].
    pub score: f64,
    /// The result was `null` (missing), so the metric did not run and scored 0.
    pub result_missing: bool,
}

/// Scores a final state with OSWorld's rules:
/// 1. `func == "infeasible"`: 1 iff the last action is `FAIL`, else 0;
/// 2. otherwise a last action `FAIL` scores 0;
/// 3. one metric: its score (`null` result: 0);
/// 4. a list: `and` stops at the first 0 (score 0) and is otherwise the mean;
///    `or` stops at the first 1 (score 1) and is otherwise the maximum.
///
/// Every metric's name, options and expected value are checked before anything is
/// scored, so a task with a metric this checker does not implement always fails
/// with [`MetricError::Unsupported`], whatever the agent did.
pub fn score(state: &FinalState) -> Result<Score, MetricError> {
    let ev = &state.evaluator;
    if ev.func.is_infeasible() {
        let agent_failed = state.agent_failed();
        return Ok(Score {
            value: if agent_failed { 1.0 } else { 0.0 },
            outcome: Outcome::Infeasible { agent_failed },
        });
    }
    let names = ev.func.names();
    if names.is_empty() {
        return Err(MetricError::BadEvaluator("`func` is an empty list".into()));
    }
    if names.contains(&INFEASIBLE) {
        return Err(MetricError::BadEvaluator(
            "`infeasible` must be the only `func`, not part of a list".into(),
        ));
    }
    let inputs = split(state, names.len())?;
    let scorers = names
        .iter()
        .zip(&inputs)
        .map(|(name, input)| metrics::prepare(name, input.expected, &input.options))
        .collect::<Result<Vec<Box<dyn Scorer>>, MetricError>>()?;
    if state.agent_failed() {
        return Ok(Score {
            value: 0.0,
            outcome: Outcome::AgentFailed,
        });
    }

    let mut scores = Vec::with_capacity(names.len());
    let mut decided = None;
    for (i, (name, scorer)) in names.iter().zip(&scorers).enumerate() {
        let result = inputs[i].result;
        let s = if result.is_null() {
            0.0
        } else {
            scorer.score(result)?
        };
        scores.push(MetricScore {
            metric: (*name).into(),
            score: s,
            result_missing: result.is_null(),
        });
        if names.len() > 1 {
            match ev.conj {
                Conj::And if s == 0.0 => decided = Some(0.0),
                Conj::Or if s == 1.0 => decided = Some(1.0),
                _ => {}
            }
        }
        if decided.is_some() {
            break;
        }
    }
    let skipped: Vec<String> = names[scores.len()..].iter().map(|n| (*n).into()).collect();
    let value = decided.unwrap_or_else(|| match ev.conj {
        Conj::And => scores.iter().map(|m| m.score).sum::<f64>() / scores.len() as f64,
        Conj::Or => scores.iter().map(|m| m.score).fold(0.0, f64::max),
    });
    Ok(Score {
        value,
        outcome: Outcome::Metrics {
            conj: ev.conj,
            scores,
            skipped,
        },
    })
}

/// One metric's inputs.
struct Input<'a> {
    result: &'a Value,
    expected: Option<&'a Value>,
    options: Map<String, Value>,
}

static NULL: Value = Value::Null;

/// Splits `result`, `expected` and `options` into one input per metric, checking
/// their arities.
fn split(state: &FinalState, n: usize) -> Result<Vec<Input<'_>>, MetricError> {
    let ev = &state.evaluator;
    if let Func::One(_) = ev.func {
        let options = match &ev.options {
            None => Map::new(),
            Some(Options::One(m)) => m.clone(),
            Some(Options::Many(_)) => {
                return Err(MetricError::BadEvaluator(
                    "`options` is a list but `func` is a single metric".into(),
                ));
            }
        };
        return Ok(vec![Input {
            result: state.result.as_ref().unwrap_or(&NULL),
            expected: state.expected.as_ref(),
            options,
        }]);
    }
    let results = per_metric("result", state.result.as_ref(), n)?.ok_or_else(|| {
        MetricError::BadEvaluator(format!(
            "`result` is missing: it must be a list of {n} values, one per metric"
        ))
    })?;
    let expected = per_metric("expected", state.expected.as_ref(), n)?;
    let options: Vec<Map<String, Value>> = match &ev.options {
        None => vec![Map::new(); n],
        Some(Options::One(m)) if m.is_empty() => vec![Map::new(); n],
        Some(Options::One(_)) => {
            return Err(MetricError::BadEvaluator(format!(
                "`options` must be a list of {n} objects, one per metric"
            )));
        }
        Some(Options::Many(os)) if os.len() == n => {
            os.iter().map(|o| o.clone().unwrap_or_default()).collect()
        }
        Some(Options::Many(os)) => {
            return Err(MetricError::BadEvaluator(format!(
                "`options` has {} entries but `func` lists {n} metrics",
                os.len()
            )));
        }
    };
    Ok(options
        .into_iter()
        .enumerate()
        .map(|(i, options)| Input {
            result: &results[i],
            expected: expected.map(|e| &e[i]).filter(|v| !v.is_null()),
            options,
        })
        .collect())
}

/// `result` or `expected` of a list of `n` metrics: a list of `n` values.
fn per_metric<'a>(
    what: &str,
    v: Option<&'a Value>,
    n: usize,
) -> Result<Option<&'a [Value]>, MetricError> {
    match v {
        None => Ok(None),
        Some(Value::Array(xs)) if xs.len() == n => Ok(Some(xs)),
        Some(Value::Array(xs)) => Err(MetricError::BadEvaluator(format!(
            "`{what}` has {} values but `func` lists {n} metrics",
            xs.len()
        ))),
        Some(_) => Err(MetricError::BadEvaluator(format!(
            "`{what}` must be a list of {n} values, one per metric"
        ))),
    }
}

/// A score for people: integers as `0`/`1`, otherwise 4 decimals.
fn fmt_score(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.4}")
    }
}

impl fmt::Display for MetricScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.metric, fmt_score(self.score))?;
        if self.result_missing {
            write!(f, " (result missing)")?;
        }
        Ok(())
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::Infeasible { agent_failed: true } => {
                write!(f, "infeasible task and the agent answered FAIL: 1")
            }
            Outcome::Infeasible {
                agent_failed: false,
            } => write!(f, "infeasible task but the agent did not answer FAIL: 0"),
            Outcome::AgentFailed => write!(f, "the agent answered FAIL on a feasible task: 0"),
            Outcome::Metrics {
                scores, skipped, ..
            } if scores.len() == 1 && skipped.is_empty() => write!(f, "{}", scores[0]),
            Outcome::Metrics {
                conj,
                scores,
                skipped,
            } => {
                let parts: Vec<String> = scores.iter().map(ToString::to_string).collect();
                write!(f, "{}({}", conj.as_str(), parts.join(", "))?;
                if !skipped.is_empty() {
                    write!(f, "; not run: {}", skipped.join(", "))?;
                }
                write!(f, ") = {}", fmt_score(self.value))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(v: Value) -> FinalState {
        serde_json::from_value(v).unwrap()
    }

    fn value(v: Value) -> f64 {
        score(&state(v)).unwrap().value
    }

    #[test]
    fn infeasible_tasks_reward_giving_up() {
        let s = |last: Value| json!({"task_id": "t", "evaluator": {"func": "infeasible"}, "last_action": last});
        let fail = score(&state(s(json!("FAIL")))).unwrap();
        assert_eq!(fail.value, 1.0);
        assert_eq!(fail.outcome, Outcome::Infeasible { agent_failed: true });
        assert_eq!(
            fail.to_string(),
            "infeasible task and the agent answered FAIL: 1"
        );
        assert_eq!(value(s(json!("{\"action_type\": \"FAIL\"}"))), 1.0);
        assert_eq!(value(s(json!("DONE"))), 0.0);
        assert_eq!(value(s(json!("pyautogui.click(10, 10)"))), 0.0);
        assert_eq!(value(s(Value::Null)), 0.0);
    }

    #[test]
    fn fail_on_a_feasible_task_scores_zero() {
        // os 94d95f96-9699-4208-98ba-3c3119edf9c2, with a result that would pass.
        let v = json!({"task_id": "94d95f96-9699-4208-98ba-3c3119edf9c2",
            "evaluator": {"func": "check_include_exclude"},
            "result": "/snap/bin/spotify\n",
            "expected": {"include": ["spotify"], "exclude": ["not found"]},
            "last_action": "FAIL"});
        let s = score(&state(v.clone())).unwrap();
        assert_eq!((s.value, &s.outcome), (0.0, &Outcome::AgentFailed));
        let mut done = v;
        done["last_action"] = json!("DONE");
        let s = score(&state(done)).unwrap();
        assert_eq!(s.value, 1.0);
        assert_eq!(s.to_string(), "check_include_exclude = 1");
    }

    #[test]
    fn missing_result_scores_zero() {
        // vs_code 276cc624-87ea-4f08-ab93-f770e3790175: settings.json does not exist.
        let v = json!({"task_id": "t", "evaluator": {"func": "check_json_settings"},
            "result": null, "expected": {"expected": {"editor.wordWrapColumn": 50}}, "last_action": "DONE"});
        let s = score(&state(v)).unwrap();
        assert_eq!(s.value, 0.0);
        assert_eq!(s.to_string(), "check_json_settings = 0 (result missing)");
        let v = json!({"task_id": "t", "evaluator": {"func": "exact_match"},
            "expected": {"expected": "x"}, "last_action": "DONE"});
        assert_eq!(value(v), 0.0);
    }

    #[test]
    fn and_stops_at_zero_and_averages() {
        // multi_apps 2373b66a-092d-44cb-bfd7-82e86e7a3b4d: two checks of one report.
        let report = "12:00:01 CPU %user %nice %system %iowait %steal %idle\n";
        let v = |n: &str| {
            json!({"task_id": "2373b66a-092d-44cb-bfd7-82e86e7a3b4d",
            "evaluator": {"func": ["file_contains", "check_line_number"]},
            "result": [report, report],
            "expected": [{"expected": ["CPU", "%idle"]}, {"expected": n}],
            "last_action": "DONE"})
        };
        assert_eq!(value(v("1")), 1.0);
        let s = score(&state(v("31"))).unwrap();
        assert_eq!(s.value, 0.0);
        assert_eq!(
            s.to_string(),
            "and(file_contains = 1, check_line_number = 0) = 0"
        );
        // The mean of graded scores when none is 0.
        let gold = "a\nb\nc\nd\n";
        let v = json!({"task_id": "t", "evaluator": {"func": ["diff_text_file", "exact_match"], "conj": "and"},
            "result": ["a\nb\nx\ny\n", "ok"], "expected": [gold, {"expected": "ok"}]});
        let s = score(&state(v)).unwrap();
        assert_eq!(s.value, 0.75);
        assert_eq!(
            s.to_string(),
            "and(diff_text_file = 0.5000, exact_match = 1) = 0.7500"
        );
        // A 0 first: the rest is not run.
        let v = json!({"task_id": "t", "evaluator": {"func": ["exact_match", "exact_match"]},
            "result": ["no", null], "expected": [{"expected": "yes"}, {"expected": "yes"}]});
        let s = score(&state(v)).unwrap();
        assert_eq!(
            s.to_string(),
            "and(exact_match = 0; not run: exact_match) = 0"
        );
    }

    #[test]
    fn or_stops_at_one_and_takes_the_max() {
        // chrome b070486d-e161-459b-aa2b-ef442d973b92: either page counts.
        let v = |url: &str| {
            json!({"task_id": "b070486d-e161-459b-aa2b-ef442d973b92",
            "evaluator": {"func": ["exact_match", "exact_match"], "conj": "or"},
            "result": [url, url],
            "expected": [{"expected": "tamiflu.html#side-effects"}, {"expected": "tamiflu-side-effects.html"}],
            "last_action": "DONE"})
        };
        assert_eq!(value(v("tamiflu.html#side-effects")), 1.0);
        assert_eq!(value(v("tamiflu-side-effects.html")), 1.0);
        assert_eq!(value(v("tamiflu.html")), 0.0);
        let s = score(&state(v("tamiflu.html#side-effects"))).unwrap();
        assert_eq!(
            s.to_string(),
            "or(exact_match = 1; not run: exact_match) = 1"
        );
        let v = json!({"task_id": "t", "evaluator": {"func": ["fuzzy_match", "fuzzy_match"], "conj": "or"},
            "result": ["kitten", "Hello"], "expected": [{"expected": "sitting"}, {"expected": "hello"}]});
        assert_eq!(value(v), 0.8);
        let v = json!({"task_id": "t", "evaluator": {"func": ["exact_match", "exact_match"], "conj": "or"},
            "result": [null, "a"], "expected": [{"expected": "a"}, {"expected": "a"}]});
        assert_eq!(value(v), 1.0);
    }

    #[test]
    fn unsupported_metrics_fail_whatever_the_agent_did() {
        for last in ["DONE", "FAIL"] {
            let v = json!({"task_id": "t", "evaluator": {"func": ["exact_match", "compare_table"]},
                "result": ["x", "/tmp/a.xlsx"], "expected": [{"expected": "y"}, "/tmp/b.xlsx"], "last_action": last});
            let e = score(&state(v)).unwrap_err();
            assert_eq!(
                e,
                MetricError::Unsupported {
                    metric: "compare_table".into()
                }
            );
            assert_eq!(
                e.to_string(),
                "metric compare_table not supported by this checker"
            );
        }
    }

    #[test]
    fn options_per_metric() {
        // multi_apps df67aebb-fb3a-44fd-b75b-51b6012df509: one options object.
        let v = json!({"task_id": "t", "evaluator": {"func": "compare_text_file", "options": {"ignore_blanks": true}},
            "result": " a  b\n", "expected": "a b"});
        assert_eq!(value(v), 1.0);
        let v = json!({"task_id": "t",
            "evaluator": {"func": ["exact_match", "compare_text_file"], "options": [null, {"ignore_case": true}]},
            "result": ["x", "ABC"], "expected": [{"expected": "x"}, "abc"]});
        assert_eq!(value(v), 1.0);
        let v = json!({"task_id": "t",
            "evaluator": {"func": ["exact_match", "compare_text_file"], "options": {}},
            "result": ["x", "abc"], "expected": [{"expected": "x"}, "abc"]});
        assert_eq!(value(v), 1.0);
    }

    #[test]
    fn arity_errors() {
        let bad = |v: Value| score(&state(v)).unwrap_err();
        let e = bad(
            json!({"task_id": "t", "evaluator": {"func": ["exact_match", "exact_match"]},
            "result": ["x"], "expected": [{"expected": "x"}, {"expected": "x"}]}),
        );
        assert_eq!(
            e.to_string(),
            "evaluator: `result` has 1 values but `func` lists 2 metrics"
        );
        let e = bad(
            json!({"task_id": "t", "evaluator": {"func": ["exact_match", "exact_match"]},
            "expected": [{"expected": "x"}, {"expected": "x"}]}),
        );
        assert!(matches!(e, MetricError::BadEvaluator(_)), "{e}");
        let e = bad(
            json!({"task_id": "t", "evaluator": {"func": ["exact_match", "exact_match"]},
            "result": ["x", "x"], "expected": {"expected": "x"}}),
        );
        assert!(
            e.to_string()
                .contains("`expected` must be a list of 2 values"),
            "{e}"
        );
        let e = bad(
            json!({"task_id": "t", "evaluator": {"func": ["exact_match", "exact_match"],
            "options": [{}]}, "result": ["x", "x"], "expected": [{"expected": "x"}, {"expected": "x"}]}),
        );
        assert!(e.to_string().contains("`options` has 1 entries"), "{e}");
        let e = bad(
            json!({"task_id": "t", "evaluator": {"func": "exact_match", "options": [{}]},
            "result": "x", "expected": {"expected": "x"}}),
        );
        assert!(matches!(e, MetricError::BadEvaluator(_)), "{e}");
        let e = bad(
            json!({"task_id": "t", "evaluator": {"func": ["exact_match", "infeasible"]}, "result": ["x", "x"]}),
        );
        assert!(e.to_string().contains("infeasible"), "{e}");
        let e = bad(json!({"task_id": "t", "evaluator": {"func": []}, "result": []}));
        assert!(matches!(e, MetricError::BadEvaluator(_)), "{e}");
        // A null expected inside the list means "none" for that metric.
        let e = bad(
            json!({"task_id": "t", "evaluator": {"func": ["exact_match", "exact_match"]},
            "result": ["x", "x"], "expected": [{"expected": "x"}, null]}),
        );
        assert_eq!(
            e,
            MetricError::MissingExpected {
                metric: "exact_match".into()
            }
        );
    }
}

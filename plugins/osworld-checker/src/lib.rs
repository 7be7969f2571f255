//! The `osworld-checker` reward-checker plugin: scores an OSWorld episode from the
//! adapter's final state with OSWorld's rules (`osworld_metrics::score`); success is
//! a score at or above the configured threshold.

use osworld_metrics::{FinalState, MetricError, is_fail_action, score};
use serde_json::Value;
use steprl_plugin::check::{
    Action, PluginError, RewardChecker, TaskInfo, TrajectorySummary, Verdict, is_supports_probe,
};

/// The checker. Config: `{}` or `{"success_threshold": T}` with 0 < T ≤ 1
/// (default 1: only a full score is a success).
#[derive(Debug, Clone, PartialEq)]
pub struct OsworldChecker {
    success_threshold: f64,
}

/// The config keys `init` accepts.
const KEYS: &[&str] = &["success_threshold"];

impl OsworldChecker {
    fn from_config(config_json: &str) -> Result<Self, PluginError> {
        let Ok(Value::Object(m)) = serde_json::from_str::<Value>(config_json) else {
            return Err(PluginError::InvalidConfig(
                "expected a JSON object such as {} or {\"success_threshold\": 1.0}".into(),
            ));
        };
        let unknown: Vec<&str> = m
            .keys()
            .map(String::as_str)
            .filter(|k| !KEYS.contains(k))
            .collect();
        if !unknown.is_empty() {
            return Err(PluginError::InvalidConfig(format!(
                "unknown key{} {}: osworld-checker takes only `success_threshold`",
                if unknown.len() > 1 { "s" } else { "" },
                unknown
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let success_threshold = match m.get("success_threshold") {
            None => 1.0,
            Some(v) => match v.as_f64() {
                Some(t) if t > 0.0 && t <= 1.0 => t,
                _ => {
                    return Err(PluginError::InvalidConfig(format!(
                        "`success_threshold`: expected a number in (0, 1], got {v}"
                    )));
                }
            },
        };
        Ok(OsworldChecker { success_threshold })
    }
}

/// Checks that the trajectory's last action and the final state's `last_action`
/// agree on what scoring reads from them (whether the agent answered `FAIL`).
/// Discrete actions cannot be compared (their meaning is the adapter's) and pass.
fn check_last_action(t: &TrajectorySummary, state: &FinalState) -> Result<(), PluginError> {
    let claimed = state.last_action.as_deref();
    let disagree = |what: String| {
        PluginError::InvalidInput(format!(
            "{what} but the final state's last_action is {}",
            claimed.map_or("null".to_owned(), |a| format!("{a:?}"))
        ))
    };
    match t.actions.last() {
        None if claimed.is_some() => Err(disagree("the trajectory has no actions".into())),
        None | Some(Action::Discrete(_)) => Ok(()),
        Some(Action::Text(a)) => {
            let failed = is_fail_action(a.trim());
            if claimed.is_none() || claimed.is_some_and(|c| is_fail_action(c.trim()) != failed) {
                return Err(disagree(format!("the trajectory ends with {a:?}")));
            }
            Ok(())
        }
    }
}

/// The probe's answer: `unsupported`, naming the metrics, when the task's evaluator
/// (its metadata's `func`, as the osworld adapter writes it) uses a metric this
/// checker does not implement; a verdict of nothing otherwise.
fn supports(task: &TaskInfo) -> Result<Verdict, PluginError> {
    let meta: Value = serde_json::from_str(&task.metadata_json).unwrap_or(Value::Null);
    let funcs: Vec<&str> = match meta.get("func") {
        Some(Value::String(f)) => vec![f.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut missing: Vec<&str> = funcs
        .into_iter()
        .filter(|f| *f != "infeasible" && !osworld_metrics::SUPPORTED.contains(f))
        .collect();
    missing.dedup();
    match missing.as_slice() {
        [] => Ok(Verdict {
            success: false,
            score: 0.0,
            reason: "osworld-checker can judge this task".into(),
            step_rewards: None,
        }),
        [one] => Err(PluginError::Unsupported(format!(
            "metric {one} is not implemented by osworld-checker"
        ))),
        many => Err(PluginError::Unsupported(format!(
            "metrics {} are not implemented by osworld-checker",
            many.join(", ")
        ))),
    }
}

fn plugin_error(e: MetricError) -> PluginError {
    if e.is_unsupported() {
        PluginError::Unsupported(e.to_string())
    } else {
        PluginError::InvalidInput(e.to_string())
    }
}

impl RewardChecker for OsworldChecker {
    fn init(config_json: &str) -> Result<Self, PluginError> {
        Self::from_config(config_json)
    }

    fn check(
        &self,
        task: &TaskInfo,
        trajectory: &TrajectorySummary,
        final_state_json: &str,
    ) -> Result<Verdict, PluginError> {
        if is_supports_probe(final_state_json) {
            return supports(task);
        }
        let state: FinalState = serde_json::from_str(final_state_json).map_err(|e| {
            PluginError::InvalidInput(format!(
                "final state of task `{}` is not an OSWorld final state: {e}",
                task.id
            ))
        })?;
        check_last_action(trajectory, &state)?;
        let s = score(&state).map_err(plugin_error)?;
        let value = s.value.clamp(0.0, 1.0);
        let success = value >= self.success_threshold;
        let mut reason = s.to_string();
        if !success && value > 0.0 {
            reason.push_str(&format!(
                " (below the success threshold {})",
                self.success_threshold
            ));
        }
        Ok(Verdict {
            success,
            score: value as f32,
            reason,
            step_rewards: None,
        })
    }
}

steprl_plugin::export_reward_checker!(OsworldChecker);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task() -> TaskInfo {
        TaskInfo {
            id: "os.94d95f96".into(),
            suite: "os".into(),
            instruction: "install spotify".into(),
            max_steps: 15,
            difficulty: None,
            metadata_json: "{}".into(),
        }
    }

    #[test]
    fn the_supports_probe_names_the_metrics_it_lacks() {
        let c = OsworldChecker::from_config("{}").unwrap();
        let probe = r#"{"steprl_probe":"supports"}"#;
        let with = |func: Value| TaskInfo {
            metadata_json: json!({ "func": func }).to_string(),
            ..task()
        };
        assert!(
            c.check(&with(json!("exact_match")), &trajectory(&[]), probe)
                .is_ok()
        );
        assert!(
            c.check(&with(json!("infeasible")), &trajectory(&[]), probe)
                .is_ok()
        );
        assert_eq!(
            c.check(&with(json!("compare_pdfs")), &trajectory(&[]), probe),
            Err(PluginError::Unsupported(
                "metric compare_pdfs is not implemented by osworld-checker".into()
            ))
        );
        assert_eq!(
            c.check(
                &with(json!(["exact_match", "compare_table", "compare_pdfs"])),
                &trajectory(&[]),
                probe
            ),
            Err(PluginError::Unsupported(
                "metrics compare_table, compare_pdfs are not implemented by osworld-checker".into()
            ))
        );
    }

    fn trajectory(actions: &[&str]) -> TrajectorySummary {
        TrajectorySummary {
            seed: 0,
            actions: actions.iter().map(|a| Action::Text((*a).into())).collect(),
            rewards: vec![0.0; actions.len()],
            done: true,
            truncated: false,
        }
    }

    fn spotify(result: &str, last: &str) -> String {
        json!({"task_id": "94d95f96-9699-4208-98ba-3c3119edf9c2",
            "evaluator": {"func": "check_include_exclude"},
            "result": result,
            "expected": {"include": ["spotify"], "exclude": ["not found"]},
            "last_action": last})
        .to_string()
    }

    #[test]
    fn config() {
        assert_eq!(OsworldChecker::init("{}").unwrap().success_threshold, 1.0);
        let c = OsworldChecker::init(r#"{"success_threshold": 0.5}"#).unwrap();
        assert_eq!(c.success_threshold, 0.5);
        let Err(PluginError::InvalidConfig(m)) =
            OsworldChecker::init(r#"{"threshold": 1, "seed": 2}"#)
        else {
            panic!("unknown keys accepted")
        };
        assert!(m.contains("`threshold`") && m.contains("`seed`"), "{m}");
        for bad in [
            r#"{"success_threshold": 0}"#,
            r#"{"success_threshold": 1.5}"#,
            r#"{"success_threshold": "1"}"#,
            "[]",
            "nope",
        ] {
            assert!(
                matches!(
                    OsworldChecker::init(bad),
                    Err(PluginError::InvalidConfig(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn verdicts() {
        let c = OsworldChecker::init("{}").unwrap();
        let v = c
            .check(
                &task(),
                &trajectory(&["pyautogui.typewrite('snap install spotify')", "DONE"]),
                &spotify("/snap/bin/spotify\n", "DONE"),
            )
            .unwrap();
        assert!(v.success);
        assert_eq!(v.score, 1.0);
        assert_eq!(v.reason, "check_include_exclude = 1");
        let v = c
            .check(
                &task(),
                &trajectory(&["DONE"]),
                &spotify("spotify not found\n", "DONE"),
            )
            .unwrap();
        assert!(!v.success);
        assert_eq!(v.score, 0.0);
        let v = c
            .check(
                &task(),
                &trajectory(&["FAIL"]),
                &spotify("/snap/bin/spotify\n", "FAIL"),
            )
            .unwrap();
        assert!(!v.success);
        assert_eq!(v.reason, "the agent answered FAIL on a feasible task: 0");
    }

    #[test]
    fn partial_scores_and_the_threshold() {
        let state = json!({"task_id": "t", "evaluator": {"func": "fuzzy_match"},
            "result": "kitten", "expected": {"expected": "sitting"}, "last_action": "DONE"})
        .to_string();
        let strict = OsworldChecker::init("{}").unwrap();
        let v = strict
            .check(&task(), &trajectory(&["DONE"]), &state)
            .unwrap();
        assert!(!v.success);
        assert!((v.score - 0.6153846).abs() < 1e-6, "{}", v.score);
        assert_eq!(
            v.reason,
            "fuzzy_match = 0.6154 (below the success threshold 1)"
        );
        let lenient = OsworldChecker::init(r#"{"success_threshold": 0.6}"#).unwrap();
        assert!(
            lenient
                .check(&task(), &trajectory(&["DONE"]), &state)
                .unwrap()
                .success
        );
    }

    #[test]
    fn errors() {
        let c = OsworldChecker::init("{}").unwrap();
        let Err(PluginError::InvalidInput(m)) =
            c.check(&task(), &trajectory(&["DONE"]), "{\"task_id\": 1}")
        else {
            panic!("bad JSON accepted")
        };
        assert!(m.contains("not an OSWorld final state"), "{m}");
        let table = json!({"task_id": "t", "evaluator": {"func": "compare_table"},
            "result": "a", "expected": "b", "last_action": "DONE"})
        .to_string();
        assert_eq!(
            c.check(&task(), &trajectory(&["DONE"]), &table),
            Err(PluginError::Unsupported(
                "metric compare_table not supported by this checker".into()
            ))
        );
        let Err(PluginError::InvalidInput(m)) = c.check(
            &task(),
            &trajectory(&["FAIL"]),
            &spotify("/snap/bin/spotify\n", "DONE"),
        ) else {
            panic!("disagreeing last action accepted")
        };
        assert!(m.contains("\"FAIL\"") && m.contains("\"DONE\""), "{m}");
        assert!(
            c.check(&task(), &trajectory(&[]), &spotify("x", "DONE"))
                .is_err()
        );
        // Discrete actions are the adapter's business: not compared.
        let mut t = trajectory(&[]);
        t.actions.push(Action::Discrete(3));
        assert!(
            c.check(&task(), &t, &spotify("/snap/bin/spotify\n", "DONE"))
                .unwrap()
                .success
        );
    }
}

//! The final state an episode hands the checker, and the suite's done-gating: an
//! episode counts only if the agent ended it with a `status` action, and then scores
//! what the task's own `is_successful` says.

use serde::{Deserialize, Serialize};

use crate::error::AwError;
use crate::tasks::TaskId;

/// What the reward checker reads (the environment's final-state JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinalState {
    /// The task type.
    pub task_type: String,
    /// The task instance.
    pub task_idx: u32,
    /// `/task/score`: the task's own success in [0, 1], read before tear-down.
    pub score: f64,
    /// Whether the agent's last action was a `status` action.
    pub ended_with_status: bool,
    /// That action's `goal_status` (`complete` or `infeasible`), or null.
    pub goal_status: Option<String>,
    /// The text of the agent's last `answer` action, if any (information-retrieval
    /// tasks score it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Steps taken.
    #[serde(default)]
    pub steps: u32,
    /// Whether the step budget ran out.
    #[serde(default)]
    pub truncated: bool,
    /// Actions the device failed to perform (`/execute_action` errors).
    #[serde(default)]
    pub action_errors: u32,
}

impl FinalState {
    /// Parse the final-state JSON, naming what is wrong.
    pub fn from_json(json: &str) -> Result<FinalState, AwError> {
        let s: FinalState = serde_json::from_str(json).map_err(|e| {
            AwError::InvalidInput(format!(
                "the final state is not an androidworld final state: {e}"
            ))
        })?;
        if !s.score.is_finite() || !(0.0..=1.0).contains(&s.score) {
            return Err(AwError::InvalidInput(format!(
                "final state: score {} is outside [0, 1]",
                s.score
            )));
        }
        match s.goal_status.as_deref() {
            None | Some("complete") | Some("infeasible") => {}
            Some(other) => {
                return Err(AwError::InvalidInput(format!(
                    "final state: goal_status `{other}` is not `complete`, `infeasible` or null"
                )));
            }
        }
        if s.ended_with_status != s.goal_status.is_some() {
            return Err(AwError::InvalidInput(
                "final state: ended_with_status and goal_status disagree".into(),
            ));
        }
        Ok(s)
    }

    /// The JSON the checker reads.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a final state always serializes")
    }
}

/// The checker's configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckerConfig {
    /// The gated score must reach this for success (default 1.0: composite tasks with
    /// partial credit, e.g. 0.5, fail).
    pub success_threshold: f64,
    /// Count `status: infeasible` like `complete` (the suite's own runner does: any
    /// `status` action ends the episode and the task's score decides). Default false:
    /// every AndroidWorld task is feasible, so declaring one infeasible fails.
    pub infeasible_as_done: bool,
}

impl Default for CheckerConfig {
    fn default() -> Self {
        CheckerConfig {
            success_threshold: 1.0,
            infeasible_as_done: false,
        }
    }
}

impl CheckerConfig {
    /// Parse and check the checker's config JSON (`{}` = defaults).
    pub fn from_json(json: &str) -> Result<CheckerConfig, AwError> {
        let json = if json.trim().is_empty() { "{}" } else { json };
        let c: CheckerConfig = serde_json::from_str(json).map_err(|e| {
            AwError::InvalidConfig(format!(
                "androidworld-checker config: {e} (keys: success_threshold, infeasible_as_done)"
            ))
        })?;
        if !(c.success_threshold > 0.0 && c.success_threshold <= 1.0) {
            return Err(AwError::InvalidConfig(format!(
                "success_threshold: {} is outside (0, 1]",
                c.success_threshold
            )));
        }
        Ok(c)
    }
}

/// A verdict before it becomes the WIT record.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// Whether the episode counts as a success.
    pub success: bool,
    /// The gated score: the task's score if the agent ended with a counted status
    /// action, else 0.
    pub score: f32,
    /// Why.
    pub reason: String,
}

/// Judge an episode of `task_id` from its final-state JSON.
pub fn judge(
    task_id: &str,
    final_state: &str,
    config: &CheckerConfig,
) -> Result<Judgement, AwError> {
    let s = FinalState::from_json(final_state)?;
    let id = TaskId::parse(task_id).map_err(|e| AwError::InvalidInput(e.to_string()))?;
    if id.task_type != s.task_type || id.task_idx != s.task_idx {
        return Err(AwError::InvalidInput(format!(
            "the final state is of {}#{}, not of {task_id}",
            s.task_type, s.task_idx
        )));
    }
    let t = config.success_threshold;
    let score = s.score;
    let budget = if s.truncated {
        format!(" (the step budget ran out after {} steps)", s.steps)
    } else {
        String::new()
    };
    let (counted, success, reason) = match s.goal_status.as_deref() {
        None => (
            false,
            false,
            format!(
                "the agent never ended with a status action{budget}; the suite counts an episode only \
                 when the agent says it is done (the task's own score was {score})"
            ),
        ),
        Some("infeasible") if !config.infeasible_as_done => (
            false,
            false,
            format!(
                "the agent declared the task infeasible, but every AndroidWorld task is feasible \
                 (the task's own score was {score})"
            ),
        ),
        Some(status) => {
            let ok = score >= t;
            let said = if status == "complete" {
                "the agent said complete".to_owned()
            } else {
                "the agent said infeasible (counted as done)".to_owned()
            };
            let reason = if ok {
                format!("{said} and the task's score is {score} (threshold {t})")
            } else {
                format!("{said}, but the task's score is {score}, below the threshold {t}")
            };
            (true, ok, reason)
        }
    };
    Ok(Judgement {
        success,
        score: if counted { score as f32 } else { 0.0 },
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(score: f64, status: Option<&str>) -> String {
        FinalState {
            task_type: "SystemWifiTurnOn".into(),
            task_idx: 0,
            score,
            ended_with_status: status.is_some(),
            goal_status: status.map(str::to_owned),
            answer: None,
            steps: 3,
            truncated: status.is_none(),
            action_errors: 0,
        }
        .to_json()
    }

    fn j(score: f64, status: Option<&str>, config: &CheckerConfig) -> Judgement {
        judge("SystemWifiTurnOn#0", &state(score, status), config).unwrap()
    }

    #[test]
    fn success_needs_complete_and_the_score() {
        let c = CheckerConfig::default();
        let v = j(1.0, Some("complete"), &c);
        assert!(v.success && v.score == 1.0, "{v:?}");
        assert!(v.reason.contains("said complete and the task's score is 1"));
        let v = j(0.0, Some("complete"), &c);
        assert!(!v.success && v.score == 0.0);
        assert!(v.reason.contains("below the threshold 1"));
        // Partial credit of a composite task fails at the default threshold...
        let v = j(0.5, Some("complete"), &c);
        assert!(!v.success && v.score == 0.5, "{v:?}");
        // ... and passes at a lower one.
        let half = CheckerConfig::from_json(r#"{"success_threshold":0.5}"#).unwrap();
        assert!(j(0.5, Some("complete"), &half).success);
    }

    #[test]
    fn no_status_fails_whatever_the_score() {
        let v = j(1.0, None, &CheckerConfig::default());
        assert!(!v.success && v.score == 0.0);
        assert!(
            v.reason.contains("never ended with a status action"),
            "{}",
            v.reason
        );
        assert!(v.reason.contains("step budget ran out after 3 steps"));
        assert!(v.reason.contains("own score was 1"));
    }

    #[test]
    fn infeasible_fails_unless_counted_as_done() {
        let v = j(1.0, Some("infeasible"), &CheckerConfig::default());
        assert!(!v.success && v.score == 0.0);
        assert!(v.reason.contains("declared the task infeasible"));
        let suite = CheckerConfig::from_json(r#"{"infeasible_as_done":true}"#).unwrap();
        let v = j(1.0, Some("infeasible"), &suite);
        assert!(v.success, "{v:?}");
        assert!(v.reason.contains("counted as done"));
        assert!(!j(0.0, Some("infeasible"), &suite).success);
    }

    #[test]
    fn bad_configs_and_states_are_named() {
        let e = CheckerConfig::from_json(r#"{"threshold":1}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown field `threshold`") && e.contains("success_threshold"),
            "{e}"
        );
        for bad in [r#"{"success_threshold":0}"#, r#"{"success_threshold":1.5}"#] {
            let e = CheckerConfig::from_json(bad).unwrap_err();
            assert!(matches!(e, AwError::InvalidConfig(m) if m.contains("outside (0, 1]")));
        }
        let c = CheckerConfig::default();
        let e = judge("SystemWifiTurnOn#0", "{}", &c).unwrap_err();
        assert!(matches!(e, AwError::InvalidInput(m) if m.contains("missing field")));
        let e = judge("SystemWifiTurnOn#1", &state(1.0, None), &c).unwrap_err();
        assert!(matches!(e, AwError::InvalidInput(m) if m.contains("not of SystemWifiTurnOn#1")));
        let e = judge("SystemWifiTurnOn#0", &state(2.0, None), &c).unwrap_err();
        assert!(matches!(e, AwError::InvalidInput(m) if m.contains("outside [0, 1]")));
        let mut s: serde_json::Value = serde_json::from_str(&state(1.0, Some("complete"))).unwrap();
        s["goal_status"] = "done".into();
        let e = judge("SystemWifiTurnOn#0", &s.to_string(), &c).unwrap_err();
        assert!(matches!(e, AwError::InvalidInput(m) if m.contains("`done`")));
        s["goal_status"] = serde_json::Value::Null;
        let e = judge("SystemWifiTurnOn#0", &s.to_string(), &c).unwrap_err();
        assert!(matches!(e, AwError::InvalidInput(m) if m.contains("disagree")));
    }
}

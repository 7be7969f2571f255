//! Which tasks a reward checker can judge: the "supports" probe (a `check` call with a
//! marker final state, answered `unsupported(reason)` by a checker that cannot judge
//! the task), and an environment view that marks those tasks unsupported so training,
//! evaluation and `steprl tasks` leave them out, naming why.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::plugin::{EnvInstance, Environment, RewardChecker};
use crate::types::{EnvInfo, TaskInfo, TrajectorySummary};
use crate::{CallError, GuestError};

/// The final-state JSON of the probe (the Rust guest SDK recognizes it with
/// `steprl_plugin::check::is_supports_probe`). A checker that knows it answers
/// `unsupported(reason)` for a task it cannot judge (a metric it lacks) and anything
/// else for one it can; a checker that does not know it fails to read it as a final
/// state, which the host takes as "can judge".
pub const SUPPORTS_PROBE: &str = r#"{"steprl_probe":"supports"}"#;

/// The tasks of `tasks` that `checker` says it cannot judge, with its reasons. Tasks
/// already marked unsupported are not asked about.
pub async fn unscorable(
    checker: &mut dyn RewardChecker,
    tasks: &[TaskInfo],
) -> BTreeMap<String, String> {
    let empty = TrajectorySummary {
        seed: 0,
        actions: Vec::new(),
        rewards: Vec::new(),
        done: false,
        truncated: false,
    };
    let mut out = BTreeMap::new();
    for t in tasks.iter().filter(|t| t.unsupported().is_none()) {
        if let Err(CallError::Guest {
            error: GuestError::Unsupported(why),
            ..
        }) = checker.check(t, &empty, SUPPORTS_PROBE).await
        {
            out.insert(t.id.clone(), why);
        }
    }
    out
}

/// One line for the user: how many tasks were left out, by reason (most common
/// first), e.g. `excluded 3 tasks the checker cannot judge: metric compare_pdfs (2), …`.
pub fn summary(checker: &str, excluded: &BTreeMap<String, String>) -> Option<String> {
    if excluded.is_empty() {
        return None;
    }
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    for why in excluded.values() {
        *by_reason.entry(why.as_str()).or_default() += 1;
    }
    let mut reasons: Vec<(&str, usize)> = by_reason.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let list: Vec<String> = reasons
        .iter()
        .map(|(why, n)| format!("{why} ({n})"))
        .collect();
    Some(format!(
        "excluded {} task{} the checker `{checker}` cannot judge: {}",
        excluded.len(),
        if excluded.len() == 1 { "" } else { "s" },
        list.join(", ")
    ))
}

/// An environment whose task list marks the tasks a checker cannot judge as
/// unsupported (`"unsupported": "unscorable: <reason>"` in their metadata); everything
/// else is the inner environment's.
pub struct Scorable {
    inner: Arc<dyn Environment>,
    info: EnvInfo,
}

impl Scorable {
    /// `inner` with the tasks of `excluded` (task id → reason) marked.
    pub fn new(inner: Arc<dyn Environment>, excluded: &BTreeMap<String, String>) -> Self {
        let mut info = inner.info().clone();
        for t in &mut info.tasks {
            if let Some(why) = excluded.get(&t.id) {
                let mut m: serde_json::Value = serde_json::from_str(&t.metadata_json)
                    .unwrap_or_else(|_| serde_json::json!({}));
                if !m.is_object() {
                    m = serde_json::json!({});
                }
                m["unsupported"] = serde_json::Value::String(format!("unscorable: {why}"));
                t.metadata_json = m.to_string();
            }
        }
        Scorable { inner, info }
    }
}

#[async_trait]
impl Environment for Scorable {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn info(&self) -> &EnvInfo {
        &self.info
    }

    async fn instantiate(&self) -> Result<Box<dyn EnvInstance>, CallError> {
        self.inner.instantiate().await
    }

    async fn shutdown(&self) -> Result<(), CallError> {
        self.inner.shutdown().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_groups_reasons() {
        let excluded: BTreeMap<String, String> = [
            ("a", "metric compare_pdfs is not implemented"),
            ("b", "metric compare_table is not implemented"),
            ("c", "metric compare_pdfs is not implemented"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(
            summary("osworld-checker", &excluded).unwrap(),
            "excluded 3 tasks the checker `osworld-checker` cannot judge: metric compare_pdfs is \
             not implemented (2), metric compare_table is not implemented (1)"
        );
        assert_eq!(summary("c", &BTreeMap::new()), None);
    }
}

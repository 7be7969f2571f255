//! The namespaces of a `metrics.jsonl` line — `rollout`, `record`, `loss`, `perf` — as
//! one table, with the conversion between the grouped lines a run writes and the flat
//! view that older runs wrote and readers use.
//!
//! A grouped line is `{"round": 3, "rollout": {...}, "record": {...}, "loss": {...},
//! "perf": {...}}`; its flat view has every metric at the top level (with `perf` still
//! one object), which is exactly what lines written before the grouping hold, so
//! [`flatten`] reads both.

use serde_json::{Map, Value};

/// The metric that indexes a line; it stays at the top level.
pub const INDEX: &str = "round";

/// Each namespace with the metrics it holds. `perf` is already an object of its own in
/// the flat view and is carried as is.
pub const GROUPS: &[(&str, &[&str])] = &[
    (
        "rollout",
        &[
            "env_steps",
            "env_steps_total",
            "trajectories",
            "trajectories_total",
            "success_rate",
            "task_success",
            "task_rollouts",
            "resampler",
            "plugin_failures",
            "failures",
            "lost",
            "servers_down",
            "invalid_actions",
            "host_truncated",
            "policy_version",
            "carried",
        ],
    ),
    ("record", &["task_rate", "cache_size", "stuck_tasks"]),
    (
        "loss",
        &[
            "samples",
            "stale_samples",
            "staleness",
            "aug_samples",
            "degenerate",
            "gradient_steps",
            "policy_loss",
            "entropy",
            "approx_kl",
            "clip_frac",
            "kl_ref",
            "grad_norm",
        ],
    ),
    ("perf", &[]),
];

/// The namespace of a flat metric (`None`: the index, or a key no group names).
pub fn namespace(key: &str) -> Option<&'static str> {
    GROUPS
        .iter()
        .find(|(group, keys)| *group == key || keys.contains(&key))
        .map(|(group, _)| *group)
}

/// A flat line grouped by namespace; a key no group names stays at the top level, so
/// nothing is lost. (A `Map` keeps its keys sorted; [`line`] writes them in order.)
pub fn group(flat: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut groups: Vec<(&str, Map<String, Value>)> =
        GROUPS.iter().map(|(g, _)| (*g, Map::new())).collect();
    let mut rest = Map::new();
    for (key, value) in flat {
        match namespace(&key) {
            Some("perf") if key == "perf" => {
                let slot = groups.iter_mut().find(|(g, _)| *g == "perf").expect("perf");
                match value {
                    Value::Object(m) => slot.1.extend(m),
                    other => {
                        rest.insert(key, other);
                    }
                }
            }
            Some(g) => {
                let slot = groups.iter_mut().find(|(n, _)| *n == g).expect("group");
                slot.1.insert(key, value);
            }
            None => {
                rest.insert(key, value);
            }
        }
    }
    if let Some(index) = rest.remove(INDEX) {
        out.insert(INDEX.to_owned(), index);
    }
    for (g, m) in groups {
        if !m.is_empty() {
            out.insert(g.to_owned(), Value::Object(m));
        }
    }
    out.extend(rest);
    out
}

/// A flat line as the text of one `metrics.jsonl` line (no newline): grouped, with the
/// index first and the namespaces in the order of [`GROUPS`], then any other key.
pub fn line(flat: Map<String, Value>) -> String {
    let mut grouped = group(flat);
    let order = std::iter::once(INDEX).chain(GROUPS.iter().map(|(g, _)| *g));
    let mut ordered: Vec<(String, Value)> = order
        .filter_map(|k| grouped.remove(k).map(|v| (k.to_owned(), v)))
        .collect();
    ordered.extend(grouped);
    let parts: Vec<String> = ordered
        .into_iter()
        .map(|(k, v)| format!("{}:{v}", Value::String(k)))
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// The flat view of a line, grouped or not: each group's metrics move to the top level
/// (`perf` stays an object). A flat line (written before the grouping) comes back
/// unchanged.
pub fn flatten(line: Map<String, Value>) -> Map<String, Value> {
    let grouped = GROUPS
        .iter()
        .any(|(g, _)| *g != "perf" && matches!(line.get(*g), Some(Value::Object(_))));
    if !grouped {
        return line;
    }
    let mut out = Map::new();
    for (key, value) in line {
        match (GROUPS.iter().any(|(g, _)| *g == key), value) {
            (true, Value::Object(m)) if key != "perf" => out.extend(m),
            (_, value) => {
                out.insert(key, value);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_flat_line_groups_by_namespace_and_flattens_back() {
        let flat = obj(json!({
            "round": 3,
            "env_steps": 120,
            "success_rate": 0.25,
            "task_rate": {"a": 0.5},
            "cache_size": 1,
            "samples": 9,
            "policy_loss": -0.1,
            "perf": {"total_s": 1.5, "update_s": 0.5},
            "someday": "kept"
        }));
        let grouped = group(flat.clone());
        assert_eq!(
            Value::Object(grouped.clone()),
            json!({
                "round": 3,
                "rollout": {"env_steps": 120, "success_rate": 0.25},
                "record": {"task_rate": {"a": 0.5}, "cache_size": 1},
                "loss": {"samples": 9, "policy_loss": -0.1},
                "perf": {"total_s": 1.5, "update_s": 0.5},
                "someday": "kept"
            })
        );
        assert_eq!(flatten(grouped), flat);
        let text = line(flat.clone());
        assert!(
            text.starts_with(r#"{"round":3,"rollout":{"#) && text.ends_with(r#""someday":"kept"}"#),
            "{text}"
        );
        let parsed: Map<String, Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(flatten(parsed), flat);
    }

    #[test]
    fn old_flat_lines_read_unchanged() {
        let old = obj(json!({"round": 0, "success_rate": 0.0, "perf": {"total_s": 2.0}}));
        assert_eq!(flatten(old.clone()), old);
    }

    #[test]
    fn every_metric_has_one_namespace() {
        let mut seen = std::collections::BTreeSet::new();
        for (g, keys) in GROUPS {
            assert!(seen.insert(*g), "group {g} twice");
            for k in *keys {
                assert!(seen.insert(*k), "{k} in two places");
                assert_eq!(namespace(k), Some(*g));
            }
        }
        assert_eq!(namespace("round"), None);
        assert_eq!(namespace("perf"), Some("perf"));
    }
}

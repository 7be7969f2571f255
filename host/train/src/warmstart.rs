//! Demonstrations for the warm start: the file format (JSON lines of task id, seed and
//! actions written as `steprl play` reads them) and their replay in the sandboxed
//! environment, which re-creates every observation the policy will read — so a
//! demonstration file stays small, and an action the environment rejects, or an
//! episode that ends early, is caught at once.

use std::path::{Path, PathBuf};

use steprl_core::{Environment, ObservationParts, Policy, Transition};

pub use steprl_core::Demo;

/// Why demonstrations could not be used.
#[derive(Debug, thiserror::Error)]
pub enum WarmStartError {
    /// The file could not be read.
    #[error("demonstrations {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A line is malformed, or its episode does not replay.
    #[error("demonstrations {path}, line {line}: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file holds no demonstrations.
    #[error("demonstrations {path}: no demonstrations in the file")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// The demonstrations of a file with their line numbers (blank lines skipped).
pub fn read_demos(path: &Path) -> Result<Vec<(usize, Demo)>, WarmStartError> {
    let text = std::fs::read_to_string(path).map_err(|source| WarmStartError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut demos = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let d: Demo = serde_json::from_str(line).map_err(|e| WarmStartError::Line {
            path: path.to_owned(),
            line: n + 1,
            message: format!("{e} (expected {{\"task\": ID, \"seed\": S, \"actions\": [...]}})"),
        })?;
        demos.push((n + 1, d));
    }
    if demos.is_empty() {
        return Err(WarmStartError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(demos)
}

/// Replay every demonstration in `env`, asking for the observation parts `policy`
/// reads: per demonstration, the task's instruction and its steps.
pub async fn replay(
    env: &dyn Environment,
    policy: &dyn Policy,
    demos: &[(usize, Demo)],
    path: &Path,
) -> Result<Vec<(String, Vec<Transition>)>, WarmStartError> {
    let info = env.info();
    let parts: ObservationParts = policy.parts();
    let bad = |line: usize, message: String| WarmStartError::Line {
        path: path.to_owned(),
        line,
        message,
    };
    let mut inst = env
        .instantiate()
        .await
        .map_err(|e| bad(demos[0].0, e.to_string()))?;
    let mut out = Vec::new();
    for (line, d) in demos {
        let line = *line;
        let task = info.task(&d.task).ok_or_else(|| {
            bad(
                line,
                format!("task `{}` is not offered by `{}`", d.task, env.name()),
            )
        })?;
        let mut actions = Vec::new();
        for (k, a) in d.actions.iter().enumerate() {
            actions.push(
                info.action
                    .parse_action(a)
                    .map_err(|e| bad(line, format!("action {}: {e}", k + 1)))?,
            );
        }
        let episode = inst
            .start(&task.id, d.seed, parts)
            .await
            .map_err(|e| bad(line, e.to_string()))?;
        let mut obs = inst
            .reset(episode)
            .await
            .map_err(|e| bad(line, e.to_string()))?;
        let mut steps = Vec::new();
        for (k, action) in actions.into_iter().enumerate() {
            policy
                .check(&obs)
                .map_err(|e| bad(line, format!("before action {}: {e}", k + 1)))?;
            let r = inst
                .step(episode, &action)
                .await
                .map_err(|e| bad(line, format!("action {}: {e}", k + 1)))?;
            steps.push(Transition {
                observation: std::mem::replace(&mut obs, r.observation),
                action,
                logp: 0.0,
                completion: None,
                policy_version: 0,
            });
            if (r.done || r.truncated) && k + 1 < d.actions.len() {
                inst.close(episode).await;
                return Err(bad(
                    line,
                    format!(
                        "the episode ended after action {} of {}",
                        k + 1,
                        d.actions.len()
                    ),
                ));
            }
        }
        inst.close(episode).await;
        out.push((task.instruction.clone(), steps));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_lines_and_empty_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.jsonl");
        std::fs::write(
            &p,
            "{\"task\":\"a\",\"seed\":1,\"actions\":[\"done\"]}\n\n{\"task\":\"b\"}\n",
        )
        .unwrap();
        let e = read_demos(&p).unwrap_err().to_string();
        assert!(e.contains("d.jsonl, line 3: missing field `seed`"), "{e}");
        std::fs::write(&p, "\n").unwrap();
        let e = read_demos(&p).unwrap_err().to_string();
        assert!(e.contains("no demonstrations"), "{e}");
        std::fs::write(&p, "{\"task\":\"a\",\"seed\":1,\"actions\":[\"done\"]}\n").unwrap();
        assert_eq!(
            read_demos(&p).unwrap(),
            vec![(
                1,
                Demo {
                    task: "a".into(),
                    seed: 1,
                    actions: vec!["done".into()]
                }
            )]
        );
    }
}

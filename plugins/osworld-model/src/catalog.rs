//! Loading the task catalog: every `*.json` of the task directory (and of its
//! subdirectories one level down, OSWorld's `examples/<domain>/<id>.json` layout) plus
//! explicitly listed task files, in a stable order, ids unique.

use std::collections::HashSet;
use std::path::Path;

use crate::error::{OsworldError, Result};
use crate::task::Task;

fn grant_hint(path: &str) -> String {
    format!(
        "grant the directory read-only in the run config, e.g. `[env.grants] read_dirs = {{ \"{}\" = \"path/on/the/host\" }}`",
        guest_root(path)
    )
}

/// The first component of a guest path (`/tasks/os/a.json` → `/tasks`).
fn guest_root(path: &str) -> String {
    let p = path.trim_start_matches('/');
    format!("/{}", p.split('/').next().unwrap_or(p))
}

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<std::fs::DirEntry>> {
    let mut v: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    v.sort_by_key(|e| e.file_name());
    Ok(v)
}

fn is_json(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "json")
}

/// Load the tasks of `task_dir` and `task_files`.
pub fn load(task_dir: Option<&str>, task_files: &[String]) -> Result<Vec<Task>> {
    let mut files: Vec<(String, Option<String>)> = Vec::new();
    if let Some(dir) = task_dir {
        let entries = sorted_entries(Path::new(dir)).map_err(|e| {
            OsworldError::InvalidConfig(format!(
                "task_dir `{dir}` cannot be read ({e}); {}",
                grant_hint(dir)
            ))
        })?;
        for e in entries {
            let p = e.path();
            if p.is_dir() {
                let domain = e.file_name().to_string_lossy().into_owned();
                let sub = sorted_entries(&p).map_err(|err| {
                    OsworldError::InvalidConfig(format!("{}: {err}", p.display()))
                })?;
                for s in sub {
                    if is_json(&s.path()) && s.path().is_file() {
                        files.push((
                            s.path().to_string_lossy().into_owned(),
                            Some(domain.clone()),
                        ));
                    }
                }
            } else if is_json(&p) {
                files.push((p.to_string_lossy().into_owned(), None));
            }
        }
    }
    for f in task_files {
        files.push((f.clone(), None));
    }
    let mut seen = HashSet::new();
    let mut tasks = Vec::with_capacity(files.len());
    for (file, domain) in files {
        let text = std::fs::read_to_string(&file).map_err(|e| {
            OsworldError::InvalidConfig(format!(
                "task file `{file}` cannot be read ({e}); {}",
                grant_hint(&file)
            ))
        })?;
        let mut task = Task::parse(&text, &file, domain.as_deref())
            .map_err(|e| OsworldError::InvalidConfig(e.to_string()))?;
        if !seen.insert(task.id.clone()) {
            // OSWorld's own task set repeats ids (a task in two domains, a `-win`
            // variant beside its file): the repeat is named by its domain and file
            // stem, `<domain>/<stem>`, as OSWorld's runner tells them apart.
            let stem = Path::new(&file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let qualified = format!("{}/{stem}", task.domain);
            if !seen.insert(qualified.clone()) {
                return Err(OsworldError::InvalidConfig(format!(
                    "{file}: task id `{}` appears twice, and `{qualified}` too",
                    task.id
                )));
            }
            task.id = qualified;
        }
        tasks.push(task);
    }
    if tasks.is_empty() {
        return Err(OsworldError::InvalidConfig(format!(
            "no task files found (task_dir = {task_dir:?}, task_files = {task_files:?}); OSWorld tasks \
             are *.json files such as evaluation_examples/examples/os/<id>.json"
        )));
    }
    Ok(tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TASK: &str = r#"{"id": "ID", "instruction": "do it", "snapshot": "snap",
        "evaluator": {"func": "infeasible"}}"#;

    #[test]
    fn loads_flat_and_domain_layouts_in_order() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("b.json"), TASK.replace("ID", "b")).unwrap();
        std::fs::write(d.path().join("notes.txt"), "x").unwrap();
        std::fs::create_dir(d.path().join("os")).unwrap();
        std::fs::write(d.path().join("os/a.json"), TASK.replace("ID", "a")).unwrap();
        let extra = d.path().join("extra.json.txt");
        std::fs::write(&extra, TASK.replace("ID", "c")).unwrap();
        let t = load(
            Some(d.path().to_str().unwrap()),
            &[extra.to_string_lossy().into_owned()],
        )
        .unwrap();
        let ids: Vec<_> = t
            .iter()
            .map(|t| (t.id.as_str(), t.domain.as_str()))
            .collect();
        assert_eq!(ids, [("b", "snap"), ("a", "os"), ("c", "snap")]);
    }

    #[test]
    fn missing_dirs_and_duplicates_are_config_errors() {
        let e = load(Some("/no/such/tasks"), &[]).unwrap_err();
        assert!(matches!(e, OsworldError::InvalidConfig(_)));
        let m = e.to_string();
        assert!(m.contains("read_dirs") && m.contains("\"/no\""), "{m}");
        // A repeated id (OSWorld's set has 16: a task in two domains, `-win` files)
        // is told apart by domain and file stem; only a repeat of that is an error.
        let d = tempfile::tempdir().unwrap();
        for dom in ["chrome", "thunderbird"] {
            std::fs::create_dir(d.path().join(dom)).unwrap();
            std::fs::write(d.path().join(dom).join("t.json"), TASK).unwrap();
        }
        std::fs::write(d.path().join("chrome/t-win.json"), TASK).unwrap();
        let t = load(Some(d.path().to_str().unwrap()), &[]).unwrap();
        let ids: Vec<_> = t.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["ID", "chrome/t", "thunderbird/t"]);
        let extra = d
            .path()
            .join("chrome/t.json")
            .to_string_lossy()
            .into_owned();
        let e = load(Some(d.path().to_str().unwrap()), &[extra.clone(), extra])
            .unwrap_err()
            .to_string();
        assert!(e.contains("appears twice, and `snap/t` too"), "{e}");
        let d = tempfile::tempdir().unwrap();
        assert!(
            load(Some(d.path().to_str().unwrap()), &[])
                .unwrap_err()
                .to_string()
                .contains("no task files")
        );
    }
}

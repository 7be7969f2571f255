//! `steprl play`: a scripted episode in the sandbox, judged by the checker, recorded as
//! a demonstration only when it succeeds; bad actions and tasks are named.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{plugin, steprl, text};

fn play(actions: &std::path::Path, task: &str, record: &std::path::Path) -> std::process::Output {
    steprl(&[
        "play",
        plugin("uisim").to_str().unwrap(),
        "--config",
        r#"{"levels":[1]}"#,
        "--task",
        task,
        "--seed",
        "3",
        "--actions",
        actions.to_str().unwrap(),
        "--checker",
        plugin("uisim-checker").to_str().unwrap(),
        "--record",
        record.to_str().unwrap(),
    ])
}

#[test]
fn an_oracle_episode_is_judged_a_success_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let actions = dir.path().join("open-settings.txt");
    std::fs::write(&actions, "# open the app, then say done\nclick 0\n\ndone\n").unwrap();
    let demos = dir.path().join("demos.jsonl");
    let o = play(&actions, "open.settings", &demos);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("click 0: app settings"), "{out}");
    assert!(out.contains("--- action 1: click 0 (reward"), "{out}");
    assert!(
        out.contains("--- action 2: done (reward") && out.contains(", done)"),
        "{out}"
    );
    assert!(out.contains("verdict: success"), "{out}");
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&demos).unwrap().trim()).unwrap();
    assert_eq!(
        line,
        serde_json::json!({"task": "open.settings", "seed": 3, "actions": ["click 0", "done"]})
    );
}

#[test]
fn a_failed_episode_exits_1_and_is_not_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let actions = dir.path().join("wrong.txt");
    std::fs::write(&actions, "1\ndone\nback\n").unwrap();
    let demos = dir.path().join("demos.jsonl");
    let o = play(&actions, "open.settings", &demos);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(
        out.contains("--- action 1: click 1"),
        "indices print as labels: {out}"
    );
    assert!(out.contains("verdict: failure"), "{out}");
    assert!(
        err.contains("ended after 2 actions; 1 left unplayed"),
        "{err}"
    );
    assert!(err.contains("not recorded"), "{err}");
    assert!(!demos.exists());
}

#[test]
fn actions_from_standard_input_without_a_checker_are_recorded_unjudged() {
    let dir = tempfile::tempdir().unwrap();
    let demos = dir.path().join("d.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_steprl"))
        .args([
            "play",
            plugin("uisim").to_str().unwrap(),
            "--task",
            "open.clock",
            "--actions",
            "-",
            "--record",
            demos.to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"home\n").unwrap();
    let o = child.wait_with_output().unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(
        err.contains("the actions ran out before the episode ended"),
        "{err}"
    );
    assert!(out.contains("(not judged: no --checker)"), "{out}");
    assert!(
        std::fs::read_to_string(&demos)
            .unwrap()
            .contains(r#""actions":["home"]"#)
    );
}

#[test]
fn bad_actions_and_tasks_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let actions = dir.path().join("a.txt");
    std::fs::write(&actions, "click 0\nclik 1\n").unwrap();
    let demos = dir.path().join("d.jsonl");
    let o = play(&actions, "open.settings", &demos);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("a.txt, line 2: `clik 1` is not an action: use a label (click 0, click 1"),
        "{err}"
    );
    std::fs::write(&actions, "done\n").unwrap();
    let o = play(&actions, "open.setings", &demos);
    let (_, err) = text(&o);
    assert!(
        err.contains("task `open.setings` is not offered by `uisim` (it offers open.settings"),
        "{err}"
    );
    let o = play(&dir.path().join("missing.txt"), "open.settings", &demos);
    let (_, err) = text(&o);
    assert!(
        err.contains("reading actions from") && err.contains("missing.txt"),
        "{err}"
    );
}

/// Every reference demonstration of `lines` replays to a success through `steprl play`
/// with the suite's checker.
fn replays(suite: &str, lines: &[String]) {
    let dir = tempfile::tempdir().unwrap();
    for line in lines {
        let d: serde_json::Value = serde_json::from_str(line).unwrap();
        let actions = dir.path().join("a.txt");
        let steps: Vec<&str> = d["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        std::fs::write(&actions, steps.join("\n")).unwrap();
        let o = steprl(&[
            "play",
            plugin(suite).to_str().unwrap(),
            "--config",
            r#"{"levels":[1,2]}"#,
            "--task",
            d["task"].as_str().unwrap(),
            "--seed",
            &d["seed"].to_string(),
            "--actions",
            actions.to_str().unwrap(),
            "--checker",
            plugin(&format!("{suite}-checker")).to_str().unwrap(),
        ]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{line}\n{out}\n{err}");
    }
}

/// The lines whose task is at level 1 or 2.
fn easy(lines: Vec<String>, level: impl Fn(&str) -> Option<u8>) -> Vec<String> {
    lines
        .into_iter()
        .filter(|l| {
            let d: serde_json::Value = serde_json::from_str(l).unwrap();
            level(d["task"].as_str().unwrap()).is_some_and(|v| v <= 2)
        })
        .collect()
}

#[test]
fn the_suites_reference_demonstrations_replay_to_success_in_the_sandbox() {
    let ui =
        sim_kit::demos::demo_lines::<uisim_model::Uisim>(uisim_model::reference_solution, 0..1, "")
            .unwrap();
    let ui = easy(ui, |id| {
        uisim_model::catalog()
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.level)
    });
    assert!(ui.len() >= 15, "{}", ui.len());
    replays("uisim", &ui);
    let sh = sim_kit::demos::demo_lines::<shellsim_model::Shellsim>(
        shellsim_model::reference_solution,
        0..1,
        "",
    )
    .unwrap();
    let sh = easy(sh, |id| {
        shellsim_model::catalog()
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.level)
    });
    assert!(sh.len() >= 10, "{}", sh.len());
    replays("shellsim", &sh);
}

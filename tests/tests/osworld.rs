//! The osworld adapter end to end: the built plugin in the real sandbox, talking over
//! wasi:http to the protocol-faithful local OSWorld server, with the task files and the
//! setup-file cache granted read-only, and every episode judged by the osworld checker.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use steprl_conformance::{EnvCheck, check_environment};
use steprl_core::{
    Action, CallError, EnvInstance, Environment, GuestError, Observation, ObservationParts,
    RewardChecker, TaskInfo, TrajectorySummary, Verdict,
};
use steprl_sandbox::{
    DirGrant, Grants, LoadError, PluginOptions, WasmEnvironment, WasmRewardChecker,
};
use steprl_tests::osworld_server::{OsworldServer, Recorded};
use steprl_tests::{load, repo_root, sandbox};

const EXECUTABLE: &str = "16e8e5c7-f8b0-4960-a22e-32900d819ca6";
const WHOAMI: &str = "d8dc9f80-cc02-4e8e-bebf-81f4f2471b65";
const NOTES: &str = "0ca4bab4-0bd7-475d-8e54-a8253ad8893c";
const INFEASIBLE: &str = "dff28fcb-7055-4142-b4bc-128b7881840e";
const CHROME: &str = "2606871a-808a-473e-ab97-520514a0df88";
const PREFIX: &str = "import pyautogui; import time; pyautogui.FAILSAFE = False; ";

fn fixtures() -> PathBuf {
    repo_root().join("tests/fixtures/osworld")
}

fn grants(server: &OsworldServer) -> Grants {
    Grants {
        http: vec![server.authority()],
        read_dirs: vec![
            DirGrant {
                host: fixtures().join("tasks"),
                guest: "/tasks".into(),
            },
            DirGrant {
                host: fixtures().join("cache"),
                guest: "/cache".into(),
            },
        ],
        ..Grants::default()
    }
}

fn config(server: &OsworldServer, extra: Value) -> Value {
    let mut c = json!({
        "server_url": server.url(),
        "task_dir": "/tasks",
        "cache_dir": "/cache",
        "step_pause_ms": 0,
        "retry_interval_ms": 0,
    });
    c.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    c
}

async fn env_with(config: Value, grants: Grants) -> Result<WasmEnvironment, LoadError> {
    let sb = sandbox();
    WasmEnvironment::new(
        &sb,
        &load(&sb, "osworld"),
        PluginOptions {
            config_json: config.to_string(),
            grants,
            ..PluginOptions::default()
        },
    )
    .await
}

async fn env(server: &OsworldServer, extra: Value) -> WasmEnvironment {
    env_with(config(server, extra), grants(server))
        .await
        .unwrap_or_else(|e| panic!("osworld loads: {e}"))
}

async fn checker() -> WasmRewardChecker {
    let sb = sandbox();
    WasmRewardChecker::new(&sb, &load(&sb, "osworld-checker"), PluginOptions::default())
        .await
        .unwrap_or_else(|e| panic!("osworld-checker loads: {e}"))
}

fn task<'a>(env: &'a WasmEnvironment, id: &str) -> &'a TaskInfo {
    env.info().task(id).unwrap_or_else(|| panic!("task {id}"))
}

/// One episode: `policy` sees each observation (and the step number) and returns the
/// next action, or `None` to stop; the checker judges it. Returns the observations,
/// the verdict and the final state.
async fn play(
    inst: &mut dyn EnvInstance,
    checker: &mut WasmRewardChecker,
    task: &TaskInfo,
    parts: ObservationParts,
    mut policy: impl FnMut(&Observation, usize) -> Option<Action>,
) -> (Vec<Observation>, Verdict, Value) {
    let ep = inst.start(&task.id, 0, parts).await.expect("start");
    let mut obs = vec![inst.reset(ep).await.expect("reset")];
    let mut actions = Vec::new();
    let (mut done, mut truncated) = (false, false);
    while let Some(a) = policy(obs.last().unwrap(), actions.len()) {
        let r = inst.step(ep, &a).await.expect("step");
        actions.push(a);
        done = r.done;
        truncated = r.truncated;
        obs.push(r.observation);
        if done || truncated {
            break;
        }
    }
    let state = inst.final_state(ep).await.expect("final state");
    inst.close(ep).await;
    let summary = TrajectorySummary {
        seed: 0,
        rewards: vec![0.0; actions.len()],
        actions,
        done,
        truncated,
    };
    let verdict = checker.check(task, &summary, &state).await.expect("check");
    (
        obs,
        verdict,
        serde_json::from_str(&state).expect("final state is JSON"),
    )
}

fn text_parts() -> ObservationParts {
    ObservationParts {
        text: true,
        tokens: true,
        ..Default::default()
    }
}

/// The index of the last element table row with this role.
fn element(obs: &Observation, role: &str) -> usize {
    obs.text
        .as_deref()
        .expect("text")
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols.len() == 6 && cols[1] == role).then(|| cols[0].parse::<usize>().unwrap())
        })
        .next_back()
        .unwrap_or_else(|| panic!("no {role} in {:?}", obs.text))
}

fn label(env: &WasmEnvironment, label: &str) -> Action {
    let i = env
        .info()
        .action
        .discrete_labels
        .iter()
        .position(|l| l == label)
        .unwrap_or_else(|| panic!("no action labelled {label}"));
    Action::Discrete(i as u32)
}

fn calls<'a>(reqs: &'a [Recorded], path: &str) -> Vec<&'a Recorded> {
    reqs.iter().filter(|r| r.path == path).collect()
}

#[tokio::test]
async fn tasks_are_listed_and_the_unsupported_one_is_marked() {
    let server = OsworldServer::start();
    let env = env(&server, json!({})).await;
    let info = env.info();
    assert_eq!(info.tasks.len(), 5);
    let suites: Vec<_> = info.tasks.iter().map(|t| t.suite.as_str()).collect();
    assert_eq!(suites.iter().filter(|s| **s == "os").count(), 4);
    assert!(suites.contains(&"chrome"));
    assert!(info.tasks.iter().all(|t| t.max_steps == 15));
    assert_eq!(
        task(&env, CHROME).unsupported().as_deref(),
        Some("unsupported setup step chrome_open_tabs")
    );
    for id in [EXECUTABLE, WHOAMI, NOTES, INFEASIBLE] {
        assert_eq!(task(&env, id).unsupported(), None, "{id}");
    }
    let meta: Value = serde_json::from_str(&task(&env, EXECUTABLE).metadata_json).unwrap();
    assert_eq!(meta["text_slots"], json!(["chmod +x ~/Desktop/backup.sh"]));
    assert_eq!(
        meta["setup"],
        json!(["execute", "activate_window", "sleep"])
    );
    // 32 element slots × (click, double-click, 4 text slots) + keys, hotkeys, scroll, specials.
    assert_eq!(info.action.discrete, 32 * 6 + 14 + 12 + 2 + 3);
    assert!(
        info.action.text,
        "set-of-marks also takes its text commands"
    );
    assert_eq!(info.observation.max_tokens, Some(32 + 32 * 10));
    assert!(info.observation.image.is_none());
    // Listing tasks needs no VM.
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn an_os_task_solved_with_set_of_marks_actions_is_judged_a_success() {
    let server = OsworldServer::start();
    let env = env(&server, json!({})).await;
    let mut checker = checker().await;
    let mut inst = env.instantiate().await.unwrap();
    let t = task(&env, EXECUTABLE).clone();
    let (obs, v, state) = play(inst.as_mut(), &mut checker, &t, text_parts(), |o, i| {
        Some(match i {
            0 => label(
                &env,
                &format!("type slot0 into e{}", element(o, "terminal")),
            ),
            1 => label(&env, "press enter"),
            _ => label(&env, "DONE"),
        })
    })
    .await;
    assert!(v.success, "{}", v.reason);
    assert_eq!(v.score, 1.0);
    assert_eq!(state["result"], "executable\n");
    assert_eq!(state["last_action"], "DONE");
    assert!(
        server
            .vm(|vm| vm.fs.get("/home/user/Desktop/backup.sh").cloned())
            .is_some()
    );

    let first = &obs[0];
    let text = first.text.as_deref().unwrap();
    assert!(
        text.starts_with("Instruction: The script backup.sh"),
        "{text}"
    );
    assert!(
        text.contains("Text slots: [0] \"chmod +x ~/Desktop/backup.sh\""),
        "{text}"
    );
    assert_eq!(first.tokens.as_ref().unwrap().len(), 32 + 32 * 10);
    let mask = first.action_mask.as_ref().unwrap();
    assert!(mask[0] && mask[2] && !mask[3], "three elements on screen");

    let reqs = server.requests();
    let setup = calls(&reqs, "/setup/execute");
    assert_eq!(setup.len(), 1);
    assert_eq!(setup[0].json().unwrap()["shell"], true);
    assert_eq!(
        calls(&reqs, "/setup/activate_window")[0].json().unwrap(),
        json!({"window_name": "Terminal", "strict": false, "by_class": false})
    );
    let execs = calls(&reqs, "/execute");
    assert_eq!(
        execs[0].json().unwrap()["command"],
        json!([
            "python",
            "-c",
            format!(
                "{PREFIX}pyautogui.click(520, 420); pyautogui.typewrite('chmod +x ~/Desktop/backup.sh')"
            )
        ])
    );
    assert_eq!(
        execs[1].command().unwrap(),
        format!("python -c {PREFIX}pyautogui.press('enter')")
    );
    // The getter ran last, through the shell.
    assert_eq!(
        execs.last().unwrap().json().unwrap(),
        json!({"command": "test -x /home/user/Desktop/backup.sh && echo executable || echo not-executable", "shell": true})
    );
    assert!(reqs.iter().all(|r| r.status == 200), "{reqs:?}");

    // Saying DONE without doing anything fails.
    let (_, v, state) = play(inst.as_mut(), &mut checker, &t, text_parts(), |_, _| {
        Some(label(&env, "DONE"))
    })
    .await;
    assert!(!v.success, "{}", v.reason);
    assert_eq!(state["result"], "not-executable\n");
}

/// In the set-of-marks space a text-writing policy types what no text slot holds
/// (`type eK: TEXT`) and uses the labels for everything else.
#[tokio::test]
async fn set_of_marks_text_actions_type_text_no_slot_holds() {
    let server = OsworldServer::start();
    let env = env(&server, json!({})).await;
    assert!(env.info().action.text && env.info().action.discrete > 0);
    let mut checker = checker().await;
    let mut inst = env.instantiate().await.unwrap();
    let t = task(&env, EXECUTABLE).clone();
    let (_, v, state) = play(inst.as_mut(), &mut checker, &t, text_parts(), |o, i| {
        Some(Action::Text(match i {
            0 => format!(
                "type e{}: chmod 755 ~/Desktop/backup.sh",
                element(o, "terminal")
            ),
            1 => "press enter".into(),
            _ => "DONE".into(),
        }))
    })
    .await;
    assert!(v.success, "{}", v.reason);
    assert_eq!(state["result"], "executable\n");
    let reqs = server.requests();
    let execs = calls(&reqs, "/execute");
    assert!(
        execs[0].command().unwrap().ends_with(
            "pyautogui.click(520, 420); pyautogui.typewrite('chmod 755 ~/Desktop/backup.sh')"
        ),
        "{:?}",
        execs[0].command()
    );

    // Text that is no action ends nothing silently: the step is refused by name.
    let ep = inst.start(&t.id, 0, text_parts()).await.unwrap();
    inst.reset(ep).await.unwrap();
    let err = inst
        .step(ep, &Action::Text("open the terminal please".into()))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a set-of-marks action"), "{err}");
    inst.close(ep).await;
}

#[tokio::test]
async fn exact_match_on_a_rule_with_pyautogui_text_actions() {
    let server = OsworldServer::start();
    let env = env(&server, json!({"action_space": "pyautogui"})).await;
    assert!(env.info().action.text && env.info().action.discrete == 0);
    let mut checker = checker().await;
    let mut inst = env.instantiate().await.unwrap();
    let t = task(&env, WHOAMI).clone();
    let script = |last: &'static str| {
        move |_: &Observation, i: usize| -> Option<Action> {
            let a = [
                "pyautogui.click(520, 440)",
                "pyautogui.typewrite('whoami > ~/whoami.txt')",
                "pyautogui.press('enter')",
                last,
            ];
            a.get(i).map(|s| Action::Text((*s).into()))
        }
    };
    let (obs, v, state) = play(
        inst.as_mut(),
        &mut checker,
        &t,
        text_parts(),
        script("DONE"),
    )
    .await;
    assert!(v.success, "{}", v.reason);
    assert_eq!(state["result"], "user\n");
    assert_eq!(state["expected"], json!({"expected": "user\n"}));
    assert!(obs[0].action_mask.is_none());
    let reqs = server.requests();
    assert_eq!(
        calls(&reqs, "/setup/execute")[0].json().unwrap(),
        json!({"command": ["rm", "-f", "~/whoami.txt"], "shell": false})
    );
    assert_eq!(
        calls(&reqs, "/setup/launch")[0].json().unwrap(),
        json!({"command": ["gnome-terminal"], "shell": false})
    );
    // The launched terminal is on top: two terminals on screen now.
    assert_eq!(
        obs[0]
            .text
            .as_deref()
            .unwrap()
            .matches("\tterminal\t")
            .count(),
        2
    );

    // The same work ending in FAIL scores 0 (OSWorld: FAIL as the last action).
    let (_, v, state) = play(
        inst.as_mut(),
        &mut checker,
        &t,
        text_parts(),
        script("FAIL"),
    )
    .await;
    assert!(!v.success, "{}", v.reason);
    assert_eq!(state["result"], "user\n");
    assert_eq!(state["last_action"], "FAIL");

    // Broken code is the agent's problem, not the plugin's: the step reports it.
    let ep = inst.start(WHOAMI, 0, text_parts()).await.unwrap();
    inst.reset(ep).await.unwrap();
    let r = inst
        .step(ep, &Action::Text("pyautogui.clack(1, 2)".into()))
        .await
        .unwrap();
    let info: Value = serde_json::from_str(&r.info_json).unwrap();
    assert_eq!(info["returncode"], 1);
    assert!(
        info["error"].as_str().unwrap().contains("AttributeError"),
        "{info}"
    );
    let e = inst.step(ep, &Action::Discrete(0)).await.unwrap_err();
    assert!(
        matches!(
            e,
            CallError::Guest {
                error: GuestError::InvalidAction(_),
                ..
            }
        ),
        "{e}"
    );
    inst.close(ep).await;
}

#[tokio::test]
async fn compare_text_file_with_a_download_from_the_cache_and_computer_13_actions() {
    let server = OsworldServer::start();
    let env = env(
        &server,
        json!({"action_space": "computer_13", "observation": "screenshot_a11y_tree"}),
    )
    .await;
    let shape = env.info().observation.image.expect("an image shape");
    assert_eq!((shape.width, shape.height, shape.channels), (480, 270, 3));
    let mut checker = checker().await;
    let mut inst = env.instantiate().await.unwrap();
    let t = task(&env, NOTES).clone();
    let parts = ObservationParts {
        text: true,
        image: true,
        ..Default::default()
    };
    let actions = [
        r#"{"action_type": "CLICK", "parameters": {"button": "left", "x": 1440, "y": 440}}"#,
        r#"{"action_type": "TYPING", "parameters": {"text": "Reviewed\n"}}"#,
        r#"{"action_type": "DONE"}"#,
    ];
    let (obs, v, state) = play(inst.as_mut(), &mut checker, &t, parts, |_, i| {
        actions.get(i).map(|s| Action::Text((*s).into()))
    })
    .await;
    assert!(v.success, "{}", v.reason);
    let gold = std::fs::read_to_string(fixtures().join("cache").join(NOTES).join("notes_gold.txt"))
        .unwrap();
    assert_eq!(state["result"], gold.as_str());
    assert_eq!(state["expected"], gold.as_str());
    assert_eq!(state["evaluator"]["func"], "compare_text_file");
    let img = obs[0].image.as_ref().expect("a screenshot");
    assert_eq!(
        (img.width, img.height, img.channels, img.data.len()),
        (480, 270, 3, 480 * 270 * 3)
    );
    assert!(
        obs[0]
            .text
            .as_deref()
            .unwrap()
            .contains("Team meeting notes")
    );

    let reqs = server.requests();
    // The download came from OSWorld's cache file name, the upload_file from the task's cache dir.
    let uploads = calls(&reqs, "/setup/upload");
    assert_eq!(uploads.len(), 2);
    let form = uploads[0].form();
    assert_eq!(
        form[0],
        (
            "file_path".into(),
            b"/home/user/Documents/notes.txt".to_vec()
        )
    );
    assert_eq!(form[1].0, "file_data");
    assert_eq!(
        String::from_utf8(form[1].1.clone()).unwrap(),
        "Team meeting notes\n- budget approved\n- launch moved to May\n"
    );
    assert_eq!(uploads[1].form()[0].1, b"/home/user/Documents/readme.txt");
    assert_eq!(
        calls(&reqs, "/setup/open_file")[0].json().unwrap(),
        json!({"path": "/home/user/Documents/notes.txt"})
    );
    let v = calls(&reqs, "/setup/execute_with_verification")[0]
        .json()
        .unwrap();
    assert_eq!(v["verification"]["window_exists"], "notes.txt");
    assert_eq!(v["max_wait_time"], 5.0);
    // The agent never saved: the postconfig's ctrl+s did, before the vm_file getter read
    // the file (the step's observation came first).
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        &paths[paths.len() - 5..],
        [
            "/accessibility",
            "/screenshot",
            "/setup/activate_window",
            "/setup/execute",
            "/file"
        ]
    );
    assert!(
        reqs[reqs.len() - 2]
            .command()
            .unwrap()
            .contains("pyautogui.hotkey('ctrl', 's')")
    );
    assert_eq!(
        server
            .vm(|vm| vm.fs.read_text("/home/user/Documents/notes.txt"))
            .unwrap(),
        gold
    );

    // Doing nothing leaves the notes as they were: a failure.
    let server2 = OsworldServer::start();
    let env2 = env_with(
        config(&server2, json!({"action_space": "computer_13"})),
        grants(&server2),
    )
    .await
    .unwrap();
    let mut inst2 = env2.instantiate().await.unwrap();
    let (_, v, _) = play(
        inst2.as_mut(),
        &mut checker,
        task(&env2, NOTES),
        text_parts(),
        |_, _| Some(Action::Text(r#"{"action_type": "DONE"}"#.into())),
    )
    .await;
    assert!(!v.success, "{}", v.reason);
}

#[tokio::test]
async fn a_download_missing_from_the_cache_marks_its_task_before_any_episode() {
    let server = OsworldServer::start();
    let empty = tempfile::tempdir().unwrap();
    let mut g = grants(&server);
    g.read_dirs[1].host = empty.path().to_owned();
    let env = env_with(config(&server, json!({})), g).await.unwrap();
    // Marked in the task list, naming the file and where to put it.
    let meta: serde_json::Value = serde_json::from_str(&task(&env, NOTES).metadata_json).unwrap();
    let why = meta["unsupported"].as_str().unwrap();
    assert!(why.starts_with("missing from the cache: /cache/"), "{why}");
    assert!(
        why.contains("_notes.txt") && why.contains("never downloads"),
        "{why}"
    );
    // Starting it is refused with that reason, before the VM is touched.
    let mut inst = env.instantiate().await.unwrap();
    let e = inst.start(NOTES, 0, text_parts()).await.unwrap_err();
    let CallError::Guest {
        error: GuestError::Unsupported(m),
        ..
    } = &e
    else {
        panic!("{e}");
    };
    assert_eq!(m, &format!("task {NOTES}: {why}"));
    assert!(server.requests().is_empty(), "no setup ran");
}

/// Episodes of a task whose setup does not clean up after the last one: without a
/// revert, what one episode did is still there in the next, and saying DONE at once
/// scores a stale success; with the revert controller every episode starts from the
/// pristine VM, so it does not.
#[tokio::test]
async fn with_a_revert_controller_a_stale_success_no_longer_scores() {
    let dir = tempfile::tempdir().unwrap();
    let mut whoami: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("tasks/os-whoami-to-file.json")).unwrap(),
    )
    .unwrap();
    // Keep only the terminal launch: no `rm -f ~/whoami.txt` before the episode.
    whoami["config"] = json!([{"type": "launch", "parameters": {"command": ["gnome-terminal"]}}]);
    std::fs::write(dir.path().join("whoami.json"), whoami.to_string()).unwrap();
    let solve = |_: &Observation, i: usize| -> Option<Action> {
        let a = [
            "pyautogui.click(520, 440)",
            "pyautogui.typewrite('whoami > ~/whoami.txt')",
            "pyautogui.press('enter')",
            "DONE",
        ];
        a.get(i).map(|s| Action::Text((*s).into()))
    };
    let done_at_once = |_: &Observation, i: usize| (i == 0).then(|| Action::Text("DONE".into()));
    for revert in [false, true] {
        let server = OsworldServer::start();
        let controller = server.revert_controller();
        let mut g = grants(&server);
        g.read_dirs[0].host = dir.path().to_owned();
        g.http.push(controller.authority());
        let extra = if revert {
            json!({"action_space": "pyautogui", "revert_url": controller.url()})
        } else {
            json!({"action_space": "pyautogui"})
        };
        let env = env_with(config(&server, extra), g).await.unwrap();
        let mut checker = checker().await;
        let mut inst = env.instantiate().await.unwrap();
        let t = task(&env, WHOAMI).clone();
        let (_, v, _) = play(inst.as_mut(), &mut checker, &t, text_parts(), solve).await;
        assert!(v.success, "{}", v.reason);
        let (_, v, _) = play(inst.as_mut(), &mut checker, &t, text_parts(), done_at_once).await;
        assert_eq!(v.success, !revert, "revert {revert}: {}", v.reason);
        let reverts = controller.reverts();
        if revert {
            assert_eq!(
                reverts,
                vec![json!({"task_id": WHOAMI, "snapshot": "os", "server": server.url()}); 2],
                "one revert before each episode"
            );
        } else {
            assert!(reverts.is_empty());
        }
    }
}

/// The shipped revert controller (`plugins/osworld/controller/revert_controller.py`)
/// running `command`; killed when dropped.
struct Controller {
    child: std::process::Child,
    authority: String,
}

impl Controller {
    fn start(command: &str) -> Controller {
        use std::io::BufRead;
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../plugins/osworld/controller/revert_controller.py");
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .args(["--bind", "127.0.0.1:0", "--command", command])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 runs (plugins/build.sh needs it too)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let authority = line
            .trim()
            .strip_prefix("revert_controller: listening on http://")
            .and_then(|r| r.strip_suffix("/revert"))
            .unwrap_or_else(|| panic!("{line}"))
            .to_owned();
        Controller { child, authority }
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_shipped_revert_controller_runs_its_command_before_each_episode() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("reverted");
    let run = |controller: &Controller, server: &OsworldServer| {
        let mut g = grants(server);
        g.http.push(controller.authority.clone());
        let revert = format!("http://{}/revert", controller.authority);
        env_with(config(server, json!({"revert_url": revert})), g)
    };
    let server = OsworldServer::start();
    let ok = Controller::start(&format!(
        "echo \"$TASK_ID $SNAPSHOT $SERVER $SERVER_PORT\" >> {}",
        marker.display()
    ));
    let env = run(&ok, &server).await.unwrap();
    let mut inst = env.instantiate().await.unwrap();
    for _ in 0..2 {
        let ep = inst.start(WHOAMI, 0, text_parts()).await.unwrap();
        inst.reset(ep).await.unwrap();
        inst.close(ep).await;
    }
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        format!(
            "{WHOAMI} os {url} {port}\n{WHOAMI} os {url} {port}\n",
            url = server.url(),
            port = server.url().rsplit(':').next().unwrap()
        )
    );
    // A command that fails fails the reset, with the controller's answer.
    let failing = Controller::start("echo disk busy; exit 3");
    let env = run(&failing, &server).await.unwrap();
    let mut inst = env.instantiate().await.unwrap();
    let ep = inst.start(WHOAMI, 0, text_parts()).await.unwrap();
    let e = inst.reset(ep).await.unwrap_err().to_string();
    assert!(
        e.contains("revert: POST http://") && e.contains("the revert command exited 3"),
        "{e}"
    );
}

/// A task whose metric the checker lacks is found before training (the checker's
/// answer to the supports probe), marked with the metric's name, and so left out of
/// training and evaluation like an unsupported task.
#[tokio::test]
async fn tasks_with_a_metric_the_checker_lacks_are_marked_unscorable() {
    let dir = tempfile::tempdir().unwrap();
    let whoami = std::fs::read_to_string(fixtures().join("tasks/os-whoami-to-file.json")).unwrap();
    std::fs::write(dir.path().join("whoami.json"), &whoami).unwrap();
    let mut utc: Value = serde_json::from_str(&whoami).unwrap();
    utc["id"] = json!("utc-task");
    utc["evaluator"] = json!({"func": "compare_pdfs", "result": {"type": "vm_command_line",
        "command": "timedatectl"}, "expected": {"type": "rule", "rules": {}}});
    std::fs::write(dir.path().join("utc.json"), utc.to_string()).unwrap();
    let server = OsworldServer::start();
    let mut g = grants(&server);
    g.read_dirs[0].host = dir.path().to_owned();
    let env = env_with(config(&server, json!({})), g).await.unwrap();
    let mut checker = checker().await;
    let excluded = steprl_core::scorable::unscorable(&mut checker, &env.info().tasks).await;
    assert_eq!(
        excluded.into_iter().collect::<Vec<_>>(),
        [(
            "utc-task".to_owned(),
            "metric compare_pdfs is not implemented by osworld-checker".to_owned()
        )]
    );
    let env = steprl::plugins::scorable(std::sync::Arc::new(env), &mut checker).await;
    let marked: Vec<(String, Option<String>)> = env
        .info()
        .tasks
        .iter()
        .map(|t| (t.id.clone(), t.unsupported()))
        .collect();
    assert_eq!(
        marked,
        [
            (
                "utc-task".to_owned(),
                Some(
                    "unscorable: metric compare_pdfs is not implemented by osworld-checker".into()
                )
            ),
            (WHOAMI.to_owned(), None),
        ]
    );
    assert!(
        server.requests().is_empty(),
        "the probe never touches the VM"
    );
}

#[tokio::test]
async fn an_infeasible_task_is_right_with_fail_and_wrong_with_done() {
    let server = OsworldServer::start();
    let env = env(&server, json!({})).await;
    let mut checker = checker().await;
    let mut inst = env.instantiate().await.unwrap();
    let t = task(&env, INFEASIBLE).clone();
    let (_, v, state) = play(inst.as_mut(), &mut checker, &t, text_parts(), |_, _| {
        Some(label(&env, "FAIL"))
    })
    .await;
    assert!(v.success, "{}", v.reason);
    assert_eq!(state["evaluator"]["func"], "infeasible");
    assert!(state.get("result").is_none());
    let (_, v, _) = play(inst.as_mut(), &mut checker, &t, text_parts(), |_, _| {
        Some(label(&env, "DONE"))
    })
    .await;
    assert!(!v.success, "{}", v.reason);
    // WAIT does not end the episode; the budget does.
    let (obs, v, state) = play(inst.as_mut(), &mut checker, &t, text_parts(), |_, _| {
        Some(label(&env, "WAIT"))
    })
    .await;
    assert_eq!(obs.len(), 16);
    assert!(!v.success);
    assert_eq!(state["last_action"], "WAIT");
}

#[tokio::test]
async fn an_unsupported_task_is_refused_with_its_reason() {
    let server = OsworldServer::start();
    let env = env(&server, json!({})).await;
    let mut inst = env.instantiate().await.unwrap();
    let e = inst.start(CHROME, 0, text_parts()).await.unwrap_err();
    let CallError::Guest {
        error: GuestError::Unsupported(m),
        ..
    } = &e
    else {
        panic!("{e}");
    };
    assert!(m.contains("unsupported setup step chrome_open_tabs"), "{m}");
    assert!(
        server.requests().is_empty(),
        "refused before touching the VM"
    );
}

#[tokio::test]
async fn tasks_need_a_read_only_grant_and_the_server_a_network_grant() {
    let server = OsworldServer::start();
    let no_dirs = Grants {
        http: vec![server.authority()],
        ..Grants::default()
    };
    let e = env_with(config(&server, json!({})), no_dirs)
        .await
        .err()
        .expect("refused");
    let LoadError::Call(CallError::Guest {
        error: GuestError::InvalidConfig(m),
        ..
    }) = &e
    else {
        panic!("{e}");
    };
    assert!(
        m.contains("task_dir `/tasks` cannot be read") && m.contains("read_dirs"),
        "{m}"
    );

    let mut no_net = grants(&server);
    no_net.http.clear();
    let e = env_with(config(&server, json!({})), no_net)
        .await
        .err()
        .expect("refused");
    assert!(matches!(e, LoadError::NetworkNotGranted { .. }), "{e}");

    // A grant for another host: init works (no VM needed), the first request is refused.
    let mut other = grants(&server);
    other.http = vec!["127.0.0.1:1".into()];
    let env = env_with(config(&server, json!({})), other).await.unwrap();
    let mut inst = env.instantiate().await.unwrap();
    let ep = inst.start(EXECUTABLE, 0, text_parts()).await.unwrap();
    let e = inst.reset(ep).await.unwrap_err().to_string();
    assert!(e.contains("network grant"), "{e}");
}

/// A live VM is not replayable: here its clock runs, so no two episodes look the same.
/// The adapter declares its tasks `"replayable": false`, and `plugin check` checks their
/// replays for consistency, not equality, so the check passes.
#[tokio::test]
async fn the_supported_tasks_pass_the_conformance_check_with_the_checker() {
    let server = OsworldServer::start();
    server.vm(|vm| vm.clock = Some(0));
    let files: Vec<String> = [
        "os-make-script-executable",
        "os-whoami-to-file",
        "os-edit-downloaded-notes",
        "os-infeasible-office",
    ]
    .iter()
    .map(|n| format!("/tasks/{n}.json"))
    .collect();
    let mut c = config(
        &server,
        json!({
            "task_files": files,
            "reset_steps": [{"type": "execute", "parameters": {"command": ["revert-snapshot"]}}],
            "max_steps": 6,
        }),
    );
    c.as_object_mut().unwrap().remove("task_dir");
    let env = env_with(c, grants(&server)).await.unwrap();
    assert_eq!(env.info().tasks.len(), 4);
    let mut checker = checker().await;
    let report = check_environment(
        &env,
        Some(&mut checker),
        &EnvCheck {
            episodes: 2,
            seed: 5,
            budget: std::time::Duration::from_secs(600),
        },
        |_, _, _| {},
    )
    .await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert_eq!(report.tasks.len(), 4);
    assert!(report.tasks.iter().all(|t| t.live));
    // The first observations of two episodes of one task differ (the clock).
    let mut inst = env.instantiate().await.unwrap();
    let mut first = Vec::new();
    for _ in 0..2 {
        let ep = inst.start(WHOAMI, 0, text_parts()).await.unwrap();
        first.push(inst.reset(ep).await.unwrap().text);
        inst.close(ep).await;
    }
    assert_ne!(first[0], first[1]);
}

/// A raw HTTP/1.1 exchange: status and body.
fn raw(
    server: &OsworldServer,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(server.authority()).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        server.authority(),
        body.len()
    );
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status: u16 = String::from_utf8_lossy(&out[..split])
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    (status, out[split + 4..].to_vec())
}

#[test]
fn the_local_server_answers_like_the_flask_server() {
    let server = OsworldServer::start();
    let j = |b: &[u8]| serde_json::from_slice::<Value>(b).unwrap();
    let form = Some("application/x-www-form-urlencoded");
    let json_ct = Some("application/json");

    let (s, b) = raw(&server, "POST", "/file", form, b"file_path=%2Fnope");
    assert_eq!((s, j(&b)), (404, json!({"error": "File not found"})));
    let (s, b) = raw(&server, "POST", "/file", form, b"");
    assert_eq!((s, j(&b)), (400, json!({"error": "file_path is required"})));
    let (s, b) = raw(&server, "POST", "/file", form, b"file_path=~%2F.bashrc");
    assert_eq!((s, b), (200, b"# ~/.bashrc\n".to_vec()));
    let (s, _) = raw(
        &server,
        "POST",
        "/list_directory",
        Some("text/plain"),
        b"{}",
    );
    assert_eq!(s, 415);
    let (s, b) = raw(
        &server,
        "POST",
        "/list_directory",
        json_ct,
        br#"{"path": "/home/user/.bashrc"}"#,
    );
    assert_eq!(
        (s, j(&b)),
        (
            400,
            json!({"error": "The provided path is not a directory"})
        )
    );
    let (s, b) = raw(
        &server,
        "POST",
        "/list_directory",
        json_ct,
        br#"{"path": "/home/user/Documents"}"#,
    );
    assert_eq!(
        (s, j(&b)),
        (
            200,
            json!({"directory_tree": {"type": "directory", "name": "Documents", "children": []}})
        )
    );
    let (s, b) = raw(&server, "POST", "/window_size", form, b"");
    assert_eq!(
        (s, j(&b)),
        (400, json!({"error": "app_class_name is required"}))
    );
    let (s, b) = raw(
        &server,
        "POST",
        "/window_size",
        form,
        b"app_class_name=gnome-terminal-server",
    );
    assert_eq!((s, j(&b)), (200, json!({"width": 900, "height": 640})));
    let (s, b) = raw(&server, "POST", "/screen_size", None, b"");
    assert_eq!((s, j(&b)), (200, json!({"width": 1920, "height": 1080})));
    let (s, b) = raw(&server, "GET", "/platform", None, b"");
    assert_eq!((s, b), (200, b"Linux".to_vec()));
    let (s, _) = raw(&server, "GET", "/execute", None, b"");
    assert_eq!(s, 405);
    let (s, _) = raw(&server, "GET", "/nope", None, b"");
    assert_eq!(s, 404);
    let (s, b) = raw(
        &server,
        "POST",
        "/execute",
        json_ct,
        br#"{"command": ["nosuchprogram"]}"#,
    );
    assert_eq!(
        (s, j(&b)),
        (
            500,
            json!({"status": "error", "message": "[Errno 2] No such file or directory: 'nosuchprogram'"})
        )
    );
    let (s, b) = raw(
        &server,
        "POST",
        "/execute",
        json_ct,
        br#"{"command": "ls ~/", "shell": false}"#,
    );
    assert_eq!(s, 200);
    assert_eq!(j(&b)["output"], "Desktop\nDocuments\nDownloads\nPictures\n");
    let (s, b) = raw(
        &server,
        "POST",
        "/setup/launch",
        json_ct,
        br#"{"command": ["nosuchprogram"]}"#,
    );
    assert_eq!((s, j(&b)["status"].clone()), (500, json!("error")));
    let (s, b) = raw(
        &server,
        "POST",
        "/setup/open_file",
        json_ct,
        br#"{"path": "/nope.txt"}"#,
    );
    assert_eq!(
        (s, b),
        (404, b"Application/file not found: /nope.txt".to_vec())
    );
    let (s, b) = raw(&server, "POST", "/setup/activate_window", json_ct, br#"{}"#);
    assert_eq!((s, b), (400, b"window_name required".to_vec()));
    let (s, b) = raw(
        &server,
        "POST",
        "/setup/upload",
        form,
        b"file_path=%2Ftmp%2Fa",
    );
    assert_eq!(
        (s, j(&b)),
        (
            400,
            json!({"error": "file_path and file_data are required"})
        )
    );
    let (s, b) = raw(
        &server,
        "POST",
        "/execute_with_verification",
        json_ct,
        br#"{"command": ["true"], "verification": {"window_exists": "Nope"}, "max_wait_time": 3}"#,
    );
    assert_eq!(s, 500);
    assert_eq!(j(&b)["verification"], "failed");
    let (s, b) = raw(&server, "GET", "/terminal", None, b"");
    assert_eq!(
        (s, j(&b)),
        (200, json!({"output": null, "status": "success"}))
    );
    let (s, b) = raw(&server, "GET", "/screenshot", None, b"");
    assert_eq!(s, 200);
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n");
    let (s, b) = raw(&server, "GET", "/accessibility", None, b"");
    assert_eq!(s, 200);
    assert!(
        j(&b)["AT"]
            .as_str()
            .unwrap()
            .starts_with("<desktop-frame xmlns:st=")
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 22);
    assert_eq!(reqs[0].status, 404);
}

/// A trainer for a two-round run on the OSWorld tasks through `server`: the shared
/// plugins, grants and checkpointing, with `env_extra` added to `[env.config]` and
/// `tables` (rollout, learner, policy) appended; it writes into `out`.
async fn osworld_trainer(
    server: &OsworldServer,
    seed: u64,
    env_extra: &str,
    tables: &str,
    out: &std::path::Path,
) -> steprl_train::Trainer {
    steprl_tests::trainer(&osworld_config(server, seed, env_extra, tables), out).await
}

/// The run config of [`osworld_trainer`].
fn osworld_config(server: &OsworldServer, seed: u64, env_extra: &str, tables: &str) -> String {
    format!(
        r#"
seed = {seed}
rounds = 2

[env]
plugin = "{env}"
[env.config]
server_url = "{url}"
task_dir = "/tasks"
cache_dir = "/cache"
step_pause_ms = 0
retry_interval_ms = 0
reset_steps = [{{ type = "execute", parameters = {{ command = ["revert-snapshot"] }} }}]
{env_extra}
[env.grants]
http = ["{authority}"]
read_dirs = {{ "/tasks" = "{tasks}", "/cache" = "{cache}" }}

[checker]
plugin = "{checker}"

[resampler]
plugin = "{resampler}"

[algo]
include_failures = true

[checkpoint]
every = 100

{tables}
"#,
        env = steprl_tests::plugin_path("osworld").display(),
        checker = steprl_tests::plugin_path("osworld-checker").display(),
        resampler = steprl_tests::plugin_path("resample-step").display(),
        url = server.url(),
        authority = server.authority(),
        tasks = fixtures().join("tasks").display(),
        cache = fixtures().join("cache").display(),
    )
}

/// The learner trains on OSWorld tasks through the same host as on the simulated
/// suites — only the run config differs (plugins, grants, limits): the unsupported
/// task is skipped, every episode is judged (none lost to the plugins), and the run
/// leaves metrics behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steprl_trains_on_osworld_tasks_with_a_granted_server() {
    let server = OsworldServer::start();
    let out = tempfile::tempdir().unwrap();
    let mut t = osworld_trainer(
        &server,
        3,
        "max_steps = 4",
        r#"
[rollout]
tasks_per_round = 2
copies_per_task = 2
concurrency = 1

[learner]
minibatch = 16

[policy]
embed_dim = 8
hidden = 32
layers = 1
"#,
        &out.path().join("run"),
    )
    .await;
    assert!(
        !t.tasks().iter().any(|id| id == CHROME),
        "the unsupported task is skipped: {:?}",
        t.tasks()
    );
    assert_eq!(t.tasks().len(), 4, "{:?}", t.tasks());
    let mut judged = 0;
    while !t.finished() {
        let m = t.round().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.plugin_failures, 0, "round {}: {m:?}", m.round);
        judged = m.trajectories_total;
        assert!(m.env_steps_total > 0);
    }
    assert_eq!(judged, 2 * 2 * 2);
    let metrics = std::fs::read_to_string(out.path().join("run/metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2);
    // The adapter drove the VM server: every episode reset it and ran actions.
    let reqs = server.requests();
    assert!(calls(&reqs, "/setup/execute").len() >= 8);
    assert!(!calls(&reqs, "/execute").is_empty());
}

/// A language model writing its actions trains on OSWorld tasks (`policy.mode =
/// "generate"`, the tiny random Llama of `host/lm`): with `pyautogui` every reply is code
/// the adapter sends to the VM; with `computer_13` the replies that are not its JSON are
/// rejected as invalid, end their episodes, which are judged as failures of the policy
/// (never lost as plugin failures), and are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generating_language_model_trains_on_osworld_with_text_actions() {
    let (invalid, reqs) = generate_run("pyautogui").await;
    assert_eq!(invalid, 0, "any non-empty text is pyautogui code to run");
    assert!(
        !calls(&reqs, "/execute").is_empty(),
        "the generated code went to the VM"
    );
    let (invalid, _) = generate_run("computer_13").await;
    assert!(
        invalid > 0,
        "a random model's replies are not computer_13 JSON, and each rejected one was counted"
    );
}

/// Two rounds of a generating LM policy on the OSWorld tasks with `action_space`: the
/// invalid actions counted and the requests the VM server saw.
async fn generate_run(action_space: &str) -> (u64, Vec<Recorded>) {
    let server = OsworldServer::start();
    let out = tempfile::tempdir().unwrap();
    let model = repo_root().join("host/lm/tests/fixtures/tiny-llama");
    let mut t = osworld_trainer(
        &server,
        5,
        &format!("max_steps = 3\naction_space = \"{action_space}\""),
        &format!(
            r#"
[rollout]
tasks_per_round = 2
copies_per_task = 2
# One VM serves one episode at a time.
concurrency = 1

[learner]
minibatch = 4
micro_batch = 2
epochs = 1

[policy]
kind = "lm"
mode = "generate"
model = "{}"
lora_rank = 2
max_new_tokens = 6
temperature = 1.0
stop = ["\n"]
action_hint = "Reply with one line of pyautogui code, or DONE."
"#,
            model.display()
        ),
        &out.path().join("run"),
    )
    .await;
    let (invalid, judged) = steprl_tests::run_without_plugin_failures(&mut t).await;
    assert_eq!(judged, 2 * 2 * 2, "every episode judged");
    let metrics = std::fs::read_to_string(out.path().join("run/metrics.jsonl")).unwrap();
    assert_eq!(
        metrics.contains("\"invalid_actions\""),
        invalid > 0,
        "the metrics carry the count when there is one: {metrics}"
    );
    (invalid, server.requests())
}

/// A language model writing its actions rolls out asynchronously too: round 1 is
/// written by a snapshot of version 0 while the learner updates on round 0.
#[tokio::test]
async fn a_generating_language_model_policy_rolls_out_asynchronously() {
    let server = OsworldServer::start();
    let out = tempfile::tempdir().unwrap();
    let model = repo_root().join("host/lm/tests/fixtures/tiny-llama");
    let mut t = osworld_trainer(
        &server,
        5,
        "max_steps = 2\naction_space = \"pyautogui\"",
        &format!(
            "[rollout]\nmode = \"async\"\ntasks_per_round = 2\ncopies_per_task = 1\nconcurrency = 1\n\n[learner]\nminibatch = 4\nepochs = 1\n\n[policy]\nkind = \"lm\"\nmode = \"generate\"\nmodel = \"{}\"\nlora_rank = 2\nmax_new_tokens = 4\nstop = [\"\\n\"]\n",
            model.display()
        ),
        &out.path().join("run"),
    )
    .await;
    let (_, judged) = steprl_tests::run_without_plugin_failures(&mut t).await;
    assert_eq!(judged, 2 * 2, "every episode judged");
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(out.path().join("run/metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["rollout"]["policy_version"], 0, "{}", lines[1]);
}

// ----- mismatches with OSWorld's client, reproduced in the local server -------------

/// The mismatch tasks (`tests/fixtures/osworld/mismatches`), each built to show one way
/// the adapter once differed from OSWorld's own client.
async fn mismatch_env(server: &OsworldServer, extra: Value) -> WasmEnvironment {
    let mut grants = grants(server);
    grants.read_dirs.push(DirGrant {
        host: fixtures().join("mismatches"),
        guest: "/mismatches".into(),
    });
    let mut config = config(server, extra);
    config["task_dir"] = json!("/mismatches");
    env_with(config, grants)
        .await
        .unwrap_or_else(|e| panic!("osworld loads: {e}"))
}

/// Reset, then DONE, judged.
async fn done_at_once(env: &WasmEnvironment, id: &str) -> (Verdict, Value) {
    let mut checker = checker().await;
    let mut inst = env.instantiate().await.unwrap();
    let t = task(env, id).clone();
    let (_, v, state) = play(inst.as_mut(), &mut checker, &t, text_parts(), |_, _| {
        Some(label(env, "DONE"))
    })
    .await;
    (v, state)
}

#[tokio::test]
async fn a_string_shell_flag_runs_the_setup_through_a_shell_as_python_reads_it() {
    let server = OsworldServer::start();
    let env = mismatch_env(&server, json!({})).await;
    let (v, state) = done_at_once(&env, "mismatch-string-shell").await;
    assert!(v.success, "{} / {state}", v.reason);
    let reqs = server.requests();
    let setup = calls(&reqs, "/setup/execute");
    assert_eq!(setup[0].json().unwrap()["shell"], true);

    // The local server reads the flag by truthiness too, as OSWorld's Flask server does,
    // and without a shell the same line does not make the file: what the adapter did
    // when it read "true" as false.
    let line = "mkdir -p ~/Desktop/s && echo ok > ~/Desktop/s/flag";
    for (shell, made) in [(json!("true"), true), (json!(false), false)] {
        let body = json!({"command": line, "shell": shell}).to_string();
        let (status, _) = raw(
            &server,
            "POST",
            "/setup/execute",
            Some("application/json"),
            body.as_bytes(),
        );
        assert_eq!(status, 200);
        let exists = server.vm(|vm| {
            // Without a shell, mkdir makes `flag` a directory among others.
            let flag = vm.fs.read_text("/home/user/Desktop/s/flag").is_some();
            vm.fs.remove_tree("/home/user/Desktop/s");
            flag
        });
        assert_eq!(exists, made, "shell = {shell}");
    }
}

#[tokio::test]
async fn a_setup_execute_answered_500_without_until_is_sent_once_and_setup_goes_on() {
    let server = OsworldServer::start();
    let env = mismatch_env(&server, json!({"retries": 5})).await;
    let (v, state) = done_at_once(&env, "mismatch-setup-500").await;
    assert!(v.success, "{} / {state}", v.reason);
    let reqs = server.requests();
    let setup = calls(&reqs, "/setup/execute");
    let failing: Vec<_> = setup
        .iter()
        .filter(|r| r.json().unwrap()["command"][0] == "no-such-program")
        .collect();
    assert_eq!(failing.len(), 1, "sent once, not retried");
    assert_eq!(failing[0].status, 500);
    assert!(setup.iter().any(|r| r.status == 200), "the next step ran");
}

#[tokio::test]
async fn a_missing_window_gives_a_null_result_that_scores_0_not_a_failure() {
    let server = OsworldServer::start();
    let env = mismatch_env(&server, json!({"retries": 2})).await;
    let (v, state) = done_at_once(&env, "mismatch-missing-window").await;
    assert!(!v.success);
    assert_eq!(v.score, 0.0);
    assert_eq!(state["result"], Value::Null, "{state}");
    let reqs = server.requests();
    let asked = calls(&reqs, "/window_size");
    assert!(
        !asked.is_empty() && asked.iter().all(|r| r.status == 500),
        "{asked:?}"
    );

    // With the window open the getter answers its size.
    server.vm(|vm| {
        let mut w = vm.desktop.windows[0].clone();
        w.class = "gedit".into();
        vm.desktop.windows.push(w);
    });
    let (_, state) = done_at_once(&env, "mismatch-missing-window").await;
    assert!(state["result"]["width"].is_number(), "{state}");
}

#[tokio::test]
async fn an_open_step_waits_its_own_timeout_not_the_ordinary_request_timeout() {
    let server = OsworldServer::start();
    server.vm(|vm| vm.open_delay = std::time::Duration::from_millis(1500));
    // Ordinary requests give up after 500 ms; the open step may take 20 s.
    let env = mismatch_env(
        &server,
        json!({"http_timeout_ms": 500, "open_file_timeout_ms": 20000}),
    )
    .await;
    let (v, state) = done_at_once(&env, "mismatch-slow-open").await;
    assert!(v.success, "{} / {state}", v.reason);
    assert!(
        server.vm(|vm| vm
            .desktop
            .windows
            .iter()
            .any(|w| w.title.contains("notes.txt"))),
        "the file was opened"
    );

    // With an open timeout below the server's time the reset fails, naming the step.
    let env = mismatch_env(
        &server,
        json!({"http_timeout_ms": 500, "open_file_timeout_ms": 300}),
    )
    .await;
    let mut inst = env.instantiate().await.unwrap();
    let ep = inst
        .start("mismatch-slow-open", 0, text_parts())
        .await
        .unwrap();
    let err = inst.reset(ep).await.unwrap_err().to_string();
    assert!(err.contains("/setup/open_file"), "{err}");
}

#[tokio::test]
async fn the_terminal_cell_shows_the_latest_output() {
    let server = OsworldServer::start();
    let env = env(&server, json!({})).await;
    let mut checker = checker().await;
    let mut inst = env.instantiate().await.unwrap();
    let t = task(&env, EXECUTABLE).clone();
    let pad = "x".repeat(40);
    // Five commands (10 steps; the task allows 15), each about 100 characters of history.
    let (obs, _, _) = play(inst.as_mut(), &mut checker, &t, text_parts(), |o, i| {
        Some(Action::Text(match i {
            i if i < 10 && i % 2 == 0 => {
                format!(
                    "type e{}: echo marker-{}-{pad}",
                    element(o, "terminal"),
                    i / 2
                )
            }
            i if i < 10 => "press enter".into(),
            _ => "DONE".into(),
        }))
    })
    .await;
    let text = obs.last().unwrap().text.as_deref().unwrap();
    let row = text
        .lines()
        .find(|l| l.split('\t').nth(1) == Some("terminal"))
        .unwrap_or_else(|| panic!("no terminal row in {text}"));
    // The last command and its output, which the first 240 characters would not reach.
    assert!(
        row.contains(&format!("marker-4-{pad} user@ubuntu")),
        "{row}"
    );
    assert!(
        !row.contains("marker-0-"),
        "the head is cut, not the tail: {row}"
    );
}

#[tokio::test]
async fn a_windows_tree_without_showing_still_lists_its_elements() {
    let server = OsworldServer::start();
    server.vm(|vm| vm.windows = true);
    let (status, body) = raw(&server, "GET", "/accessibility", None, b"");
    assert_eq!(status, 200);
    let xml = String::from_utf8(body).unwrap();
    assert!(
        xml.contains("accessibility.windows.example.org") && !xml.contains("showing"),
        "{xml}"
    );
    let env = env(&server, json!({})).await;
    let mut inst = env.instantiate().await.unwrap();
    let ep = inst.start(EXECUTABLE, 0, text_parts()).await.unwrap();
    let obs = inst.reset(ep).await.unwrap();
    assert!(obs.action_mask.as_ref().unwrap()[0], "{:?}", obs.text);
    element(&obs, "terminal");
    inst.close(ep).await;
}

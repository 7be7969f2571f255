//! The built `androidworld` adapter and `androidworld-checker` through the sandbox,
//! against the protocol-faithful local AndroidWorld server: scripted episodes judged,
//! failures and infeasible claims, raw `JSONAction` text actions, server errors, the
//! network-grant proofs, and the generic conformance check.

use steprl_conformance::{EnvCheck, check_environment};
use steprl_core::{
    Action, EnvInstance, Environment, ObservationParts, RewardChecker, StepResult, TaskInfo,
    TrajectorySummary, Verdict,
};
use steprl_sandbox::{Grants, LoadError, PluginOptions, WasmEnvironment, WasmRewardChecker};
use steprl_tests::androidworld_server::{AndroidWorldServer, ServerOptions};
use steprl_tests::{load, sandbox};

/// Observation size the tests ask for (the device is 144×320).
const W: u32 = 36;
const H: u32 = 80;

fn config(server: &AndroidWorldServer, extra: serde_json::Value) -> String {
    let mut c = serde_json::json!({
        "server_url": server.url(),
        "image_width": W,
        "image_height": H,
        "grid_cols": 2,
        "grid_rows": 8,
        "element_clicks": 6,
        "apps": ["Settings", "Contacts", "Clock"],
    });
    for (k, v) in extra.as_object().expect("an object") {
        c[k] = v.clone();
    }
    c.to_string()
}

fn grant(port: u16) -> Grants {
    Grants {
        http: vec![format!("127.0.0.1:{port}")],
        ..Default::default()
    }
}

async fn env_with(
    server: &AndroidWorldServer,
    extra: serde_json::Value,
    grants: Grants,
) -> Result<WasmEnvironment, LoadError> {
    let sb = sandbox();
    WasmEnvironment::new(
        &sb,
        &load(&sb, "androidworld"),
        PluginOptions {
            config_json: config(server, extra),
            grants,
            ..PluginOptions::default()
        },
    )
    .await
}

async fn env(server: &AndroidWorldServer) -> WasmEnvironment {
    env_with(server, serde_json::json!({}), grant(server.port()))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn checker(config: &str) -> WasmRewardChecker {
    let sb = sandbox();
    WasmRewardChecker::new(
        &sb,
        &load(&sb, "androidworld-checker"),
        PluginOptions {
            config_json: config.into(),
            ..PluginOptions::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The discrete action labelled `label`.
fn act(env: &WasmEnvironment, label: &str) -> Action {
    let i = env
        .info()
        .action
        .discrete_labels
        .iter()
        .position(|l| l == label)
        .unwrap_or_else(|| panic!("no action `{label}`"));
    Action::Discrete(i as u32)
}

fn text(json: &str) -> Action {
    Action::Text(json.into())
}

struct Played {
    first: steprl_core::Observation,
    steps: Vec<StepResult>,
    final_state: serde_json::Value,
    verdict: Verdict,
}

async fn play(
    inst: &mut dyn EnvInstance,
    checker: &mut dyn RewardChecker,
    task: &TaskInfo,
    actions: &[Action],
) -> Played {
    let parts = ObservationParts {
        text: true,
        image: true,
        ..Default::default()
    };
    let ep = inst.start(&task.id, 0, parts).await.expect("start");
    let first = inst.reset(ep).await.expect("reset");
    let mut steps = Vec::new();
    for a in actions {
        steps.push(
            inst.step(ep, a)
                .await
                .unwrap_or_else(|e| panic!("{} {a:?}: {e}", task.id)),
        );
    }
    let final_json = inst.final_state(ep).await.expect("final state");
    inst.close(ep).await;
    let last = steps.last();
    let summary = TrajectorySummary {
        seed: 0,
        actions: actions.to_vec(),
        rewards: vec![0.0; actions.len()],
        done: last.is_some_and(|r| r.done),
        truncated: last.is_some_and(|r| r.truncated),
    };
    let verdict = checker
        .check(task, &summary, &final_json)
        .await
        .expect("check");
    Played {
        first,
        steps,
        final_state: serde_json::from_str(&final_json).expect("final state JSON"),
        verdict,
    }
}

fn task<'a>(env: &'a WasmEnvironment, id: &str) -> &'a TaskInfo {
    env.info()
        .task(id)
        .unwrap_or_else(|| panic!("task {id} is not listed"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_come_from_the_suite_with_goals_and_budgets() {
    let server = AndroidWorldServer::start();
    let env = env(&server).await;
    let info = env.info();
    // 7 task types × n_task_combinations = 2, in the suite's (alphabetical) order.
    assert_eq!(info.tasks.len(), 14);
    assert_eq!(info.tasks[0].id, "ContactsAddContact#0");
    let wifi = task(&env, "SystemWifiTurnOn#0");
    assert_eq!(wifi.instruction, "Turn wifi on.");
    assert_eq!(wifi.suite, "androidworld");
    assert_eq!((wifi.max_steps, wifi.difficulty), (10, Some(1)));
    let contact = task(&env, "ContactsAddContact#1");
    assert_eq!(
        Some(contact.instruction.clone()),
        server.goal("ContactsAddContact", 1)
    );
    assert_eq!(contact.max_steps, 12);
    let composite = task(&env, "TurnOffWifiAndTurnOnBluetooth#0");
    assert_eq!((composite.max_steps, composite.difficulty), (20, Some(2)));
    let meta: serde_json::Value = serde_json::from_str(&contact.metadata_json).unwrap();
    assert_eq!(meta["task_type"], "ContactsAddContact");
    assert_eq!(meta["task_idx"], 1);
    assert_eq!(
        meta["template"],
        "Create a new contact for {name}. Their number is {number}."
    );
    let img = info.observation.image.expect("image observations");
    assert_eq!((img.width, img.height, img.channels), (W, H, 3));
    assert!(info.observation.vocab_size.is_none());
    assert!(info.action.text);
    // 10 fixed + 16 cells + 6 elements + 4 slots + 3 apps
    assert_eq!(info.action.discrete, 39);
    assert_eq!(info.action.discrete_labels[0], "status complete");
    // A re-created suite: 3 combinations per task type.
    let env3 = env_with(
        &server,
        serde_json::json!({"n_task_combinations": 3, "suite_seed": 7}),
        grant(server.port()),
    )
    .await
    .unwrap();
    assert_eq!(env3.info().tasks.len(), 21);
    assert!(
        server.requests().iter().any(|r| r
            == "GET /suite/reinitialize?n_task_combinations=3&seed=7&task_family=android_world")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_episodes_succeed_for_wifi_bluetooth_and_contacts() {
    let server = AndroidWorldServer::start();
    let env = env(&server).await;
    let mut c = checker("{}").await;
    let mut inst = env.instantiate().await.unwrap();

    // Wi-Fi on: open Settings, tap the Wi-Fi row (grid cell in row 1), say complete.
    let t = task(&env, "SystemWifiTurnOn#0");
    let p = play(
        inst.as_mut(),
        &mut c,
        t,
        &[
            act(&env, "open app Settings"),
            act(&env, "click cell (0,1)"),
            act(&env, "status complete"),
        ],
    )
    .await;
    assert!(p.verdict.success, "{}", p.verdict.reason);
    assert_eq!(p.verdict.score, 1.0);
    assert!(server.device().wifi);
    let img = p.first.image.as_ref().expect("an image");
    assert_eq!((img.width, img.height, img.channels), (W, H, 3));
    assert_eq!(img.data.len(), (W * H * 3) as usize);
    let after = p.steps[1].observation.image.as_ref().unwrap();
    assert_ne!(
        after.data,
        p.steps[0].observation.image.as_ref().unwrap().data,
        "the toggle shows"
    );
    assert!(
        p.first
            .text
            .as_deref()
            .unwrap()
            .starts_with("Turn wifi on.\nstep 0/10")
    );
    assert!(p.steps[2].done && !p.steps[2].truncated);
    assert_eq!(p.final_state["ended_with_status"], true);
    assert_eq!(p.final_state["goal_status"], "complete");
    assert_eq!(p.final_state["score"], 1.0);
    let info: serde_json::Value = serde_json::from_str(&p.steps[1].info_json).unwrap();
    assert_eq!(
        info["action"],
        serde_json::json!({"action_type": "click", "x": 36, "y": 60})
    );
    assert!(info["message"].as_str().unwrap().contains("executed"));

    // Bluetooth off: home, tap the Settings icon (element 0), tap the Bluetooth row.
    let t = task(&env, "SystemBluetoothTurnOff#1");
    let p = play(
        inst.as_mut(),
        &mut c,
        t,
        &[
            act(&env, "navigate home"),
            act(&env, "click element 0"),
            act(&env, "click cell (1,2)"),
            act(&env, "status complete"),
        ],
    )
    .await;
    assert!(p.verdict.success, "{}", p.verdict.reason);
    assert!(!server.device().bluetooth);

    // A contact: the name and number are text slots 0 and 1 taken from the goal.
    let t = task(&env, "ContactsAddContact#0");
    let goal = t.instruction.clone();
    let p = play(
        inst.as_mut(),
        &mut c,
        t,
        &[
            act(&env, "open app Contacts"),
            act(&env, "click element 0"),
            act(&env, "click element 0"),
            act(&env, "type slot 0"),
            act(&env, "click element 1"),
            act(&env, "type slot 1"),
            act(&env, "click element 2"),
            act(&env, "status complete"),
        ],
    )
    .await;
    assert!(p.verdict.success, "{}: {}", goal, p.verdict.reason);
    let mask = p.first.action_mask.as_ref().unwrap();
    assert_eq!(mask.len(), 39);
    assert_eq!(
        mask.iter().filter(|m| !**m).count(),
        2,
        "slots 2 and 3 are empty"
    );
    let (name, phone) = server.device().contacts.last().cloned().unwrap();
    assert!(
        goal.contains(&format!("for {name}.")) && goal.contains(&phone),
        "{goal}"
    );
    // Scoring happened before tear-down, once per episode.
    let reqs = server.requests();
    let score = reqs
        .iter()
        .rposition(|r| r.starts_with("GET /task/score"))
        .unwrap();
    let down = reqs
        .iter()
        .rposition(|r| r.starts_with("POST /task/tear_down"))
        .unwrap();
    assert!(score < down);
    assert_eq!(
        reqs.iter()
            .filter(|r| r.starts_with("GET /task/score"))
            .count(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_status_action_partial_credit_and_infeasible_all_fail() {
    let server = AndroidWorldServer::start();
    let env = env(&server).await;
    let mut c = checker("{}").await;
    let mut inst = env.instantiate().await.unwrap();

    // The goal is reached but the agent never says so: the budget runs out.
    let t = task(&env, "SystemWifiTurnOn#1");
    let mut actions = vec![
        act(&env, "open app Settings"),
        act(&env, "click cell (0,1)"),
    ];
    actions.extend(std::iter::repeat_n(act(&env, "wait"), 8));
    let p = play(inst.as_mut(), &mut c, t, &actions).await;
    assert!(p.steps.last().unwrap().truncated);
    assert!(!p.verdict.success);
    assert_eq!(p.verdict.score, 0.0);
    assert!(
        p.verdict
            .reason
            .contains("never ended with a status action"),
        "{}",
        p.verdict.reason
    );
    assert_eq!(p.final_state["score"], 1.0, "the task itself was done");
    assert_eq!(p.final_state["ended_with_status"], false);
    assert!(p.final_state["goal_status"].is_null());

    // Saying complete without doing it.
    let t = task(&env, "SystemWifiTurnOff#0");
    let p = play(inst.as_mut(), &mut c, t, &[act(&env, "status complete")]).await;
    assert!(!p.verdict.success);
    assert!(
        p.verdict.reason.contains("below the threshold"),
        "{}",
        p.verdict.reason
    );

    // Declaring a (feasible) task infeasible.
    let t = task(&env, "SystemBluetoothTurnOn#0");
    let p = play(inst.as_mut(), &mut c, t, &[act(&env, "status infeasible")]).await;
    assert!(!p.verdict.success);
    assert!(
        p.verdict.reason.contains("declared the task infeasible"),
        "{}",
        p.verdict.reason
    );
    assert_eq!(p.final_state["goal_status"], "infeasible");

    // Half of a composite task: score 0.5 fails at the default threshold 1.0 ...
    let t = task(&env, "TurnOffWifiAndTurnOnBluetooth#0").clone();
    let half = [
        act(&env, "open app Settings"),
        act(&env, "click cell (0,1)"),
        act(&env, "status complete"),
    ];
    let p = play(inst.as_mut(), &mut c, &t, &half).await;
    assert!(!p.verdict.success);
    assert_eq!(p.verdict.score, 0.5);
    // ... and passes with success_threshold = 0.5.
    let mut lenient = checker(r#"{"success_threshold": 0.5}"#).await;
    let p = play(inst.as_mut(), &mut lenient, &t, &half).await;
    assert!(p.verdict.success, "{}", p.verdict.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_json_actions_drive_the_device() {
    let server = AndroidWorldServer::start();
    let env = env(&server).await;
    let mut c = checker("{}").await;
    let mut inst = env.instantiate().await.unwrap();
    // Open whatever app the goal names, by a raw JSONAction.
    let t = task(&env, "OpenAppTaskEval#0");
    let app = ["Clock", "Camera", "Contacts", "Markor"]
        .into_iter()
        .find(|a| t.instruction.starts_with(&format!("Open the {a} app.")))
        .expect("an app in the goal");
    let p = play(
        inst.as_mut(),
        &mut c,
        t,
        &[
            text(&format!(
                r#"{{"action_type":"open_app","app_name":"{app}"}}"#
            )),
            text(r#"{"action_type":"answer","text":"opened"}"#),
            text(r#"{"action_type":"status","goal_status":"complete"}"#),
        ],
    )
    .await;
    assert!(p.verdict.success, "{}", p.verdict.reason);
    assert_eq!(p.final_state["answer"], "opened");

    // Coordinates in device pixels: tap the Wi-Fi row.
    let (x, y) = server.element_centre(0);
    let t = task(&env, "SystemWifiTurnOn#0");
    let p = play(
        inst.as_mut(),
        &mut c,
        t,
        &[
            text(r#"{"action_type":"open_app","app_name":"Settings"}"#),
            text(&format!(r#"{{"action_type":"click","x":{x},"y":{y}}}"#)),
            text(r#" {"action_type": "status", "goal_status": "complete"} "#),
        ],
    )
    .await;
    assert!(p.verdict.success, "{}", p.verdict.reason);

    // Malformed raw actions are refused before anything reaches the server.
    let ep = inst
        .start("SystemWifiTurnOn#0", 0, ObservationParts::default())
        .await
        .unwrap();
    inst.reset(ep).await.unwrap();
    server.clear_requests();
    for (raw, why) in [
        (r#"{"action_type":"fly"}"#, "unknown action_type `fly`"),
        (
            r#"{"action_type":"click","index":1,"x":2,"y":3}"#,
            "not both",
        ),
        (
            r#"{"action_type":"scroll","direction":"sideways"}"#,
            "direction `sideways`",
        ),
        (
            r#"{"action_type":"click","x":1,"y":2,"speed":3}"#,
            "unknown JSONAction field(s) speed",
        ),
        ("click the wifi", "not JSON"),
    ] {
        let e = inst.step(ep, &text(raw)).await.unwrap_err().to_string();
        assert!(
            e.contains("invalid action") && e.contains(why),
            "{raw}: {e}"
        );
    }
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    inst.close(ep).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_surface_with_endpoint_status_and_detail() {
    let server = AndroidWorldServer::start();

    // An unhealthy server at init names the URL, the call, the status and the detail.
    server.set_healthy(false);
    let e = env_with(&server, serde_json::json!({}), grant(server.port()))
        .await
        .err()
        .expect("an unhealthy server is refused")
        .to_string();
    assert!(
        e.contains(&format!(
            "the AndroidWorld server at {} is not available",
            server.url()
        )) && e.contains("GET /health answered HTTP 500: Environment not initialized"),
        "{e}"
    );
    server.set_healthy(true);

    // A bad task family is the server's 400.
    let e = env_with(
        &server,
        serde_json::json!({"task_family": "nope"}),
        grant(server.port()),
    )
    .await
    .err()
    .expect("a bad family is refused")
    .to_string();
    assert!(
        e.contains("answered HTTP 400: Invalid task family: nope"),
        "{e}"
    );

    let env = env(&server).await;
    let mut inst = env.instantiate().await.unwrap();
    let ep = inst
        .start("SystemWifiTurnOn#0", 0, ObservationParts::ALL)
        .await
        .unwrap();
    // A failing screenshot during reset.
    server.fail_next("/screenshot", 500, r#"{"detail":"adb: device offline"}"#);
    let e = inst.reset(ep).await.unwrap_err().to_string();
    assert!(
        e.contains("external service failed")
            && e.contains(
                "GET /screenshot?wait_to_stabilize=false answered HTTP 500: adb: device offline"
            ),
        "{e}"
    );
    // FastAPI's validation error shape, as the server would send it.
    server.fail_next(
        "/task/initialize",
        422,
        r#"{"detail":[{"type":"missing","loc":["query","task_idx"],"msg":"Field required","input":null}]}"#,
    );
    let e = inst.reset(ep).await.unwrap_err().to_string();
    assert!(
        e.contains("answered HTTP 422: query.task_idx: Field required"),
        "{e}"
    );
    // The device failing an action (no element 5 on the Settings screen) is noted in
    // the step's info and the episode goes on.
    inst.reset(ep).await.unwrap();
    inst.step(ep, &act(&env, "open app Settings"))
        .await
        .unwrap();
    let r = inst.step(ep, &act(&env, "click element 5")).await.unwrap();
    let info: serde_json::Value = serde_json::from_str(&r.info_json).unwrap();
    assert_eq!(
        info["action_error"],
        "POST /execute_action answered HTTP 500: Internal Server Error"
    );
    assert!(!r.done && !r.truncated);
    let fs: serde_json::Value = serde_json::from_str(&inst.final_state(ep).await.unwrap()).unwrap();
    assert_eq!(fs["action_errors"], 1);
    inst.close(ep).await;
    // ... unless configured to fail.
    let strict = env_with(
        &server,
        serde_json::json!({"action_errors": "fail"}),
        grant(server.port()),
    )
    .await
    .unwrap();
    let mut inst = strict.instantiate().await.unwrap();
    let ep = inst
        .start("SystemWifiTurnOn#0", 0, ObservationParts::default())
        .await
        .unwrap();
    inst.reset(ep).await.unwrap();
    let e = inst
        .step(ep, &act(&strict, "click element 5"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("POST /execute_action with {\"action_type\":\"click\",\"index\":5} answered HTTP 500: Internal Server Error"), "{e}");
    inst.close(ep).await;
    // Unknown tasks never reach the server.
    let e = inst
        .start("SystemWifiTurnOn#9", 0, ObservationParts::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown task `SystemWifiTurnOn#9 (not among the 14 task instances"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_network_grant_the_adapter_does_not_load() {
    let server = AndroidWorldServer::start();
    let e = env_with(&server, serde_json::json!({}), Grants::default())
        .await
        .err()
        .expect("no grant, no load");
    assert!(
        matches!(&e, LoadError::NetworkNotGranted { plugin, .. } if plugin == "androidworld"),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("plugin `androidworld`") && msg.contains("grants.http"),
        "{msg}"
    );
    assert!(server.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_for_another_port_is_refused_before_any_request() {
    let server = AndroidWorldServer::start();
    let other = if server.port() == 65535 {
        65534
    } else {
        server.port() + 1
    };
    let e = env_with(&server, serde_json::json!({}), grant(other))
        .await
        .err()
        .expect("the configured server is not granted")
        .to_string();
    let refused = format!("the host refused `127.0.0.1:{}`", server.port());
    assert!(e.contains(&refused) && e.contains("grants.http"), "{e}");
    assert!(e.contains(&server.url()), "{e}");
    assert!(server.requests().is_empty(), "{:?}", server.requests());

    // Granted correctly, the same config works, starting with the health check.
    let env = env_with(&server, serde_json::json!({}), grant(server.port()))
        .await
        .unwrap();
    assert_eq!(env.info().tasks.len(), 14);
    assert_eq!(server.requests()[0], "GET /health");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapter_passes_the_conformance_check_with_its_checker() {
    let server = AndroidWorldServer::start();
    let env = env(&server).await;
    let mut c = checker("{}").await;
    let report = check_environment(
        &env,
        Some(&mut c),
        &EnvCheck {
            episodes: 1,
            seed: 11,
            budget: std::time::Duration::from_secs(600),
        },
        |_, _, _| {},
    )
    .await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert_eq!(report.tasks.len(), 14);
}

/// With the `/ui_elements` route of `server-patch/` (here the local server's), the text
/// observation lists the screen's elements by index, and index-based `JSONAction`s act
/// on them; an unpatched server (404) leaves the goal line alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patched_server_lists_ui_elements_that_index_actions_use() {
    let server = AndroidWorldServer::start_with(ServerOptions {
        ui_elements: true,
        ..ServerOptions::default()
    });
    let env = env(&server).await;
    let mut c = checker("{}").await;
    let mut inst = env.instantiate().await.unwrap();
    let t = task(&env, "SystemWifiTurnOn#0");
    let p = play(
        inst.as_mut(),
        &mut c,
        t,
        &[
            text(r#"{"action_type":"open_app","app_name":"Settings"}"#),
            text(r#"{"action_type":"click","index":0}"#),
            text(r#"{"action_type":"status","goal_status":"complete"}"#),
        ],
    )
    .await;
    let first = p.first.text.clone().unwrap();
    assert!(
        first.contains("UI elements (click or type into one by its index):\n[0] TextView \"Settings\" (clickable) at (72, 60)\n[1] TextView \"Contacts\""),
        "{first}"
    );
    let settings = p.steps[0].observation.text.clone().unwrap();
    assert!(
        settings.contains("[0] Switch \"Wi-Fi\" (unchecked, clickable)"),
        "{settings}"
    );
    let after = p.steps[1].observation.text.clone().unwrap();
    assert!(
        after.contains("[0] Switch \"Wi-Fi\" (checked, clickable)"),
        "{after}"
    );
    assert!(p.verdict.success, "{}", p.verdict.reason);

    let plain = AndroidWorldServer::start();
    let env = self::env(&plain).await;
    let mut inst = env.instantiate().await.unwrap();
    let ep = inst
        .start(
            "SystemWifiTurnOn#0",
            0,
            ObservationParts {
                text: true,
                ..ObservationParts::default()
            },
        )
        .await
        .unwrap();
    let o = inst.reset(ep).await.unwrap();
    assert!(
        !o.text.unwrap().contains("UI elements"),
        "an unpatched server has no element list"
    );
    inst.close(ep).await;
}

/// A trainer over the AndroidWorld tasks `SystemWifiTurnOn` and
/// `SystemBluetoothTurnOff` of `server` (2 × 2 rollouts a round, one at a time), with
/// the tiny random Llama of `host/lm` as the policy; `tables` adds `[policy]` and other
/// settings (`rounds` first).
async fn aw_trainer(
    server: &AndroidWorldServer,
    tables: &str,
    out: &std::path::Path,
) -> steprl_train::Trainer {
    let root = steprl_tests::repo_root();
    let cfg_text = format!(
        r#"
seed = 2
{tables}

[env]
plugin = "{env}"
config = {{ server_url = "{url}", task_types = ["SystemWifiTurnOn", "SystemBluetoothTurnOff"], max_steps = 3 }}
[env.grants]
http = ["127.0.0.1:{port}"]

[checker]
plugin = "{checker}"

[resampler]
plugin = "{resampler}"

[algo]
include_failures = true

[rollout]
tasks_per_round = 2
copies_per_task = 2
concurrency = 1

[learner]
minibatch = 4
epochs = 1

[checkpoint]
every = 100
"#,
        env = steprl_tests::plugin_path("androidworld").display(),
        checker = steprl_tests::plugin_path("androidworld-checker").display(),
        resampler = steprl_tests::plugin_path("resample-step").display(),
        url = server.url(),
        port = server.port(),
    )
    .replace("{model}", &root.join("host/lm/tests/fixtures/tiny-llama").display().to_string());
    steprl_tests::trainer(&cfg_text, out).await
}

/// A language model writing `JSONAction`s trains on AndroidWorld tasks (`policy.mode =
/// "generate"`) against a patched server: the text observation carries the UI element
/// list, every reply goes to the adapter as a text action, the replies that are not a
/// valid `JSONAction` end their episodes, which are judged (never lost) and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generating_language_model_trains_on_androidworld_with_json_actions() {
    let server = AndroidWorldServer::start_with(ServerOptions {
        ui_elements: true,
        ..ServerOptions::default()
    });
    let out = tempfile::tempdir().unwrap();
    let mut t = aw_trainer(
        &server,
        r#"rounds = 2

[policy]
kind = "lm"
mode = "generate"
model = "{model}"
lora_rank = 2
max_new_tokens = 8
action_hint = "Reply with one JSONAction object."
"#,
        &out.path().join("run"),
    )
    .await;
    let (invalid, judged) = steprl_tests::run_without_plugin_failures(&mut t).await;
    assert_eq!(judged, 2 * 2 * 2, "every episode judged");
    assert!(
        invalid > 0,
        "a random model's replies are not JSONActions, and each rejected one was counted"
    );
    let asked = server
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET /ui_elements"))
        .count();
    assert!(
        asked >= 8,
        "every reset read the element list ({asked} reads)"
    );
}

/// A run whose episodes keep failing in the plugins stops with the most common failure
/// named, once more than `health.max_failure_rate` of `health.rounds` rounds' episodes
/// were lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_plugins_keep_failing_stops_and_names_the_failure() {
    let server = AndroidWorldServer::start();
    let out = tempfile::tempdir().unwrap();
    let mut t = aw_trainer(
        &server,
        r#"rounds = 3

[health]
rounds = 1

[policy]
kind = "lm"
model = "{model}"
lora_rank = 2
"#,
        &out.path().join("run"),
    )
    .await;
    for _ in 0..50 {
        server.fail_next("/task/initialize", 500, "Internal Server Error");
    }
    let e = t.round().await.expect_err("the run stops").to_string();
    assert!(
        e.starts_with("100% of the episodes of the last 1 round(s) were lost to plugin failures (health.max_failure_rate = 0.5); the most common ("),
        "{e}"
    );
    assert!(
        e.contains("/task/initialize") && e.contains("HTTP 500"),
        "{e}"
    );
    // The round was recorded before the run stopped.
    let metrics = std::fs::read_to_string(out.path().join("run/metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 1);
}

/// `close_on_exit`: when the host is done with the environment (`lifecycle.shutdown`)
/// the adapter sends `/close`, as android_world's own client ends its run, and the
/// server's environment is then closed; without it the server is left serving.
#[tokio::test]
async fn close_on_exit_closes_the_servers_environment_at_shutdown() {
    let server = AndroidWorldServer::start();
    let env = env(&server).await;
    env.shutdown().await.unwrap();
    assert!(!server.closed());
    assert!(
        !server
            .requests()
            .iter()
            .any(|r| r.starts_with("POST /close"))
    );

    let env = env_with(
        &server,
        serde_json::json!({"close_on_exit": true}),
        grant(server.port()),
    )
    .await
    .unwrap();
    let mut inst = env.instantiate().await.unwrap();
    let id = env.info().tasks[0].id.clone();
    let ep = inst
        .start(&id, 0, ObservationParts::default())
        .await
        .unwrap();
    inst.reset(ep).await.unwrap();
    inst.close(ep).await;
    env.shutdown().await.unwrap();
    assert!(server.closed());
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|r| r.starts_with("POST /close"))
            .count(),
        1
    );
    // The closed environment no longer drives the device.
    let ep = inst
        .start(&id, 0, ObservationParts::default())
        .await
        .unwrap();
    let err = inst.reset(ep).await.unwrap_err().to_string();
    assert!(err.contains("500"), "{err}");
}

//! The adapter itself, over any [`Transport`]: connecting (health, suite, task list
//! with goals) and running episodes (initialize, reset, act, screenshot, score,
//! tear down).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde_json::json;

use crate::actions::{ActionTable, Choice, Screen};
use crate::config::{ActionErrors, Config, SlotPolicy};
use crate::error::AwError;
use crate::gating::FinalState;
use crate::json_action::JsonAction;
use crate::protocol::{Call, Client, Method, Transport, error_detail};
use crate::screenshot::Frame;
use crate::slots::goal_slots;
use crate::tasks::{TaskId, known_task, step_budget};
use crate::ui_elements::{UiElement, UiElementsMode, render};

/// Most UI elements listed in a text observation (a real screen's tree can hold
/// hundreds; the rest are counted).
const MAX_LISTED_ELEMENTS: usize = 60;

/// One task the adapter offers.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskEntry {
    /// `TaskType#idx`.
    pub id: TaskId,
    /// `/task/goal`: the instruction.
    pub goal: String,
    /// `/task/template` of the task type.
    pub template: Option<String>,
    /// The step budget.
    pub max_steps: u32,
    /// 1–3 when the suite grades the task type.
    pub difficulty: Option<u8>,
}

/// An action as the agent gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentAction {
    /// An index into the action table.
    Discrete(u32),
    /// A raw `JSONAction` object.
    Text(String),
}

/// Which observation parts to produce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Parts {
    /// The text rendering (goal, step, last action).
    pub text: bool,
    /// The downscaled screenshot.
    pub image: bool,
}

/// What the agent sees.
#[derive(Debug, Clone, PartialEq)]
pub struct Obs {
    /// Goal, step count and the last action's outcome.
    pub text: Option<String>,
    /// The screenshot at the configured size.
    pub image: Option<Frame>,
    /// One entry per discrete action.
    pub mask: Vec<bool>,
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOut {
    /// The observation after the action.
    pub obs: Obs,
    /// The agent ended the episode with a `status` action.
    pub done: bool,
    /// The step budget ran out.
    pub truncated: bool,
    /// `{"action": ..., "message"?: ..., "action_error"?: ...}`.
    pub info: String,
}

struct Shared<T> {
    /// One client per server (one without a pool).
    clients: Vec<Client<T>>,
    /// Per server: it answered and holds the configured suite (re-created on it when
    /// the config asks), so episodes may run on it.
    ready: Vec<Cell<bool>>,
    /// The server new episodes run on (`serve`).
    served: Cell<usize>,
    config: Config,
    table: ActionTable,
    /// Whether the server has the `/ui_elements` route (unknown until first asked).
    ui_route: Cell<Option<bool>>,
    /// Per server: its screen size, from the last screenshot taken there.
    screens: Vec<Cell<Option<Screen>>>,
}

/// A connected adapter: the server, the configuration and the task list.
pub struct Suite<T> {
    shared: Rc<Shared<T>>,
    tasks: Vec<TaskEntry>,
}

impl<T: Transport + 'static> Suite<T> {
    /// Check `/health`, re-create the suite if configured, and list the tasks with
    /// their goals; `transport` makes the transport to one server (its base URL). With
    /// a pool, the first server that answers gives the task list.
    pub fn connect(config: Config, mut transport: impl FnMut(&str) -> T) -> Result<Self, AwError> {
        let clients: Vec<Client<T>> = config
            .all_servers()
            .into_iter()
            .map(|base| Client::new(transport(base), base))
            .collect();
        let mut down = Vec::new();
        let mut listing = None;
        for (i, c) in clients.iter().enumerate() {
            match c.health() {
                Ok(_) => {
                    listing = Some(i);
                    break;
                }
                Err(e) => down.push((c.base().to_owned(), e)),
            }
        }
        let Some(listing) = listing else {
            return Err(AwError::External(match down.as_slice() {
                [(base, e)] => format!("the AndroidWorld server at {base} is not available: {e}"),
                _ => format!(
                    "none of the {} AndroidWorld servers is available: {}",
                    down.len(),
                    down.iter()
                        .map(|(b, e)| format!("{b}: {e}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            }));
        };
        let client = &clients[listing];
        if config.reinitializes() {
            client.reinitialize(
                config.n_task_combinations.unwrap_or(2),
                config.suite_seed.unwrap_or(42),
                config.task_family.as_deref().unwrap_or("android_world"),
            )?;
        }
        let listed = client.task_list(config.max_index.map_or(-1, i64::from))?;
        let types: Vec<String> = match &config.task_types {
            None => listed,
            Some(wanted) => {
                let missing: Vec<&str> = wanted
                    .iter()
                    .filter(|w| !listed.contains(w))
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    let shown: Vec<&str> = listed.iter().take(12).map(String::as_str).collect();
                    return Err(AwError::InvalidConfig(format!(
                        "task_types: {} not in the server's task list ({} types: {}{})",
                        missing.join(", "),
                        listed.len(),
                        shown.join(", "),
                        if listed.len() > shown.len() {
                            ", …"
                        } else {
                            ""
                        }
                    )));
                }
                listed.into_iter().filter(|t| wanted.contains(t)).collect()
            }
        };
        let mut tasks = Vec::new();
        for ty in &types {
            let n = client.task_length(ty)?;
            let template = if n > 0 {
                Some(client.template(ty, 0)?)
            } else {
                None
            };
            let known = known_task(ty);
            for idx in 0..n {
                tasks.push(TaskEntry {
                    id: TaskId::new(ty, idx),
                    goal: client.goal(ty, idx)?,
                    template: template.clone(),
                    max_steps: step_budget(ty, config.max_steps, config.default_max_steps),
                    difficulty: known.map(|k| k.difficulty),
                });
            }
        }
        let table = ActionTable::new(&config);
        let n_servers = clients.len();
        let ready: Vec<Cell<bool>> = (0..n_servers).map(|i| Cell::new(i == listing)).collect();
        Ok(Suite {
            shared: Rc::new(Shared {
                clients,
                ready,
                served: Cell::new(listing),
                config,
                table,
                ui_route: Cell::new(None),
                screens: (0..n_servers).map(|_| Cell::new(None)).collect(),
            }),
            tasks,
        })
    }

    /// Every task offered.
    pub fn tasks(&self) -> &[TaskEntry] {
        &self.tasks
    }

    /// The host is done with the environment: `POST /close` to every server when
    /// `close_on_exit` is set (nothing otherwise). True when it was sent.
    pub fn shut_down(&self) -> Result<bool, AwError> {
        if !self.shared.config.close_on_exit {
            return Ok(false);
        }
        let failed: Vec<String> = self
            .shared
            .clients
            .iter()
            .filter_map(|c| c.close().err().map(|e| e.to_string()))
            .collect();
        if !failed.is_empty() {
            return Err(AwError::External(failed.join("; ")));
        }
        Ok(true)
    }

    /// Run the episodes started from now on on server `index`. Before its first
    /// episode a server must answer `/health`, and gets the configured suite when the
    /// config re-creates it.
    pub fn serve(&self, index: usize) -> Result<(), AwError> {
        let shared = &self.shared;
        let client = shared.clients.get(index).ok_or_else(|| {
            AwError::InvalidInput(format!(
                "server {index}: the config lists {} server(s)",
                shared.clients.len()
            ))
        })?;
        if !shared.ready[index].get() {
            client.health().map_err(|e| {
                AwError::External(format!(
                    "the AndroidWorld server at {} is not available: {e}",
                    client.base()
                ))
            })?;
            let c = &shared.config;
            if c.reinitializes() {
                client.reinitialize(
                    c.n_task_combinations.unwrap_or(2),
                    c.suite_seed.unwrap_or(42),
                    c.task_family.as_deref().unwrap_or("android_world"),
                )?;
            }
            shared.ready[index].set(true);
        }
        shared.served.set(index);
        Ok(())
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The discrete actions.
    pub fn table(&self) -> &ActionTable {
        &self.shared.table
    }

    /// An episode of `task_id` (nothing is sent to the server until `reset`).
    pub fn start(&self, task_id: &str, parts: Parts) -> Result<Episode<T>, AwError> {
        let id = TaskId::parse(task_id)?;
        let task = self
            .tasks
            .iter()
            .find(|t| t.id == id)
            .cloned()
            .ok_or_else(|| {
                AwError::UnknownTask(format!(
                    "{task_id} (not among the {} task instances of the server's suite; see `steprl tasks`)",
                    self.tasks.len()
                ))
            })?;
        let config = &self.shared.config;
        let slots = match config.text_slots {
            SlotPolicy::None => Vec::new(),
            SlotPolicy::Goal => goal_slots(&task.goal, config.n_text_slots as usize),
            SlotPolicy::Fixed => config.texts.clone(),
        };
        Ok(Episode {
            shared: self.shared.clone(),
            server: self.shared.served.get(),
            task,
            slots,
            parts,
            phase: Cell::new(Phase::Fresh),
            steps: 0,
            screen: None,
            frame: None,
            elements: None,
            last: "none".into(),
            goal_status: None,
            answer: None,
            truncated: false,
            action_errors: 0,
            initialized: Cell::new(false),
            final_state: RefCell::new(None),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Fresh,
    Running,
    Ended,
}

/// One episode on the device.
pub struct Episode<T: Transport> {
    shared: Rc<Shared<T>>,
    /// The server it runs on.
    server: usize,
    task: TaskEntry,
    slots: Vec<String>,
    parts: Parts,
    phase: Cell<Phase>,
    steps: u32,
    screen: Option<Screen>,
    frame: Option<Frame>,
    /// The screen's UI elements, when the text observation lists them.
    elements: Option<Vec<UiElement>>,
    last: String,
    goal_status: Option<String>,
    answer: Option<String>,
    truncated: bool,
    action_errors: u32,
    initialized: Cell<bool>,
    final_state: RefCell<Option<String>>,
}

impl<T: Transport> Episode<T> {
    /// The task.
    pub fn task(&self) -> &TaskEntry {
        &self.task
    }

    /// The strings the `type slot j` actions type.
    pub fn slots(&self) -> &[String] {
        &self.slots
    }

    fn client(&self) -> &Client<T> {
        &self.shared.clients[self.server]
    }

    fn tear_down_now(&self) -> Result<(), AwError> {
        if self.initialized.get() && self.shared.config.tear_down {
            self.initialized.set(false);
            let id = &self.task.id;
            self.client().tear_down(&id.task_type, id.task_idx)?;
        }
        Ok(())
    }

    /// Initialize the task on the device (tearing down a previous run of it), go to
    /// the home screen, and return the first observation.
    pub fn reset(&mut self) -> Result<Obs, AwError> {
        self.tear_down_now()?;
        let id = self.task.id.clone();
        self.initialized.set(false);
        self.client().initialize(&id.task_type, id.task_idx)?;
        self.initialized.set(true);
        if self.shared.config.go_home {
            self.client().reset(true)?;
        }
        self.steps = 0;
        self.goal_status = None;
        self.answer = None;
        self.truncated = false;
        self.action_errors = 0;
        self.last = "none".into();
        self.final_state.replace(None);
        self.frame = None;
        self.elements = None;
        // Grid clicks need the screen size: the first episode on a server reads it from
        // a screenshot, later ones reuse it. So a policy that reads no image never
        // fetches a frame after that (on a real device, megabytes of JSON).
        self.screen = self.shared.screens[self.server].get();
        self.capture(self.screen.is_none())?;
        self.read_elements()?;
        self.phase.set(Phase::Running);
        Ok(self.observation())
    }

    fn capture(&mut self, always: bool) -> Result<(), AwError> {
        if !(always || self.parts.image) {
            return Ok(());
        }
        let full = self
            .client()
            .screenshot(self.shared.config.wait_to_stabilize)?;
        self.screen = Some(Screen {
            width: full.width,
            height: full.height,
        });
        self.shared.screens[self.server].set(self.screen);
        if self.parts.image {
            let c = &self.shared.config;
            self.frame = Some(full.resize(c.image_width, c.image_height));
        }
        Ok(())
    }

    /// Read the screen's UI elements when the text observation lists them: with
    /// `ui_elements = auto`, only from a server that has the route (asked once).
    fn read_elements(&mut self) -> Result<(), AwError> {
        let mode = self.shared.config.ui_elements;
        if !self.parts.text
            || mode == UiElementsMode::Off
            || self.shared.ui_route.get() == Some(false)
        {
            return Ok(());
        }
        let wait = self.shared.config.wait_to_stabilize;
        match self.client().ui_elements(wait)? {
            Some(list) => {
                self.shared.ui_route.set(Some(true));
                self.elements = Some(list);
            }
            None if mode == UiElementsMode::On => {
                return Err(AwError::External(format!(
                    "AndroidWorld server {}: GET /ui_elements answered HTTP 404; apply plugins/androidworld/server-patch/ui_elements.patch to the server, or set ui_elements = \"auto\" or \"off\"",
                    self.client().base()
                )));
            }
            None => self.shared.ui_route.set(Some(false)),
        }
        Ok(())
    }

    fn observation(&self) -> Obs {
        Obs {
            text: self.parts.text.then(|| {
                let mut t = format!(
                    "{}\nstep {}/{}; last action: {}",
                    self.task.goal, self.steps, self.task.max_steps, self.last
                );
                if let Some(e) = &self.elements {
                    t.push('\n');
                    t.push_str(&render(e, MAX_LISTED_ELEMENTS));
                }
                t
            }),
            image: self.frame.clone(),
            mask: self.shared.table.mask(&self.slots),
        }
    }

    fn to_json_action(&self, action: &AgentAction) -> Result<JsonAction, AwError> {
        match action {
            AgentAction::Text(raw) => JsonAction::parse(raw),
            AgentAction::Discrete(i) => {
                let choice: &Choice = self.shared.table.get(*i)?;
                let screen = self.screen.unwrap_or(Screen {
                    width: 1080,
                    height: 2400,
                });
                self.shared
                    .table
                    .to_json_action(choice, screen, &self.slots)
            }
        }
    }

    /// Apply one action: a `status` action ends the episode without a request (the
    /// server does nothing with it); anything else goes to `/execute_action`, then a
    /// screenshot is taken if images are wanted.
    pub fn step(&mut self, action: &AgentAction) -> Result<StepOut, AwError> {
        match self.phase.get() {
            Phase::Fresh => {
                return Err(AwError::Internal("step before reset".into()));
            }
            Phase::Ended => return Err(AwError::EpisodeFinished),
            Phase::Running => {}
        }
        let act = self.to_json_action(action)?;
        let body = act.to_json();
        let action_value: serde_json::Value =
            serde_json::from_str(&body).expect("a serialized action is JSON");
        self.steps += 1;
        let mut info = json!({ "action": action_value });
        let mut done = false;
        if let Some(status) = act.status() {
            self.goal_status = Some(status.to_owned());
            done = true;
            self.last = body;
        } else {
            let call = Call {
                method: Method::Post,
                path: "/execute_action",
                query: Vec::new(),
                json: Some(body.clone()),
            };
            let reply = self.client().transport().send(&call).map_err(|e| {
                AwError::External(format!(
                    "AndroidWorld server {}: POST /execute_action failed: {e}",
                    self.client().base()
                ))
            })?;
            let continue_on_error = self.shared.config.action_errors == ActionErrors::Continue;
            if (200..300).contains(&reply.status) {
                let message = serde_json::from_slice::<serde_json::Value>(&reply.body)
                    .ok()
                    .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned));
                if let Some(m) = message {
                    info["message"] = m.into();
                }
                if act.action_type == "answer" {
                    self.answer = act.text.clone();
                }
                self.last = body;
            } else if reply.status == 500 && continue_on_error {
                // The device could not perform it (e.g. no element with that index):
                // the suite's agents note the failure and go on.
                let detail = error_detail(&reply.body);
                self.action_errors += 1;
                info["action_error"] =
                    format!("POST /execute_action answered HTTP 500: {detail}").into();
                self.last = format!("{body} (failed: {detail})");
            } else {
                return Err(AwError::External(format!(
                    "AndroidWorld server {}: POST /execute_action with {body} answered HTTP {}: {}",
                    self.client().base(),
                    reply.status,
                    error_detail(&reply.body)
                )));
            }
            self.capture(false)?;
            self.read_elements()?;
        }
        let truncated = !done && self.steps >= self.task.max_steps;
        self.truncated = truncated;
        if done || truncated {
            self.phase.set(Phase::Ended);
        }
        Ok(StepOut {
            obs: self.observation(),
            done,
            truncated,
            info: info.to_string(),
        })
    }

    /// Score the task (`/task/score`, read once), tear it down if configured, and
    /// return the final state JSON. Later calls return the same document.
    pub fn final_state(&self) -> Result<String, AwError> {
        if self.phase.get() == Phase::Fresh {
            return Err(AwError::Internal("final-state before reset".into()));
        }
        if let Some(s) = self.final_state.borrow().as_ref() {
            return Ok(s.clone());
        }
        let id = &self.task.id;
        let score = self.client().score(&id.task_type, id.task_idx)?;
        if !(0.0..=1.0).contains(&score) {
            return Err(AwError::External(format!(
                "AndroidWorld server {}: /task/score for {id} answered {score}, outside [0, 1]",
                self.client().base()
            )));
        }
        self.phase.set(Phase::Ended);
        self.tear_down_now()?;
        let s = FinalState {
            task_type: id.task_type.clone(),
            task_idx: id.task_idx,
            score,
            ended_with_status: self.goal_status.is_some(),
            goal_status: self.goal_status.clone(),
            answer: self.answer.clone(),
            steps: self.steps,
            truncated: self.truncated,
            action_errors: self.action_errors,
        }
        .to_json();
        self.final_state.replace(Some(s.clone()));
        Ok(s)
    }
}

impl<T: Transport> Drop for Episode<T> {
    /// An episode dropped before it was scored still leaves the device clean.
    fn drop(&mut self) {
        let _ = self.tear_down_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A tiny in-memory server: two tasks, a 4×2 screen, wifi that `click` at the top
    /// half turns on, and a log of every request.
    #[derive(Clone, Default)]
    struct Fake {
        log: Rc<RefCell<Vec<String>>>,
        wifi: Rc<Cell<bool>>,
        fail: Rc<RefCell<BTreeMap<&'static str, (u16, String)>>>,
        /// Serve `/ui_elements` (a patched server); 404 otherwise.
        ui_route: Rc<Cell<bool>>,
    }

    impl Transport for Fake {
        fn send(&self, call: &Call) -> Result<Reply, String> {
            self.log.borrow_mut().push(call.describe());
            if let Some((status, body)) = self.fail.borrow().get(call.path) {
                return Ok(Reply {
                    status: *status,
                    body: body.clone().into_bytes(),
                });
            }
            let ok = |v: serde_json::Value| {
                Ok(Reply {
                    status: 200,
                    body: v.to_string().into_bytes(),
                })
            };
            let q = |k: &str| {
                call.query
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            match call.path {
                "/health" => ok(json!({"status": "success"})),
                "/suite/task_list" => {
                    ok(json!({"task_list": ["SystemWifiTurnOn", "ContactsAddContact"]}))
                }
                "/suite/task_length" => ok(json!({"length": 1})),
                "/task/template" => ok(json!({"template": "t"})),
                "/task/goal" => ok(json!({"goal": if q("task_type") == "ContactsAddContact" {
                    "Create a new contact for Ada Lovelace. Their number is +15550001111."
                } else {
                    "Turn wifi on."
                }})),
                "/task/initialize" => {
                    self.wifi.set(false);
                    ok(json!({"status": "success", "message": "initialized"}))
                }
                "/reset" | "/task/tear_down" | "/suite/reinitialize" => {
                    ok(json!({"status": "success"}))
                }
                "/screenshot" => {
                    let v = if self.wifi.get() { 255 } else { 0 };
                    let row = json!([[v, 0, 0], [v, 0, 0], [v, 0, 0], [v, 0, 0]]);
                    ok(json!({"pixels": [row.clone(), row]}))
                }
                "/execute_action" => {
                    let a: serde_json::Value =
                        serde_json::from_str(call.json.as_deref().unwrap()).unwrap();
                    if a["action_type"] == "click" && a.get("index").is_some() {
                        return Ok(Reply {
                            status: 500,
                            body: b"Internal Server Error".to_vec(),
                        });
                    }
                    if a["action_type"] == "click" && a["y"].as_i64() == Some(0) {
                        self.wifi.set(true);
                    }
                    ok(json!({"status": "success", "message": "done"}))
                }
                "/task/score" => ok(json!({"score": if self.wifi.get() { 1.0 } else { 0.0 }})),
                "/ui_elements" if self.ui_route.get() => ok(json!({"ui_elements": [
                    {"text": "Wi-Fi", "class_name": "android.widget.Switch",
                     "is_checkable": true, "is_checked": self.wifi.get(), "is_clickable": true,
                     "bbox_pixels": {"x_min": 0, "x_max": 4, "y_min": 0, "y_max": 1}}
                ]})),
                "/ui_elements" => Ok(Reply {
                    status: 404,
                    body: br#"{"detail":"Not Found"}"#.to_vec(),
                }),
                other => panic!("unexpected {other}"),
            }
        }
    }

    use crate::protocol::Reply;

    fn suite(config: &str) -> (Suite<Fake>, Fake) {
        let fake = Fake::default();
        let c = Config::from_json(config).unwrap();
        (Suite::connect(c, |_| fake.clone()).unwrap(), fake)
    }

    const SMALL: &str =
        r#"{"grid_cols":1,"grid_rows":2,"element_clicks":1,"image_width":2,"image_height":1}"#;
    // table: 0 complete, 1 infeasible, 2 home, 3 back, 4 enter, 5 wait, 6-9 scrolls,
    // 10 cell (0,0), 11 cell (0,1), 12 element 0, 13-16 slots
    const TOP: u32 = 10;

    #[test]
    fn connect_lists_tasks_with_goals_budgets_and_levels() {
        let (s, fake) = suite(SMALL);
        let ids: Vec<String> = s.tasks().iter().map(|t| t.id.to_string()).collect();
        assert_eq!(ids, ["SystemWifiTurnOn#0", "ContactsAddContact#0"]);
        assert_eq!(s.tasks()[0].goal, "Turn wifi on.");
        assert_eq!(s.tasks()[0].max_steps, 10);
        assert_eq!(s.tasks()[1].max_steps, 12);
        assert_eq!(s.tasks()[1].difficulty, Some(1));
        assert_eq!(fake.log.borrow()[0], "GET /health");
        assert!(!fake.log.borrow().iter().any(|c| c.contains("reinitialize")));
        let (_, fake) = suite(r#"{"suite_seed":7,"task_types":["ContactsAddContact"]}"#);
        let log = fake.log.borrow();
        assert_eq!(
            log[1],
            "GET /suite/reinitialize?n_task_combinations=2&seed=7&task_family=android_world"
        );
        assert!(!log.iter().any(|c| c.contains("SystemWifiTurnOn")));
        let e = Suite::connect(
            Config::from_json(r#"{"task_types":["Nope"]}"#).unwrap(),
            |_| Fake::default(),
        )
        .err()
        .unwrap();
        assert!(
            matches!(e, AwError::InvalidConfig(m) if m.contains("Nope not in the server's task list (2 types: SystemWifiTurnOn, ContactsAddContact)"))
        );
    }

    #[test]
    fn a_pool_lists_tasks_from_the_first_server_that_answers_and_runs_episodes_where_served() {
        let (a, b) = (Fake::default(), Fake::default());
        a.fail
            .borrow_mut()
            .insert("/health", (500, r#"{"detail":"emulator down"}"#.into()));
        let c = Config::from_json(
            r#"{"servers":["http://10.0.0.1:5000","http://10.0.0.2:5000"],"suite_seed":7}"#,
        )
        .unwrap();
        let s = Suite::connect(c, |base| {
            if base.contains("10.0.0.1") {
                a.clone()
            } else {
                b.clone()
            }
        })
        .unwrap();
        assert_eq!(s.tasks().len(), 2);
        assert!(b.log.borrow().iter().any(|c| c.contains("reinitialize")));
        // Episodes run where the suite was read until told otherwise.
        let mut ep = s.start("SystemWifiTurnOn#0", Parts::default()).unwrap();
        ep.reset().unwrap();
        assert!(
            b.log
                .borrow()
                .iter()
                .any(|c| c.contains("/task/initialize"))
        );
        // The first server is not ready while it does not answer.
        let e = s.serve(0).unwrap_err().to_string();
        assert!(
            e.starts_with("the AndroidWorld server at http://10.0.0.1:5000 is not available"),
            "{e}"
        );
        a.fail.borrow_mut().clear();
        a.log.borrow_mut().clear();
        s.serve(0).unwrap();
        let log = a.log.borrow().clone();
        assert_eq!(log[0], "GET /health");
        assert!(log[1].starts_with("GET /suite/reinitialize?"), "{log:?}");
        let mut ep = s.start("SystemWifiTurnOn#0", Parts::default()).unwrap();
        ep.reset().unwrap();
        assert!(
            a.log
                .borrow()
                .iter()
                .any(|c| c.contains("/task/initialize"))
        );
        // Told again, it is not re-created.
        let n = a.log.borrow().len();
        s.serve(0).unwrap();
        assert_eq!(a.log.borrow().len(), n);
        assert!(
            s.serve(2)
                .unwrap_err()
                .to_string()
                .contains("the config lists 2 server(s)")
        );
        // Nobody answers: the error names each server.
        let down = Fake::default();
        down.fail
            .borrow_mut()
            .insert("/health", (500, r#"{"detail":"x"}"#.into()));
        let c = Config::from_json(r#"{"servers":["http://h:1-2"]}"#).unwrap();
        let e = Suite::connect(c, |_| down.clone())
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("none of the 2 AndroidWorld servers is available: http://h:1: "),
            "{e}"
        );
        assert!(e.contains("; http://h:2: "), "{e}");
    }

    #[test]
    fn a_successful_episode_and_its_final_state() {
        let (s, fake) = suite(SMALL);
        let parts = Parts {
            text: true,
            image: true,
        };
        let mut ep = s.start("SystemWifiTurnOn#0", parts).unwrap();
        let first = ep.reset().unwrap();
        let img = first.image.unwrap();
        assert_eq!((img.width, img.height), (2, 1));
        assert_eq!(img.data, [0, 0, 0, 0, 0, 0]);
        assert!(first.text.unwrap().starts_with("Turn wifi on.\nstep 0/10"));
        let r = ep.step(&AgentAction::Discrete(TOP)).unwrap();
        assert!(!r.done && !r.truncated);
        // click at the centre of cell (0,0) of a 1×2 grid on a 4×2 screen: (2, 0)
        assert!(
            r.info
                .contains(r#""action":{"action_type":"click","x":2,"y":0}"#),
            "{}",
            r.info
        );
        assert!(r.info.contains(r#""message":"done""#));
        assert_eq!(r.obs.image.unwrap().data, [255, 0, 0, 255, 0, 0]);
        let r = ep.step(&AgentAction::Discrete(0)).unwrap();
        assert!(r.done);
        assert_eq!(
            ep.step(&AgentAction::Discrete(0)),
            Err(AwError::EpisodeFinished)
        );
        let f = FinalState::from_json(&ep.final_state().unwrap()).unwrap();
        assert_eq!(f.score, 1.0);
        assert!(f.ended_with_status);
        assert_eq!(f.goal_status.as_deref(), Some("complete"));
        assert_eq!(f.steps, 2);
        assert_eq!(ep.final_state().unwrap(), f.to_json());
        drop(ep);
        let log = fake.log.borrow();
        let tail: Vec<&str> = log
            .iter()
            .skip_while(|c| !c.starts_with("POST /task/initialize"))
            .map(String::as_str)
            .collect();
        assert_eq!(
            tail,
            [
                "POST /task/initialize?task_type=SystemWifiTurnOn&task_idx=0",
                "POST /reset?go_home=true",
                "GET /screenshot?wait_to_stabilize=false",
                // ui_elements = auto asks once; an unpatched server answers 404.
                "GET /ui_elements?wait_to_stabilize=false",
                "POST /execute_action",
                "GET /screenshot?wait_to_stabilize=false",
                "GET /task/score?task_type=SystemWifiTurnOn&task_idx=0",
                "POST /task/tear_down?task_type=SystemWifiTurnOn&task_idx=0",
            ],
            "the status action sends nothing; scoring once, tearing down once"
        );
    }

    /// A text-only episode needs the screen size for grid clicks: the first episode on
    /// a server takes a screenshot for it, later ones reuse the size; an episode that
    /// reads the image still takes its own.
    #[test]
    fn the_screen_size_is_read_once_per_server_when_no_image_is_read() {
        let (s, fake) = suite(SMALL);
        let screenshots = |fake: &Fake| {
            let n = fake
                .log
                .borrow()
                .iter()
                .filter(|c| c.starts_with("GET /screenshot"))
                .count();
            fake.log.borrow_mut().clear();
            n
        };
        let text = Parts {
            text: true,
            image: false,
        };
        for (episode, want) in [(0, 1), (1, 0), (2, 0)] {
            let mut ep = s.start("SystemWifiTurnOn#0", text).unwrap();
            ep.reset().unwrap();
            // The click lands where the first screenshot's size puts cell (0,0).
            let r = ep.step(&AgentAction::Discrete(TOP)).unwrap();
            assert!(
                r.info
                    .contains(r#""action":{"action_type":"click","x":2,"y":0}"#),
                "episode {episode}: {}",
                r.info
            );
            drop(ep);
            assert_eq!(screenshots(&fake), want, "episode {episode}");
        }
        let image = Parts {
            text: true,
            image: true,
        };
        let mut ep = s.start("SystemWifiTurnOn#0", image).unwrap();
        ep.reset().unwrap();
        ep.step(&AgentAction::Discrete(TOP)).unwrap();
        drop(ep);
        assert_eq!(screenshots(&fake), 2, "reset and step, each with its frame");
    }

    #[test]
    fn a_patched_server_lists_the_ui_elements_in_the_text_observation() {
        let text_only = Parts {
            text: true,
            image: false,
        };
        let (s, fake) = suite(SMALL);
        fake.ui_route.set(true);
        let mut ep = s.start("SystemWifiTurnOn#0", text_only).unwrap();
        let first = ep.reset().unwrap().text.unwrap();
        assert!(
            first.ends_with(
                "UI elements (click or type into one by its index):\n\
                 [0] Switch \"Wi-Fi\" (unchecked, clickable) at (2, 0)"
            ),
            "{first}"
        );
        let r = ep.step(&AgentAction::Discrete(TOP)).unwrap();
        let text = r.obs.text.unwrap();
        assert!(
            text.contains("(checked, clickable)"),
            "re-read after the step: {text}"
        );
        // `on` without the route: the error names the patch; `off` never asks.
        let (s, _) = suite(&SMALL.replace('}', r#","ui_elements":"on"}"#));
        let e = s
            .start("SystemWifiTurnOn#0", text_only)
            .unwrap()
            .reset()
            .unwrap_err()
            .to_string();
        assert!(e.contains("server-patch/ui_elements.patch"), "{e}");
        let (s, fake) = suite(&SMALL.replace('}', r#","ui_elements":"off"}"#));
        fake.ui_route.set(true);
        let mut ep = s.start("SystemWifiTurnOn#0", text_only).unwrap();
        assert!(!ep.reset().unwrap().text.unwrap().contains("UI elements"));
        assert!(!fake.log.borrow().iter().any(|c| c.contains("ui_elements")));
        // `auto` on an unpatched server asks once per adapter, not per episode.
        let (s, fake) = suite(SMALL);
        for _ in 0..3 {
            s.start("SystemWifiTurnOn#0", text_only)
                .unwrap()
                .reset()
                .unwrap();
        }
        let asked = fake
            .log
            .borrow()
            .iter()
            .filter(|c| c.contains("ui_elements"))
            .count();
        assert_eq!(asked, 1);
    }

    #[test]
    fn truncation_text_actions_slots_and_action_errors() {
        let (s, fake) = suite(r#"{"max_steps":3,"element_clicks":1}"#);
        let mut ep = s.start("ContactsAddContact#0", Parts::default()).unwrap();
        assert_eq!(ep.slots(), ["Ada Lovelace", "+15550001111"]);
        let first = ep.reset().unwrap();
        assert!(first.image.is_none() && first.text.is_none());
        let table_len = s.table().len() as usize;
        assert_eq!(first.mask.len(), table_len);
        assert_eq!(
            first.mask.iter().filter(|m| !**m).count(),
            2,
            "slots 2 and 3 are empty"
        );
        let e = ep
            .step(&AgentAction::Text(r#"{"action_type":"fly"}"#.into()))
            .unwrap_err();
        assert!(matches!(e, AwError::InvalidAction(m) if m.contains("fly")));
        // An element that is not on screen: the server's 500 is noted, the episode goes on.
        let element0 = 10 + 32;
        let r = ep.step(&AgentAction::Discrete(element0)).unwrap();
        assert!(
            r.info.contains(
                r#""action_error":"POST /execute_action answered HTTP 500: Internal Server Error""#
            ),
            "{}",
            r.info
        );
        let r = ep
            .step(&AgentAction::Text(
                r#"{"action_type":"answer","text":"42"}"#.into(),
            ))
            .unwrap();
        assert!(!r.truncated);
        let r = ep.step(&AgentAction::Discrete(5)).unwrap();
        assert!(r.truncated && !r.done);
        let f = FinalState::from_json(&ep.final_state().unwrap()).unwrap();
        assert_eq!((f.steps, f.truncated, f.action_errors), (3, true, 1));
        assert_eq!(f.answer.as_deref(), Some("42"));
        assert!(!f.ended_with_status && f.goal_status.is_none());
        // No screenshots after the first: images were not asked for.
        assert_eq!(
            fake.log
                .borrow()
                .iter()
                .filter(|c| c.starts_with("GET /screenshot"))
                .count(),
            1
        );
    }

    #[test]
    fn server_errors_are_external_and_order_is_enforced() {
        let (s, fake) = suite(r#"{"action_errors":"fail"}"#);
        let mut ep = s.start("SystemWifiTurnOn#0", Parts::default()).unwrap();
        assert!(matches!(
            ep.step(&AgentAction::Discrete(0)),
            Err(AwError::Internal(_))
        ));
        assert!(matches!(ep.final_state(), Err(AwError::Internal(_))));
        ep.reset().unwrap();
        let e = ep.step(&AgentAction::Discrete(10 + 32)).unwrap_err();
        assert!(
            matches!(&e, AwError::External(m) if m.contains("POST /execute_action with {\"action_type\":\"click\",\"index\":0} answered HTTP 500")),
            "{e}"
        );
        fake.fail.borrow_mut().insert(
            "/task/initialize",
            (
                422,
                r#"{"detail":[{"loc":["query","task_idx"],"msg":"Field required"}]}"#.into(),
            ),
        );
        let e = ep.reset().unwrap_err();
        assert!(
            matches!(&e, AwError::External(m) if m.contains("POST /task/initialize?task_type=SystemWifiTurnOn&task_idx=0 answered HTTP 422: query.task_idx: Field required")),
            "{e}"
        );
        assert!(
            matches!(s.start("Nope#0", Parts::default()), Err(AwError::UnknownTask(m)) if m.starts_with("Nope#0 (not among the 2 task instances"))
        );
        assert!(matches!(
            s.start("Nope", Parts::default()),
            Err(AwError::UnknownTask(_))
        ));
        fake.fail.borrow_mut().insert(
            "/health",
            (500, r#"{"detail":"Environment not initialized"}"#.into()),
        );
        let e = Suite::connect(Config::default(), |_| fake.clone())
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "the AndroidWorld server at http://127.0.0.1:5000 is not available: AndroidWorld server http://127.0.0.1:5000: GET /health answered HTTP 500: Environment not initialized"
        );
    }

    #[test]
    fn dropping_an_unscored_episode_tears_it_down() {
        let (s, fake) = suite("{}");
        let mut ep = s.start("SystemWifiTurnOn#0", Parts::default()).unwrap();
        ep.reset().unwrap();
        ep.reset().unwrap();
        drop(ep);
        let log = fake.log.borrow();
        let downs = log
            .iter()
            .filter(|c| c.starts_with("POST /task/tear_down"))
            .count();
        let inits = log
            .iter()
            .filter(|c| c.starts_with("POST /task/initialize"))
            .count();
        assert_eq!((inits, downs), (2, 2));
        drop(log);
        let ep = s.start("SystemWifiTurnOn#0", Parts::default()).unwrap();
        drop(ep);
        assert_eq!(
            fake.log
                .borrow()
                .iter()
                .filter(|c| c.starts_with("POST /task/tear_down"))
                .count(),
            2,
            "never initialized, nothing to tear down"
        );
    }
}

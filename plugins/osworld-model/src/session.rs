//! One episode of one OSWorld task against a VM server: run the setup steps, observe,
//! translate and execute actions, and at the end run the postconfig and the getters
//! and pack the final state for the reward checker.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use osworld_metrics::state::FinalState;
use serde_json::{Value, json};

use crate::a11y::{self, Element};
use crate::actions::{self, Act, ActionTable, Special};
use crate::config::{ActionSpaceKind, Config};
use crate::error::{OsworldError, Result, redact};
use crate::getters::{self, CivilDate, Getter, GetterSet};
use crate::image::{self, Rgb};
use crate::setup::{self, Placeholders, SetupStep};
use crate::task::Task;
use crate::tokens;
use crate::vm::{Body, ExecResult, Method, Retry, Transport, VmClient};

/// How long OSWorld waits between repeats of an `execute` step.
const UNTIL_PAUSE: Duration = Duration::from_millis(300);
/// Failed answers after which an `execute` step gives up (as OSWorld).
const EXECUTE_FAILURES: u32 = 5;

/// Pause between the polls of the VM's server after a revert.
const READY_POLL: Duration = Duration::from_secs(1);

/// Which observation parts the host asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Parts {
    /// The text rendering.
    pub text: bool,
    /// Token ids.
    pub tokens: bool,
    /// The screenshot.
    pub image: bool,
}

/// An observation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Obs {
    /// Instruction, text slots and the element table.
    pub text: Option<String>,
    /// Token ids (see [`tokens`]).
    pub tokens: Option<Vec<u32>>,
    /// The screenshot, resized.
    pub image: Option<Rgb>,
    /// Valid discrete actions (set-of-marks only).
    pub mask: Option<Vec<bool>>,
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOut {
    /// The observation after the action.
    pub obs: Obs,
    /// The agent said DONE or FAIL.
    pub done: bool,
    /// The step budget ran out.
    pub truncated: bool,
    /// `{"action": ..., "returncode": ..., "error": ...}` or `{"done": true}` / `{"fail": true}`.
    pub info: Value,
}

/// An action from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentAction<'a> {
    /// A discrete action index.
    Discrete(u32),
    /// A text action.
    Text(&'a str),
}

/// The discrete action table of a config.
pub fn action_table(config: &Config) -> ActionTable {
    ActionTable {
        elements: config.elements as usize,
        slots: config.text_slots as usize,
    }
}

/// One episode.
pub struct Session<T: Transport> {
    transport: T,
    config: Arc<Config>,
    task: Arc<Task>,
    parts: Parts,
    started: bool,
    ended: bool,
    steps: u32,
    elements: Vec<Element>,
    last_action: Option<String>,
    /// `stdout` / `stderr` files of `execute` steps, by cache file name.
    captured: HashMap<String, String>,
    final_state: OnceCell<String>,
}

impl<T: Transport> Session<T> {
    /// An episode of `task`; refuses tasks the adapter cannot run.
    pub fn new(transport: T, config: Arc<Config>, task: Arc<Task>, parts: Parts) -> Result<Self> {
        if let Some(reason) = &task.unsupported {
            return Err(OsworldError::Unsupported(format!(
                "task {}: {reason}",
                task.id
            )));
        }
        Ok(Session {
            transport,
            config,
            task,
            parts,
            started: false,
            ended: false,
            steps: 0,
            elements: Vec::new(),
            last_action: None,
            captured: HashMap::new(),
            final_state: OnceCell::new(),
        })
    }

    /// The transport (tests inspect it).
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The task.
    pub fn task(&self) -> &Task {
        &self.task
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    fn client(&self) -> VmClient<'_, T> {
        VmClient::new(
            &self.transport,
            Retry {
                attempts: self.config.retries,
                interval: Duration::from_millis(self.config.retry_interval_ms),
            },
        )
    }

    fn task_cache(&self) -> String {
        format!(
            "{}/{}",
            self.config.cache_dir.trim_end_matches('/'),
            self.task.id
        )
    }

    /// Run the task's setup and return the first observation. No message (error or
    /// log) carries the client password: it is redacted.
    pub fn reset(&mut self) -> Result<Obs> {
        self.reset_inner().map_err(|e| self.redacted(e))
    }

    /// An error as it leaves the session: the client password redacted.
    fn redacted(&self, e: OsworldError) -> OsworldError {
        e.redacted(&self.config.client_password)
    }

    fn reset_inner(&mut self) -> Result<Obs> {
        self.started = false;
        self.ended = false;
        self.steps = 0;
        self.last_action = None;
        self.captured.clear();
        self.final_state = OnceCell::new();
        self.revert()?;
        let reset = self.config.task_reset_plan(&self.task.id)?;
        self.run_steps(&reset, "reset")?;
        let steps = self.task.setup.clone();
        self.run_steps(&steps, "setup")?;
        self.started = true;
        self.observe()
    }

    /// Put the VM back into a pristine state through the revert controller, when one
    /// is configured, and wait for its server to answer again.
    fn revert(&mut self) -> Result<()> {
        let Some(url) = self.config.revert_url.clone() else {
            return Ok(());
        };
        let ext = OsworldError::External;
        // `server` names the VM to revert, so one controller can serve a whole pool.
        let body = json!({
            "task_id": self.task.id,
            "snapshot": self.task.snapshot,
            "server": self.config.base_url(),
        });
        let r = self
            .client()
            .setup_json_waiting(
                &url,
                body,
                Duration::from_millis(self.config.revert_timeout_ms),
            )
            .map_err(|e| ext(format!("task {}: revert: {e}", self.task.id)))?;
        if r.status != 200 {
            return Err(ext(format!(
                "task {}: revert: POST {url}: {} (the revert controller could not restore the VM)",
                self.task.id,
                r.describe()
            )));
        }
        let polls = (self.config.ready_timeout_ms / READY_POLL.as_millis() as u64).max(1);
        let mut last = String::new();
        for i in 0..polls {
            if i > 0 {
                self.transport.sleep(READY_POLL);
            }
            match self
                .client()
                .call_once(&crate::vm::req(Method::Get, "/platform", Body::Empty))
            {
                Ok(r) if r.status == 200 => return Ok(()),
                Ok(r) => last = r.describe(),
                Err(e) => last = e,
            }
        }
        Err(ext(format!(
            "task {}: after the revert the VM's server did not answer within {} ms (last: {last}; raise `ready_timeout_ms`)",
            self.task.id, self.config.ready_timeout_ms
        )))
    }

    /// Run setup steps (the task's `config`, or `postconfig`).
    fn run_steps(&mut self, steps: &[SetupStep], phase: &str) -> Result<()> {
        let n = steps.len();
        for (i, step) in steps.iter().enumerate() {
            self.run_step(step).map_err(|e| {
                let msg = format!(
                    "task {}: {phase} step {}/{n} ({}) failed: {e}",
                    self.task.id,
                    i + 1,
                    step.kind()
                );
                match e {
                    OsworldError::Cache(_) => OsworldError::Cache(msg),
                    _ => OsworldError::External(msg),
                }
            })?;
        }
        Ok(())
    }

    fn warn(&self, step: &str, what: &str) {
        self.transport.log(&redact(
            &format!(
                "task {}: {step} step: {what} (continuing, as OSWorld does)",
                self.task.id
            ),
            &self.config.client_password,
        ));
    }

    /// Keep an execute step's output under the cache file names it gives, for the
    /// `cache_file` getter.
    fn capture(&mut self, stdout: &Option<String>, stderr: &Option<String>, r: &ExecResult) {
        if let Some(f) = stdout {
            self.captured.insert(f.clone(), r.output.clone());
        }
        if let Some(f) = stderr {
            self.captured.insert(f.clone(), r.error.clone());
        }
    }

    fn run_step(&mut self, step: &SetupStep) -> Result<()> {
        let ext = OsworldError::External;
        match step {
            SetupStep::Launch { command, shell } => {
                let body =
                    json!({"command": command.split_for_launch(*shell).to_json(), "shell": shell});
                match self.client().setup_json("/setup/launch", body) {
                    Ok(r) if r.status == 200 => {}
                    Ok(r) => self.warn("launch", &r.describe()),
                    Err(e) => self.warn("launch", &e),
                }
            }
            SetupStep::Open { path } => {
                let r = self
                    .client()
                    .setup_json_waiting(
                        "/setup/open_file",
                        json!({ "path": path }),
                        Duration::from_millis(self.config.open_file_timeout_ms),
                    )
                    .map_err(ext)?;
                if r.status != 200 {
                    return Err(ext(format!("opening {path}: {}", r.describe())));
                }
            }
            SetupStep::Execute {
                command,
                shell,
                stdout,
                stderr,
                until,
            } => {
                let command = Placeholders {
                    password: self.config.client_password.clone(),
                    width: self.config.screen_width,
                    height: self.config.screen_height,
                }
                .apply(command);
                if until.is_empty() {
                    // OSWorld sends an execute without `until` once; a failure is
                    // logged and setup goes on.
                    match self.client().setup_execute(&command, *shell) {
                        Ok(r) => self.capture(stdout, stderr, &r),
                        Err(e) => self.warn("execute", &e),
                    }
                    return Ok(());
                }
                let mut failures = 0;
                let mut last_error = String::new();
                for attempt in 0..self.config.until_max_tries {
                    if attempt > 0 {
                        self.transport.sleep(UNTIL_PAUSE);
                    }
                    match self.client().setup_execute(&command, *shell) {
                        Ok(r) => {
                            self.capture(stdout, stderr, &r);
                            if until.met(r.returncode, &r.output, &r.error) {
                                return Ok(());
                            }
                            last_error = format!(
                                "returncode {}, stdout {:?}, stderr {:?}",
                                r.returncode,
                                trim(&r.output),
                                trim(&r.error)
                            );
                        }
                        Err(e) => {
                            failures += 1;
                            last_error = e;
                            if failures >= EXECUTE_FAILURES {
                                return Err(ext(format!(
                                    "`{}` failed {failures} times: {last_error}",
                                    command.display()
                                )));
                            }
                        }
                    }
                }
                return Err(ext(format!(
                    "`{}`: the `until` condition was not met after {} tries (last: {last_error}; \
                     raise `until_max_tries`)",
                    command.display(),
                    self.config.until_max_tries
                )));
            }
            SetupStep::ExecuteWithVerification {
                command,
                shell,
                verification,
                max_wait_time,
                check_interval,
            } => {
                self.client()
                    .execute_with_verification(
                        command,
                        *shell,
                        verification,
                        *max_wait_time,
                        *check_interval,
                    )
                    .map_err(ext)?;
            }
            SetupStep::Sleep { seconds } => {
                self.transport.sleep(Duration::from_secs_f64(*seconds));
            }
            SetupStep::ActivateWindow(w) | SetupStep::CloseWindow(w) => {
                let (path, kind) = match step {
                    SetupStep::ActivateWindow(_) => ("/setup/activate_window", "activate_window"),
                    _ => ("/setup/close_window", "close_window"),
                };
                let body = json!({"window_name": w.window_name, "strict": w.strict, "by_class": w.by_class});
                match self.client().setup_json(path, body) {
                    Ok(r) if r.status == 200 => {}
                    Ok(r) => self.warn(kind, &r.describe()),
                    Err(e) => self.warn(kind, &e),
                }
            }
            SetupStep::UploadFile { files } => {
                for (local, vm_path) in files {
                    let candidates =
                        setup::upload_candidates(&self.config.cache_dir, &self.task.id, local);
                    let data = read_first(&candidates).ok_or_else(|| {
                        OsworldError::Cache(format!(
                            "upload_file: `{local}` is not readable (tried {}); grant its directory \
                             with `[env.grants] read_dirs`",
                            candidates.join(", ")
                        ))
                    })?;
                    self.client().upload(vm_path, data).map_err(ext)?;
                }
            }
            SetupStep::Download { files } => {
                for (url, vm_path) in files {
                    let candidates = setup::download_candidates(
                        &self.config.cache_dir,
                        &self.task.id,
                        url,
                        vm_path,
                    );
                    let data = read_first(&candidates).ok_or_else(|| {
                        OsworldError::Cache(format!(
                            "download: {url} is not in the cache (the adapter never downloads; put the \
                             file at {} — OSWorld's own cache name — or {}, in the directory granted \
                             as `{}`)",
                            candidates[0], candidates[1], self.config.cache_dir
                        ))
                    })?;
                    self.client().upload(vm_path, data).map_err(ext)?;
                }
            }
        }
        Ok(())
    }

    fn needs_a11y(&self) -> bool {
        self.config.action_space == ActionSpaceKind::Som
            || (self.config.observation.a11y() && (self.parts.text || self.parts.tokens))
    }

    fn observe(&mut self) -> Result<Obs> {
        let c = &self.config;
        self.elements = if self.needs_a11y() {
            let xml = self
                .client()
                .accessibility()
                .map_err(OsworldError::External)?;
            a11y::parse_elements(&xml).map_err(|e| OsworldError::External(e.to_string()))?
        } else {
            Vec::new()
        };
        let k = c.elements as usize;
        let shown: &[Element] = if c.observation.a11y() {
            &self.elements
        } else {
            &[]
        };
        let slots = &self.task.text_slots[..self.task.text_slots.len().min(c.text_slots as usize)];
        let text = self.parts.text.then(|| {
            let mut t = format!("Instruction: {}\n", self.task.instruction);
            if !slots.is_empty() {
                let list: Vec<String> = slots
                    .iter()
                    .enumerate()
                    .map(|(i, s)| format!("[{i}] {s:?}"))
                    .collect();
                t.push_str(&format!("Text slots: {}\n", list.join(" ")));
            }
            if c.observation.a11y() {
                t.push_str(&a11y::render_table(shown, k));
            }
            t
        });
        let tokens = self.parts.tokens.then(|| {
            tokens::encode(
                &self.task.instruction,
                shown,
                k,
                c.screen_width,
                c.screen_height,
            )
        });
        let image = if self.parts.image && c.observation.screenshot() {
            let png = self.client().screenshot().map_err(OsworldError::External)?;
            let rgb = image::decode_png(&png).map_err(OsworldError::External)?;
            Some(image::resize(&rgb, c.screenshot_width, c.screenshot_height))
        } else {
            None
        };
        let mask = (c.action_space == ActionSpaceKind::Som)
            .then(|| action_table(c).mask(self.elements.len().min(k), slots.len()));
        Ok(Obs {
            text,
            tokens,
            image,
            mask,
        })
    }

    /// Apply one action.
    pub fn step(&mut self, action: AgentAction<'_>) -> Result<StepOut> {
        self.step_inner(action).map_err(|e| self.redacted(e))
    }

    fn step_inner(&mut self, action: AgentAction<'_>) -> Result<StepOut> {
        if self.ended {
            return Err(OsworldError::Finished);
        }
        if !self.started {
            return Err(OsworldError::Internal("step before reset".into()));
        }
        let space = self.config.action_space;
        let slots: Vec<String> = self
            .task
            .text_slots
            .iter()
            .take(self.config.text_slots as usize)
            .cloned()
            .collect();
        let (act, recorded) = match (space, action) {
            (ActionSpaceKind::Som, action) => {
                let table = action_table(&self.config);
                let a = match action {
                    AgentAction::Discrete(i) => table.act(i as usize, &self.elements, &slots),
                    AgentAction::Text(t) => table.act_text(t, &self.elements, &slots),
                }
                .map_err(OsworldError::InvalidAction)?;
                let rec = match &a {
                    Act::Special(s) => s.as_str().to_owned(),
                    Act::Code(c) => c.clone(),
                };
                (a, rec)
            }
            (ActionSpaceKind::Pyautogui, AgentAction::Text(t)) => {
                let a = actions::parse_pyautogui(t).map_err(OsworldError::InvalidAction)?;
                (a, t.trim().to_owned())
            }
            (ActionSpaceKind::Computer13, AgentAction::Text(t)) => {
                let a = actions::parse_computer13(t).map_err(OsworldError::InvalidAction)?;
                (a, t.trim().to_owned())
            }
            (_, AgentAction::Discrete(_)) => {
                return Err(OsworldError::InvalidAction(
                    "this osworld instance takes text actions (pyautogui code or computer_13 JSON); \
                     use action_space = \"som\" for discrete actions"
                        .into(),
                ));
            }
        };
        let pause = Duration::from_millis(self.config.step_pause_ms);
        let mut done = false;
        let info = match &act {
            Act::Special(Special::Wait) => {
                self.transport.sleep(pause);
                json!({"action": "WAIT"})
            }
            Act::Special(Special::Done) => {
                done = true;
                json!({"action": "DONE", "done": true})
            }
            Act::Special(Special::Fail) => {
                done = true;
                json!({"action": "FAIL", "fail": true})
            }
            Act::Code(code) => {
                let r = self
                    .client()
                    .run_python(code)
                    .map_err(OsworldError::External)?;
                json!({"action": code, "returncode": r.returncode, "error": trim(&r.error)})
            }
        };
        self.last_action = Some(recorded);
        self.transport.sleep(pause);
        self.steps += 1;
        let truncated = !done && self.steps >= self.config.max_steps;
        let obs = self.observe()?;
        self.ended = done || truncated;
        Ok(StepOut {
            obs,
            done,
            truncated,
            info,
        })
    }

    /// Run the postconfig and the getters, and pack the final state (computed once).
    pub fn final_state(&mut self) -> Result<String> {
        self.final_state_inner().map_err(|e| self.redacted(e))
    }

    fn final_state_inner(&mut self) -> Result<String> {
        if let Some(s) = self.final_state.get() {
            return Ok(s.clone());
        }
        if !self.started {
            return Err(OsworldError::Internal("final-state before reset".into()));
        }
        let post = self.task.postconfig.clone();
        self.run_steps(&post, "postconfig")?;
        let (result, expected) = if self.task.infeasible() {
            (None, None)
        } else {
            (
                self.evaluate(self.task.result.as_ref())?,
                self.evaluate(self.task.expected.as_ref())?,
            )
        };
        let state = FinalState {
            task_id: self.task.id.clone(),
            evaluator: self.task.evaluator.clone(),
            result,
            expected,
            last_action: self.last_action.clone(),
        };
        let s = serde_json::to_string(&state).map_err(|e| OsworldError::Internal(e.to_string()))?;
        Ok(self.final_state.get_or_init(|| s).clone())
    }

    fn evaluate(&self, set: Option<&GetterSet>) -> Result<Option<Value>> {
        Ok(match set {
            None => None,
            Some(GetterSet::One(g)) => Some(self.get(g)?),
            Some(GetterSet::Many(v)) => Some(Value::Array(
                v.iter()
                    .map(|g| g.as_ref().map_or(Ok(Value::Null), |g| self.get(g)))
                    .collect::<Result<Vec<_>>>()?,
            )),
        })
    }

    fn cache_text(&self, name: &str, getter: &str) -> Result<String> {
        if let Some(s) = self.captured.get(name) {
            return Ok(s.clone());
        }
        let path = format!("{}/{name}", self.task_cache());
        std::fs::read(&path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| {
                OsworldError::Cache(format!(
                    "task {}: getter {getter}: {path}: {e} (the adapter reads `{getter}` files from the \
                     cache directory granted as `{}`; it never downloads)",
                    self.task.id, self.config.cache_dir
                ))
            })
    }

    fn get(&self, g: &Getter) -> Result<Value> {
        let c = self.client();
        let ext = |e: String| OsworldError::External(format!("task {}: getter: {e}", self.task.id));
        let exec = |command: &setup::Command, shell: bool, field: &str| -> Result<Value> {
            let body = Body::Json(json!({"command": command.to_json(), "shell": shell}));
            // Posted once, as OSWorld's getters do (no retries: a failing command would
            // only cost the retry pauses, and its answer would not change).
            Ok(c.json_once_or_none(Method::Post, "/execute", body)
                .map_err(ext)?
                .and_then(|v| v.get(field).cloned())
                .unwrap_or(Value::Null))
        };
        Ok(match g {
            Getter::VmFile { paths, gives, .. } => {
                let mut values = Vec::with_capacity(paths.len());
                for p in paths {
                    values.push(match c.file(p).map_err(ext)? {
                        Some(bytes) => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
                        None => Value::Null,
                    });
                }
                getters::select_gives(values, gives)
            }
            Getter::VmCommandLine { command, shell } => exec(command, *shell, "output")?,
            Getter::VmCommandError { command, shell } => exec(command, *shell, "error")?,
            Getter::VmTerminalOutput => c
                .json_or_none(Method::Get, "/terminal", Body::Empty)
                .map_err(ext)?
                .and_then(|v| v.get("output").cloned())
                .unwrap_or(Value::Null),
            Getter::AccessibilityTree => c
                .json_or_none(Method::Get, "/accessibility", Body::Empty)
                .map_err(ext)?
                .and_then(|v| v.get("AT").cloned())
                .unwrap_or(Value::Null),
            Getter::ListDirectory { path } => c
                .json_or_none(
                    Method::Post,
                    "/list_directory",
                    Body::Json(json!({ "path": path })),
                )
                .map_err(ext)?
                .and_then(|v| v.get("directory_tree").cloned())
                .unwrap_or(Value::Null),
            Getter::VmScreenSize => c
                .json_or_none(Method::Post, "/screen_size", Body::Empty)
                .map_err(ext)?
                .unwrap_or(Value::Null),
            Getter::VmWindowSize { app_class_name } => c
                .json_or_none(
                    Method::Post,
                    "/window_size",
                    Body::Form(vec![("app_class_name".into(), app_class_name.clone())]),
                )
                .map_err(ext)?
                .unwrap_or(Value::Null),
            Getter::Rule { rules } => rules.clone(),
            Getter::RuleRelativeTime { rules } => {
                getters::resolve_relative_time(rules, self.transport_today())
                    .map_err(OsworldError::Unsupported)?
            }
            Getter::CacheFile { path } => Value::String(self.cache_text(path, "cache_file")?),
            Getter::CloudFile { dests, gives, .. } => {
                let values = dests
                    .iter()
                    .map(|d| self.cache_text(d, "cloud_file").map(Value::String))
                    .collect::<Result<Vec<_>>>()?;
                getters::select_gives(values, gives)
            }
        })
    }

    fn transport_today(&self) -> CivilDate {
        self.transport.today()
    }
}

fn read_first(paths: &[String]) -> Option<Vec<u8>> {
    paths.iter().find_map(|p| std::fs::read(p).ok())
}

fn trim(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 500 {
        let mut t: String = s.chars().take(500).collect();
        t.push('…');
        t
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::{Request, Response};
    use std::cell::RefCell;

    const TREE: &str = r#"<desktop-frame xmlns:st="https://accessibility.ubuntu.example.org/ns/state" xmlns:cp="https://accessibility.ubuntu.example.org/ns/component">
<application name="gnome-terminal-server"><frame name="Terminal" st:showing="true" st:visible="true">
<terminal name="Terminal" st:editable="true" st:showing="true" st:visible="true" cp:screencoord="(0, 100)" cp:size="(800, 400)">$ </terminal>
<push-button name="Close" st:enabled="true" st:showing="true" st:visible="true" cp:screencoord="(780, 60)" cp:size="(20, 20)"/>
</frame></application></desktop-frame>"#;

    /// An in-memory VM: answers by path, records every request.
    #[derive(Default)]
    struct Mock {
        sent: RefCell<Vec<Request>>,
        files: RefCell<HashMap<String, Vec<u8>>>,
        outputs: RefCell<HashMap<String, String>>,
        slept: RefCell<Vec<Duration>>,
        logs: RefCell<Vec<String>>,
        fail_execute: bool,
    }

    fn resp(status: u16, v: Value) -> Result<Response, String> {
        Ok(Response {
            status,
            body: v.to_string().into_bytes(),
        })
    }

    impl Transport for &Mock {
        fn send(&self, req: &Request) -> Result<Response, String> {
            self.sent.borrow_mut().push(req.clone());
            match (req.path.as_str(), &req.body) {
                ("/accessibility", _) => resp(200, json!({ "AT": TREE })),
                ("/execute" | "/setup/execute", Body::Json(b)) => {
                    if self.fail_execute {
                        return resp(500, json!({"status": "error", "message": "no shell"}));
                    }
                    let cmd = match &b["command"] {
                        Value::String(s) => s.clone(),
                        Value::Array(a) => a
                            .iter()
                            .map(|v| v.as_str().unwrap())
                            .collect::<Vec<_>>()
                            .join(" "),
                        _ => String::new(),
                    };
                    let out = self.outputs.borrow().get(&cmd).cloned().unwrap_or_default();
                    resp(
                        200,
                        json!({"status": "success", "output": out, "error": "", "returncode": 0}),
                    )
                }
                ("/file", Body::Form(f)) => match self.files.borrow().get(&f[0].1) {
                    Some(b) => Ok(Response {
                        status: 200,
                        body: b.clone(),
                    }),
                    None => resp(404, json!({"error": "File not found"})),
                },
                ("/setup/upload", Body::Multipart(p)) => {
                    let path = String::from_utf8(p[0].data.clone()).unwrap();
                    self.files.borrow_mut().insert(path, p[1].data.clone());
                    Ok(Response {
                        status: 200,
                        body: b"File Uploaded".to_vec(),
                    })
                }
                ("/list_directory", _) => resp(
                    200,
                    json!({"directory_tree": {"type": "directory", "name": "user", "children": []}}),
                ),
                ("http://10.0.0.9:7000/fail", _) => {
                    resp(500, json!({"status": "error", "message": "no snapshot"}))
                }
                ("/screen_size", _) => resp(200, json!({"width": 1920, "height": 1080})),
                // Flask's answer when the route returns None (no such window).
                ("/window_size", _) => Ok(Response {
                    status: 500,
                    body: b"<!doctype html><title>500 Internal Server Error</title>".to_vec(),
                }),
                ("/terminal", _) => resp(200, json!({"output": "$ ls", "status": "success"})),
                ("/setup/launch", _) => resp(
                    500,
                    json!({"status": "error", "message": "no such program"}),
                ),
                _ => Ok(Response {
                    status: 200,
                    body: b"ok".to_vec(),
                }),
            }
        }
        fn sleep(&self, d: Duration) {
            self.slept.borrow_mut().push(d);
        }
        fn log(&self, message: &str) {
            self.logs.borrow_mut().push(message.to_owned());
        }
        fn today(&self) -> CivilDate {
            CivilDate::new(2024, 6, 5)
        }
    }

    fn config(extra: &str) -> Arc<Config> {
        let mut j: Value = serde_json::from_str(
            r#"{"task_dir": "/tasks", "step_pause_ms": 0, "retry_interval_ms": 0}"#,
        )
        .unwrap();
        let e: Value = serde_json::from_str(extra).unwrap();
        j.as_object_mut()
            .unwrap()
            .extend(e.as_object().unwrap().clone());
        Arc::new(Config::parse(&j.to_string()).unwrap())
    }

    fn task(json: Value) -> Arc<Task> {
        Arc::new(Task::parse(&json.to_string(), "t.json", Some("os")).unwrap())
    }

    fn parts() -> Parts {
        Parts {
            text: true,
            tokens: true,
            image: false,
        }
    }

    fn os_task() -> Value {
        json!({
            "id": "t1",
            "instruction": "Type \"echo hi\" in the terminal",
            "config": [
                {"type": "execute", "parameters": {"command": "echo {CLIENT_PASSWORD} {SCREEN_WIDTH_HALF}", "shell": true, "stdout": "out.txt"}},
                {"type": "launch", "parameters": {"command": "gnome-terminal --wait"}},
                {"type": "sleep", "parameters": {"seconds": 1.5}}
            ],
            "evaluator": {
                "postconfig": [{"type": "execute", "parameters": {"command": ["sync"]}}],
                "func": ["check_include_exclude", "exact_match", "compare_text_file"],
                "result": [
                    {"type": "vm_command_line", "command": "which spotify", "shell": true},
                    {"type": "cache_file", "path": "out.txt"},
                    {"type": "vm_file", "path": "/home/user/missing.txt", "dest": "m.txt"}
                ],
                "expected": [
                    {"type": "rule", "rules": {"include": ["spotify"], "exclude": []}},
                    {"type": "rule", "rules": {"expected": "pw 960\n"}},
                    null
                ]
            }
        })
    }

    #[test]
    fn an_episode_runs_setup_actions_and_getters() {
        let mock = Mock::default();
        mock.outputs
            .borrow_mut()
            .insert("echo pw 960".into(), "pw 960\n".into());
        mock.outputs
            .borrow_mut()
            .insert("which spotify".into(), "/snap/bin/spotify\n".into());
        let cfg = config(r#"{"client_password": "pw", "elements": 4, "text_slots": 2}"#);
        let mut s = Session::new(&mock, cfg.clone(), task(os_task()), parts()).unwrap();
        let obs = s.reset().unwrap();
        // Setup: placeholders substituted, launch failure tolerated, sleep honoured.
        let sent = mock.sent.borrow().clone();
        assert_eq!(sent[0].path, "/setup/execute");
        assert_eq!(
            sent[0].body,
            Body::Json(json!({"command": "echo pw 960", "shell": true}))
        );
        assert_eq!(sent[1].path, "/setup/launch");
        assert_eq!(
            sent[1].body,
            Body::Json(json!({"command": ["gnome-terminal", "--wait"], "shell": false}))
        );
        assert!(mock.slept.borrow().contains(&Duration::from_millis(1500)));
        let text = obs.text.unwrap();
        assert!(
            text.starts_with(
                "Instruction: Type \"echo hi\" in the terminal\nText slots: [0] \"echo hi\"\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("0\tterminal\tTerminal\t$\t(0, 100)\t(800, 400)"),
            "{text}"
        );
        assert_eq!(obs.tokens.unwrap().len(), tokens::max_tokens(4));
        let mask = obs.mask.unwrap();
        let table = action_table(&cfg);
        assert_eq!(mask.len(), table.len());
        assert!(mask[0] && mask[1] && !mask[2]);

        // Type slot 0 into the terminal, then press enter, then DONE.
        let typing = table.index(actions::Discrete::Type {
            element: 0,
            slot: 0,
        }) as u32;
        let out = s.step(AgentAction::Discrete(typing)).unwrap();
        assert!(!out.done && !out.truncated);
        let last = mock
            .sent
            .borrow()
            .iter()
            .rev()
            .find(|r| r.path == "/execute")
            .cloned()
            .unwrap();
        assert_eq!(
            last.body,
            Body::Json(json!({"command": ["python", "-c",
                "import pyautogui; import time; pyautogui.FAILSAFE = False; pyautogui.click(400, 300); pyautogui.typewrite('echo hi')"],
                "shell": false}))
        );
        assert_eq!(out.info["returncode"], 0);
        let done = table.index(actions::Discrete::Special(Special::Done)) as u32;
        let out = s.step(AgentAction::Discrete(done)).unwrap();
        assert!(out.done && !out.truncated);
        assert_eq!(out.info["done"], true);
        assert_eq!(
            s.step(AgentAction::Discrete(done)).unwrap_err(),
            OsworldError::Finished
        );

        let fs: FinalState = serde_json::from_str(&s.final_state().unwrap()).unwrap();
        assert_eq!(fs.task_id, "t1");
        assert_eq!(fs.last_action.as_deref(), Some("DONE"));
        assert_eq!(
            fs.result,
            Some(json!(["/snap/bin/spotify\n", "pw 960\n", null]))
        );
        assert_eq!(
            fs.expected,
            Some(json!([{"include": ["spotify"], "exclude": []}, {"expected": "pw 960\n"}, null]))
        );
        // Postconfig ran before the getters, once.
        let n = mock.sent.borrow().len();
        assert!(
            mock.sent
                .borrow()
                .iter()
                .any(|r| r.body == Body::Json(json!({"command": ["sync"], "shell": false})))
        );
        s.final_state().unwrap();
        assert_eq!(
            mock.sent.borrow().len(),
            n,
            "the final state is computed once"
        );
    }

    #[test]
    fn text_actions_and_truncation() {
        let mock = Mock::default();
        let t = task(
            json!({"id": "inf", "instruction": "impossible", "evaluator": {"func": "infeasible"}}),
        );
        let cfg = config(r#"{"action_space": "pyautogui", "max_steps": 2}"#);
        let mut s = Session::new(&mock, cfg, t.clone(), parts()).unwrap();
        let obs = s.reset().unwrap();
        assert!(obs.mask.is_none());
        assert!(s.step(AgentAction::Discrete(0)).is_err());
        let out = s.step(AgentAction::Text("pyautogui.press('a')")).unwrap();
        assert!(!out.done && !out.truncated);
        let out = s.step(AgentAction::Text("WAIT")).unwrap();
        assert!(!out.done && out.truncated);
        let fs: FinalState = serde_json::from_str(&s.final_state().unwrap()).unwrap();
        assert_eq!(fs.last_action.as_deref(), Some("WAIT"));
        assert!(fs.result.is_none() && fs.expected.is_none());

        let cfg = config(r#"{"action_space": "computer_13"}"#);
        let mut s = Session::new(&mock, cfg, t, parts()).unwrap();
        s.reset().unwrap();
        assert!(matches!(
            s.step(AgentAction::Text(r#"{"action_type": "NOPE"}"#)),
            Err(OsworldError::InvalidAction(_))
        ));
        let out = s
            .step(AgentAction::Text(r#"{"action_type": "FAIL"}"#))
            .unwrap();
        assert!(out.done);
        let fs: FinalState = serde_json::from_str(&s.final_state().unwrap()).unwrap();
        assert!(fs.agent_failed());
    }

    #[test]
    fn downloads_come_from_the_cache_and_missing_files_are_clear_errors() {
        let cache = tempfile::tempdir().unwrap();
        let dir = cache.path().join("dl");
        std::fs::create_dir(&dir).unwrap();
        let url = "https://example.com/files/notes.txt";
        std::fs::write(
            dir.join(setup::osworld_cache_name(url, "/home/user/notes.txt")),
            b"cached by osworld",
        )
        .unwrap();
        std::fs::write(dir.join("b.txt"), b"by base name").unwrap();
        let t = task(json!({"id": "dl", "instruction": "x",
            "config": [{"type": "download", "parameters": {"files": [
                {"url": url, "path": "/home/user/notes.txt"},
                {"url": "https://example.com/other", "path": "/home/user/b.txt"}]}}],
            "evaluator": {"func": "infeasible"}}));
        let cfg = config(&json!({"cache_dir": cache.path().to_str().unwrap()}).to_string());
        let mock = Mock::default();
        let mut s = Session::new(&mock, cfg.clone(), t, parts()).unwrap();
        s.reset().unwrap();
        assert_eq!(
            mock.files.borrow()["/home/user/notes.txt"],
            b"cached by osworld"
        );
        assert_eq!(mock.files.borrow()["/home/user/b.txt"], b"by base name");

        let t = task(json!({"id": "dl2", "instruction": "x",
            "config": [{"type": "download", "parameters": {"files": [{"url": url, "path": "/home/user/n.txt"}]}}],
            "evaluator": {"func": "infeasible"}}));
        let mut s = Session::new(&mock, cfg, t, parts()).unwrap();
        let e = s.reset().unwrap_err();
        assert!(matches!(e, OsworldError::Cache(_)), "{e:?}");
        let m = e.to_string();
        assert!(
            m.contains("setup step 1/1 (download)") && m.contains(url) && m.contains("n.txt"),
            "{m}"
        );
    }

    #[test]
    fn unsupported_tasks_are_refused_and_failing_setup_is_external() {
        let t = task(json!({"id": "u", "instruction": "x",
            "config": [{"type": "googledrive", "parameters": {}}], "evaluator": {"func": "infeasible"}}));
        let mock = Mock::default();
        let e = Session::new(&mock, config("{}"), t, parts()).err().unwrap();
        assert_eq!(
            e,
            OsworldError::Unsupported("task u: unsupported setup step googledrive".into())
        );

        let mock = Mock {
            fail_execute: true,
            ..Mock::default()
        };
        // Without `until`, a failing execute is sent once, logged, and setup goes on
        // (as OSWorld's setup controller does).
        let t = task(json!({"id": "f", "instruction": "x",
            "config": [{"type": "execute", "parameters": {"command": "true"}}], "evaluator": {"func": "infeasible"}}));
        let mut s = Session::new(&mock, config("{}"), t, parts()).unwrap();
        s.reset().unwrap();
        let executes = |m: &Mock| {
            m.sent
                .borrow()
                .iter()
                .filter(|r| r.path == "/setup/execute")
                .count()
        };
        assert_eq!(executes(&mock), 1);
        let logs = mock.logs.borrow().join("\n");
        assert!(
            logs.contains("task f: execute step: POST /setup/execute `true`: HTTP 500: no shell (continuing, as OSWorld does)"),
            "{logs}"
        );
        // With `until`, failures are retried and, past 5, fail the reset.
        let mock = Mock {
            fail_execute: true,
            ..Mock::default()
        };
        let t = task(json!({"id": "f", "instruction": "x",
            "config": [{"type": "execute", "parameters": {"command": "true", "until": {"returncode": 0}}}],
            "evaluator": {"func": "infeasible"}}));
        let mut s = Session::new(&mock, config("{}"), t, parts()).unwrap();
        let e = s.reset().unwrap_err();
        assert!(
            matches!(e, OsworldError::External(ref m) if m.contains("failed 5 times") && m.contains("no shell")),
            "{e:?}"
        );
        assert_eq!(executes(&mock), 5);
    }

    #[test]
    fn the_client_password_never_leaves_in_a_message() {
        let mock = Mock {
            fail_execute: true,
            ..Mock::default()
        };
        let t = task(json!({"id": "p", "instruction": "x",
            "config": [
                {"type": "execute", "parameters": {
                    "command": "echo {CLIENT_PASSWORD} | sudo -S true", "shell": true}},
                {"type": "execute", "parameters": {
                    "command": "echo {CLIENT_PASSWORD} | sudo -S mkdir /srv/x", "shell": true,
                    "until": {"returncode": 0}}}],
            "evaluator": {"func": "infeasible"}}));
        let cfg = config(r#"{"client_password": "hunter2secret"}"#);
        let mut s = Session::new(&mock, cfg, t, parts()).unwrap();
        let e = s.reset().unwrap_err().to_string();
        assert!(!e.contains("hunter2secret"), "{e}");
        assert!(e.contains("echo [client password] | sudo -S mkdir"), "{e}");
        // The first step's failure was logged, redacted too.
        let logs = mock.logs.borrow().join("\n");
        assert!(
            logs.contains("echo [client password] | sudo -S true")
                && !logs.contains("hunter2secret"),
            "{logs}"
        );
        // The command the VM was sent still carries it.
        let sent = mock.sent.borrow();
        let Body::Json(body) = &sent.last().unwrap().body else {
            panic!("a JSON execute");
        };
        assert!(
            body["command"].to_string().contains("hunter2secret"),
            "{body}"
        );
    }

    #[test]
    fn until_repeats_execute() {
        let mock = Mock::default();
        let t = task(json!({"id": "u", "instruction": "x",
            "config": [{"type": "execute", "parameters": {"command": "check", "until": {"stdout": "ready"}}}],
            "evaluator": {"func": "infeasible"}}));
        let mut s = Session::new(&mock, config(r#"{"until_max_tries": 3}"#), t, parts()).unwrap();
        let e = s.reset().unwrap_err().to_string();
        assert!(e.contains("not met after 3 tries"), "{e}");
        assert_eq!(
            mock.sent
                .borrow()
                .iter()
                .filter(|r| r.path == "/setup/execute")
                .count(),
            3
        );
    }

    #[test]
    fn structured_and_relative_getters() {
        let mock = Mock::default();
        let t = task(json!({"id": "g", "instruction": "x", "evaluator": {
            "func": ["a", "b", "c", "d"],
            "result": [{"type": "list_directory", "path": "/home/user"}, {"type": "vm_screen_size"},
                       {"type": "vm_terminal_output"}, {"type": "accessibility_tree"}],
            "expected": [{"type": "rule_relativeTime", "rules": {"relativeTime": {"from": "tomorrow"},
                          "expected": {"time": "{Year}-{Month0D}-{Day0D}"}}}, null, null, null]}}));
        let mut s = Session::new(&mock, config("{}"), t, parts()).unwrap();
        s.reset().unwrap();
        let fs: FinalState = serde_json::from_str(&s.final_state().unwrap()).unwrap();
        let r = fs.result.unwrap();
        assert_eq!(r[0]["name"], "user");
        assert_eq!(r[1], json!({"width": 1920, "height": 1080}));
        assert_eq!(r[2], "$ ls");
        assert!(r[3].as_str().unwrap().starts_with("<desktop-frame"));
        assert_eq!(fs.expected.unwrap()[0]["expected"]["time"], "2024-06-06");
        assert!(fs.last_action.is_none());
    }

    #[test]
    fn a_revert_controller_restores_the_vm_before_every_episode() {
        let mock = Mock::default();
        let t = task(json!({"id": "r", "instruction": "x", "snapshot": "os",
            "config": [{"type": "execute", "parameters": {"command": "setup"}}],
            "evaluator": {"func": "infeasible"}}));
        let cfg = config(
            r#"{"revert_url": "http://10.0.0.9:7000/revert", "task_reset_steps":
                {"r": [{"type": "execute", "parameters": {"command": "per-task"}}]}}"#,
        );
        let mut s = Session::new(&mock, cfg, t.clone(), parts()).unwrap();
        s.reset().unwrap();
        s.reset().unwrap();
        let sent: Vec<String> = mock
            .sent
            .borrow()
            .iter()
            .map(|r| match &r.body {
                Body::Json(b) if r.path.ends_with("/revert") => format!("{} {b}", r.path),
                Body::Json(b) => format!("{} {}", r.path, b["command"]),
                _ => r.path.clone(),
            })
            .filter(|p| !p.starts_with("/accessibility"))
            .collect();
        let one = [
            r#"http://10.0.0.9:7000/revert {"server":"http://127.0.0.1:5000","snapshot":"os","task_id":"r"}"#,
            "/platform",
            r#"/setup/execute "per-task""#,
            r#"/setup/execute "setup""#,
        ];
        assert_eq!(sent, [one, one].concat());
        let reverted = mock.sent.borrow()[0].timeout;
        assert_eq!(reverted, Some(Duration::from_secs(900)));

        // A controller that fails names itself; nothing else runs.
        let mock = Mock::default();
        let cfg = config(r#"{"revert_url": "http://10.0.0.9:7000/fail"}"#);
        let mut s = Session::new(&mock, cfg, t, parts()).unwrap();
        let e = s.reset().unwrap_err().to_string();
        assert!(
            e.contains("task r: revert: POST http://10.0.0.9:7000/fail: HTTP 500: no snapshot"),
            "{e}"
        );
        assert_eq!(mock.sent.borrow().len(), 1);
    }

    #[test]
    fn opening_a_file_waits_as_long_as_osworlds_client() {
        let mock = Mock::default();
        let t = task(json!({"id": "o", "instruction": "x",
            "config": [{"type": "open", "parameters": {"path": "/home/user/big.xlsx"}}],
            "evaluator": {"func": "infeasible"}}));
        let timeout = |cfg: &str| {
            let mut s = Session::new(&mock, config(cfg), t.clone(), parts()).unwrap();
            s.reset().unwrap();
            let sent = mock.sent.borrow();
            let open = sent.iter().rfind(|r| r.path == "/setup/open_file").unwrap();
            open.timeout
        };
        assert_eq!(timeout("{}"), Some(Duration::from_secs(1810)));
        assert_eq!(
            timeout(r#"{"open_file_timeout_ms": 5000}"#),
            Some(Duration::from_secs(5))
        );
        // Other requests keep the configured timeout.
        assert!(
            mock.sent
                .borrow()
                .iter()
                .filter(|r| r.path != "/setup/open_file")
                .all(|r| r.timeout.is_none())
        );
    }

    #[test]
    fn a_window_that_does_not_exist_gives_none_not_a_failed_final_state() {
        let mock = Mock::default();
        let t = task(json!({"id": "w", "instruction": "x", "evaluator": {
            "func": "is_vlc_fullscreen",
            "result": {"type": "vm_window_size", "app_class_name": "vlc"},
            "expected": {"type": "vm_screen_size"}}}));
        let mut s = Session::new(&mock, config(r#"{"retries": 3}"#), t, parts()).unwrap();
        s.reset().unwrap();
        let fs: FinalState = serde_json::from_str(&s.final_state().unwrap()).unwrap();
        assert_eq!(fs.result.unwrap_or(Value::Null), Value::Null);
        assert_eq!(fs.expected, Some(json!({"width": 1920, "height": 1080})));
        // Asked as often as the retries allow, as OSWorld's controller does.
        let asked = mock
            .sent
            .borrow()
            .iter()
            .filter(|r| r.path == "/window_size")
            .count();
        assert_eq!(asked, 3);
    }

    #[test]
    fn a_command_getter_answered_500_is_asked_once_and_gives_none() {
        let mock = Mock {
            fail_execute: true,
            ..Mock::default()
        };
        let t = task(json!({"id": "c", "instruction": "x", "evaluator": {
            "func": "check_include_exclude",
            "result": {"type": "vm_command_line", "command": "xdg-settings get default-web-browser", "shell": true},
            "expected": {"type": "rule", "rules": {"include": ["firefox"], "exclude": []}}}}));
        let mut s = Session::new(&mock, config(r#"{"retries": 3}"#), t, parts()).unwrap();
        s.reset().unwrap();
        let fs: FinalState = serde_json::from_str(&s.final_state().unwrap()).unwrap();
        assert_eq!(fs.result.unwrap_or(Value::Null), Value::Null);
        let asked = mock
            .sent
            .borrow()
            .iter()
            .filter(|r| r.path == "/execute")
            .count();
        assert_eq!(asked, 1, "OSWorld's getter posts once");
    }
}

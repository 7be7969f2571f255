//! The adapter's configuration (the `[env.config]` table of a run config): keys,
//! defaults and validation.

use serde::Deserialize;

use crate::error::{OsworldError, Result};

/// What the agent observes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum ObservationKind {
    /// The accessibility tree as an element table (text and tokens).
    #[default]
    #[serde(rename = "a11y_tree")]
    A11yTree,
    /// The screenshot as an image.
    #[serde(rename = "screenshot")]
    Screenshot,
    /// Both.
    #[serde(rename = "screenshot_a11y_tree", alias = "both")]
    Both,
}

impl ObservationKind {
    /// Whether the element table is shown.
    pub fn a11y(self) -> bool {
        matches!(self, ObservationKind::A11yTree | ObservationKind::Both)
    }

    /// Whether the screenshot is shown.
    pub fn screenshot(self) -> bool {
        matches!(self, ObservationKind::Screenshot | ObservationKind::Both)
    }
}

/// How the agent acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum ActionSpaceKind {
    /// Discrete set-of-marks actions over the visible elements.
    #[default]
    #[serde(rename = "som", alias = "discrete")]
    Som,
    /// Text actions: raw pyautogui code, or `DONE` / `FAIL` / `WAIT`.
    #[serde(rename = "pyautogui")]
    Pyautogui,
    /// Text actions: computer_13 JSON (`{"action_type": ..., "parameters": {...}}`).
    #[serde(rename = "computer_13")]
    Computer13,
}

/// The server when the config names none.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:5000";
fn default_cache() -> String {
    "/cache".into()
}
fn default_pause() -> u64 {
    2000
}
fn default_max_steps() -> u32 {
    15
}
fn default_elements() -> u32 {
    32
}
fn default_slots() -> u32 {
    4
}
fn default_password() -> String {
    "password".into()
}
fn default_screen_w() -> u32 {
    1920
}
fn default_screen_h() -> u32 {
    1080
}
fn default_shot_w() -> u32 {
    480
}
fn default_shot_h() -> u32 {
    270
}
fn default_http_timeout() -> u64 {
    120_000
}
fn default_revert_timeout() -> u64 {
    900_000
}
fn default_ready_timeout() -> u64 {
    300_000
}
fn default_open_file_timeout() -> u64 {
    1_810_000
}
fn default_retries() -> u32 {
    3
}
fn default_retry_interval() -> u64 {
    5000
}
fn default_until_tries() -> u32 {
    100
}
fn default_health_timeout() -> u64 {
    5000
}
fn default_health_tries() -> u32 {
    2
}

/// The plugin configuration. Every key has a default except the task source
/// (`task_dir` or `task_files`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The VM server, `http://host:port` (OSWorld's server listens on port 5000);
    /// `http://127.0.0.1:5000` when neither it nor `servers` is set.
    #[serde(default)]
    pub server_url: Option<String>,
    /// A pool of VM servers instead of one: `http://host:port` entries, or
    /// `http://host:A-B` for one server per port from A to B. The host runs one
    /// episode at a time on each (one lane per server) and takes a server that stops
    /// answering out of the pool. Grant each `host:port` (`host:A-B` grants a range).
    #[serde(default)]
    pub servers: Vec<String>,
    /// Timeout of one health check of a server (`GET /platform`): at load, and after
    /// an episode failed on it.
    #[serde(default = "default_health_timeout")]
    pub health_timeout_ms: u64,
    /// Health checks in a row that must fail before a server counts as down.
    #[serde(default = "default_health_tries")]
    pub health_tries: u32,
    /// The servers `servers` expands to (empty without a pool).
    #[serde(skip)]
    pub pool: Vec<String>,
    /// A directory of OSWorld task JSON files (guest path of a read-only grant):
    /// `*.json` in it and in its subdirectories one level down (OSWorld's
    /// `examples/<domain>/<id>.json` layout).
    #[serde(default)]
    pub task_dir: Option<String>,
    /// Task JSON files (guest paths), in addition to `task_dir`.
    #[serde(default)]
    pub task_files: Vec<String>,
    /// `a11y_tree` (default), `screenshot`, or `screenshot_a11y_tree` (alias `both`).
    #[serde(default)]
    pub observation: ObservationKind,
    /// `som` (default, discrete), `pyautogui` or `computer_13` (text).
    #[serde(default)]
    pub action_space: ActionSpaceKind,
    /// Guest path of the read-only setup-file cache: `<cache_dir>/<task id>/...`.
    #[serde(default = "default_cache")]
    pub cache_dir: String,
    /// Pause after each action before observing (OSWorld's `pause`, 2 s).
    #[serde(default = "default_pause")]
    pub step_pause_ms: u64,
    /// Step budget per episode.
    #[serde(default = "default_max_steps")]
    pub max_steps: u32,
    /// K: element slots of the set-of-marks action space and of the token layout.
    #[serde(default = "default_elements")]
    pub elements: u32,
    /// S: text slots per task (typeable strings).
    #[serde(default = "default_slots")]
    pub text_slots: u32,
    /// Substituted for `{CLIENT_PASSWORD}` in `execute` setup steps.
    #[serde(default = "default_password")]
    pub client_password: String,
    /// The VM's screen width (placeholders, position bins).
    #[serde(default = "default_screen_w")]
    pub screen_width: u32,
    /// The VM's screen height.
    #[serde(default = "default_screen_h")]
    pub screen_height: u32,
    /// Width of the image observation (the screenshot is resized to it).
    #[serde(default = "default_shot_w")]
    pub screenshot_width: u32,
    /// Height of the image observation.
    #[serde(default = "default_shot_h")]
    pub screenshot_height: u32,
    /// Timeout of one request to the VM server (the host's grant caps it too).
    #[serde(default = "default_http_timeout")]
    pub http_timeout_ms: u64,
    /// Timeout of an `open` setup step's request: OSWorld's server waits up to 1,800 s
    /// for the opened file's window, and its client 1,810 s. The host's grant
    /// (`grants.http_timeout_ms`) and the reset deadline (`[limits] env_reset_ms`) cap
    /// it: raise them for tasks that open large files.
    #[serde(default = "default_open_file_timeout")]
    pub open_file_timeout_ms: u64,
    /// Attempts per request on transport errors and 5xx answers.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Pause between attempts.
    #[serde(default = "default_retry_interval")]
    pub retry_interval_ms: u64,
    /// Most attempts of an `execute` setup step whose `until` condition is not met.
    #[serde(default = "default_until_tries")]
    pub until_max_tries: u32,
    /// Setup steps (OSWorld's `{type, parameters}` form) run before every task's own
    /// setup. OSWorld reverts the VM to a snapshot before each task; the adapter only
    /// talks to the VM's server and cannot, so put whatever restores your VM's state
    /// here (or revert the VM outside steprl between episodes).
    #[serde(default)]
    pub reset_steps: Vec<serde_json::Value>,
    /// More reset steps for single tasks, by task id (run after `reset_steps`).
    #[serde(default)]
    pub task_reset_steps: std::collections::BTreeMap<String, Vec<serde_json::Value>>,
    /// The revert controller: before every episode the adapter asks it to put the VM
    /// back into a pristine state (`POST` with `{"task_id", "snapshot"}`; 200 when
    /// done), then waits for the VM's server to answer. See the README's protocol.
    #[serde(default)]
    pub revert_url: Option<String>,
    /// Timeout of the revert request (a container or snapshot restore).
    #[serde(default = "default_revert_timeout")]
    pub revert_timeout_ms: u64,
    /// How long to wait, after a revert, for the VM's server to answer `GET /platform`.
    #[serde(default = "default_ready_timeout")]
    pub ready_timeout_ms: u64,
}

/// The parts of an `http://HOST:PORT/PATH` URL the adapter needs: the base
/// (`http://HOST:PORT`) and the path (`/PATH`, `/` when none).
pub fn split_url(url: &str) -> Option<(&str, &str)> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return None;
    }
    let scheme = url.len() - rest.len();
    match rest.find('/') {
        Some(i) => Some((&url[..scheme + i], &url[scheme + i..])),
        None => Some((url, "/")),
    }
}

/// The keys `init` accepts, for error messages.
pub const CONFIG_KEYS: &str = "server_url, servers, health_timeout_ms, health_tries, task_dir, task_files, observation, action_space, \
     cache_dir, step_pause_ms, max_steps, elements, text_slots, client_password, screen_width, \
     screen_height, screenshot_width, screenshot_height, http_timeout_ms, open_file_timeout_ms, \
     retries, retry_interval_ms, until_max_tries, reset_steps, task_reset_steps, revert_url, \
     revert_timeout_ms, ready_timeout_ms";

impl Config {
    /// Parse and validate the config JSON given to `init`.
    pub fn parse(json: &str) -> Result<Config> {
        let mut c: Config = serde_json::from_str(json).map_err(|e| {
            OsworldError::InvalidConfig(format!("{e} (osworld accepts: {CONFIG_KEYS})"))
        })?;
        c.validate()?;
        c.pool = steprl_plugin::servers::expand(&c.servers).map_err(OsworldError::InvalidConfig)?;
        Ok(c)
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(OsworldError::InvalidConfig(m));
        if let Some(url) = &self.server_url {
            if !self.servers.is_empty() {
                return bad(
                    "set `server_url` (one VM) or `servers` (a pool of VMs), not both".into(),
                );
            }
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"));
            match rest {
                Some(r) if !r.is_empty() && !r.starts_with('/') => {}
                _ => {
                    return bad(format!(
                        "server_url: `{url}` is not an http(s) URL (e.g. `http://127.0.0.1:5000`, the VM's \
                         server; grant its host:port with `[env.grants] http`)"
                    ));
                }
            }
        }
        if self.health_timeout_ms == 0 || self.health_tries == 0 {
            return bad("health_timeout_ms and health_tries must be positive".into());
        }
        if self.task_dir.is_none() && self.task_files.is_empty() {
            return bad(
                "no tasks: set `task_dir` (a guest path such as \"/tasks\", granted with \
                 `[env.grants] read_dirs = { \"/tasks\" = \"path/to/osworld/tasks\" }`) or `task_files`"
                    .into(),
            );
        }
        if self.max_steps == 0 {
            return bad("max_steps must be at least 1".into());
        }
        if !(1..=128).contains(&self.elements) {
            return bad(format!("elements = {} must lie in 1..=128", self.elements));
        }
        if self.text_slots > 16 {
            return bad(format!(
                "text_slots = {} must lie in 0..=16",
                self.text_slots
            ));
        }
        if self.screen_width == 0 || self.screen_height == 0 {
            return bad("screen_width and screen_height must be positive".into());
        }
        if !(1..=4096).contains(&self.screenshot_width)
            || !(1..=4096).contains(&self.screenshot_height)
        {
            return bad("screenshot_width and screenshot_height must lie in 1..=4096".into());
        }
        if self.http_timeout_ms == 0 || self.open_file_timeout_ms == 0 {
            return bad("http_timeout_ms and open_file_timeout_ms must be positive".into());
        }
        if self.retries == 0 || self.until_max_tries == 0 {
            return bad("retries and until_max_tries must be at least 1".into());
        }
        if let Some(u) = &self.revert_url
            && split_url(u).is_none()
        {
            return bad(format!(
                "revert_url: `{u}` is not an http(s) URL (e.g. `http://127.0.0.1:7000/revert`, your revert controller; grant its host:port to the plugin too)"
            ));
        }
        if self.revert_timeout_ms == 0 || self.ready_timeout_ms == 0 {
            return bad("revert_timeout_ms and ready_timeout_ms must be positive".into());
        }
        self.reset_plan()?;
        for (task, steps) in &self.task_reset_steps {
            crate::setup::plan(steps).map_err(|e| {
                OsworldError::InvalidConfig(format!("task_reset_steps.{task}: {e}"))
            })?;
        }
        Ok(())
    }

    /// The reset steps of `task`: `reset_steps`, then its `task_reset_steps`.
    pub fn task_reset_plan(&self, task: &str) -> Result<Vec<crate::setup::SetupStep>> {
        let mut plan = self.reset_plan()?;
        if let Some(steps) = self.task_reset_steps.get(task) {
            plan.extend(crate::setup::plan(steps).map_err(|e| {
                OsworldError::InvalidConfig(format!("task_reset_steps.{task}: {e}"))
            })?);
        }
        Ok(plan)
    }

    /// The parsed `reset_steps`.
    pub fn reset_plan(&self) -> Result<Vec<crate::setup::SetupStep>> {
        crate::setup::plan(&self.reset_steps)
            .map_err(|e| OsworldError::InvalidConfig(format!("reset_steps: {e}")))
    }

    /// The server URL without a trailing slash (the first of the pool, with one).
    pub fn base_url(&self) -> &str {
        self.server(0).unwrap_or(DEFAULT_SERVER)
    }

    /// Server `index`, without a trailing slash: of the pool, or (index 0) the one
    /// server.
    pub fn server(&self, index: usize) -> Option<&str> {
        if self.pool.is_empty() {
            (index == 0).then(|| {
                self.server_url
                    .as_deref()
                    .unwrap_or(DEFAULT_SERVER)
                    .trim_end_matches('/')
            })
        } else {
            self.pool.get(index).map(String::as_str)
        }
    }

    /// This config with its server set to `url` (the one an instance serves).
    pub fn serving(&self, url: &str) -> Config {
        Config {
            server_url: Some(url.to_owned()),
            servers: Vec::new(),
            pool: Vec::new(),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_osworld() {
        let c = Config::parse(r#"{"task_dir": "/tasks"}"#).unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:5000");
        assert!(c.pool.is_empty() && c.server(1).is_none());
        assert_eq!(c.max_steps, 15);
        assert_eq!(c.step_pause_ms, 2000);
        assert_eq!(c.observation, ObservationKind::A11yTree);
        assert_eq!(c.action_space, ActionSpaceKind::Som);
        assert_eq!(c.cache_dir, "/cache");
        assert_eq!(c.client_password, "password");
    }

    #[test]
    fn a_pool_of_servers_expands_and_excludes_server_url() {
        let c = Config::parse(
            r#"{"task_dir": "/t", "servers": ["http://10.0.0.2:5000/", "http://127.0.0.1:6000-6001"]}"#,
        )
        .unwrap();
        assert_eq!(
            c.pool,
            [
                "http://10.0.0.2:5000",
                "http://127.0.0.1:6000",
                "http://127.0.0.1:6001"
            ]
        );
        assert_eq!(c.base_url(), "http://10.0.0.2:5000");
        assert_eq!(c.server(2), Some("http://127.0.0.1:6001"));
        assert_eq!(c.server(3), None);
        let one = c.serving("http://127.0.0.1:6001");
        assert_eq!(one.base_url(), "http://127.0.0.1:6001");
        assert!(one.pool.is_empty());
        let e = Config::parse(
            r#"{"task_dir": "/t", "server_url": "http://h:1", "servers": ["http://h:2"]}"#,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "set `server_url` (one VM) or `servers` (a pool of VMs), not both"
        );
        let e = Config::parse(r#"{"task_dir": "/t", "servers": ["h:5000"]}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("servers: `h:5000` is not an http(s) URL"),
            "{e}"
        );
        let e = Config::parse(r#"{"task_dir": "/t", "health_tries": 0}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "health_timeout_ms and health_tries must be positive");
    }

    #[test]
    fn names_and_aliases_parse() {
        let c = Config::parse(
            r#"{"task_files": ["/t/a.json"], "observation": "both", "action_space": "computer_13",
                "server_url": "http://10.0.0.2:5000/"}"#,
        )
        .unwrap();
        assert_eq!(c.observation, ObservationKind::Both);
        assert!(c.observation.a11y() && c.observation.screenshot());
        assert_eq!(c.action_space, ActionSpaceKind::Computer13);
        assert_eq!(c.base_url(), "http://10.0.0.2:5000");
    }

    #[test]
    fn errors_name_the_key_and_the_fix() {
        let e = Config::parse("{}").unwrap_err().to_string();
        assert!(e.contains("task_dir") && e.contains("read_dirs"), "{e}");
        let e = Config::parse(r#"{"task_dir": "/t", "colour": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour") && e.contains("server_url"), "{e}");
        let e = Config::parse(r#"{"task_dir": "/t", "server_url": "10.0.0.2:5000"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("server_url"), "{e}");
        assert!(Config::parse(r#"{"task_dir": "/t", "elements": 0}"#).is_err());
        assert!(Config::parse(r#"{"task_dir": "/t", "observation": "video"}"#).is_err());
        let e = Config::parse(r#"{"task_dir": "/t", "open_file_timeout_ms": 0}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("open_file_timeout_ms must be positive"), "{e}");
        let e = Config::parse(
            r#"{"task_dir": "/t", "task_reset_steps": {"abc": [{"type": "googledrive"}]}}"#,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "task_reset_steps.abc: unsupported setup step googledrive"
        );
        let e = Config::parse(r#"{"task_dir": "/t", "revert_url": "10.0.0.2:7000/revert"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("revert_url: `10.0.0.2:7000/revert` is not an http(s) URL"),
            "{e}"
        );
        assert_eq!(
            split_url("http://10.0.0.2:7000/revert"),
            Some(("http://10.0.0.2:7000", "/revert"))
        );
        assert_eq!(split_url("http://h:1"), Some(("http://h:1", "/")));
        let e = Config::parse(r#"{"task_dir": "/t", "reset_steps": [{"type": "googledrive"}]}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "reset_steps: unsupported setup step googledrive");
        let c = Config::parse(
            r#"{"task_dir": "/t", "reset_steps": [{"type": "execute", "parameters": {"command": ["revert"]}}]}"#,
        )
        .unwrap();
        assert_eq!(c.reset_plan().unwrap().len(), 1);
    }
}

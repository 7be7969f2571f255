//! The adapter's configuration (the `[env.config]` table): server, suite, task list,
//! observation size, action table and text slots; unknown keys are refused by name.

use serde::Deserialize;

use crate::error::AwError;
use crate::ui_elements::UiElementsMode;

/// The server when the config names none.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:5000";

/// Where the `input_text` actions' strings come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SlotPolicy {
    /// Extracted from the task's goal (see [`crate::slots::goal_slots`]).
    #[default]
    Goal,
    /// The `texts` list of the config, the same for every task.
    Fixed,
    /// No `input_text` actions (type with raw `text` actions instead).
    None,
}

/// What a failed `/execute_action` (the device could not perform the action, e.g. an
/// element index that is not on screen) does to the episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ActionErrors {
    /// The step counts, nothing happens on the device, and the step's info carries
    /// `action_error` (what the suite's agents do: they report it and go on).
    #[default]
    Continue,
    /// The step fails with an external error.
    Fail,
}

/// The adapter's configuration; every key has a default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The AndroidWorld server, `http://host:port` (its `host:port` must be granted in
    /// `[env.grants] http`).
    pub server_url: String,
    /// A pool of servers instead of one (one emulator each): `http://host:port`
    /// entries, or `http://host:A-B` for one per port from A to B; it replaces
    /// `server_url`. Every server must run the same suite (version, task family, seed):
    /// the task list is read from the first that answers, and a `suite_seed` (or
    /// `task_family`, `n_task_combinations`) re-creates the suite on each one before
    /// its first episode. Grant each `host:port` (`host:A-B` grants a range).
    pub servers: Vec<String>,
    /// Timeout of one health check of a server (`GET /health`).
    pub health_timeout_ms: u64,
    /// Health checks in a row that must fail before a server counts as down.
    pub health_tries: u32,
    /// The servers `servers` expands to (empty without a pool).
    #[serde(skip)]
    pub pool: Vec<String>,
    /// Per-request timeout in milliseconds (the host's `grants.http_timeout_ms` caps it).
    pub timeout_ms: u64,
    /// Re-create the server's suite at `init` with `/suite/reinitialize` when any of
    /// `task_family`, `n_task_combinations`, `suite_seed` is set (the missing ones take
    /// the server's defaults: `android_world`, 2, 42).
    pub task_family: Option<String>,
    /// Parameter combinations per task type (`task_idx` runs over `0..n`).
    pub n_task_combinations: Option<u32>,
    /// The suite's seed (task parameters).
    pub suite_seed: Option<i64>,
    /// `/suite/task_list`'s `max_index`: only the first N task types (default: all).
    pub max_index: Option<u32>,
    /// Only these task types (default: every listed one); each must be listed.
    pub task_types: Option<Vec<String>>,
    /// Step budget of every task; default: the suite's int(10 × complexity).
    pub max_steps: Option<u32>,
    /// Step budget of task types the adapter does not know.
    pub default_max_steps: u32,
    /// Observation image width in pixels (the screenshot is area-averaged down to it).
    pub image_width: u32,
    /// Observation image height in pixels.
    pub image_height: u32,
    /// Columns of the click grid (one click action per cell, at the cell's centre).
    pub grid_cols: u32,
    /// Rows of the click grid.
    pub grid_rows: u32,
    /// Element-index click actions: `click` with `index` 0..N.
    pub element_clicks: u32,
    /// `/screenshot`'s `wait_to_stabilize` (slower, steadier frames).
    pub wait_to_stabilize: bool,
    /// `/reset`'s `go_home` after `/task/initialize` (the suite starts tasks on the home
    /// screen).
    pub go_home: bool,
    /// One `open_app` action per app name (e.g. `["Contacts", "Settings"]`).
    pub apps: Vec<String>,
    /// Where `input_text` strings come from: `goal`, `fixed` or `none`.
    pub text_slots: SlotPolicy,
    /// How many `input_text` actions (slots) the table has.
    pub n_text_slots: u32,
    /// The strings of the `fixed` policy.
    pub texts: Vec<String>,
    /// `/task/tear_down` after scoring (and when an unscored episode is dropped).
    pub tear_down: bool,
    /// What a failed `/execute_action` does: `continue` or `fail`.
    pub action_errors: ActionErrors,
    /// Whether the text observation lists the screen's UI elements (`GET /ui_elements`,
    /// a route of the patched server): `auto` (when the server has the route), `on` or
    /// `off`.
    pub ui_elements: UiElementsMode,
    /// `POST /close` when the host is done with the environment (the end of a run,
    /// evaluation, check or play), as android_world's own client ends its run. The
    /// server's Android environment is then closed: restart the server before the next
    /// command. Off by default, so one server serves many commands (the server closes
    /// the environment itself when it stops).
    pub close_on_exit: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server_url: DEFAULT_SERVER.into(),
            servers: Vec::new(),
            health_timeout_ms: 5000,
            health_tries: 2,
            pool: Vec::new(),
            timeout_ms: 120_000,
            task_family: None,
            n_task_combinations: None,
            suite_seed: None,
            max_index: None,
            task_types: None,
            max_steps: None,
            default_max_steps: 20,
            image_width: 108,
            image_height: 240,
            grid_cols: 4,
            grid_rows: 8,
            element_clicks: 10,
            wait_to_stabilize: false,
            go_home: true,
            apps: Vec::new(),
            text_slots: SlotPolicy::Goal,
            n_text_slots: 4,
            texts: Vec::new(),
            tear_down: true,
            action_errors: ActionErrors::Continue,
            ui_elements: UiElementsMode::Auto,
            close_on_exit: false,
        }
    }
}

/// Largest accepted observation side, in pixels.
const MAX_IMAGE_SIDE: u32 = 2048;
/// Largest accepted action-table part (grid cells, elements, slots, apps).
const MAX_ACTIONS_PART: u32 = 4096;

impl Config {
    /// Parse and check the config JSON given to `init` (`{}` = all defaults).
    pub fn from_json(json: &str) -> Result<Config, AwError> {
        let json = if json.trim().is_empty() { "{}" } else { json };
        let mut c: Config = serde_json::from_str(json).map_err(|e| {
            AwError::InvalidConfig(format!(
                "androidworld config: {e} (keys: {})",
                KEYS.join(", ")
            ))
        })?;
        c.check()?;
        c.pool = steprl_plugin::servers::expand(&c.servers).map_err(AwError::InvalidConfig)?;
        Ok(c)
    }

    fn check(&self) -> Result<(), AwError> {
        let bad = |m: String| Err(AwError::InvalidConfig(m));
        let url = self.server_url.trim_end_matches('/');
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"));
        match rest {
            Some(r) if !r.is_empty() && !r.contains(['/', '?', '#', ' ']) => {}
            _ => {
                return bad(format!(
                    "server_url: `{}` is not `http://host:port` (e.g. `http://127.0.0.1:5000`, no path)",
                    self.server_url
                ));
            }
        }
        if self.timeout_ms == 0 {
            return bad("timeout_ms: must be positive".into());
        }
        if !self.servers.is_empty() && self.server_url.trim_end_matches('/') != DEFAULT_SERVER {
            return bad("set `server_url` (one server) or `servers` (a pool), not both".into());
        }
        if self.health_timeout_ms == 0 || self.health_tries == 0 {
            return bad("health_timeout_ms and health_tries must be positive".into());
        }
        for (k, v) in [
            ("image_width", self.image_width),
            ("image_height", self.image_height),
        ] {
            if v == 0 || v > MAX_IMAGE_SIDE {
                return bad(format!("{k}: {v} is outside 1..={MAX_IMAGE_SIDE}"));
            }
        }
        if self.grid_cols == 0 || self.grid_rows == 0 {
            return bad(format!(
                "grid_cols/grid_rows: {}×{} — the click grid needs at least one cell",
                self.grid_cols, self.grid_rows
            ));
        }
        let cells = self.grid_cols.saturating_mul(self.grid_rows);
        for (k, v) in [
            ("grid_cols × grid_rows", cells),
            ("element_clicks", self.element_clicks),
            ("n_text_slots", self.n_text_slots),
            ("apps", self.apps.len() as u32),
        ] {
            if v > MAX_ACTIONS_PART {
                return bad(format!("{k}: {v} is more than {MAX_ACTIONS_PART} actions"));
            }
        }
        if self.n_task_combinations == Some(0) {
            return bad("n_task_combinations: must be at least 1".into());
        }
        if let Some(f) = &self.task_family
            && f.trim().is_empty()
        {
            return bad("task_family: empty (e.g. `android_world`)".into());
        }
        if let Some(a) = self.apps.iter().find(|a| a.trim().is_empty()) {
            return bad(format!("apps: `{a}` is an empty app name"));
        }
        if self.max_steps == Some(0) || self.default_max_steps == 0 {
            return bad("max_steps/default_max_steps: must be at least 1".into());
        }
        match self.text_slots {
            SlotPolicy::Fixed if self.texts.is_empty() => {
                return bad(
                    "texts: the `fixed` text_slots policy needs a non-empty `texts` list".into(),
                );
            }
            SlotPolicy::Goal | SlotPolicy::None if !self.texts.is_empty() => {
                return bad("texts: only used with text_slots = \"fixed\"".into());
            }
            _ => {}
        }
        Ok(())
    }

    /// The server URL without a trailing slash (the first of the pool, with one).
    pub fn base_url(&self) -> &str {
        self.server(0).unwrap_or(DEFAULT_SERVER)
    }

    /// Server `index` without a trailing slash: of the pool, or (index 0) the one
    /// server.
    pub fn server(&self, index: usize) -> Option<&str> {
        if self.pool.is_empty() {
            (index == 0).then(|| self.server_url.trim_end_matches('/'))
        } else {
            self.pool.get(index).map(String::as_str)
        }
    }

    /// Every server: the pool, or the one server.
    pub fn all_servers(&self) -> Vec<&str> {
        (0..self.pool.len().max(1))
            .filter_map(|i| self.server(i))
            .collect()
    }

    /// Whether `init` re-creates the suite.
    pub fn reinitializes(&self) -> bool {
        self.task_family.is_some()
            || self.n_task_combinations.is_some()
            || self.suite_seed.is_some()
    }

    /// How many `input_text` actions the table has.
    pub fn slot_count(&self) -> u32 {
        match self.text_slots {
            SlotPolicy::None => 0,
            SlotPolicy::Goal => self.n_text_slots,
            SlotPolicy::Fixed => self.n_text_slots.max(self.texts.len() as u32),
        }
    }
}

/// Every config key, for messages.
pub const KEYS: [&str; 27] = [
    "server_url",
    "servers",
    "health_timeout_ms",
    "health_tries",
    "timeout_ms",
    "task_family",
    "n_task_combinations",
    "suite_seed",
    "max_index",
    "task_types",
    "max_steps",
    "default_max_steps",
    "image_width",
    "image_height",
    "grid_cols",
    "grid_rows",
    "element_clicks",
    "wait_to_stabilize",
    "go_home",
    "apps",
    "text_slots",
    "n_text_slots",
    "texts",
    "tear_down",
    "action_errors",
    "ui_elements",
    "close_on_exit",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        match Config::from_json(json) {
            Err(AwError::InvalidConfig(m)) => m,
            other => panic!("{json}: expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn a_pool_of_servers_replaces_server_url() {
        let c = Config::from_json(r#"{"servers":["http://10.0.0.2:5000-5001"]}"#).unwrap();
        assert_eq!(
            c.all_servers(),
            ["http://10.0.0.2:5000", "http://10.0.0.2:5001"]
        );
        assert_eq!(c.base_url(), "http://10.0.0.2:5000");
        let one = Config::from_json(r#"{"server_url":"http://h:7/"}"#).unwrap();
        assert_eq!(
            (one.all_servers(), one.server(1)),
            (vec!["http://h:7"], None)
        );
        let e = Config::from_json(r#"{"server_url":"http://h:7","servers":["http://h:8"]}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "set `server_url` (one server) or `servers` (a pool), not both"
        );
        let e = Config::from_json(r#"{"servers":["h:8"]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("servers: `h:8` is not an http(s) URL"), "{e}");
        let e = Config::from_json(r#"{"health_timeout_ms":0}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "health_timeout_ms and health_tries must be positive");
    }

    #[test]
    fn defaults_and_overrides() {
        let c = Config::from_json("{}").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(Config::from_json("  ").unwrap(), c);
        assert!(!c.reinitializes());
        assert_eq!(c.slot_count(), 4);
        let c = Config::from_json(
            r#"{"server_url":"http://10.0.0.2:5000/","n_task_combinations":3,"suite_seed":7,
                "image_width":54,"image_height":120,"grid_cols":2,"grid_rows":3,
                "apps":["Contacts"],"text_slots":"fixed","texts":["a","b"],"n_text_slots":1,
                "wait_to_stabilize":true,"action_errors":"fail","max_index":5}"#,
        )
        .unwrap();
        assert_eq!(c.base_url(), "http://10.0.0.2:5000");
        assert!(c.reinitializes());
        assert_eq!(c.slot_count(), 2);
        assert_eq!(c.action_errors, ActionErrors::Fail);
        assert_eq!(c.max_index, Some(5));
        assert_eq!(
            Config::from_json(r#"{"text_slots":"none"}"#)
                .unwrap()
                .slot_count(),
            0
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let m = err(r#"{"server":"http://x:1"}"#);
        assert!(
            m.contains("unknown field `server`") && m.contains("server_url"),
            "{m}"
        );
        assert!(err(r#"{"server_url":"127.0.0.1:5000"}"#).contains("server_url"));
        assert!(err(r#"{"server_url":"http://h:1/api"}"#).contains("no path"));
        assert!(err(r#"{"image_width":0}"#).contains("image_width: 0"));
        assert!(err(r#"{"image_height":5000}"#).contains("image_height: 5000"));
        assert!(err(r#"{"grid_cols":0}"#).contains("at least one cell"));
        assert!(err(r#"{"element_clicks":100000}"#).contains("element_clicks"));
        assert!(err(r#"{"n_task_combinations":0}"#).contains("n_task_combinations"));
        assert!(err(r#"{"text_slots":"fixed"}"#).contains("non-empty `texts`"));
        assert!(err(r#"{"texts":["a"]}"#).contains("only used with"));
        assert!(err(r#"{"text_slots":"random"}"#).contains("unknown variant `random`"));
        assert!(err(r#"{"apps":[" "]}"#).contains("empty app name"));
        assert!(err(r#"{"max_steps":0}"#).contains("max_steps"));
        assert!(err(r#"{"task_family":""}"#).contains("task_family"));
        assert!(err(r#"{"timeout_ms":0}"#).contains("timeout_ms"));
        assert!(err("[1]").contains("androidworld config"));
    }
}

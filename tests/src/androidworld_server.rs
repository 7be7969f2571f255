//! A local stand-in for AndroidWorld's FastAPI server (`server/android_server.py`) that
//! speaks its protocol exactly — endpoints, query parameters, bodies, status codes and
//! FastAPI/Starlette error shapes — over a small simulated phone (apps, Wi-Fi and
//! Bluetooth, contacts, text fields) rendered as H×W×3 screenshots. The Android
//! emulator cannot run here; the adapter is tested against this.
//!
//! Faithful details: scalar arguments are query parameters validated like FastAPI
//! (422 `{"detail": [{"type", "loc", "msg", "input"}]}` for a missing or unparsable
//! one); a wrong method is 405 and an unknown path 404 (`{"detail": "..."}`); an
//! unknown task type or index, a score asked of an uninitialized task, or an action
//! the `JSONAction` constructor or the device refuses is an unhandled Python exception,
//! which Starlette answers with a plain-text 500 `Internal Server Error`; a bad task
//! family is 400 `{"detail": "Invalid task family: ..."}`; `status` actions do nothing
//! and `answer` actions fill the interaction cache.
//!
//! With [`ServerOptions::ui_elements`] it also serves `GET /ui_elements`, the route
//! `plugins/androidworld/server-patch/ui_elements.patch` adds to the real server: the
//! screen's elements as `dataclasses.asdict(UIElement)` dictionaries, in the order
//! index-based actions use. Without it that path is a 404, as on an unpatched server.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::{Value, json};

/// The simulated device's screen size (portrait, like a phone).
#[derive(Debug, Clone, Copy)]
pub struct ServerOptions {
    /// Screen width in pixels.
    pub width: u32,
    /// Screen height in pixels; rows of `height / 8` pixels hold the status bar and
    /// one UI element each.
    pub height: u32,
    /// Serve `GET /ui_elements` (the patched server).
    pub ui_elements: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            width: 144,
            height: 320,
            ui_elements: false,
        }
    }
}

/// What the test can see of the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceView {
    /// Wi-Fi on.
    pub wifi: bool,
    /// Bluetooth on.
    pub bluetooth: bool,
    /// Saved contacts, (name, phone).
    pub contacts: Vec<(String, String)>,
    /// The screen shown: `home`, `settings`, `contacts`, `contact editor` or an app name.
    pub screen: String,
    /// The last `answer` action's text.
    pub interaction_cache: String,
}

/// The running server; stops when dropped.
pub struct AndroidWorldServer {
    addr: SocketAddr,
    /// Only the request thread holds the listener strongly, so an injected death stops
    /// it listening.
    server: std::sync::Weak<tiny_http::Server>,
    state: Arc<Mutex<State>>,
    faults: Arc<Mutex<crate::faults::Faults>>,
    thread: Option<JoinHandle<()>>,
}

impl AndroidWorldServer {
    /// Start on `127.0.0.1:0` with the default screen and the suite the real server
    /// starts with (`n_task_combinations=2, seed=42`).
    pub fn start() -> Self {
        Self::start_with(ServerOptions::default())
    }

    /// Start with a given screen size.
    pub fn start_with(options: ServerOptions) -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0"));
        let addr = server.server_addr().to_ip().expect("an IP listen address");
        let state = Arc::new(Mutex::new(State::new(options)));
        let faults = Arc::new(Mutex::new(crate::faults::Faults::default()));
        let weak = Arc::downgrade(&server);
        let thread = {
            let state = state.clone();
            let faults = faults.clone();
            std::thread::spawn(move || {
                for mut rq in server.incoming_requests() {
                    let step = rq.url().starts_with("/execute_action");
                    match crate::faults::Faults::gate_request(&faults, step) {
                        crate::faults::Gate::Serve => {}
                        crate::faults::Gate::Error => {
                            let _ = rq.respond(
                                tiny_http::Response::from_string(
                                    r#"{"detail":"injected failure"}"#,
                                )
                                .with_status_code(500),
                            );
                            continue;
                        }
                        crate::faults::Gate::Die => break,
                    }
                    let mut body = Vec::new();
                    let _ = rq.as_reader().read_to_end(&mut body);
                    let method = rq.method().to_string();
                    let url = rq.url().to_owned();
                    let out = state.lock().unwrap().handle(&method, &url, &body);
                    let ct = if out.json {
                        "application/json"
                    } else {
                        "text/plain; charset=utf-8"
                    };
                    let header = tiny_http::Header::from_bytes(&b"content-type"[..], ct.as_bytes())
                        .expect("a valid header");
                    let resp = tiny_http::Response::from_data(out.body)
                        .with_status_code(out.status)
                        .with_header(header);
                    let _ = rq.respond(resp);
                }
            })
        };
        AndroidWorldServer {
            addr,
            server: weak,
            state,
            faults,
            thread: Some(thread),
        }
    }

    /// Inject latency or a fault (see [`crate::faults::Faults`]).
    pub fn faults<R>(&self, f: impl FnOnce(&mut crate::faults::Faults) -> R) -> R {
        f(&mut self.faults.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, as `METHOD /path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    /// Forget the request log.
    pub fn clear_requests(&self) {
        self.state.lock().unwrap().log.clear();
    }

    /// The phone's state.
    pub fn device(&self) -> DeviceView {
        let s = self.state.lock().unwrap();
        let d = &s.device;
        DeviceView {
            wifi: d.wifi,
            bluetooth: d.bluetooth,
            contacts: d.contacts.clone(),
            screen: d.screen.name(),
            interaction_cache: d.interaction_cache.clone(),
        }
    }

    /// Whether `/close` was called.
    pub fn closed(&self) -> bool {
        self.state.lock().unwrap().closed
    }

    /// Make `/health` fail as the real server does when its environment is missing.
    pub fn set_healthy(&self, healthy: bool) {
        self.state.lock().unwrap().healthy = healthy;
    }

    /// Answer the next request to `path` with `status` and `body` instead (a JSON body
    /// is sent as JSON, anything else as text).
    pub fn fail_next(&self, path: &str, status: u16, body: &str) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push_back((path.to_owned(), status, body.to_owned()));
    }

    /// The goal of a task instance of the current suite.
    pub fn goal(&self, task_type: &str, task_idx: usize) -> Option<String> {
        let s = self.state.lock().unwrap();
        s.suite
            .iter()
            .find(|(n, _)| n == task_type)
            .and_then(|(_, v)| v.get(task_idx))
            .map(|t| t.goal())
    }

    /// The centre (x, y) of UI row `i` (0 = first element below the status bar).
    pub fn element_centre(&self, i: u32) -> (u32, u32) {
        let s = self.state.lock().unwrap();
        let r = s.device.row_height();
        (s.device.width / 2, r * (i + 1) + r / 2)
    }
}

impl Drop for AndroidWorldServer {
    fn drop(&mut self) {
        self.faults(|f| f.stopping = true);
        if let Some(s) = self.server.upgrade() {
            s.unblock();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------
// The suite.

/// Apps on the home screen (and names `open_app` understands, case-insensitively).
const APPS: [&str; 5] = ["Settings", "Contacts", "Clock", "Camera", "Markor"];
const FIRST: [&str; 8] = [
    "Grace", "Alan", "Ada", "Linus", "Barbara", "Edsger", "Frances", "Donald",
];
const LAST: [&str; 8] = [
    "Hopper", "Turing", "Lovelace", "Torvalds", "Liskov", "Dijkstra", "Allen", "Knuth",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    WifiOn,
    WifiOff,
    BluetoothOn,
    BluetoothOff,
    AddContact,
    OpenApp,
    WifiOffBluetoothOn,
}

const TASK_TYPES: [(&str, Kind); 7] = [
    ("ContactsAddContact", Kind::AddContact),
    ("OpenAppTaskEval", Kind::OpenApp),
    ("SystemBluetoothTurnOff", Kind::BluetoothOff),
    ("SystemBluetoothTurnOn", Kind::BluetoothOn),
    ("SystemWifiTurnOff", Kind::WifiOff),
    ("SystemWifiTurnOn", Kind::WifiOn),
    ("TurnOffWifiAndTurnOnBluetooth", Kind::WifiOffBluetoothOn),
];

/// One task instance with its parameters.
#[derive(Debug, Clone)]
struct Task {
    kind: Kind,
    name: String,
    number: String,
    app: String,
    initialized: bool,
}

impl Task {
    fn new(kind: Kind, seed: u64) -> Task {
        let mut r = seed;
        let mut next = || {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            r
        };
        let name = format!(
            "{} {}",
            FIRST[(next() % 8) as usize],
            LAST[(next() % 8) as usize]
        );
        let number = format!("+1{:010}", next() % 10_000_000_000);
        let app = ["Clock", "Camera", "Contacts", "Markor"][(next() % 4) as usize].to_owned();
        Task {
            kind,
            name,
            number,
            app,
            initialized: false,
        }
    }

    fn template(&self) -> &'static str {
        match self.kind {
            Kind::WifiOn | Kind::WifiOff => "Turn wifi {on_or_off}.",
            Kind::BluetoothOn | Kind::BluetoothOff => "Turn bluetooth {on_or_off}.",
            Kind::AddContact => "Create a new contact for {name}. Their number is {number}.",
            Kind::OpenApp => {
                "Open the {app_name} app. Clear any pop-ups that may appear by granting all permissions that are required."
            }
            Kind::WifiOffBluetoothOn => "Turn off WiFi, then enable bluetooth",
        }
    }

    fn goal(&self) -> String {
        self.template()
            .replace(
                "{on_or_off}",
                match self.kind {
                    Kind::WifiOn | Kind::BluetoothOn => "on",
                    _ => "off",
                },
            )
            .replace("{name}", &self.name)
            .replace("{number}", &self.number)
            .replace("{app_name}", &self.app)
    }

    fn initialize(&mut self, d: &mut Device) {
        d.baseline();
        match self.kind {
            Kind::WifiOn => d.wifi = false,
            Kind::WifiOff => d.wifi = true,
            Kind::BluetoothOn => d.bluetooth = false,
            Kind::BluetoothOff => d.bluetooth = true,
            Kind::AddContact => d.contacts.clear(),
            Kind::OpenApp => {}
            Kind::WifiOffBluetoothOn => {
                d.wifi = true;
                d.bluetooth = false;
            }
        }
        self.initialized = true;
    }

    fn score(&self, d: &Device) -> f64 {
        let b = |x: bool| if x { 1.0 } else { 0.0 };
        match self.kind {
            Kind::WifiOn => b(d.wifi),
            Kind::WifiOff => b(!d.wifi),
            Kind::BluetoothOn => b(d.bluetooth),
            Kind::BluetoothOff => b(!d.bluetooth),
            Kind::AddContact => {
                let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
                b(d.contacts
                    .iter()
                    .any(|(n, p)| n == &self.name && digits(p) == digits(&self.number)))
            }
            Kind::OpenApp => b(d.screen == Screen::App(self.app.clone())
                || (self.app == "Contacts" && d.screen == Screen::Contacts)),
            Kind::WifiOffBluetoothOn => (b(!d.wifi) + b(d.bluetooth)) / 2.0,
        }
    }
}

/// The suite: task types in name order, `n` instances each, parameters from a hash of
/// (seed, name, index) like the real `create_suite`.
fn create_suite(n: u64, seed: i64) -> Vec<(String, Vec<Task>)> {
    TASK_TYPES
        .iter()
        .map(|(name, kind)| {
            let tasks = (0..n)
                .map(|i| {
                    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
                    for b in format!("{seed}_{name}_{i}").bytes() {
                        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
                    }
                    Task::new(*kind, h | 1)
                })
                .collect();
            (name.to_string(), tasks)
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// The device.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Screen {
    Home,
    Settings,
    Contacts,
    Editor,
    App(String),
}

impl Screen {
    fn name(&self) -> String {
        match self {
            Screen::Home => "home".into(),
            Screen::Settings => "settings".into(),
            Screen::Contacts => "contacts".into(),
            Screen::Editor => "contact editor".into(),
            Screen::App(a) => a.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    AppIcon(usize),
    WifiToggle,
    BluetoothToggle,
    CreateContact,
    ContactRow(usize),
    NameField,
    PhoneField,
    Save,
}

struct Device {
    width: u32,
    height: u32,
    wifi: bool,
    bluetooth: bool,
    contacts: Vec<(String, String)>,
    screen: Screen,
    back: Vec<Screen>,
    name_field: String,
    phone_field: String,
    focus: Option<Element>,
    interaction_cache: String,
}

impl Device {
    fn new(width: u32, height: u32) -> Device {
        let mut d = Device {
            width,
            height,
            wifi: true,
            bluetooth: false,
            contacts: Vec::new(),
            screen: Screen::Home,
            back: Vec::new(),
            name_field: String::new(),
            phone_field: String::new(),
            focus: None,
            interaction_cache: String::new(),
        };
        d.baseline();
        d
    }

    /// The state every task starts from before its own setup.
    fn baseline(&mut self) {
        self.wifi = true;
        self.bluetooth = false;
        self.contacts = vec![
            ("Alan Turing".into(), "+15550100001".into()),
            ("Grace Hopper".into(), "+15550100002".into()),
        ];
        self.screen = Screen::Home;
        self.back.clear();
        self.name_field.clear();
        self.phone_field.clear();
        self.focus = None;
        self.interaction_cache.clear();
    }

    fn row_height(&self) -> u32 {
        self.height / 8
    }

    fn elements(&self) -> Vec<Element> {
        match &self.screen {
            Screen::Home => (0..APPS.len()).map(Element::AppIcon).collect(),
            Screen::Settings => vec![Element::WifiToggle, Element::BluetoothToggle],
            Screen::Contacts => std::iter::once(Element::CreateContact)
                .chain((0..self.contacts.len().min(5)).map(Element::ContactRow))
                .collect(),
            Screen::Editor => vec![Element::NameField, Element::PhoneField, Element::Save],
            Screen::App(_) => Vec::new(),
        }
    }

    fn go(&mut self, to: Screen) {
        let from = std::mem::replace(&mut self.screen, to);
        self.back.push(from);
        self.focus = None;
    }

    fn open_app(&mut self, name: &str) {
        let Some(app) = APPS.iter().find(|a| a.eq_ignore_ascii_case(name.trim())) else {
            // The real server tries the name as a package; nothing opens.
            return;
        };
        let to = match *app {
            "Settings" => Screen::Settings,
            "Contacts" => Screen::Contacts,
            other => Screen::App(other.to_owned()),
        };
        self.go(to);
    }

    fn tap(&mut self, e: Element) {
        match e {
            Element::AppIcon(i) => self.open_app(APPS[i]),
            Element::WifiToggle => self.wifi = !self.wifi,
            Element::BluetoothToggle => self.bluetooth = !self.bluetooth,
            Element::CreateContact => {
                self.name_field.clear();
                self.phone_field.clear();
                self.go(Screen::Editor);
            }
            Element::ContactRow(_) => {}
            Element::NameField | Element::PhoneField => self.focus = Some(e),
            Element::Save => {
                if !self.name_field.is_empty() {
                    self.contacts
                        .push((self.name_field.clone(), self.phone_field.clone()));
                }
                self.screen = self.back.pop().unwrap_or(Screen::Home);
                self.focus = None;
            }
        }
    }

    /// The screen's elements as the patched server's `/ui_elements` lists them:
    /// every field of android_world's `UIElement`, as `dataclasses.asdict` writes it.
    fn ui_elements(&self) -> Vec<Value> {
        let rh = self.row_height();
        self.elements()
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let (text, desc, class, checkable, checked, editable) = match e {
                    Element::AppIcon(a) => (
                        Some(APPS[*a].to_owned()),
                        Some(APPS[*a].to_owned()),
                        "android.widget.TextView",
                        false,
                        false,
                        false,
                    ),
                    Element::WifiToggle => (
                        Some("Wi-Fi".to_owned()),
                        None,
                        "android.widget.Switch",
                        true,
                        self.wifi,
                        false,
                    ),
                    Element::BluetoothToggle => (
                        Some("Bluetooth".to_owned()),
                        None,
                        "android.widget.Switch",
                        true,
                        self.bluetooth,
                        false,
                    ),
                    Element::CreateContact => (
                        None,
                        Some("Create contact".to_owned()),
                        "android.widget.ImageButton",
                        false,
                        false,
                        false,
                    ),
                    Element::ContactRow(c) => (
                        Some(self.contacts[*c].0.clone()),
                        None,
                        "android.widget.TextView",
                        false,
                        false,
                        false,
                    ),
                    Element::NameField => (
                        Some(self.name_field.clone()).filter(|t| !t.is_empty()),
                        None,
                        "android.widget.EditText",
                        false,
                        false,
                        true,
                    ),
                    Element::PhoneField => (
                        Some(self.phone_field.clone()).filter(|t| !t.is_empty()),
                        None,
                        "android.widget.EditText",
                        false,
                        false,
                        true,
                    ),
                    Element::Save => (
                        Some("Save".to_owned()),
                        None,
                        "android.widget.Button",
                        false,
                        false,
                        false,
                    ),
                };
                let hint = match e {
                    Element::NameField => Some("Name"),
                    Element::PhoneField => Some("Phone"),
                    _ => None,
                };
                let top = rh * (i as u32 + 1);
                let bbox = json!({
                    "x_min": 0, "x_max": self.width, "y_min": top, "y_max": top + rh
                });
                let box01 = json!({
                    "x_min": 0.0, "x_max": 1.0,
                    "y_min": f64::from(top) / f64::from(self.height),
                    "y_max": f64::from(top + rh) / f64::from(self.height)
                });
                json!({
                    "text": text,
                    "content_description": desc,
                    "class_name": class,
                    "bbox": box01,
                    "bbox_pixels": bbox,
                    "hint_text": hint,
                    "is_checked": checked,
                    "is_checkable": checkable,
                    "is_clickable": true,
                    "is_editable": editable,
                    "is_enabled": true,
                    "is_focused": self.focus == Some(*e),
                    "is_focusable": editable,
                    "is_long_clickable": false,
                    "is_scrollable": false,
                    "is_selected": false,
                    "is_visible": true,
                    "package_name": "com.example.sim",
                    "resource_name": null,
                    "tooltip": null,
                    "resource_id": null,
                    "metadata": null,
                })
            })
            .collect()
    }

    fn element_at(&self, x: i64, y: i64) -> Option<Element> {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return None;
        }
        let row = (y / i64::from(self.row_height())) as usize;
        row.checked_sub(1)
            .and_then(|i| self.elements().get(i).copied())
    }

    /// The H×W×3 frame: a status bar (Wi-Fi and Bluetooth indicators), a background per
    /// screen, one band per UI element with its state drawn in.
    fn render(&self) -> Vec<[u8; 3]> {
        let (w, h) = (self.width as usize, self.height as usize);
        let rh = self.row_height() as usize;
        let bg: [u8; 3] = match &self.screen {
            Screen::Home => [20, 40, 90],
            Screen::Settings => [90, 90, 90],
            Screen::Contacts => [0, 110, 110],
            Screen::Editor => [230, 230, 230],
            Screen::App(a) => {
                let n = a
                    .bytes()
                    .fold(7u8, |acc, b| acc.wrapping_mul(31).wrapping_add(b));
                [n, n.wrapping_mul(3), n.wrapping_mul(7)]
            }
        };
        let mut px = vec![bg; w * h];
        let mut fill = |x0: usize, y0: usize, x1: usize, y1: usize, c: [u8; 3]| {
            for y in y0..y1.min(h) {
                for x in x0..x1.min(w) {
                    px[y * w + x] = c;
                }
            }
        };
        fill(0, 0, w, rh, [0, 0, 0]);
        let (x1, x2) = (w.saturating_sub(2 * rh), w.saturating_sub(rh));
        let wifi = if self.wifi { [0, 200, 0] } else { [60, 0, 0] };
        let bt = if self.bluetooth {
            [0, 0, 220]
        } else {
            [60, 0, 0]
        };
        fill(x1, 0, x2, rh, wifi);
        fill(x2, 0, w, rh, bt);
        for (i, e) in self.elements().iter().enumerate() {
            let y0 = rh * (i + 1);
            let band = if i % 2 == 0 {
                [200, 200, 200]
            } else {
                [170, 170, 170]
            };
            fill(0, y0 + 1, w, y0 + rh - 1, band);
            let on = |b: bool| if b { [0, 200, 0] } else { [200, 0, 0] };
            match e {
                Element::WifiToggle => fill(
                    w.saturating_sub(rh),
                    y0 + 4,
                    w - 4,
                    y0 + rh - 4,
                    on(self.wifi),
                ),
                Element::BluetoothToggle => fill(
                    w.saturating_sub(rh),
                    y0 + 4,
                    w - 4,
                    y0 + rh - 4,
                    on(self.bluetooth),
                ),
                Element::NameField | Element::PhoneField => {
                    let text = if *e == Element::NameField {
                        &self.name_field
                    } else {
                        &self.phone_field
                    };
                    let len = (text.len() * 4).min(w - 8);
                    fill(4, y0 + 8, 4 + len, y0 + rh - 8, [0, 0, 0]);
                    if self.focus == Some(*e) {
                        fill(0, y0 + 1, 3, y0 + rh - 1, [0, 90, 255]);
                    }
                }
                Element::AppIcon(k) => {
                    fill(4, y0 + 4, 4 + rh, y0 + rh - 4, [(40 * k) as u8, 150, 60])
                }
                _ => {}
            }
        }
        px
    }
}

// ---------------------------------------------------------------------------------
// The HTTP layer.

struct Out {
    status: u16,
    json: bool,
    body: Vec<u8>,
}

fn ok(v: Value) -> Out {
    Out {
        status: 200,
        json: true,
        body: v.to_string().into_bytes(),
    }
}

fn detail(status: u16, d: Value) -> Out {
    Out {
        status,
        json: true,
        body: json!({ "detail": d }).to_string().into_bytes(),
    }
}

/// What Starlette sends for an unhandled exception.
fn internal_error() -> Out {
    Out {
        status: 500,
        json: false,
        body: b"Internal Server Error".to_vec(),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                match (
                    b.get(i + 1).copied().and_then(hex),
                    b.get(i + 2).copied().and_then(hex),
                ) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// FastAPI's query-parameter validation: collects every error, like FastAPI does.
struct Query {
    pairs: Vec<(String, String)>,
    errors: Vec<Value>,
}

impl Query {
    fn parse(q: &str) -> Query {
        let pairs = q
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        Query {
            pairs,
            errors: Vec::new(),
        }
    }

    fn raw(&self, k: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    fn missing(&mut self, k: &str) {
        self.errors.push(json!({
            "type": "missing", "loc": ["query", k], "msg": "Field required", "input": null
        }));
    }

    fn str(&mut self, k: &str) -> Option<String> {
        let v = self.raw(k).map(str::to_owned);
        if v.is_none() {
            self.missing(k);
        }
        v
    }

    fn int_or(&mut self, k: &str, default: Option<i64>) -> Option<i64> {
        match self.raw(k).map(str::to_owned) {
            None => {
                if default.is_none() {
                    self.missing(k);
                }
                default
            }
            Some(v) => match v.trim().parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    self.errors.push(json!({
                        "type": "int_parsing", "loc": ["query", k],
                        "msg": "Input should be a valid integer, unable to parse string as an integer",
                        "input": v
                    }));
                    None
                }
            },
        }
    }

    fn int(&mut self, k: &str) -> Option<i64> {
        self.int_or(k, None)
    }

    fn bool(&mut self, k: &str) -> Option<bool> {
        let Some(v) = self.raw(k).map(str::to_owned) else {
            self.missing(k);
            return None;
        };
        match v.to_ascii_lowercase().as_str() {
            "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
            "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
            _ => {
                self.errors.push(json!({
                    "type": "bool_parsing", "loc": ["query", k],
                    "msg": "Input should be a valid boolean, unable to interpret input",
                    "input": v
                }));
                None
            }
        }
    }

    /// 422 with every collected error, if any.
    fn check(&mut self) -> Result<(), Out> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(detail(422, Value::Array(std::mem::take(&mut self.errors))))
        }
    }
}

struct State {
    device: Device,
    ui_elements: bool,
    suite: Vec<(String, Vec<Task>)>,
    healthy: bool,
    closed: bool,
    log: Vec<String>,
    faults: VecDeque<(String, u16, String)>,
}

/// (path, method) of every route.
const ROUTES: [(&str, &str); 13] = [
    ("/reset", "POST"),
    ("/screenshot", "GET"),
    ("/execute_action", "POST"),
    ("/suite/task_list", "GET"),
    ("/suite/task_length", "GET"),
    ("/suite/reinitialize", "GET"),
    ("/task/initialize", "POST"),
    ("/task/tear_down", "POST"),
    ("/task/score", "GET"),
    ("/task/goal", "GET"),
    ("/task/template", "GET"),
    ("/close", "POST"),
    ("/health", "GET"),
];

impl State {
    fn new(o: ServerOptions) -> State {
        State {
            device: Device::new(o.width.max(16), o.height.max(64)),
            ui_elements: o.ui_elements,
            suite: create_suite(2, 42),
            healthy: true,
            closed: false,
            log: Vec::new(),
            faults: VecDeque::new(),
        }
    }

    fn handle(&mut self, method: &str, url: &str, body: &[u8]) -> Out {
        self.log.push(format!("{method} {url}"));
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        if let Some(i) = self.faults.iter().position(|(p, _, _)| p == path) {
            let (_, status, body) = self.faults.remove(i).expect("a fault");
            let json = serde_json::from_str::<Value>(&body).is_ok();
            return Out {
                status,
                json,
                body: body.into_bytes(),
            };
        }
        let patched = self.ui_elements && path == "/ui_elements";
        match ROUTES.iter().find(|(p, _)| *p == path) {
            None if patched && method == "GET" => {}
            None if patched => return detail(405, json!("Method Not Allowed")),
            None => return detail(404, json!("Not Found")),
            Some((_, m)) if *m != method => return detail(405, json!("Method Not Allowed")),
            Some(_) => {}
        }
        // After `/close` the server's environment is closed: whatever drives the device
        // raises inside the handler (a plain 500); the suite routes still answer.
        const DEVICE: [&str; 7] = [
            "/reset",
            "/screenshot",
            "/execute_action",
            "/task/initialize",
            "/task/tear_down",
            "/task/score",
            "/ui_elements",
        ];
        if self.closed && DEVICE.contains(&path) {
            return internal_error();
        }
        let mut q = Query::parse(query);
        match self.route(path, &mut q, body) {
            Ok(out) | Err(out) => out,
        }
    }

    /// The suite's instance `task_type[task_idx]`, with Python's list indexing
    /// (negative indices count from the end); a miss is an unhandled KeyError or
    /// IndexError.
    fn task(&mut self, ty: &str, idx: i64) -> Result<&mut Task, Out> {
        let list = &mut self
            .suite
            .iter_mut()
            .find(|(n, _)| n == ty)
            .ok_or_else(internal_error)?
            .1;
        let n = list.len() as i64;
        let i = if idx < 0 { idx + n } else { idx };
        if !(0..n).contains(&i) {
            return Err(internal_error());
        }
        Ok(&mut list[i as usize])
    }

    fn route(&mut self, path: &str, q: &mut Query, body: &[u8]) -> Result<Out, Out> {
        match path {
            "/health" => {
                if self.healthy {
                    Ok(ok(json!({"status": "success"})))
                } else {
                    Err(detail(500, json!("Environment not initialized")))
                }
            }
            "/reset" => {
                let go_home = q.bool("go_home");
                q.check()?;
                let go_home = go_home.unwrap_or(false);
                if go_home {
                    self.device.screen = Screen::Home;
                    self.device.back.clear();
                    self.device.focus = None;
                }
                self.device.interaction_cache.clear();
                Ok(ok(json!({
                    "status": "success",
                    "message": format!("Environment reset with go_home={}.", if go_home { "True" } else { "False" })
                })))
            }
            "/screenshot" => {
                let _ = q.bool("wait_to_stabilize");
                q.check()?;
                Ok(self.screenshot())
            }
            "/ui_elements" => {
                let _ = q.bool("wait_to_stabilize");
                q.check()?;
                Ok(ok(json!({ "ui_elements": self.device.ui_elements() })))
            }
            "/execute_action" => self.execute(body),
            "/suite/task_list" => {
                let max = q.int("max_index");
                q.check()?;
                let max = max.unwrap_or(-1);
                let names: Vec<&String> = self.suite.iter().map(|(n, _)| n).collect();
                let list: Vec<&String> = if max < 0 || max as usize > names.len() {
                    names
                } else {
                    names.into_iter().take(max as usize).collect()
                };
                Ok(ok(json!({ "task_list": list })))
            }
            "/suite/task_length" => {
                let ty = q.str("task_type");
                q.check()?;
                let ty = ty.unwrap_or_default();
                let n = self
                    .suite
                    .iter()
                    .find(|(n, _)| *n == ty)
                    .ok_or_else(internal_error)?
                    .1
                    .len();
                Ok(ok(json!({ "length": n })))
            }
            "/suite/reinitialize" => {
                let n = q.int_or("n_task_combinations", Some(2));
                let seed = q.int_or("seed", Some(42));
                let family = q.raw("task_family").unwrap_or("android_world").to_owned();
                q.check()?;
                let (n, seed) = (n.unwrap_or(2), seed.unwrap_or(42));
                let suite = match family.as_str() {
                    "android_world" | "android" => create_suite(n.max(0) as u64, seed),
                    "information_retrieval" | "miniwob" | "miniwob_subset" => Vec::new(),
                    other => {
                        return Err(detail(400, json!(format!("Invalid task family: {other}"))));
                    }
                };
                self.suite = suite;
                Ok(ok(json!({
                    "status": "success",
                    "message": format!("Task suite re-initialized with n_task_combinations={n}, seed={seed}.")
                })))
            }
            "/task/initialize" | "/task/tear_down" | "/task/score" | "/task/goal"
            | "/task/template" => {
                let ty = q.str("task_type");
                let idx = q.int("task_idx");
                q.check()?;
                let (ty, idx) = (ty.unwrap_or_default(), idx.unwrap_or(0));
                let mut device = std::mem::replace(&mut self.device, Device::new(16, 64));
                let out = (|| {
                    let task = self.task(&ty, idx)?;
                    Ok(match path {
                        "/task/initialize" => {
                            task.initialize(&mut device);
                            ok(
                                json!({"status": "success", "message": format!("Task {ty} {idx} initialized.")}),
                            )
                        }
                        "/task/tear_down" => {
                            task.initialized = false;
                            device.screen = Screen::Home;
                            device.back.clear();
                            ok(
                                json!({"status": "success", "message": format!("Task {ty} {idx} torn down.")}),
                            )
                        }
                        "/task/score" => {
                            if !task.initialized {
                                // `_check_is_initialized` raises.
                                return Err(internal_error());
                            }
                            ok(json!({ "score": task.score(&device) }))
                        }
                        "/task/goal" => ok(json!({ "goal": task.goal() })),
                        _ => ok(json!({ "template": task.template() })),
                    })
                })();
                self.device = device;
                out
            }
            "/close" => {
                self.closed = true;
                Ok(ok(json!({"status": "success"})))
            }
            _ => Err(detail(404, json!("Not Found"))),
        }
    }

    fn screenshot(&self) -> Out {
        let d = &self.device;
        let px = d.render();
        let (w, h) = (d.width as usize, d.height as usize);
        let mut s = String::with_capacity(w * h * 12 + 16);
        s.push_str("{\"pixels\":[");
        for y in 0..h {
            if y > 0 {
                s.push(',');
            }
            s.push('[');
            for x in 0..w {
                if x > 0 {
                    s.push(',');
                }
                let [r, g, b] = px[y * w + x];
                for (c, v) in [('[', r), (',', g), (',', b)] {
                    s.push(c);
                    s.push_str(&DECIMAL[usize::from(v)]);
                }
                s.push(']');
            }
            s.push(']');
        }
        s.push_str("]}");
        Out {
            status: 200,
            json: true,
            body: s.into_bytes(),
        }
    }

    /// `JSONAction(**body)` and `env.execute_action(action)`.
    fn execute(&mut self, body: &[u8]) -> Result<Out, Out> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(detail(
                422,
                json!([{"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}]),
            ));
        }
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            detail(
                422,
                json!([{"type": "json_invalid", "loc": ["body", e.column()], "msg": "JSON decode error",
                        "input": {}, "ctx": {"error": e.to_string()}}]),
            )
        })?;
        let Value::Object(a) = v else {
            return Err(detail(
                422,
                json!([{"type": "dict_type", "loc": ["body"], "msg": "Input should be a valid dictionary", "input": v}]),
            ));
        };
        // The dataclass constructor: unknown keyword -> TypeError; __post_init__ checks.
        const FIELDS: [&str; 10] = [
            "action_type",
            "index",
            "x",
            "y",
            "text",
            "direction",
            "goal_status",
            "app_name",
            "keycode",
            "clear_text",
        ];
        const TYPES: [&str; 14] = [
            "click",
            "double_tap",
            "scroll",
            "swipe",
            "input_text",
            "navigate_home",
            "navigate_back",
            "keyboard_enter",
            "open_app",
            "status",
            "wait",
            "long_press",
            "answer",
            "unknown",
        ];
        if a.keys().any(|k| !FIELDS.contains(&k.as_str())) {
            return Err(internal_error());
        }
        let get = |k: &str| a.get(k).filter(|v| !v.is_null());
        let t = get("action_type").and_then(Value::as_str).unwrap_or("");
        if !TYPES.contains(&t) {
            return Err(internal_error());
        }
        let index = match get("index") {
            None => None,
            Some(Value::Number(n)) => Some(n.as_f64().unwrap_or(0.0) as i64),
            Some(Value::String(s)) => Some(s.trim().parse::<i64>().map_err(|_| internal_error())?),
            Some(_) => return Err(internal_error()),
        };
        let coord =
            |k: &str| get(k).map(|v| v.as_f64().map(|f| f as i64).ok_or_else(internal_error));
        let x = coord("x").transpose()?;
        let y = coord("y").transpose()?;
        if index.is_some() && (x.is_some() || y.is_some()) {
            return Err(internal_error());
        }
        let direction = get("direction").and_then(Value::as_str);
        if let Some(dir) = direction
            && !["left", "right", "down", "up"].contains(&dir)
        {
            return Err(internal_error());
        }
        if let Some(k) = get("keycode")
            && !k.as_str().is_some_and(|k| k.starts_with("KEYCODE_"))
        {
            return Err(internal_error());
        }
        let text = get("text").map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let d = &mut self.device;
        let target = |d: &Device| -> Result<Option<Element>, Out> {
            if let Some(i) = index {
                let els = d.elements();
                if i < 0 || i as usize >= els.len() {
                    // "Invalid element index" (ValueError).
                    return Err(internal_error());
                }
                return Ok(Some(els[i as usize]));
            }
            Ok(match (x, y) {
                (Some(x), Some(y)) => d.element_at(x, y),
                _ => None,
            })
        };
        match t {
            "answer" => d.interaction_cache = text.clone().unwrap_or_default(),
            "status" | "wait" | "unknown" | "keyboard_enter" | "scroll" | "swipe" => {}
            "click" | "double_tap" | "long_press" => {
                if index.is_none() && (x.is_none() || y.is_none()) {
                    return Err(internal_error());
                }
                if let Some(e) = target(d)? {
                    d.tap(e);
                }
            }
            "input_text" => {
                if let Some(text) = text.as_deref().filter(|t| !t.is_empty()) {
                    if (index.is_some() || (x.is_some() && y.is_some()))
                        && let Some(e) = target(d)?
                    {
                        d.tap(e);
                    }
                    let clear = get("clear_text").and_then(Value::as_bool).unwrap_or(false);
                    let field = match d.focus {
                        Some(Element::NameField) => Some(&mut d.name_field),
                        Some(Element::PhoneField) => Some(&mut d.phone_field),
                        _ => None,
                    };
                    if let Some(f) = field {
                        if clear {
                            f.clear();
                        }
                        f.push_str(text);
                    }
                }
            }
            "navigate_home" => {
                d.screen = Screen::Home;
                d.back.clear();
                d.focus = None;
            }
            "navigate_back" => {
                d.screen = d.back.pop().unwrap_or(Screen::Home);
                d.focus = None;
            }
            "open_app" => match get("app_name").and_then(Value::as_str) {
                Some(app) if !app.is_empty() => d.open_app(app),
                // "No app name provided" (ValueError).
                _ => return Err(internal_error()),
            },
            _ => {}
        }
        // The message shows the action's repr, fields in declaration order.
        let shown: Vec<String> = FIELDS
            .iter()
            .filter_map(|k| get(k).map(|v| format!("{k}={}", py_repr(v))))
            .collect();
        Ok(ok(json!({
            "status": "success",
            "message": format!("Action JSONAction({}) executed.", shown.join(", "))
        })))
    }
}

fn py_repr(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

/// The decimal text of every byte value: a screenshot body holds tens of thousands of
/// them, and formatting each one with `write!` made the test servers' screenshots, not
/// the host, the cost that the fleet benchmark measured.
static DECIMAL: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| (0..=255u8).map(|v| v.to_string()).collect());

#[cfg(test)]
mod tests {
    use super::*;

    fn call(s: &mut State, method: &str, url: &str, body: &str) -> (u16, String) {
        let o = s.handle(method, url, body.as_bytes());
        (o.status, String::from_utf8(o.body).unwrap())
    }

    #[test]
    fn fastapi_error_shapes() {
        let mut s = State::new(ServerOptions::default());
        let (st, b) = call(
            &mut s,
            "POST",
            "/task/initialize?task_type=SystemWifiTurnOn",
            "",
        );
        assert_eq!(st, 422);
        let v: Value = serde_json::from_str(&b).unwrap();
        assert_eq!(
            v,
            json!({"detail": [{"type": "missing", "loc": ["query", "task_idx"], "msg": "Field required", "input": null}]})
        );
        let (st, b) = call(&mut s, "POST", "/reset?go_home=maybe", "");
        assert_eq!(st, 422);
        assert!(b.contains("bool_parsing"), "{b}");
        let (st, b) = call(&mut s, "GET", "/task/goal?task_type=Nope&task_idx=0", "");
        assert_eq!((st, b.as_str()), (500, "Internal Server Error"));
        let (st, _) = call(
            &mut s,
            "GET",
            "/task/goal?task_type=SystemWifiTurnOn&task_idx=2",
            "",
        );
        assert_eq!(st, 500);
        let (st, b) = call(
            &mut s,
            "GET",
            "/task/goal?task_type=SystemWifiTurnOn&task_idx=-1",
            "",
        );
        assert_eq!((st, b.as_str()), (200, r#"{"goal":"Turn wifi on."}"#));
        let (st, b) = call(&mut s, "GET", "/suite/reinitialize?task_family=nope", "");
        assert_eq!(
            (st, b.as_str()),
            (400, r#"{"detail":"Invalid task family: nope"}"#)
        );
        let (st, b) = call(&mut s, "GET", "/reset", "");
        assert_eq!(
            (st, b.as_str()),
            (405, r#"{"detail":"Method Not Allowed"}"#)
        );
        let (st, b) = call(&mut s, "GET", "/nope", "");
        assert_eq!((st, b.as_str()), (404, r#"{"detail":"Not Found"}"#));
        let (st, b) = call(&mut s, "POST", "/execute_action", "[1]");
        assert_eq!(st, 422);
        assert!(b.contains("dict_type"));
        let (st, b) = call(&mut s, "POST", "/execute_action", "{");
        assert_eq!(st, 422);
        assert!(b.contains("json_invalid"));
        let (st, _) = call(
            &mut s,
            "POST",
            "/execute_action",
            r#"{"action_type":"fly"}"#,
        );
        assert_eq!(st, 500);
        let (st, _) = call(
            &mut s,
            "GET",
            "/task/score?task_type=SystemWifiTurnOn&task_idx=0",
            "",
        );
        assert_eq!(st, 500, "scoring an uninitialized task raises");
    }

    #[test]
    fn the_phone_plays_a_contact_task() {
        let mut s = State::new(ServerOptions::default());
        let goal = s.suite[0].1[0].goal();
        let (st, _) = call(
            &mut s,
            "POST",
            "/task/initialize?task_type=ContactsAddContact&task_idx=0",
            "",
        );
        assert_eq!(st, 200);
        let task = s.suite[0].1[0].clone();
        assert!(goal.contains(&task.name) && goal.contains(&task.number));
        for body in [
            r#"{"action_type":"open_app","app_name":"contacts"}"#.to_owned(),
            r#"{"action_type":"click","index":0}"#.to_owned(),
            format!(
                r#"{{"action_type":"input_text","text":"{}","index":0}}"#,
                task.name
            ),
            format!(
                r#"{{"action_type":"input_text","text":"{}","index":1}}"#,
                task.number
            ),
            r#"{"action_type":"click","index":2}"#.to_owned(),
        ] {
            let (st, b) = call(&mut s, "POST", "/execute_action", &body);
            assert_eq!(st, 200, "{body}: {b}");
        }
        let (_, b) = call(
            &mut s,
            "GET",
            "/task/score?task_type=ContactsAddContact&task_idx=0",
            "",
        );
        assert_eq!(b, r#"{"score":1.0}"#);
        let (st, b) = call(&mut s, "GET", "/screenshot?wait_to_stabilize=false", "");
        assert_eq!(st, 200);
        let v: Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["pixels"].as_array().unwrap().len(), 320);
        assert_eq!(v["pixels"][0].as_array().unwrap().len(), 144);
        assert_eq!(v["pixels"][0][0].as_array().unwrap().len(), 3);
    }
}

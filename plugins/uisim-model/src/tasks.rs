//! The task catalog: templates, their goals, the random parameters and initial phone
//! state each seed gives, and the instruction (as text and as tokens).

use serde::{Deserialize, Serialize};
use sim_kit::Rng;

use crate::apps::{Alarm, App, Apps, Contact, MAX_BRIGHTNESS, Message, Note, Setting, Settings};
use crate::vocab;

/// Longest instruction, in tokens.
pub const MAX_INSTRUCTION_TOKENS: usize = 16;

/// What must hold at the end of an episode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "goal")]
pub enum Goal {
    /// The app's main screen is showing.
    OpenApp {
        /// Which app.
        app: App,
    },
    /// Each setting has the given value.
    Toggles {
        /// (setting, wanted value) pairs.
        set: Vec<(Setting, bool)>,
    },
    /// Brightness at a level.
    Brightness {
        /// Wanted level.
        level: u8,
    },
    /// A new contact exists.
    AddContact {
        /// Name.
        name: String,
        /// Number.
        phone: String,
    },
    /// A contact is gone.
    DeleteContact {
        /// Name.
        name: String,
    },
    /// A contact's number changed.
    EditContactPhone {
        /// Name.
        name: String,
        /// New number.
        phone: String,
    },
    /// A contact's card is showing.
    OpenContact {
        /// Name.
        name: String,
    },
    /// A new note exists.
    CreateNote {
        /// Title.
        title: String,
        /// Body.
        body: String,
    },
    /// A note is gone.
    DeleteNote {
        /// Title.
        title: String,
    },
    /// A note's body changed.
    EditNoteBody {
        /// Title.
        title: String,
        /// New body.
        body: String,
    },
    /// A new enabled alarm exists.
    SetAlarm {
        /// Hour.
        hour: u8,
        /// Minute.
        minute: u8,
    },
    /// An alarm is disabled.
    DisableAlarm {
        /// Hour.
        hour: u8,
        /// Minute.
        minute: u8,
    },
    /// An alarm is gone.
    DeleteAlarm {
        /// Hour.
        hour: u8,
        /// Minute.
        minute: u8,
    },
    /// An alarm moved to another time (keeping its enabled state).
    MoveAlarm {
        /// Old time.
        from: (u8, u8),
        /// New time.
        to: (u8, u8),
    },
    /// An SMS was sent.
    SendSms {
        /// Recipient (contact name or number).
        to: String,
        /// Text.
        body: String,
    },
    /// The home screen is showing.
    GoHome,
    /// All of these, in order.
    All {
        /// The parts.
        goals: Vec<Goal>,
    },
}

impl Goal {
    /// Apply the goal's intended effect to `apps`: the state a perfect agent leaves.
    pub fn apply(&self, apps: &mut Apps) {
        match self {
            Goal::OpenApp { .. } | Goal::OpenContact { .. } | Goal::GoHome => {}
            Goal::Toggles { set } => {
                for (s, on) in set {
                    apps.settings.set(*s, *on);
                }
            }
            Goal::Brightness { level } => apps.settings.brightness = *level,
            Goal::AddContact { name, phone } => {
                apps.insert_contact(Contact {
                    name: name.clone(),
                    phone: phone.clone(),
                });
            }
            Goal::DeleteContact { name } => apps.contacts.retain(|c| &c.name != name),
            Goal::EditContactPhone { name, phone } => {
                if let Some(i) = apps.contact(name) {
                    apps.contacts[i].phone = phone.clone();
                }
            }
            Goal::CreateNote { title, body } => apps.notes.push(Note {
                title: title.clone(),
                body: body.clone(),
            }),
            Goal::DeleteNote { title } => apps.notes.retain(|n| &n.title != title),
            Goal::EditNoteBody { title, body } => {
                if let Some(i) = apps.note(title) {
                    apps.notes[i].body = body.clone();
                }
            }
            Goal::SetAlarm { hour, minute } => {
                apps.insert_alarm(Alarm {
                    hour: *hour,
                    minute: *minute,
                    enabled: true,
                });
            }
            Goal::DisableAlarm { hour, minute } => {
                if let Some(i) = apps.alarm(*hour, *minute) {
                    apps.alarms[i].enabled = false;
                }
            }
            Goal::DeleteAlarm { hour, minute } => {
                apps.alarms
                    .retain(|a| !(a.hour == *hour && a.minute == *minute));
            }
            Goal::MoveAlarm { from, to } => {
                if let Some(i) = apps.alarm(from.0, from.1) {
                    let a = apps.alarms.remove(i);
                    apps.insert_alarm(Alarm {
                        hour: to.0,
                        minute: to.1,
                        ..a
                    });
                }
            }
            Goal::SendSms { to, body } => apps.messages.push(Message {
                to: to.clone(),
                body: body.clone(),
            }),
            Goal::All { goals } => goals.iter().for_each(|g| g.apply(apps)),
        }
    }

    /// The screen that must be showing at the end (see `Screen::describe`), if any.
    pub fn required_screen(&self) -> Option<String> {
        match self {
            Goal::OpenApp { app } => Some(app.word().to_owned()),
            Goal::OpenContact { name } => Some(format!("contact:{name}")),
            Goal::GoHome => Some("home".to_owned()),
            Goal::All { goals } => goals.iter().rev().find_map(Goal::required_screen),
            _ => None,
        }
    }
}

/// A task template in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// Open one app.
    OpenApp(App),
    /// Flip one setting to a value.
    Toggle(Setting, bool),
    /// Brightness to max (true) or min (false).
    Brightness(bool),
    /// Wi-Fi on and Bluetooth off.
    WifiOnBluetoothOff,
    /// Airplane on and location off.
    AirplaneOnLocationOff,
    /// Wi-Fi, Bluetooth, location on; airplane off.
    ConnectivitySweep,
    /// Dark mode on, then go home.
    DarkModeThenHome,
    /// Delete an existing contact.
    DeleteContact,
    /// Open an existing contact's card.
    OpenContact,
    /// Delete an existing note.
    DeleteNote,
    /// Disable an existing alarm.
    DisableAlarm,
    /// Delete an existing alarm.
    DeleteAlarm,
    /// Add a new contact.
    AddContact,
    /// Create a new note.
    CreateNote,
    /// Text an existing contact.
    SendSms,
    /// Text a phone number that is not a contact.
    SendSmsToNumber,
    /// Set a new alarm.
    SetAlarm,
    /// Change a contact's number.
    EditContactPhone,
    /// Replace a note's text.
    EditNoteBody,
    /// Move an alarm to another time.
    MoveAlarm,
    /// Add a contact, then text them.
    AddContactAndSms,
    /// Wi-Fi off and create a note.
    WifiOffAndNote,
    /// Set an alarm and turn airplane mode on.
    AlarmAndAirplane,
    /// Delete a contact and a note.
    DeleteContactAndNote,
    /// Create a note, then text its text to a contact.
    NoteAndSms,
    /// Add two contacts.
    TwoContacts,
    /// Set two alarms.
    TwoAlarms,
    /// Change a contact's number, then text them.
    EditNumberAndSms,
    /// Bluetooth on and move an alarm.
    BluetoothAndMoveAlarm,
}

/// One task of the suite.
#[derive(Debug, Clone)]
pub struct TaskDef {
    /// Stable id, e.g. `settings.wifi-off`.
    pub id: String,
    /// Template family (held-out splits are by family).
    pub family: &'static str,
    /// Difficulty 1..=4.
    pub level: u8,
    /// Step budget.
    pub max_steps: u32,
    /// Instruction with placeholders, for the task table.
    pub summary: String,
    /// The template.
    pub template: Template,
}

fn def(
    id: impl Into<String>,
    family: &'static str,
    level: u8,
    summary: impl Into<String>,
    t: Template,
) -> TaskDef {
    TaskDef {
        id: id.into(),
        family,
        level,
        max_steps: match level {
            1 => 10,
            2 => 15,
            3 => 25,
            _ => 40,
        },
        summary: summary.into(),
        template: t,
    }
}

/// Every task, in a stable order.
pub fn catalog() -> &'static [TaskDef] {
    static C: std::sync::OnceLock<Vec<TaskDef>> = std::sync::OnceLock::new();
    C.get_or_init(|| {
        use Template as T;
        let mut v = Vec::new();
        for app in App::ALL {
            v.push(def(
                format!("open.{}", app.word()),
                "open-app",
                1,
                format!("Open the {} app", app.word()),
                T::OpenApp(app),
            ));
        }
        for s in Setting::ALL {
            for on in [true, false] {
                let state = if on { "on" } else { "off" };
                v.push(def(
                    format!("settings.{}-{state}", s.word()),
                    "toggle",
                    1,
                    format!("Turn {} {state}", s.label()),
                    T::Toggle(s, on),
                ));
            }
        }
        v.push(def(
            "settings.brightness-max",
            "brightness",
            2,
            "Set brightness to max",
            T::Brightness(true),
        ));
        v.push(def(
            "settings.brightness-min",
            "brightness",
            2,
            "Set brightness to min",
            T::Brightness(false),
        ));
        v.push(def(
            "settings.wifi-on-bluetooth-off",
            "toggle-pair",
            2,
            "Turn Wi-Fi on and Bluetooth off",
            T::WifiOnBluetoothOff,
        ));
        v.push(def(
            "settings.airplane-on-location-off",
            "toggle-pair",
            2,
            "Turn airplane mode on and location off",
            T::AirplaneOnLocationOff,
        ));
        v.push(def(
            "settings.connectivity-sweep",
            "toggle-sweep",
            2,
            "Turn Wi-Fi, Bluetooth and location on and airplane mode off",
            T::ConnectivitySweep,
        ));
        v.push(def(
            "settings.dark-mode-then-home",
            "toggle-home",
            2,
            "Turn dark mode on then go home",
            T::DarkModeThenHome,
        ));
        v.push(def(
            "contacts.delete",
            "contact-delete",
            2,
            "Delete contact {name}",
            T::DeleteContact,
        ));
        v.push(def(
            "contacts.open",
            "contact-open",
            2,
            "Open the contact card of {name}",
            T::OpenContact,
        ));
        v.push(def(
            "notes.delete",
            "note-delete",
            2,
            "Delete the note titled {title}",
            T::DeleteNote,
        ));
        v.push(def(
            "clock.alarm-off",
            "alarm-off",
            2,
            "Turn off the alarm at {time}",
            T::DisableAlarm,
        ));
        v.push(def(
            "clock.alarm-delete",
            "alarm-delete",
            2,
            "Delete the alarm at {time}",
            T::DeleteAlarm,
        ));
        v.push(def(
            "contacts.add",
            "contact-add",
            3,
            "Add contact {name} with number {phone}",
            T::AddContact,
        ));
        v.push(def(
            "notes.create",
            "note-create",
            3,
            "Create a note titled {title} with text {body}",
            T::CreateNote,
        ));
        v.push(def(
            "messages.send",
            "sms",
            3,
            "Send an SMS saying {body} to {name}",
            T::SendSms,
        ));
        v.push(def(
            "messages.send-to-number",
            "sms",
            3,
            "Send an SMS saying {body} to number {phone}",
            T::SendSmsToNumber,
        ));
        v.push(def(
            "clock.alarm-set",
            "alarm-set",
            3,
            "Set an alarm for {time}",
            T::SetAlarm,
        ));
        v.push(def(
            "contacts.edit-number",
            "contact-edit",
            3,
            "Change the number of {name} to {phone}",
            T::EditContactPhone,
        ));
        v.push(def(
            "notes.edit",
            "note-edit",
            3,
            "Replace the text of note {title} with {body}",
            T::EditNoteBody,
        ));
        v.push(def(
            "clock.alarm-move",
            "alarm-move",
            3,
            "Move the alarm at {time} to {time2}",
            T::MoveAlarm,
        ));
        v.push(def(
            "combo.add-contact-and-sms",
            "combo-contact-sms",
            4,
            "Add contact {name} with number {phone} and send {body} to {name}",
            T::AddContactAndSms,
        ));
        v.push(def(
            "combo.wifi-off-and-note",
            "combo-toggle-note",
            4,
            "Turn Wi-Fi off and create a note titled {title} with text {body}",
            T::WifiOffAndNote,
        ));
        v.push(def(
            "combo.alarm-and-airplane",
            "combo-alarm-toggle",
            4,
            "Set an alarm for {time} and turn airplane mode on",
            T::AlarmAndAirplane,
        ));
        v.push(def(
            "combo.delete-contact-and-note",
            "combo-delete",
            4,
            "Delete contact {name} and the note titled {title}",
            T::DeleteContactAndNote,
        ));
        v.push(def(
            "combo.note-and-sms",
            "combo-note-sms",
            4,
            "Create a note titled {title} with text {body} then send {body} to {name}",
            T::NoteAndSms,
        ));
        v.push(def(
            "combo.two-contacts",
            "combo-two-contacts",
            4,
            "Add contacts {name} ({phone}) and {name2} ({phone2})",
            T::TwoContacts,
        ));
        v.push(def(
            "combo.two-alarms",
            "combo-two-alarms",
            4,
            "Set alarms for {time} and {time2}",
            T::TwoAlarms,
        ));
        v.push(def(
            "combo.edit-number-and-sms",
            "combo-edit-sms",
            4,
            "Change the number of {name} to {phone} and send {body} to {name}",
            T::EditNumberAndSms,
        ));
        v.push(def(
            "combo.bluetooth-and-move-alarm",
            "combo-toggle-alarm",
            4,
            "Turn Bluetooth on and move the alarm at {time} to {time2}",
            T::BluetoothAndMoveAlarm,
        ));
        v
    })
}

/// The task with this id.
pub fn find(id: &str) -> Option<&'static TaskDef> {
    catalog().iter().find(|t| t.id == id)
}

/// One concrete instance of a task: what a seed picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// What must hold at the end.
    pub goal: Goal,
    /// Text the agent can type (slot j = `<slotj>`).
    pub slots: Vec<String>,
    /// The phone at the start.
    pub initial: Apps,
    /// Instruction as text.
    pub instruction: String,
    /// Instruction as token ids (unpadded).
    pub instruction_tokens: Vec<u32>,
}

const NAMES: &[&str] = &[
    "Ada", "Alan", "Beth", "Ben", "Carl", "Cleo", "Dana", "Dev", "Eli", "Emma", "Finn", "Gia",
    "Hugo", "Ines", "Ivan", "Jade", "Kai", "Lena", "Leo", "Mia", "Nora", "Omar", "Pia", "Quinn",
    "Rosa", "Sam", "Tara", "Theo", "Uma", "Vera", "Wes", "Yara", "Zoe", "Noah", "Lily", "Max",
];
const TITLES: &[&str] = &[
    "Groceries",
    "Packing",
    "Ideas",
    "Books",
    "Workout",
    "Recipes",
    "Travel",
    "Budget",
    "Gifts",
    "Garden",
    "Meeting",
    "Chores",
    "Movies",
    "Music",
    "Errands",
    "Plans",
];
const BODIES: &[&str] = &[
    "buy milk",
    "call mom",
    "pay rent",
    "water plants",
    "book flights",
    "fix bike",
    "read chapter 3",
    "pick up parcel",
    "renew passport",
    "clean garage",
    "order pizza",
    "walk the dog",
];
const SMS: &[&str] = &[
    "running late",
    "see you soon",
    "on my way",
    "call me back",
    "happy birthday",
    "thanks a lot",
    "dinner at 8",
    "meeting moved",
    "good luck",
    "almost there",
];
const MINUTES: [u8; 4] = [0, 15, 30, 45];

fn phone(rng: &mut Rng, taken: &[String]) -> String {
    loop {
        let p = format!("555-{:04}", rng.below(10_000));
        if !taken.contains(&p) {
            return p;
        }
    }
}

/// A free time between `lo` and `hi` o'clock, never the new-alarm default (8:00), so
/// setting it always takes at least one adjustment.
fn time_between(rng: &mut Rng, taken: &[(u8, u8)], lo: usize, hi: usize) -> (u8, u8) {
    loop {
        let t = (rng.range(lo, hi) as u8, *rng.pick(&MINUTES));
        if !taken.contains(&t) && t != crate::ui::NEW_ALARM {
            return t;
        }
    }
}

/// A time for an existing alarm (anywhere in the day).
fn time(rng: &mut Rng, taken: &[(u8, u8)]) -> (u8, u8) {
    time_between(rng, taken, 5, 22)
}

/// A time for an alarm the agent must set: within three hours of the editor's 8:00,
/// so the task stays a handful of adjustments.
fn new_time(rng: &mut Rng, taken: &[(u8, u8)]) -> (u8, u8) {
    time_between(rng, taken, 6, 11)
}

/// A random phone: a few contacts (sometimes more than a screen), notes, alarms,
/// sent messages and settings.
fn base(rng: &mut Rng) -> Apps {
    let mut apps = Apps {
        settings: Settings {
            wifi: rng.coin(),
            bluetooth: rng.coin(),
            airplane: rng.coin(),
            dark_mode: rng.coin(),
            location: rng.coin(),
            brightness: rng.range(0, MAX_BRIGHTNESS as usize) as u8,
        },
        contacts: vec![],
        notes: vec![],
        alarms: vec![],
        messages: vec![],
    };
    let n = rng.range(4, 8);
    let mut phones = Vec::new();
    for name in rng.sample(NAMES, n) {
        let p = phone(rng, &phones);
        phones.push(p.clone());
        apps.insert_contact(Contact {
            name: name.to_owned(),
            phone: p,
        });
    }
    let n_notes = rng.range(2, 5);
    for title in rng.sample(TITLES, n_notes) {
        let body = rng.pick(BODIES).to_string();
        apps.notes.push(Note {
            title: title.to_owned(),
            body,
        });
    }
    let mut times = Vec::new();
    for _ in 0..rng.range(1, 3) {
        let t = time(rng, &times);
        times.push(t);
        let enabled = rng.coin();
        apps.insert_alarm(Alarm {
            hour: t.0,
            minute: t.1,
            enabled,
        });
    }
    for _ in 0..rng.range(0, 2) {
        let to = rng.pick(&apps.contacts).name.clone();
        let body = rng.pick(SMS).to_string();
        apps.messages.push(Message { to, body });
    }
    apps
}

/// Builds an instruction as display text and tokens at once.
struct Instr {
    text: Vec<String>,
    tokens: Vec<u32>,
}

impl Instr {
    fn new() -> Self {
        Instr {
            text: vec![],
            tokens: vec![],
        }
    }

    /// Words (space separated) shown as themselves.
    fn w(mut self, words: &str) -> Self {
        for word in words.split(' ') {
            self.tokens.push(vocab::id(word));
            self.text.push(display(word).to_owned());
        }
        self
    }

    fn slot(mut self, j: usize, value: &str) -> Self {
        self.tokens.push(vocab::slot_id(j));
        self.text.push(format!("'{value}'"));
        self
    }

    fn time(mut self, (h, m): (u8, u8)) -> Self {
        self.tokens.push(vocab::hour_id(h));
        self.tokens.push(vocab::minute_id(m));
        self.text.push(format!("{h}:{m:02}"));
        self
    }

    fn setting(self, s: Setting, on: bool) -> Self {
        self.w(s.word()).w(if on { "on" } else { "off" })
    }

    fn finish(self) -> (String, Vec<u32>) {
        let mut text = self.text.join(" ");
        if let Some(first) = text.get(..1) {
            text = first.to_uppercase() + &text[1..];
        }
        (text, self.tokens)
    }
}

fn display(word: &str) -> &str {
    match word {
        "wifi" => "Wi-Fi",
        "bluetooth" => "Bluetooth",
        "dark-mode" => "dark mode",
        "airplane" => "airplane mode",
        "sms" => "SMS",
        other => other,
    }
}

/// Pick a name that is not a contact yet.
fn new_name(rng: &mut Rng, apps: &Apps, also_not: &[String]) -> String {
    loop {
        let n = rng.pick(NAMES).to_string();
        if apps.contact(&n).is_none() && !also_not.contains(&n) {
            return n;
        }
    }
}

fn new_title(rng: &mut Rng, apps: &Apps) -> String {
    loop {
        let t = rng.pick(TITLES).to_string();
        if apps.note(&t).is_none() {
            return t;
        }
    }
}

fn taken_times(apps: &Apps) -> Vec<(u8, u8)> {
    apps.alarms.iter().map(|a| (a.hour, a.minute)).collect()
}

fn taken_phones(apps: &Apps) -> Vec<String> {
    apps.contacts.iter().map(|c| c.phone.clone()).collect()
}

impl TaskDef {
    /// The instance `seed` picks: parameters, initial state, instruction.
    pub fn instantiate(&self, seed: u64) -> Instance {
        let stream = self.id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let mut rng = Rng::new(seed, stream);
        let mut apps = base(&mut rng);
        let (goal, slots, instr) = self.template.generate(&mut rng, &mut apps);
        let (instruction, instruction_tokens) = instr.finish();
        debug_assert!(instruction_tokens.len() <= MAX_INSTRUCTION_TOKENS);
        Instance {
            goal,
            slots,
            initial: apps,
            instruction,
            instruction_tokens,
        }
    }
}

impl Template {
    /// Adjust `apps` so the task is meaningful, and return goal, slots, instruction.
    fn generate(self, rng: &mut Rng, apps: &mut Apps) -> (Goal, Vec<String>, Instr) {
        use Template as T;
        match self {
            T::OpenApp(app) => (
                Goal::OpenApp { app },
                vec![],
                Instr::new().w("open the").w(app.word()).w("app"),
            ),
            T::Toggle(s, on) => {
                apps.settings.set(s, !on);
                (
                    Goal::Toggles { set: vec![(s, on)] },
                    vec![],
                    Instr::new().w("turn").setting(s, on),
                )
            }
            T::Brightness(max) => {
                let level = if max { MAX_BRIGHTNESS } else { 0 };
                apps.settings.brightness = if max {
                    rng.range(0, 2) as u8
                } else {
                    rng.range(2, MAX_BRIGHTNESS as usize) as u8
                };
                (
                    Goal::Brightness { level },
                    vec![],
                    Instr::new()
                        .w("set brightness to")
                        .w(if max { "max" } else { "min" }),
                )
            }
            T::WifiOnBluetoothOff => {
                toggles(apps, &[(Setting::Wifi, true), (Setting::Bluetooth, false)])
            }
            T::AirplaneOnLocationOff => toggles(
                apps,
                &[(Setting::Airplane, true), (Setting::Location, false)],
            ),
            T::ConnectivitySweep => toggles(
                apps,
                &[
                    (Setting::Wifi, true),
                    (Setting::Bluetooth, true),
                    (Setting::Location, true),
                    (Setting::Airplane, false),
                ],
            ),
            T::DarkModeThenHome => {
                apps.settings.dark_mode = false;
                (
                    Goal::All {
                        goals: vec![
                            Goal::Toggles {
                                set: vec![(Setting::DarkMode, true)],
                            },
                            Goal::GoHome,
                        ],
                    },
                    vec![],
                    Instr::new()
                        .w("turn")
                        .setting(Setting::DarkMode, true)
                        .w("then go home"),
                )
            }
            T::DeleteContact => {
                let name = rng.pick(&apps.contacts).name.clone();
                (
                    Goal::DeleteContact { name: name.clone() },
                    vec![name.clone()],
                    Instr::new().w("delete contact").slot(0, &name),
                )
            }
            T::OpenContact => {
                let name = rng.pick(&apps.contacts).name.clone();
                (
                    Goal::OpenContact { name: name.clone() },
                    vec![name.clone()],
                    Instr::new().w("open the contact card of").slot(0, &name),
                )
            }
            T::DeleteNote => {
                let title = rng.pick(&apps.notes).title.clone();
                (
                    Goal::DeleteNote {
                        title: title.clone(),
                    },
                    vec![title.clone()],
                    Instr::new().w("delete the note titled").slot(0, &title),
                )
            }
            T::DisableAlarm => {
                let i = rng.below(apps.alarms.len());
                apps.alarms[i].enabled = true;
                let t = (apps.alarms[i].hour, apps.alarms[i].minute);
                (
                    Goal::DisableAlarm {
                        hour: t.0,
                        minute: t.1,
                    },
                    vec![],
                    Instr::new().w("turn off the alarm at").time(t),
                )
            }
            T::DeleteAlarm => {
                let a = *rng.pick(&apps.alarms);
                let t = (a.hour, a.minute);
                (
                    Goal::DeleteAlarm {
                        hour: t.0,
                        minute: t.1,
                    },
                    vec![],
                    Instr::new().w("delete the alarm at").time(t),
                )
            }
            T::AddContact => {
                let name = new_name(rng, apps, &[]);
                let phone = phone(rng, &taken_phones(apps));
                (
                    Goal::AddContact {
                        name: name.clone(),
                        phone: phone.clone(),
                    },
                    vec![name.clone(), phone.clone()],
                    Instr::new()
                        .w("add contact")
                        .slot(0, &name)
                        .w("with number")
                        .slot(1, &phone),
                )
            }
            T::CreateNote => {
                let title = new_title(rng, apps);
                let body = rng.pick(BODIES).to_string();
                (
                    Goal::CreateNote {
                        title: title.clone(),
                        body: body.clone(),
                    },
                    vec![title.clone(), body.clone()],
                    Instr::new()
                        .w("create a note titled")
                        .slot(0, &title)
                        .w("with text")
                        .slot(1, &body),
                )
            }
            T::SendSms => {
                let to = rng.pick(&apps.contacts).name.clone();
                let body = rng.pick(SMS).to_string();
                (
                    Goal::SendSms {
                        to: to.clone(),
                        body: body.clone(),
                    },
                    vec![to.clone(), body.clone()],
                    Instr::new()
                        .w("send an sms saying")
                        .slot(1, &body)
                        .w("to")
                        .slot(0, &to),
                )
            }
            T::SendSmsToNumber => {
                let to = phone(rng, &taken_phones(apps));
                let body = rng.pick(SMS).to_string();
                (
                    Goal::SendSms {
                        to: to.clone(),
                        body: body.clone(),
                    },
                    vec![to.clone(), body.clone()],
                    Instr::new()
                        .w("send an sms saying")
                        .slot(1, &body)
                        .w("to number")
                        .slot(0, &to),
                )
            }
            T::SetAlarm => {
                let t = new_time(rng, &taken_times(apps));
                (
                    Goal::SetAlarm {
                        hour: t.0,
                        minute: t.1,
                    },
                    vec![],
                    Instr::new().w("set an alarm for").time(t),
                )
            }
            T::EditContactPhone => {
                let name = rng.pick(&apps.contacts).name.clone();
                let phone = phone(rng, &taken_phones(apps));
                (
                    Goal::EditContactPhone {
                        name: name.clone(),
                        phone: phone.clone(),
                    },
                    vec![name.clone(), phone.clone()],
                    Instr::new()
                        .w("change the number of")
                        .slot(0, &name)
                        .w("to")
                        .slot(1, &phone),
                )
            }
            T::EditNoteBody => {
                let i = rng.below(apps.notes.len());
                let title = apps.notes[i].title.clone();
                let body = loop {
                    let b = rng.pick(BODIES).to_string();
                    if b != apps.notes[i].body {
                        break b;
                    }
                };
                (
                    Goal::EditNoteBody {
                        title: title.clone(),
                        body: body.clone(),
                    },
                    vec![title.clone(), body.clone()],
                    Instr::new()
                        .w("replace the text of note")
                        .slot(0, &title)
                        .w("with")
                        .slot(1, &body),
                )
            }
            T::MoveAlarm => {
                let (goal, instr) = move_alarm(rng, apps, Instr::new());
                (goal, vec![], instr)
            }
            T::AddContactAndSms => {
                let name = new_name(rng, apps, &[]);
                let phone = phone(rng, &taken_phones(apps));
                let body = rng.pick(SMS).to_string();
                (
                    Goal::All {
                        goals: vec![
                            Goal::AddContact {
                                name: name.clone(),
                                phone: phone.clone(),
                            },
                            Goal::SendSms {
                                to: name.clone(),
                                body: body.clone(),
                            },
                        ],
                    },
                    vec![name.clone(), phone.clone(), body.clone()],
                    Instr::new()
                        .w("add contact")
                        .slot(0, &name)
                        .w("with number")
                        .slot(1, &phone)
                        .w("and send")
                        .slot(2, &body)
                        .w("to")
                        .slot(0, &name),
                )
            }
            T::WifiOffAndNote => {
                apps.settings.wifi = true;
                let title = new_title(rng, apps);
                let body = rng.pick(BODIES).to_string();
                (
                    Goal::All {
                        goals: vec![
                            Goal::Toggles {
                                set: vec![(Setting::Wifi, false)],
                            },
                            Goal::CreateNote {
                                title: title.clone(),
                                body: body.clone(),
                            },
                        ],
                    },
                    vec![title.clone(), body.clone()],
                    Instr::new()
                        .w("turn")
                        .setting(Setting::Wifi, false)
                        .w("and create a note titled")
                        .slot(0, &title)
                        .w("with text")
                        .slot(1, &body),
                )
            }
            T::AlarmAndAirplane => {
                apps.settings.airplane = false;
                let t = new_time(rng, &taken_times(apps));
                (
                    Goal::All {
                        goals: vec![
                            Goal::SetAlarm {
                                hour: t.0,
                                minute: t.1,
                            },
                            Goal::Toggles {
                                set: vec![(Setting::Airplane, true)],
                            },
                        ],
                    },
                    vec![],
                    Instr::new()
                        .w("set an alarm for")
                        .time(t)
                        .w("and turn")
                        .setting(Setting::Airplane, true),
                )
            }
            T::DeleteContactAndNote => {
                let name = rng.pick(&apps.contacts).name.clone();
                let title = rng.pick(&apps.notes).title.clone();
                (
                    Goal::All {
                        goals: vec![
                            Goal::DeleteContact { name: name.clone() },
                            Goal::DeleteNote {
                                title: title.clone(),
                            },
                        ],
                    },
                    vec![name.clone(), title.clone()],
                    Instr::new()
                        .w("delete contact")
                        .slot(0, &name)
                        .w("and the note titled")
                        .slot(1, &title),
                )
            }
            T::NoteAndSms => {
                let title = new_title(rng, apps);
                let body = rng.pick(BODIES).to_string();
                let to = rng.pick(&apps.contacts).name.clone();
                (
                    Goal::All {
                        goals: vec![
                            Goal::CreateNote {
                                title: title.clone(),
                                body: body.clone(),
                            },
                            Goal::SendSms {
                                to: to.clone(),
                                body: body.clone(),
                            },
                        ],
                    },
                    vec![title.clone(), body.clone(), to.clone()],
                    Instr::new()
                        .w("create a note titled")
                        .slot(0, &title)
                        .w("with text")
                        .slot(1, &body)
                        .w("then send")
                        .slot(1, &body)
                        .w("to")
                        .slot(2, &to),
                )
            }
            T::TwoContacts => {
                let n1 = new_name(rng, apps, &[]);
                let n2 = new_name(rng, apps, std::slice::from_ref(&n1));
                let p1 = phone(rng, &taken_phones(apps));
                let mut taken = taken_phones(apps);
                taken.push(p1.clone());
                let p2 = phone(rng, &taken);
                (
                    Goal::All {
                        goals: vec![
                            Goal::AddContact {
                                name: n1.clone(),
                                phone: p1.clone(),
                            },
                            Goal::AddContact {
                                name: n2.clone(),
                                phone: p2.clone(),
                            },
                        ],
                    },
                    vec![n1.clone(), p1.clone(), n2.clone(), p2.clone()],
                    Instr::new()
                        .w("add contact")
                        .slot(0, &n1)
                        .w("with number")
                        .slot(1, &p1)
                        .w("and")
                        .slot(2, &n2)
                        .w("with number")
                        .slot(3, &p2),
                )
            }
            T::TwoAlarms => {
                let mut taken = taken_times(apps);
                let t1 = new_time(rng, &taken);
                taken.push(t1);
                let t2 = new_time(rng, &taken);
                (
                    Goal::All {
                        goals: vec![
                            Goal::SetAlarm {
                                hour: t1.0,
                                minute: t1.1,
                            },
                            Goal::SetAlarm {
                                hour: t2.0,
                                minute: t2.1,
                            },
                        ],
                    },
                    vec![],
                    Instr::new().w("set alarms for").time(t1).w("and").time(t2),
                )
            }
            T::EditNumberAndSms => {
                let name = rng.pick(&apps.contacts).name.clone();
                let phone = phone(rng, &taken_phones(apps));
                let body = rng.pick(SMS).to_string();
                (
                    Goal::All {
                        goals: vec![
                            Goal::EditContactPhone {
                                name: name.clone(),
                                phone: phone.clone(),
                            },
                            Goal::SendSms {
                                to: name.clone(),
                                body: body.clone(),
                            },
                        ],
                    },
                    vec![name.clone(), phone.clone(), body.clone()],
                    Instr::new()
                        .w("change the number of")
                        .slot(0, &name)
                        .w("to")
                        .slot(1, &phone)
                        .w("and send")
                        .slot(2, &body)
                        .w("to")
                        .slot(0, &name),
                )
            }
            T::BluetoothAndMoveAlarm => {
                apps.settings.bluetooth = false;
                let (mv, instr) = move_alarm(
                    rng,
                    apps,
                    Instr::new()
                        .w("turn")
                        .setting(Setting::Bluetooth, true)
                        .w("and"),
                );
                (
                    Goal::All {
                        goals: vec![
                            Goal::Toggles {
                                set: vec![(Setting::Bluetooth, true)],
                            },
                            mv,
                        ],
                    },
                    vec![],
                    instr,
                )
            }
        }
    }
}

fn toggles(apps: &mut Apps, set: &[(Setting, bool)]) -> (Goal, Vec<String>, Instr) {
    let mut instr = Instr::new().w("turn");
    for (i, (s, on)) in set.iter().enumerate() {
        apps.settings.set(*s, !on);
        if i > 0 {
            instr = instr.w("and");
        }
        instr = instr.setting(*s, *on);
    }
    (Goal::Toggles { set: set.to_vec() }, vec![], instr)
}

fn move_alarm(rng: &mut Rng, apps: &mut Apps, instr: Instr) -> (Goal, Instr) {
    let a = *rng.pick(&apps.alarms);
    let from = (a.hour, a.minute);
    // Move by at most two hours so the task stays a handful of adjustments.
    let to = loop {
        let h = (i32::from(a.hour) + rng.range(0, 4) as i32 - 2).clamp(0, 23) as u8;
        let t = (h, *rng.pick(&MINUTES));
        if t != from && apps.alarm(t.0, t.1).is_none() {
            break t;
        }
    };
    (
        Goal::MoveAlarm { from, to },
        instr.w("move the alarm at").time(from).w("to").time(to),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_at_least_40_tasks_over_4_levels_with_unique_ids() {
        let c = catalog();
        assert!(c.len() >= 40, "{} tasks", c.len());
        let mut ids: Vec<&str> = c.iter().map(|t| t.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), c.len());
        for level in 1..=4 {
            assert!(c.iter().any(|t| t.level == level), "no level {level} task");
        }
    }

    #[test]
    fn instances_are_deterministic_and_vary_with_the_seed() {
        for t in catalog() {
            let a = t.instantiate(42);
            assert_eq!(a, t.instantiate(42), "{}", t.id);
            assert!(
                a.instruction_tokens.len() <= MAX_INSTRUCTION_TOKENS,
                "{}",
                t.id
            );
            assert!(a.slots.len() <= 4, "{}", t.id);
        }
        let t = find("contacts.add").unwrap();
        let distinct: std::collections::HashSet<String> =
            (0..20).map(|s| t.instantiate(s).instruction).collect();
        assert!(distinct.len() > 10, "seeds should vary the parameters");
    }

    #[test]
    fn goals_change_the_state_except_navigation() {
        for t in catalog() {
            for seed in 0..10 {
                let inst = t.instantiate(seed);
                let mut after = inst.initial.clone();
                inst.goal.apply(&mut after);
                let navigational =
                    inst.goal.required_screen().is_some() && !matches!(inst.goal, Goal::All { .. });
                assert_eq!(
                    after == inst.initial,
                    navigational,
                    "{} seed {seed}: goal {:?}",
                    t.id,
                    inst.goal
                );
            }
        }
    }
}

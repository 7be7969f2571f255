//! Screens and their elements: what each screen shows for a given phone state, and
//! what clicking, typing, scrolling and navigating do.

use serde::{Deserialize, Serialize};

use crate::apps::{Alarm, App, Apps, Contact, MAX_BRIGHTNESS, Message, Note, Setting};

/// Rows a list screen shows at once.
pub const LIST_ROWS: usize = 5;
/// Most elements any screen shows.
pub const MAX_ELEMENTS: usize = 10;
/// Minute step of the alarm editor.
pub const MINUTE_STEP: u8 = 15;
/// Time a new alarm starts at in the editor.
pub const NEW_ALARM: (u8, u8) = (8, 0);

/// Which text field of an editor.
pub type FieldIx = u8;

/// The screen being shown.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Screen {
    /// App icons.
    Home,
    /// Toggles and brightness.
    Settings,
    /// Contact list, first visible row `top`.
    Contacts {
        /// First visible row.
        top: usize,
    },
    /// One contact's card.
    Contact {
        /// Index into the contact list.
        idx: usize,
    },
    /// New (`editing: None`) or existing contact form.
    ContactEdit {
        /// The contact being edited.
        editing: Option<usize>,
        /// Name field.
        name: String,
        /// Phone field.
        phone: String,
        /// Focused field: 0 name, 1 phone.
        focus: Option<FieldIx>,
    },
    /// Note list.
    Notes {
        /// First visible row.
        top: usize,
    },
    /// One note.
    Note {
        /// Index into the notes.
        idx: usize,
    },
    /// New or existing note form.
    NoteEdit {
        /// The note being edited.
        editing: Option<usize>,
        /// Title field.
        title: String,
        /// Body field.
        body: String,
        /// Focused field: 0 title, 1 body.
        focus: Option<FieldIx>,
    },
    /// Alarm list.
    Clock {
        /// First visible row.
        top: usize,
    },
    /// One alarm.
    Alarm {
        /// Index into the alarms.
        idx: usize,
    },
    /// New or existing alarm editor.
    AlarmEdit {
        /// The alarm being edited.
        editing: Option<usize>,
        /// Hour shown.
        hour: u8,
        /// Minute shown.
        minute: u8,
    },
    /// Sent messages.
    Messages {
        /// First visible row.
        top: usize,
    },
    /// One sent message.
    Message {
        /// Index into the messages.
        idx: usize,
    },
    /// New message form.
    Compose {
        /// Recipient field.
        to: String,
        /// Text field.
        body: String,
        /// Focused field: 0 to, 1 body.
        focus: Option<FieldIx>,
    },
}

/// What kind of element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// App icon on the home screen.
    App,
    /// On/off switch.
    Toggle,
    /// Push button.
    Button,
    /// Text field.
    Field,
    /// List row.
    Item,
    /// Read-only text.
    Label,
}

impl Role {
    /// Vocabulary token.
    pub fn token(self) -> &'static str {
        match self {
            Role::App => "r:app",
            Role::Toggle => "r:toggle",
            Role::Button => "r:button",
            Role::Field => "r:field",
            Role::Item => "r:item",
            Role::Label => "r:label",
        }
    }
}

/// Part of an element's label: a fixed word, or text shown by reference to the slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Word {
    /// A vocabulary token (shown as its word).
    Fixed(u32),
    /// Free text (a name, a body), tokenized as `<slotj>`, `<empty>` or `<other>`.
    Text(String),
}

/// What clicking an element does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Open an app.
    Open(App),
    /// Flip a setting.
    Toggle(Setting),
    /// Brightness down one level.
    BrightnessDown,
    /// Brightness up one level.
    BrightnessUp,
    /// The list screen's add/new/compose button.
    Add,
    /// Open list row (absolute index).
    Row(usize),
    /// Edit the shown item.
    Edit,
    /// Delete the shown item.
    Delete,
    /// Message the shown contact.
    MessageContact,
    /// Focus a text field.
    Field(FieldIx),
    /// Save the form.
    Save,
    /// Leave the form without saving.
    Cancel,
    /// Flip the shown alarm.
    AlarmToggle,
    /// Alarm editor hour −1.
    HourDown,
    /// Alarm editor hour +1.
    HourUp,
    /// Alarm editor minute −15.
    MinuteDown,
    /// Alarm editor minute +15.
    MinuteUp,
    /// Not clickable.
    Nothing,
}

/// One element on screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Kind.
    pub role: Role,
    /// Up to two label words.
    pub words: Vec<Word>,
    /// `on`/`off` for switches, `focused` for the focused field.
    pub state: Option<&'static str>,
    /// A field's content.
    pub value: Option<String>,
    /// Whether clicking does anything.
    pub enabled: bool,
    /// What clicking does.
    pub target: Target,
}

fn fixed(w: &str) -> Word {
    Word::Fixed(crate::vocab::id(w))
}

fn el(role: Role, words: Vec<Word>, target: Target) -> Element {
    Element {
        role,
        words,
        state: None,
        value: None,
        enabled: target != Target::Nothing,
        target,
    }
}

fn onoff(b: bool) -> Option<&'static str> {
    Some(if b { "on" } else { "off" })
}

fn time_words(h: u8, m: u8) -> Vec<Word> {
    vec![
        Word::Fixed(crate::vocab::hour_id(h)),
        Word::Fixed(crate::vocab::minute_id(m)),
    ]
}

fn field(name: &str, value: &str, ix: FieldIx, focus: Option<FieldIx>) -> Element {
    Element {
        state: (focus == Some(ix)).then_some("focused"),
        value: Some(value.to_owned()),
        ..el(Role::Field, vec![fixed(name)], Target::Field(ix))
    }
}

fn button(words: &[&str], target: Target, enabled: bool) -> Element {
    Element {
        enabled,
        ..el(
            Role::Button,
            words.iter().map(|w| fixed(w)).collect(),
            target,
        )
    }
}

fn label(words: Vec<Word>) -> Element {
    el(Role::Label, words, Target::Nothing)
}

/// The slice of a list a screen shows.
fn rows(top: usize, len: usize) -> std::ops::Range<usize> {
    top.min(len)..(top + LIST_ROWS).min(len)
}

impl Screen {
    /// Stable description used by goals and the final state (`home`, `contacts`,
    /// `contact:Ada`, ...).
    pub fn describe(&self, apps: &Apps) -> String {
        match self {
            Screen::Home => "home".into(),
            Screen::Settings => "settings".into(),
            Screen::Contacts { .. } => "contacts".into(),
            Screen::Contact { idx } => format!(
                "contact:{}",
                apps.contacts
                    .get(*idx)
                    .map(|c| c.name.as_str())
                    .unwrap_or("?")
            ),
            Screen::ContactEdit { .. } => "contact-edit".into(),
            Screen::Notes { .. } => "notes".into(),
            Screen::Note { .. } => "note".into(),
            Screen::NoteEdit { .. } => "note-edit".into(),
            Screen::Clock { .. } => "clock".into(),
            Screen::Alarm { .. } => "alarm".into(),
            Screen::AlarmEdit { .. } => "alarm-edit".into(),
            Screen::Messages { .. } => "messages".into(),
            Screen::Message { .. } => "message".into(),
            Screen::Compose { .. } => "compose".into(),
        }
    }

    /// Vocabulary token of the screen.
    pub fn token(&self) -> &'static str {
        match self {
            Screen::Home => "s:home",
            Screen::Settings => "s:settings",
            Screen::Contacts { .. } => "s:contacts",
            Screen::Contact { .. } => "s:contact",
            Screen::ContactEdit { .. } => "s:contact-edit",
            Screen::Notes { .. } => "s:notes",
            Screen::Note { .. } => "s:note",
            Screen::NoteEdit { .. } => "s:note-edit",
            Screen::Clock { .. } => "s:clock",
            Screen::Alarm { .. } => "s:alarm",
            Screen::AlarmEdit { .. } => "s:alarm-edit",
            Screen::Messages { .. } => "s:messages",
            Screen::Message { .. } => "s:message",
            Screen::Compose { .. } => "s:compose",
        }
    }

    /// `(top, length)` of a list screen's list.
    pub fn list(&self, apps: &Apps) -> Option<(usize, usize)> {
        match self {
            Screen::Contacts { top } => Some((*top, apps.contacts.len())),
            Screen::Notes { top } => Some((*top, apps.notes.len())),
            Screen::Clock { top } => Some((*top, apps.alarms.len())),
            Screen::Messages { top } => Some((*top, apps.messages.len())),
            _ => None,
        }
    }

    /// The focused text field's content, if a field is focused.
    pub fn focused_field(&mut self) -> Option<&mut String> {
        match self {
            Screen::ContactEdit {
                name, phone, focus, ..
            } => match focus {
                Some(0) => Some(name),
                Some(_) => Some(phone),
                None => None,
            },
            Screen::NoteEdit {
                title, body, focus, ..
            } => match focus {
                Some(0) => Some(title),
                Some(_) => Some(body),
                None => None,
            },
            Screen::Compose { to, body, focus } => match focus {
                Some(0) => Some(to),
                Some(_) => Some(body),
                None => None,
            },
            _ => None,
        }
    }

    /// The elements shown, in order (at most [`MAX_ELEMENTS`]).
    pub fn elements(&self, apps: &Apps) -> Vec<Element> {
        match self {
            Screen::Home => App::ALL
                .iter()
                .map(|a| el(Role::App, vec![fixed(a.word())], Target::Open(*a)))
                .collect(),
            Screen::Settings => {
                let s = &apps.settings;
                let mut v: Vec<Element> = Setting::ALL
                    .iter()
                    .map(|t| Element {
                        state: onoff(s.get(*t)),
                        ..el(Role::Toggle, vec![fixed(t.word())], Target::Toggle(*t))
                    })
                    .collect();
                v.push(label(vec![
                    fixed("brightness"),
                    Word::Fixed(crate::vocab::level_id(s.brightness)),
                ]));
                v.push(button(
                    &["brightness", "minus"],
                    Target::BrightnessDown,
                    s.brightness > 0,
                ));
                v.push(button(
                    &["brightness", "plus"],
                    Target::BrightnessUp,
                    s.brightness < MAX_BRIGHTNESS,
                ));
                v
            }
            Screen::Contacts { top } => {
                let mut v = vec![button(&["add", "contact"], Target::Add, true)];
                v.extend(rows(*top, apps.contacts.len()).map(|i| {
                    el(
                        Role::Item,
                        vec![Word::Text(apps.contacts[i].name.clone())],
                        Target::Row(i),
                    )
                }));
                v
            }
            Screen::Contact { idx } => {
                let c = &apps.contacts[*idx];
                vec![
                    label(vec![fixed("name"), Word::Text(c.name.clone())]),
                    label(vec![fixed("phone"), Word::Text(c.phone.clone())]),
                    button(&["edit"], Target::Edit, true),
                    button(&["message"], Target::MessageContact, true),
                    button(&["delete"], Target::Delete, true),
                ]
            }
            Screen::ContactEdit {
                editing,
                name,
                phone,
                focus,
            } => {
                let clash = apps.contact(name).is_some_and(|i| Some(i) != *editing);
                vec![
                    field("name", name, 0, *focus),
                    field("phone", phone, 1, *focus),
                    button(
                        &["save"],
                        Target::Save,
                        !name.is_empty() && !phone.is_empty() && !clash,
                    ),
                    button(&["cancel"], Target::Cancel, true),
                ]
            }
            Screen::Notes { top } => {
                let mut v = vec![button(&["new", "note"], Target::Add, true)];
                v.extend(rows(*top, apps.notes.len()).map(|i| {
                    el(
                        Role::Item,
                        vec![Word::Text(apps.notes[i].title.clone())],
                        Target::Row(i),
                    )
                }));
                v
            }
            Screen::Note { idx } => {
                let n = &apps.notes[*idx];
                vec![
                    label(vec![fixed("title"), Word::Text(n.title.clone())]),
                    label(vec![fixed("body"), Word::Text(n.body.clone())]),
                    button(&["edit"], Target::Edit, true),
                    button(&["delete"], Target::Delete, true),
                ]
            }
            Screen::NoteEdit {
                editing,
                title,
                body,
                focus,
            } => {
                let clash = apps.note(title).is_some_and(|i| Some(i) != *editing);
                vec![
                    field("title", title, 0, *focus),
                    field("body", body, 1, *focus),
                    button(
                        &["save"],
                        Target::Save,
                        !title.is_empty() && !body.is_empty() && !clash,
                    ),
                    button(&["cancel"], Target::Cancel, true),
                ]
            }
            Screen::Clock { top } => {
                let mut v = vec![button(&["add", "alarm"], Target::Add, true)];
                v.extend(rows(*top, apps.alarms.len()).map(|i| {
                    let a = apps.alarms[i];
                    Element {
                        state: onoff(a.enabled),
                        ..el(Role::Item, time_words(a.hour, a.minute), Target::Row(i))
                    }
                }));
                v
            }
            Screen::Alarm { idx } => {
                let a = apps.alarms[*idx];
                vec![
                    label(time_words(a.hour, a.minute)),
                    Element {
                        state: onoff(a.enabled),
                        ..el(Role::Toggle, vec![fixed("enabled")], Target::AlarmToggle)
                    },
                    button(&["edit"], Target::Edit, true),
                    button(&["delete"], Target::Delete, true),
                ]
            }
            Screen::AlarmEdit {
                editing,
                hour,
                minute,
            } => {
                let clash = apps
                    .alarm(*hour, *minute)
                    .is_some_and(|i| Some(i) != *editing);
                vec![
                    label(vec![
                        fixed("hour"),
                        Word::Fixed(crate::vocab::hour_id(*hour)),
                    ]),
                    button(&["hour", "minus"], Target::HourDown, true),
                    button(&["hour", "plus"], Target::HourUp, true),
                    label(vec![
                        fixed("minute"),
                        Word::Fixed(crate::vocab::minute_id(*minute)),
                    ]),
                    button(&["minute", "minus"], Target::MinuteDown, true),
                    button(&["minute", "plus"], Target::MinuteUp, true),
                    button(&["save"], Target::Save, !clash),
                    button(&["cancel"], Target::Cancel, true),
                ]
            }
            Screen::Messages { top } => {
                let mut v = vec![button(&["compose"], Target::Add, true)];
                v.extend(rows(*top, apps.messages.len()).map(|i| {
                    let m = &apps.messages[i];
                    el(
                        Role::Item,
                        vec![Word::Text(m.to.clone()), Word::Text(m.body.clone())],
                        Target::Row(i),
                    )
                }));
                v
            }
            Screen::Message { idx } => {
                let m = &apps.messages[*idx];
                vec![
                    label(vec![fixed("to"), Word::Text(m.to.clone())]),
                    label(vec![fixed("body"), Word::Text(m.body.clone())]),
                ]
            }
            Screen::Compose { to, body, focus } => vec![
                field("to", to, 0, *focus),
                field("message", body, 1, *focus),
                button(&["send"], Target::Save, !to.is_empty() && !body.is_empty()),
                button(&["cancel"], Target::Cancel, true),
            ],
        }
    }

    /// The screen `back` leads to.
    pub fn back(&self, apps: &Apps) -> Screen {
        let top_for = |idx: usize| idx - idx % LIST_ROWS;
        match self {
            Screen::Home
            | Screen::Settings
            | Screen::Contacts { .. }
            | Screen::Notes { .. }
            | Screen::Clock { .. }
            | Screen::Messages { .. } => Screen::Home,
            Screen::Contact { idx } => Screen::Contacts { top: top_for(*idx) },
            Screen::ContactEdit { editing, .. } => match editing {
                Some(i) => Screen::Contact { idx: *i },
                None => Screen::Contacts { top: 0 },
            },
            Screen::Note { idx } => Screen::Notes { top: top_for(*idx) },
            Screen::NoteEdit { editing, .. } => match editing {
                Some(i) => Screen::Note { idx: *i },
                None => Screen::Notes { top: 0 },
            },
            Screen::Alarm { idx } => Screen::Clock { top: top_for(*idx) },
            Screen::AlarmEdit { editing, .. } => match editing {
                Some(i) => Screen::Alarm { idx: *i },
                None => Screen::Clock { top: 0 },
            },
            Screen::Message { idx } => Screen::Messages { top: top_for(*idx) },
            Screen::Compose { .. } => Screen::Messages {
                top: apps.messages.len().saturating_sub(1) / LIST_ROWS * LIST_ROWS,
            },
        }
    }

    /// Apply a click on an element with `target`; returns the next screen.
    /// `apps` is updated for saves, deletes and toggles.
    pub fn click(&self, target: Target, apps: &mut Apps) -> Screen {
        use Target as T;
        let wrap = |v: i32, n: i32| v.rem_euclid(n) as u8;
        match (self, target) {
            (_, T::Nothing) => self.clone(),
            (_, T::Open(app)) => match app {
                App::Settings => Screen::Settings,
                App::Contacts => Screen::Contacts { top: 0 },
                App::Notes => Screen::Notes { top: 0 },
                App::Clock => Screen::Clock { top: 0 },
                App::Messages => Screen::Messages { top: 0 },
            },
            (_, T::Toggle(s)) => {
                let on = apps.settings.get(s);
                apps.settings.set(s, !on);
                self.clone()
            }
            (_, T::BrightnessDown) => {
                apps.settings.brightness = apps.settings.brightness.saturating_sub(1);
                self.clone()
            }
            (_, T::BrightnessUp) => {
                apps.settings.brightness = (apps.settings.brightness + 1).min(MAX_BRIGHTNESS);
                self.clone()
            }
            (Screen::Contacts { .. }, T::Add) => Screen::ContactEdit {
                editing: None,
                name: String::new(),
                phone: String::new(),
                focus: None,
            },
            (Screen::Notes { .. }, T::Add) => Screen::NoteEdit {
                editing: None,
                title: String::new(),
                body: String::new(),
                focus: None,
            },
            (Screen::Clock { .. }, T::Add) => Screen::AlarmEdit {
                editing: None,
                hour: NEW_ALARM.0,
                minute: NEW_ALARM.1,
            },
            (Screen::Messages { .. }, T::Add) => Screen::Compose {
                to: String::new(),
                body: String::new(),
                focus: None,
            },
            (Screen::Contacts { .. }, T::Row(i)) => Screen::Contact { idx: i },
            (Screen::Notes { .. }, T::Row(i)) => Screen::Note { idx: i },
            (Screen::Clock { .. }, T::Row(i)) => Screen::Alarm { idx: i },
            (Screen::Messages { .. }, T::Row(i)) => Screen::Message { idx: i },
            (Screen::Contact { idx }, T::Edit) => {
                let c = &apps.contacts[*idx];
                Screen::ContactEdit {
                    editing: Some(*idx),
                    name: c.name.clone(),
                    phone: c.phone.clone(),
                    focus: None,
                }
            }
            (Screen::Note { idx }, T::Edit) => {
                let n = &apps.notes[*idx];
                Screen::NoteEdit {
                    editing: Some(*idx),
                    title: n.title.clone(),
                    body: n.body.clone(),
                    focus: None,
                }
            }
            (Screen::Alarm { idx }, T::Edit) => {
                let a = apps.alarms[*idx];
                Screen::AlarmEdit {
                    editing: Some(*idx),
                    hour: a.hour,
                    minute: a.minute,
                }
            }
            (Screen::Contact { idx }, T::Delete) => {
                apps.contacts.remove(*idx);
                Screen::Contacts { top: 0 }
            }
            (Screen::Note { idx }, T::Delete) => {
                apps.notes.remove(*idx);
                Screen::Notes { top: 0 }
            }
            (Screen::Alarm { idx }, T::Delete) => {
                apps.alarms.remove(*idx);
                Screen::Clock { top: 0 }
            }
            (Screen::Alarm { idx }, T::AlarmToggle) => {
                apps.alarms[*idx].enabled = !apps.alarms[*idx].enabled;
                self.clone()
            }
            (Screen::Contact { idx }, T::MessageContact) => Screen::Compose {
                to: apps.contacts[*idx].name.clone(),
                body: String::new(),
                focus: None,
            },
            (
                Screen::ContactEdit {
                    editing,
                    name,
                    phone,
                    ..
                },
                T::Field(f),
            ) => Screen::ContactEdit {
                editing: *editing,
                name: name.clone(),
                phone: phone.clone(),
                focus: Some(f),
            },
            (
                Screen::NoteEdit {
                    editing,
                    title,
                    body,
                    ..
                },
                T::Field(f),
            ) => Screen::NoteEdit {
                editing: *editing,
                title: title.clone(),
                body: body.clone(),
                focus: Some(f),
            },
            (Screen::Compose { to, body, .. }, T::Field(f)) => Screen::Compose {
                to: to.clone(),
                body: body.clone(),
                focus: Some(f),
            },
            (
                Screen::AlarmEdit {
                    editing,
                    hour,
                    minute,
                },
                t @ (T::HourDown | T::HourUp | T::MinuteDown | T::MinuteUp),
            ) => {
                let (h, m) = (i32::from(*hour), i32::from(*minute));
                let step = i32::from(MINUTE_STEP);
                let (hour, minute) = match t {
                    T::HourDown => (wrap(h - 1, 24), *minute),
                    T::HourUp => (wrap(h + 1, 24), *minute),
                    T::MinuteDown => (*hour, wrap(m - step, 60)),
                    _ => (*hour, wrap(m + step, 60)),
                };
                Screen::AlarmEdit {
                    editing: *editing,
                    hour,
                    minute,
                }
            }
            (
                Screen::ContactEdit {
                    editing,
                    name,
                    phone,
                    ..
                },
                T::Save,
            ) => {
                if let Some(i) = editing {
                    apps.contacts.remove(*i);
                }
                let idx = apps.insert_contact(Contact {
                    name: name.clone(),
                    phone: phone.clone(),
                });
                Screen::Contact { idx }
            }
            (
                Screen::NoteEdit {
                    editing,
                    title,
                    body,
                    ..
                },
                T::Save,
            ) => {
                let note = Note {
                    title: title.clone(),
                    body: body.clone(),
                };
                let idx = match editing {
                    Some(i) => {
                        apps.notes[*i] = note;
                        *i
                    }
                    None => {
                        apps.notes.push(note);
                        apps.notes.len() - 1
                    }
                };
                Screen::Note { idx }
            }
            (
                Screen::AlarmEdit {
                    editing,
                    hour,
                    minute,
                },
                T::Save,
            ) => {
                let enabled = match editing {
                    Some(i) => apps.alarms.remove(*i).enabled,
                    None => true,
                };
                let idx = apps.insert_alarm(Alarm {
                    hour: *hour,
                    minute: *minute,
                    enabled,
                });
                Screen::Alarm { idx }
            }
            (Screen::Compose { to, body, .. }, T::Save) => {
                apps.messages.push(Message {
                    to: to.clone(),
                    body: body.clone(),
                });
                Screen::Messages {
                    top: (apps.messages.len() - 1) / LIST_ROWS * LIST_ROWS,
                }
            }
            (_, T::Cancel) => self.back(apps),
            // Targets only appear on the screens handled above.
            _ => self.clone(),
        }
    }
}

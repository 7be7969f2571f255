//! The phone's app data — what tasks change and what the reward checker judges.

use serde::{Deserialize, Serialize};

/// The apps on the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum App {
    /// System settings.
    Settings,
    /// Address book.
    Contacts,
    /// Note taking.
    Notes,
    /// Alarms.
    Clock,
    /// SMS.
    Messages,
}

impl App {
    /// Every app, in home-screen order.
    pub const ALL: [App; 5] = [
        App::Settings,
        App::Contacts,
        App::Notes,
        App::Clock,
        App::Messages,
    ];

    /// Lower-case name (also its vocabulary word).
    pub fn word(self) -> &'static str {
        match self {
            App::Settings => "settings",
            App::Contacts => "contacts",
            App::Notes => "notes",
            App::Clock => "clock",
            App::Messages => "messages",
        }
    }
}

/// An on/off system setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Setting {
    /// Wi-Fi radio.
    Wifi,
    /// Bluetooth radio.
    Bluetooth,
    /// Airplane mode.
    Airplane,
    /// Dark theme.
    DarkMode,
    /// Location services.
    Location,
}

impl Setting {
    /// Every toggle, in the order the settings screen lists them.
    pub const ALL: [Setting; 5] = [
        Setting::Wifi,
        Setting::Bluetooth,
        Setting::Airplane,
        Setting::DarkMode,
        Setting::Location,
    ];

    /// Vocabulary word.
    pub fn word(self) -> &'static str {
        match self {
            Setting::Wifi => "wifi",
            Setting::Bluetooth => "bluetooth",
            Setting::Airplane => "airplane",
            Setting::DarkMode => "dark-mode",
            Setting::Location => "location",
        }
    }

    /// Display label.
    pub fn label(self) -> &'static str {
        match self {
            Setting::Wifi => "Wi-Fi",
            Setting::Bluetooth => "Bluetooth",
            Setting::Airplane => "Airplane mode",
            Setting::DarkMode => "Dark mode",
            Setting::Location => "Location",
        }
    }
}

/// Highest brightness level (levels are `0..=MAX_BRIGHTNESS`).
pub const MAX_BRIGHTNESS: u8 = 4;

/// System settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Wi-Fi on.
    pub wifi: bool,
    /// Bluetooth on.
    pub bluetooth: bool,
    /// Airplane mode on.
    pub airplane: bool,
    /// Dark mode on.
    pub dark_mode: bool,
    /// Location on.
    pub location: bool,
    /// Screen brightness, `0..=MAX_BRIGHTNESS`.
    pub brightness: u8,
}

impl Settings {
    /// Value of a toggle.
    pub fn get(&self, s: Setting) -> bool {
        match s {
            Setting::Wifi => self.wifi,
            Setting::Bluetooth => self.bluetooth,
            Setting::Airplane => self.airplane,
            Setting::DarkMode => self.dark_mode,
            Setting::Location => self.location,
        }
    }

    /// Set a toggle.
    pub fn set(&mut self, s: Setting, on: bool) {
        match s {
            Setting::Wifi => self.wifi = on,
            Setting::Bluetooth => self.bluetooth = on,
            Setting::Airplane => self.airplane = on,
            Setting::DarkMode => self.dark_mode = on,
            Setting::Location => self.location = on,
        }
    }
}

/// An address-book entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Display name (unique).
    pub name: String,
    /// Phone number.
    pub phone: String,
}

/// A note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Title (unique).
    pub title: String,
    /// Body text.
    pub body: String,
}

/// An alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alarm {
    /// Hour, 0..24.
    pub hour: u8,
    /// Minute: 0, 15, 30 or 45.
    pub minute: u8,
    /// Whether it will ring.
    pub enabled: bool,
}

/// A sent SMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Recipient (a contact name).
    pub to: String,
    /// Text.
    pub body: String,
}

/// All app data on the phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Apps {
    /// System settings.
    pub settings: Settings,
    /// Contacts, kept sorted by name.
    pub contacts: Vec<Contact>,
    /// Notes, in creation order.
    pub notes: Vec<Note>,
    /// Alarms, kept sorted by time.
    pub alarms: Vec<Alarm>,
    /// Sent messages, oldest first.
    pub messages: Vec<Message>,
}

impl Apps {
    /// Insert a contact keeping the list sorted; returns its index.
    pub fn insert_contact(&mut self, c: Contact) -> usize {
        let i = self.contacts.partition_point(|x| x.name < c.name);
        self.contacts.insert(i, c);
        i
    }

    /// Insert an alarm keeping the list sorted by time; returns its index.
    pub fn insert_alarm(&mut self, a: Alarm) -> usize {
        let key = |x: &Alarm| (x.hour, x.minute);
        let i = self.alarms.partition_point(|x| key(x) < key(&a));
        self.alarms.insert(i, a);
        i
    }

    /// Index of the contact named `name`.
    pub fn contact(&self, name: &str) -> Option<usize> {
        self.contacts.iter().position(|c| c.name == name)
    }

    /// Index of the note titled `title`.
    pub fn note(&self, title: &str) -> Option<usize> {
        self.notes.iter().position(|n| n.title == title)
    }

    /// Index of the alarm at `hour:minute`.
    pub fn alarm(&self, hour: u8, minute: u8) -> Option<usize> {
        self.alarms
            .iter()
            .position(|a| a.hour == hour && a.minute == minute)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> Apps {
        Apps {
            settings: Settings {
                wifi: false,
                bluetooth: false,
                airplane: false,
                dark_mode: false,
                location: false,
                brightness: 2,
            },
            contacts: vec![],
            notes: vec![],
            alarms: vec![],
            messages: vec![],
        }
    }

    #[test]
    fn contacts_and_alarms_stay_sorted() {
        let mut a = empty();
        for n in ["Mia", "Ada", "Zoe", "Ben"] {
            a.insert_contact(Contact {
                name: n.into(),
                phone: "1".into(),
            });
        }
        let names: Vec<&str> = a.contacts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Ada", "Ben", "Mia", "Zoe"]);
        for (h, m) in [(9, 30), (6, 0), (9, 15)] {
            a.insert_alarm(Alarm {
                hour: h,
                minute: m,
                enabled: true,
            });
        }
        let times: Vec<(u8, u8)> = a.alarms.iter().map(|x| (x.hour, x.minute)).collect();
        assert_eq!(times, [(6, 0), (9, 15), (9, 30)]);
        assert_eq!(a.alarm(9, 15), Some(1));
    }
}

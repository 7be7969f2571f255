//! The fixed token vocabulary uisim declares: every observation is token ids below
//! [`vocab_size`]. Names and free text never enter the vocabulary; they are shown as
//! references to the task's text slots (`<slot0>`...) or as `<other>`/`<empty>`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// Padding token (id 0).
pub const PAD: &str = "<pad>";

/// Words of the instructions and screens (besides the generated families below).
const WORDS: &[&str] = &[
    // references to text
    "<empty>",
    "<other>",
    "<slot0>",
    "<slot1>",
    "<slot2>",
    "<slot3>",
    // scroll markers
    "more-above",
    "more-below",
    // element roles
    "r:app",
    "r:toggle",
    "r:button",
    "r:field",
    "r:item",
    "r:label",
    // element states
    "on",
    "off",
    "focused",
    // screens
    "s:home",
    "s:settings",
    "s:contacts",
    "s:contact",
    "s:contact-edit",
    "s:notes",
    "s:note",
    "s:note-edit",
    "s:clock",
    "s:alarm",
    "s:alarm-edit",
    "s:messages",
    "s:message",
    "s:compose",
    // apps and settings
    "settings",
    "contacts",
    "notes",
    "clock",
    "messages",
    "wifi",
    "bluetooth",
    "airplane",
    "dark-mode",
    "location",
    "brightness",
    // buttons and fields
    "add",
    "new",
    "save",
    "cancel",
    "edit",
    "delete",
    "message",
    "send",
    "compose",
    "minus",
    "plus",
    "hour",
    "minute",
    "name",
    "phone",
    "title",
    "body",
    "to",
    "time",
    "enabled",
    // instruction words
    "open",
    "the",
    "app",
    "turn",
    "set",
    "max",
    "min",
    "and",
    "contact",
    "note",
    "titled",
    "with",
    "number",
    "create",
    "a",
    "text",
    "alarm",
    "for",
    "change",
    "of",
    "move",
    "from",
    "then",
    "go",
    "home",
    "card",
    "their",
    "at",
    "saying",
    "replace",
    "by",
    "sms",
    "mode",
    "alarms",
    "two",
    "both",
    "an",
];

/// Every token, index = id.
pub fn vocab() -> &'static [String] {
    &tables().0
}

/// Number of tokens.
pub fn vocab_size() -> u32 {
    vocab().len() as u32
}

/// Id of `word`; panics on a word outside the vocabulary (a bug in the suite).
pub fn id(word: &str) -> u32 {
    match tables().1.get(word) {
        Some(&i) => i,
        None => panic!("uisim: `{word}` is not in the vocabulary"),
    }
}

/// Whether `word` is in the vocabulary.
pub fn contains(word: &str) -> bool {
    tables().1.contains_key(word)
}

/// Id of the token of hour `h` (0..24).
pub fn hour_id(h: u8) -> u32 {
    tables().2.hour + u32::from(h)
}

/// Id of the token of minute `m` (0, 15, 30, 45).
pub fn minute_id(m: u8) -> u32 {
    tables().2.minute + u32::from(m / 15)
}

/// Id of the token of brightness level `b`.
pub fn level_id(b: u8) -> u32 {
    tables().2.level + u32::from(b)
}

/// Id of the token of text slot `j` (0..4).
pub fn slot_id(j: usize) -> u32 {
    tables().2.slot + j as u32
}

/// Token for an hour 0..24.
pub fn hour(h: u8) -> String {
    format!("h{h}")
}

/// Token for a minute (0, 15, 30, 45).
pub fn minute(m: u8) -> String {
    format!("m{m}")
}

/// Token for a brightness level.
pub fn level(b: u8) -> String {
    format!("b{b}")
}

/// Token for text slot `j`.
pub fn slot(j: usize) -> String {
    format!("<slot{j}>")
}

/// FNV-1a: the vocabulary is looked up on every observation, and SipHash is slow.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
        self.0 = h;
    }
}

type Map = HashMap<String, u32, BuildHasherDefault<Fnv>>;

/// First ids of the generated token families (they are contiguous).
struct Bases {
    hour: u32,
    minute: u32,
    level: u32,
    slot: u32,
}

fn tables() -> &'static (Vec<String>, Map, Bases) {
    static T: OnceLock<(Vec<String>, Map, Bases)> = OnceLock::new();
    T.get_or_init(|| {
        let mut v: Vec<String> = vec![PAD.to_owned()];
        v.extend(WORDS.iter().map(|w| (*w).to_owned()));
        v.extend((0..24).map(hour));
        v.extend([0, 15, 30, 45].map(minute));
        v.extend((0..=crate::apps::MAX_BRIGHTNESS).map(level));
        let map: Map = v
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        let bases = Bases {
            hour: map[&hour(0)],
            minute: map[&minute(0)],
            level: map[&level(0)],
            slot: map[&slot(0)],
        };
        (v, map, bases)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_is_unique_and_pad_is_zero() {
        let v = vocab();
        let mut d = v.to_vec();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), v.len(), "duplicate tokens");
        assert_eq!(id(PAD), 0);
        assert_eq!(vocab()[id("h7") as usize], "h7");
        assert!(contains("<slot3>") && !contains("Ada"));
        for h in 0..24 {
            assert_eq!(vocab()[hour_id(h) as usize], hour(h));
        }
        for m in [0, 15, 30, 45] {
            assert_eq!(vocab()[minute_id(m) as usize], minute(m));
        }
        for b in 0..=crate::apps::MAX_BRIGHTNESS {
            assert_eq!(vocab()[level_id(b) as usize], level(b));
        }
        for j in 0..4 {
            assert_eq!(vocab()[slot_id(j) as usize], slot(j));
        }
    }
}

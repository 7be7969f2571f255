//! The fixed token vocabulary uisim declares: every observation is token ids below
//! [`vocab_size`]. Names and free text never enter the vocabulary; they are shown as
//! references to the task's text slots (`<slot0>`...) or as `<other>`/`<empty>`.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Padding token (id 0).
pub const PAD: &str = "<pad>";

/// Words of the instructions and screens (besides the generated families below).
const WORDS: &[&str] = &[
    // references to text
    "<empty>", "<other>", "<slot0>", "<slot1>", "<slot2>", "<slot3>",
    // scroll markers
    "more-above", "more-below",
    // element roles
    "r:app", "r:toggle", "r:button", "r:field", "r:item", "r:label",
    // element states
    "on", "off", "focused",
    // screens
    "s:home", "s:settings", "s:contacts", "s:contact", "s:contact-edit", "s:notes", "s:note",
    "s:note-edit", "s:clock", "s:alarm", "s:alarm-edit", "s:messages", "s:message", "s:compose",
    // apps and settings
    "settings", "contacts", "notes", "clock", "messages", "wifi", "bluetooth", "airplane",
    "dark-mode", "location", "brightness",
    // buttons and fields
    "add", "new", "save", "cancel", "edit", "delete", "message", "send", "compose", "minus",
    "plus", "hour", "minute", "name", "phone", "title", "body", "to", "time", "enabled",
    // instruction words
    "open", "the", "app", "turn", "set", "max", "min", "and", "contact", "note", "titled",
    "with", "number", "create", "a", "text", "alarm", "for", "change", "of", "move", "from",
    "then", "go", "home", "card", "their", "at", "saying", "replace", "by", "sms", "mode",
    "alarms", "two", "both", "an",
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

fn tables() -> &'static (Vec<String>, HashMap<String, u32>) {
    static T: OnceLock<(Vec<String>, HashMap<String, u32>)> = OnceLock::new();
    T.get_or_init(|| {
        let mut v: Vec<String> = vec![PAD.to_owned()];
        v.extend(WORDS.iter().map(|w| (*w).to_owned()));
        v.extend((0..24).map(hour));
        v.extend([0, 15, 30, 45].map(minute));
        v.extend((0..=crate::apps::MAX_BRIGHTNESS).map(level));
        let map = v
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        (v, map)
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
    }
}

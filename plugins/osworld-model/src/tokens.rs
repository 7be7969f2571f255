//! The token encoding of an observation: a fixed vocabulary (roles, hashed word
//! buckets, coarse position and size bins) and a fixed layout — the instruction's
//! words, then K element slots of 10 tokens each.
//!
//! Layout (length `INSTRUCTION_TOKENS + K * ELEMENT_TOKENS`, padded with `<pad>`):
//! - `INSTRUCTION_TOKENS` word buckets of the instruction (first words first);
//! - per element slot: role, 3 name word buckets, 2 text word buckets, x bin, y bin,
//!   width bin, height bin (an empty slot is all `<pad>`; a missing word is `<none>`).

use crate::a11y::Element;

/// Tokens of the instruction.
pub const INSTRUCTION_TOKENS: usize = 32;
/// Tokens per element slot.
pub const ELEMENT_TOKENS: usize = 10;
/// Word buckets (FNV-1a of the lower-cased word, modulo this).
pub const WORD_BUCKETS: u32 = 256;
/// Horizontal and vertical position bins.
pub const POS_BINS: u32 = 16;
/// Size bins: < 16, < 32, < 64, < 128, < 256, < 512, < 1024, ≥ 1024 pixels.
pub const SIZE_BINS: u32 = 8;

/// Roles with their own token (others are `<role?>`).
pub const ROLES: &[&str] = &[
    "push-button",
    "toggle-button",
    "radio-button",
    "check-box",
    "combo-box",
    "menu",
    "menu-item",
    "check-menu-item",
    "radio-menu-item",
    "menu-bar",
    "list-item",
    "tree-item",
    "table-cell",
    "page-tab",
    "entry",
    "password-text",
    "text",
    "terminal",
    "label",
    "heading",
    "paragraph",
    "link",
    "icon",
    "image",
    "canvas",
    "scroll-bar",
    "slider",
    "spin-button",
    "section",
    "static",
    "alert",
    "document-web",
    "document-frame",
    "document-text",
    "document-spreadsheet",
    "document-presentation",
    "textfield",
    "textarea",
    "textbox",
    "searchbox",
    "tool-bar",
    "status-bar",
    "notification",
];

const PAD: u32 = 0;
const NONE: u32 = 1;
const UNKNOWN_ROLE: u32 = 2;
const FIRST_ROLE: u32 = 3;

fn first_word() -> u32 {
    FIRST_ROLE + ROLES.len() as u32
}
fn first_x() -> u32 {
    first_word() + WORD_BUCKETS
}
fn first_y() -> u32 {
    first_x() + POS_BINS
}
fn first_w() -> u32 {
    first_y() + POS_BINS
}
fn first_h() -> u32 {
    first_w() + SIZE_BINS
}

/// The vocabulary size.
pub fn vocab_size() -> u32 {
    first_h() + SIZE_BINS
}

/// The token strings, index = id.
pub fn vocab() -> Vec<String> {
    let mut v = vec!["<pad>".to_owned(), "<none>".into(), "<role?>".into()];
    v.extend(ROLES.iter().map(|r| format!("role:{r}")));
    v.extend((0..WORD_BUCKETS).map(|i| format!("word:{i}")));
    v.extend((0..POS_BINS).map(|i| format!("x:{i}")));
    v.extend((0..POS_BINS).map(|i| format!("y:{i}")));
    v.extend((0..SIZE_BINS).map(|i| format!("w:{i}")));
    v.extend((0..SIZE_BINS).map(|i| format!("h:{i}")));
    v
}

/// The token count of an observation with `k` element slots.
pub fn max_tokens(k: usize) -> usize {
    INSTRUCTION_TOKENS + k * ELEMENT_TOKENS
}

/// FNV-1a (32 bit).
fn fnv1a(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The words of a string: alphanumeric runs, lower-cased.
pub fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The token of one word.
pub fn word_token(w: &str) -> u32 {
    first_word() + fnv1a(w) % WORD_BUCKETS
}

fn role_token(role: &str) -> u32 {
    ROLES
        .iter()
        .position(|r| *r == role)
        .map_or(UNKNOWN_ROLE, |i| FIRST_ROLE + i as u32)
}

fn pos_bin(v: i64, extent: u32) -> u32 {
    let b = (v.max(0) as u64 * u64::from(POS_BINS)) / u64::from(extent.max(1));
    (b as u32).min(POS_BINS - 1)
}

fn size_bin(v: i64) -> u32 {
    let mut b = 0;
    let mut limit = 16;
    while b < SIZE_BINS - 1 && v >= limit {
        b += 1;
        limit *= 2;
    }
    b
}

fn word_slots(s: &str, n: usize) -> impl Iterator<Item = u32> {
    let w = words(s);
    (0..n).map(move |i| w.get(i).map_or(NONE, |w| word_token(w)))
}

/// Encode an observation: the instruction and the first `k` elements on a
/// `screen_w` × `screen_h` screen.
pub fn encode(
    instruction: &str,
    elements: &[Element],
    k: usize,
    screen_w: u32,
    screen_h: u32,
) -> Vec<u32> {
    let mut out = Vec::with_capacity(max_tokens(k));
    let iw = words(instruction);
    out.extend((0..INSTRUCTION_TOKENS).map(|i| iw.get(i).map_or(PAD, |w| word_token(w))));
    for slot in 0..k {
        match elements.get(slot) {
            None => out.extend(std::iter::repeat_n(PAD, ELEMENT_TOKENS)),
            Some(e) => {
                out.push(role_token(&e.role));
                out.extend(word_slots(&e.name, 3));
                out.extend(word_slots(&e.text, 2));
                out.push(first_x() + pos_bin(e.x, screen_w));
                out.push(first_y() + pos_bin(e.y, screen_h));
                out.push(first_w() + size_bin(e.w));
                out.push(first_h() + size_bin(e.h));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(role: &str, name: &str, x: i64, w: i64) -> Element {
        Element {
            role: role.into(),
            name: name.into(),
            text: "hello world".into(),
            x,
            y: 1079,
            w,
            h: 20,
        }
    }

    #[test]
    fn vocab_strings_are_unique_and_sized() {
        let v = vocab();
        assert_eq!(v.len() as u32, vocab_size());
        let set: std::collections::HashSet<_> = v.iter().collect();
        assert_eq!(set.len(), v.len());
    }

    #[test]
    fn layout_is_fixed_and_in_vocabulary() {
        let els = vec![
            el("push-button", "Save As", 0, 100),
            el("weird-role", "", 1919, 5000),
        ];
        let t = encode("Save the file \"a.txt\" please", &els, 4, 1920, 1080);
        assert_eq!(t.len(), max_tokens(4));
        assert!(t.iter().all(|&x| x < vocab_size()));
        let v = vocab();
        let e0 = &t[INSTRUCTION_TOKENS..INSTRUCTION_TOKENS + ELEMENT_TOKENS];
        assert_eq!(v[e0[0] as usize], "role:push-button");
        assert_eq!(e0[1], word_token("save"));
        assert_eq!(e0[2], word_token("as"));
        assert_eq!(v[e0[3] as usize], "<none>");
        assert_eq!(e0[4], word_token("hello"));
        assert_eq!(v[e0[6] as usize], "x:0");
        assert_eq!(v[e0[7] as usize], "y:15");
        assert_eq!(v[e0[8] as usize], "w:3");
        assert_eq!(v[e0[9] as usize], "h:1");
        let e1 = &t[INSTRUCTION_TOKENS + ELEMENT_TOKENS..INSTRUCTION_TOKENS + 2 * ELEMENT_TOKENS];
        assert_eq!(v[e1[0] as usize], "<role?>");
        assert_eq!(v[e1[6] as usize], "x:15");
        assert_eq!(v[e1[8] as usize], "w:7");
        assert!(
            t[INSTRUCTION_TOKENS + 2 * ELEMENT_TOKENS..]
                .iter()
                .all(|&x| x == 0)
        );
        assert_eq!(t[0], word_token("save"));
        assert_ne!(t[5], 0);
        assert_eq!(t[6], 0, "instruction padding");
    }

    #[test]
    fn words_are_case_insensitive() {
        assert_eq!(words("Hello, WORLD-2"), vec!["hello", "world", "2"]);
        assert_eq!(
            word_token("Hello".to_lowercase().as_str()),
            word_token("hello")
        );
    }
}

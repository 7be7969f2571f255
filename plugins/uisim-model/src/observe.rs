//! Turning the current screen into an observation: fixed-layout token ids, a text
//! rendering, and the valid-action mask.

use sim_kit::Obs;

use crate::sim::Episode;
use crate::tasks::MAX_INSTRUCTION_TOKENS;
use crate::ui::{Element, MAX_ELEMENTS, Word};
use crate::vocab;

/// Tokens describing one element: role, two label words, state, value, padding.
pub const TOKENS_PER_ELEMENT: usize = 6;
/// Offset of the screen header (screen, more-above, more-below, padding).
const HEADER: usize = MAX_INSTRUCTION_TOKENS;
/// Offset of the first element.
const ELEMENTS: usize = HEADER + 4;
/// Length of every observation's token list.
pub const OBS_TOKENS: usize = ELEMENTS + MAX_ELEMENTS * TOKENS_PER_ELEMENT;

/// How free text shows up as a token: a slot reference, `<empty>` or `<other>`.
fn text_token(text: &str, slots: &[String]) -> u32 {
    if text.is_empty() {
        return vocab::id("<empty>");
    }
    match slots.iter().position(|s| s == text) {
        Some(j) => vocab::slot_id(j),
        None => vocab::id("<other>"),
    }
}

fn word_token(w: &Word, slots: &[String]) -> u32 {
    match w {
        Word::Fixed(id) => *id,
        Word::Text(t) => text_token(t, slots),
    }
}

fn word_text(w: &Word) -> String {
    match w {
        Word::Fixed(id) => vocab::vocab()[*id as usize].clone(),
        Word::Text(t) => format!("'{t}'"),
    }
}

impl Episode {
    /// Observe the current screen; `text`/`tokens` select the parts to build.
    pub fn observe(&self, text: bool, tokens: bool) -> Obs {
        let elements = self.elements();
        Obs {
            text: text.then(|| self.render_text(&elements)),
            tokens: tokens.then(|| self.render_tokens(&elements)),
            mask: self.mask(&elements),
        }
    }

    fn render_tokens(&self, elements: &[Element]) -> Vec<u32> {
        let slots = &self.instance().slots;
        let mut t = vec![0u32; OBS_TOKENS];
        let instr = &self.instance().instruction_tokens;
        t[..instr.len()].copy_from_slice(instr);
        t[HEADER] = vocab::id(self.screen().token());
        if let Some((top, len)) = self.screen().list(self.apps()) {
            if top > 0 {
                t[HEADER + 1] = vocab::id("more-above");
            }
            if top + crate::ui::LIST_ROWS < len {
                t[HEADER + 2] = vocab::id("more-below");
            }
        }
        for (k, e) in elements.iter().enumerate().take(MAX_ELEMENTS) {
            let o = ELEMENTS + k * TOKENS_PER_ELEMENT;
            t[o] = vocab::id(e.role.token());
            for (i, w) in e.words.iter().take(2).enumerate() {
                t[o + 1 + i] = word_token(w, slots);
            }
            if let Some(s) = e.state {
                t[o + 3] = vocab::id(s);
            }
            if let Some(v) = &e.value {
                t[o + 4] = text_token(v, slots);
            }
        }
        t
    }

    fn render_text(&self, elements: &[Element]) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "Task: {}", self.instance().instruction);
        let _ = write!(s, "Screen: {}", self.screen().describe(self.apps()));
        if let Some((top, len)) = self.screen().list(self.apps()) {
            let _ = write!(
                s,
                " (rows {}-{} of {len})",
                (top + 1).min(len),
                (top + crate::ui::LIST_ROWS).min(len)
            );
        }
        s.push('\n');
        // Each element is named by the action that clicks it, and each text slot by the
        // action that types it, so a reader of the text (a language model choosing
        // among the action labels) sees which label does what.
        for (j, t) in self.instance().slots.iter().enumerate() {
            let _ = writeln!(s, "type slot {j}: types '{t}'");
        }
        for (k, e) in elements.iter().enumerate() {
            let words: Vec<String> = e.words.iter().map(word_text).collect();
            let _ = write!(s, "click {k}: {} {}", &e.role.token()[2..], words.join(" "));
            if let Some(v) = &e.value {
                let _ = write!(s, ": '{v}'");
            }
            if let Some(st) = e.state {
                let _ = write!(s, " ({st})");
            }
            if !e.enabled && e.target != crate::ui::Target::Nothing {
                s.push_str(" (disabled)");
            }
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Act, N_ACTIONS};
    use sim_kit::SimAction;

    #[test]
    fn tokens_have_fixed_length_and_stay_in_vocabulary() {
        let mut ep = Episode::new("contacts.add", 5).unwrap();
        let o = ep.observe(true, true);
        let t = o.tokens.unwrap();
        assert_eq!(t.len(), OBS_TOKENS);
        assert!(t.iter().all(|&x| x < vocab::vocab_size()));
        assert_eq!(o.mask.len(), N_ACTIONS as usize);
        // Open contacts, press add: the form's fields show as empty.
        ep.step(Act::Click(1).index()).unwrap();
        ep.step(Act::Click(0).index()).unwrap();
        let t = ep.observe(false, true).tokens.unwrap();
        assert_eq!(t[HEADER], vocab::id("s:contact-edit"));
        assert_eq!(t[ELEMENTS + 4], vocab::id("<empty>"));
    }

    #[test]
    fn typed_slot_text_shows_as_the_slot_token() {
        let mut ep = Episode::new("contacts.add", 5).unwrap();
        for a in [Act::Click(1), Act::Click(0), Act::Click(0), Act::Type(0)] {
            ep.step(a.index()).unwrap();
        }
        let o = ep.observe(true, true);
        let t = o.tokens.unwrap();
        assert_eq!(t[ELEMENTS + 4], vocab::id("<slot0>"));
        assert_eq!(t[ELEMENTS + 3], vocab::id("focused"));
        let name = &ep.instance().slots[0];
        let text = o.text.unwrap();
        assert!(text.contains(&format!("click 0: field name: '{name}' (focused)")));
        // The slots are named by the action that types them.
        assert!(
            text.contains(&format!("type slot 0: types '{name}'")),
            "{text}"
        );
    }

    #[test]
    fn parts_not_asked_for_are_not_built() {
        let ep = Episode::new("open.notes", 0).unwrap();
        let o = ep.observe(false, false);
        assert!(o.text.is_none() && o.tokens.is_none());
        assert_eq!(o.mask.len(), N_ACTIONS as usize);
    }
}

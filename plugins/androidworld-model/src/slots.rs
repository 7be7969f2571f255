//! Text slots: the strings a discrete `input_text` action can type, taken from the
//! task's goal (quoted text, the text after a final colon, phone numbers, file names,
//! capitalized names, numbers) or from a fixed list in the config.

/// Up to `max` strings from `goal` that an agent is likely to need to type, in the
/// order they appear in the goal. Candidates, by precedence (a candidate overlapping
/// one of higher precedence is dropped):
///
/// 1. text in double quotes, or in single quotes that open after a space;
/// 2. the text after the last `": "` (e.g. "with message: Hello there");
/// 3. phone numbers (`+` and 7 or more digits, dashes allowed);
/// 4. file names (`name.ext`);
/// 5. runs of two or more capitalized words ("Grace Taylor"), not counting a
///    sentence's first word;
/// 6. numbers.
pub fn goal_slots(goal: &str, max: usize) -> Vec<String> {
    let mut taken: Vec<(usize, usize, String)> = Vec::new();
    let mut offer = |start: usize, end: usize, text: &str| {
        let text = text.trim();
        if text.is_empty() || taken.iter().any(|(a, b, _)| start < *b && *a < end) {
            return;
        }
        if taken.iter().any(|(_, _, t)| t == text) {
            return;
        }
        taken.push((start, end, text.to_owned()));
    };
    for (s, e) in quoted(goal) {
        offer(s, e, &goal[s..e]);
    }
    if let Some(i) = goal.rfind(": ") {
        let s = i + 2;
        offer(s, goal.len(), &goal[s..]);
    }
    let words = words(goal);
    for w in &words {
        if is_phone(w.core) {
            offer(w.start, w.end, w.core);
        }
    }
    for w in &words {
        if is_file_name(w.core) {
            offer(w.start, w.end, w.core);
        }
    }
    let mut i = 0;
    while i < words.len() {
        if !is_capitalized(words[i].core) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j + 1 < words.len() && !words[j].ends_clause && is_capitalized(words[j + 1].core) {
            j += 1;
        }
        let first = if words[i].sentence_start { i + 1 } else { i };
        if j > first {
            offer(
                words[first].start,
                words[j].end,
                &goal[words[first].start..words[j].end],
            );
        }
        i = j + 1;
    }
    for w in &words {
        if is_number(w.core) {
            offer(w.start, w.end, w.core);
        }
    }
    taken.sort_by_key(|(s, _, _)| *s);
    taken.into_iter().take(max).map(|(_, _, t)| t).collect()
}

/// Byte ranges of quoted text (without the quotes).
fn quoted(goal: &str) -> Vec<(usize, usize)> {
    let b = goal.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let q = b[i];
        let opens = q == b'"' || (q == b'\'' && (i == 0 || b[i - 1].is_ascii_whitespace()));
        if opens && let Some(len) = goal[i + 1..].find(q as char) {
            let (s, e) = (i + 1, i + 1 + len);
            let closes = q == b'"' || b.get(e + 1).is_none_or(|c| !c.is_ascii_alphanumeric());
            if closes && e > s {
                out.push((s, e));
                i = e + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

struct Word<'a> {
    core: &'a str,
    start: usize,
    end: usize,
    /// The word is the first of a sentence.
    sentence_start: bool,
    /// Punctuation follows the word (a name run stops here).
    ends_clause: bool,
}

fn words(goal: &str) -> Vec<Word<'_>> {
    let mut out: Vec<Word<'_>> = Vec::new();
    let mut pos = 0;
    let mut sentence_start = true;
    for raw in goal.split_whitespace() {
        let start = pos + goal[pos..].find(raw).unwrap_or(0);
        pos = start + raw.len();
        let trimmed_front = raw.trim_start_matches(|c: char| "\"'([{".contains(c));
        let core = trimmed_front.trim_end_matches(|c: char| ",.;:!?\"')]}".contains(c));
        let cs = start + (raw.len() - trimmed_front.len());
        let tail = &trimmed_front[core.len()..];
        out.push(Word {
            core,
            start: cs,
            end: cs + core.len(),
            sentence_start,
            ends_clause: !tail.is_empty(),
        });
        sentence_start = tail.contains(['.', '!', '?', ':']);
    }
    out
}

fn is_phone(w: &str) -> bool {
    let body = w.strip_prefix('+').unwrap_or(w);
    w.starts_with('+')
        && body.starts_with(|c: char| c.is_ascii_digit())
        && body.chars().all(|c| c.is_ascii_digit() || c == '-')
        && body.chars().filter(char::is_ascii_digit).count() >= 7
}

fn is_file_name(w: &str) -> bool {
    let Some((stem, ext)) = w.rsplit_once('.') else {
        return false;
    };
    !stem.is_empty()
        && stem
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && (1..=5).contains(&ext.len())
        && ext.chars().all(|c| c.is_ascii_alphanumeric())
        && ext.chars().any(|c| c.is_ascii_alphabetic())
}

fn is_capitalized(w: &str) -> bool {
    let mut c = w.chars();
    c.next().is_some_and(|f| f.is_uppercase())
        && w.chars()
            .all(|ch| ch.is_alphabetic() || ch == '-' || ch == '\'')
}

fn is_number(w: &str) -> bool {
    let w = w.strip_prefix('$').unwrap_or(w);
    !w.is_empty()
        && w.starts_with(|c: char| c.is_ascii_digit())
        && w.chars().all(|c| c.is_ascii_digit() || c == '.')
        && w.matches('.').count() <= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_goals_give_the_name_and_number() {
        assert_eq!(
            goal_slots(
                "Create a new contact for Grace Taylor. Their number is +13920741751.",
                4
            ),
            ["Grace Taylor", "+13920741751"]
        );
    }

    #[test]
    fn messages_after_a_colon_and_quotes_are_one_slot() {
        assert_eq!(
            goal_slots(
                "Send a text message to +1-415-555-0100 with message: Meet me at 5 PM.",
                4
            ),
            ["+1-415-555-0100", "Meet me at 5 PM."]
        );
        assert_eq!(
            goal_slots("Rename the note 'old ideas' to \"New Ideas\"", 4),
            ["old ideas", "New Ideas"]
        );
        // An apostrophe inside a word does not open a quote.
        assert_eq!(goal_slots("Open Bob's notes", 4), Vec::<String>::new());
    }

    #[test]
    fn file_names_names_and_numbers_in_order_capped_at_max() {
        assert_eq!(
            goal_slots(
                "Create a note named todo.md in Markor with 3 lines for Ada Lovelace",
                4
            ),
            ["todo.md", "3", "Ada Lovelace"]
        );
        assert_eq!(
            goal_slots(
                "Create a note named todo.md with 3 lines for Ada Lovelace",
                2
            ),
            ["todo.md", "3"]
        );
        // A sentence's first word does not start a name; nothing to type here.
        assert!(goal_slots("Turn wifi on.", 4).is_empty());
        assert!(
            goal_slots("Turn Off WiFi, then enable bluetooth", 4)
                .iter()
                .all(|s| s != "Turn Off")
        );
        assert!(goal_slots("", 4).is_empty());
        assert!(goal_slots("x", 0).is_empty());
    }
}

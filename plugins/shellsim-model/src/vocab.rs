//! The fixed token vocabulary shellsim declares: instruction words, listing markers,
//! and every file base name, extension and directory name the generator can use, so
//! names enter observations as tokens, never as free text.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Padding token (id 0).
pub const PAD: &str = "<pad>";

/// Instruction words and listing markers.
const WORDS: &[&str] = &[
    // instructions
    "delete",
    "rename",
    "to",
    "create",
    "directory",
    "file",
    "move",
    "copy",
    "into",
    "from",
    "all",
    "files",
    "empty",
    "in",
    "and",
    "the",
    "root",
    "tree",
    "then",
    "every",
    "out-of",
    // listing
    "cwd",
    "d:",
    "f:",
    "0b",
    "kb",
    "mb",
    "marked",
    "more-above",
    "more-below",
    "clip-none",
    "clip-cut",
    "clip-copy",
    "slots",
];

/// File base names (a file is a base name and an extension).
pub const FILE_BASES: &[&str] = &[
    "report", "notes", "budget", "todo", "invoice", "resume", "draft", "final", "summary",
    "letter", "plan", "data", "trip", "photo", "image", "song", "video", "readme", "config",
    "paper", "slides", "table", "memo", "scan",
];

/// File extensions.
pub const EXTENSIONS: &[&str] = &[
    ".txt", ".jpg", ".png", ".md", ".csv", ".pdf", ".mp3", ".log",
];

/// Directory names.
pub const DIRS: &[&str] = &[
    "docs",
    "photos",
    "music",
    "work",
    "archive",
    "projects",
    "old",
    "tmp",
    "downloads",
    "src",
    "reports",
    "shared",
    "inbox",
    "misc",
    "backup",
    "media",
];

fn tables() -> &'static (Vec<String>, HashMap<String, u32>) {
    static T: OnceLock<(Vec<String>, HashMap<String, u32>)> = OnceLock::new();
    T.get_or_init(|| {
        let v: Vec<String> = std::iter::once(PAD)
            .chain(WORDS.iter().copied())
            .chain(FILE_BASES.iter().copied())
            .chain(EXTENSIONS.iter().copied())
            .chain(DIRS.iter().copied())
            .map(str::to_owned)
            .collect();
        let map = v
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        (v, map)
    })
}

/// Every token, id order.
pub fn vocab() -> &'static [String] {
    &tables().0
}

/// Number of tokens.
pub fn vocab_size() -> u32 {
    vocab().len() as u32
}

/// Id of `word` (panics on a word outside the vocabulary: a bug in the suite).
pub fn id(word: &str) -> u32 {
    *tables()
        .1
        .get(word)
        .unwrap_or_else(|| panic!("`{word}` is not in the shellsim vocabulary"))
}

/// Tokens of an entry name: a directory name, or a file's base and extension.
pub fn name_ids(name: &str) -> [u32; 2] {
    match name.rfind('.') {
        Some(i) => [id(&name[..i]), id(&name[i..])],
        None => [id(name), 0],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_is_unique_and_pad_is_zero() {
        let mut d = vocab().to_vec();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), vocab().len(), "duplicate tokens");
        assert_eq!(id(PAD), 0);
        assert_eq!(name_ids("report.txt"), [id("report"), id(".txt")]);
        assert_eq!(name_ids("docs"), [id("docs"), 0]);
    }
}

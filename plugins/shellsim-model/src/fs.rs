//! The simulated file system: a flat map from full path to node, listing order,
//! and the four mutations the suite needs (create, delete, move, copy, rename).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One file or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// A directory (else a file).
    pub dir: bool,
    /// Size in bytes (0 for directories and empty files).
    pub size: u32,
}

/// A file system: full paths (`docs/a.txt`, no leading slash; the root is `""`)
/// to nodes. Every parent of an entry is itself a directory entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fs {
    /// Every entry but the root.
    pub entries: BTreeMap<String, Node>,
}

/// The directory part of `path` (`""` for top-level entries).
pub fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// The last component of `path`.
pub fn name(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

/// `dir` joined with `name`.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// Whether `path` is `dir` or lies below it.
pub fn within(path: &str, dir: &str) -> bool {
    dir.is_empty() || path == dir || path.starts_with(&format!("{dir}/"))
}

impl Fs {
    /// Whether `path` exists (the root always does).
    pub fn exists(&self, path: &str) -> bool {
        path.is_empty() || self.entries.contains_key(path)
    }

    /// Whether `path` is a directory (the root is).
    pub fn is_dir(&self, path: &str) -> bool {
        path.is_empty() || self.entries.get(path).is_some_and(|n| n.dir)
    }

    /// The children of `dir` in listing order: directories first, then files, each by
    /// name.
    pub fn list(&self, dir: &str) -> Vec<String> {
        let mut items: Vec<(bool, &String)> = self
            .entries
            .iter()
            .filter(|(p, _)| parent(p) == dir && !p.is_empty())
            .map(|(p, n)| (!n.dir, p))
            .collect();
        items.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| name(a.1).cmp(name(b.1))));
        items.into_iter().map(|(_, p)| p.clone()).collect()
    }

    /// Create a directory (parents must exist).
    pub fn mkdir(&mut self, path: &str) {
        self.entries
            .insert(path.to_owned(), Node { dir: true, size: 0 });
    }

    /// Create a file of `size` bytes (parents must exist).
    pub fn touch(&mut self, path: &str, size: u32) {
        self.entries
            .insert(path.to_owned(), Node { dir: false, size });
    }

    /// Remove `path` and everything below it.
    pub fn delete(&mut self, path: &str) {
        self.entries.retain(|p, _| !within(p, path));
    }

    /// Move (or rename) `path` and everything below it to `to`.
    pub fn rename(&mut self, path: &str, to: &str) {
        let moved: Vec<(String, Node)> = self
            .entries
            .iter()
            .filter(|(p, _)| within(p, path))
            .map(|(p, n)| (format!("{to}{}", &p[path.len()..]), *n))
            .collect();
        self.delete(path);
        self.entries.extend(moved);
    }

    /// Copy `path` and everything below it to `to`.
    pub fn copy(&mut self, path: &str, to: &str) {
        let copied: Vec<(String, Node)> = self
            .entries
            .iter()
            .filter(|(p, _)| within(p, path))
            .map(|(p, n)| (format!("{to}{}", &p[path.len()..]), *n))
            .collect();
        self.entries.extend(copied);
    }

    /// The first difference between `self` (expected) and `actual`, in words.
    pub fn first_difference(&self, actual: &Fs) -> Option<String> {
        for (p, n) in &self.entries {
            match actual.entries.get(p) {
                None => {
                    return Some(format!(
                        "{} `/{p}` is missing",
                        if n.dir { "directory" } else { "file" }
                    ));
                }
                Some(a) if a != n => {
                    return Some(format!("`/{p}` changed ({n:?} expected, {a:?} found)"));
                }
                Some(_) => {}
            }
        }
        actual
            .entries
            .keys()
            .find(|p| !self.entries.contains_key(*p))
            .map(|p| format!("`/{p}` should not exist"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Fs {
        let mut fs = Fs::default();
        fs.mkdir("docs");
        fs.mkdir("docs/old");
        fs.touch("docs/old/a.txt", 3);
        fs.touch("b.jpg", 0);
        fs.touch("a.txt", 5);
        fs
    }

    #[test]
    fn paths() {
        assert_eq!(parent("docs/old/a.txt"), "docs/old");
        assert_eq!(parent("a.txt"), "");
        assert_eq!(name("docs/old/a.txt"), "a.txt");
        assert_eq!(join("", "x"), "x");
        assert_eq!(join("d", "x"), "d/x");
        assert!(within("docs/old", "docs") && within("docs", "docs") && within("x", ""));
        assert!(!within("docsx", "docs"));
    }

    #[test]
    fn listing_puts_directories_first_then_names() {
        let fs = sample();
        assert_eq!(fs.list(""), ["docs", "a.txt", "b.jpg"]);
        assert_eq!(fs.list("docs"), ["docs/old"]);
        assert!(fs.list("docs/old/a.txt").is_empty());
    }

    #[test]
    fn move_copy_delete_carry_subtrees() {
        let mut fs = sample();
        fs.copy("docs", "backup");
        assert!(fs.exists("backup/old/a.txt") && fs.exists("docs/old/a.txt"));
        fs.rename("docs", "archive");
        assert!(fs.exists("archive/old/a.txt") && !fs.exists("docs"));
        fs.delete("archive");
        assert!(!fs.exists("archive/old") && fs.exists("backup/old"));
        let mut other = fs.clone();
        assert_eq!(fs.first_difference(&other), None);
        other.touch("z.md", 1);
        assert_eq!(
            fs.first_difference(&other).as_deref(),
            Some("`/z.md` should not exist")
        );
        assert_eq!(
            other.first_difference(&fs).as_deref(),
            Some("file `/z.md` is missing")
        );
    }
}

//! The simulated file system.

use super::*;

/// A file system entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory.
    Dir,
    /// A file with its bytes and whether it is executable.
    File {
        /// Contents.
        data: Vec<u8>,
        /// `chmod +x`.
        exec: bool,
    },
}

/// A fake file system: absolute normalized paths to entries.
#[derive(Debug, Clone, Default)]
pub struct Fs {
    pub(crate) nodes: BTreeMap<String, Node>,
}

pub(crate) fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => "/",
    }
}

pub(crate) fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

impl Fs {
    /// The standard home: `~/Desktop`, `~/Documents`, `~/Downloads`, `/tmp`.
    pub fn standard() -> Fs {
        let mut fs = Fs::default();
        for d in ["/", "/home", HOME, "/tmp", "/usr", "/usr/bin", "/etc"] {
            fs.nodes.insert(d.into(), Node::Dir);
        }
        for d in ["Desktop", "Documents", "Downloads", "Pictures"] {
            fs.nodes.insert(format!("{HOME}/{d}"), Node::Dir);
        }
        fs.write(&format!("{HOME}/.bashrc"), b"# ~/.bashrc\n".to_vec())
            .unwrap();
        fs.write("/etc/hostname", b"ubuntu\n".to_vec()).unwrap();
        fs
    }

    /// Normalize `path` against `cwd` (`~` expanded, `.`/`..` resolved).
    pub fn resolve(cwd: &str, path: &str) -> String {
        let full = if let Some(rest) = path.strip_prefix("~/") {
            format!("{HOME}/{rest}")
        } else if path == "~" {
            HOME.into()
        } else if path.starts_with('/') {
            path.into()
        } else {
            format!("{cwd}/{path}")
        };
        let mut parts: Vec<&str> = Vec::new();
        for p in full.split('/') {
            match p {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        format!("/{}", parts.join("/"))
    }

    /// The entry at an absolute path.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Whether a directory exists.
    pub fn is_dir(&self, path: &str) -> bool {
        matches!(self.get(path), Some(Node::Dir))
    }

    /// A file's bytes.
    pub fn read(&self, path: &str) -> Option<&[u8]> {
        match self.get(path) {
            Some(Node::File { data, .. }) => Some(data),
            _ => None,
        }
    }

    /// A file's text.
    pub fn read_text(&self, path: &str) -> Option<String> {
        self.read(path)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// Write a file (its directory must exist; keeps the exec bit).
    pub fn write(&mut self, path: &str, data: Vec<u8>) -> Result<(), String> {
        if !self.is_dir(parent(path)) {
            return Err("No such file or directory".into());
        }
        match self.nodes.get_mut(path) {
            Some(Node::Dir) => Err("Is a directory".into()),
            Some(Node::File { data: d, .. }) => {
                *d = data;
                Ok(())
            }
            None => {
                self.nodes
                    .insert(path.into(), Node::File { data, exec: false });
                Ok(())
            }
        }
    }

    /// Create directories down to `path`.
    pub fn mkdir_p(&mut self, path: &str) -> Result<(), String> {
        let mut cur = String::new();
        for p in path.split('/').filter(|p| !p.is_empty()) {
            cur.push('/');
            cur.push_str(p);
            match self.nodes.get(&cur) {
                Some(Node::File { .. }) => return Err("Not a directory".into()),
                Some(Node::Dir) => {}
                None => {
                    self.nodes.insert(cur.clone(), Node::Dir);
                }
            }
        }
        Ok(())
    }

    /// The names in a directory, sorted.
    pub fn list(&self, dir: &str) -> Vec<String> {
        let prefix = if dir == "/" {
            "/".to_owned()
        } else {
            format!("{dir}/")
        };
        self.nodes
            .keys()
            .filter(|k| {
                k.starts_with(&prefix) && k.len() > prefix.len() && !k[prefix.len()..].contains('/')
            })
            .map(|k| k[prefix.len()..].to_owned())
            .collect()
    }

    /// Remove an entry and everything below it.
    pub fn remove_tree(&mut self, path: &str) {
        let prefix = format!("{path}/");
        self.nodes
            .retain(|k, _| k != path && !k.starts_with(&prefix));
    }

    /// Move an entry (and its subtree).
    pub fn rename(&mut self, from: &str, to: &str) {
        let prefix = format!("{from}/");
        let moved: Vec<(String, Node)> = self
            .nodes
            .iter()
            .filter(|(k, _)| *k == from || k.starts_with(&prefix))
            .map(|(k, v)| (format!("{to}{}", &k[from.len()..]), v.clone()))
            .collect();
        self.remove_tree(from);
        self.nodes.extend(moved);
    }

    pub(crate) fn set_exec(&mut self, path: &str, on: bool) -> bool {
        match self.nodes.get_mut(path) {
            Some(Node::File { exec, .. }) => {
                *exec = on;
                true
            }
            Some(Node::Dir) => true,
            None => false,
        }
    }
}

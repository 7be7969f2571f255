//! One shellsim episode: a file-manager view of the file system (current directory,
//! a page of its listing, marks, a clipboard), the discrete action space, stepping,
//! observations (text, token ids, valid-action mask) and the final state.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sim_kit::{Obs, Outcome, SimAction, SimError};

use crate::SUITE;
use crate::fs::{Fs, join, name, parent, within};
use crate::tasks::{self, Instance, MAX_INSTRUCTION_TOKENS, MAX_SLOTS, TaskDef};
use crate::vocab;

/// Listing rows shown per page.
pub const ROWS: usize = 8;

/// A discrete shellsim action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Act {
    /// Enter the directory in row k.
    Open(usize),
    /// Toggle the mark on row k.
    Mark(usize),
    /// Rename row k to text slot 0.
    Rename(usize),
    /// Go to the parent directory.
    Up,
    /// Put the marked entries on the clipboard to move them.
    Cut,
    /// Put the marked entries on the clipboard to copy them.
    Copy,
    /// Move or copy the clipboard's entries here.
    Paste,
    /// Delete the marked entries.
    Delete,
    /// Create a directory named text slot j here.
    Mkdir(usize),
    /// Create an empty file named text slot j here.
    Touch(usize),
    /// Show the next page of the listing (wraps around).
    More,
    /// Declare the task finished (ends the episode).
    Done,
}

const UP: u32 = 3 * ROWS as u32;
const MKDIR: u32 = UP + 5;
const TOUCH: u32 = MKDIR + MAX_SLOTS as u32;
const MORE: u32 = TOUCH + MAX_SLOTS as u32;
/// Number of discrete actions.
pub const N_ACTIONS: u32 = MORE + 2;

impl SimAction for Act {
    const COUNT: u32 = N_ACTIONS;
    const DONE: Act = Act::Done;

    fn index(self) -> u32 {
        let r = ROWS as u32;
        match self {
            Act::Open(k) => k as u32,
            Act::Mark(k) => r + k as u32,
            Act::Rename(k) => 2 * r + k as u32,
            Act::Up => UP,
            Act::Cut => UP + 1,
            Act::Copy => UP + 2,
            Act::Paste => UP + 3,
            Act::Delete => UP + 4,
            Act::Mkdir(j) => MKDIR + j as u32,
            Act::Touch(j) => TOUCH + j as u32,
            Act::More => MORE,
            Act::Done => MORE + 1,
        }
    }

    fn from_index(index: u32) -> Option<Act> {
        let r = ROWS as u32;
        Some(match index {
            i if i < r => Act::Open(i as usize),
            i if i < 2 * r => Act::Mark((i - r) as usize),
            i if i < UP => Act::Rename((i - 2 * r) as usize),
            UP => Act::Up,
            i if i == UP + 1 => Act::Cut,
            i if i == UP + 2 => Act::Copy,
            i if i == UP + 3 => Act::Paste,
            i if i == UP + 4 => Act::Delete,
            i if i < TOUCH => Act::Mkdir((i - MKDIR) as usize),
            i if i < MORE => Act::Touch((i - TOUCH) as usize),
            MORE => Act::More,
            i if i == MORE + 1 => Act::Done,
            _ => return None,
        })
    }

    fn label(self) -> String {
        match self {
            Act::Open(k) => format!("open {k}"),
            Act::Mark(k) => format!("mark {k}"),
            Act::Rename(k) => format!("rename {k} to slot 0"),
            Act::Up => "up".into(),
            Act::Cut => "cut".into(),
            Act::Copy => "copy".into(),
            Act::Paste => "paste".into(),
            Act::Delete => "delete".into(),
            Act::Mkdir(j) => format!("mkdir slot {j}"),
            Act::Touch(j) => format!("touch slot {j}"),
            Act::More => "more".into(),
            Act::Done => "done".into(),
        }
    }
}

/// What the environment reports at the end; the checker judges it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalState {
    /// Task id.
    pub task: String,
    /// Seed of the instance.
    pub seed: u64,
    /// Steps taken.
    pub steps: u32,
    /// Whether the agent ended with `done`.
    pub said_done: bool,
    /// The directory showing at the end.
    pub cwd: String,
    /// The file system at the end.
    pub fs: Fs,
}

/// Clipboard contents.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Clip {
    cut: bool,
    paths: Vec<String>,
}

/// Tokens of the header: cwd (3 components), more-above, more-below, clipboard,
/// slots (2 tokens each).
const HEADER: usize = MAX_INSTRUCTION_TOKENS;
const SLOTS_AT: usize = HEADER + 6;
const ROWS_AT: usize = SLOTS_AT + 2 * MAX_SLOTS;
/// Tokens per listing row: kind, two name tokens, size class, mark.
pub const TOKENS_PER_ROW: usize = 5;
/// Length of every observation's token list.
pub const OBS_TOKENS: usize = ROWS_AT + ROWS * TOKENS_PER_ROW;

/// One episode.
#[derive(Debug, Clone)]
pub struct Episode {
    task: &'static TaskDef,
    seed: u64,
    inst: Instance,
    fs: Fs,
    cwd: String,
    page: usize,
    marks: BTreeSet<String>,
    clip: Option<Clip>,
    steps: u32,
    said_done: bool,
    finished: bool,
}

fn size_class(size: u32) -> &'static str {
    match size {
        0 => "0b",
        1..100_000 => "kb",
        _ => "mb",
    }
}

impl Episode {
    /// A new episode of `task_id` whose parameters come from `seed`, already reset.
    pub fn new(task_id: &str, seed: u64) -> Result<Self, SimError> {
        let task = tasks::find(task_id).ok_or_else(|| SimError::UnknownTask {
            suite: SUITE,
            task: task_id.into(),
        })?;
        let inst = task.instantiate(seed);
        Ok(Episode {
            task,
            seed,
            fs: inst.initial.clone(),
            inst,
            cwd: String::new(),
            page: 0,
            marks: BTreeSet::new(),
            clip: None,
            steps: 0,
            said_done: false,
            finished: false,
        })
    }

    /// Back to the initial state.
    pub fn reset(&mut self) {
        self.fs = self.inst.initial.clone();
        self.cwd.clear();
        self.page = 0;
        self.marks.clear();
        self.clip = None;
        self.steps = 0;
        self.said_done = false;
        self.finished = false;
    }

    /// The task.
    pub fn task(&self) -> &'static TaskDef {
        self.task
    }

    /// The instance this seed picked.
    pub fn instance(&self) -> &Instance {
        &self.inst
    }

    /// The file system now.
    pub fn fs(&self) -> &Fs {
        &self.fs
    }

    /// The current directory.
    pub fn cwd(&self) -> &str {
        &self.cwd
    }

    /// The listing page showing.
    pub fn page(&self) -> usize {
        self.page
    }

    /// Steps taken.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// Whether the episode ended.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// The rows on screen (full paths).
    pub fn rows(&self) -> Vec<String> {
        self.fs
            .list(&self.cwd)
            .into_iter()
            .skip(self.page * ROWS)
            .take(ROWS)
            .collect()
    }

    fn slot(&self, j: usize) -> Option<&str> {
        self.inst.slots.get(j).map(String::as_str)
    }

    fn paste_ok(&self) -> bool {
        self.clip.as_ref().is_some_and(|c| {
            c.paths.iter().all(|p| {
                self.fs.exists(p)
                    && !self.fs.exists(&join(&self.cwd, name(p)))
                    && !within(&self.cwd, p)
            })
        })
    }

    /// Whether action `a` does something now.
    pub fn allowed(&self, a: Act, rows: &[String]) -> bool {
        let fresh = |n: &str| !self.fs.exists(&join(&self.cwd, n));
        match a {
            Act::Open(k) => rows.get(k).is_some_and(|p| self.fs.is_dir(p)),
            Act::Mark(k) => k < rows.len(),
            Act::Rename(k) => k < rows.len() && self.slot(0).is_some_and(fresh),
            Act::Up => !self.cwd.is_empty(),
            Act::Cut | Act::Copy | Act::Delete => !self.marks.is_empty(),
            Act::Paste => self.paste_ok(),
            Act::Mkdir(j) => self.slot(j).is_some_and(|n| !n.contains('.') && fresh(n)),
            Act::Touch(j) => self.slot(j).is_some_and(|n| n.contains('.') && fresh(n)),
            Act::More => self.fs.list(&self.cwd).len() > ROWS,
            Act::Done => true,
        }
    }

    fn enter(&mut self, dir: String) {
        self.cwd = dir;
        self.page = 0;
        self.marks.clear();
    }

    /// Take action `index`.
    pub fn step(&mut self, index: u32) -> Result<Outcome, SimError> {
        if self.finished {
            return Err(SimError::Finished);
        }
        let act = Act::from_index(index).ok_or(SimError::ActionOutOfRange {
            index,
            n_actions: N_ACTIONS,
        })?;
        let rows = self.rows();
        let invalid = !self.allowed(act, &rows);
        if !invalid {
            self.apply(act, &rows);
        }
        self.steps += 1;
        let done = act == Act::Done;
        self.said_done = done;
        let truncated = !done && self.steps >= self.task.max_steps;
        self.finished = done || truncated;
        Ok(Outcome {
            done,
            truncated,
            invalid,
        })
    }

    fn apply(&mut self, act: Act, rows: &[String]) {
        match act {
            Act::Open(k) => self.enter(rows[k].clone()),
            Act::Mark(k) => {
                if !self.marks.remove(&rows[k]) {
                    self.marks.insert(rows[k].clone());
                }
            }
            Act::Rename(k) => {
                let to = join(&self.cwd, &self.inst.slots[0]);
                self.marks.remove(&rows[k]);
                self.fs.rename(&rows[k], &to);
            }
            Act::Up => self.enter(parent(&self.cwd).to_owned()),
            Act::Cut | Act::Copy => {
                self.clip = Some(Clip {
                    cut: act == Act::Cut,
                    paths: std::mem::take(&mut self.marks).into_iter().collect(),
                });
            }
            Act::Paste => {
                let clip = self.clip.take().expect("allowed");
                for p in &clip.paths {
                    let to = join(&self.cwd, name(p));
                    if clip.cut {
                        self.fs.rename(p, &to);
                    } else {
                        self.fs.copy(p, &to);
                    }
                }
            }
            Act::Delete => {
                for p in std::mem::take(&mut self.marks) {
                    self.fs.delete(&p);
                }
            }
            Act::Mkdir(j) => self.fs.mkdir(&join(&self.cwd, &self.inst.slots[j])),
            Act::Touch(j) => self.fs.touch(&join(&self.cwd, &self.inst.slots[j]), 0),
            Act::More => {
                let pages = self.fs.list(&self.cwd).len().div_ceil(ROWS);
                self.page = (self.page + 1) % pages.max(1);
            }
            Act::Done => {}
        }
        let pages = self.fs.list(&self.cwd).len().div_ceil(ROWS).max(1);
        self.page = self.page.min(pages - 1);
    }

    /// What the checker reads.
    pub fn final_state(&self) -> FinalState {
        FinalState {
            task: self.task.id.clone(),
            seed: self.seed,
            steps: self.steps,
            said_done: self.said_done,
            cwd: self.cwd.clone(),
            fs: self.fs.clone(),
        }
    }

    /// Observe; `text`/`tokens` select the parts to build.
    pub fn observe(&self, text: bool, tokens: bool) -> Obs {
        let rows = self.rows();
        let mask = Act::all().map(|a| self.allowed(a, &rows)).collect();
        Obs {
            text: text.then(|| self.render_text(&rows)),
            tokens: tokens.then(|| self.render_tokens(&rows)),
            mask,
        }
    }

    fn clip_token(&self) -> &'static str {
        match &self.clip {
            None => "clip-none",
            Some(c) if c.cut => "clip-cut",
            Some(_) => "clip-copy",
        }
    }

    fn render_tokens(&self, rows: &[String]) -> Vec<u32> {
        let mut t = vec![0u32; OBS_TOKENS];
        let instr = &self.inst.instruction_tokens;
        t[..instr.len()].copy_from_slice(instr);
        let parts: Vec<&str> = self.cwd.split('/').filter(|s| !s.is_empty()).collect();
        for (i, p) in parts.iter().rev().take(3).rev().enumerate() {
            // A directory may carry a file-like name after a rename: its base token.
            t[HEADER + i] = vocab::name_ids(p)[0];
        }
        let total = self.fs.list(&self.cwd).len();
        if self.page > 0 {
            t[HEADER + 3] = vocab::id("more-above");
        }
        if (self.page + 1) * ROWS < total {
            t[HEADER + 4] = vocab::id("more-below");
        }
        t[HEADER + 5] = vocab::id(self.clip_token());
        for (j, s) in self.inst.slots.iter().enumerate() {
            let [a, b] = vocab::name_ids(s);
            t[SLOTS_AT + 2 * j] = a;
            t[SLOTS_AT + 2 * j + 1] = b;
        }
        for (k, p) in rows.iter().enumerate() {
            let o = ROWS_AT + k * TOKENS_PER_ROW;
            let dir = self.fs.is_dir(p);
            t[o] = vocab::id(if dir { "d:" } else { "f:" });
            let [a, b] = vocab::name_ids(name(p));
            t[o + 1] = a;
            t[o + 2] = b;
            if !dir {
                t[o + 3] = vocab::id(size_class(self.fs.entries[p].size));
            }
            if self.marks.contains(p) {
                t[o + 4] = vocab::id("marked");
            }
        }
        t
    }

    /// The listing as text. Every row and text slot is named by the actions that act on
    /// it (`open 2 / mark 2: docs/ (folder)`, `touch slot 0: creates the file 'a.txt'`)
    /// and the whole-listing actions are spelled out, so a reader of the text (a language
    /// model choosing among the action labels) sees which label does what.
    fn render_text(&self, rows: &[String]) -> String {
        use std::fmt::Write;
        let total = self.fs.list(&self.cwd).len();
        let mut s = format!("Task: {}\n", self.inst.instruction);
        let _ = writeln!(
            s,
            "Folder /{} (items {}-{} of {total})",
            self.cwd,
            (self.page * ROWS + 1).min(total),
            (self.page * ROWS + rows.len()).min(total)
        );
        for (k, p) in rows.iter().enumerate() {
            if p.is_empty() {
                continue;
            }
            let node = self.fs.entries[p];
            let marked = if self.marks.contains(p) {
                ", marked"
            } else {
                ""
            };
            if node.dir {
                let _ = writeln!(s, "open {k} / mark {k}: {}/ (folder{marked})", name(p));
            } else {
                let _ = writeln!(s, "mark {k}: {} (file, {} B{marked})", name(p), node.size);
            }
        }
        for (j, n) in self.inst.slots.iter().enumerate() {
            if n.contains('.') {
                let _ = writeln!(s, "touch slot {j}: creates the file '{n}' here");
            } else {
                let _ = writeln!(s, "mkdir slot {j}: creates the folder '{n}' here");
            }
        }
        if let Some(n) = self.inst.slots.first() {
            let _ = writeln!(s, "rename k to slot 0: renames row k to '{n}'");
        }
        if !self.marks.is_empty() {
            let n = self.marks.len();
            let _ = writeln!(
                s,
                "cut / copy / delete: acts on the {n} marked item{}",
                if n == 1 { "" } else { "s" }
            );
        }
        if let Some(c) = &self.clip {
            let _ = writeln!(
                s,
                "paste: {} the {} item(s) on the clipboard here",
                if c.cut { "moves" } else { "copies" },
                c.paths.len()
            );
        }
        if total > ROWS {
            s.push_str("more: shows the next page of this folder\n");
        }
        if !self.cwd.is_empty() {
            s.push_str("up: goes to the parent folder\n");
        }
        s.push_str("done: ends the task");
        s
    }
}

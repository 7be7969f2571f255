//! The shellsim task catalog: 31 templates over four difficulty levels. Each seed
//! instantiates a template with random names, files and distractors; an instance
//! carries the initial file system, the operations that define its goal, the text
//! slots the agent can type, and the instruction as text and tokens.

use std::sync::OnceLock;

use sim_kit::Rng;

use crate::fs::{Fs, join, name, parent};
use crate::vocab::{self, DIRS, EXTENSIONS, FILE_BASES};

/// Most instruction tokens (the observation reserves this many).
pub const MAX_INSTRUCTION_TOKENS: usize = 20;
/// Text slots (names the agent can create or rename to).
pub const MAX_SLOTS: usize = 3;

/// One operation of a goal; the goal state is the initial state with the ops applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Delete a file or directory tree.
    Delete(String),
    /// Move `from` into directory `to_dir`.
    Move {
        /// Source path.
        from: String,
        /// Destination directory.
        to_dir: String,
    },
    /// Copy `from` into directory `to_dir`.
    Copy {
        /// Source path.
        from: String,
        /// Destination directory.
        to_dir: String,
    },
    /// Rename `path` to `to_name` in the same directory.
    Rename {
        /// Path to rename.
        path: String,
        /// New name.
        to_name: String,
    },
    /// Create a directory.
    Mkdir(String),
    /// Create an empty file.
    Touch(String),
}

impl Op {
    /// Apply to `fs`.
    pub fn apply(&self, fs: &mut Fs) {
        match self {
            Op::Delete(p) => fs.delete(p),
            Op::Move { from, to_dir } => fs.rename(from, &join(to_dir, name(from))),
            Op::Copy { from, to_dir } => fs.copy(from, &join(to_dir, name(from))),
            Op::Rename { path, to_name } => fs.rename(path, &join(parent(path), to_name)),
            Op::Mkdir(p) => fs.mkdir(p),
            Op::Touch(p) => fs.touch(p, 0),
        }
    }
}

/// A task template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Template {
    DeleteFile,
    RenameFile,
    Mkdir,
    Touch,
    DeleteDir,
    RenameDir,
    DeleteTwoFiles,
    MoveFileInto,
    CopyFileInto,
    DeleteInDir,
    RenameInDir,
    MkdirInDir,
    TouchInDir,
    MoveFileUp,
    MkdirAndMove,
    MoveByExt,
    CopyByExt,
    DeleteByExt,
    DeleteEmpty,
    Tree3,
    MoveBetweenDirs,
    RenameAndMove,
    EmptyOutDir,
    GatherByExt,
    OrganizeTwoExts,
    DeleteEmptyTwoDirs,
    TreeAndMove,
    BackupDir,
    FlattenNested,
    ArchiveLogs,
    DeleteByExtNested,
}

/// One task of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDef {
    /// Task id (`shellsim/<template>`).
    pub id: String,
    /// Difficulty level 1-4.
    pub level: u8,
    /// Step budget.
    pub max_steps: u32,
    /// Family (delete, move, copy, rename, create, mixed).
    pub family: &'static str,
    /// A one-line description with placeholders.
    pub summary: &'static str,
    template: Template,
}

/// Step budget per level (about twice the longest reference solution, see tests).
const MAX_STEPS: [u32; 4] = [8, 14, 22, 32];

/// Every task.
pub fn catalog() -> &'static [TaskDef] {
    static C: OnceLock<Vec<TaskDef>> = OnceLock::new();
    C.get_or_init(|| {
        use Template::*;
        let rows: &[(Template, &str, u8, &str, &str)] = &[
            (DeleteFile, "delete-file", 1, "delete", "delete file F"),
            (RenameFile, "rename-file", 1, "rename", "rename file F to G"),
            (Mkdir, "mkdir", 1, "create", "create directory D"),
            (Touch, "touch", 1, "create", "create empty file F"),
            (DeleteDir, "delete-dir", 1, "delete", "delete directory D"),
            (
                RenameDir,
                "rename-dir",
                1,
                "rename",
                "rename directory D to E",
            ),
            (
                DeleteTwoFiles,
                "delete-two-files",
                1,
                "delete",
                "delete files F and G",
            ),
            (
                MoveFileInto,
                "move-file-into",
                2,
                "move",
                "move file F into D",
            ),
            (
                CopyFileInto,
                "copy-file-into",
                2,
                "copy",
                "copy file F into D",
            ),
            (
                DeleteInDir,
                "delete-in-dir",
                2,
                "delete",
                "delete file F in D",
            ),
            (
                RenameInDir,
                "rename-in-dir",
                2,
                "rename",
                "rename F in D to G",
            ),
            (
                MkdirInDir,
                "mkdir-in-dir",
                2,
                "create",
                "create directory E in D",
            ),
            (
                TouchInDir,
                "touch-in-dir",
                2,
                "create",
                "create empty file F in D",
            ),
            (
                MoveFileUp,
                "move-file-up",
                2,
                "move",
                "move F out of D into the root",
            ),
            (
                MkdirAndMove,
                "mkdir-and-move",
                2,
                "mixed",
                "create directory D, move F into it",
            ),
            (
                MoveByExt,
                "move-by-ext",
                3,
                "move",
                "move all .X files from the root into D",
            ),
            (
                CopyByExt,
                "copy-by-ext",
                3,
                "copy",
                "copy all .X files from the root into D",
            ),
            (
                DeleteByExt,
                "delete-by-ext",
                3,
                "delete",
                "delete all .X files in the root",
            ),
            (
                DeleteEmpty,
                "delete-empty",
                3,
                "delete",
                "delete the empty files in the root",
            ),
            (Tree3, "tree-3", 3, "create", "create directory tree A/B/C"),
            (
                MoveBetweenDirs,
                "move-between-dirs",
                3,
                "move",
                "move F from D into E",
            ),
            (
                RenameAndMove,
                "rename-and-move",
                3,
                "mixed",
                "rename F to G, then move G into D",
            ),
            (
                EmptyOutDir,
                "empty-out-dir",
                3,
                "move",
                "move all files out of D into the root",
            ),
            (
                GatherByExt,
                "gather-by-ext",
                4,
                "move",
                "move all .X files from D and E into T",
            ),
            (
                OrganizeTwoExts,
                "organize-two-exts",
                4,
                "move",
                "move all .X files into D and all .Y files into E",
            ),
            (
                DeleteEmptyTwoDirs,
                "delete-empty-two-dirs",
                4,
                "delete",
                "delete the empty files in D and E",
            ),
            (
                TreeAndMove,
                "tree-and-move",
                4,
                "mixed",
                "create directory tree A/B, then move F into A/B",
            ),
            (
                BackupDir,
                "backup-dir",
                4,
                "copy",
                "create directory B, then copy all files in D into B",
            ),
            (
                FlattenNested,
                "flatten-nested",
                4,
                "move",
                "move all files in D/E into the root",
            ),
            (
                ArchiveLogs,
                "archive-logs",
                4,
                "mixed",
                "create directory A, then move all .log files from the root and T into A",
            ),
            (
                DeleteByExtNested,
                "delete-by-ext-nested",
                4,
                "delete",
                "delete all .X files in D/E",
            ),
        ];
        rows.iter()
            .map(|&(template, id, level, family, summary)| TaskDef {
                id: format!("shellsim/{id}"),
                level,
                max_steps: MAX_STEPS[usize::from(level) - 1],
                family,
                summary,
                template,
            })
            .collect()
    })
}

/// The task with `id`.
pub fn find(id: &str) -> Option<&'static TaskDef> {
    catalog().iter().find(|t| t.id == id)
}

/// One instance of a task (a task and a seed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The file system at reset.
    pub initial: Fs,
    /// What the agent must do.
    pub ops: Vec<Op>,
    /// Names the agent can create or rename to (slot j = action `mkdir/touch j`;
    /// renames take slot 0).
    pub slots: Vec<String>,
    /// The instruction.
    pub instruction: String,
    /// The instruction as token ids (at most `MAX_INSTRUCTION_TOKENS`).
    pub instruction_tokens: Vec<u32>,
}

impl Instance {
    /// The state the agent must leave.
    pub fn goal(&self) -> Fs {
        let mut fs = self.initial.clone();
        for op in &self.ops {
            op.apply(&mut fs);
        }
        fs
    }
}

/// A word of an instruction.
enum W {
    /// A vocabulary word.
    Word(&'static str),
    /// An entry name (directory, or file base + extension).
    Name(String),
    /// A directory path (shown with `/`, one token per component).
    Path(String),
}

fn render(words: &[W]) -> (String, Vec<u32>) {
    let mut text = Vec::new();
    let mut tokens = Vec::new();
    for w in words {
        match w {
            W::Word(s) => {
                text.push((*s).replace("out-of", "out of"));
                tokens.push(vocab::id(s));
            }
            W::Name(n) => {
                text.push(n.clone());
                tokens.extend(vocab::name_ids(n).into_iter().filter(|&t| t != 0));
            }
            W::Path(p) => {
                text.push(format!("{p}/"));
                tokens.extend(p.split('/').map(vocab::id));
            }
        }
    }
    (text.join(" "), tokens)
}

/// Builds an instance's file system with globally unique names.
struct Gen {
    rng: Rng,
    fs: Fs,
    names: Vec<String>,
}

impl Gen {
    fn fresh_dir_name(&mut self) -> String {
        loop {
            let n = (*self.rng.pick(DIRS)).to_owned();
            if !self.names.contains(&n) {
                self.names.push(n.clone());
                return n;
            }
        }
    }

    fn fresh_file_name(&mut self, ext: &str) -> String {
        loop {
            let n = format!("{}{ext}", self.rng.pick(FILE_BASES));
            if !self.names.contains(&n) {
                self.names.push(n.clone());
                return n;
            }
        }
    }

    fn dir(&mut self, parent: &str) -> String {
        let n = self.fresh_dir_name();
        let p = join(parent, &n);
        self.fs.mkdir(&p);
        p
    }

    fn file(&mut self, dir: &str, ext: &str, empty: bool) -> String {
        let n = self.fresh_file_name(ext);
        let p = join(dir, &n);
        let size = if empty {
            0
        } else {
            1 + self.rng.below(300_000) as u32
        };
        self.fs.touch(&p, size);
        p
    }

    fn ext_except(&mut self, avoid: &[&str]) -> &'static str {
        loop {
            let e = *self.rng.pick(EXTENSIONS);
            if !avoid.contains(&e) {
                return e;
            }
        }
    }

    /// `lo..=hi` distractor files in `dir` with extensions outside `avoid`, empty only
    /// if `may_be_empty`.
    fn filler(&mut self, dir: &str, lo: usize, hi: usize, avoid: &[&str], may_be_empty: bool) {
        for _ in 0..self.rng.range(lo, hi) {
            let ext = self.ext_except(avoid);
            let empty = may_be_empty && self.rng.below(4) == 0;
            self.file(dir, ext, empty);
        }
    }

    /// A few unrelated directories (with a file or two) in the root.
    fn scenery(&mut self, avoid: &[&str], may_be_empty: bool) {
        for _ in 0..self.rng.range(1, 2) {
            let d = self.dir("");
            self.filler(&d, 0, 2, avoid, may_be_empty);
        }
    }

    fn any_file(&mut self, dir: &str) -> String {
        let ext = *self.rng.pick(EXTENSIONS);
        self.file(dir, ext, false)
    }
}

impl TaskDef {
    /// The instance `seed` picks.
    pub fn instantiate(&self, seed: u64) -> Instance {
        let stream = catalog()
            .iter()
            .position(|t| t.id == self.id)
            .unwrap_or_default() as u64;
        let mut g = Gen {
            rng: Rng::new(seed, stream),
            fs: Fs::default(),
            names: Vec::new(),
        };
        let (ops, slots, words) = self.template.generate(&mut g);
        let (instruction, instruction_tokens) = render(&words);
        debug_assert!(instruction_tokens.len() <= MAX_INSTRUCTION_TOKENS);
        debug_assert!(slots.len() <= MAX_SLOTS);
        Instance {
            initial: g.fs,
            ops,
            slots,
            instruction,
            instruction_tokens,
        }
    }
}

fn moves(from: &[String], to_dir: &str) -> Vec<Op> {
    from.iter()
        .map(|f| Op::Move {
            from: f.clone(),
            to_dir: to_dir.to_owned(),
        })
        .collect()
}

fn copies(from: &[String], to_dir: &str) -> Vec<Op> {
    from.iter()
        .map(|f| Op::Copy {
            from: f.clone(),
            to_dir: to_dir.to_owned(),
        })
        .collect()
}

fn n(path: &str) -> W {
    W::Name(name(path).to_owned())
}

impl Template {
    #[allow(clippy::too_many_lines)]
    fn generate(self, g: &mut Gen) -> (Vec<Op>, Vec<String>, Vec<W>) {
        use Template::*;
        use W::Word as w;
        match self {
            DeleteFile => {
                g.scenery(&[], true);
                let f = g.any_file("");
                g.filler("", 1, 4, &[], true);
                (
                    vec![Op::Delete(f.clone())],
                    vec![],
                    vec![w("delete"), w("file"), n(&f)],
                )
            }
            RenameFile => {
                g.scenery(&[], true);
                let f = g.any_file("");
                g.filler("", 1, 4, &[], true);
                let ext = &f[f.rfind('.').unwrap_or(f.len())..];
                let to = g.fresh_file_name(ext);
                (
                    vec![Op::Rename {
                        path: f.clone(),
                        to_name: to.clone(),
                    }],
                    vec![to.clone()],
                    vec![w("rename"), w("file"), n(&f), w("to"), W::Name(to)],
                )
            }
            Mkdir => {
                g.scenery(&[], true);
                g.filler("", 1, 4, &[], true);
                let d = g.fresh_dir_name();
                (
                    vec![Op::Mkdir(d.clone())],
                    vec![d.clone()],
                    vec![w("create"), w("directory"), W::Name(d)],
                )
            }
            Touch => {
                g.scenery(&[], true);
                g.filler("", 1, 4, &[], true);
                let e = *g.rng.pick(EXTENSIONS);
                let f = g.fresh_file_name(e);
                (
                    vec![Op::Touch(f.clone())],
                    vec![f.clone()],
                    vec![w("create"), w("empty"), w("file"), W::Name(f)],
                )
            }
            DeleteDir => {
                g.scenery(&[], true);
                let d = g.dir("");
                g.filler(&d, 0, 2, &[], true);
                g.filler("", 1, 3, &[], true);
                (
                    vec![Op::Delete(d.clone())],
                    vec![],
                    vec![w("delete"), w("directory"), n(&d)],
                )
            }
            RenameDir => {
                g.scenery(&[], true);
                let d = g.dir("");
                g.filler(&d, 0, 2, &[], true);
                g.filler("", 1, 3, &[], true);
                let to = g.fresh_dir_name();
                (
                    vec![Op::Rename {
                        path: d.clone(),
                        to_name: to.clone(),
                    }],
                    vec![to.clone()],
                    vec![w("rename"), w("directory"), n(&d), w("to"), W::Name(to)],
                )
            }
            DeleteTwoFiles => {
                g.scenery(&[], true);
                let f1 = g.any_file("");
                let f2 = g.any_file("");
                g.filler("", 1, 3, &[], true);
                (
                    vec![Op::Delete(f1.clone()), Op::Delete(f2.clone())],
                    vec![],
                    vec![w("delete"), w("files"), n(&f1), w("and"), n(&f2)],
                )
            }
            MoveFileInto | CopyFileInto => {
                g.scenery(&[], true);
                let d = g.dir("");
                let f = g.any_file("");
                g.filler("", 1, 3, &[], true);
                let (op, verb) = if self == MoveFileInto {
                    (moves(std::slice::from_ref(&f), &d), "move")
                } else {
                    (copies(std::slice::from_ref(&f), &d), "copy")
                };
                (
                    op,
                    vec![],
                    vec![w(verb), w("file"), n(&f), w("into"), n(&d)],
                )
            }
            DeleteInDir => {
                g.scenery(&[], true);
                let d = g.dir("");
                let f = g.any_file(&d);
                g.filler(&d, 1, 3, &[], true);
                g.filler("", 1, 3, &[], true);
                (
                    vec![Op::Delete(f.clone())],
                    vec![],
                    vec![w("delete"), w("file"), n(&f), w("in"), n(&d)],
                )
            }
            RenameInDir => {
                g.scenery(&[], true);
                let d = g.dir("");
                let f = g.any_file(&d);
                g.filler(&d, 1, 3, &[], true);
                g.filler("", 1, 3, &[], true);
                let ext = &f[f.rfind('.').unwrap_or(f.len())..];
                let to = g.fresh_file_name(ext);
                (
                    vec![Op::Rename {
                        path: f.clone(),
                        to_name: to.clone(),
                    }],
                    vec![to.clone()],
                    vec![w("rename"), n(&f), w("in"), n(&d), w("to"), W::Name(to)],
                )
            }
            MkdirInDir | TouchInDir => {
                g.scenery(&[], true);
                let d = g.dir("");
                g.filler(&d, 0, 3, &[], true);
                g.filler("", 1, 3, &[], true);
                if self == MkdirInDir {
                    let e = g.fresh_dir_name();
                    (
                        vec![Op::Mkdir(join(&d, &e))],
                        vec![e.clone()],
                        vec![w("create"), w("directory"), W::Name(e), w("in"), n(&d)],
                    )
                } else {
                    let x = *g.rng.pick(EXTENSIONS);
                    let f = g.fresh_file_name(x);
                    (
                        vec![Op::Touch(join(&d, &f))],
                        vec![f.clone()],
                        vec![
                            w("create"),
                            w("empty"),
                            w("file"),
                            W::Name(f),
                            w("in"),
                            n(&d),
                        ],
                    )
                }
            }
            MoveFileUp => {
                g.scenery(&[], true);
                let d = g.dir("");
                let f = g.any_file(&d);
                g.filler(&d, 1, 3, &[], true);
                g.filler("", 1, 3, &[], true);
                (
                    moves(std::slice::from_ref(&f), ""),
                    vec![],
                    vec![
                        w("move"),
                        n(&f),
                        w("out-of"),
                        n(&d),
                        w("into"),
                        w("the"),
                        w("root"),
                    ],
                )
            }
            MkdirAndMove => {
                g.scenery(&[], true);
                let f = g.any_file("");
                g.filler("", 1, 3, &[], true);
                let d = g.fresh_dir_name();
                let mut ops = vec![Op::Mkdir(d.clone())];
                ops.extend(moves(std::slice::from_ref(&f), &d));
                (
                    ops,
                    vec![d.clone()],
                    vec![
                        w("create"),
                        w("directory"),
                        W::Name(d.clone()),
                        w("then"),
                        w("move"),
                        n(&f),
                        w("into"),
                        W::Name(d),
                    ],
                )
            }
            MoveByExt | CopyByExt | DeleteByExt => {
                let ext = *g.rng.pick(EXTENSIONS);
                g.scenery(&[], true);
                let d = g.dir("");
                let files: Vec<String> = (0..g.rng.range(2, 4))
                    .map(|_| g.file("", ext, false))
                    .collect();
                g.filler("", 1, 4, &[ext], true);
                match self {
                    MoveByExt => (
                        moves(&files, &d),
                        vec![],
                        vec![
                            w("move"),
                            w("all"),
                            w(ext),
                            w("files"),
                            w("from"),
                            w("the"),
                            w("root"),
                            w("into"),
                            n(&d),
                        ],
                    ),
                    CopyByExt => (
                        copies(&files, &d),
                        vec![],
                        vec![
                            w("copy"),
                            w("all"),
                            w(ext),
                            w("files"),
                            w("from"),
                            w("the"),
                            w("root"),
                            w("into"),
                            n(&d),
                        ],
                    ),
                    _ => (
                        files.iter().map(|f| Op::Delete(f.clone())).collect(),
                        vec![],
                        vec![
                            w("delete"),
                            w("all"),
                            w(ext),
                            w("files"),
                            w("in"),
                            w("the"),
                            w("root"),
                        ],
                    ),
                }
            }
            DeleteEmpty => {
                g.scenery(&[], true);
                let empties: Vec<String> = (0..g.rng.range(2, 3))
                    .map(|_| {
                        let e = *g.rng.pick(EXTENSIONS);
                        g.file("", e, true)
                    })
                    .collect();
                g.filler("", 1, 4, &[], false);
                (
                    empties.iter().map(|f| Op::Delete(f.clone())).collect(),
                    vec![],
                    vec![
                        w("delete"),
                        w("the"),
                        w("empty"),
                        w("files"),
                        w("in"),
                        w("the"),
                        w("root"),
                    ],
                )
            }
            Tree3 => {
                g.scenery(&[], true);
                g.filler("", 1, 3, &[], true);
                let a = g.fresh_dir_name();
                let b = g.fresh_dir_name();
                let c = g.fresh_dir_name();
                let ab = join(&a, &b);
                let abc = join(&ab, &c);
                (
                    vec![Op::Mkdir(a.clone()), Op::Mkdir(ab), Op::Mkdir(abc.clone())],
                    vec![a, b, c],
                    vec![w("create"), w("directory"), w("tree"), W::Path(abc)],
                )
            }
            MoveBetweenDirs => {
                g.scenery(&[], true);
                let d = g.dir("");
                let e = g.dir("");
                let f = g.any_file(&d);
                g.filler(&d, 0, 2, &[], true);
                g.filler("", 1, 3, &[], true);
                (
                    moves(std::slice::from_ref(&f), &e),
                    vec![],
                    vec![w("move"), n(&f), w("from"), n(&d), w("into"), n(&e)],
                )
            }
            RenameAndMove => {
                g.scenery(&[], true);
                let d = g.dir("");
                let f = g.any_file("");
                g.filler("", 1, 3, &[], true);
                let ext = &f[f.rfind('.').unwrap_or(f.len())..];
                let to = g.fresh_file_name(ext);
                let mut ops = vec![Op::Rename {
                    path: f.clone(),
                    to_name: to.clone(),
                }];
                ops.extend(moves(std::slice::from_ref(&to), &d));
                (
                    ops,
                    vec![to.clone()],
                    vec![
                        w("rename"),
                        n(&f),
                        w("to"),
                        W::Name(to.clone()),
                        w("then"),
                        w("move"),
                        W::Name(to),
                        w("into"),
                        n(&d),
                    ],
                )
            }
            EmptyOutDir => {
                g.scenery(&[], true);
                let d = g.dir("");
                let files: Vec<String> = (0..g.rng.range(2, 3)).map(|_| g.any_file(&d)).collect();
                g.filler("", 1, 3, &[], true);
                (
                    moves(&files, ""),
                    vec![],
                    vec![
                        w("move"),
                        w("all"),
                        w("files"),
                        w("out-of"),
                        n(&d),
                        w("into"),
                        w("the"),
                        w("root"),
                    ],
                )
            }
            GatherByExt => {
                let ext = *g.rng.pick(EXTENSIONS);
                let t = g.dir("");
                let d = g.dir("");
                let e = g.dir("");
                let mut files = Vec::new();
                for src in [&d, &e] {
                    for _ in 0..g.rng.range(1, 2) {
                        files.push(g.file(src, ext, false));
                    }
                    g.filler(src, 1, 2, &[ext], true);
                }
                g.filler("", 1, 3, &[], true);
                (
                    moves(&files, &t),
                    vec![],
                    vec![
                        w("move"),
                        w("all"),
                        w(ext),
                        w("files"),
                        w("from"),
                        n(&d),
                        w("and"),
                        n(&e),
                        w("into"),
                        n(&t),
                    ],
                )
            }
            OrganizeTwoExts => {
                let x = *g.rng.pick(EXTENSIONS);
                let y = g.ext_except(&[x]);
                let d = g.dir("");
                let e = g.dir("");
                let fx: Vec<String> = (0..g.rng.range(1, 2))
                    .map(|_| g.file("", x, false))
                    .collect();
                let fy: Vec<String> = (0..g.rng.range(1, 2))
                    .map(|_| g.file("", y, false))
                    .collect();
                g.filler("", 1, 3, &[x, y], true);
                let mut ops = moves(&fx, &d);
                ops.extend(moves(&fy, &e));
                (
                    ops,
                    vec![],
                    vec![
                        w("move"),
                        w("all"),
                        w(x),
                        w("files"),
                        w("into"),
                        n(&d),
                        w("and"),
                        w("all"),
                        w(y),
                        w("files"),
                        w("into"),
                        n(&e),
                    ],
                )
            }
            DeleteEmptyTwoDirs => {
                g.scenery(&[], true);
                let d = g.dir("");
                let e = g.dir("");
                let mut ops = Vec::new();
                for dir in [&d, &e] {
                    for _ in 0..g.rng.range(1, 2) {
                        let x = *g.rng.pick(EXTENSIONS);
                        ops.push(Op::Delete(g.file(dir, x, true)));
                    }
                    g.filler(dir, 1, 2, &[], false);
                }
                g.filler("", 1, 3, &[], true);
                (
                    ops,
                    vec![],
                    vec![
                        w("delete"),
                        w("the"),
                        w("empty"),
                        w("files"),
                        w("in"),
                        n(&d),
                        w("and"),
                        n(&e),
                    ],
                )
            }
            TreeAndMove => {
                g.scenery(&[], true);
                let f = g.any_file("");
                g.filler("", 1, 3, &[], true);
                let a = g.fresh_dir_name();
                let b = g.fresh_dir_name();
                let ab = join(&a, &b);
                let mut ops = vec![Op::Mkdir(a.clone()), Op::Mkdir(ab.clone())];
                ops.extend(moves(std::slice::from_ref(&f), &ab));
                (
                    ops,
                    vec![a, b],
                    vec![
                        w("create"),
                        w("directory"),
                        w("tree"),
                        W::Path(ab.clone()),
                        w("then"),
                        w("move"),
                        n(&f),
                        w("into"),
                        W::Path(ab),
                    ],
                )
            }
            BackupDir => {
                g.scenery(&[], true);
                let d = g.dir("");
                let files: Vec<String> = (0..g.rng.range(2, 3)).map(|_| g.any_file(&d)).collect();
                g.filler("", 1, 3, &[], true);
                let b = g.fresh_dir_name();
                let mut ops = vec![Op::Mkdir(b.clone())];
                ops.extend(copies(&files, &b));
                (
                    ops,
                    vec![b.clone()],
                    vec![
                        w("create"),
                        w("directory"),
                        W::Name(b.clone()),
                        w("then"),
                        w("copy"),
                        w("all"),
                        w("files"),
                        w("in"),
                        n(&d),
                        w("into"),
                        W::Name(b),
                    ],
                )
            }
            FlattenNested => {
                g.scenery(&[], true);
                let d = g.dir("");
                let e = g.dir(&d);
                g.filler(&d, 0, 2, &[], true);
                let files: Vec<String> = (0..g.rng.range(2, 3)).map(|_| g.any_file(&e)).collect();
                g.filler("", 1, 3, &[], true);
                (
                    moves(&files, ""),
                    vec![],
                    vec![
                        w("move"),
                        w("all"),
                        w("files"),
                        w("in"),
                        W::Path(e),
                        w("into"),
                        w("the"),
                        w("root"),
                    ],
                )
            }
            ArchiveLogs => {
                let t = g.dir("");
                let mut logs: Vec<String> = (0..g.rng.range(1, 2))
                    .map(|_| g.file("", ".log", false))
                    .collect();
                g.filler("", 1, 3, &[".log"], true);
                logs.extend(
                    (0..g.rng.range(1, 2))
                        .map(|_| g.file(&t, ".log", false))
                        .collect::<Vec<_>>(),
                );
                g.filler(&t, 0, 2, &[".log"], true);
                let a = g.fresh_dir_name();
                let mut ops = vec![Op::Mkdir(a.clone())];
                ops.extend(moves(&logs, &a));
                (
                    ops,
                    vec![a.clone()],
                    vec![
                        w("create"),
                        w("directory"),
                        W::Name(a.clone()),
                        w("then"),
                        w("move"),
                        w("all"),
                        w(".log"),
                        w("files"),
                        w("from"),
                        w("the"),
                        w("root"),
                        w("and"),
                        n(&t),
                        w("into"),
                        W::Name(a),
                    ],
                )
            }
            DeleteByExtNested => {
                let ext = *g.rng.pick(EXTENSIONS);
                g.scenery(&[], true);
                let d = g.dir("");
                let e = g.dir(&d);
                g.filler(&d, 0, 2, &[], true);
                let files: Vec<String> = (0..g.rng.range(2, 3))
                    .map(|_| g.file(&e, ext, false))
                    .collect();
                g.filler(&e, 1, 2, &[ext], true);
                g.filler("", 1, 3, &[], true);
                (
                    files.iter().map(|f| Op::Delete(f.clone())).collect(),
                    vec![],
                    vec![
                        w("delete"),
                        w("all"),
                        w(ext),
                        w("files"),
                        w("in"),
                        W::Path(e),
                    ],
                )
            }
        }
    }
}

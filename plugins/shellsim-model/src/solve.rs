//! Reference solutions: a scripted agent that carries out an instance's goal
//! operations through the file-manager actions (navigating, paging, marking in
//! batches). Tests use it to prove every task is solvable within its step budget.

use sim_kit::{SimAction, SimError};

use crate::fs::{join, name, parent, within};
use crate::sim::{Act, Episode, ROWS};
use crate::tasks::Op;

struct Agent {
    ep: Episode,
    actions: Vec<u32>,
}

impl Agent {
    fn act(&mut self, a: Act) {
        let out = self
            .ep
            .step(a.index())
            .expect("the scripted agent stays in range");
        assert!(!out.invalid, "scripted action {a:?} was masked");
        self.actions.push(a.index());
    }

    /// Page until `path` (in the current directory) shows; its row.
    fn show(&mut self, path: &str) -> usize {
        let i = self
            .ep
            .fs()
            .list(self.ep.cwd())
            .iter()
            .position(|p| p == path)
            .expect("the entry is listed");
        while self.ep.page() != i / ROWS {
            self.act(Act::More);
        }
        i % ROWS
    }

    fn goto(&mut self, dir: &str) {
        while !within(dir, self.ep.cwd()) {
            self.act(Act::Up);
        }
        while self.ep.cwd() != dir {
            let rest = &dir[self.ep.cwd().len()..].trim_start_matches('/');
            let next = join(self.ep.cwd(), rest.split('/').next().expect("non-empty"));
            let k = self.show(&next);
            self.act(Act::Open(k));
        }
    }

    fn slot(&self, n: &str) -> usize {
        self.ep
            .instance()
            .slots
            .iter()
            .position(|s| s == n)
            .expect("the name is a slot")
    }
}

/// Groups consecutive ops that one batch of actions carries out: deletes in one
/// directory, moves/copies from one directory to another.
fn batches(ops: &[Op]) -> Vec<Vec<Op>> {
    let key = |op: &Op| match op {
        Op::Delete(p) => Some((0, parent(p).to_owned(), String::new())),
        Op::Move { from, to_dir } => Some((1, parent(from).to_owned(), to_dir.clone())),
        Op::Copy { from, to_dir } => Some((2, parent(from).to_owned(), to_dir.clone())),
        _ => None,
    };
    let mut out: Vec<Vec<Op>> = Vec::new();
    for op in ops {
        match out.last_mut() {
            Some(last) if key(op).is_some() && key(&last[0]) == key(op) => last.push(op.clone()),
            _ => out.push(vec![op.clone()]),
        }
    }
    out
}

/// Action indices that solve `task_id` with `seed`, ending with `done`.
pub fn reference_solution(task_id: &str, seed: u64) -> Result<Vec<u32>, SimError> {
    let ep = Episode::new(task_id, seed)?;
    let ops = ep.instance().ops.clone();
    let mut a = Agent {
        ep,
        actions: Vec::new(),
    };
    for batch in batches(&ops) {
        match &batch[0] {
            Op::Delete(p) => {
                a.goto(parent(p));
                for op in &batch {
                    let Op::Delete(p) = op else { unreachable!() };
                    let k = a.show(p);
                    a.act(Act::Mark(k));
                }
                a.act(Act::Delete);
            }
            Op::Move { from, to_dir } | Op::Copy { from, to_dir } => {
                let cut = matches!(batch[0], Op::Move { .. });
                a.goto(parent(from));
                for op in &batch {
                    let (Op::Move { from, .. } | Op::Copy { from, .. }) = op else {
                        unreachable!()
                    };
                    let k = a.show(from);
                    a.act(Act::Mark(k));
                }
                a.act(if cut { Act::Cut } else { Act::Copy });
                a.goto(to_dir);
                a.act(Act::Paste);
            }
            Op::Rename { path, to_name } => {
                assert_eq!(a.slot(to_name), 0, "renames take slot 0");
                a.goto(parent(path));
                let k = a.show(path);
                a.act(Act::Rename(k));
            }
            Op::Mkdir(p) => {
                a.goto(parent(p));
                let j = a.slot(name(p));
                a.act(Act::Mkdir(j));
            }
            Op::Touch(p) => {
                a.goto(parent(p));
                let j = a.slot(name(p));
                a.act(Act::Touch(j));
            }
        }
    }
    a.act(Act::Done);
    Ok(a.actions)
}

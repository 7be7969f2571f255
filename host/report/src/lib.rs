//! Reports over saved runs: load a run or a comparison from its directory
//! (`metrics.jsonl`, `eval-*.json`, `tasks.json`, `compare.json`), aggregate it over
//! seeds, draw the plots (PNG and SVG) and write `report.md`. Needs nothing but the
//! files: no plugins, no learner.

pub mod aggregate;
pub mod data;
pub mod grid;
pub mod markdown;
pub mod plot;

use std::path::{Path, PathBuf};

pub use data::{Comparison, Eval, GridEntry, Manifest, Round, Run, RunEntry, TaskMeta};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not what steprl writes there.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong (with the line, for JSON lines).
        message: String,
    },
    /// The directory holds neither a run nor a comparison.
    #[error(
        "{0}: not a steprl run or comparison directory (expected compare.json, or metrics.jsonl from `steprl train`)"
    )]
    NotARun(PathBuf),
    /// A run has no metrics yet.
    #[error("{0}: the run has no finished rounds yet (metrics.jsonl is empty)")]
    Empty(PathBuf),
    /// Drawing failed.
    #[error("drawing {path}: {message}")]
    Plot {
        /// The plot file.
        path: PathBuf,
        /// The drawing backend's message.
        message: String,
    },
}

/// What `render` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The markdown report.
    pub report: PathBuf,
    /// Every plot file (PNG and SVG).
    pub plots: Vec<PathBuf>,
    /// Notes (e.g. PNGs skipped for want of a font).
    pub notes: Vec<String>,
}

/// Load `dir` (a comparison or a single run), draw its plots into `dir/plots/` and
/// write `dir/report.md`.
pub fn render(dir: &Path) -> Result<Rendered, ReportError> {
    let cmp = data::load(dir)?;
    let agg = aggregate::Summary::of(&cmp);
    let (plots, notes) = plot::draw_all(&cmp, &agg, &dir.join("plots"))?;
    let report = dir.join("report.md");
    let text = markdown::report(&cmp, &agg, &plots, dir, &notes);
    std::fs::write(&report, text).map_err(|source| ReportError::Io {
        path: report.clone(),
        source,
    })?;
    Ok(Rendered {
        report,
        plots,
        notes,
    })
}

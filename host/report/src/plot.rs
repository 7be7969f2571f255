//! The plots, each written as SVG and PNG: mean success vs env steps with a band over
//! seeds, tasks above 60% success vs env steps (the paper's Figure 1 analog), success
//! per difficulty at the end, the cache size over time, and the share of rollouts
//! spent per difficulty early and late in training.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::ReportError;
use crate::aggregate::{Curve, MASTERED, Summary};
use crate::data::Comparison;

const SIZE: (u32, u32) = (900, 540);

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Fonts tried for PNG text (SVG text needs none); `STEPRL_FONT` comes first.
const FONT_PATHS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// Register a TTF font for bitmap text once; `Err` says why PNGs are skipped.
fn bitmap_font() -> Result<(), String> {
    static FONT: OnceLock<Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let candidates: Vec<PathBuf> = std::env::var_os("STEPRL_FONT")
            .map(PathBuf::from)
            .into_iter()
            .chain(FONT_PATHS.iter().map(PathBuf::from))
            .collect();
        for path in &candidates {
            if let Ok(bytes) = std::fs::read(path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return Ok(());
                }
            }
        }
        Err(format!(
            "PNG plots skipped: no TTF font found (tried {}); install Debian's fonts-dejavu-core or set STEPRL_FONT to a .ttf file (SVGs need no font)",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
    .clone()
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> ReportError {
    ReportError::Plot {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// A named curve.
pub struct Series<'a> {
    /// Legend label.
    pub name: &'a str,
    /// Points with their band.
    pub curve: &'a Curve,
}

/// One figure's drawing code, for any plotters backend (SVG and PNG alike).
trait Figure {
    /// Draw the figure on `root` and present it.
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// The chart every figure draws on.
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Clear `root` to white and set up a captioned chart with room for the axis labels,
/// x in `0..x_max` and y in `0..y_max`.
fn chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    title: &str,
    x_max: f64,
    y_max: f64,
) -> Result<Chart<'a, DB>, String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)
        .map_err(|e| e.to_string())
}

/// Draw the legend at `position` and present the figure.
fn finish<'a, DB: DrawingBackend + 'a>(
    root: &DrawingArea<DB, Shift>,
    chart: &mut Chart<'a, DB>,
    position: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// Curves vs environment steps, each with its band.
struct Lines<'a> {
    title: &'a str,
    y_label: &'a str,
    x_max: f64,
    y_max: f64,
    /// The y axis counts (tasks): whole-number ticks only.
    counts: bool,
    series: &'a [Series<'a>],
}

/// Stroke width of series `i` of `n`: earlier series are drawn wider, so curves that
/// coincide still show every colour (as nested lines) instead of the last one only.
fn stroke(i: usize, n: usize) -> u32 {
    2 + 2 * (n.saturating_sub(1) - i.min(n.saturating_sub(1))) as u32
}

/// The y range and tick count of a chart: counts get whole-number ticks, and an
/// all-zero chart a 0..1 axis instead of six ticks all reading 0.
fn y_axis(y_max: f64, counts: bool) -> (f64, usize) {
    if counts {
        let top = y_max.ceil().max(1.0);
        let step = (top / 10.0).ceil().max(1.0);
        let top = (top / step).ceil() * step;
        (top, (top / step) as usize + 1)
    } else if y_max > 0.0 {
        (y_max, 6)
    } else {
        (1.0, 6)
    }
}

impl Figure for Lines<'_> {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), String> {
        let Lines {
            title,
            y_label,
            x_max,
            y_max,
            counts,
            series,
        } = *self;
        let (y_top, y_ticks) = y_axis(y_max, counts);
        let mut chart = chart(&root, title, x_max.max(1.0), y_top)?;
        chart
            .configure_mesh()
            .x_desc("environment steps")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_labels(y_ticks)
            .y_label_formatter(&|y| {
                if counts {
                    format!("{y:.0}")
                } else {
                    format!("{y:.2}")
                }
            })
            .y_desc(y_label)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
        let n = series.len();
        for (i, s) in series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            if s.curve.is_empty() {
                continue;
            }
            let band: Vec<(f64, f64)> = s
                .curve
                .iter()
                .map(|p| (p.0, p.3))
                .chain(s.curve.iter().rev().map(|p| (p.0, p.2)))
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(
                    band,
                    color.mix(0.15).filled(),
                )))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(LineSeries::new(
                    s.curve.iter().map(|p| (p.0, p.1)),
                    color.stroke_width(stroke(i, n)),
                ))
                .map_err(|e| e.to_string())?
                .label(s.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        finish(&root, &mut chart, SeriesLabelPosition::UpperLeft)
    }
}

/// Grouped bars: one group per label, one bar per series.
struct Bars<'a> {
    title: &'a str,
    y_label: &'a str,
    groups: &'a [String],
    series: &'a [(&'a str, Vec<f64>)],
}

impl Figure for Bars<'_> {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), String> {
        let Bars {
            title,
            y_label,
            groups,
            series,
        } = *self;
        let highest = series
            .iter()
            .flat_map(|s| s.1.iter().copied())
            .fold(0.0f64, f64::max);
        let (y_max, y_ticks) = y_axis(highest * 1.15, false);
        let mut chart = chart(&root, title, groups.len().max(1) as f64, y_max)?;
        let labels = groups.to_vec();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(groups.len().max(1) * 2 + 1)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                let centre = (x - x.floor() - 0.5).abs() < 0.26;
                if centre {
                    labels.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_labels(y_ticks)
            .y_label_formatter(&|y| format!("{y:.2}"))
            .y_desc(y_label)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
        let width = 0.8 / series.len().max(1) as f64;
        for (m, (name, values)) in series.iter().enumerate() {
            let color = COLORS[m % COLORS.len()];
            chart
                .draw_series(values.iter().enumerate().map(|(g, v)| {
                    let x0 = g as f64 + 0.1 + m as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width * 0.9, *v)], color.filled())
                }))
                .map_err(|e| e.to_string())?
                .label(*name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled())
                });
        }
        finish(&root, &mut chart, SeriesLabelPosition::UpperRight)
    }
}

/// Where the figures go: each is written as SVG, and as PNG when a font is available.
struct Output<'a> {
    dir: &'a Path,
    png: bool,
    files: Vec<PathBuf>,
}

impl Output<'_> {
    /// Write `fig` as `<stem>.svg` (and `<stem>.png`).
    fn figure(&mut self, stem: &str, fig: &impl Figure) -> Result<(), ReportError> {
        let svg = self.dir.join(format!("{stem}.svg"));
        fig.draw(SVGBackend::new(&svg, SIZE).into_drawing_area())
            .map_err(|e| plot_err(&svg, e))?;
        self.files.push(svg);
        if self.png {
            let p = self.dir.join(format!("{stem}.png"));
            fig.draw(BitMapBackend::new(&p, SIZE).into_drawing_area())
                .map_err(|e| plot_err(&p, e))?;
            self.files.push(p);
        }
        Ok(())
    }
}

/// Whether `method` (a `steprl compare` method) resamples from STEP's task cache: STEP
/// and its ablation without augmentation; not the ablations without adaptive
/// resampling, nor T-GRPO or GiGPO.
fn uses_cache(method: &str) -> bool {
    method
        .parse::<steprl_algo::Variant>()
        .is_ok_and(steprl_algo::Variant::uses_cache)
}

/// Draw every plot into `dir`; returns the files and notes.
pub fn draw_all(
    cmp: &Comparison,
    agg: &Summary,
    dir: &Path,
) -> Result<(Vec<PathBuf>, Vec<String>), ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut notes = Vec::new();
    let png = match bitmap_font() {
        Ok(()) => true,
        Err(note) => {
            notes.push(note);
            false
        }
    };
    let mut out = Output {
        dir,
        png,
        files: Vec::new(),
    };

    let series = |f: fn(&crate::aggregate::MethodSummary) -> &Curve| -> Vec<Series<'_>> {
        agg.methods
            .iter()
            .map(|m| Series {
                name: &m.method,
                curve: f(m),
            })
            .collect()
    };
    let x = agg.x_max;
    let success = series(|m| &m.success);
    out.figure(
        "success",
        &Lines {
            title: "Training success: mean ŝ over training tasks (band: min-max over seeds)",
            y_label: "mean ŝ",
            x_max: x,
            y_max: 1.0,
            counts: false,
            series: &success,
        },
    )?;
    let mastered = series(|m| &m.mastered);
    let n_tasks = cmp.tasks.iter().filter(|t| !t.heldout).count().max(
        cmp.runs
            .iter()
            .filter_map(|r| r.last().map(|l| l.task_rate.len()))
            .max()
            .unwrap_or(1),
    ) as f64;
    let title = format!(
        "Training tasks with smoothed success above {:.0}%",
        100.0 * MASTERED
    );
    out.figure(
        "mastered",
        &Lines {
            title: &title,
            y_label: "tasks",
            x_max: x,
            y_max: n_tasks,
            counts: true,
            series: &mastered,
        },
    )?;
    // Only methods that resample from the cache have one to plot.
    let cache: Vec<Series<'_>> = series(|m| &m.cache)
        .into_iter()
        .filter(|s| uses_cache(s.name))
        .collect();
    if !cache.is_empty() {
        let cache_max = agg
            .methods
            .iter()
            .filter(|m| uses_cache(&m.method))
            .flat_map(|m| m.cache.iter().map(|p| p.3))
            .fold(1.0f64, f64::max);
        out.figure(
            "cache",
            &Lines {
                title: "Cache size |C| (tasks with 0 < ŝ < s0)",
                y_label: "tasks",
                x_max: x,
                y_max: cache_max * 1.1,
                counts: true,
                series: &cache,
            },
        )?;
    }
    let levels: Vec<u8> = {
        let mut l: Vec<u8> = cmp.tasks.iter().filter_map(|t| t.difficulty).collect();
        l.sort_unstable();
        l.dedup();
        l
    };
    if !levels.is_empty() {
        let groups: Vec<String> = levels.iter().map(|l| format!("level {l}")).collect();
        let by_level: Vec<(&str, Vec<f64>)> = agg
            .methods
            .iter()
            .map(|m| {
                (
                    m.method.as_str(),
                    levels
                        .iter()
                        .map(|l| m.eval_by_difficulty.get(l).copied().unwrap_or(0.0))
                        .collect(),
                )
            })
            .collect();
        out.figure(
            "difficulty",
            &Bars {
                title: "Greedy success after training, per difficulty (mean over seeds)",
                y_label: "success rate",
                groups: &groups,
                series: &by_level,
            },
        )?;
        let mut share_groups = Vec::new();
        let mut share_series: Vec<(String, Vec<f64>)> = Vec::new();
        for m in &agg.methods {
            share_groups.push(format!("{} early", m.method));
            share_groups.push(format!("{} late", m.method));
        }
        for l in &levels {
            share_series.push((
                format!("level {l}"),
                agg.methods
                    .iter()
                    .flat_map(|m| {
                        [
                            m.share_early.get(l).copied().unwrap_or(0.0),
                            m.share_late.get(l).copied().unwrap_or(0.0),
                        ]
                    })
                    .collect(),
            ));
        }
        let share_refs: Vec<(&str, Vec<f64>)> = share_series
            .iter()
            .map(|(n, v)| (n.as_str(), v.clone()))
            .collect();
        out.figure(
            "effort",
            &Bars {
                title: "Share of rollouts per difficulty, first vs last third of training",
                y_label: "share of rollouts",
                groups: &share_groups,
                series: &share_refs,
            },
        )?;
    }
    Ok((out.files, notes))
}

#[cfg(test)]
mod tests {
    use super::{stroke, uses_cache, y_axis};

    #[test]
    fn count_axes_tick_whole_numbers_and_an_empty_axis_still_spans_0_to_1() {
        // 6 tasks: ticks 0..=6, one per task; 37 tasks: every 4th, to 40.
        assert_eq!(y_axis(6.0, true), (6.0, 7));
        assert_eq!(y_axis(37.0, true), (40.0, 11));
        assert_eq!(y_axis(0.0, true), (1.0, 2));
        // Rates: all zero gets 0..1, not ticks that all read 0.
        assert_eq!(y_axis(0.0, false), (1.0, 6));
        assert_eq!(y_axis(0.4, false), (0.4, 6));
    }

    #[test]
    fn coinciding_curves_stay_visible_and_only_cache_users_get_a_cache_plot() {
        // Earlier series wider: identical curves nest instead of hiding each other.
        let w: Vec<u32> = (0..4).map(|i| stroke(i, 4)).collect();
        assert_eq!(w, [8, 6, 4, 2]);
        assert_eq!(stroke(0, 1), 2);
        assert!(uses_cache("step") && uses_cache("step-no-aug"));
        for m in ["tgrpo", "gigpo", "step-no-resample", "step-no-both"] {
            assert!(!uses_cache(m), "{m}");
        }
    }
}

//! The plots, each written as SVG and PNG: mean success vs env steps with a band over
//! seeds, tasks above 60% success vs env steps (the paper's Figure 1 analog), success
//! per difficulty at the end, the cache size over time, and the share of rollouts
//! spent per difficulty early and late in training.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::ReportError;
use crate::aggregate::{Curve, MASTERED, Summary};
use crate::data::Comparison;

const SIZE: (u32, u32) = (900, 540);

/// Draws one figure on an SVG drawing area.
type DrawSvg<'a> = &'a dyn Fn(DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>;
/// Draws one figure on a bitmap drawing area.
type DrawPng<'a> = &'a dyn Fn(DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), String>;
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

fn draw_lines<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    x_max: f64,
    y_max: f64,
    series: &[Series<'_>],
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max.max(1.0), 0f64..y_max.max(1e-9))
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("environment steps")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc(y_label)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
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
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(s.name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// Grouped bars: one group per label, one bar per series.
fn draw_bars<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    groups: &[String],
    series: &[(&str, Vec<f64>)],
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let y_max = series
        .iter()
        .flat_map(|s| s.1.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.15;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..groups.len().max(1) as f64, 0f64..y_max)
        .map_err(|e| e.to_string())?;
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
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
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
    let mut files = Vec::new();
    let mut notes = Vec::new();
    let png = match bitmap_font() {
        Ok(()) => true,
        Err(note) => {
            notes.push(note);
            false
        }
    };
    let mut figure =
        |stem: &str, draw_svg: DrawSvg<'_>, draw_png: DrawPng<'_>| -> Result<(), ReportError> {
            let svg = dir.join(format!("{stem}.svg"));
            draw_svg(SVGBackend::new(&svg, SIZE).into_drawing_area())
                .map_err(|e| plot_err(&svg, e))?;
            files.push(svg);
            if png {
                let p = dir.join(format!("{stem}.png"));
                draw_png(BitMapBackend::new(&p, SIZE).into_drawing_area())
                    .map_err(|e| plot_err(&p, e))?;
                files.push(p);
            }
            Ok(())
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
    figure(
        "success",
        &|a| {
            draw_lines(
                a,
                "Training success: mean ŝ over training tasks (band: min-max over seeds)",
                "mean ŝ",
                x,
                1.0,
                &success,
            )
        },
        &|a| {
            draw_lines(
                a,
                "Training success: mean ŝ over training tasks (band: min-max over seeds)",
                "mean ŝ",
                x,
                1.0,
                &success,
            )
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
    figure(
        "mastered",
        &|a| draw_lines(a, &title, "tasks", x, n_tasks, &mastered),
        &|a| draw_lines(a, &title, "tasks", x, n_tasks, &mastered),
    )?;
    let cache = series(|m| &m.cache);
    let cache_max = agg
        .methods
        .iter()
        .flat_map(|m| m.cache.iter().map(|p| p.3))
        .fold(1.0f64, f64::max);
    figure(
        "cache",
        &|a| {
            draw_lines(
                a,
                "Cache size |C| (tasks with 0 < ŝ < s0)",
                "tasks",
                x,
                cache_max * 1.1,
                &cache,
            )
        },
        &|a| {
            draw_lines(
                a,
                "Cache size |C| (tasks with 0 < ŝ < s0)",
                "tasks",
                x,
                cache_max * 1.1,
                &cache,
            )
        },
    )?;
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
        let t = "Greedy success after training, per difficulty (mean over seeds)";
        figure(
            "difficulty",
            &|a| draw_bars(a, t, "success rate", &groups, &by_level),
            &|a| draw_bars(a, t, "success rate", &groups, &by_level),
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
        let t = "Share of rollouts per difficulty, first vs last third of training";
        figure(
            "effort",
            &|a| draw_bars(a, t, "share of rollouts", &share_groups, &share_refs),
            &|a| draw_bars(a, t, "share of rollouts", &share_groups, &share_refs),
        )?;
    }
    Ok((files, notes))
}

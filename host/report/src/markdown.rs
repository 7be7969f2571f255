//! The markdown report: what ran (config, methods, seeds, budget, machine, command),
//! the summary table, env steps to reach the reference method's final success, the
//! ablation table in the paper's shape, held-out success, per-difficulty success,
//! rollout effort per difficulty, and links to the plots.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::aggregate::{MASTERED, MethodSummary, Summary};
use crate::data::Comparison;

fn pct(v: Option<(f64, f64)>) -> String {
    match v {
        Some((m, s)) => format!("{:.1} ± {:.1}", 100.0 * m, 100.0 * s),
        None => "–".into(),
    }
}

fn steps(v: Option<f64>) -> String {
    v.map_or_else(|| "not reached".into(), |s| format!("{s:.0}"))
}

fn summary_table(out: &mut String, agg: &Summary) {
    let _ = writeln!(
        out,
        "| method | seeds | final mean ŝ % (train tasks) | greedy success % (train tasks) | held-out % | env steps | trajectories | update samples | aug samples | rounds with no update | wall s |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    for m in &agg.methods {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1} | {:.0} |",
            m.method,
            m.seeds,
            pct(m.final_success),
            pct(m.eval_train),
            pct(m.eval_heldout),
            m.env_steps,
            m.trajectories,
            m.samples,
            m.aug_samples,
            m.degenerate,
            m.wall_s
        );
    }
}

/// The steps-to-target table (or why there is none).
pub(crate) fn efficiency_section(out: &mut String, agg: &Summary) {
    let (Some(reference), Some(target)) = (&agg.reference, agg.target) else {
        let _ = writeln!(
            out,
            "No T-GRPO runs: the steps-to-target table needs `tgrpo` among the methods.\n"
        );
        return;
    };
    if target <= 0.0 {
        let _ = writeln!(
            out,
            "{reference}'s final training success is 0.0%: there is no target to reach (every method starts there), so there is no steps-to-target table.\n"
        );
        return;
    }
    let base = agg.method(reference).and_then(|m| m.steps_to_target);
    let _ = writeln!(
        out,
        "Target: {reference}'s final training success, {:.1}% (mean ŝ over the training tasks after its last round, mean over seeds). Env steps each method's mean curve needed to reach it (grid of {} points over the budget):\n",
        100.0 * target,
        crate::aggregate::GRID
    );
    let _ = writeln!(
        out,
        "| method | env steps to target | ratio to {reference} |"
    );
    let _ = writeln!(out, "|---|---|---|");
    for m in &agg.methods {
        let ratio = match (m.steps_to_target, base) {
            (Some(s), Some(b)) if b > 0.0 => format!("{:.2}", s / b),
            _ => "–".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {ratio} |",
            m.method,
            steps(m.steps_to_target)
        );
    }
    out.push('\n');
}

fn ablation(out: &mut String, agg: &Summary) {
    let present: Vec<(&str, &MethodSummary)> = steprl_algo::Variant::ABLATION
        .iter()
        .filter_map(|v| agg.method(v.name()).map(|m| (v.ablation_label(), m)))
        .collect();
    if present.len() < 2 {
        return;
    }
    let _ = writeln!(out, "## Ablation (the paper's shape)\n");
    let _ = writeln!(
        out,
        "| variant | greedy success % (train tasks) | final mean ŝ % (train tasks) | held-out % |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for (label, m) in present {
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} |",
            pct(m.eval_train),
            pct(m.final_success),
            pct(m.eval_heldout)
        );
    }
    out.push('\n');
}

fn lr_grid(out: &mut String, cmp: &Comparison) {
    let cells = crate::grid::cells(cmp);
    if cells.is_empty() {
        if !cmp.manifest.lr.is_empty() {
            let lrs: Vec<String> = cmp
                .manifest
                .lr
                .iter()
                .map(|(m, lr)| format!("{m} {lr:e}"))
                .collect();
            let _ = writeln!(out, "## Learning rates\n\n{}\n", lrs.join(", "));
        }
        return;
    }
    let mut lrs: Vec<f64> = cells.iter().map(|c| c.lr).collect();
    lrs.sort_by(f64::total_cmp);
    lrs.dedup();
    let mut seeds: Vec<u64> = cmp.manifest.grid.iter().map(|e| e.seed).collect();
    seeds.sort_unstable();
    seeds.dedup();
    let seeds: Vec<String> = seeds.iter().map(u64::to_string).collect();
    let _ = writeln!(
        out,
        "## Learning-rate grid
"
    );
    let _ = writeln!(
        out,
        "Every method trained at each learning rate with grid seeds {} (disjoint from the comparison's seeds) at the same budget; the cell is the final mean ŝ over the training tasks (%, mean ± std over the grid seeds). The comparison above uses each method's best rate (**bold**), picked on the training split only.\n",
        seeds.join(", ")
    );
    let header: Vec<String> = lrs.iter().map(|l| format!("lr {l:e}")).collect();
    let _ = writeln!(out, "| method | {} |", header.join(" | "));
    let _ = writeln!(out, "|---|{}", "---|".repeat(lrs.len()));
    for m in &cmp.manifest.methods {
        let picked = cmp.manifest.lr.get(m);
        let row: Vec<String> = lrs
            .iter()
            .map(|lr| {
                let c = cells.iter().find(|c| &c.method == m && c.lr == *lr);
                let v = pct(c.and_then(|c| c.mean_std()));
                if picked == Some(lr) {
                    format!("**{v}**")
                } else {
                    v
                }
            })
            .collect();
        let _ = writeln!(out, "| {m} | {} |", row.join(" | "));
    }
    out.push('\n');
}

fn per_difficulty(out: &mut String, agg: &Summary) {
    let mut levels: Vec<u8> = agg
        .methods
        .iter()
        .flat_map(|m| m.eval_by_difficulty.keys().copied())
        .collect();
    levels.sort_unstable();
    levels.dedup();
    if levels.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Per difficulty\n");
    let header: Vec<String> = levels.iter().map(|l| format!("level {l}")).collect();
    let _ = writeln!(out, "Greedy success after training (%, mean over seeds):\n");
    let _ = writeln!(out, "| method | {} |", header.join(" | "));
    let _ = writeln!(out, "|---|{}", "---|".repeat(levels.len()));
    for m in &agg.methods {
        let cells: Vec<String> = levels
            .iter()
            .map(|l| {
                m.eval_by_difficulty
                    .get(l)
                    .map_or("–".into(), |v| format!("{:.1}", 100.0 * v))
            })
            .collect();
        let _ = writeln!(out, "| {} | {} |", m.method, cells.join(" | "));
    }
    let _ = writeln!(
        out,
        "\nShare of rollouts per difficulty (%), first third → last third of training:\n"
    );
    let _ = writeln!(out, "| method | {} |", header.join(" | "));
    let _ = writeln!(out, "|---|{}", "---|".repeat(levels.len()));
    for m in &agg.methods {
        let cells: Vec<String> = levels
            .iter()
            .map(|l| {
                format!(
                    "{:.1} → {:.1}",
                    100.0 * m.share_early.get(l).copied().unwrap_or(0.0),
                    100.0 * m.share_late.get(l).copied().unwrap_or(0.0)
                )
            })
            .collect();
        let _ = writeln!(out, "| {} | {} |", m.method, cells.join(" | "));
    }
    out.push('\n');
}

/// The report's text; plot links are relative to `dir`.
pub fn report(
    cmp: &Comparison,
    agg: &Summary,
    plots: &[PathBuf],
    dir: &Path,
    notes: &[String],
) -> String {
    let mut out = String::new();
    let m = &cmp.manifest;
    let _ = writeln!(out, "# steprl report\n");
    let _ = writeln!(out, "- config: `{}`", m.config.display());
    let _ = writeln!(out, "- methods: {}", m.methods.join(", "));
    let seeds: Vec<String> = m.seeds.iter().map(u64::to_string).collect();
    let _ = writeln!(out, "- seeds: {}", seeds.join(", "));
    let _ = writeln!(
        out,
        "- budget: {} environment steps per run",
        m.budget_env_steps
    );
    if !m.machine.is_empty() {
        let _ = writeln!(out, "- machine: {}", m.machine);
    }
    if !m.command.is_empty() {
        let _ = writeln!(out, "- command: `{}`", m.command);
    }
    let heldout: Vec<&str> = cmp
        .tasks
        .iter()
        .filter(|t| t.heldout)
        .map(|t| t.id.as_str())
        .collect();
    if !heldout.is_empty() {
        let _ = writeln!(
            out,
            "- held-out tasks ({}): {}",
            heldout.len(),
            heldout.join(", ")
        );
    }
    let warm: Vec<f64> = cmp
        .runs
        .iter()
        .filter_map(|r| r.eval_warmstart.as_ref().and_then(|e| e.mean()))
        .collect();
    if let Some(w) = crate::aggregate::mean_std(&warm) {
        let _ = writeln!(
            out,
            "- warm start: every run cloned the config's demonstrations before its first round; greedy success on the training tasks after it: {}% (mean ± std over {} runs)",
            pct(Some(w)),
            warm.len()
        );
    }
    let _ = writeln!(
        out,
        "- runs found: {} of {}\n",
        cmp.runs.len(),
        m.runs.len().max(cmp.runs.len())
    );
    let _ = writeln!(out, "## Summary\n");
    summary_table(&mut out, agg);
    out.push('\n');
    efficiency_section(&mut out, agg);
    ablation(&mut out, agg);
    lr_grid(&mut out, cmp);
    per_difficulty(&mut out, agg);
    let _ = writeln!(out, "## Plots\n");
    let _ = writeln!(
        out,
        "Mastered = smoothed success ŝ above {:.0}% (the paper's Figure 1 count).\n",
        100.0 * MASTERED
    );
    for p in plots
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
    {
        let rel = p.strip_prefix(dir).unwrap_or(p);
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy())
            .unwrap_or_default();
        let _ = writeln!(out, "![{stem}]({})\n", rel.display());
    }
    for n in notes {
        let _ = writeln!(out, "> {n}\n");
    }
    out
}

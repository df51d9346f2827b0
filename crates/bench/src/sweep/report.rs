//! `loadpart bench report`: per model, Markdown tables of every policy in every cell (mean with
//! its 95% confidence interval over repetitions, p50, p95, p99, prediction error, top-1
//! agreement with local execution, fallback and refusal rates), loadpart against the references
//! (paired per repetition), and SVG figures.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, ensure};

use super::analysis::{CellData, cells, fixed_cut, prediction_error, versus};
use super::policies::POLICIES;
use super::record::Record;
use super::results::{Line, completed, read_lines};
use super::stats::{ci95, mean, quantile, with_ci};

/// Tables and figures from a results file of `loadpart bench run` (only cell repetitions that
/// completed count). Writes report.md and one latency and one cut figure per model.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The results file.
    #[arg(long, default_value = "target/bench/results.jsonl")]
    results: PathBuf,
    /// Directory for report.md and the SVG figures.
    #[arg(long, default_value = "target/bench/report")]
    out: PathBuf,
}

fn pct(n: usize, d: usize) -> f64 {
    if d == 0 {
        f64::NAN
    } else {
        100.0 * n as f64 / d as f64
    }
}

/// The rows of one cell's table.
fn cell_table(md: &mut String, c: &CellData<'_>) {
    let _ = writeln!(
        md,
        "\n#### device x{}, {} Mbit/s, load {} ({} repetitions)\n",
        c.at.slowdown,
        c.at.mbit,
        c.at.load_label(),
        c.reps().len()
    );
    md.push_str("| policy | n | mean ms (95% CI) | p50 | p95 | p99 | pred. err. % | top-1 % | fallback % | refused % | offloaded % | on device |\n");
    md.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let mut variants: Vec<String> = POLICIES.iter().map(|p| p.to_string()).collect();
    variants.push("best-fixed".into());
    for v in variants {
        let rs = c.of(&v);
        if rs.is_empty() {
            continue;
        }
        let lat: Vec<f64> = rs.iter().map(|r| r.measured.total).collect();
        let reps: Vec<f64> = c.rep_means(&v).into_iter().map(|x| x.1).collect();
        let n = rs.len();
        let label = if v == "best-fixed" {
            let c = fixed_cut(rs[0]);
            let short: String = c.chars().take(40).collect();
            format!(
                "best fixed cut ({short}{})",
                if c.len() > 40 { "..." } else { "" }
            )
        } else {
            v.clone()
        };
        let _ = writeln!(
            md,
            "| {label} | {n} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} |",
            with_ci(mean(&reps), ci95(&reps), 1),
            quantile(&lat, 0.5),
            quantile(&lat, 0.95),
            quantile(&lat, 0.99),
            prediction_error(&rs),
            pct(rs.iter().filter(|r| r.top1_match).count(), n),
            pct(rs.iter().filter(|r| r.fell_back()).count(), n),
            pct(rs.iter().filter(|r| r.refused).count(), n),
            pct(rs.iter().filter(|r| r.route == "offloaded").count(), n),
            mean(&rs.iter().map(|r| r.head_fraction).collect::<Vec<_>>()),
        );
    }
}

/// One model's headline figures, for the summary across models.
#[derive(Debug, Default)]
struct ModelSummary {
    /// Reduction against `neurosurgeon` per loaded cell, %.
    vs_neurosurgeon: Vec<f64>,
    /// Reduction against `loadpart-original` per loaded cell, %.
    vs_original: Vec<f64>,
    /// Cells within 5% of the best fixed cut, and cells with a best fixed cut.
    within: (usize, usize),
    /// Cells whose gap to the best fixed cut is not shown above 5%: the 95% interval's lower
    /// end is at most 5% (the repetitions cannot tell the gap from 5% or less).
    within_ci: usize,
}

/// `mean, max, min` of `xs` as a table's cells (empty ones when there is nothing).
fn spread(xs: &[f64]) -> String {
    if xs.is_empty() {
        return " | | ".into();
    }
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
    format!("{:.1} | {max:.1} | {min:.1}", mean(xs))
}

/// The summary across models: per model and over all, loadpart's reduction against the
/// load-unaware baselines over the loaded cells, and how often it was within 5% of the best
/// fixed cut.
fn summary_section(md: &mut String, summaries: &[(String, ModelSummary)]) {
    md.push_str(
        "
## Summary

",
    );
    md.push_str("Reduction of loadpart's mean latency over the loaded cells (load > 0), per cell paired per repetition; then the mean, largest and smallest over cells.

");
    md.push_str("| model | loaded cells | vs neurosurgeon: mean % | max % | min % | vs loadpart-original: mean % | max % | min % | within 5% of best fixed cut | not shown above 5% (95% CI) |
");
    md.push_str(
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
",
    );
    let mut all = ModelSummary::default();
    let row = |md: &mut String, name: &str, m: &ModelSummary| {
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {} | {} of {} | {} of {} |",
            m.vs_neurosurgeon.len(),
            spread(&m.vs_neurosurgeon),
            spread(&m.vs_original),
            m.within.0,
            m.within.1,
            m.within_ci,
            m.within.1
        );
    };
    for (name, m) in summaries {
        row(md, name, m);
        all.vs_neurosurgeon.extend(&m.vs_neurosurgeon);
        all.vs_original.extend(&m.vs_original);
        all.within.0 += m.within.0;
        all.within.1 += m.within.1;
        all.within_ci += m.within_ci;
    }
    if summaries.len() > 1 {
        row(md, "**all models**", &all);
    }
}

/// The Markdown section of one model.
fn model_section(
    md: &mut String,
    model: &str,
    cs: &[CellData<'_>],
    capacity: Option<f64>,
) -> ModelSummary {
    let _ = writeln!(md, "\n## {model}\n");
    if let Some(c) = capacity {
        let _ = writeln!(
            md,
            "Server capacity at the start of the sweep: {c:.1} requests/s (full offload, closed loop); load levels are fractions of it.\n"
        );
    }
    md.push_str("### loadpart against the references\n\n");
    md.push_str("Reduction = 1 - loadpart / reference (positive: loadpart faster); gap = loadpart / reference - 1 (positive: loadpart slower). Paired per repetition, mean ± 95% CI over repetitions.\n\n");
    md.push_str("| device | Mbit/s | load | loadpart ms | vs neurosurgeon % | vs loadpart-original % | gap to best fixed % | gap to oracle % |\n");
    md.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let mut loaded = Vec::new();
    let mut loaded_original = Vec::new();
    let mut within = (0usize, 0usize);
    let mut within_ci = 0usize;
    for c in cs {
        let v = versus(c);
        let lp: Vec<f64> = c.rep_means("loadpart").into_iter().map(|x| x.1).collect();
        let _ = writeln!(
            md,
            "| x{} | {} | {} | {} | {} | {} | {} | {} |",
            c.at.slowdown,
            c.at.mbit,
            c.at.load_label(),
            with_ci(mean(&lp), ci95(&lp), 1),
            with_ci(v.vs_neurosurgeon.0, v.vs_neurosurgeon.1, 1),
            with_ci(v.vs_original.0, v.vs_original.1, 1),
            with_ci(v.gap_best.0, v.gap_best.1, 1),
            with_ci(v.gap_oracle.0, v.gap_oracle.1, 1),
        );
        if c.at.load > 0.0 && v.vs_neurosurgeon.0.is_finite() {
            loaded.push(v.vs_neurosurgeon.0);
        }
        if c.at.load > 0.0 && v.vs_original.0.is_finite() {
            loaded_original.push(v.vs_original.0);
        }
        if v.gap_best.0.is_finite() {
            within.1 += 1;
            if v.gap_best.0 <= 5.0 {
                within.0 += 1;
            }
            // No interval (one repetition) counts as its point estimate.
            let half = if v.gap_best.1.is_finite() {
                v.gap_best.1
            } else {
                0.0
            };
            if v.gap_best.0 - half <= 5.0 {
                within_ci += 1;
            }
        }
    }
    if !loaded.is_empty() {
        let _ = writeln!(
            md,
            "\nAcross the {} loaded cells (load > 0): loadpart's mean latency reduction against neurosurgeon is {:.1}% on average, {:.1}% at most, {:.1}% at least.",
            loaded.len(),
            mean(&loaded),
            loaded.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            loaded.iter().copied().fold(f64::INFINITY, f64::min),
        );
    }
    let _ = writeln!(
        md,
        "loadpart is within 5% of the best fixed cut in hindsight (mean over repetitions) in {} of {} cells; in {} of them the 95% interval of the gap reaches 5% or less.",
        within.0, within.1, within_ci
    );
    md.push_str("\n### Per policy over all cells\n\n| policy | requests | fallback % | refused % | top-1 % | pred. err. % |\n|---|---:|---:|---:|---:|---:|\n");
    let all: Vec<&Record> = cs.iter().flat_map(|c| c.records.iter().copied()).collect();
    for p in POLICIES {
        let rs: Vec<&Record> = all.iter().filter(|r| r.variant == p).copied().collect();
        let n = rs.len();
        let _ = writeln!(
            md,
            "| {p} | {n} | {:.1} | {:.1} | {:.1} | {:.1} |",
            pct(rs.iter().filter(|r| r.fell_back()).count(), n),
            pct(rs.iter().filter(|r| r.refused).count(), n),
            pct(rs.iter().filter(|r| r.top1_match).count(), n),
            prediction_error(&rs),
        );
    }
    md.push_str("\n### Latency per cell and policy (ms)\n");
    for c in cs {
        cell_table(md, c);
    }
    ModelSummary {
        vs_neurosurgeon: loaded,
        vs_original: loaded_original,
        within,
        within_ci,
    }
}

pub fn run(args: ReportArgs) -> Result<ExitCode> {
    let lines = read_lines(&args.results)?;
    let (records, dones) = completed(lines);
    ensure!(
        !records.is_empty(),
        "no completed cell repetitions in {}",
        args.results.display()
    );
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut links = BTreeSet::new();
    let mut capacities: Vec<(String, f64)> = Vec::new();
    let mut seconds = 0.0;
    for d in &dones {
        if let Line::Done {
            link,
            cell,
            capacity_per_s,
            seconds: s,
            ..
        } = d
        {
            links.insert(link.clone());
            seconds += s;
            if !capacities.iter().any(|(m, _)| *m == cell.model) {
                capacities.push((cell.model.clone(), *capacity_per_s));
            }
        }
    }
    let mut md = String::from("# loadpart evaluation report\n\n");
    let _ = writeln!(
        md,
        "From `{}`: {} requests in {} completed cell repetitions ({:.0} s of measurement). Link: {}.\n",
        args.results.display(),
        records.len(),
        dones.len(),
        seconds,
        links.into_iter().collect::<Vec<_>>().join("; ")
    );
    md.push_str("Policies go round-robin request by request through one client: `server-raw` sends FP32 inputs, `server` encoded ones; `oracle` is told the configured link rate and the server's load polled just before the request, its backlog included (it shares loadpart's cost model: a reference, not a bound; on the `tc htb` test bed short transfers run faster than the configured rate, by up to the shaper's burst); `best fixed cut` is the best in hindsight of the forced top cuts, full local and encoded full offload. Prediction error: mean |measured - predicted| / measured. Top-1: same class as local FP32 execution of the same input. Fallback: the server did not compute the result (refused, failed or past the deadline, finished on the device).\n");
    let mut models: Vec<String> = Vec::new();
    for r in &records {
        if !models.contains(&r.cell.model) {
            models.push(r.cell.model.clone());
        }
    }
    let mut figures = Vec::new();
    let mut sections = String::new();
    let mut summaries = Vec::new();
    for m in &models {
        let rs: Vec<&Record> = records.iter().filter(|r| r.cell.model == *m).collect();
        let cs = cells(&rs);
        let cap = capacities.iter().find(|(x, _)| x == m).map(|x| x.1);
        summaries.push((m.clone(), model_section(&mut sections, m, &cs, cap)));
        let stem: String = m
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        for (kind, f) in super::plot::write(&args.out, &stem, m, &cs)? {
            let _ = writeln!(sections, "\n![{kind} of {m}]({f})");
            figures.push(f);
        }
    }
    summary_section(&mut md, &summaries);
    md.push_str(&sections);
    let path = args.out.join("report.md");
    std::fs::write(&path, &md).with_context(|| format!("writing {}", path.display()))?;
    println!("report: {}", path.display());
    for f in figures {
        println!("figure: {}", args.out.join(f).display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_adds_models_up_and_counts_cells_not_shown_above_five_percent() {
        let a = ModelSummary {
            vs_neurosurgeon: vec![10.0, -2.0],
            vs_original: vec![1.0],
            within: (1, 3),
            within_ci: 2,
        };
        let b = ModelSummary {
            within: (2, 2),
            within_ci: 2,
            ..ModelSummary::default()
        };
        let mut md = String::new();
        summary_section(&mut md, &[("a".into(), a), ("b".into(), b)]);
        assert!(
            md.contains("| a | 2 | 4.0 | 10.0 | -2.0 | 1.0 | 1.0 | 1.0 | 1 of 3 | 2 of 3 |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| **all models** | 2 | 4.0 | 10.0 | -2.0 | 1.0 | 1.0 | 1.0 | 3 of 5 | 4 of 5 |"
            ),
            "{md}"
        );
    }
}

//! `loadpart bench summary`: the evaluation's headline from its three experiments: the paper
//! setting (a sweep without admission control or deadline), the product setting (a sweep with
//! admission control), and populations of devices. Writes `summary.md` (the tables),
//! `summary.json` (the figures the issue tracker and the docs quote) and SVG figures.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use loadpart_chart::{Chart, Legend, PALETTE, Series};
use serde::Serialize;

use crate::population;
use crate::sweep::evaluation::{self, Cell, Reduction};
use crate::sweep::record::Record;
use crate::sweep::results::{Line, completed, read_lines};
use crate::sweep::stats::{mean, quantile};

/// The evaluation's summary: tables, `summary.json` and figures from the results of a paper
/// setting sweep (admission off, no deadline), a product setting sweep (admission on) and a
/// population experiment. Reductions are of `loadpart` against each reference, paired per round
/// and pooled over the loaded cells, with 95% bootstrap intervals clustered by repetition.
#[derive(Debug, clap::Args)]
pub struct SummaryArgs {
    /// Results of the paper setting sweep (`bench run`, admission off, deadline none).
    #[arg(long)]
    paper: Option<PathBuf>,
    /// Results of the product setting sweep (`bench run`, admission on).
    #[arg(long)]
    product: Option<PathBuf>,
    /// Results of the population experiment (`bench population`).
    #[arg(long)]
    population: Option<PathBuf>,
    /// Directory for summary.md, summary.json and the figures.
    #[arg(long, default_value = "target/bench/summary")]
    out: PathBuf,
}

/// One reference's comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Versus {
    pub mean_pct: f64,
    pub mean_ci: [f64; 2],
    pub p95_pct: f64,
    pub p95_ci: [f64; 2],
    /// The cell where loadpart gains most, and its mean reduction.
    pub best_cell: String,
    pub best_cell_pct: f64,
}

/// A sweep's headline.
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    /// Cells with load (stationary and varying) / stationary loaded / varying.
    pub loaded_cells: usize,
    pub stationary_cells: usize,
    pub varying_cells: usize,
    /// Mean measured utilization of the loaded cells.
    pub mean_utilization: f64,
    pub vs_neurosurgeon: Versus,
    pub vs_neurosurgeon_risk: Option<Versus>,
    pub vs_loadpart_original: Option<Versus>,
    pub vs_loadpart_norisk: Option<Versus>,
    /// The share of the gain on `neurosurgeon` that holds against `neurosurgeon+risk`
    /// (reduction against it / reduction against `neurosurgeon`): how much is load awareness
    /// proper rather than learning from misses.
    pub kept_vs_neurosurgeon_risk: Option<f64>,
    /// The same reduction in cells without load, where load awareness cannot matter.
    pub placebo_load0: Reduction,
    /// Against the best fixed cut chosen on held-out repetitions: stationary and varying cells.
    pub vs_best_fixed_stationary: Reduction,
    pub vs_best_fixed_varying: Reduction,
    /// Stationary cells where loadpart is equivalent (within 5%) to that cut.
    pub equivalent_cells: usize,
    pub loadpart_fallback_pct: f64,
    pub neurosurgeon_fallback_pct: f64,
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub paper: Option<Setting>,
    pub product: Option<Setting>,
    pub population: Vec<population::report::Comparison>,
}

fn versus(cells: &[&Cell<'_>], reference: &str) -> Option<Versus> {
    let has = cells
        .iter()
        .any(|c| c.reps.values().flatten().any(|r| r.variant == reference));
    if !has {
        return None;
    }
    let m = evaluation::mean_reduction(cells, "loadpart", reference, 11);
    let q = evaluation::p95_reduction(cells, "loadpart", reference, 12);
    let (best_cell, best_cell_pct) =
        evaluation::best_cell(cells, "loadpart", reference).unwrap_or((String::new(), f64::NAN));
    Some(Versus {
        mean_pct: m.pct,
        mean_ci: m.ci,
        p95_pct: q.pct,
        p95_ci: q.ci,
        best_cell,
        best_cell_pct,
    })
}

/// Completed records and each cell's measured utilization (by cell key).
fn load(path: &Path) -> Result<(Vec<Record>, std::collections::BTreeMap<String, f64>)> {
    let (records, dones) = completed(read_lines(path)?);
    let util = dones
        .into_iter()
        .filter_map(|l| match l {
            Line::Done {
                key,
                utilization: Some(u),
                ..
            } => Some((key, u)),
            _ => None,
        })
        .collect();
    Ok((records, util))
}

fn setting(records: &[Record], util: &std::collections::BTreeMap<String, f64>) -> Setting {
    let refs: Vec<&Record> = records.iter().collect();
    let cells = evaluation::cells(&refs);
    let loaded: Vec<&Cell> = cells.iter().filter(|c| c.key.loaded()).collect();
    let stationary: Vec<&Cell> = loaded.iter().filter(|c| !c.key.varies()).copied().collect();
    let varying: Vec<&Cell> = loaded.iter().filter(|c| c.key.varies()).copied().collect();
    let idle: Vec<&Cell> = cells.iter().filter(|c| !c.key.loaded()).collect();
    let utils: Vec<f64> = records
        .iter()
        .filter(|r| r.cell.load > 0.0)
        .filter_map(|r| util.get(&r.cell.key()).copied())
        .collect();
    let vs_ns = versus(&loaded, "neurosurgeon").unwrap_or(Versus {
        mean_pct: f64::NAN,
        mean_ci: [f64::NAN; 2],
        p95_pct: f64::NAN,
        p95_ci: [f64::NAN; 2],
        best_cell: String::new(),
        best_cell_pct: f64::NAN,
    });
    let vs_nsr = versus(&loaded, "neurosurgeon+risk");
    let kept = kept_share(vs_ns.mean_pct, vs_nsr.as_ref().map(|v| v.mean_pct));
    Setting {
        loaded_cells: loaded.len(),
        stationary_cells: stationary.len(),
        varying_cells: varying.len(),
        mean_utilization: mean(&utils),
        vs_neurosurgeon_risk: vs_nsr,
        vs_loadpart_original: versus(&loaded, "loadpart-original"),
        vs_loadpart_norisk: versus(&loaded, "loadpart-norisk"),
        kept_vs_neurosurgeon_risk: kept,
        placebo_load0: evaluation::mean_reduction(&idle, "loadpart", "neurosurgeon", 13),
        vs_best_fixed_stationary: evaluation::loo_best_fixed_reduction(&stationary, "loadpart", 14),
        vs_best_fixed_varying: evaluation::loo_best_fixed_reduction(&varying, "loadpart", 15),
        equivalent_cells: stationary
            .iter()
            .filter(|c| evaluation::equivalent(c, "loadpart", 5.0) == Some(true))
            .count(),
        loadpart_fallback_pct: evaluation::fallback_pct(&loaded, "loadpart"),
        neurosurgeon_fallback_pct: evaluation::fallback_pct(&loaded, "neurosurgeon"),
        vs_neurosurgeon: vs_ns,
    }
}

/// The share of the gain on `neurosurgeon` that holds against `neurosurgeon+risk`; defined only
/// where there is a gain to share (a ratio of two losses would read as a share kept).
fn kept_share(vs_neurosurgeon_pct: f64, vs_risk_pct: Option<f64>) -> Option<f64> {
    if vs_neurosurgeon_pct.is_nan() || vs_neurosurgeon_pct <= 0.0 {
        return None;
    }
    vs_risk_pct
        .map(|r| r / vs_neurosurgeon_pct)
        .filter(|k| k.is_finite())
}

fn fmt_r(pct: f64, ci: [f64; 2]) -> String {
    format!("{pct:.1} [{:.1}, {:.1}]", ci[0], ci[1])
}

fn setting_md(name: &str, s: &Setting, cells: &[Cell<'_>]) -> String {
    use std::fmt::Write as _;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "### {name}\n\n{} loaded cells ({} stationary, {} varying), mean measured utilization {:.2}.\n",
        s.loaded_cells, s.stationary_cells, s.varying_cells, s.mean_utilization
    );
    let _ = writeln!(
        md,
        "| loadpart against | mean reduction % [95% CI] | p95 reduction % [95% CI] | best cell |"
    );
    let _ = writeln!(md, "|---|---|---|---|");
    let rows: [(&str, Option<&Versus>); 4] = [
        ("neurosurgeon", Some(&s.vs_neurosurgeon)),
        ("neurosurgeon+risk", s.vs_neurosurgeon_risk.as_ref()),
        ("loadpart-original", s.vs_loadpart_original.as_ref()),
        ("loadpart-norisk", s.vs_loadpart_norisk.as_ref()),
    ];
    for (what, v) in rows {
        if let Some(v) = v {
            let _ = writeln!(
                md,
                "| {what} | {} | {} | {} ({:.1}%) |",
                fmt_r(v.mean_pct, v.mean_ci),
                fmt_r(v.p95_pct, v.p95_ci),
                v.best_cell,
                v.best_cell_pct
            );
        }
    }
    let _ = writeln!(
        md,
        "\nPlacebo (cells without load): {}. Against the best fixed cut chosen on held-out \
         repetitions: {} in stationary cells (equivalent within 5% in {} of {}), {} in varying \
         cells. Fallbacks: loadpart {:.1}%, neurosurgeon {:.1}%. Share of the gain on \
         neurosurgeon kept against neurosurgeon+risk: {}.\n",
        fmt_r(s.placebo_load0.pct, s.placebo_load0.ci),
        fmt_r(
            s.vs_best_fixed_stationary.pct,
            s.vs_best_fixed_stationary.ci
        ),
        s.equivalent_cells,
        s.stationary_cells,
        fmt_r(s.vs_best_fixed_varying.pct, s.vs_best_fixed_varying.ci),
        s.loadpart_fallback_pct,
        s.neurosurgeon_fallback_pct,
        s.kept_vs_neurosurgeon_risk.map_or(
            "none (no gain on neurosurgeon to share)".to_string(),
            |k| format!("{k:.2}")
        )
    );
    let _ = writeln!(
        md,
        "| cell | vs neurosurgeon % | vs neurosurgeon+risk % | vs held-out best fixed (gap %) |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|");
    for c in cells {
        let gaps = c.loo_gaps("loadpart");
        let _ = writeln!(
            md,
            "| {} | {:.1} | {:.1} | {:.1} |",
            c.key.label(),
            c.reduction("loadpart", "neurosurgeon").0,
            c.reduction("loadpart", "neurosurgeon+risk").0,
            mean(&gaps)
        );
    }
    md
}

/// The figures of one sweep: latency (over local's, per cell) against measured utilization per
/// policy, latency CDFs of the loaded cells, and the chosen cut against time in a varying cell.
fn figures(
    dir: &Path,
    name: &str,
    cells: &[Cell<'_>],
    util: &std::collections::BTreeMap<String, f64>,
) -> Result<Vec<String>> {
    let policies = ["loadpart", "neurosurgeon", "neurosurgeon+risk", "oracle"];
    let mut written = Vec::new();
    // Latency over local's against utilization.
    let mut chart = Chart::new(
        format!("{name}: latency against the server's measured utilization"),
        "utilization (busy fraction, measured per cell)",
        "mean latency / local's mean in the cell",
    )
    .legend(Legend::Right);
    for (i, p) in policies.iter().enumerate() {
        let pts: Vec<(f64, f64)> = cells
            .iter()
            .filter(|c| !c.key.varies())
            .flat_map(|c| {
                c.reps.values().filter_map(move |rs| {
                    let u = *util.get(&rs.first()?.cell.key())?;
                    let m = |v: &str| {
                        mean(
                            &rs.iter()
                                .filter(|r| r.variant == v)
                                .map(|r| r.measured.total)
                                .collect::<Vec<_>>(),
                        )
                    };
                    let (x, local) = (m(p), m("local"));
                    (x.is_finite() && local > 0.0).then_some((u, x / local))
                })
            })
            .collect();
        if !pts.is_empty() {
            chart = chart.series(Series::scatter(*p, pts).color(PALETTE[i]));
        }
    }
    let file = format!("{name}-latency-utilization.svg");
    chart.write_svg(&dir.join(&file), (1000, 600))?;
    written.push(file);
    // CDFs of latency over local's, loaded cells.
    let mut chart = Chart::new(
        format!("{name}: latency distribution, loaded cells"),
        "latency / local's mean in the cell",
        "fraction of requests",
    )
    .legend(Legend::Right);
    for (i, p) in policies.iter().enumerate() {
        let mut v: Vec<f64> = cells
            .iter()
            .filter(|c| c.key.loaded())
            .flat_map(|c| {
                c.reps.values().flat_map(move |rs| {
                    let local = mean(
                        &rs.iter()
                            .filter(|r| r.variant == "local")
                            .map(|r| r.measured.total)
                            .collect::<Vec<_>>(),
                    );
                    rs.iter()
                        .filter(move |r| r.variant == *p && local > 0.0)
                        .map(move |r| r.measured.total / local)
                })
            })
            .collect();
        if v.is_empty() {
            continue;
        }
        v.sort_by(f64::total_cmp);
        // At most 200 points per curve.
        let n = v.len();
        let pts: Vec<(f64, f64)> = (0..200.min(n))
            .map(|k| {
                let i = k * n / 200.min(n);
                (v[i], (i + 1) as f64 / n as f64)
            })
            .chain(std::iter::once((v[n - 1], 1.0)))
            .collect();
        chart = chart.series(Series::line(*p, pts).color(PALETTE[i]).step());
    }
    let file = format!("{name}-latency-cdf.svg");
    chart
        .x_range(0.0, 3.0)
        .write_svg(&dir.join(&file), (1000, 600))?;
    written.push(file);
    // The chosen cut against time in the first varying cell.
    if let Some(c) = cells.iter().find(|c| c.key.varies()) {
        let rs = c.reps.values().next().cloned().unwrap_or_default();
        let mut chart = Chart::new(
            format!("{name}: chosen cut against time, {}", c.key.label()),
            "time in the cell (s)",
            "share of the model on the device",
        )
        .legend(Legend::Right);
        for (i, p) in ["loadpart", "neurosurgeon"].iter().enumerate() {
            let pts: Vec<(f64, f64)> = rs
                .iter()
                .filter(|r| r.variant == *p)
                .map(|r| (r.t, r.head_fraction))
                .collect();
            chart = chart.series(Series::line(*p, pts).color(PALETTE[i]).step());
        }
        let file = format!("{name}-cut-time.svg");
        chart.write_svg(&dir.join(&file), (1000, 500))?;
        written.push(file);
    }
    Ok(written)
}

pub fn run(args: SummaryArgs) -> Result<ExitCode> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut md = String::from("## The evaluation in numbers\n\n");
    let mut summary = Summary {
        paper: None,
        product: None,
        population: Vec::new(),
    };
    for (name, path) in [("paper", &args.paper), ("product", &args.product)] {
        let Some(path) = path else { continue };
        let (records, util) = load(path)?;
        let refs: Vec<&Record> = records.iter().collect();
        let cells = evaluation::cells(&refs);
        let s = setting(&records, &util);
        md.push_str(&setting_md(name, &s, &cells));
        for f in figures(&args.out, name, &cells, &util)? {
            md.push_str(&format!("\n![{f}]({f})\n"));
        }
        let p95s: Vec<f64> = ["loadpart", "neurosurgeon"]
            .iter()
            .map(|v| {
                quantile(
                    &records
                        .iter()
                        .filter(|r| r.variant == *v && r.cell.load > 0.0)
                        .map(|r| r.measured.total)
                        .collect::<Vec<_>>(),
                    0.95,
                )
            })
            .collect();
        md.push_str(&format!(
            "\nPooled over the loaded cells' requests: p95 {:.1} ms (loadpart) against {:.1} ms (neurosurgeon).\n\n",
            p95s[0], p95s[1]
        ));
        match name {
            "paper" => summary.paper = Some(s),
            _ => summary.product = Some(s),
        }
    }
    if let Some(path) = &args.population {
        let lines: Vec<population::record::Line> = crate::jsonl::read(path)?;
        let s = population::report::summarize(&lines);
        md.push_str("### population\n\n");
        md.push_str(&population::report::markdown(&s));
        summary.population = s.comparisons;
    }
    std::fs::write(args.out.join("summary.md"), &md)?;
    std::fs::write(
        args.out.join("summary.json"),
        serde_json::to_string_pretty(&summary)? + "\n",
    )?;
    print!("{md}");
    eprintln!("wrote {}/summary.md and summary.json", args.out.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::kept_share;

    #[test]
    fn the_share_kept_is_defined_only_for_a_gain() {
        assert_eq!(kept_share(10.0, Some(8.0)), Some(0.8));
        assert_eq!(kept_share(10.0, Some(-2.0)), Some(-0.2));
        assert_eq!(kept_share(-1.3, Some(-1.0)), None);
        assert_eq!(kept_share(0.0, Some(1.0)), None);
        assert_eq!(kept_share(f64::NAN, Some(1.0)), None);
        assert_eq!(kept_share(5.0, None), None);
    }
}

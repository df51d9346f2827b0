//! The report's figures: per model, latency against load for every policy, and the share of the
//! model each adaptive policy keeps on the device against load; one panel per device slowdown
//! and bandwidth.

use std::path::Path;

use anyhow::Result;
use loadpart_chart::{Chart, Figure, Legend, Line, Marker, PALETTE, Series};

use super::analysis::CellData;
use super::policies::POLICIES;
use super::stats::{ci95, mean};

/// The (slowdown, bandwidth) panels, in order.
fn panels(cs: &[CellData<'_>]) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = Vec::new();
    for c in cs {
        let k = (c.at.slowdown, c.at.mbit);
        if !v.contains(&k) {
            v.push(k);
        }
    }
    v
}

const MARKERS: [Marker; 4] = [
    Marker::Circle,
    Marker::Square,
    Marker::Triangle,
    Marker::Cross,
];

/// Writes `STEM-latency.svg` and `STEM-cuts.svg` under `dir`; returns (what, file name).
pub fn write(
    dir: &Path,
    stem: &str,
    model: &str,
    cs: &[CellData<'_>],
) -> Result<Vec<(&'static str, String)>> {
    let ps = panels(cs);
    let mut latency = Figure::new(format!("{model}: mean latency against server load"))
        .subtitle("mean over repetitions, bars: 95% CI; load as a fraction of measured capacity");
    let mut cuts = Figure::new(format!("{model}: chosen cut against server load"))
        .subtitle("mean share of the model run on the device (0 = all offloaded, 1 = all local)");
    let mut series_variants: Vec<String> = POLICIES.iter().map(|p| p.to_string()).collect();
    series_variants.push("best-fixed".into());
    for &(slow, mbit) in &ps {
        let here: Vec<&CellData<'_>> = cs
            .iter()
            // Latency against the load level: cells whose load varies have no one level.
            .filter(|c| c.at.slowdown == slow && c.at.mbit == mbit && c.at.shape == "constant")
            .collect();
        let mut chart = Chart::new(
            format!("device x{slow}, {mbit} Mbit/s"),
            "offered load (fraction of capacity)",
            "latency (ms)",
        )
        .legend(Legend::Right);
        for (i, v) in series_variants.iter().enumerate() {
            let mut pts = Vec::new();
            let mut bounds = Vec::new();
            for c in &here {
                let reps: Vec<f64> = c.rep_means(v).into_iter().map(|x| x.1).collect();
                let m = mean(&reps);
                if m.is_finite() {
                    let h = ci95(&reps);
                    let h = if h.is_finite() { h } else { 0.0 };
                    pts.push((c.at.load, m));
                    bounds.push((m - h, m + h));
                }
            }
            if pts.is_empty() {
                continue;
            }
            let label = if v == "best-fixed" {
                "best fixed (hindsight)".to_string()
            } else {
                v.clone()
            };
            let line = if v == "loadpart" {
                Line::Solid
            } else if v == "best-fixed" || v == "oracle" {
                Line::Dotted
            } else {
                Line::Dashed
            };
            chart = chart.series(
                Series::line(label, pts)
                    .errors(bounds)
                    .color(PALETTE[i % PALETTE.len()])
                    .line_style(line)
                    .marker(MARKERS[i % MARKERS.len()]),
            );
        }
        latency = latency.panel(chart);

        let mut chart = Chart::new(
            format!("device x{slow}, {mbit} Mbit/s"),
            "offered load (fraction of capacity)",
            "on device",
        )
        .y_range(0.0, 1.0)
        .legend(Legend::Right);
        for (i, v) in ["loadpart", "neurosurgeon", "loadpart-original", "oracle"]
            .iter()
            .enumerate()
        {
            let pts: Vec<(f64, f64)> = here
                .iter()
                .filter_map(|c| {
                    let f: Vec<f64> = c.of(v).iter().map(|r| r.head_fraction).collect();
                    let m = mean(&f);
                    m.is_finite().then_some((c.at.load, m))
                })
                .collect();
            if !pts.is_empty() {
                chart = chart.series(
                    Series::line(*v, pts)
                        .color(PALETTE[i % PALETTE.len()])
                        .marker(MARKERS[i % MARKERS.len()]),
                );
            }
        }
        cuts = cuts.panel(chart);
    }
    let h = 120 + 380 * ps.len() as u32;
    let lat_name = format!("{stem}-latency.svg");
    let cut_name = format!("{stem}-cuts.svg");
    latency.write_svg(&dir.join(&lat_name), (1000, h))?;
    cuts.write_svg(&dir.join(&cut_name), (1000, h))?;
    Ok(vec![
        ("latency against load", lat_name),
        ("chosen cut against load", cut_name),
    ])
}

//! The demo's SVG timeline: each device's chosen cut, each policy's latency, and the server's
//! load, against time, with the phases marked.

use std::path::Path;

use anyhow::Result;
use loadpart_chart::{Chart, Figure, Legend, Line, Marker, PALETTE, Series};

use super::record::{POLICIES, Record};

/// One sample of the server's load.
#[derive(Debug, Clone, Copy)]
pub struct LoadPoint {
    /// Seconds since the start.
    pub t: f64,
    /// Mean queue wait, ms.
    pub queue_ms: f64,
    /// Requests per second completed.
    pub requests_per_s: f64,
}

/// Moving mean of `points` (x sorted) over a window of `w` seconds, sampled at each point.
fn smooth(points: &[(f64, f64)], w: f64) -> Vec<(f64, f64)> {
    points
        .iter()
        .map(|&(x, _)| {
            let near: Vec<f64> = points
                .iter()
                .filter(|(x2, _)| (x2 - x).abs() <= w / 2.0)
                .map(|p| p.1)
                .collect();
            (x, near.iter().sum::<f64>() / near.len() as f64)
        })
        .collect()
}

/// Writes the timeline to `path`.
pub fn write(
    path: &Path,
    records: &[Record],
    load: &[LoadPoint],
    phases: &[(f64, f64, String)],
    devices: &[String],
    title: &str,
) -> Result<()> {
    let mark = |mut c: Chart| {
        for (i, (start, _, name)) in phases.iter().enumerate() {
            if i > 0 {
                c = c.vline(*start, format!("{}: {name}", i + 1));
            }
        }
        c
    };
    let mut cuts = Chart::new(
        "Cut chosen by loadpart (share of the model run on the device)",
        "time (s)",
        "on device",
    )
    .y_range(0.0, 1.0)
    .legend(Legend::Right);
    for (i, name) in devices.iter().enumerate() {
        let pts: Vec<(f64, f64)> = records
            .iter()
            .filter(|r| r.device == i && r.policy == "loadpart")
            .map(|r| (r.t, r.head_fraction))
            .collect();
        if !pts.is_empty() {
            cuts = cuts.series(
                Series::line(name.clone(), pts)
                    .step()
                    .color(PALETTE[i % PALETTE.len()]),
            );
        }
    }
    let mut lat = Chart::new(
        "End-to-end latency (moving mean over 2 s, all devices)",
        "time (s)",
        "ms",
    )
    .legend(Legend::Right);
    for (k, policy) in POLICIES.iter().enumerate() {
        let pts: Vec<(f64, f64)> = records
            .iter()
            .filter(|r| r.policy == *policy)
            .map(|r| (r.t, r.latency_ms))
            .collect();
        if !pts.is_empty() {
            let s = Series::line(policy.to_string(), smooth(&pts, 2.0))
                .color(PALETTE[k % PALETTE.len()]);
            lat = lat.series(if k == 0 {
                s
            } else {
                s.line_style(Line::Dashed)
            });
        }
    }
    let q: Vec<(f64, f64)> = load.iter().map(|p| (p.t, p.queue_ms)).collect();
    let top = |v: &[(f64, f64)]| v.iter().map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let mut srv = Chart::new("Server load", "time (s)", "queue wait (ms)")
        .y_range(0.0, top(&q))
        .legend(Legend::Right);
    if !q.is_empty() {
        srv = srv.series(
            Series::line("mean queue wait", q)
                .color(PALETTE[2])
                .marker(Marker::None),
        );
    }
    let rps: Vec<(f64, f64)> = load.iter().map(|p| (p.t, p.requests_per_s)).collect();
    let mut thr = Chart::new("Server throughput", "time (s)", "requests/s")
        .y_range(0.0, top(&rps))
        .legend(Legend::Right);
    if !rps.is_empty() {
        thr = thr.series(
            Series::line("completed", rps)
                .color(PALETTE[4])
                .marker(Marker::None),
        );
    }
    let fig = Figure::new(title)
        .subtitle("each device cycles loadpart, neurosurgeon, local and server, request by request")
        .panel(mark(cuts))
        .panel(mark(lat))
        .panel(mark(srv))
        .panel(mark(thr));
    Ok(fig.write_svg(path, (1100, 1300))?)
}

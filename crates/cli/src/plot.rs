//! The figure of `loadpart plan --plot`: predicted latency of every candidate cut, stacked by
//! component, and where the chosen cut sits as the uplink bandwidth sweeps at three load levels.

use loadpart_plan::Breakdown;

use crate::svg::{Anchor, Chart, Font, Marker, Scale, Stroke, Svg, Swatch, legend};

/// One load level of the bandwidth sweep.
#[derive(Debug, Clone)]
pub struct SweepLine {
    /// Legend label, e.g. `idle (W=0, f=1)`.
    pub label: String,
    /// `(uplink Mbit/s, fraction of stages on the device)` in increasing bandwidth.
    pub points: Vec<(f64, f64)>,
}

/// What the figure shows.
#[derive(Debug, Clone)]
pub struct PlanFigure {
    /// Figure title (model, policy).
    pub title: String,
    /// The conditions in words, under the title.
    pub subtitle: String,
    /// Predicted latency of each listed candidate cut in model order, ms.
    pub candidates: Vec<Breakdown>,
    /// Index of the chosen cut among `candidates`, when it is listed.
    pub chosen: Option<usize>,
    /// The bandwidth sweep, one line per load level.
    pub sweeps: Vec<SweepLine>,
    /// The uplink of the given conditions, Mbit/s.
    pub uplink_mbit: f64,
}

const WIDTH: f64 = 1040.0;
const HEIGHT: f64 = 900.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 800.0;
const LEGEND_X: f64 = 830.0;

/// A bar component: label, colour, value.
type Component = (&'static str, &'static str, fn(&Breakdown) -> f64);

/// Bar components, bottom-up.
const COMPONENTS: [Component; 7] = [
    ("device (head)", "#4e79a7", |b| b.device),
    ("encode", "#f28e2b", |b| b.encode),
    ("upload + RTT", "#e15759", |b| b.upload + b.rtt),
    ("server queue (W)", "#bab0ac", |b| b.queue),
    ("server (tail, f·R)", "#59a14f", |b| b.server),
    ("decode", "#edc948", |b| b.decode),
    ("download", "#b07aa1", |b| b.download),
];

const LINE_STYLES: [(&str, Option<&str>, Marker); 3] = [
    ("#59a14f", None, Marker::Circle),
    ("#4e79a7", Some("7 3"), Marker::Square),
    ("#e15759", Some("2 3"), Marker::Triangle),
];

/// The figure as an SVG document.
pub fn render(fig: &PlanFigure) -> String {
    let mut svg = Svg::new(WIDTH, HEIGHT);
    svg.text(
        (LEFT, 28.0),
        &fig.title,
        Font::new(18.0, Anchor::Start).bold(),
    );
    svg.text((LEFT, 50.0), &fig.subtitle, Font::new(13.0, Anchor::Start));
    latency_panel(&mut svg, fig, 100.0, 440.0);
    sweep_panel(&mut svg, fig, 560.0, 820.0);
    svg.finish()
}

/// Panel 1: one stacked bar per candidate cut.
fn latency_panel(svg: &mut Svg, fig: &PlanFigure, top: f64, bottom: f64) {
    let n = fig.candidates.len().max(1);
    let totals: Vec<f64> = fig.candidates.iter().map(Breakdown::total).collect();
    let max = totals.iter().copied().fold(0.0, f64::max);
    let best = totals.iter().copied().fold(f64::INFINITY, f64::min);
    let mut sorted = totals.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(max);
    // A few huge bars (a big tensor on a slow link) would flatten the rest: clip them, keeping
    // the best cut and at least half of the bars whole, and say so.
    let cap = (2.5 * best).max(1.2 * median).max(1e-3);
    let clipped = max > 1.15 * cap;
    let y_hi = if clipped { cap } else { max.max(1e-3) };
    let chart = Chart {
        left: LEFT,
        top,
        right: RIGHT,
        bottom,
        x: Scale::linear(-0.5, n as f64 - 0.5, LEFT, RIGHT),
        y: Scale::linear_nice(0.0, y_hi * 1.08, bottom, top),
    };
    let x_label = format!(
        "candidate cut in model order (0 = full offload, {} = full local)",
        n - 1
    );
    chart.axes(
        svg,
        "Predicted latency per candidate cut",
        &x_label,
        "predicted latency (ms)",
    );
    let width = if n > 60 { 1.0 } else { 0.8 };
    for (i, b) in fig.candidates.iter().enumerate() {
        let segments: Vec<(f64, &str)> = COMPONENTS.iter().map(|(_, c, f)| (f(b), *c)).collect();
        chart.stacked_bar(svg, i as f64, width, &segments);
    }
    if let Some(c) = fig.chosen.filter(|&c| c < fig.candidates.len()) {
        let (x, y) = chart.at(c as f64, totals[c].min(chart.y.hi()));
        svg.polygon(
            &[(x, y - 3.0), (x - 7.0, y - 15.0), (x + 7.0, y - 15.0)],
            "#111",
        );
        let anchor = if x > (LEFT + RIGHT) / 2.0 {
            Anchor::End
        } else {
            Anchor::Start
        };
        let dx = if anchor == Anchor::End { -9.0 } else { 9.0 };
        svg.boxed_text(
            (x + dx, y - 18.0),
            &format!("chosen: #{c}, {} ms", ms(totals[c])),
            Font::new(12.0, anchor).bold(),
        );
    } else {
        svg.text(
            (RIGHT, top - 10.0),
            "chosen cut found by min-cut inside a block (not listed)",
            Font::new(11.0, Anchor::End),
        );
    }
    if clipped {
        let note = format!(
            "bars clipped at {:.0} ms (largest {:.0} ms)",
            chart.y.hi(),
            max
        );
        svg.boxed_text(
            (RIGHT - 6.0, top + 16.0),
            &note,
            Font::new(11.0, Anchor::End),
        );
    }
    let entries: Vec<(Swatch<'_>, String)> = COMPONENTS
        .iter()
        .rev()
        .map(|(l, c, _)| (Swatch::Fill(c), l.to_string()))
        .collect();
    legend(svg, (LEGEND_X, top), "component", &entries);
}

/// Panel 2: chosen position against uplink bandwidth, one line per load level.
fn sweep_panel(svg: &mut Svg, fig: &PlanFigure, top: f64, bottom: f64) {
    let (lo, hi) = fig
        .sweeps
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold((f64::INFINITY, 0.0_f64), |(a, b), x| (a.min(x), b.max(x)));
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (1.0, 1000.0)
    };
    let chart = Chart {
        left: LEFT,
        top,
        right: RIGHT,
        bottom,
        x: Scale::log(lo, hi, LEFT, RIGHT),
        y: Scale::linear(-3.0, 103.0, bottom, top),
    };
    chart.axes(
        svg,
        "Chosen cut as the uplink bandwidth changes",
        "uplink bandwidth (Mbit/s, log scale)",
        "stages on the device (%)",
    );
    svg.boxed_text(
        (LEFT + 6.0, chart.y.map(100.0) + 20.0),
        "full local",
        Font::new(11.0, Anchor::Start),
    );
    svg.boxed_text(
        (LEFT + 6.0, chart.y.map(0.0) - 10.0),
        "full offload",
        Font::new(11.0, Anchor::Start),
    );
    if fig.uplink_mbit >= lo && fig.uplink_mbit <= hi {
        chart.vline(
            svg,
            fig.uplink_mbit,
            Stroke::dashed("#888", 1.0, "4 4"),
            "given uplink",
        );
    }
    let mut entries = Vec::new();
    for (i, line) in fig.sweeps.iter().enumerate() {
        let (color, dash, marker) = LINE_STYLES[i % LINE_STYLES.len()];
        let stroke = Stroke {
            color,
            width: 2.0,
            dash,
        };
        let pts: Vec<(f64, f64)> = steps(&line.points)
            .into_iter()
            .map(|(x, y)| (x, 100.0 * y))
            .collect();
        // Lines that coincide stay visible: each load level is drawn a few pixels apart.
        let dy = 3.0 * (i as f64 - (fig.sweeps.len() as f64 - 1.0) / 2.0);
        chart.line(svg, &pts, stroke, Marker::None, dy);
        let marks: Vec<(f64, f64)> = line.points.iter().map(|&(x, y)| (x, 100.0 * y)).collect();
        chart.markers(svg, &marks, marker, color, dy);
        entries.push((Swatch::Line(stroke, marker), line.label.clone()));
    }
    legend(svg, (LEGEND_X, top), "server load", &entries);
}

/// A duration in ms with three significant digits or more.
fn ms(v: f64) -> String {
    match v {
        v if v >= 100.0 => format!("{v:.0}"),
        v if v >= 10.0 => format!("{v:.1}"),
        v => format!("{v:.2}"),
    }
}

/// A step line through `points`: the value holds until the next point's x.
fn steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for (i, &(x, y)) in points.iter().enumerate() {
        if i > 0 {
            out.push((x, points[i - 1].1));
        }
        out.push((x, y));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bd(device: f64, upload: f64, server: f64) -> Breakdown {
        Breakdown {
            device,
            upload,
            server,
            ..Default::default()
        }
    }

    #[test]
    fn renders_both_panels() {
        let fig = PlanFigure {
            title: "zoo:chain".into(),
            subtitle: "10 Mbit/s".into(),
            candidates: vec![bd(0.0, 900.0, 2.0), bd(3.0, 4.0, 1.0), bd(10.0, 0.0, 0.0)],
            chosen: Some(1),
            sweeps: vec![SweepLine {
                label: "idle".into(),
                points: vec![(1.0, 1.0), (10.0, 0.5), (1000.0, 0.0)],
            }],
            uplink_mbit: 10.0,
        };
        let doc = render(&fig);
        assert!(doc.contains("chosen: #1, 8.00 ms"));
        assert!(doc.contains("bars clipped at"));
        assert!(doc.contains("Chosen cut as the uplink bandwidth changes"));
        assert!(doc.contains("<polyline"));
    }

    #[test]
    fn steps_hold_until_the_next_point() {
        assert_eq!(
            steps(&[(1.0, 1.0), (2.0, 0.5)]),
            [(1.0, 1.0), (2.0, 1.0), (2.0, 0.5)]
        );
    }
}

//! The figure of `loadpart plan --plot`: predicted latency of every candidate cut, stacked by
//! component, and where the chosen cut sits as the uplink bandwidth sweeps at three load levels.

use anyhow::Result;
use loadpart_chart::{Anchor, Chart, Figure, Line, Marker, Series, StackedBars, nice_range};
use loadpart_plan::Breakdown;
use plotters::style::RGBColor;

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

/// Size of the figure, px.
const SIZE: (u32, u32) = (1040, 900);

/// A bar component: label, colour, value.
type Component = (&'static str, RGBColor, fn(&Breakdown) -> f64);

/// Bar components, bottom-up.
const COMPONENTS: [Component; 7] = [
    ("device (head)", RGBColor(0x4e, 0x79, 0xa7), |b| b.device),
    ("encode", RGBColor(0xf2, 0x8e, 0x2b), |b| b.encode),
    ("upload + RTT", RGBColor(0xe1, 0x57, 0x59), |b| {
        b.upload + b.rtt
    }),
    ("server queue (W)", RGBColor(0xba, 0xb0, 0xac), |b| b.queue),
    ("server (tail, f·R)", RGBColor(0x59, 0xa1, 0x4f), |b| {
        b.server
    }),
    ("decode", RGBColor(0xed, 0xc9, 0x48), |b| b.decode),
    ("download", RGBColor(0xb0, 0x7a, 0xa1), |b| b.download),
];

/// Colour, line and marker of each load level.
const LINE_STYLES: [(RGBColor, Line, Marker); 3] = [
    (RGBColor(0x59, 0xa1, 0x4f), Line::Solid, Marker::Circle),
    (RGBColor(0x4e, 0x79, 0xa7), Line::Dashed, Marker::Square),
    (RGBColor(0xe1, 0x57, 0x59), Line::Dotted, Marker::Triangle),
];

/// The figure as an SVG document.
pub fn render(fig: &PlanFigure) -> Result<String> {
    Ok(Figure::new(&fig.title)
        .subtitle(&fig.subtitle)
        .panel(latency_panel(fig))
        .panel(sweep_panel(fig))
        .to_svg(SIZE)?)
}

/// Panel 1: one stacked bar per candidate cut, the chosen one marked.
fn latency_panel(fig: &PlanFigure) -> Chart {
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
    let top = if max > 1.15 * cap { cap } else { max.max(1e-3) };
    let (_, y_hi) = nice_range(0.0, 1.08 * top);
    // Rounding up to a tick may leave room for every bar after all.
    let clipped = max > y_hi;
    let components = COMPONENTS
        .iter()
        .map(|(label, color, _)| (label.to_string(), *color))
        .collect();
    let bars = fig
        .candidates
        .iter()
        .map(|b| COMPONENTS.iter().map(|(_, _, f)| f(b)).collect())
        .collect();
    let x_label = format!(
        "candidate cut in model order (0 = full offload, {} = full local)",
        n - 1
    );
    let mut chart = Chart::new(
        "Predicted latency per candidate cut",
        x_label,
        "predicted latency (ms)",
    )
    .bars(StackedBars::new(components, bars).width(if n > 60 { 1.0 } else { 0.8 }))
    .y_range(0.0, y_hi)
    .legend_title("component");
    chart = match fig.chosen.filter(|&c| c < fig.candidates.len()) {
        Some(c) => chart.pointer(
            (c as f64, totals[c]),
            format!("chosen: #{c}, {} ms", ms(totals[c])),
        ),
        None => chart.note("chosen cut found by min-cut inside a block (not listed)"),
    };
    if clipped {
        chart = chart.note(format!(
            "bars clipped at {y_hi:.0} ms (largest {max:.0} ms)"
        ));
    }
    chart
}

/// Panel 2: chosen position against uplink bandwidth, one step line per load level.
fn sweep_panel(fig: &PlanFigure) -> Chart {
    let (lo, hi) = fig
        .sweeps
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold((f64::INFINITY, 0.0_f64), |(a, b), x| (a.min(x), b.max(x)));
    let (lo, hi) = if lo.is_finite() && lo > 0.0 && hi > lo {
        (lo, hi)
    } else {
        (1.0, 1000.0)
    };
    let mut chart = Chart::new(
        "Chosen cut as the uplink bandwidth changes",
        "uplink bandwidth (Mbit/s, log scale)",
        "stages on the device (%)",
    )
    .log_x()
    .x_range(lo, hi)
    .y_range(-3.0, 103.0)
    .label((lo, 100.0), "full local", Anchor::Start, (8, 14))
    .label((lo, 0.0), "full offload", Anchor::Start, (8, -14))
    .legend_title("server load");
    if fig.uplink_mbit >= lo && fig.uplink_mbit <= hi {
        chart = chart.vline(fig.uplink_mbit, "given uplink");
    }
    let count = fig.sweeps.len() as i32;
    for (i, line) in fig.sweeps.iter().enumerate() {
        let (color, style, marker) = LINE_STYLES[i % LINE_STYLES.len()];
        // Lines that coincide stay visible: each load level is drawn a few pixels apart.
        let offset = 3 * (2 * i as i32 - (count - 1)) / 2;
        let points = line.points.iter().map(|&(x, y)| (x, 100.0 * y));
        chart = chart.series(
            Series::line(&line.label, points)
                .step()
                .color(color)
                .line_style(style)
                .marker(marker)
                .offset_px(offset),
        );
    }
    chart
}

/// A duration in ms with three significant digits or more.
fn ms(v: f64) -> String {
    match v {
        v if v >= 100.0 => format!("{v:.0}"),
        v if v >= 10.0 => format!("{v:.1}"),
        v => format!("{v:.2}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loadpart_chart::testing::svg_texts;

    fn bd(device: f64, upload: f64, server: f64) -> Breakdown {
        Breakdown {
            device,
            upload,
            server,
            ..Default::default()
        }
    }

    fn figure(chosen: Option<usize>) -> PlanFigure {
        PlanFigure {
            title: "zoo:chain".into(),
            subtitle: "10 Mbit/s".into(),
            candidates: vec![bd(0.0, 900.0, 2.0), bd(3.0, 4.0, 1.0), bd(10.0, 0.0, 0.0)],
            chosen,
            sweeps: vec![
                SweepLine {
                    label: "idle".into(),
                    points: vec![(1.0, 1.0), (10.0, 0.5), (1000.0, 0.0)],
                },
                SweepLine {
                    label: "heavy".into(),
                    points: vec![(1.0, 1.0), (10.0, 1.0), (1000.0, 0.0)],
                },
            ],
            uplink_mbit: 10.0,
        }
    }

    #[test]
    fn renders_both_panels() {
        let doc = render(&figure(Some(1))).unwrap();
        let texts = svg_texts(&doc);
        for want in [
            "zoo:chain",
            "10 Mbit/s",
            "Predicted latency per candidate cut",
            "candidate cut in model order (0 = full offload, 2 = full local)",
            "predicted latency (ms)",
            "chosen: #1, 8.00 ms",
            // Totals 902, 8 and 10 ms: clipped at 2.5 x 8 = 20 ms, times 1.08, rounded up.
            "bars clipped at 25 ms (largest 902 ms)",
            "component",
            "device (head)",
            "server (tail, f·R)",
            "Chosen cut as the uplink bandwidth changes",
            "uplink bandwidth (Mbit/s, log scale)",
            "stages on the device (%)",
            "full local",
            "full offload",
            "given uplink",
            "server load",
            "idle",
            "heavy",
        ] {
            assert!(texts.iter().any(|t| t == want), "no {want:?} in {texts:?}");
        }
        // The log axis labels 1, 2 and 5 per decade; bars are labelled by whole candidate numbers.
        for tick in ["1", "2", "5", "10", "100", "1000"] {
            assert!(
                texts.iter().any(|t| t == tick),
                "no tick {tick} in {texts:?}"
            );
        }
        assert!(!texts.iter().any(|t| t == "0.5"), "{texts:?}");
        // Both load levels are drawn as lines (solid, dashed in pieces).
        assert!(doc.contains("<polyline"));
    }

    #[test]
    fn an_unlisted_chosen_cut_is_noted() {
        let texts = svg_texts(&render(&figure(None)).unwrap());
        assert!(
            texts
                .iter()
                .any(|t| t == "chosen cut found by min-cut inside a block (not listed)")
        );
        assert!(!texts.iter().any(|t| t.starts_with("chosen:")));
    }
}

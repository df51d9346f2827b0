//! The demo's live view: one line for the phase, one for the server's load, one per device with
//! the cut it chose for its last request and why (the predicted breakdown).
//!
//! On a terminal the lines are redrawn in place; otherwise (CI logs, pipes) a snapshot is printed
//! every few seconds.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use loadpart_client::LoadSample;
use loadpart_plan::Breakdown;

/// The last `loadpart` decision of one device.
#[derive(Debug, Clone)]
pub struct LastDecision {
    /// Short name of the cut.
    pub cut: String,
    /// Share of the model on the device.
    pub head_fraction: f64,
    /// Measured latency, ms.
    pub latency_ms: f64,
    /// Predicted latency by component, µs.
    pub predicted: Breakdown,
    /// Where it ran.
    pub route: &'static str,
    /// The uplink rate the planner was told, Mbit/s.
    pub estimate_mbit: f64,
}

/// One device as shown.
#[derive(Debug, Clone)]
pub struct DeviceView {
    /// Its name.
    pub name: String,
    /// Its link rate now, Mbit/s.
    pub link_mbit: f64,
    /// Its last `loadpart` decision.
    pub last: Option<LastDecision>,
}

/// Everything the view shows.
#[derive(Debug, Clone, Default)]
pub struct LiveState {
    /// Seconds since the start.
    pub t: f64,
    /// Total seconds.
    pub total: f64,
    /// Phase number (from 1) and name.
    pub phase: (usize, String),
    /// The server's last load report.
    pub load: Option<LoadSample>,
    /// Synthetic load offered now, requests/s.
    pub offered_per_s: f64,
    /// The devices.
    pub devices: Vec<DeviceView>,
}

/// The terminal view.
pub struct Live {
    mp: MultiProgress,
    lines: Vec<ProgressBar>,
    tty: bool,
}

impl Live {
    /// A view with room for `devices` devices; `tty` redraws in place.
    pub fn new(devices: usize, tty: bool) -> Self {
        let mp = MultiProgress::with_draw_target(if tty {
            ProgressDrawTarget::stderr_with_hz(8)
        } else {
            ProgressDrawTarget::hidden()
        });
        let style = ProgressStyle::with_template("{msg}").expect("valid template");
        let lines = (0..devices + 2)
            .map(|_| {
                let b = mp.add(ProgressBar::new(1));
                b.set_style(style.clone());
                b
            })
            .collect();
        Self { mp, lines, tty }
    }

    /// Prints a line above the live view (or plainly).
    pub fn println(&self, line: &str) {
        if self.tty {
            let _ = self.mp.println(line);
        } else {
            eprintln!("{line}");
        }
    }

    /// Shows `s`: redrawn on a terminal; printed when `print` is set otherwise.
    pub fn show(&self, s: &LiveState, print: bool) {
        let text = render(s);
        if self.tty {
            for (bar, line) in self.lines.iter().zip(text) {
                bar.set_message(line);
            }
        } else if print {
            for line in text {
                eprintln!("{line}");
            }
        }
    }

    /// Removes the live lines.
    pub fn finish(&self) {
        for b in &self.lines {
            b.finish_and_clear();
        }
    }
}

/// A bar of `width` cells, filled to `fraction`.
fn bar(fraction: f64, width: usize) -> String {
    let filled = (fraction.clamp(0.0, 1.0) * width as f64).round() as usize;
    format!("[{}{}]", "#".repeat(filled), ".".repeat(width - filled))
}

/// The view's lines.
pub fn render(s: &LiveState) -> Vec<String> {
    let mut out = vec![format!(
        "t={:>5.1}s/{:.0}s  phase {}: {}",
        s.t, s.total, s.phase.0, s.phase.1
    )];
    out.push(match &s.load {
        Some(l) => format!(
            "  server: queue {:>3}  wait {:>6.1} ms (p95 {:>6.1})  slowdown {:>4.2}  batch {:>3.1}  {:>5.0} req/s   synthetic load {:>4.0} req/s",
            l.queue_length,
            l.queue_wait_mean_us * 1e-3,
            l.queue_wait_p95_us * 1e-3,
            l.slowdown,
            l.mean_batch_size.max(1.0),
            l.requests_per_s,
            s.offered_per_s
        ),
        None => "  server: (no load report yet)".into(),
    });
    for d in &s.devices {
        out.push(match &d.last {
            Some(x) => {
                let p = x.predicted.scaled(1e-3);
                format!(
                    "  {:<8} link {:>5.1} Mbit/s (est. {:>5.1})  cut {} {:>3.0}% on device {:<16} {:>6.1} ms (predicted {:>5.1}: device {:.1} + up {:.1} + queue {:.1} + server {:.1} + down {:.1}) {}",
                    d.name,
                    d.link_mbit,
                    x.estimate_mbit,
                    bar(x.head_fraction, 20),
                    x.head_fraction * 100.0,
                    x.cut,
                    x.latency_ms,
                    p.total(),
                    p.device + p.encode,
                    p.upload + p.rtt,
                    p.queue,
                    p.server + p.decode,
                    p.download,
                    x.route
                )
            }
            None => format!("  {:<8} link {:>5.1} Mbit/s  (starting)", d.name, d.link_mbit),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_line_and_fills_bars() {
        assert_eq!(bar(0.5, 4), "[##..]");
        assert_eq!(bar(2.0, 2), "[##]");
        let s = LiveState {
            devices: vec![DeviceView {
                name: "phone-1".into(),
                link_mbit: 40.0,
                last: Some(LastDecision {
                    cut: "add_92".into(),
                    head_fraction: 0.4,
                    latency_ms: 20.0,
                    predicted: Breakdown::default(),
                    route: "offloaded",
                    estimate_mbit: 39.0,
                }),
            }],
            ..LiveState::default()
        };
        let lines = render(&s);
        assert_eq!(lines.len(), 3);
        assert!(lines[2].contains("add_92") && lines[2].contains("offloaded"));
    }
}

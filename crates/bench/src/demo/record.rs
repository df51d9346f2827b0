//! What each request of the demo did, and the summary table at the end.

use std::fmt::Write as _;

use loadpart_client::{InferOutcome, Route};
use serde::Serialize;

/// One request.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Seconds since the demo started, at completion.
    pub t: f64,
    /// Phase index.
    pub phase: usize,
    /// Device index.
    pub device: usize,
    /// Policy that decided.
    pub policy: String,
    /// Chosen cut (canonical id).
    pub cut: String,
    /// Share of the model on the device, by plan.
    pub head_fraction: f64,
    /// `local`, `local_only`, `offloaded` or `fallback`.
    pub route: &'static str,
    /// Measured end-to-end latency, ms.
    pub latency_ms: f64,
    /// Predicted latency, ms.
    pub predicted_ms: f64,
    /// Why the request ran locally or fell back, when it did (`backing_off`, `overloaded: ...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// What the planner was told: uplink estimate (Mbit/s), expected queue wait (ms), RTT (ms).
    pub uplink_mbit: f64,
    pub queue_ms: f64,
    pub rtt_ms: f64,
}

impl Record {
    /// The record of `o`.
    pub fn new(t: f64, phase: usize, device: usize, o: &InferOutcome) -> Self {
        Self {
            t,
            phase,
            device,
            policy: o.policy.clone(),
            cut: o.cut.to_string(),
            head_fraction: o.head_fraction,
            route: match o.route {
                Route::Local => "local",
                Route::LocalOnly { .. } => "local_only",
                Route::Offloaded => "offloaded",
                Route::Fallback { .. } => "fallback",
            },
            latency_ms: o.measured.total_us * 1e-3,
            predicted_ms: o.predicted.total() * 1e-3,
            why: match &o.route {
                Route::LocalOnly { why } => serde_json::to_value(why)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string)),
                Route::Fallback { why } => Some(why.to_string()),
                Route::Local | Route::Offloaded => None,
            },
            uplink_mbit: o.estimate.uplink_bytes_per_s * 8e-6,
            queue_ms: o.estimate.queue_us * 1e-3,
            rtt_ms: o.estimate.rtt_us * 1e-3,
        }
    }
}

/// The policies every device cycles through, request by request, so that all see the same
/// conditions: loadpart first, then the references it is compared with.
pub const POLICIES: [&str; 4] = ["loadpart", "neurosurgeon", "local", "server"];

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

fn p95(v: &[f64]) -> f64 {
    crate::loadgen::quantile(v, 0.95)
}

/// The summary: per phase, each policy's mean and p95 latency and how often it offloaded, and
/// loadpart's gain over each reference.
pub fn summary(records: &[Record], phase_names: &[&str]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<34} {:<13} {:>5} {:>9} {:>9} {:>10} {:>9}",
        "phase", "policy", "n", "mean ms", "p95 ms", "offloaded", "fallback"
    );
    for (i, name) in phase_names.iter().enumerate() {
        for (k, policy) in POLICIES.iter().enumerate() {
            let rs: Vec<&Record> = records
                .iter()
                .filter(|r| r.phase == i && r.policy == *policy)
                .collect();
            let lat: Vec<f64> = rs.iter().map(|r| r.latency_ms).collect();
            let off = rs.iter().filter(|r| r.route == "offloaded").count();
            let fb = rs.iter().filter(|r| r.route == "fallback").count();
            let label = if k == 0 {
                format!("{} {name}", i + 1)
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "{label:<34} {policy:<13} {:>5} {:>9.1} {:>9.1} {:>9.0}% {:>9}",
                rs.len(),
                mean(&lat),
                p95(&lat),
                100.0 * off as f64 / rs.len().max(1) as f64,
                fb
            );
        }
    }
    let all = |p: &str| -> Vec<f64> {
        records
            .iter()
            .filter(|r| r.policy == p)
            .map(|r| r.latency_ms)
            .collect()
    };
    let lp = mean(&all("loadpart"));
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "over the whole run, loadpart's mean latency {lp:.1} ms is"
    );
    for other in &POLICIES[1..] {
        let m = mean(&all(other));
        let gain = 100.0 * (1.0 - lp / m);
        let _ = writeln!(
            s,
            "  {:>5.1}% {} than {other:<13} ({m:.1} ms)",
            gain.abs(),
            if gain >= 0.0 { "lower" } else { "higher" }
        );
    }
    let pred: Vec<f64> = records
        .iter()
        .filter(|r| r.policy == "loadpart" && r.route == "offloaded" && r.predicted_ms > 0.0)
        .map(|r| (r.latency_ms - r.predicted_ms) / r.predicted_ms * 100.0)
        .collect();
    if !pred.is_empty() {
        let m = mean(&pred);
        let _ = writeln!(
            s,
            "loadpart's offloaded requests took {:.1}% {} than predicted on average ({} requests)",
            m.abs(),
            if m >= 0.0 { "longer" } else { "less time" },
            pred.len()
        );
    }
    s
}

//! Bandwidth sweeps for plots: where a policy cuts as the link changes.

use crate::{Breakdown, Conditions, CutPosition, Policy};
use serde::Serialize;

/// One point of a bandwidth sweep.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SweepPoint {
    /// Uplink bandwidth of this point, bytes/s.
    pub uplink_bytes_per_s: f64,
    /// Where the chosen cut sits.
    pub position: CutPosition,
    /// The policy's predicted latency, µs.
    pub predicted: Breakdown,
}

/// Decides under `base` with the uplink set to each of `uplinks` (bytes/s) in turn. The downlink
/// (and the true downlink, when `base` has true values) is scaled by the same factor, keeping the
/// link's up/down ratio; everything else stays as in `base`.
pub fn sweep_bandwidth(policy: &dyn Policy, base: &Conditions, uplinks: &[f64]) -> Vec<SweepPoint> {
    uplinks
        .iter()
        .map(|&up| {
            let mut c = *base;
            let scale = |e: &mut crate::Estimate| {
                let ratio = e.downlink_bytes_per_s / e.uplink_bytes_per_s;
                e.uplink_bytes_per_s = up;
                e.downlink_bytes_per_s = if ratio.is_finite() { up * ratio } else { up };
            };
            scale(&mut c.estimate);
            if let Some(t) = c.truth.as_mut() {
                scale(t);
            }
            let d = policy.decide(&c);
            SweepPoint {
                uplink_bytes_per_s: up,
                position: d.position,
                predicted: d.predicted,
            }
        })
        .collect()
}

/// `n` bandwidths spaced geometrically from `from` to `to` inclusive (bytes/s), e.g. 1 to 1000
/// Mbit/s for a plot's x axis.
pub fn geometric_bandwidths(from: f64, to: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![from],
        _ => (0..n)
            .map(|i| from * (to / from).powf(i as f64 / (n - 1) as f64))
            .collect(),
    }
}

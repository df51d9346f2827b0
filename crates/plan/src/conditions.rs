//! What a decision depends on: the current network and server estimates.

use serde::{Deserialize, Serialize};

/// The network and load state a decision is made for.
///
/// Units: bytes per second, microseconds, plain factors. Values out of range are sanitized, never
/// propagated as NaN: a NaN or non-positive bandwidth, a NaN or infinite RTT, queue wait or
/// slowdown all make offloading look prohibitively slow (so the decision falls back to local),
/// negative times count as zero, a batch below 1 counts as 1, and a device slowdown that is NaN or
/// not positive counts as 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Device-to-server bandwidth, bytes/s.
    pub uplink_bytes_per_s: f64,
    /// Server-to-device bandwidth, bytes/s.
    pub downlink_bytes_per_s: f64,
    /// Round-trip time, µs.
    pub rtt_us: f64,
    /// Expected queueing wait at the server (W), µs.
    pub queue_us: f64,
    /// Server slowdown factor (f): measured / profiled time for the batches actually run.
    pub server_slowdown: f64,
    /// Batch size the server reports it is forming (k); may be fractional (a mean).
    pub server_batch: f64,
    /// Factor on every device time (1 = as profiled).
    pub device_slowdown: f64,
}

impl Estimate {
    /// An idle server, symmetric link of `bytes_per_s`, zero RTT, device as profiled.
    pub fn idle(bytes_per_s: f64) -> Self {
        Self {
            uplink_bytes_per_s: bytes_per_s,
            downlink_bytes_per_s: bytes_per_s,
            rtt_us: 0.0,
            queue_us: 0.0,
            server_slowdown: 1.0,
            server_batch: 1.0,
            device_slowdown: 1.0,
        }
    }

    /// The same link and device with an idle server (W = 0, f = 1, k = 1): what a load-unaware
    /// policy assumes.
    pub fn with_idle_server(self) -> Self {
        Self {
            queue_us: 0.0,
            server_slowdown: 1.0,
            server_batch: 1.0,
            ..self
        }
    }
}

/// The input of [`crate::Policy::decide`]: the estimates, and the true values when known (only an
/// evaluation harness knows them; the `oracle` policy decides on them).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Conditions {
    /// What the client currently estimates.
    pub estimate: Estimate,
    /// What is actually true, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truth: Option<Estimate>,
}

impl From<Estimate> for Conditions {
    fn from(estimate: Estimate) -> Self {
        Self {
            estimate,
            truth: None,
        }
    }
}

/// A time that makes any offload lose: ~31 years, in µs. Finite so that `0 * HUGE` stays 0.
pub(crate) const HUGE_US: f64 = 1e15;
/// µs per byte on a link that is down.
const HUGE_US_PER_BYTE: f64 = 1e12;
/// Slowdown factor for a NaN or infinite estimate.
const HUGE_FACTOR: f64 = 1e9;
/// The largest batch size an estimate may claim: beyond any server, and finite, so that a part
/// with no server time (full local) keeps a server time of 0 rather than `0 * inf`.
const HUGE_BATCH: f64 = 1e6;

/// Per-decision coefficients derived from an [`Estimate`], sanitized (finite, non-negative).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rates {
    pub dev_scale: f64,
    /// µs per byte up.
    pub up_us_per_byte: f64,
    /// µs per byte down.
    pub down_us_per_byte: f64,
    pub rtt_us: f64,
    pub queue_us: f64,
    /// Server time of the request's batch = `f * (w_lo * batch_time[lo] + w_hi * batch_time[hi])`.
    pub slowdown: f64,
    pub lo: usize,
    pub hi: usize,
    pub w_lo: f64,
    pub w_hi: f64,
}

/// A time in `[0, HUGE_US]`: NaN and anything longer (an absurd report) count as `HUGE_US`, so
/// that sums of costs stay finite.
fn time(x: f64) -> f64 {
    if x.is_nan() {
        HUGE_US
    } else {
        x.clamp(0.0, HUGE_US)
    }
}

fn per_byte(bytes_per_s: f64) -> f64 {
    if bytes_per_s > 0.0 {
        (1e6 / bytes_per_s).min(HUGE_US_PER_BYTE)
    } else {
        HUGE_US_PER_BYTE
    }
}

/// A factor in `[0, HUGE_FACTOR]`: NaN, infinite and absurd ones count as `HUGE_FACTOR`.
fn factor(x: f64) -> f64 {
    if x.is_nan() {
        HUGE_FACTOR
    } else {
        x.clamp(0.0, HUGE_FACTOR)
    }
}

impl Rates {
    /// Coefficients for `e` against a server profiled at `batch_sizes` (strictly increasing).
    pub fn new(e: &Estimate, batch_sizes: &[f64]) -> Self {
        let k = if e.server_batch >= 1.0 {
            e.server_batch.min(HUGE_BATCH)
        } else {
            1.0
        };
        let (lo, hi, w_lo, w_hi) = interpolation(batch_sizes, k);
        let dev_scale = if e.device_slowdown > 0.0 {
            factor(e.device_slowdown)
        } else {
            1.0
        };
        Self {
            dev_scale,
            up_us_per_byte: per_byte(e.uplink_bytes_per_s),
            down_us_per_byte: per_byte(e.downlink_bytes_per_s),
            rtt_us: time(e.rtt_us),
            queue_us: time(e.queue_us),
            slowdown: factor(e.server_slowdown),
            lo,
            hi,
            w_lo,
            w_hi,
        }
    }

    /// Server time of a request running in the batch being formed, for a part whose whole-batch
    /// times at the two bracketing batch sizes are `at_lo` and `at_hi`, including the slowdown.
    #[inline]
    pub fn server(&self, at_lo: f64, at_hi: f64) -> f64 {
        self.slowdown * (self.w_lo * at_lo + self.w_hi * at_hi)
    }
}

/// Weights for the time of a whole batch of `k`: interpolated linearly between the bracketing
/// profiled sizes, and proportionally to `k` outside them (a batch twice the largest profiled
/// size takes twice its time). Returns `(lo, hi, w_lo, w_hi)` with batch time
/// `w_lo * t[lo] + w_hi * t[hi]`.
///
/// A request that runs in a batch of `k` waits for the whole batch: its server time is this batch
/// time, not the batch time divided by `k` (that per-request share is what the server's
/// throughput, hence the queue wait W, depends on).
pub(crate) fn interpolation(sizes: &[f64], k: f64) -> (usize, usize, f64, f64) {
    let last = sizes.len() - 1;
    if k <= sizes[0] {
        return (0, 0, k / sizes[0], 0.0);
    }
    if k >= sizes[last] {
        return (last, last, k / sizes[last], 0.0);
    }
    let hi = sizes.partition_point(|&b| b <= k);
    let lo = hi - 1;
    let a = (k - sizes[lo]) / (sizes[hi] - sizes[lo]);
    (lo, hi, 1.0 - a, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_waits_for_its_whole_batch() {
        let sizes = [1.0, 2.0, 4.0, 8.0];
        let t = [10.0, 12.0, 16.0, 30.0];
        let batch = |k: f64| {
            let (lo, hi, a, b) = interpolation(&sizes, k);
            a * t[lo] + b * t[hi]
        };
        assert_eq!(batch(1.0), 10.0);
        assert_eq!(batch(2.0), 12.0, "the batch time at 2, not 12 / 2");
        assert_eq!(batch(3.0), 14.0);
        assert_eq!(batch(8.0), 30.0);
        assert_eq!(batch(16.0), 60.0, "proportional beyond the largest size");
        assert_eq!(batch(0.5), 5.0, "proportional below the smallest size");
        // A device profiled only at batch 4 gives a single request a quarter of that batch.
        let (lo, hi, a, b) = interpolation(&[4.0], 1.0);
        assert_eq!((lo, hi, a, b), (0, 0, 0.25, 0.0));
    }

    #[test]
    fn garbage_estimates_are_sanitized() {
        let e = Estimate {
            uplink_bytes_per_s: f64::NAN,
            downlink_bytes_per_s: 0.0,
            rtt_us: f64::NAN,
            queue_us: -5.0,
            server_slowdown: f64::INFINITY,
            server_batch: f64::NAN,
            device_slowdown: -1.0,
        };
        let r = Rates::new(&e, &[1.0, 2.0]);
        for v in [
            r.dev_scale,
            r.up_us_per_byte,
            r.down_us_per_byte,
            r.rtt_us,
            r.queue_us,
            r.slowdown,
            r.w_lo,
            r.w_hi,
        ] {
            assert!(v.is_finite() && v >= 0.0);
        }
        assert_eq!(r.queue_us, 0.0);
        assert_eq!(r.dev_scale, 1.0);
        assert_eq!(r.w_lo, 1.0);
        // Absurd but finite values are capped too: sums of costs stay finite, and a part with
        // no server time keeps 0.
        let absurd = Estimate {
            rtt_us: f64::MAX,
            queue_us: 1e300,
            server_slowdown: 1e300,
            server_batch: f64::INFINITY,
            ..Estimate::idle(1e6)
        };
        let r = Rates::new(&absurd, &[1.0, 2.0]);
        assert_eq!((r.rtt_us, r.queue_us), (HUGE_US, HUGE_US));
        assert_eq!(r.slowdown, HUGE_FACTOR);
        assert!(r.w_lo.is_finite() && r.w_lo > 1.0, "{}", r.w_lo);
        assert_eq!(r.server(0.0, 0.0), 0.0);
    }
}

//! [`Estimator`]: the link and load estimators together, and the planner's [`Estimate`] from
//! them.

use std::time::Instant;

use loadpart_plan::Estimate;

use super::ewma::Domain;
use super::link::{LinkConfig, LinkEstimator, Probe};
use super::load::{LoadConfig, LoadEstimator};
use super::misses::PolicyMisses;
use super::staleness::{Reading, Safe};
use crate::EstimateError;

/// How every estimate is smoothed and aged, and the device's own slowdown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EstimatorConfig {
    /// Bandwidth and RTT.
    pub link: LinkConfig,
    /// Server load.
    pub load: LoadConfig,
    /// Half-life of offload outcomes in the miss rate (default 2 s, about the server's load
    /// window: misses under a load that has passed must not keep a device local for long; see
    /// [`Misses`]).
    pub misses_half_life: std::time::Duration,
    /// Factor on every device time, as the planner's [`Estimate::device_slowdown`] (1 = as
    /// profiled; `--device-slowdown` sets it when a slower device is emulated). Finite and
    /// positive.
    pub device_slowdown: f64,
}

impl Default for EstimatorConfig {
    fn default() -> Self {
        Self {
            link: LinkConfig::default(),
            load: LoadConfig::default(),
            misses_half_life: std::time::Duration::from_secs(2),
            device_slowdown: 1.0,
        }
    }
}

/// What to plan with when an estimate is unknown; the end point of a stale estimate's slide (see
/// [`super::Staleness::conservative`]): the planner's own [`Estimate`], of values pessimistic for
/// offloading, so that a device that has not heard from the server keeps its work local rather
/// than bet on a link or a server it knows nothing about. Its `device_slowdown` is not used: the
/// device's own always applies.
///
/// Defaults: 1 Mbit/s each way, 100 ms of RTT and of queueing, a server at half its profiled
/// speed, and batches of 1 (the pessimism is carried by the queue wait and the slowdown, since
/// the largest batch the server forms is not known here).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fallbacks(pub Estimate);

impl Default for Fallbacks {
    fn default() -> Self {
        Self(Estimate {
            uplink_bytes_per_s: 125_000.0,
            downlink_bytes_per_s: 125_000.0,
            rtt_us: 100_000.0,
            queue_us: 100_000.0,
            server_slowdown: 2.0,
            server_batch: 1.0,
            device_slowdown: 1.0,
        })
    }
}

impl std::ops::Deref for Fallbacks {
    type Target = Estimate;

    fn deref(&self) -> &Estimate {
        &self.0
    }
}

impl Fallbacks {
    /// Each field that is out of range (NaN, infinite, a bandwidth or slowdown that is not
    /// positive, a negative time, a batch below 1) replaced by its default.
    pub fn sanitized(&self) -> Self {
        let d = Self::default();
        let pick = |v: f64, domain: Domain, default: f64| {
            if domain.admits(v) { v } else { default }
        };
        Self(Estimate {
            uplink_bytes_per_s: pick(
                self.uplink_bytes_per_s,
                Domain::Positive,
                d.uplink_bytes_per_s,
            ),
            downlink_bytes_per_s: pick(
                self.downlink_bytes_per_s,
                Domain::Positive,
                d.downlink_bytes_per_s,
            ),
            rtt_us: pick(self.rtt_us, Domain::NonNegative, d.rtt_us),
            queue_us: pick(self.queue_us, Domain::NonNegative, d.queue_us),
            server_slowdown: pick(self.server_slowdown, Domain::Positive, d.server_slowdown),
            server_batch: if self.server_batch >= 1.0 {
                pick(self.server_batch, Domain::Positive, d.server_batch)
            } else {
                d.server_batch
            },
            device_slowdown: d.device_slowdown,
        })
    }
}

/// Every estimated quantity as of some time, judged by age. Units: bytes/s, µs, factors,
/// requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimates {
    /// Device-to-server bandwidth, bytes/s.
    pub uplink_bytes_per_s: Reading,
    /// Server-to-device bandwidth, bytes/s.
    pub downlink_bytes_per_s: Reading,
    /// Round-trip time, µs.
    pub rtt_us: Reading,
    /// Expected queue wait at the server (W), µs.
    pub queue_us: Reading,
    /// Server slowdown factor (f).
    pub server_slowdown: Reading,
    /// Batch size a request runs in (k).
    pub server_batch: Reading,
    /// Requests waiting in the server's queue.
    pub queue_length: Reading,
}

/// The link and load estimators of one client and one server.
#[derive(Debug, Clone)]
pub struct Estimator {
    /// Bandwidth and RTT: feed it probes and offloads.
    pub link: LinkEstimator,
    /// Server load: feed it every load report.
    pub load: LoadEstimator,
    /// Offloads that missed, per policy: feed it every offload's outcome.
    pub misses: PolicyMisses,
    device_slowdown: f64,
}

impl Estimator {
    /// Estimators that know nothing yet. Errors on a bad half-life, staleness policy or device
    /// slowdown.
    pub fn new(config: EstimatorConfig) -> Result<Self, EstimateError> {
        if !Domain::Positive.admits(config.device_slowdown) {
            return Err(EstimateError::BadConfig {
                name: "device_slowdown",
                reason: "must be finite and positive",
            });
        }
        Ok(Self {
            link: LinkEstimator::new(config.link)?,
            load: LoadEstimator::new(config.load)?,
            misses: PolicyMisses::new(config.misses_half_life)?,
            device_slowdown: config.device_slowdown,
        })
    }

    /// Every quantity at `now`, judged by age.
    pub fn estimate(&self, now: Instant) -> Estimates {
        let link = self.link.estimate(now);
        let load = self.load.estimate(now);
        Estimates {
            uplink_bytes_per_s: link.uplink_bytes_per_s,
            downlink_bytes_per_s: link.downlink_bytes_per_s,
            rtt_us: link.rtt_us,
            queue_us: load.queue_us,
            server_slowdown: load.server_slowdown,
            server_batch: load.server_batch,
            queue_length: load.queue_length,
        }
    }

    /// What the link needs measured at `now`, if anything (see [`LinkEstimator::needs_probe`]).
    pub fn needs_probe(&self, now: Instant) -> Option<Probe> {
        self.link.needs_probe(now)
    }

    /// Whether to poll the server's load at `now` (see [`LoadEstimator::needs_load_poll`]).
    pub fn needs_load_poll(&self, now: Instant) -> bool {
        self.load.needs_load_poll(now)
    }

    /// The planner's input at `now`: fresh values as they are, unknown ones from `fallback`, and
    /// stale ones sliding from their last value to `fallback` as they age, never more optimistic
    /// than when last measured (see [`super::Staleness::conservative`]). Fields of `fallback`
    /// that are out of range are replaced by the defaults ([`Fallbacks::sanitized`]).
    ///
    /// Every field is finite; bandwidths and slowdowns are positive, times non-negative, and the
    /// batch at least 1.
    pub fn to_plan_estimate(&self, now: Instant, fallback: &Fallbacks) -> Estimate {
        let fb = fallback.sanitized();
        let e = self.estimate(now);
        let link = self.link.config().staleness;
        let load = self.load.config().staleness;
        Estimate {
            uplink_bytes_per_s: link.conservative(
                e.uplink_bytes_per_s,
                fb.uplink_bytes_per_s,
                Safe::Lower,
            ),
            downlink_bytes_per_s: link.conservative(
                e.downlink_bytes_per_s,
                fb.downlink_bytes_per_s,
                Safe::Lower,
            ),
            rtt_us: link.conservative(e.rtt_us, fb.rtt_us, Safe::Higher),
            queue_us: load.conservative(e.queue_us, fb.queue_us, Safe::Higher),
            server_slowdown: load.conservative(e.server_slowdown, fb.server_slowdown, Safe::Higher),
            server_batch: load
                .conservative(e.server_batch, fb.server_batch, Safe::Higher)
                .max(1.0),
            device_slowdown: self.device_slowdown,
        }
    }
}

#[cfg(test)]
mod tests;

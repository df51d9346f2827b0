//! [`FairShare`]: per-device limits, so that one device cannot take the whole queue and the
//! others keep their latency.
//!
//! The server's capacity is divided among the devices *active* now: those seen (admitted or
//! refused) in the last `active_window`, or with requests still queued. With `n` of them, each
//! device may have
//!
//! - at most `clamp(queue_budget / n, queued_floor, queued_ceiling)` requests queued (admitted,
//!   not yet answered), and
//! - an admitted rate of at most `capacity × rate_factor / n` requests per second, enforced by a
//!   token bucket `burst_s` seconds deep and at least `burst_min` requests, once the server has
//!   measured its capacity (requests per second at the batch mix it runs). The floor matters:
//!   devices send in bursts (a Poisson stream at a quarter of its rate often brings four
//!   requests within a tenth of a second), and a bucket only a few requests deep refused such
//!   devices far below their share.
//!
//! A device alone gets the whole server: with one active device no per-device limit applies, and
//! the server-wide limits (queue length, deadlines) are what refuse it. A request over either
//! limit is refused before it is decoded or queued ([`ShareRefusal`], RESOURCE_EXHAUSTED with a
//! retry hint). Refused requests count as activity: a device that keeps pushing stays active,
//! and its share stays divided out of the others'.
//!
//! A device refused for its rate while it *offers* more than its share (requests sent, admitted
//! or refused, averaged over the active window) is an *overuser* for the next `active_window`:
//! its rate limit is cut to `overuse_factor` of its share meanwhile. A device whose average is
//! within its share is never cut, even when a rare burst empties its bucket: a penalty for a
//! burst would cut its limit to about its own rate, and the refusals that follow would extend
//! the penalty for as long as it keeps sending (that spiral refused well-behaved devices at a
//! quarter of their share in `loadpart bench flood`). A flooder is held well below its share,
//! so that what it still gets through barely moves the others' latency. (At its full share, a flooder next to four
//! devices using a quarter of theirs doubles the server's load, and on one executor their p95
//! rose 30% in `loadpart bench flood --flood-factor 1`: a request that arrives during a
//! flooder's batch waits for it.)
//!
//! Identity is what the caller proves or says (see [`crate::service::device_key`]): with device
//! tokens, the token's name; without, the self-declared `loadpart-device` header or the peer
//! address, which a hostile client can vary to get several shares. Use tokens where devices are
//! not trusted. Identities beyond `max_devices` share one entry, so memory stays bounded.
//!
//! Pure: time is a parameter; [`gate`] puts it behind a mutex on the request path.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod capacity;
pub mod gate;

/// The identity that devices beyond [`FairShareConfig::max_devices`] share.
pub const OTHER_DEVICES: &str = "(other)";

/// Time constant of the admitted-rate average reported to devices.
const RATE_TAU: Duration = Duration::from_secs(1);

/// The fair-share settings (`loadpart serve --fair-*`, `[fair_share]` in the config file).
#[derive(Debug, Clone, PartialEq)]
pub struct FairShareConfig {
    /// Off: no per-device limit; only the server-wide ones apply.
    pub enabled: bool,
    /// A device is active this long after its last request.
    pub active_window: Duration,
    /// Requests any device may have queued, however many devices are active.
    pub queued_floor: usize,
    /// Most requests one device may have queued, however few devices are active (more than
    /// one).
    pub queued_ceiling: usize,
    /// Fraction of the measured capacity divided among the active devices: 1 hands out all of
    /// it; less keeps headroom, so that devices using their full share still see short queues.
    /// Default 0.5: the capacity is measured at the recent batch mix (small batches when the
    /// server is quiet); at 1 a flooder's share alone doubled the load of four devices at a
    /// quarter of theirs, and their p95 tripled in `loadpart bench flood` on one shared core
    /// (at 0.5: +10%).
    pub rate_factor: f64,
    /// Depth of each device's token bucket, in seconds of its rate: how long a burst above its
    /// rate a device may send after a quiet spell.
    pub burst_s: f64,
    /// Least depth of each bucket, in requests, however small the rate. Default 8: a Poisson
    /// stream at a quarter of the bucket's rate overflows 8 requests about once in ten million
    /// arrivals, 3 requests about once in four hundred.
    pub burst_min: f64,
    /// Most identities tracked; later ones share [`OTHER_DEVICES`].
    pub max_devices: usize,
    /// Share of its rate limit a device keeps for an active window after a refusal for rate
    /// (1: no penalty). Default 0.25.
    pub overuse_factor: f64,
}

impl Default for FairShareConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            active_window: Duration::from_secs(5),
            queued_floor: 2,
            queued_ceiling: 8,
            rate_factor: 0.5,
            burst_s: 0.5,
            burst_min: 8.0,
            max_devices: 1024,
            overuse_factor: 0.25,
        }
    }
}

impl FairShareConfig {
    /// Why these settings cannot work, if they cannot.
    pub fn problem(&self) -> Option<String> {
        if !self.enabled {
            return None;
        }
        if self.active_window.is_zero() {
            return Some("fair share: the active window must be positive".into());
        }
        if self.queued_floor == 0 || self.queued_ceiling < self.queued_floor {
            return Some(format!(
                "fair share: need 1 <= queued floor ({}) <= queued ceiling ({})",
                self.queued_floor, self.queued_ceiling
            ));
        }
        if !(self.rate_factor.is_finite() && self.rate_factor > 0.0) {
            return Some(format!(
                "fair share: the rate factor must be positive, got {}",
                self.rate_factor
            ));
        }
        if !(self.burst_s.is_finite() && self.burst_s > 0.0) {
            return Some(format!(
                "fair share: the burst must be a positive number of seconds, got {}",
                self.burst_s
            ));
        }
        if !(self.burst_min.is_finite() && self.burst_min >= 1.0) {
            return Some(format!(
                "fair share: the least burst must be at least one request, got {}",
                self.burst_min
            ));
        }
        if self.max_devices == 0 {
            return Some("fair share: max devices must be at least 1".into());
        }
        if !(self.overuse_factor.is_finite()
            && self.overuse_factor > 0.0
            && self.overuse_factor <= 1.0)
        {
            return Some(format!(
                "fair share: the overuse factor must be in (0, 1], got {}",
                self.overuse_factor
            ));
        }
        None
    }
}

/// Why a device's request was refused: it is over its fair share.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShareRefusal {
    #[error(
        "device {device:?} is over its fair share: {queued} of its requests are queued, the \
         most one device may have while {active} devices are active; retry after {retry_ms} ms"
    )]
    Queued {
        device: String,
        queued: usize,
        active: usize,
        retry_ms: u64,
    },
    #[error(
        "device {device:?} is over its fair share: it may send {limit_per_s:.1} requests/s \
         while {active} devices are active; retry after {retry_ms} ms"
    )]
    Rate {
        device: String,
        limit_per_s: f64,
        active: usize,
        retry_ms: u64,
    },
}

impl ShareRefusal {
    /// When a retry may be admitted (gRPC's `grpc-retry-pushback-ms`).
    pub fn retry_after(&self) -> Duration {
        match self {
            ShareRefusal::Queued { retry_ms, .. } | ShareRefusal::Rate { retry_ms, .. } => {
                Duration::from_millis(*retry_ms)
            }
        }
    }

    /// Stable label for metrics: which limit refused.
    pub fn reason(&self) -> &'static str {
        match self {
            ShareRefusal::Queued { .. } => "queued",
            ShareRefusal::Rate { .. } => "rate",
        }
    }

    /// The device it refused.
    pub fn device(&self) -> &str {
        match self {
            ShareRefusal::Queued { device, .. } | ShareRefusal::Rate { device, .. } => device,
        }
    }
}

/// One device's standing, as reported to it (`loadpart.v1.DeviceShare`).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceShare {
    pub device: Arc<str>,
    pub active_devices: usize,
    pub queued: usize,
    pub queued_limit: Option<usize>,
    pub admitted_per_s: f64,
    pub rate_limit_per_s: Option<f64>,
}

#[derive(Debug, Clone)]
struct Device {
    queued: usize,
    last_seen: Instant,
    /// Tokens (requests) in the bucket at `filled_at`.
    level: f64,
    filled_at: Instant,
    /// Admitted-rate average (requests/s) at `rate_at`.
    rate: f64,
    rate_at: Instant,
    /// Offered-rate average (admitted and refused, requests/s, over the active window) at
    /// `offered_at`: what tells an overuser from a burst.
    offered: f64,
    offered_at: Instant,
    /// Refused for its rate lately: its limit is cut until then.
    overuse_until: Option<Instant>,
}

/// Per-device queued counts, token buckets and activity; see the module documentation.
#[derive(Debug)]
pub struct FairShare {
    config: FairShareConfig,
    queue_budget: usize,
    capacity_per_s: Option<f64>,
    devices: HashMap<Arc<str>, Device>,
    pruned_at: Option<Instant>,
}

/// The limits one device has now.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Limits {
    active: usize,
    queued: Option<usize>,
    rate_per_s: Option<f64>,
}

impl FairShare {
    /// `queue_budget` is the server's queue length, divided among active devices.
    pub fn new(config: FairShareConfig, queue_budget: usize) -> Self {
        Self {
            config,
            queue_budget,
            capacity_per_s: None,
            devices: HashMap::new(),
            pruned_at: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &FairShareConfig {
        &self.config
    }

    /// The server's measured capacity, requests per second; `None` (nothing ran lately) keeps
    /// the last one known.
    pub fn set_capacity(&mut self, per_s: Option<f64>) {
        if let Some(c) = per_s.filter(|c| c.is_finite() && *c > 0.0) {
            self.capacity_per_s = Some(c);
        }
    }

    /// The capacity the rate limits are cut from.
    pub fn capacity_per_s(&self) -> Option<f64> {
        self.capacity_per_s
    }

    /// Admits a request of `device` at `now`, or refuses it. On success returns the key the
    /// request is counted under: pass it to [`FairShare::finish`] when it is answered.
    pub fn admit(&mut self, device: &str, now: Instant) -> Result<Arc<str>, ShareRefusal> {
        self.prune(now);
        let key = self.key(device);
        let d = self.devices.entry(key.clone()).or_insert(Device {
            queued: 0,
            last_seen: now,
            level: f64::INFINITY,
            filled_at: now,
            rate: 0.0,
            rate_at: now,
            offered: 0.0,
            offered_at: now,
            overuse_until: None,
        });
        d.last_seen = d.last_seen.max(now);
        let window = self.config.active_window;
        d.offered = decayed_over(d.offered, d.offered_at, now, window) + 1.0 / window.as_secs_f64();
        d.offered_at = d.offered_at.max(now);
        if !self.config.enabled {
            self.count_admitted(&key, now);
            return Ok(key);
        }
        let limits = self.limits(now);
        let Some(d) = self.devices.get_mut(&key) else {
            // Inserted above; admitting is the safe answer if it were not.
            return Ok(key);
        };
        if let Some(limit) = limits.queued
            && d.queued >= limit
        {
            let retry = match limits.rate_per_s {
                Some(r) => Duration::from_secs_f64(1.0 / r),
                None => Duration::from_millis(100),
            };
            return Err(ShareRefusal::Queued {
                device: key.to_string(),
                queued: d.queued,
                active: limits.active,
                retry_ms: retry_ms(retry),
            });
        }
        match limits.rate_per_s {
            None => d.level = f64::INFINITY,
            Some(share) => {
                let rate = share * overuse_cut(d, now, self.config.overuse_factor);
                let burst = (rate * self.config.burst_s).max(self.config.burst_min);
                let dt = now.saturating_duration_since(d.filled_at).as_secs_f64();
                d.level = (d.level.min(burst) + dt * rate).min(burst);
                d.filled_at = d.filled_at.max(now);
                if d.level < 1.0 {
                    // A burst from a device within its share is refused, not penalised.
                    if d.offered > share {
                        d.overuse_until = Some(now + self.config.active_window);
                    }
                    return Err(ShareRefusal::Rate {
                        device: key.to_string(),
                        limit_per_s: rate,
                        active: limits.active,
                        retry_ms: retry_ms(Duration::from_secs_f64((1.0 - d.level) / rate)),
                    });
                }
                d.level -= 1.0;
            }
        }
        self.count_admitted(&key, now);
        Ok(key)
    }

    /// A request admitted under `key` was answered (or its caller left).
    pub fn finish(&mut self, key: &str) {
        if let Some(d) = self.devices.get_mut(key) {
            d.queued = d.queued.saturating_sub(1);
        }
    }

    /// `device`'s standing at `now`, without counting it as activity.
    pub fn share(&mut self, device: &str, now: Instant) -> DeviceShare {
        let key = self.key(device);
        let limits = if self.config.enabled {
            self.limits(now)
        } else {
            Limits {
                active: self.active(now),
                queued: None,
                rate_per_s: None,
            }
        };
        let (queued, admitted_per_s, cut) = match self.devices.get(&key) {
            Some(d) => (
                d.queued,
                decayed(d.rate, d.rate_at, now),
                overuse_cut(d, now, self.config.overuse_factor),
            ),
            None => (0, 0.0, 1.0),
        };
        DeviceShare {
            device: key,
            active_devices: limits.active.max(1),
            queued,
            queued_limit: limits.queued,
            admitted_per_s,
            rate_limit_per_s: limits.rate_per_s.map(|r| r * cut),
        }
    }

    /// Devices tracked now (active or not yet forgotten).
    pub fn tracked(&self) -> usize {
        self.devices.len()
    }

    fn count_admitted(&mut self, key: &str, now: Instant) {
        if let Some(d) = self.devices.get_mut(key) {
            d.queued += 1;
            d.rate = decayed(d.rate, d.rate_at, now) + 1.0 / RATE_TAU.as_secs_f64();
            d.rate_at = d.rate_at.max(now);
        }
    }

    /// The key `device` is counted under: itself, or [`OTHER_DEVICES`] once the table is full.
    fn key(&self, device: &str) -> Arc<str> {
        match self.devices.get_key_value(device) {
            Some((k, _)) => k.clone(),
            None if self.devices.len() >= self.config.max_devices => Arc::from(OTHER_DEVICES),
            None => Arc::from(device),
        }
    }

    fn is_active(&self, d: &Device, now: Instant) -> bool {
        d.queued > 0 || now.saturating_duration_since(d.last_seen) < self.config.active_window
    }

    fn active(&self, now: Instant) -> usize {
        self.devices
            .values()
            .filter(|d| self.is_active(d, now))
            .count()
    }

    fn limits(&self, now: Instant) -> Limits {
        let active = self.active(now).max(1);
        if active < 2 {
            return Limits {
                active,
                queued: None,
                rate_per_s: None,
            };
        }
        let c = &self.config;
        Limits {
            active,
            queued: Some((self.queue_budget / active).clamp(c.queued_floor, c.queued_ceiling)),
            rate_per_s: self
                .capacity_per_s
                .map(|cap| cap * c.rate_factor / active as f64),
        }
    }

    /// Forgets idle devices, at most once per active window.
    fn prune(&mut self, now: Instant) {
        let due = self
            .pruned_at
            .is_none_or(|at| now.saturating_duration_since(at) >= self.config.active_window);
        if !due {
            return;
        }
        self.pruned_at = Some(now);
        let window = self.config.active_window;
        self.devices
            .retain(|_, d| d.queued > 0 || now.saturating_duration_since(d.last_seen) < window);
    }
}

/// The factor on `d`'s rate limit at `now`: `overuse_factor` while it is an overuser, else 1.
fn overuse_cut(d: &Device, now: Instant, overuse_factor: f64) -> f64 {
    match d.overuse_until {
        Some(until) if now < until => overuse_factor,
        _ => 1.0,
    }
}

/// `rate` measured at `at`, decayed to `now` with [`RATE_TAU`].
fn decayed(rate: f64, at: Instant, now: Instant) -> f64 {
    decayed_over(rate, at, now, RATE_TAU)
}

/// `rate` measured at `at`, decayed to `now` with time constant `tau`.
fn decayed_over(rate: f64, at: Instant, now: Instant, tau: Duration) -> f64 {
    let dt = now.saturating_duration_since(at).as_secs_f64();
    rate * (-dt / tau.as_secs_f64()).exp()
}

/// A retry hint in whole milliseconds, between 1 ms and 10 s.
fn retry_ms(d: Duration) -> u64 {
    (d.as_millis() as u64).clamp(1, 10_000)
}

#[cfg(test)]
mod tests;

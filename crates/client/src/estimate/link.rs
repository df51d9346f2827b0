//! [`LinkEstimator`]: upload and download bandwidth and RTT, from active probes and from every
//! real offload.
//!
//! # Model
//!
//! A call that sends `up` bytes and receives `down` bytes takes
//!
//! ```text
//! elapsed = server + rtt + up / B_up + down / B_down
//! ```
//!
//! where `server` is the time the server says it spent (queue, decode, compute; 0 for a probe,
//! whose server work is negligible), `rtt` one round trip, and `B_up`, `B_down` the bandwidths
//! in bytes/s. An RTT sample is a call that moves almost no data (a load poll); a probe moves
//! data one way; an offload moves data both ways. The transfer part
//! `T = elapsed - server - rtt` is computed with the current RTT estimate, fresh or stale; a
//! forgotten one counts as unknown (see [`Observed::NoRtt`]). Estimates in the split are read
//! the same way.
//!
//! A sample whose transfer part is below `max(min_transfer, 2 × RTT deviation)` is mostly RTT
//! jitter and timer resolution, and would make the bandwidth swing wildly: it updates nothing
//! and is counted as too short. The RTT deviation is the smoothed `|sample - mean|` of RTT
//! samples (as in TCP's RTTVAR).
//!
//! An offload gives one equation for two unknowns. `T` is split between the directions in
//! proportion to the times the current estimates predict for them (`up / B_up` and
//! `down / B_down`; a direction with no estimate borrows the other's, and with none at all the
//! split follows the byte counts), and each direction whose own share passes the threshold
//! above is updated with `bytes / share`. A direction that moved less than [`MIN_PROBE_BYTES`]
//! takes no share and gets no update: its time is mostly framing and scheduling, and with a low
//! estimate of it the proportional split would hand it most of the time and keep it low. A
//! typical offload sends a large cut tensor and receives a small output, so it measures the
//! uplink alone. A passive sample cannot tell which
//! direction changed; the probes, which measure one direction alone, correct the split.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::ewma::{Domain, Ewma, MAX_SAMPLE};
use super::staleness::{Reading, Staleness};
use crate::EstimateError;

/// The smallest probe, bytes (16 KiB): below this, per-call overhead dominates.
pub const MIN_PROBE_BYTES: u64 = 16 * 1024;
/// The largest probe, bytes (4 MiB): a probe must not hog a slow link for long.
pub const MAX_PROBE_BYTES: u64 = 4 * 1024 * 1024;
/// Bandwidths below this many bytes/s are refused as meaningless (e.g. a probe that "took" an
/// infinite time).
pub const MIN_BYTES_PER_S: f64 = 1.0;

/// A direction of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Device to server.
    Up,
    /// Server to device.
    Down,
}

/// What a refresh should measure next, from [`LinkEstimator::needs_probe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Probe {
    /// A call that moves almost no data (a load poll), timed for the RTT.
    Rtt,
    /// An upload probe of [`LinkEstimator::next_probe_bytes`] bytes.
    Upload,
    /// A download probe of [`LinkEstimator::next_probe_bytes`] bytes.
    Download,
}

/// How the link estimates are smoothed, aged and probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkConfig {
    /// Half-life of the bandwidth averages (default 3 s).
    pub bandwidth_half_life: Duration,
    /// Half-life of the RTT average and its deviation (default 3 s).
    pub rtt_half_life: Duration,
    /// The RTT estimate is the least sample of this window before the latest sample (default
    /// 10 s): a windowed minimum, as BBR's min_rtt, so that samples that queued behind the
    /// device's own uploads (in its access link's buffer) do not count as the link's RTT.
    pub rtt_min_window: Duration,
    /// Max age and forgetting time of every link estimate (default 10 s and 60 s).
    pub staleness: Staleness,
    /// The smallest transfer part a sample must have to update a bandwidth (default 1 ms).
    pub min_transfer: Duration,
    /// How long a probe should last at the current estimate (default 150 ms).
    pub probe_duration: Duration,
    /// The size of a probe when the bandwidth is unknown, bytes (default 256 KiB: 0.4 s at
    /// 5 Mbit/s, 20 ms at 100 Mbit/s; the next probe is sized from its result).
    pub initial_probe_bytes: u64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            bandwidth_half_life: Duration::from_secs(3),
            rtt_half_life: Duration::from_secs(3),
            rtt_min_window: Duration::from_secs(10),
            staleness: Staleness {
                max_age: Duration::from_secs(10),
                forget_after: Duration::from_secs(60),
            },
            min_transfer: Duration::from_millis(1),
            probe_duration: Duration::from_millis(150),
            initial_probe_bytes: 256 * 1024,
        }
    }
}

/// What a sample did to the estimates, when it was valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// At least one estimate was updated.
    Used,
    /// The transfer part was too short to be meaningful (see the module doc); nothing changed.
    TooShort,
    /// A probe was too short to measure, so it only shows the link is at least as fast as its
    /// bytes over the least meaningful transfer time; that bound, above the estimate, was
    /// taken as a sample (and sizes the next, larger probe).
    LowerBound,
    /// A passive sample arrived while the RTT was unknown (never measured, or forgotten), so its
    /// transfer part is unknown; nothing changed.
    NoRtt,
}

/// A completed offload, as the client saw it and the server reported it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Offload {
    /// Bytes sent to the server (the encoded cut tensors and request framing).
    pub sent_bytes: u64,
    /// Bytes received from the server (the encoded outputs and reply framing).
    pub received_bytes: u64,
    /// From sending the request to receiving the whole reply, on the device's clock.
    pub total_elapsed: Duration,
    /// Queue wait, decoding and compute that the server reports, µs. Remote and untrusted: NaN,
    /// infinite, negative or longer than `total_elapsed` are refused.
    pub server_time_us: f64,
    /// When the reply was received.
    pub now: Instant,
}

/// The link estimates as of some time, judged by age.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkEstimates {
    /// Device-to-server bandwidth, bytes/s.
    pub uplink_bytes_per_s: Reading,
    /// Server-to-device bandwidth, bytes/s.
    pub downlink_bytes_per_s: Reading,
    /// Round-trip time, µs: the least sample of the last [`LinkConfig::rtt_min_window`], aged
    /// as the latest sample.
    pub rtt_us: Reading,
}

/// Upload and download bandwidth (bytes/s) and RTT (µs), smoothed and aged.
#[derive(Debug, Clone)]
pub struct LinkEstimator {
    config: LinkConfig,
    up: Ewma,
    down: Ewma,
    /// The RTT average: its age is the RTT's age, and the deviation is measured from it.
    rtt_us: Ewma,
    rtt_dev_us: Ewma,
    /// RTT samples within `rtt_min_window` of the latest, oldest first.
    rtt_recent: VecDeque<(Instant, f64)>,
    rejected: u64,
    too_short: u64,
}

impl LinkEstimator {
    /// An estimator that knows nothing yet. Errors on a zero half-life or a bad staleness
    /// policy.
    pub fn new(config: LinkConfig) -> Result<Self, EstimateError> {
        config.staleness.validate()?;
        Ok(Self {
            config,
            up: Ewma::new(config.bandwidth_half_life, Domain::Positive)?,
            down: Ewma::new(config.bandwidth_half_life, Domain::Positive)?,
            rtt_us: Ewma::new(config.rtt_half_life, Domain::NonNegative)?,
            rtt_dev_us: Ewma::new(config.rtt_half_life, Domain::NonNegative)?,
            rtt_recent: VecDeque::new(),
            rejected: 0,
            too_short: 0,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// A call that moved almost no data took `rtt` (e.g. a load poll, timed by the caller).
    /// A zero time means the clock did not tick: refused.
    pub fn observe_rtt(&mut self, rtt: Duration, now: Instant) -> Result<Observed, EstimateError> {
        if rtt.is_zero() {
            return Err(self.refuse("rtt", 0.0));
        }
        let x = micros(rtt);
        if x > MAX_SAMPLE {
            return Err(self.refuse("rtt", x));
        }
        let dev = match self.rtt_us.get(now) {
            Some(mean) => (x - mean).abs(),
            None => x / 2.0,
        };
        self.rtt_us.update("rtt", x, now)?;
        self.rtt_dev_us.update("rtt_deviation", dev, now)?;
        let latest = self.rtt_recent.back().map_or(now, |&(t, _)| t.max(now));
        self.rtt_recent.push_back((latest, x));
        while self
            .rtt_recent
            .front()
            .is_some_and(|&(t, _)| latest.saturating_duration_since(t) > self.config.rtt_min_window)
        {
            self.rtt_recent.pop_front();
        }
        Ok(Observed::Used)
    }

    /// A probe moved `bytes` in `direction` in `elapsed` (the whole call). The current RTT is
    /// subtracted; while the RTT is unknown (never measured, or forgotten) the whole call counts
    /// as transfer, which underestimates the bandwidth a little (probes are sized to last much
    /// longer than an RTT).
    pub fn observe_probe(
        &mut self,
        direction: Direction,
        bytes: u64,
        elapsed: Duration,
        now: Instant,
    ) -> Result<Observed, EstimateError> {
        let quantity = bandwidth_name(direction);
        if bytes == 0 {
            return Err(self.refuse(quantity, 0.0));
        }
        if elapsed.is_zero() {
            return Err(self.refuse("elapsed", 0.0));
        }
        let transfer_us = micros(elapsed) - self.rtt(now).value().unwrap_or(0.0);
        let min_us = self.min_transfer_us(now);
        if transfer_us < min_us {
            self.too_short += 1;
            // The link is at least `bytes / min_us` fast. Unless the estimate already says
            // so, take the bound as a sample: the next probe is sized from it and so grows
            // until it lasts long enough (a probe that is always too short would otherwise
            // leave a very fast link unknown forever).
            let bound = bytes as f64 / (min_us / 1e6);
            let ewma = match direction {
                Direction::Up => &self.up,
                Direction::Down => &self.down,
            };
            if self.known(ewma, now).is_some_and(|b| b >= bound) {
                return Ok(Observed::TooShort);
            }
            self.update_bandwidth(direction, bytes, min_us, now)?;
            return Ok(Observed::LowerBound);
        }
        self.update_bandwidth(direction, bytes, transfer_us, now)?;
        Ok(Observed::Used)
    }

    /// A real offload completed: its transfer part (after the server's time and the RTT) updates
    /// the bandwidth of each direction whose share is meaningful (see the module doc).
    pub fn observe_offload(&mut self, offload: &Offload) -> Result<Observed, EstimateError> {
        let now = offload.now;
        let elapsed_us = micros(offload.total_elapsed);
        let server = offload.server_time_us;
        if offload.total_elapsed.is_zero() {
            return Err(self.refuse("elapsed", 0.0));
        }
        if !(server.is_finite() && server >= 0.0 && server <= elapsed_us) {
            return Err(self.refuse("server_time", server));
        }
        if offload.sent_bytes == 0 && offload.received_bytes == 0 {
            return Err(self.refuse("offload_bytes", 0.0));
        }
        let Some(rtt) = self.rtt(now).value() else {
            return Ok(Observed::NoRtt);
        };
        let transfer_us = elapsed_us - server - rtt;
        let min_us = self.min_transfer_us(now);
        if transfer_us < min_us {
            self.too_short += 1;
            return Ok(Observed::TooShort);
        }
        let (up_bytes, down_bytes) = (offload.sent_bytes as f64, offload.received_bytes as f64);
        let (b_up, b_down) = match (self.known(&self.up, now), self.known(&self.down, now)) {
            (Some(u), Some(d)) => (u, d),
            (Some(u), None) => (u, u),
            (None, Some(d)) => (d, d),
            (None, None) => (1.0, 1.0),
        };
        // A direction that moved less than a minimum probe is mostly framing and scheduling:
        // it neither takes a share nor gets an update (else a low estimate of it would claim
        // most of the time, and so keep itself low).
        let counts = |bytes: f64| bytes >= MIN_PROBE_BYTES as f64;
        let p_up = if counts(up_bytes) {
            up_bytes / b_up
        } else {
            0.0
        };
        let p_down = if counts(down_bytes) {
            down_bytes / b_down
        } else {
            0.0
        };
        if p_up + p_down <= 0.0 {
            self.too_short += 1;
            return Ok(Observed::TooShort);
        }
        let mut used = false;
        for (direction, bytes, predicted) in [
            (Direction::Up, offload.sent_bytes, p_up),
            (Direction::Down, offload.received_bytes, p_down),
        ] {
            let share_us = transfer_us * predicted / (p_up + p_down);
            if predicted > 0.0 && share_us >= min_us {
                self.update_bandwidth(direction, bytes, share_us, now)?;
                used = true;
            }
        }
        if used {
            Ok(Observed::Used)
        } else {
            self.too_short += 1;
            Ok(Observed::TooShort)
        }
    }

    /// The estimates at `now`, judged by age.
    pub fn estimate(&self, now: Instant) -> LinkEstimates {
        let s = &self.config.staleness;
        LinkEstimates {
            uplink_bytes_per_s: s.read(&self.up, now),
            downlink_bytes_per_s: s.read(&self.down, now),
            rtt_us: self.rtt(now),
        }
    }

    /// The RTT: the windowed minimum, judged by the age of the latest sample.
    fn rtt(&self, now: Instant) -> Reading {
        let least = self
            .rtt_recent
            .iter()
            .map(|&(_, x)| x)
            .min_by(f64::total_cmp);
        match (self.config.staleness.read(&self.rtt_us, now), least) {
            (Reading::Fresh(_), Some(m)) => Reading::Fresh(m),
            (Reading::Stale(_, age), Some(m)) => Reading::Stale(m, age),
            _ => Reading::Unknown,
        }
    }

    /// What to measure next at `now`, if anything: the RTT first (bandwidth samples need it),
    /// then the direction with no sample within `max_age / 2`.
    pub fn needs_probe(&self, now: Instant) -> Option<Probe> {
        let s = &self.config.staleness;
        if s.needs_refresh(&self.rtt_us, now) {
            Some(Probe::Rtt)
        } else if s.needs_refresh(&self.up, now) {
            Some(Probe::Upload)
        } else if s.needs_refresh(&self.down, now) {
            Some(Probe::Download)
        } else {
            None
        }
    }

    /// Bytes for the next probe in `direction`: enough to last `probe_duration` at the current
    /// estimate (fresh or stale), `initial_probe_bytes` when it is unknown, within
    /// [[`MIN_PROBE_BYTES`], [`MAX_PROBE_BYTES`]].
    pub fn next_probe_bytes(&self, direction: Direction, now: Instant) -> u64 {
        let ewma = match direction {
            Direction::Up => &self.up,
            Direction::Down => &self.down,
        };
        let bytes = match self.config.staleness.read(ewma, now).value() {
            Some(b) => (b * self.config.probe_duration.as_secs_f64()).round(),
            None => self.config.initial_probe_bytes as f64,
        };
        // `as` saturates; the estimate is finite and positive.
        (bytes as u64).clamp(MIN_PROBE_BYTES, MAX_PROBE_BYTES)
    }

    /// Samples refused so far (zero bytes or time, bad server time, absurd bandwidth).
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Valid samples that updated nothing because their transfer part was too short.
    pub fn too_short(&self) -> u64 {
        self.too_short
    }

    /// The smoothed RTT deviation, µs; `None` before the first RTT sample.
    pub fn rtt_deviation_us(&self, now: Instant) -> Option<f64> {
        self.rtt_dev_us.get(now)
    }

    /// `ewma`'s value unless it is unknown (never measured, or forgotten).
    fn known(&self, ewma: &Ewma, now: Instant) -> Option<f64> {
        self.config.staleness.read(ewma, now).value()
    }

    fn min_transfer_us(&self, now: Instant) -> f64 {
        let jitter = match self.rtt(now).value() {
            Some(_) => 2.0 * self.rtt_dev_us.get(now).unwrap_or(0.0),
            None => 0.0,
        };
        micros(self.config.min_transfer).max(jitter)
    }

    fn update_bandwidth(
        &mut self,
        direction: Direction,
        bytes: u64,
        transfer_us: f64,
        now: Instant,
    ) -> Result<(), EstimateError> {
        let quantity = bandwidth_name(direction);
        let bytes_per_s = bytes as f64 / (transfer_us / 1e6);
        if bytes_per_s.is_nan() || bytes_per_s < MIN_BYTES_PER_S {
            return Err(self.refuse(quantity, bytes_per_s));
        }
        let ewma = match direction {
            Direction::Up => &mut self.up,
            Direction::Down => &mut self.down,
        };
        let result = ewma.update(quantity, bytes_per_s, now);
        if result.is_err() {
            self.rejected += 1;
        }
        result
    }

    fn refuse(&mut self, quantity: &'static str, value: f64) -> EstimateError {
        self.rejected += 1;
        EstimateError::BadSample { quantity, value }
    }
}

fn bandwidth_name(direction: Direction) -> &'static str {
    match direction {
        Direction::Up => "uplink_bandwidth",
        Direction::Down => "downlink_bandwidth",
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[cfg(test)]
mod tests;

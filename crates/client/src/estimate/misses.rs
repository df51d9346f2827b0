//! [`Misses`]: how often this device's offloads have missed lately (refused for load, or no
//! answer before the deadline), and how long a miss took to show.
//!
//! The load report prices the queue as the server saw it; what it cannot see is what happened
//! between the report and the answer: a queue that grew while the head ran and the tensors
//! travelled, a host too busy to reach its own queue, a link that stalled. Each such miss costs
//! the device its deadline and then the whole model. So the planner is told the recent miss
//! rate and prices it into every offload ([`OffloadRisk`]).
//!
//! Outcomes are weighted by age (half-life), and one success that never ages sits in the
//! denominator: a run of misses counts fully while it is recent, and fades when the device,
//! having stopped offloading, has nothing new to learn from, so that it tries again. Failures
//! of the connection are the circuit breaker's business and are not fed here.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use loadpart_plan::OffloadRisk;

use crate::EstimateError;

/// The weight of the success that never ages (see the module doc).
const PRIOR_SUCCESSES: f64 = 1.0;

/// Below this miss rate the risk is not worth pricing (and decisions stay exactly as without).
const NEGLIGIBLE: f64 = 1e-3;

/// Recent offload outcomes of one device.
#[derive(Debug, Clone)]
pub struct Misses {
    half_life_s: f64,
    /// Age-weighted count of misses, as of `at`.
    missed: f64,
    /// Age-weighted count of all outcomes, as of `at`.
    all: f64,
    /// Age-weighted sum of the misses' waits, µs, as of `at`.
    wait_sum: f64,
    at: Option<Instant>,
}

impl Misses {
    /// No outcomes yet; each loses half its weight every `half_life`. Errors when it is zero.
    pub fn new(half_life: Duration) -> Result<Self, EstimateError> {
        if half_life.is_zero() {
            return Err(EstimateError::BadConfig {
                name: "misses_half_life",
                reason: "must be positive",
            });
        }
        Ok(Self {
            half_life_s: half_life.as_secs_f64(),
            missed: 0.0,
            all: 0.0,
            wait_sum: 0.0,
            at: None,
        })
    }

    /// The factor by which weights shrink from `at` to `now` (1 for an earlier `now`).
    fn decay(&self, now: Instant) -> f64 {
        match self.at {
            Some(at) => {
                let age = now.saturating_duration_since(at).as_secs_f64();
                (-age / self.half_life_s).exp2()
            }
            None => 1.0,
        }
    }

    /// An offload's outcome at `now`: `missed`, after `wait_us` from sending to knowing it (a
    /// wait that is not a finite non-negative number counts a miss without its wait).
    pub fn observe(&mut self, missed: bool, wait_us: f64, now: Instant) {
        let d = self.decay(now);
        self.missed *= d;
        self.all *= d;
        self.wait_sum *= d;
        self.at = Some(self.at.map_or(now, |at| at.max(now)));
        self.all += 1.0;
        if missed {
            self.missed += 1.0;
            if wait_us.is_finite() && wait_us >= 0.0 {
                self.wait_sum += wait_us;
            }
        }
    }

    /// The miss rate at `now` (0 with no outcomes), in `[0, 1)`.
    pub fn rate(&self, now: Instant) -> f64 {
        let d = self.decay(now);
        self.missed * d / (self.all * d + PRIOR_SUCCESSES)
    }

    /// What the planner prices at `now`; `None` while misses are negligible.
    pub fn risk(&self, now: Instant) -> Option<OffloadRisk> {
        let miss_rate = self.rate(now);
        (miss_rate >= NEGLIGIBLE).then(|| OffloadRisk {
            miss_rate,
            miss_wait_us: self.wait_sum / self.missed,
        })
    }
}

/// One [`Misses`] per policy: each policy learns from its own offloads only. A device runs one
/// policy; an experiment that serves several policies from one client must not let one
/// policy's misses (a load-unaware policy offloading into a full queue, say) steer another.
#[derive(Debug, Clone)]
pub struct PolicyMisses {
    /// An empty record, the start of every policy's.
    empty: Misses,
    by_policy: HashMap<String, Misses>,
}

impl PolicyMisses {
    /// No outcomes yet, for any policy. Errors when `half_life` is zero.
    pub fn new(half_life: Duration) -> Result<Self, EstimateError> {
        Ok(Self {
            empty: Misses::new(half_life)?,
            by_policy: HashMap::new(),
        })
    }

    /// The record of `policy`'s offloads.
    pub fn of(&mut self, policy: &str) -> &mut Misses {
        let empty = &self.empty;
        self.by_policy
            .entry(policy.to_string())
            .or_insert_with(|| empty.clone())
    }

    /// What the planner prices for `policy` at `now`; `None` while its misses are negligible.
    pub fn risk(&self, policy: &str, now: Instant) -> Option<OffloadRisk> {
        self.by_policy.get(policy).and_then(|m| m.risk(now))
    }

    /// `policy`'s miss rate at `now` (0 before its first offload).
    pub fn rate(&self, policy: &str, now: Instant) -> f64 {
        self.by_policy.get(policy).map_or(0.0, |m| m.rate(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn misses() -> Misses {
        Misses::new(Duration::from_secs(2)).unwrap()
    }

    #[test]
    fn each_policy_learns_from_its_own_offloads() {
        let t0 = Instant::now();
        let mut m = PolicyMisses::new(Duration::from_secs(2)).unwrap();
        for _ in 0..5 {
            m.of("neurosurgeon").observe(true, 80_000.0, t0);
            m.of("loadpart").observe(false, 10_000.0, t0);
        }
        assert!(m.rate("neurosurgeon", t0) > 0.8);
        assert_eq!(m.rate("loadpart", t0), 0.0);
        assert!(m.risk("loadpart", t0).is_none());
        assert!(m.risk("neurosurgeon", t0).is_some());
        assert_eq!(m.rate("oracle", t0), 0.0, "no offload yet");
    }

    #[test]
    fn no_outcomes_and_successes_only_have_no_risk() {
        let t0 = Instant::now();
        let mut m = misses();
        assert_eq!(m.rate(t0), 0.0);
        assert!(m.risk(t0).is_none());
        for i in 0..20 {
            m.observe(false, 0.0, t0 + Duration::from_millis(i * 100));
        }
        assert!(m.risk(t0 + Duration::from_secs(3)).is_none());
        assert!(Misses::new(Duration::ZERO).is_err());
    }

    #[test]
    fn the_rate_follows_recent_outcomes_and_the_wait_is_the_misses_mean() {
        let t0 = Instant::now();
        let mut m = misses();
        // Every other offload misses, the misses after 40 and 60 ms.
        for i in 0..40u64 {
            let missed = i % 2 == 1;
            let wait = if i % 4 == 1 { 40_000.0 } else { 60_000.0 };
            m.observe(missed, wait, t0 + Duration::from_millis(i * 50));
        }
        let now = t0 + Duration::from_millis(40 * 50);
        let r = m.risk(now).unwrap();
        assert!((r.miss_rate - 0.5).abs() < 0.08, "{r:?}");
        assert!((r.miss_wait_us - 50_000.0).abs() < 5_000.0, "{r:?}");
    }

    #[test]
    fn misses_fade_when_nothing_new_is_learnt() {
        let t0 = Instant::now();
        let mut m = misses();
        for i in 0..5 {
            m.observe(true, 50_000.0, t0 + Duration::from_millis(i * 10));
        }
        let fresh = m.rate(t0 + Duration::from_millis(50));
        assert!(fresh > 0.8, "five misses in a row: {fresh}");
        // Four half-lives later a device that stopped offloading tries again.
        let later = m.rate(t0 + Duration::from_secs(8));
        assert!(later < 0.25, "{later}");
        assert!(later > 0.0);
        // A success then weighs as much as the faded misses.
        m.observe(false, 0.0, t0 + Duration::from_secs(8));
        assert!(m.rate(t0 + Duration::from_secs(8)) < later);
    }

    #[test]
    fn bad_waits_and_out_of_order_times_are_harmless() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut m = misses();
        m.observe(true, f64::NAN, t0);
        m.observe(true, 30_000.0, t0 - Duration::from_secs(1));
        let r = m.risk(t0).unwrap();
        assert!(
            r.miss_wait_us.is_finite() && r.miss_wait_us <= 30_000.0,
            "{r:?}"
        );
        assert!(r.miss_rate > 0.0 && r.miss_rate < 1.0);
    }
}

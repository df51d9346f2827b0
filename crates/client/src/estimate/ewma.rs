//! [`Ewma`]: a time-decayed mean of samples, with its own validity check.

use std::time::{Duration, Instant};

use crate::EstimateError;

/// Which sample values are meaningful for a quantity. NaN and infinities never are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// Strictly positive (bandwidth in bytes/s, a slowdown factor).
    Positive,
    /// Zero or more (a time in µs, a queue length).
    NonNegative,
}

impl Domain {
    /// Whether `x` is a meaningful sample: finite, in the domain, and at most [`MAX_SAMPLE`].
    pub(crate) fn admits(self, x: f64) -> bool {
        let in_domain = match self {
            Domain::Positive => x > 0.0,
            Domain::NonNegative => x >= 0.0,
        };
        in_domain && x <= MAX_SAMPLE
    }
}

/// Values above this are refused whatever the domain, so that sums of weighted samples stay
/// finite (1e15 bytes/s, µs or requests is far beyond anything real).
pub const MAX_SAMPLE: f64 = 1e15;

/// A time-decayed mean: every accepted sample weighs `2^(-age / half_life)`, so a sample counts
/// half as much one half-life after it arrived, and the mean is
/// `Σ w_i·x_i / Σ w_i`.
///
/// Unlike the textbook `v ← α·x + (1-α)·v` with `α` from the gap since the last sample, this
/// form treats samples that arrive together (or out of order, e.g. replies of concurrent
/// requests) as equals instead of ignoring or over-weighting them, and its first sample is taken
/// as is. When samples are sparse (one per several half-lives) the newest dominates, which is
/// what a stale history deserves; when they are dense, the mean covers about `1.44` half-lives
/// of samples.
///
/// Samples outside the [`Domain`] (or above [`MAX_SAMPLE`]) are refused and counted; they never
/// reach the mean, so it is always finite and inside the domain.
#[derive(Debug, Clone)]
pub struct Ewma {
    half_life_s: f64,
    domain: Domain,
    /// Σ w_i·x_i as of `at`.
    sum: f64,
    /// Σ w_i as of `at`.
    weight: f64,
    /// The time the sums refer to: the latest sample time seen.
    at: Option<Instant>,
    accepted: u64,
    rejected: u64,
}

impl Ewma {
    /// An empty average whose samples lose half their weight every `half_life`. Errors when
    /// `half_life` is zero.
    pub fn new(half_life: Duration, domain: Domain) -> Result<Self, EstimateError> {
        if half_life.is_zero() {
            return Err(EstimateError::BadConfig {
                name: "half_life",
                reason: "must be positive, got 0",
            });
        }
        Ok(Self {
            half_life_s: half_life.as_secs_f64(),
            domain,
            sum: 0.0,
            weight: 0.0,
            at: None,
            accepted: 0,
            rejected: 0,
        })
    }

    /// Adds `value` observed at `now`. A value outside the domain is refused, counted in
    /// [`Ewma::rejected`], and returned as [`EstimateError::BadSample`] named `quantity`.
    ///
    /// A sample older than the latest one (`now` before it) counts as simultaneous with it.
    pub fn update(
        &mut self,
        quantity: &'static str,
        value: f64,
        now: Instant,
    ) -> Result<(), EstimateError> {
        if !self.domain.admits(value) {
            self.rejected += 1;
            return Err(EstimateError::BadSample { quantity, value });
        }
        match self.at {
            Some(at) if now > at => {
                let decay = self.decay(now - at);
                self.sum *= decay;
                self.weight *= decay;
                self.at = Some(now);
            }
            Some(_) => {}
            None => self.at = Some(now),
        }
        self.sum += value;
        self.weight += 1.0;
        self.accepted += 1;
        Ok(())
    }

    /// The mean as of `now`; `None` before the first accepted sample.
    ///
    /// All weights decay by the same factor between samples, so the mean itself only moves when a
    /// sample arrives: how much to trust it is a matter of its age ([`Ewma::age`]), which the
    /// estimators judge against their max age.
    pub fn get(&self, now: Instant) -> Option<f64> {
        let _ = now;
        (self.weight > 0.0).then(|| self.sum / self.weight)
    }

    /// The weight of the samples behind the mean as of `now`: about the number of samples seen in
    /// the last `1.44` half-lives; 0 before the first sample.
    pub fn weight(&self, now: Instant) -> f64 {
        match self.at {
            Some(at) => self.weight * self.decay(now.saturating_duration_since(at)),
            None => 0.0,
        }
    }

    /// Time since the latest accepted sample; `None` before the first.
    pub fn age(&self, now: Instant) -> Option<Duration> {
        self.at.map(|at| now.saturating_duration_since(at))
    }

    /// Samples accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// Samples refused so far (outside the domain, or above [`MAX_SAMPLE`]).
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    fn decay(&self, dt: Duration) -> f64 {
        (-dt.as_secs_f64() / self.half_life_s).exp2()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn first_sample_is_taken_as_is_and_simultaneous_ones_are_equals() {
        let t0 = Instant::now();
        let mut e = Ewma::new(S, Domain::Positive).unwrap();
        assert_eq!(e.get(t0), None);
        e.update("x", 10.0, t0).unwrap();
        assert_eq!(e.get(t0), Some(10.0));
        e.update("x", 20.0, t0).unwrap();
        assert_eq!(e.get(t0), Some(15.0));
        // Out of order: counts as simultaneous with the latest.
        e.update("x", 30.0, t0 - S).unwrap();
        assert_eq!(e.get(t0), Some(20.0));
    }

    #[test]
    fn a_sample_one_half_life_old_weighs_half() {
        let t0 = Instant::now();
        let mut e = Ewma::new(S, Domain::NonNegative).unwrap();
        e.update("x", 0.0, t0).unwrap();
        e.update("x", 3.0, t0 + S).unwrap();
        // (0.5·0 + 1·3) / 1.5
        assert!((e.get(t0 + S).unwrap() - 2.0).abs() < 1e-12);
        assert!((e.weight(t0 + 2 * S) - 0.75).abs() < 1e-12);
        assert_eq!(e.age(t0 + 3 * S), Some(2 * S));
    }

    #[test]
    fn bad_values_are_refused_and_counted() {
        let t0 = Instant::now();
        let mut pos = Ewma::new(S, Domain::Positive).unwrap();
        for v in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300] {
            assert!(matches!(
                pos.update("bandwidth", v, t0),
                Err(EstimateError::BadSample { .. })
            ));
        }
        assert_eq!((pos.accepted(), pos.rejected()), (0, 6));
        assert_eq!(pos.get(t0), None);
        let mut nonneg = Ewma::new(S, Domain::NonNegative).unwrap();
        nonneg.update("queue", 0.0, t0).unwrap();
        assert!(nonneg.update("queue", -0.5, t0).is_err());
        assert_eq!(nonneg.get(t0), Some(0.0));
        assert_eq!((nonneg.accepted(), nonneg.rejected()), (1, 1));
    }

    #[test]
    fn zero_half_life_is_refused() {
        assert!(Ewma::new(Duration::ZERO, Domain::Positive).is_err());
    }
}

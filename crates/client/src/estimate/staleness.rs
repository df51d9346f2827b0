//! How old an estimate may be: [`Staleness`] judges an [`Ewma`]'s age into a [`Reading`], and
//! [`Staleness::conservative`] turns a reading into a value the planner may use.

use std::time::{Duration, Instant};

use super::ewma::Ewma;
use crate::EstimateError;

/// One estimated quantity as of some time, judged by its age.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading {
    /// The latest sample is at most `max_age` old: the smoothed value can be trusted.
    Fresh(f64),
    /// The latest sample is older than `max_age` but not older than `forget_after`: the value
    /// and its age.
    Stale(f64, Duration),
    /// No sample yet, or the latest is older than `forget_after`.
    Unknown,
}

impl Reading {
    /// The value whatever its age; `None` when unknown.
    pub fn value(self) -> Option<f64> {
        match self {
            Reading::Fresh(v) | Reading::Stale(v, _) => Some(v),
            Reading::Unknown => None,
        }
    }

    /// Whether the reading is [`Reading::Fresh`].
    pub fn is_fresh(self) -> bool {
        matches!(self, Reading::Fresh(_))
    }
}

/// Which way a quantity errs on the safe side: towards lower values (bandwidth) or higher ones
/// (RTT, queue wait, slowdown, batch size). The safe side is the one that makes offloading look
/// slower, so that a device in doubt keeps its work local.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Safe {
    /// Less is more pessimistic (bandwidth).
    Lower,
    /// More is more pessimistic (times, factors).
    Higher,
}

/// When a quantity's estimate goes stale and when it is forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Staleness {
    /// Older than this, an estimate is [`Reading::Stale`], and at half of it the estimator asks
    /// for a refresh (a probe or a load poll).
    pub max_age: Duration,
    /// Older than this, an estimate is [`Reading::Unknown`]; at least `max_age`.
    pub forget_after: Duration,
}

impl Staleness {
    /// Errors when `max_age` is zero or `forget_after < max_age`.
    pub fn validate(&self) -> Result<(), EstimateError> {
        if self.max_age.is_zero() {
            return Err(EstimateError::BadConfig {
                name: "max_age",
                reason: "must be positive, got 0",
            });
        }
        if self.forget_after < self.max_age {
            return Err(EstimateError::BadConfig {
                name: "forget_after",
                reason: "must be at least max_age",
            });
        }
        Ok(())
    }

    /// `ewma`'s value judged by its age at `now`.
    pub fn read(&self, ewma: &Ewma, now: Instant) -> Reading {
        match (ewma.get(now), ewma.age(now)) {
            (Some(v), Some(age)) if age <= self.max_age => Reading::Fresh(v),
            (Some(v), Some(age)) if age <= self.forget_after => Reading::Stale(v, age),
            _ => Reading::Unknown,
        }
    }

    /// Whether `ewma` should be refreshed at `now`: no sample yet, or none within `max_age / 2`.
    pub fn needs_refresh(&self, ewma: &Ewma, now: Instant) -> bool {
        ewma.age(now).is_none_or(|age| age > self.max_age / 2)
    }

    /// The value to plan with, never more optimistic than the evidence:
    ///
    /// - fresh: the value;
    /// - unknown: `fallback`;
    /// - stale: the value moved linearly towards `fallback` as it ages, from the value itself at
    ///   `max_age` to `fallback` at `forget_after` (where it becomes unknown, so the two cases
    ///   join without a jump), but only when `fallback` is on the [`Safe`] side of the value: a
    ///   stale value is never made more optimistic than it was when last measured.
    pub fn conservative(&self, reading: Reading, fallback: f64, safe: Safe) -> f64 {
        match reading {
            Reading::Fresh(v) => v,
            Reading::Unknown => fallback,
            Reading::Stale(v, age) => {
                let span = (self.forget_after - self.max_age).as_secs_f64();
                let s = if span > 0.0 {
                    ((age.saturating_sub(self.max_age)).as_secs_f64() / span).clamp(0.0, 1.0)
                } else {
                    1.0
                };
                let blended = v + (fallback - v) * s;
                match safe {
                    Safe::Lower => v.min(blended),
                    Safe::Higher => v.max(blended),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::ewma::Domain;

    const S: Duration = Duration::from_secs(1);

    fn policy() -> Staleness {
        Staleness {
            max_age: 2 * S,
            forget_after: 6 * S,
        }
    }

    #[test]
    fn fresh_then_stale_then_unknown() {
        let t0 = Instant::now();
        let mut e = Ewma::new(S, Domain::Positive).unwrap();
        let p = policy();
        assert_eq!(p.read(&e, t0), Reading::Unknown);
        assert!(p.needs_refresh(&e, t0));
        e.update("x", 5.0, t0).unwrap();
        assert_eq!(p.read(&e, t0 + S), Reading::Fresh(5.0));
        assert!(!p.needs_refresh(&e, t0 + S));
        assert!(p.needs_refresh(&e, t0 + S + Duration::from_millis(1)));
        assert_eq!(p.read(&e, t0 + 3 * S), Reading::Stale(5.0, 3 * S));
        assert_eq!(p.read(&e, t0 + 6 * S), Reading::Stale(5.0, 6 * S));
        assert_eq!(p.read(&e, t0 + 7 * S), Reading::Unknown);
    }

    #[test]
    fn stale_values_slide_to_the_fallback_only_on_the_safe_side() {
        let p = policy();
        // Bandwidth 100, pessimistic fallback 10: halfway through the stale period, 55.
        let half = Reading::Stale(100.0, 4 * S);
        assert_eq!(p.conservative(half, 10.0, Safe::Lower), 55.0);
        assert_eq!(
            p.conservative(Reading::Stale(100.0, 6 * S), 10.0, Safe::Lower),
            10.0
        );
        // A fallback more optimistic than the stale value leaves it as it was.
        assert_eq!(p.conservative(half, 1000.0, Safe::Lower), 100.0);
        assert_eq!(p.conservative(half, 10.0, Safe::Higher), 100.0);
        assert_eq!(p.conservative(Reading::Fresh(7.0), 1.0, Safe::Higher), 7.0);
        assert_eq!(p.conservative(Reading::Unknown, 1.0, Safe::Higher), 1.0);
    }

    #[test]
    fn bad_policies_are_refused() {
        let zero = Staleness {
            max_age: Duration::ZERO,
            forget_after: S,
        };
        assert!(zero.validate().is_err());
        let inverted = Staleness {
            max_age: 2 * S,
            forget_after: S,
        };
        assert!(inverted.validate().is_err());
        assert!(policy().validate().is_ok());
    }
}

//! [`Breaker`]: when to stop offloading to a failing server and when to try it again. Pure; time
//! is a parameter.
//!
//! A device that keeps sending to a dead or saturated server pays a timeout on every request
//! before it finishes locally. After a failure the breaker opens: requests run locally at once,
//! and a background health check asks the server (cheaply) whether it is back once the back-off
//! has passed. A success closes the breaker; another failure doubles the back-off, up to a cap.
//! A refusal for overload (RESOURCE_EXHAUSTED) is the server working as designed, so it backs off
//! for a shorter, fixed time: the load report that came with it already steers the planner. A
//! refusal that says when to retry (gRPC's `grpc-retry-pushback-ms`, sent when the device is over
//! its fair share) is honoured instead, up to a cap: an offload before then would be refused
//! again and cost the device a round trip before it finishes locally.

use std::time::{Duration, Instant};

/// How the breaker backs off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker (default 1: a refused connection is not worth
    /// a second timeout).
    pub failures_to_open: u32,
    /// Consecutive deadline misses that open the breaker (default 3): a server that answers late
    /// is loaded, not gone, and its load report already steers the planner; only a server that
    /// keeps missing deadlines is avoided.
    pub slow_to_open: u32,
    /// First back-off after opening (default 250 ms).
    pub base_backoff: Duration,
    /// Longest back-off (default 1 s: a restarted server is used again within about a second).
    pub max_backoff: Duration,
    /// Back-off after an overload refusal (default 200 ms).
    pub overload_backoff: Duration,
    /// Longest server pushback honoured (default 10 s, the most the server asks for); zero
    /// ignores pushback (a refusal then backs off like any overload refusal).
    pub max_pushback: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failures_to_open: 1,
            slow_to_open: 3,
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(1),
            overload_backoff: Duration::from_millis(200),
            max_pushback: Duration::from_secs(10),
        }
    }
}

/// What went wrong with an offload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection or a reset: the server may be gone.
    Unreachable,
    /// No answer before the deadline.
    Slow,
    /// The server refused the request for load (RESOURCE_EXHAUSTED).
    Overloaded,
    /// The server answered with another error for this request.
    ServerError,
}

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Offloading.
    Closed,
    /// Not offloading until `until`; then a health check may close it.
    Open { until: Instant },
}

/// A circuit breaker for one server.
#[derive(Debug, Clone)]
pub struct Breaker {
    config: BreakerConfig,
    state: BreakerState,
    failures: u32,
    backoff: Duration,
    opened: u64,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: BreakerState::Closed,
            failures: 0,
            backoff: config.base_backoff,
            opened: 0,
        }
    }

    /// The state now.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Whether a request may be offloaded.
    pub fn allows_offload(&self) -> bool {
        self.state == BreakerState::Closed
    }

    /// Whether the back-off has passed, so that a health check should ask the server now.
    pub fn wants_health_check(&self, now: Instant) -> bool {
        matches!(self.state, BreakerState::Open { until } if now >= until)
    }

    /// How many times the breaker has opened.
    pub fn times_opened(&self) -> u64 {
        self.opened
    }

    /// An offload or a health check succeeded: offload again, back-off reset.
    pub fn success(&mut self) {
        self.state = BreakerState::Closed;
        self.failures = 0;
        self.backoff = self.config.base_backoff;
    }

    /// An offload or a health check failed at `now`.
    pub fn failure(&mut self, failure: Failure, now: Instant) {
        match failure {
            Failure::Overloaded => {
                self.open(now + self.config.overload_backoff);
            }
            Failure::Unreachable | Failure::ServerError | Failure::Slow => {
                self.failures = self.failures.saturating_add(1);
                let reopened = matches!(self.state, BreakerState::Open { .. });
                let threshold = match failure {
                    Failure::Slow => self.config.slow_to_open,
                    _ => self.config.failures_to_open,
                };
                if reopened {
                    // A failed health check: wait longer next time.
                    self.backoff = (self.backoff * 2).min(self.config.max_backoff);
                    self.open(now + self.backoff);
                } else if self.failures >= threshold.max(1) {
                    self.backoff = self.config.base_backoff;
                    self.open(now + self.backoff);
                }
            }
        }
    }

    /// An overload refusal at `now` whose server asked for no retry within `pushback`: offload
    /// again after the longer of that (capped at `max_pushback`) and the overload back-off.
    pub fn refused_with_pushback(&mut self, now: Instant, pushback: Duration) {
        if self.config.max_pushback.is_zero() {
            return self.failure(Failure::Overloaded, now);
        }
        let wait = pushback
            .min(self.config.max_pushback)
            .max(self.config.overload_backoff);
        self.open(now + wait);
    }

    fn open(&mut self, until: Instant) {
        if self.state == BreakerState::Closed {
            self.opened += 1;
        }
        self.state = BreakerState::Open { until };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_failure_opens_and_a_health_check_closes() {
        let t0 = Instant::now();
        let mut b = Breaker::new(BreakerConfig::default());
        assert!(b.allows_offload());
        b.failure(Failure::Unreachable, t0);
        assert!(!b.allows_offload());
        assert!(!b.wants_health_check(t0 + 100 * MS));
        assert!(b.wants_health_check(t0 + 250 * MS));
        b.success();
        assert!(b.allows_offload());
        assert_eq!(b.times_opened(), 1);
    }

    #[test]
    fn failed_health_checks_double_the_backoff_up_to_the_cap() {
        let t0 = Instant::now();
        let mut b = Breaker::new(BreakerConfig::default());
        b.failure(Failure::Unreachable, t0);
        let mut now = t0;
        let mut waits = Vec::new();
        for _ in 0..5 {
            let BreakerState::Open { until } = b.state() else {
                panic!("closed")
            };
            now = until;
            b.failure(Failure::Unreachable, now);
            let BreakerState::Open { until } = b.state() else {
                panic!("closed")
            };
            waits.push((until - now).as_millis());
        }
        assert_eq!(waits, [500, 1000, 1000, 1000, 1000]);
        assert_eq!(b.times_opened(), 1);
        b.success();
        b.failure(Failure::Unreachable, now);
        let BreakerState::Open { until } = b.state() else {
            panic!("closed")
        };
        assert_eq!(until - now, 250 * MS, "back-off resets after a success");
    }

    #[test]
    fn late_answers_open_only_when_they_repeat() {
        let t0 = Instant::now();
        let mut b = Breaker::new(BreakerConfig::default());
        b.failure(Failure::Slow, t0);
        b.failure(Failure::Slow, t0);
        assert!(b.allows_offload());
        b.success();
        b.failure(Failure::Slow, t0);
        b.failure(Failure::Slow, t0);
        assert!(b.allows_offload(), "a success resets the count");
        b.failure(Failure::Slow, t0);
        assert!(!b.allows_offload());
    }

    #[test]
    fn overload_backs_off_briefly() {
        let t0 = Instant::now();
        let mut b = Breaker::new(BreakerConfig::default());
        b.failure(Failure::Overloaded, t0);
        assert!(!b.allows_offload());
        assert!(b.wants_health_check(t0 + 200 * MS));
    }

    #[test]
    fn a_refusal_with_pushback_waits_for_it_within_the_cap() {
        let t0 = Instant::now();
        let mut b = Breaker::new(BreakerConfig::default());
        b.refused_with_pushback(t0, 3000 * MS);
        assert!(!b.wants_health_check(t0 + 2999 * MS));
        assert!(b.wants_health_check(t0 + 3000 * MS));
        b.success();
        // A hint shorter than the overload back-off keeps the back-off; a longer one than the
        // cap is cut to it.
        b.refused_with_pushback(t0, 5 * MS);
        assert!(!b.wants_health_check(t0 + 199 * MS));
        assert!(b.wants_health_check(t0 + 200 * MS));
        b.success();
        b.refused_with_pushback(t0, Duration::from_secs(3600));
        assert!(b.wants_health_check(t0 + Duration::from_secs(10)));
        assert_eq!(b.times_opened(), 3);
    }

    #[test]
    fn several_failures_needed_when_configured() {
        let t0 = Instant::now();
        let mut b = Breaker::new(BreakerConfig {
            failures_to_open: 3,
            ..BreakerConfig::default()
        });
        b.failure(Failure::ServerError, t0);
        b.failure(Failure::ServerError, t0);
        assert!(b.allows_offload());
        b.failure(Failure::ServerError, t0);
        assert!(!b.allows_offload());
    }
}

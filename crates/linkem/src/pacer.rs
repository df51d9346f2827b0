//! [`Pacer`]: the departure time of each chunk on a rate-limited link; pure, time as a parameter.

use std::time::{Duration, Instant};

/// A link's bandwidth each way and its one-way delay. `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkShape {
    /// Device-to-server bytes per second.
    pub up_bytes_per_s: Option<f64>,
    /// Server-to-device bytes per second.
    pub down_bytes_per_s: Option<f64>,
    /// Added to each direction (so the round trip gains twice this).
    pub one_way_delay: Duration,
}

impl LinkShape {
    /// The same rate both ways, in bits per second (as links are quoted), no delay.
    pub fn symmetric_bits(bits_per_s: f64) -> Self {
        Self {
            up_bytes_per_s: Some(bits_per_s / 8.0),
            down_bytes_per_s: Some(bits_per_s / 8.0),
            one_way_delay: Duration::ZERO,
        }
    }

    /// No limit, no delay.
    pub fn unlimited() -> Self {
        Self {
            up_bytes_per_s: None,
            down_bytes_per_s: None,
            one_way_delay: Duration::ZERO,
        }
    }
}

/// Serialises chunks onto one direction of a link: each chunk departs when the previous one has
/// been sent at the link's rate. Shared by every connection through the link.
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    /// When the link is free again.
    free_at: Option<Instant>,
}

impl Pacer {
    /// When a chunk of `bytes` that is ready at `now` has left a link of `bytes_per_s` (`None`,
    /// NaN or not positive: unlimited, it leaves at `now`).
    pub fn depart(&mut self, bytes: usize, bytes_per_s: Option<f64>, now: Instant) -> Instant {
        let Some(rate) = bytes_per_s.filter(|r| r.is_finite() && *r > 0.0) else {
            self.free_at = None;
            return now;
        };
        let start = self.free_at.map_or(now, |t| t.max(now));
        // Capped so that an absurdly low rate cannot overflow `Instant` arithmetic.
        let secs = (bytes as f64 / rate).min(3600.0);
        let done = start + Duration::from_secs_f64(secs);
        self.free_at = Some(done);
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_to_back_chunks_queue_behind_each_other() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        // 1000 B/s: 100 bytes take 100 ms.
        let a = p.depart(100, Some(1000.0), t0);
        let b = p.depart(100, Some(1000.0), t0);
        assert_eq!(a - t0, Duration::from_millis(100));
        assert_eq!(b - t0, Duration::from_millis(200));
    }

    #[test]
    fn an_idle_link_starts_fresh() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        p.depart(100, Some(1000.0), t0);
        let later = t0 + Duration::from_secs(5);
        assert_eq!(
            p.depart(100, Some(1000.0), later) - later,
            Duration::from_millis(100)
        );
    }

    #[test]
    fn unlimited_and_bad_rates_do_not_wait() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        for rate in [
            None,
            Some(0.0),
            Some(-5.0),
            Some(f64::NAN),
            Some(f64::INFINITY),
        ] {
            assert_eq!(p.depart(1 << 20, rate, t0), t0, "{rate:?}");
        }
    }

    #[test]
    fn a_tiny_rate_is_capped_not_overflowed() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        let t = p.depart(usize::MAX, Some(1e-300), t0);
        assert_eq!(t - t0, Duration::from_secs(3600));
    }
}

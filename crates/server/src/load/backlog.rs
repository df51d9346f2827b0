//! [`BacklogHistory`]: the server's backlog now and its time average over the load window.
//!
//! The backlog is how long a request arriving now, at a cut with nothing queued, would wait for
//! an executor. It says what a request sent at once will find; a device whose head and upload
//! take longer arrives at a time that has nothing to do with the queue now, and finds the
//! backlog's average over time. That average is not the mean wait of the requests served: those
//! are mostly requests at busy cuts, which join a batch already forming instead of queueing
//! behind it, and a request at a cut nobody else uses waited 1.5-4x their mean on the test bed.
//!
//! Between the scheduler's readings the backlog falls at one second per second (the batches on
//! the way end at fixed times), down to zero, so each stretch between two readings is
//! integrated exactly. Stretches are kept in buckets of [`BUCKET`] so that memory stays bounded
//! however often the scheduler reads.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How finely the window is kept.
pub const BUCKET: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// When its first stretch ended.
    start: Instant,
    /// Time with a known backlog, µs.
    covered_us: f64,
    /// Backlog integrated over that time, µs².
    area: f64,
}

/// The latest backlog reading and the time average of the backlog over the last `span`.
#[derive(Debug, Clone)]
pub struct BacklogHistory {
    span: Duration,
    buckets: VecDeque<Bucket>,
    /// The latest reading: when, and the backlog then (µs); `None` while unknown.
    latest: Option<(Instant, f64)>,
}

impl BacklogHistory {
    /// Nothing known yet; averages over the last `span`.
    pub fn new(span: Duration) -> Self {
        Self {
            span,
            buckets: VecDeque::new(),
            latest: None,
        }
    }

    /// The backlog at `now` is `backlog` (`None`: unknown, e.g. a batch without a time
    /// estimate). The stretch since the previous reading enters the average. A `now` earlier
    /// than the previous reading replaces that reading without adding a stretch.
    pub fn set(&mut self, now: Instant, backlog: Option<Duration>) {
        if let Some((at, b)) = self.latest
            && now > at
        {
            self.integrate(at, b, now);
        }
        self.latest = backlog.map(|b| (now, b.as_secs_f64() * 1e6));
        self.forget(now);
    }

    /// The backlog at `now`: the latest reading less the time since (executors work it off).
    pub fn now_us(&self, now: Instant) -> Option<f64> {
        let (at, b) = self.latest?;
        Some((b - micros(now.saturating_duration_since(at))).max(0.0))
    }

    /// The backlog's time average over the last `span` up to `now`, µs; `None` when it was
    /// never known in that time.
    pub fn mean_us(&mut self, now: Instant) -> Option<f64> {
        self.forget(now);
        let (mut covered, mut area) = self
            .buckets
            .iter()
            .fold((0.0, 0.0), |(c, a), k| (c + k.covered_us, a + k.area));
        if let Some((at, b)) = self.latest
            && now > at
        {
            let (c, a) = stretch(self.clip(at, b, now), now);
            covered += c;
            area += a;
        }
        (covered > 0.0).then(|| area / covered)
    }

    /// The stretch from `from` (backlog `b` µs) to `to`, in bucket-sized pieces.
    fn integrate(&mut self, from: Instant, b: f64, to: Instant) {
        let (mut t, mut b) = self.clip(from, b, to);
        while t < to {
            let end = (t + BUCKET).min(to);
            let (covered_us, area) = stretch((t, b), end);
            match self.buckets.back_mut() {
                Some(k) if end.saturating_duration_since(k.start) < BUCKET => {
                    k.covered_us += covered_us;
                    k.area += area;
                }
                _ => self.buckets.push_back(Bucket {
                    start: end,
                    covered_us,
                    area,
                }),
            }
            b = (b - covered_us).max(0.0);
            t = end;
        }
    }

    /// A stretch from `from` (backlog `b`) to `to`, less what lies before the window: its
    /// start and the backlog then.
    fn clip(&self, from: Instant, b: f64, to: Instant) -> (Instant, f64) {
        match to.checked_sub(self.span) {
            Some(edge) if edge > from => (edge, (b - micros(edge - from)).max(0.0)),
            _ => (from, b),
        }
    }

    fn forget(&mut self, now: Instant) {
        while self
            .buckets
            .front()
            .is_some_and(|k| now.saturating_duration_since(k.start) >= self.span)
        {
            self.buckets.pop_front();
        }
    }
}

/// (time covered, backlog integrated) for a stretch starting at `(t, b)` and ending at `end`,
/// the backlog falling at one second per second down to zero.
fn stretch((t, b): (Instant, f64), end: Instant) -> (f64, f64) {
    let d = micros(end.saturating_duration_since(t));
    let area = if b <= d {
        b * b / 2.0
    } else {
        d * (b - d / 2.0)
    };
    (d, area)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_backlog_that_drains_averages_to_its_triangle() {
        // 100 ms of backlog at t0, read again (empty) 200 ms later: it drained in 100 ms, then
        // nothing for 100 ms: a triangle of 5,000 ms² over 200 ms, 25 ms.
        let t0 = Instant::now();
        let mut h = BacklogHistory::new(Duration::from_secs(10));
        assert_eq!(h.mean_us(t0), None, "nothing known yet");
        h.set(t0, Some(100 * MS));
        assert_eq!(h.now_us(t0 + 30 * MS), Some(70_000.0));
        h.set(t0 + 200 * MS, Some(Duration::ZERO));
        let m = h.mean_us(t0 + 200 * MS).unwrap();
        assert!((m - 25_000.0).abs() < 1e-6, "{m}");
        // 200 ms more at zero halves it.
        let m = h.mean_us(t0 + 400 * MS).unwrap();
        assert!((m - 12_500.0).abs() < 1e-6, "{m}");
    }

    #[test]
    fn a_standing_queue_averages_to_its_level_not_to_the_waits_of_who_joined_it() {
        // A queue refilled to 80 ms every 20 ms (a batch ends, the next is queued): the backlog
        // saws between 80 and 60 ms, mean 70 ms, whatever the waits of the requests served.
        let t0 = Instant::now();
        let mut h = BacklogHistory::new(Duration::from_secs(2));
        for i in 0..200u32 {
            h.set(t0 + i * 20 * MS, Some(80 * MS));
        }
        // (The window ends 10 ms into a tooth, at 75 ms on average: a little above 70.)
        let m = h.mean_us(t0 + 3990 * MS).unwrap();
        assert!((m - 70_000.0).abs() < 100.0, "{m}");
    }

    #[test]
    fn the_window_forgets_and_unknown_stretches_do_not_count() {
        let t0 = Instant::now();
        let mut h = BacklogHistory::new(Duration::from_secs(1));
        h.set(t0, Some(500 * MS));
        h.set(t0 + 100 * MS, None);
        // Unknown for 2 s: the known stretch left the window, nothing is known.
        h.set(t0 + 2100 * MS, Some(Duration::ZERO));
        assert_eq!(h.mean_us(t0 + 2100 * MS), None);
        // An open stretch longer than the window counts only its last `span`.
        let m = h.mean_us(t0 + 5 * 1000 * MS).unwrap();
        assert_eq!(m, 0.0);
        // Bounded memory: a long stretch fills at most span / BUCKET buckets.
        h.set(t0 + 9 * 1000 * MS, Some(Duration::ZERO));
        assert!(h.buckets.len() <= 11, "{}", h.buckets.len());
    }

    #[test]
    fn an_earlier_reading_replaces_the_latest_without_a_stretch() {
        let t0 = Instant::now() + Duration::from_secs(1);
        let mut h = BacklogHistory::new(Duration::from_secs(10));
        h.set(t0, Some(10 * MS));
        h.set(t0 - 5 * MS, Some(20 * MS));
        assert_eq!(h.now_us(t0 - 5 * MS), Some(20_000.0));
        assert!(h.buckets.is_empty());
    }
}

//! [`CapacityWindow`]: how many requests per second the server could complete at the batch mix
//! it runs now, from the batches of a recent window. Fair share divides this among devices.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Rows run and executor time spent (decode, engine, output split) per batch, over `span`.
#[derive(Debug, Clone)]
pub struct CapacityWindow {
    span: Duration,
    /// (finished at, rows, executor time), in time order.
    batches: VecDeque<(Instant, usize, Duration)>,
}

impl CapacityWindow {
    /// An empty window over the last `span`.
    pub fn new(span: Duration) -> Self {
        Self {
            span,
            batches: VecDeque::new(),
        }
    }

    /// A batch of `rows` rows that finished at `now` after `busy` of executor time.
    pub fn record(&mut self, now: Instant, rows: usize, busy: Duration) {
        self.forget(now);
        if rows > 0 && !busy.is_zero() {
            self.batches.push_back((now, rows, busy));
        }
    }

    /// Rows per second of executor time in the window, times `executors` (they run side by
    /// side): the completion rate if every executor were kept busy at this batch mix. It
    /// counts only executor time, so it is an upper bound when the request path itself
    /// (transport, admission) is the bottleneck. `None` when no batch ran in the window.
    pub fn per_s(&mut self, now: Instant, executors: usize) -> Option<f64> {
        self.forget(now);
        let rows: usize = self.batches.iter().map(|b| b.1).sum();
        let busy: f64 = self.batches.iter().map(|b| b.2.as_secs_f64()).sum();
        (rows > 0 && busy > 0.0).then(|| rows as f64 / busy * executors.max(1) as f64)
    }

    /// Fraction of `executors`' time over the span before `now` spent in batches, in [0, 1]
    /// (0 when none ran).
    pub fn busy_fraction(&mut self, now: Instant, executors: usize) -> f64 {
        self.forget(now);
        let busy: f64 = self.batches.iter().map(|b| b.2.as_secs_f64()).sum();
        (busy / (self.span.as_secs_f64() * executors.max(1) as f64)).clamp(0.0, 1.0)
    }

    fn forget(&mut self, now: Instant) {
        while self
            .batches
            .front()
            .is_some_and(|b| now.saturating_duration_since(b.0) >= self.span)
        {
            self.batches.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_over_busy_time_times_executors_within_the_span() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut w = CapacityWindow::new(Duration::from_secs(3));
        assert_eq!(w.per_s(t0, 1), None);
        // 1 row in 10 ms, then 4 rows in 20 ms: 5 rows in 30 ms.
        w.record(t0, 1, ms(10));
        w.record(t0 + ms(100), 4, ms(20));
        w.record(t0 + ms(100), 0, ms(5)); // ignored
        let c = w.per_s(t0 + ms(200), 1).unwrap();
        assert!((c - 5.0 / 0.030).abs() < 1e-6, "{c}");
        let c2 = w.per_s(t0 + ms(200), 2).unwrap();
        assert!((c2 - 2.0 * c).abs() < 1e-6);
        // 30 ms busy in a 3 s span: 1% of one executor, 0.5% of two.
        assert!((w.busy_fraction(t0 + ms(200), 1) - 0.01).abs() < 1e-9);
        assert!((w.busy_fraction(t0 + ms(200), 2) - 0.005).abs() < 1e-9);
        // The first batch leaves the window at 3 s, the second at 3.1 s.
        let c = w.per_s(t0 + ms(3050), 1).unwrap();
        assert!((c - 4.0 / 0.020).abs() < 1e-6, "{c}");
        assert_eq!(w.per_s(t0 + ms(3100), 1), None);
    }
}

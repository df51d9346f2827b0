//! [`LoadWindow`]: the server's recent load, over a sliding time window, always finite.
//!
//! Clients plan with `W + f·R(c, k)`: the expected queue wait `W`, and the slowdown factor `f`
//! (measured batch time over profiled time for the same cut and batch size) times the profiled
//! tail time. Both come from here, over the last few seconds of completed work. Unlike the
//! original, an empty window gives defined values (waits 0, slowdown 1), the slowdown is
//! measured for every batch whatever the batching mode, and bad samples are ignored and counted
//! instead of poisoning the report with NaN.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use loadpart_cuts::CutId;

use crate::error::SchedError;

mod backlog;
mod by_cut;
pub use backlog::BacklogHistory;
pub use by_cut::CutBatchStat;

/// The largest slowdown ever reported; a larger ratio (a profiled time near zero) is clamped.
pub const MAX_SLOWDOWN: f64 = 1e6;

/// The load over the window, as sent to clients. Every float is finite and non-negative.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSnapshot {
    /// Seconds the figures cover: the configured window, or less shortly after start.
    pub window_s: f64,
    /// Mean queue wait of the requests completed in the window, µs; 0 when none.
    pub queue_wait_mean_us: f64,
    /// 95th percentile (nearest rank) of those waits, µs; 0 when none.
    pub queue_wait_p95_us: f64,
    /// Sum of measured batch times over sum of profiled times, in the window; 1 when no batch ran
    /// or the profiled sum is 0; at most [`MAX_SLOWDOWN`].
    pub slowdown: f64,
    /// Requests completed per second over `window_s`; 0 when `window_s` is 0.
    pub requests_per_s: f64,
    /// (batch size in rows, batches of that size) in the window, by increasing size.
    pub batch_mix: Vec<(usize, u64)>,
    /// Mean rows per batch in the window; 0 when no batch ran.
    pub mean_batch_size: f64,
    /// Samples refused since start (a NaN, infinite or negative profiled time, or a batch of 0
    /// rows).
    pub rejected_samples: u64,
    /// Per cut with requests in the window: the batch those requests ran in and their mean
    /// queue wait, by cut id. Only
    /// for requests recorded with their cut ([`LoadWindow::record_request_at`]).
    pub cut_batches: Vec<CutBatchStat>,
}

#[derive(Debug, Clone, Copy)]
struct BatchSample {
    at: Instant,
    rows: usize,
    measured: Duration,
    profiled_us: f64,
}

/// Completed requests and batches of the last `span`, summarised by [`LoadWindow::snapshot`].
#[derive(Debug, Clone)]
pub struct LoadWindow {
    span: Duration,
    started: Instant,
    last: Instant,
    /// (completion time, queue wait), in time order.
    requests: VecDeque<(Instant, Duration)>,
    batches: VecDeque<BatchSample>,
    by_cut: by_cut::ByCut,
    rejected_samples: u64,
}

impl LoadWindow {
    /// An empty window over the last `span` (e.g. 10 s), starting at `now`. Errors when `span` is
    /// zero.
    pub fn new(span: Duration, now: Instant) -> Result<Self, SchedError> {
        if span.is_zero() {
            return Err(SchedError::ZeroLimit { name: "window" });
        }
        Ok(Self {
            span,
            started: now,
            last: now,
            requests: VecDeque::new(),
            batches: VecDeque::new(),
            by_cut: by_cut::ByCut::default(),
            rejected_samples: 0,
        })
    }

    /// Records one request that left the queue at `now` after waiting `queue_wait`.
    pub fn record_request(&mut self, now: Instant, queue_wait: Duration) {
        let at = self.advance(now);
        self.requests.push_back((at, queue_wait));
    }

    /// Records one request at `cut` that left the queue at `now` after waiting `queue_wait`
    /// and ran in a batch of `batch_rows` rows (what its reply reports).
    pub fn record_request_at(
        &mut self,
        now: Instant,
        queue_wait: Duration,
        cut: &CutId,
        batch_rows: usize,
    ) {
        let at = self.advance(now);
        self.requests.push_back((at, queue_wait));
        self.by_cut.record(at, cut, batch_rows, queue_wait);
    }

    /// Records one batch of `rows` rows that finished at `now`, took `measured` to execute, and
    /// was profiled at `profiled_us` µs for its cut and batch size (the caller computes it, e.g.
    /// with `loadpart_plan::ServerCosts::tail_time_us`). A profiled time that is NaN, infinite
    /// or negative, or a batch of 0 rows, is ignored and counted in `rejected_samples`.
    pub fn record_batch(
        &mut self,
        now: Instant,
        rows: usize,
        measured: Duration,
        profiled_us: f64,
    ) {
        let at = self.advance(now);
        if rows == 0 || !profiled_us.is_finite() || profiled_us < 0.0 {
            self.rejected_samples += 1;
            return;
        }
        self.batches.push_back(BatchSample {
            at,
            rows,
            measured,
            profiled_us,
        });
    }

    /// Samples refused since start.
    pub fn rejected_samples(&self) -> u64 {
        self.rejected_samples
    }

    /// The load over the window ending at `now`; forgets what has left the window.
    pub fn snapshot(&mut self, now: Instant) -> LoadSnapshot {
        let now = self.advance(now);
        let window_s = now
            .saturating_duration_since(self.started)
            .min(self.span)
            .as_secs_f64();

        let mut waits: Vec<f64> = self.requests.iter().map(|(_, w)| us(*w)).collect();
        let queue_wait_mean_us = mean(waits.iter().sum(), waits.len());
        let queue_wait_p95_us = p95(&mut waits);
        let requests_per_s = if window_s > 0.0 {
            self.requests.len() as f64 / window_s
        } else {
            0.0
        };

        let measured: f64 = self.batches.iter().map(|b| us(b.measured)).sum();
        let profiled: f64 = self.batches.iter().map(|b| b.profiled_us).sum();
        let slowdown = if profiled > 0.0 && profiled.is_finite() {
            (measured / profiled).min(MAX_SLOWDOWN)
        } else {
            1.0
        };

        let mut sizes: Vec<usize> = self.batches.iter().map(|b| b.rows).collect();
        sizes.sort_unstable();
        let mut batch_mix: Vec<(usize, u64)> = Vec::new();
        for size in &sizes {
            match batch_mix.last_mut() {
                Some((s, n)) if s == size => *n += 1,
                _ => batch_mix.push((*size, 1)),
            }
        }
        let rows: f64 = sizes.iter().map(|&r| r as f64).sum();
        let mean_batch_size = mean(rows, sizes.len());

        LoadSnapshot {
            window_s,
            queue_wait_mean_us,
            queue_wait_p95_us,
            slowdown,
            requests_per_s,
            batch_mix,
            mean_batch_size,
            rejected_samples: self.rejected_samples,
            cut_batches: self.by_cut.stats(),
        }
    }

    /// Takes `now` as the latest time (an earlier `now` is taken as the latest seen, so the
    /// records stay in time order) and drops records that are `span` old or older.
    fn advance(&mut self, now: Instant) -> Instant {
        self.last = self.last.max(now);
        let now = self.last;
        let old = |at: Instant| now.saturating_duration_since(at) >= self.span;
        while self.requests.front().is_some_and(|(at, _)| old(*at)) {
            self.requests.pop_front();
        }
        while self.batches.front().is_some_and(|b| old(b.at)) {
            self.batches.pop_front();
        }
        self.by_cut.forget(now, self.span);
        now
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn mean(sum: f64, n: usize) -> f64 {
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// Nearest-rank 95th percentile: the smallest value with at least 95% of values at or below
/// it; 0 for no values. Reorders `values`.
fn p95(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let rank = (values.len() * 95).div_ceil(100);
    let (_, v, _) = values.select_nth_unstable_by(rank - 1, f64::total_cmp);
    *v
}

#[cfg(test)]
mod tests;

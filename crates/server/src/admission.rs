//! Admission by predicted completion: refuse at once what cannot finish by its deadline.
//!
//! Queueing a request that will miss its deadline wastes an executor on an answer nobody waits
//! for and delays everyone behind it; refusing it at arrival lets the device re-plan (run more
//! layers itself, or all of them) while there is still time. The prediction is: the batches
//! that would run before and with the new request ([`crate::batcher::BatchState::batches_ahead`]), each
//! timed by [`BatchTimes`], list-scheduled on the executors after the batches running now
//! ([`predict_finish`]). Everything here is pure and takes time as a parameter.
//!
//! A batch's time comes from the served model's profile (tail time of the cut at that batch
//! size, times the slowdown measured recently for that model), else from recent measured batch
//! times of the same (model, cut, shape). With neither, there is no prediction and the request is
//! admitted: a guess must never refuse work. Measurements older than the staleness limit count
//! as no data, so that a key refused on a stale, pessimistic estimate is admitted again once the
//! estimate ages out (refused work produces no new measurements).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::batcher::BatchKey;

/// Weight of a new measurement in the moving averages.
const ALPHA: f64 = 0.3;

/// Weight of a new measurement's deviation in the moving mean deviation.
const BETA: f64 = 0.25;

/// Predictions are the mean plus this many mean deviations (as TCP's retransmission timer
/// does), so that a batch that runs a little slower than average does not make the requests
/// admitted behind it miss their deadlines.
const DEVIATIONS: f64 = 2.0;

/// Share of a request's remaining time kept free at admission: a request is admitted only if it
/// is predicted to finish within the other 90%. Admission fills the queue up to the deadline,
/// so without headroom every admitted request is predicted to end just before it, and any
/// batch slower than predicted, or the reply's way back, makes it late (about 1 in 10 was in the
/// overload test). The queue stays long enough to keep the executors busy.
pub const HEADROOM: f64 = 0.1;

/// A slowdown outside this range is taken as a measurement fault and clamped.
const SLOWDOWN_RANGE: (f64, f64) = (0.05, 100.0);

/// An exponentially weighted moving average and mean deviation, with the time of its last
/// update.
#[derive(Debug, Clone, Copy)]
struct Ewma {
    value: f64,
    dev: f64,
    at: Instant,
}

impl Ewma {
    fn update(slot: &mut Option<Ewma>, sample: f64, now: Instant) {
        let (value, dev) = match slot {
            Some(e) => (
                e.value + ALPHA * (sample - e.value),
                e.dev + BETA * ((sample - e.value).abs() - e.dev),
            ),
            // One sample says little about the spread: assume half of it, as TCP does.
            None => (sample, sample / 2.0),
        };
        *slot = Some(Ewma {
            value,
            dev,
            at: now,
        });
    }

    /// The mean plus `deviations` mean deviations, unless stale.
    fn fresh(&self, now: Instant, stale_after: Duration, deviations: f64) -> Option<f64> {
        (now.saturating_duration_since(self.at) < stale_after)
            .then_some(self.value + deviations * self.dev)
    }
}

/// Recent batch execution times per (key, rows) and the recent slowdown per model.
#[derive(Debug, Clone)]
pub struct BatchTimes {
    stale_after: Duration,
    /// Measured µs per batch, per key and batch rows.
    measured: HashMap<BatchKey, BTreeMap<usize, Ewma>>,
    /// Measured over profiled time, per model.
    slowdown: HashMap<String, Ewma>,
}

impl BatchTimes {
    /// No data yet; measurements older than `stale_after` are ignored.
    pub fn new(stale_after: Duration) -> Self {
        Self {
            stale_after,
            measured: HashMap::new(),
            slowdown: HashMap::new(),
        }
    }

    /// A batch of `key` with `rows` rows took `measured` on its executor at `now`, `infer` of it
    /// in the engine; `profiled_us` is the profile's time for the engine run, when the model
    /// has a profile.
    pub fn observe(
        &mut self,
        key: &BatchKey,
        rows: usize,
        measured: Duration,
        infer: Duration,
        profiled_us: Option<f64>,
        now: Instant,
    ) {
        let us = measured.as_secs_f64() * 1e6;
        let by_rows = self.measured.entry(key.clone()).or_default();
        let mut slot = by_rows.get(&rows).copied();
        Ewma::update(&mut slot, us, now);
        if let Some(e) = slot {
            by_rows.insert(rows, e);
        }
        if let Some(p) = profiled_us.filter(|p| p.is_finite() && *p > 0.0) {
            let ratio = (infer.as_secs_f64() * 1e6 / p).clamp(SLOWDOWN_RANGE.0, SLOWDOWN_RANGE.1);
            let mut slot = self.slowdown.get(&key.model).copied();
            Ewma::update(&mut slot, ratio, now);
            if let Some(e) = slot {
                self.slowdown.insert(key.model.clone(), e);
            }
        }
    }

    /// The predicted time of a batch of `key` with `rows` rows, at `now`: averages are taken
    /// pessimistically (mean plus two mean deviations). With a profiled time (`profiled_us`,
    /// µs) it is that times the model's recent slowdown (1 when none is fresh).
    /// Otherwise from fresh measurements of the same key: at `rows` exactly; else the nearest
    /// larger batch (a smaller batch takes no longer); else the largest smaller one scaled
    /// linearly by rows (batches grow sublinearly, so this errs long). `None` without data.
    pub fn estimate(
        &self,
        key: &BatchKey,
        rows: usize,
        profiled_us: Option<f64>,
        now: Instant,
    ) -> Option<Duration> {
        self.estimate_with(key, rows, profiled_us, now, DEVIATIONS)
    }

    /// As [`BatchTimes::estimate`], but the plain means: the expected time, for telling clients
    /// how long the backlog is (admission errs long on purpose; a device planning with that
    /// would offload too little).
    pub fn expected(
        &self,
        key: &BatchKey,
        rows: usize,
        profiled_us: Option<f64>,
        now: Instant,
    ) -> Option<Duration> {
        self.estimate_with(key, rows, profiled_us, now, 0.0)
    }

    fn estimate_with(
        &self,
        key: &BatchKey,
        rows: usize,
        profiled_us: Option<f64>,
        now: Instant,
        deviations: f64,
    ) -> Option<Duration> {
        if let Some(p) = profiled_us.filter(|p| p.is_finite() && *p > 0.0) {
            let f = self
                .slowdown
                .get(&key.model)
                .and_then(|e| e.fresh(now, self.stale_after, deviations))
                .unwrap_or(1.0);
            return Some(Duration::from_secs_f64(p * f / 1e6));
        }
        let by_rows = self.measured.get(key)?;
        let fresh =
            |(&r, e): (&usize, &Ewma)| Some((r, e.fresh(now, self.stale_after, deviations)?));
        let at_or_above = by_rows.range(rows..).find_map(fresh);
        let us = match at_or_above {
            Some((_, us)) => us,
            None => {
                let (r, us) = by_rows.range(..rows).rev().find_map(fresh)?;
                us * rows as f64 / r as f64
            }
        };
        Some(Duration::from_secs_f64(us.max(0.0) / 1e6))
    }
}

/// When the last of `ahead` finishes, from now, if batches run in the order given, each on the
/// executor that frees first, after the batches running now end (`running`: their predicted
/// remaining times; executors not listed are idle). `executors` is at least 1.
pub fn predict_finish(running: &[Duration], ahead: &[Duration], executors: usize) -> Duration {
    let n = executors.max(1);
    let mut free: Vec<Duration> = running.iter().copied().take(n).collect();
    free.resize(n, Duration::ZERO);
    let mut finish = Duration::ZERO;
    for d in ahead {
        let (i, start) = free
            .iter()
            .copied()
            .enumerate()
            .min_by_key(|&(_, t)| t)
            .expect("at least one executor");
        finish = start + *d;
        free[i] = finish;
    }
    finish
}

/// The rows each of `queued` (batches in the order they would leave, as
/// [`crate::batcher::BatchState::batches_queued`] lists them) is expected to leave with. A key's
/// last batch in the list is still forming: requests that arrive while it waits join it, so
/// under steady load it leaves about as large as that key's recent batches (`usual`, rows), up
/// to `max_rows`; a key's earlier batches are full and leave as they stand. Without this a
/// request at a cut nobody else uses was promised the queue as it stood and waited a full
/// batch more (Inception v1 at 90% load: 496 ms measured against a backlog of about 290).
pub fn expected_leave_rows<K: PartialEq>(
    queued: &[(K, usize)],
    usual: impl Fn(&K) -> Option<f64>,
    max_rows: usize,
) -> Vec<usize> {
    let mut seen: Vec<&K> = Vec::new();
    let mut rows: Vec<usize> = queued
        .iter()
        .rev()
        .map(|(k, r)| {
            if seen.contains(&k) {
                return *r;
            }
            seen.push(k);
            match usual(k).filter(|u| u.is_finite() && *u > 0.0) {
                Some(u) => (u.round() as usize).min(max_rows).max(*r),
                None => *r,
            }
        })
        .collect();
    rows.reverse();
    rows
}

/// When an executor would first be free for a new batch, from now, once the batches running
/// now end and every batch of `ahead` has started, in order, on the executor that frees first:
/// the wait of a request that arrives now and joins none of them (the server's backlog).
pub fn predict_start(running: &[Duration], ahead: &[Duration], executors: usize) -> Duration {
    let n = executors.max(1);
    let mut free: Vec<Duration> = running.iter().copied().take(n).collect();
    free.resize(n, Duration::ZERO);
    for d in ahead {
        let i = (0..n)
            .min_by_key(|&i| free[i])
            .expect("at least one executor");
        free[i] += *d;
    }
    free.into_iter().min().unwrap_or(Duration::ZERO)
}

/// Whether a request predicted to finish `predicted` from `now` should be refused: only when
/// there is a prediction and a deadline, and the prediction ends after the deadline less the
/// [`HEADROOM`] share of the time left.
pub fn misses_deadline(
    now: Instant,
    deadline: Option<Instant>,
    predicted: Option<Duration>,
) -> bool {
    match (deadline, predicted) {
        (Some(d), Some(p)) => {
            let usable = d.saturating_duration_since(now).mul_f64(1.0 - HEADROOM);
            p > usable || d <= now
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;

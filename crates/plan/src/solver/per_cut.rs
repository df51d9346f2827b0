//! Decisions when the server's load differs by cut: the batch a request joins, and the queue
//! it finds when it gets there.
//!
//! A server batches requests only with others for the same cut and shape, so under load a cut
//! that much traffic uses (the whole input, say) runs in batches of several requests while a
//! cut nobody else uses runs alone. On hardware whose batch time grows with its rows (CPUs),
//! that difference decides which cut is faster. The wait differs too: a request at a busy cut
//! joins a batch already forming, one at an unused cut queues behind every batch ahead (on the
//! test bed at 90% load, 63-114 ms against 26-60 ms), both on average and as a share of the
//! backlog it is sent into. And a request reaches the server only after its head and its
//! upload: the queue it finds is the queue as it stands now for a cut that sends at once, and
//! more and more the usual queue for cuts that take longer to get there ([`QueueOutlook`]).
//! The exact search prices every cut with one batch size and one queue wait, so these cannot
//! enter it; instead the exact optimum and the best listed candidates are priced again, each
//! at its own batch size and arrival time.

use std::time::Instant;

use loadpart_cuts::{Cut, CutId};

use super::Planner;
use crate::{Breakdown, Decision, Estimate};

/// The queue wait a request will find, by how long it takes to reach the server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueOutlook {
    /// The wait of a request arriving now (the server's backlog), µs.
    pub now_us: f64,
    /// The mean wait over the server's recent window, µs: what a request arriving at some
    /// unrelated later time finds.
    pub mean_us: f64,
    /// How fast the queue forgets its present state, µs: the time constant of the move from
    /// `now_us` to `mean_us`.
    pub memory_us: f64,
}

impl QueueOutlook {
    /// The expected wait of a request that reaches the server `lead_us` from now. A memory
    /// that is not positive and finite forgets at once (the mean); a bad lead counts as 0.
    pub fn at(&self, lead_us: f64) -> f64 {
        let lead = if lead_us.is_finite() {
            lead_us.max(0.0)
        } else {
            0.0
        };
        if !(self.memory_us.is_finite() && self.memory_us > 0.0) {
            return self.mean_us;
        }
        let w = (-lead / self.memory_us).exp();
        self.mean_us + (self.now_us - self.mean_us) * w
    }
}

/// How often offloads have been missing lately, and what a miss costs: the device's own
/// record of outcomes. It prices what the load report cannot see (a queue that grows between
/// the report and the arrival, delays in the server's host before its queue, a link that
/// stalls): an offload expected to take `T` costs `(1 - p)·T + p·M`, where a miss costs `M`,
/// the wait until the miss is known plus the whole model on the device (the head has run; the
/// tail then runs here too).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OffloadRisk {
    /// Share of recent offloads that missed, in `[0, 1]`.
    pub miss_rate: f64,
    /// Mean time from sending to knowing of a miss (the deadline, for a request that timed
    /// out; less for a refusal), µs.
    pub miss_wait_us: f64,
}

impl OffloadRisk {
    /// The expected price of a miss for an offload of `b`, with the whole model on the device
    /// taking `local_us`: `p·(M - T)`, never negative (a miss cannot make a request faster).
    /// 0 when the rate or the wait is not a finite number in range.
    pub fn price(&self, b: &Breakdown, local_us: f64) -> f64 {
        let p = self.miss_rate;
        if !(p.is_finite() && p > 0.0 && self.miss_wait_us.is_finite()) {
            return 0.0;
        }
        let miss = local_us + b.encode + self.miss_wait_us.max(0.0);
        p.min(1.0) * (miss - b.total()).max(0.0)
    }
}

/// What is known about the server's load per cut.
#[derive(Clone, Copy)]
pub struct PerCut<'a> {
    /// The batch a request at a cut is expected to run in; `None` (or a value that is not
    /// finite and at least 1): the estimate's `server_batch`.
    pub batch_of: &'a dyn Fn(&CutId) -> Option<f64>,
    /// The queue by arrival time; `None`: the estimate's `queue_us` for every cut.
    pub queue: Option<QueueOutlook>,
    /// The mean wait (µs) a request at a cut finds when it arrives at an unrelated time: it
    /// replaces the outlook's server-wide `mean_us` for that cut (or the estimate's `queue_us`
    /// without an outlook). `None` (or a value that is not finite and non-negative): unchanged.
    pub wait_of: &'a dyn Fn(&CutId) -> Option<f64>,
    /// The share of the server's backlog that a request at a cut waits, in `[0, 1]`: below 1
    /// for a cut whose requests mostly join batches already forming, which start before the
    /// rest of the backlog is worked off (on the test bed, requests at the whole input waited
    /// about half the backlog they were sent into, those at cuts nobody else used all of it).
    /// It scales the outlook's `now_us` for that cut. `None` (or not finite): all of it.
    pub backlog_share_of: &'a dyn Fn(&CutId) -> Option<f64>,
    /// How often offloads miss; `None`: never.
    pub risk: Option<OffloadRisk>,
}

impl std::fmt::Debug for PerCut<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerCut")
            .field("queue", &self.queue)
            .field("risk", &self.risk)
            .finish_non_exhaustive()
    }
}

impl PerCut<'_> {
    /// Nothing per cut: every decision is the plain one.
    pub const NONE: PerCut<'static> = PerCut {
        batch_of: &|_| None,
        queue: None,
        wait_of: &|_| None,
        backlog_share_of: &|_| None,
        risk: None,
    };
}

impl Planner {
    /// `e` as it applies to a request at `cut`: its own batch size, and the queue it finds
    /// when its head and upload are done (full local: unchanged, it meets no queue).
    pub fn estimate_for_cut(&self, cut: &Cut, e: &Estimate, per_cut: &PerCut<'_>) -> Estimate {
        let id = cut.id(&self.dag);
        let mut ec = match (per_cut.batch_of)(&id) {
            Some(k) if k.is_finite() && k >= 1.0 => Estimate {
                server_batch: k,
                ..*e
            },
            _ => *e,
        };
        if cut.is_full_local() {
            return ec;
        }
        let wait = (per_cut.wait_of)(&id).filter(|w| w.is_finite() && *w >= 0.0);
        match (per_cut.queue, wait) {
            (Some(q), wait) => {
                let b = self.predict(&cut.head, &ec);
                let lead = b.device + b.encode + b.upload + b.rtt / 2.0;
                let share = (per_cut.backlog_share_of)(&id)
                    .filter(|s| s.is_finite())
                    .map_or(1.0, |s| s.clamp(0.0, 1.0));
                let q = QueueOutlook {
                    now_us: q.now_us * share,
                    mean_us: wait.unwrap_or(q.mean_us),
                    ..q
                };
                ec.queue_us = q.at(lead);
            }
            (None, Some(w)) => ec.queue_us = w,
            (None, None) => {}
        }
        ec
    }

    /// `cut` priced as [`Planner::estimate_for_cut`] applies `e` to it, the risk of a miss
    /// included: a fixed cut's decision.
    pub fn price(&self, cut: &Cut, e: &Estimate, per_cut: &PerCut<'_>) -> Decision {
        let start = Instant::now();
        let ec = self.estimate_for_cut(cut, e, per_cut);
        let d = self.fixed(&cut.head, &self.rates(&ec), start);
        with_risk(d, self.risk_with_local(e, per_cut))
    }

    /// The risk of a miss and the whole model's time on the device under `e` that prices it;
    /// `None` (and no prediction of full local) when offloads do not miss.
    fn risk_with_local(&self, e: &Estimate, per_cut: &PerCut<'_>) -> Option<(OffloadRisk, f64)> {
        per_cut.risk.map(|r| (r, self.local_us(e)))
    }

    /// The whole model on the device under `e`, µs.
    fn local_us(&self, e: &Estimate) -> f64 {
        self.predict(&self.full_local().head, e).device
    }

    /// The least predicted latency when each cut is priced with [`Planner::estimate_for_cut`]
    /// and the risk of a miss. Considers the exact optimum under `e`, the `runners_up` best
    /// listed candidates under `e`, and full local; with nothing per cut it is exactly
    /// [`Planner::decide`].
    pub fn decide_per_cut(
        &self,
        e: &Estimate,
        per_cut: &PerCut<'_>,
        runners_up: usize,
    ) -> Decision {
        let start = Instant::now();
        let first = self.decide(e);
        let risk = self.risk_with_local(e, per_cut);
        let priced = |cut: &Cut| -> (f64, Estimate) {
            let ec = self.estimate_for_cut(cut, e, per_cut);
            let b = self.predict(&cut.head, &ec);
            let risk = match risk {
                Some((r, local_us)) if !cut.is_full_local() => r.price(&b, local_us),
                _ => 0.0,
            };
            // A price that is not a number never wins: full local, which meets no queue and
            // no link, stays the way out whatever the estimates say.
            let t = b.total() + risk;
            (if t.is_nan() { f64::INFINITY } else { t }, ec)
        };
        let (mut best_t, mut best_e) = priced(&first.cut);
        let mut best_head = None;
        let listed = self.ranked_candidates(e);
        let runners = listed.iter().take(runners_up).map(|c| c.candidate.cut);
        for cut in runners.chain(std::iter::once(self.full_local())) {
            let (t, ec) = priced(cut);
            if t < best_t {
                (best_t, best_e, best_head) = (t, ec, Some(cut.head.clone()));
            }
        }
        let d = match best_head {
            None if best_e == *e && risk.is_none() => return first,
            None => self.fixed(&first.cut.head, &self.rates(&best_e), start),
            Some(head) => self.fixed(&head, &self.rates(&best_e), start),
        };
        with_risk(d, risk)
    }
}

/// `d` with the risk of a miss added to its prediction (full local has none).
fn with_risk(mut d: Decision, risk: Option<(OffloadRisk, f64)>) -> Decision {
    if let Some((risk, local_us)) = risk
        && !d.cut.is_full_local()
    {
        let r = risk.price(&d.predicted, local_us);
        d.predicted.risk = r;
        d.objective_us += r;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outlook_moves_from_the_queue_now_to_the_mean() {
        let q = QueueOutlook {
            now_us: 200_000.0,
            mean_us: 50_000.0,
            memory_us: 100_000.0,
        };
        assert_eq!(q.at(0.0), 200_000.0);
        assert!((q.at(100_000.0) - (50_000.0 + 150_000.0 / std::f64::consts::E)).abs() < 1e-6);
        assert!((q.at(1e9) - 50_000.0).abs() < 1e-6);
        assert_eq!(q.at(f64::NAN), 200_000.0, "a bad lead counts as now");
        assert_eq!(q.at(-5.0), 200_000.0);
        let forgetful = QueueOutlook {
            memory_us: 0.0,
            ..q
        };
        assert_eq!(forgetful.at(0.0), 50_000.0);
    }
}

//! Decisions when the batch a request joins depends on its cut.
//!
//! A server batches requests only with others for the same cut and shape, so under load a cut
//! that much traffic uses (the whole input, say) runs in batches of several requests while a
//! cut nobody else uses runs alone. On hardware whose batch time grows with its rows (CPUs),
//! that difference decides which is faster. The exact search prices server time node by node
//! with one batch size for every cut, so per-cut batch sizes cannot enter it; instead the exact
//! optimum and the best listed candidates are priced again, each at its own batch size.

use std::time::Instant;

use loadpart_cuts::{Cut, CutId};

use super::Planner;
use crate::{Decision, Estimate};

impl Planner {
    /// The least predicted latency when a request at cut `c` runs in a batch of `batch_of(c)`
    /// rows (`None`, or a value that is not finite and at least 1: the estimate's
    /// `server_batch`). Considers the exact optimum under `e` and the `runners_up` best listed
    /// candidates under `e`; with no per-cut batch sizes at all it is exactly
    /// [`Planner::decide`].
    pub fn decide_with_cut_batches(
        &self,
        e: &Estimate,
        batch_of: &dyn Fn(&CutId) -> Option<f64>,
        runners_up: usize,
    ) -> Decision {
        let start = Instant::now();
        let first = self.decide(e);
        let priced = |cut: &Cut| -> (f64, Estimate) {
            let ec = match batch_of(&cut.id(&self.dag)) {
                Some(k) if k.is_finite() && k >= 1.0 => Estimate {
                    server_batch: k,
                    ..*e
                },
                _ => *e,
            };
            (self.predict(&cut.head, &ec).total(), ec)
        };
        let (mut best_t, mut best_e) = priced(&first.cut);
        let mut best_head = None;
        for c in self.ranked_candidates(e).into_iter().take(runners_up) {
            let (t, ec) = priced(c.candidate.cut);
            if t < best_t {
                (best_t, best_e, best_head) = (t, ec, Some(c.candidate.cut.head.clone()));
            }
        }
        match best_head {
            None if best_e == *e => first,
            None => self.fixed(&first.cut.head, &self.rates(&best_e), start),
            Some(head) => self.fixed(&head, &self.rates(&best_e), start),
        }
    }
}

//! [`CutBatches`]: the batch a request at each cut would join, for the planner's per-cut
//! pricing.
//!
//! A server batches a request only with others at the same cut, so under load a cut that much
//! traffic uses runs in batches of several rows while one nobody else uses runs alone. The
//! server's load report lists, per cut, the batch its requests ran in over the window; a cut it
//! does not list ran nothing, and a request there would run alone. Without such a report, the
//! client's own replies per cut are all there is, one noisy sample per request.

use std::collections::HashMap;

/// Batch sizes (rows, at least 1) by canonical cut id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CutBatches {
    /// Cuts with a known recent batch size.
    pub by_cut: HashMap<String, f64>,
    /// The batch size of a cut not in `by_cut`: 1 when the server's fresh report lists every
    /// cut that ran; `None` when only this client's replies are known (then the server-wide
    /// mean batch size stands).
    pub otherwise: Option<f64>,
}

impl CutBatches {
    /// The batch size a request at `cut` would join, if known.
    pub fn get(&self, cut: &str) -> Option<f64> {
        self.by_cut.get(cut).copied().or(self.otherwise)
    }

    /// Whether nothing is known per cut (the planner then decides with one batch size).
    pub fn is_empty(&self) -> bool {
        self.by_cut.is_empty() && self.otherwise.is_none()
    }
}

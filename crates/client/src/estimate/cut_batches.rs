//! [`CutBatches`] and [`CutWaits`]: the batch a request at each cut would join and the queue
//! wait it would find, for the planner's per-cut pricing.
//!
//! A server batches a request only with others at the same cut, so under load a cut that much
//! traffic uses runs in batches of several rows while one nobody else uses runs alone. The
//! server's load report lists, per cut, the batch its requests ran in over the window; a cut it
//! does not list ran nothing, and a request there would run alone. Without such a report, the
//! client's own replies per cut are all there is, one noisy sample per request.
//!
//! Waits differ by cut for the same reason: a request at a busy cut joins a batch already
//! forming, one at a cut nobody uses queues behind every batch ahead. The server reports each
//! cut's mean wait, and the backlog's average over time: what a request at an unused cut finds.

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

/// Mean queue waits (µs) by canonical cut id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CutWaits {
    /// Cuts with requests in the server's window: (their mean wait, how many).
    pub by_cut: HashMap<String, (f64, u64)>,
    /// What a request at a cut with nothing queued waits on average (the server's backlog
    /// averaged over time), µs; `None` when unknown.
    pub lone_us: Option<f64>,
}

impl CutWaits {
    /// How many requests' worth of weight the lone wait has against a cut's own mean: a cut
    /// with a request or two in the window (often this device's own) is mostly priced as an
    /// unused cut, one with many by its own waits.
    pub const PRIOR_REQUESTS: f64 = 3.0;

    /// The mean wait a request at `cut` would find: the cut's own mean, shrunk towards the lone
    /// wait by [`CutWaits::PRIOR_REQUESTS`]; the lone wait for a cut that ran nothing. `None`
    /// when neither is known.
    pub fn get(&self, cut: &str) -> Option<f64> {
        match (self.by_cut.get(cut), self.lone_us) {
            (Some(&(mean, n)), Some(lone)) => {
                // From the lone wait towards the cut's own, so that an absurd count or wait
                // cannot overflow to infinity: the result lies between the two.
                let own = n as f64 / (n as f64 + Self::PRIOR_REQUESTS);
                Some(lone + own * (mean - lone))
            }
            (Some(&(mean, n)), None) => (n > 0).then_some(mean),
            (None, lone) => lone,
        }
    }

    /// The share of the backlog a request at `cut` waits: its mean wait ([`CutWaits::get`])
    /// against the lone wait, at most 1. A cut whose requests join batches already forming
    /// waits a part of the queue ahead; one nobody else uses waits all of it. `None` when the
    /// lone wait is unknown or zero (then the whole backlog counts).
    pub fn backlog_share(&self, cut: &str) -> Option<f64> {
        let lone = self.lone_us.filter(|l| l.is_finite() && *l > 0.0)?;
        Some((self.get(cut)? / lone).clamp(0.0, 1.0))
    }

    /// Whether nothing is known per cut (every cut is then priced with the server-wide wait).
    pub fn is_empty(&self) -> bool {
        self.by_cut.is_empty() && self.lone_us.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_cut_is_priced_by_its_own_waits_and_an_unused_one_by_the_lone_wait() {
        let w = CutWaits {
            by_cut: HashMap::from([
                ("input".to_string(), (30_000.0, 297)),
                ("r3".to_string(), (100_000.0, 1)),
            ]),
            lone_us: Some(80_000.0),
        };
        let input = w.get("input").unwrap();
        assert!((input - 30_000.0).abs() < 600.0, "{input}");
        // One request of its own: a quarter its own, three quarters the lone wait.
        assert_eq!(w.get("r3"), Some(85_000.0));
        assert_eq!(
            w.get("r7"),
            Some(80_000.0),
            "a cut that ran nothing waits alone"
        );
        let no_lone = CutWaits {
            lone_us: None,
            ..w.clone()
        };
        assert_eq!(no_lone.get("r3"), Some(100_000.0));
        assert_eq!(no_lone.get("r7"), None);
        assert!(CutWaits::default().is_empty());
    }

    #[test]
    fn a_busy_cut_waits_a_share_of_the_backlog_and_an_unused_one_all_of_it() {
        let w = CutWaits {
            by_cut: HashMap::from([
                ("input".to_string(), (40_000.0, 297)),
                ("r3".to_string(), (120_000.0, 297)),
            ]),
            lone_us: Some(80_000.0),
        };
        let input = w.backlog_share("input").unwrap();
        assert!((input - 0.5).abs() < 0.01, "{input}");
        assert_eq!(
            w.backlog_share("r3"),
            Some(1.0),
            "never more than all of it"
        );
        assert_eq!(w.backlog_share("r7"), Some(1.0), "a cut that ran nothing");
        let idle = CutWaits {
            lone_us: Some(0.0),
            ..w.clone()
        };
        assert_eq!(idle.backlog_share("input"), None, "no backlog to share");
        assert_eq!(CutWaits::default().backlog_share("input"), None);
    }
}

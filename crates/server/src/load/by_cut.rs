//! The batch a request at each cut ran in and how long it waited, over the load window.
//!
//! Requests batch only with others at the same cut, so under load a cut that much traffic uses
//! (the whole input, say) runs in batches of several rows while a cut nobody else uses runs
//! alone; on hardware whose batch time grows with its rows, that decides which cut is faster.
//! A client that learns this only from its own replies has one sample per request at each cut
//! (so noisy that it offloaded at a cut right after a lone batch, then joined a crowd); the
//! server sees every request at every cut.
//!
//! The wait differs by cut for the same reason: a request at a cut with a batch forming joins
//! it and leaves with it, while one at a cut nobody uses queues behind every batch ahead (on the
//! test bed at 90% load, 63-114 ms against 26-60 ms for requests that joined the background's
//! batches at the input). One server-wide mean wait prices both alike.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use loadpart_cuts::CutId;

/// One cut's figures over the window.
#[derive(Debug, Clone, PartialEq)]
pub struct CutBatchStat {
    /// The cut (the model's inputs for whole-model requests).
    pub cut: CutId,
    /// Requests at that cut completed in the window.
    pub requests: u64,
    /// Mean over those requests of the rows in the batch each ran in: the batch a request at
    /// this cut joined, on average (request-weighted, unlike the server's mean batch size).
    pub mean_batch_rows: f64,
    /// Mean queue wait of those requests, µs.
    pub queue_wait_mean_us: f64,
}

/// One request at a cut: when it completed, the rows of its batch, and its queue wait (µs).
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    rows: u32,
    wait_us: f64,
}

/// Per cut, the requests in the window, in time order.
#[derive(Debug, Clone, Default)]
pub(super) struct ByCut {
    cuts: HashMap<CutId, VecDeque<Sample>>,
}

impl ByCut {
    /// A request at `cut` that completed at `at` in a batch of `rows` rows after waiting
    /// `wait` in the queue.
    pub(super) fn record(&mut self, at: Instant, cut: &CutId, rows: usize, wait: Duration) {
        let sample = Sample {
            at,
            rows: u32::try_from(rows).unwrap_or(u32::MAX),
            wait_us: wait.as_secs_f64() * 1e6,
        };
        match self.cuts.get_mut(cut) {
            Some(q) => q.push_back(sample),
            None => {
                self.cuts.insert(cut.clone(), VecDeque::from([sample]));
            }
        }
    }

    /// Forgets requests `span` old or older at `now`, and cuts left with none.
    pub(super) fn forget(&mut self, now: Instant, span: Duration) {
        self.cuts.retain(|_, q| {
            while q
                .front()
                .is_some_and(|s| now.saturating_duration_since(s.at) >= span)
            {
                q.pop_front();
            }
            !q.is_empty()
        });
    }

    /// Every cut with a request in the window, by cut id.
    pub(super) fn stats(&self) -> Vec<CutBatchStat> {
        let mut out: Vec<CutBatchStat> = self
            .cuts
            .iter()
            .map(|(cut, q)| {
                let n = q.len() as f64;
                let rows: f64 = q.iter().map(|s| f64::from(s.rows)).sum();
                let waits: f64 = q.iter().map(|s| s.wait_us).sum();
                CutBatchStat {
                    cut: cut.clone(),
                    requests: q.len() as u64,
                    mean_batch_rows: rows / n,
                    queue_wait_mean_us: waits / n,
                }
            })
            .collect();
        out.sort_by(|a, b| a.cut.cmp(&b.cut));
        out
    }
}

//! The batcher's vocabulary: keys, limits, and requests going in and out.

use std::time::{Duration, Instant};

use loadpart_cuts::CutId;

use crate::error::SchedError;

/// What must be equal for requests to be concatenated along dim 0 into one batch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BatchKey {
    /// The served model's name.
    pub model: String,
    /// Where the request entered the model (the model inputs for a plain, whole-model request).
    pub cut: CutId,
    /// Per-sample shape (the dims after dim 0) of each input, in the order of `cut.names()`.
    pub sample_shapes: Vec<Vec<usize>>,
}

/// The batcher's limits, as in Triton's model configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Most rows (samples along dim 0, summed over requests) in one batch; at least 1.
    pub max_batch_rows: usize,
    /// How long the oldest request of a batch that is not full may wait for more; zero releases
    /// at once.
    pub max_queue_delay: Duration,
    /// Most requests waiting (not rows); a push beyond it is rejected. At least 1.
    pub max_queue_len: usize,
}

/// A payload that can tell whether its caller has gone (its reply channel is closed), so that no
/// work is done for it.
pub trait Cancellable {
    /// True once nobody waits for this request's answer.
    fn is_cancelled(&self) -> bool;
}

/// One request as queued and as handed out in a [`Batch`].
#[derive(Debug, Clone, PartialEq)]
pub struct Queued<R> {
    /// Rows (samples along dim 0) it carries; 1..=`max_batch_rows`.
    pub rows: usize,
    /// When it arrived; its queue wait is measured from here.
    pub arrival: Instant,
    /// When its answer stops being useful; it is dropped at or after this instant.
    pub deadline: Option<Instant>,
    /// The caller's data (tensors, reply channel).
    pub payload: R,
}

/// Requests of one key that leave the queue together, in arrival (push) order.
#[derive(Debug)]
pub struct Batch<R> {
    /// The key all of them share.
    pub key: BatchKey,
    /// Sum of their rows; at most `max_batch_rows`.
    pub rows: usize,
    /// The requests, oldest first; their rows are concatenated in this order.
    pub requests: Vec<Queued<R>>,
}

/// A push that was refused, with the payload handed back so that the caller can answer it.
#[derive(Debug)]
pub struct Rejected<R> {
    /// Why: [`SchedError::QueueFull`] (answer RESOURCE_EXHAUSTED), [`SchedError::TooManyRows`]
    /// or [`SchedError::ZeroRows`] (answer INVALID_ARGUMENT).
    pub error: SchedError,
    /// The request's payload, untouched.
    pub payload: R,
}

/// Requests removed without running, to be answered by the owner.
#[derive(Debug)]
pub struct Dropped<R> {
    /// Deadline passed while queued (answer DEADLINE_EXCEEDED).
    pub expired: Vec<R>,
    /// The caller had gone (nothing to answer; count it).
    pub cancelled: Vec<R>,
}

impl<R> Dropped<R> {
    /// True when nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.expired.is_empty() && self.cancelled.is_empty()
    }
}

impl<R> Default for Dropped<R> {
    fn default() -> Self {
        Self {
            expired: Vec::new(),
            cancelled: Vec::new(),
        }
    }
}

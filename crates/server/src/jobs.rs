//! The messages between the request handlers, the scheduler actor and the executors: a request
//! on its way ([`Job`]), a batch handed to an executor ([`Work`]) and what came of it ([`Done`],
//! [`Ran`]), and a request's answer ([`Reply`] with its [`Timings`]). Kept together beside the
//! actor, so that scheduler and executors depend on them and not on each other.

use std::sync::Arc;
use std::time::{Duration, Instant};

use loadpart_cuts::CutId;
use loadpart_engine::Tensor;
use loadpart_runtime::PartRunner;
use tokio::sync::oneshot;

use crate::batcher::{Batch, BatchKey, Cancellable, Queued};
use crate::error::ServerError;
use crate::validate::ValidRequest;

/// This request's time in the server, per phase, and the batch it ran in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// Waiting for its part to be built, before it was queued, µs.
    pub part_us: u64,
    /// Entering the queue to leaving it, µs.
    pub queue_us: u64,
    /// Decoding this request's inputs into the batch buffer, µs.
    pub decode_us: u64,
    /// The batch's engine run, µs.
    pub compute_us: u64,
    /// Rows in the batch it ran in.
    pub batch_rows: usize,
}

/// A request's answer: its outputs in the order it asked for, and its timings.
#[derive(Debug)]
pub struct Reply {
    /// (name, tensor) per requested output, in request order; dim 0 is the request's rows.
    pub outputs: Vec<(String, Tensor)>,
    /// Server-side timings.
    pub timings: Timings,
}

/// A request on its way through the scheduler, with the channel its answer goes to.
#[derive(Debug)]
pub(crate) struct Job {
    pub req: ValidRequest,
    pub reply: oneshot::Sender<Result<Reply, ServerError>>,
}

impl Cancellable for Job {
    fn is_cancelled(&self) -> bool {
        self.reply.is_closed()
    }
}

/// Requests that entered at `from` and run forward through `segment` (to the next group's cut)
/// before the next group joins.
pub(crate) struct Early {
    pub requests: Vec<Queued<Job>>,
    pub from: CutId,
    /// The segment from `from` to the next stage's cut, built.
    pub segment: Arc<PartRunner>,
}

/// A batch handed to an executor, with when it left the queue.
pub(crate) struct Work {
    /// Numbers the batches handed out, so that [`Done`] says which one ended.
    pub seq: u64,
    /// Staircase stages run forward before `batch` joins them (empty for a plain batch).
    pub earlier: Vec<Early>,
    /// The (final) batch, whose cut's tail runs over every row.
    pub batch: Batch<Job>,
    pub dispatched: Instant,
}

/// An executor finished batch `seq` of `key`; `ran` is what it measured, `None` when the batch
/// failed.
pub(crate) struct Done {
    pub seq: u64,
    pub key: BatchKey,
    pub ran: Option<Ran>,
}

/// What a batch that ran measured, for the scheduler's predictions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ran {
    /// Rows it ran with.
    pub rows: usize,
    /// The whole batch on the executor (decode, run, split): what a request queued behind it
    /// waits.
    pub measured: Duration,
    /// The engine run alone, which the profile times.
    pub infer: Duration,
    /// The profile's time for it, µs, when the model has a profile.
    pub profiled_us: Option<f64>,
}

/// Whole microseconds in `d`, saturating.
pub(crate) fn micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

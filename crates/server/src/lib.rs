//! The edge server's scheduling core: what runs when, and how loaded the server is.
//!
//! Many devices send the tails of their requests to one shared server. Whether a device should
//! offload, and where to cut, depends on how busy that server is, so the server must batch well
//! and report its load truthfully. This crate holds the decisions, kept pure and synchronous so
//! that each one is unit-tested with time passed as a parameter:
//!
//! - [`BatchState`]: a bounded FCFS queue with Triton's dynamic-batcher semantics (a batch leaves
//!   when it is full or when its oldest request has waited the max queue delay), grouping only
//!   requests that can be concatenated ([`BatchKey`]), and dropping requests whose deadline has
//!   passed or whose caller has gone.
//! - [`plan_staircases`]: staircase merging, which runs requests that entered at an earlier cut
//!   forward to a later cut and merges them into that cut's batch where heads nest.
//! - [`LoadWindow`]: the sliding-window load report (queue waits, slowdown factor, batch mix),
//!   defined and finite when idle.
//!
//! No gRPC, async runtime or engine lives here yet. The gRPC service, the actor that owns a
//! [`BatchState`] and sleeps until [`BatchState::next_wakeup`], and the executor threads come next
//! and wrap these pieces.
#![forbid(unsafe_code)]

mod batcher;
mod error;
mod load;
mod staircase;

pub use batcher::{
    Batch, BatchKey, BatchLimits, BatchState, Cancellable, Dropped, Queued, Rejected,
};
pub use error::SchedError;
pub use load::{LoadSnapshot, LoadWindow, MAX_SLOWDOWN};
pub use staircase::{Stage, StairGroup, Staircase, plan_staircases};

//! The device side of loadpart: what a device knows about its link and the shared server.
//!
//! A device decides, request by request, where to cut its model, and the best cut depends on the
//! bandwidth each way, the round-trip time and how loaded the edge server is *now*. This crate
//! measures those. Unlike the original (whose probes measured bandwidth or load but never both,
//! ignored the load carried by replies, and turned an empty window into NaN), every source feeds
//! one set of estimators: active probes sized to the link, passive samples from every real
//! offload (the server's reported time subtracted, so queueing is not mistaken for a slow link),
//! and server load reports from replies, the watch stream and polls. Each estimate is a
//! time-decayed mean with a max age: too old, it is refreshed or planned around conservatively,
//! never trusted forever. Bad samples are refused and counted, so the planner's
//! [`loadpart_plan::Estimate`] never holds NaN.
//!
//! Everything here is pure and synchronous, with time passed in as `now`, so it is unit-tested
//! without sleeping. The client library proper (async on tokio, gRPC through tonic: probing and
//! polling loops, the per-request decision, running the head, offloading the tail, and finishing
//! locally when the server fails) comes next, built on top of these estimators.
#![forbid(unsafe_code)]

mod error;
pub mod estimate;

pub use error::EstimateError;
pub use estimate::{
    Direction, Estimates, Estimator, EstimatorConfig, Fallbacks, LinkConfig, LinkEstimator,
    LoadConfig, LoadEstimator, LoadSample, Observed, Offload, Probe, Reading, Staleness,
};

//! The device side of loadpart: per-request, load-aware offloading that never loses a result.
//!
//! A device decides, request by request, where to cut its model, and the best cut depends on the
//! bandwidth each way, the round-trip time and how loaded the edge server is *now*. [`Client`]
//! keeps those estimates fresh in the background (the server's load watch stream, link probes
//! sized to the link, and passive samples from every offload with the server's own time
//! subtracted), asks the planner for the cut with the least predicted latency, runs the head on
//! the device's engine, sends the encoded cut tensors with one ModelInfer call, and merges the
//! outputs the server computed with those the head already had. When the server is unreachable,
//! slow past a deadline derived from the local-only time, overloaded, or failing, the device
//! finishes the inference itself from the head's tensors, a circuit breaker stops offloading, and
//! a health check resumes it when the server is back.
//!
//! Unlike the original (whose probes measured bandwidth or load but never both, ignored the load
//! carried by replies, turned an empty window into NaN, and raised exceptions when the server
//! went away), every source feeds one set of estimators ([`estimate`]): pure and synchronous,
//! time passed in as `now`, unit-tested without sleeping, never NaN.
//!
//! Layers: [`estimate`] (pure), [`Breaker`] (pure), [`wire`] (requests and replies), [`Device`]
//! (the device's engine, with an emulated slowdown), [`Remote`] (gRPC stubs), [`Client`].
#![forbid(unsafe_code)]

mod background;
mod breaker;
mod client;
mod config;
mod device;
mod error;
pub mod estimate;
mod link_use;
mod offload;
mod outcome;
mod remote;
mod shared;
pub mod wire;

pub use breaker::{Breaker, BreakerConfig, BreakerState, Failure};
pub use client::Client;
pub use config::{ClientConfig, InferOptions};
pub use device::{Device, RunMemo};
pub use error::{ClientError, EstimateError};
pub use estimate::{
    CutLoad, DeviceShare, Direction, Estimates, Estimator, EstimatorConfig, Fallbacks,
    FormingBatch, LinkConfig, LinkEstimator, LoadConfig, LoadEstimator, LoadSample, Observed,
    Offload, Probe, Reading, Staleness,
};
pub use outcome::{FallbackReason, InferOutcome, LocalReason, Measured, Route};
pub use remote::{Access, Identify, Remote, TOKEN_ENV, Token, Transport};
pub use shared::ClientStats;
pub use wire::ServerTimings;

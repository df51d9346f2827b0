//! What one inference returns: the outputs, where they were computed, and the predicted against
//! the measured latency.

use std::fmt;

use loadpart_cuts::CutId;
use loadpart_plan::{Breakdown, Estimate};
use loadpart_runtime::NamedTensors;
use serde::Serialize;

use crate::ServerTimings;

/// Where an inference ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "route", rename_all = "snake_case")]
pub enum Route {
    /// Entirely on the device, as planned (the best cut was full local).
    Local,
    /// Entirely on the device because offloading was not possible now.
    LocalOnly {
        /// Why.
        why: LocalReason,
    },
    /// Head on the device, tail on the server.
    Offloaded,
    /// The server failed this request; the device finished it from the head's tensors.
    Fallback {
        /// What the server did.
        why: FallbackReason,
    },
}

impl Route {
    /// Whether the server computed the result.
    pub fn offloaded(&self) -> bool {
        matches!(self, Route::Offloaded)
    }
}

/// Why a request that might have been offloaded ran locally without trying the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalReason {
    /// There is no server profile to plan with: the server has not been reached yet, or it
    /// has no profile of the model.
    NoServerProfile,
    /// The circuit breaker is open: the server failed recently.
    BackingOff,
}

/// Why an offload failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum FallbackReason {
    /// No connection or a broken one.
    Unreachable(String),
    /// No answer before the deadline (derived from the local-only time).
    DeadlineExceeded,
    /// The server refused the request for load (RESOURCE_EXHAUSTED).
    Overloaded(String),
    /// Any other server error (gRPC code name and message).
    ServerError(String),
    /// The reply could not be read.
    BadReply(String),
}

impl fmt::Display for FallbackReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable(m) => write!(f, "unreachable: {m}"),
            Self::DeadlineExceeded => f.write_str("deadline exceeded"),
            Self::Overloaded(m) => write!(f, "overloaded: {m}"),
            Self::ServerError(m) => write!(f, "server error: {m}"),
            Self::BadReply(m) => write!(f, "bad reply: {m}"),
        }
    }
}

/// Measured latency of one inference by component, µs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Measured {
    /// Head (or whole model) on the device, emulated slowdown included.
    pub device_us: f64,
    /// Encoding the cut tensors.
    pub encode_us: f64,
    /// The gRPC call minus the server's own time: transfer both ways and one round trip.
    pub network_us: f64,
    /// The gRPC call's wall time: transfer, the server's time, protobuf framing.
    pub rpc_us: f64,
    /// The planner's decision.
    pub decide_us: f64,
    /// The server's report for this request (queue, decode, compute, batch size).
    pub server: Option<ServerTimings>,
    /// Finishing on the device after a failed offload.
    pub fallback_us: f64,
    /// Wall time of the whole inference, decision included.
    pub total_us: f64,
}

impl Measured {
    /// What the client itself added: the whole inference less the head's run, the gRPC call
    /// and any fallback (deciding, bookkeeping, encoding, building the request, reading the
    /// reply, updating the estimators).
    pub fn client_overhead_us(&self) -> f64 {
        (self.total_us - self.device_us - self.rpc_us - self.fallback_us).max(0.0)
    }
}

/// The result of one inference.
#[derive(Debug, Clone, Serialize)]
pub struct InferOutcome {
    /// The model's outputs, in model order (never missing: a failed offload finishes locally).
    #[serde(skip)]
    pub outputs: NamedTensors,
    /// The policy that decided.
    pub policy: String,
    /// The chosen cut.
    pub cut: CutId,
    /// Fraction of the model that ran on the device by the plan.
    pub head_fraction: f64,
    /// Where it ran.
    #[serde(flatten)]
    pub route: Route,
    /// What the planner predicted for the chosen cut, µs.
    pub predicted: Breakdown,
    /// What the planner was told.
    pub estimate: Estimate,
    /// What happened.
    pub measured: Measured,
    /// Payload bytes sent and received.
    pub sent_bytes: u64,
    /// Output bytes received from the server.
    pub received_bytes: u64,
}

//! The planner: which part of a model runs on the device and which on the edge server.
//!
//! Given a model's stage DAG ([`loadpart_cuts::Dag`]), device and server cost profiles
//! ([`ModelProfile`]) and the current network and server state ([`Estimate`]), it returns the cut
//! with the least predicted end-to-end latency
//!
//! `T(c) = D(c) + E(c) + RTT + S(c)/B_up + W + f·R(c, k) + X(c) + O/B_down`
//!
//! with its predicted [`Breakdown`]. The search is exact over every cut of the DAG, multi-tensor
//! cuts across parallel branches included ([`Planner`]), and fast enough to run per request:
//! everything that does not depend on the request's conditions is precomputed.
//!
//! Pure: no I/O, no async, no clock other than timing the decision itself.
#![forbid(unsafe_code)]

mod conditions;
mod decision;
mod error;
mod hysteresis;
pub mod policy;
mod profile;
mod report;
mod server_costs;
mod solver;
mod sweep;
pub mod synth;
mod tables;
pub mod verify;

pub use conditions::{Conditions, Estimate};
pub use decision::{Breakdown, CutPosition, Decision, DecisionReport};
pub use error::PlanError;
pub use hysteresis::Hysteresis;
pub use policy::{Policy, PolicyKind};
pub use profile::{
    CodecLevel, ModelProfile, NodeCost, ProfileRole, ProfileValidation, TensorCodec, TensorInfo,
    ThreadSettings, ValidationSample,
};
pub use report::{PlanReport, RunnerUp, TIMED_DECISIONS, plan_report};
pub use server_costs::ServerCosts;
pub use solver::{
    BlockSearchKind, CandidateCost, OffloadRisk, PerCut, Planner, PlannerOptions, QueueOutlook,
};
pub use sweep::{SweepPoint, geometric_bandwidths, sweep_bandwidth};
pub use tables::{TensorEncoding, priced_encoding};

//! The edge server: many devices send the tails of their requests here, and standard Open
//! Inference Protocol clients send whole-model requests.
//!
//! Whether a device should offload, and where to cut, depends on how busy this server is, so it
//! must batch well and report its load truthfully. The crate is layered:
//!
//! - The pure, synchronous scheduling core, unit-tested with time as a parameter:
//!   [`BatchState`] (bounded FCFS queue with Triton's dynamic-batcher semantics),
//!   [`plan_staircases`] (staircase merge planning; the scheduler and executors carry it out
//!   when `staircase` is on) and [`LoadWindow`] (the sliding-window load
//!   report, defined when idle), and [`BatchTimes`] with [`predict_finish`] (admission: will a
//!   request finish by its deadline?).
//! - The edge ([`validate`]): a `ModelInferRequest` becomes a [`ValidRequest`] or a
//!   [`ServerError`]; [`status`] maps every error to a gRPC status in one place.
//! - Parts ([`parts`]): a request's tail is built, when cold, on a blocking task before it is
//!   queued, and a staircase segment before a merge uses it, so executors only run;
//!   `warm_cuts` builds chosen cuts before the server is ready.
//! - Execution: a tokio actor owns the [`BatchState`] ([`scheduler`]) and hands ready batches to
//!   executor threads that decode straight into one buffer per input and run the whole model or
//!   the tail of the batch's cut.
//! - The gRPC services ([`service`]): `inference.GRPCInferenceService` (KServe v2 with Triton's
//!   statistics), `loadpart.v1.Loadpart` (profile, load poll and watch, bandwidth probes), and
//!   `grpc.health.v1`.
//! - Security ([`auth`]): device tokens checked by an interceptor on the inference and
//!   loadpart services (`authorization: Bearer`), re-read on demand; TLS (rustls) on the
//!   listener when configured, plaintext otherwise (loopback only unless allowed).
//! - Fair share ([`fair_share`]): per-device limits on queued requests and admitted rate,
//!   checked before a request is decoded, so that one device cannot take the whole queue.
//! - Operations: Prometheus text metrics (`metrics`, one module) served over plain HTTP on their
//!   own address, `tracing` spans on the request path.
//! - [`Server::start`] with a [`ServerConfig`] ties them together and returns a
//!   [`RunningServer`] that shuts down gracefully.
#![forbid(unsafe_code)]

mod admission;
pub mod auth;
mod batcher;
mod error;
mod executor;
pub mod fair_share;
mod jobs;
mod load;
mod metrics;
mod metrics_http;
mod monitor;
pub mod parts;
pub mod registry;
pub mod scheduler;
mod server;
pub mod service;
mod staircase;
mod stats;
pub mod status;
pub mod validate;

pub use admission::{BatchTimes, misses_deadline, predict_finish};
pub use batcher::{
    Batch, BatchKey, BatchLimits, BatchState, Cancellable, Dropped, Queued, Rejected,
};
pub use error::{SchedError, ServerError};
pub use fair_share::{FairShareConfig, ShareRefusal};
pub use jobs::{Reply, Timings};
pub use load::{LoadSnapshot, LoadWindow, MAX_SLOWDOWN};
pub use registry::{
    AUTO_WARM_CUTS, ModelSpec, ProfileSource, Registry, ServedModel, TensorMeta, WarmCuts,
};
pub use scheduler::SchedulerHandle;
pub use server::{CustomEngine, RunningServer, Server, ServerConfig, TlsFiles};
pub use staircase::{Stage, StairGroup, Staircase, plan_staircases};
pub use validate::{ValidRequest, validate_request};

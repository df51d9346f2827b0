//! The crate's one error type.

use loadpart_cuts::CutError;

/// Why a planner could not be built from its profiles, or a policy not parsed.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The device and server profiles were measured on different model files.
    #[error("profiles are for different models: device {device:?}, server {server:?}")]
    ModelMismatch {
        /// The device profile's `model_hash`.
        device: String,
        /// The server profile's `model_hash`.
        server: String,
    },
    /// A profile's batch sizes are empty, zero, or not strictly increasing.
    #[error(
        "{profile} profile: batch sizes must be non-empty, >= 1 and strictly increasing, got {got:?}"
    )]
    BadBatchSizes {
        /// `"device"` or `"server"`.
        profile: &'static str,
        /// The batch sizes received.
        got: Vec<usize>,
    },
    /// A DAG node has no entry in a profile.
    #[error("{profile} profile has no time for node {node:?}")]
    MissingNode {
        /// `"device"` or `"server"`.
        profile: &'static str,
        /// The node name.
        node: String,
    },
    /// A tensor that can cross the network has no size in the device profile.
    #[error("device profile has no size for tensor {tensor:?}")]
    MissingTensor {
        /// The tensor name.
        tensor: String,
    },
    /// A number in a profile is negative, NaN, infinite, or of the wrong count.
    #[error("{profile} profile: bad value for {what}: {detail}")]
    BadValue {
        /// `"device"` or `"server"`.
        profile: &'static str,
        /// The node or tensor concerned.
        what: String,
        /// What is wrong, quoting the value.
        detail: String,
    },
    /// A policy name that [`crate::PolicyKind`] does not know.
    #[error(
        "unknown policy {0:?}; expected local, server, neurosurgeon, loadpart-original, loadpart, oracle or fixed:<cut>"
    )]
    UnknownPolicy(String),
    /// The cut given to `fixed:<cut>` is not a cut of this model.
    #[error("fixed cut {cut:?}: {source}")]
    BadFixedCut {
        /// The cut id received.
        cut: String,
        /// Why it is not a cut.
        #[source]
        source: CutError,
    },
}

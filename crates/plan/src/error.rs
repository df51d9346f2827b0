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
    /// A profile measured in one role (device or server) given in the other's place.
    #[error("the {expected} profile given was measured as a {found} profile ({detail})")]
    WrongRole {
        /// `"device"` or `"server"`: the place it was given in.
        expected: &'static str,
        /// The role the profile records.
        found: String,
        /// How to fix it.
        detail: &'static str,
    },
    /// A policy name that [`crate::PolicyKind`] does not know.
    #[error(
        "unknown policy {0:?}; expected local, server, neurosurgeon, loadpart-original, loadpart, oracle or fixed:<cut>"
    )]
    UnknownPolicy(String),
    /// Conditions given by a caller that no link or server has (a negative time, a batch
    /// below 1, a slowdown that is not positive).
    #[error("bad condition {name}: {reason}")]
    BadCondition {
        /// The estimate's field.
        name: &'static str,
        /// What it must be, and what it was.
        reason: String,
    },
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

impl loadpart_errors::Classify for PlanError {
    fn kind(&self) -> loadpart_errors::ErrorKind {
        use loadpart_errors::ErrorKind::*;
        match self {
            PlanError::UnknownPolicy(_)
            | PlanError::BadFixedCut { .. }
            | PlanError::BadCondition { .. } => Caller,
            PlanError::ModelMismatch { .. }
            | PlanError::BadBatchSizes { .. }
            | PlanError::MissingNode { .. }
            | PlanError::MissingTensor { .. }
            | PlanError::BadValue { .. }
            | PlanError::WrongRole { .. } => Model,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            PlanError::ModelMismatch { .. } => "profile_model_mismatch",
            PlanError::BadBatchSizes { .. } => "profile_batch_sizes",
            PlanError::MissingNode { .. } => "profile_missing_node",
            PlanError::MissingTensor { .. } => "profile_missing_tensor",
            PlanError::BadValue { .. } => "profile_bad_value",
            PlanError::WrongRole { .. } => "profile_wrong_role",
            PlanError::UnknownPolicy(_) => "unknown_policy",
            PlanError::BadFixedCut { .. } => "bad_fixed_cut",
            PlanError::BadCondition { .. } => "bad_condition",
        }
    }
}

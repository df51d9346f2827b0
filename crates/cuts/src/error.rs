//! The crate's one error type.

/// Everything that can go wrong while building a [`crate::Dag`] or validating a cut.
///
/// Messages name the offending node or tensor so that a CLI can print them as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CutError {
    /// Two tensors, or two nodes, share a name. Cut ids are built from tensor names, so names must
    /// be unique.
    #[error("duplicate {kind} name {name:?}")]
    DuplicateName {
        /// `"tensor"` or `"node"`.
        kind: &'static str,
        /// The repeated name.
        name: String,
    },
    /// A [`crate::TensorId`] that this builder never handed out.
    #[error("unknown tensor id {id} (the DAG has {count} tensors)")]
    UnknownTensorId {
        /// The id received.
        id: u32,
        /// How many tensors exist.
        count: usize,
    },
    /// A tensor name that the DAG does not contain.
    #[error("unknown tensor {name:?}")]
    UnknownTensor {
        /// The name received.
        name: String,
    },
    /// A node without inputs. Constant subgraphs must be folded before the DAG is built: they are
    /// not activations and can never be cut tensors.
    #[error("node {node:?} has no inputs; fold constant subgraphs before building the DAG")]
    NodeWithoutInputs {
        /// The node's name.
        node: String,
    },
    /// The model has no input tensor.
    #[error("the DAG has no model input")]
    NoInputs,
    /// The model has no output tensor.
    #[error("the DAG has no model output")]
    NoOutputs,
    /// A node from which no model output can be reached. Its work would be wasted on every cut;
    /// the caller must prune it before building the DAG.
    #[error("node {node:?} leads to no model output; prune dead nodes before building the DAG")]
    DeadNode {
        /// The node's name.
        node: String,
    },
    /// The proposed tensor set does not separate the inputs from the outputs.
    #[error("not a cut: the path {} crosses none of its tensors", path.join(" -> "))]
    UncutPath {
        /// Alternating tensor and node names, from a model input to a model output.
        path: Vec<String>,
    },
    /// A cut id that is not well formed (see [`crate::CutId::parse`]).
    #[error("malformed cut id {id:?}: {reason}")]
    BadCutId {
        /// The id received (at most 200 characters of it).
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The tensors a partitioned request sends are not exactly those its cut sends: one is
    /// missing (the tail would need it) or one is superfluous.
    #[error(
        "the tensors sent ({}) are not the cut's tensors: the cut for these outputs sends ({})",
        sent.join(", "),
        expected.join(", ")
    )]
    SentMismatch {
        /// Names received, sorted.
        sent: Vec<String>,
        /// Names the canonical cut sends, sorted.
        expected: Vec<String>,
    },
    /// A requested output that is not a model output, or none at all to compute.
    #[error("{0}")]
    BadOutputs(String),
}

impl loadpart_errors::Classify for CutError {
    fn kind(&self) -> loadpart_errors::ErrorKind {
        use loadpart_errors::ErrorKind::*;
        match self {
            CutError::DuplicateName { .. }
            | CutError::NodeWithoutInputs { .. }
            | CutError::NoInputs
            | CutError::NoOutputs
            | CutError::DeadNode { .. } => Model,
            CutError::UnknownTensorId { .. } => Internal,
            CutError::UnknownTensor { .. }
            | CutError::UncutPath { .. }
            | CutError::BadCutId { .. }
            | CutError::SentMismatch { .. }
            | CutError::BadOutputs(_) => Caller,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            CutError::DuplicateName { .. } => "duplicate_name",
            CutError::UnknownTensorId { .. } => "unknown_tensor_id",
            CutError::UnknownTensor { .. } => "unknown_tensor",
            CutError::NodeWithoutInputs { .. } => "node_without_inputs",
            CutError::NoInputs => "no_inputs",
            CutError::NoOutputs => "no_outputs",
            CutError::DeadNode { .. } => "dead_node",
            CutError::UncutPath { .. } => "not_a_cut",
            CutError::BadCutId { .. } => "bad_cut_id",
            CutError::SentMismatch { .. } => "sent_mismatch",
            CutError::BadOutputs(_) => "bad_outputs",
        }
    }
}

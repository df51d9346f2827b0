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
}

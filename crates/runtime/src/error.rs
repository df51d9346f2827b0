//! The crate's one error type.

use loadpart_cuts::CutError;
use loadpart_engine::EngineError;
use loadpart_errors::{Classify, ErrorKind};
use loadpart_graph::GraphError;

/// Why a part could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Cut(#[from] CutError),
    /// A part's output (or forwarded input) that is not there: the caller gave too few tensors.
    #[error("{part} needs tensor {tensor:?}, which was neither given nor computed")]
    MissingTensor { part: String, tensor: String },
    /// A batched output cannot be split into the requests' rows.
    #[error("cannot split output {name:?} of shape {shape:?} into rows {rows:?}")]
    Rows {
        name: String,
        shape: Vec<usize>,
        rows: Vec<usize>,
    },
    /// A batch size of 0 or a warm-up of a part with inputs of unknown size.
    #[error("bad batch size {0}: must be at least 1")]
    BatchSize(usize),
    /// A loaded part that failed earlier and is remembered failing (by another thread's load).
    #[error("loading {part} failed: {reason}")]
    LoadFailed { part: String, reason: String },
}

impl Classify for RuntimeError {
    fn kind(&self) -> ErrorKind {
        match self {
            RuntimeError::Graph(e) => e.kind(),
            RuntimeError::Engine(e) => e.kind(),
            RuntimeError::Cut(e) => e.kind(),
            RuntimeError::MissingTensor { .. } | RuntimeError::BatchSize(_) => ErrorKind::Caller,
            RuntimeError::Rows { .. } => ErrorKind::Internal,
            RuntimeError::LoadFailed { .. } => ErrorKind::Engine,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            RuntimeError::Graph(e) => e.label(),
            RuntimeError::Engine(e) => e.label(),
            RuntimeError::Cut(e) => e.label(),
            RuntimeError::MissingTensor { .. } => "missing_tensor",
            RuntimeError::Rows { .. } => "output_rows",
            RuntimeError::BatchSize(_) => "bad_batch_size",
            RuntimeError::LoadFailed { .. } => "part_load_failed",
        }
    }
}

use loadpart_engine::EngineError;
use loadpart_errors::{Classify, ErrorKind};
use loadpart_graph::GraphError;
use loadpart_runtime::RuntimeError;

/// Failures while checking, measuring or profiling partitioned models.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Cut(#[from] loadpart_cuts::CutError),
    #[error("output '{name}' has shape {got:?}, expected {expected:?}")]
    ShapeMismatch {
        name: String,
        got: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("output '{name}' is {got}, expected {expected}")]
    DtypeMismatch {
        name: String,
        got: String,
        expected: String,
    },
    /// Batch sizes that are empty, zero or not strictly increasing.
    #[error("batch sizes must be positive{}, got {got:?}", if *.increasing { " and strictly increasing" } else { "" })]
    BatchSizes { got: Vec<usize>, increasing: bool },
    /// A count that must be positive (timed runs, inputs, cuts).
    #[error("{what} must be at least 1, got {got}")]
    Count { what: &'static str, got: usize },
    /// The model has no input or no output to work with.
    #[error("the model has no {0}")]
    Empty(&'static str),
    /// An output that is not a `[batch, ...]` float tensor where one is needed (top-1 classes).
    #[error("output '{0}' is not a [batch, ...] float tensor")]
    NotBatched(String),
    /// A code-width floors file that cannot be used.
    #[error("codec floors {path}: {detail}")]
    Floors { path: String, detail: String },
    /// A code width the codec cannot send.
    #[error("codec bits {0}: expected widths in 2..=8")]
    CodecBits(u8),
    #[error("codec on '{tensor}': {source}")]
    Codec {
        tensor: String,
        #[source]
        source: loadpart_codec::CodecError,
    },
}

impl Classify for ExecError {
    fn kind(&self) -> ErrorKind {
        match self {
            ExecError::Graph(e) => e.kind(),
            ExecError::Engine(e) => e.kind(),
            ExecError::Runtime(e) => e.kind(),
            ExecError::Cut(e) => e.kind(),
            ExecError::Codec { source, .. } => source.kind(),
            ExecError::ShapeMismatch { .. } | ExecError::DtypeMismatch { .. } => {
                ErrorKind::Internal
            }
            ExecError::BatchSizes { .. }
            | ExecError::Count { .. }
            | ExecError::CodecBits(_)
            | ExecError::Floors { .. } => ErrorKind::Caller,
            ExecError::Empty(_) | ExecError::NotBatched(_) => ErrorKind::Model,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            ExecError::Graph(e) => e.label(),
            ExecError::Engine(e) => e.label(),
            ExecError::Runtime(e) => e.label(),
            ExecError::Cut(e) => e.label(),
            ExecError::Codec { source, .. } => source.label(),
            ExecError::ShapeMismatch { .. } => "output_shape_mismatch",
            ExecError::DtypeMismatch { .. } => "output_dtype_mismatch",
            ExecError::BatchSizes { .. } => "bad_batch_sizes",
            ExecError::Count { .. } => "bad_count",
            ExecError::CodecBits(_) => "bad_codec_bits",
            ExecError::Floors { .. } => "bad_codec_floors",
            ExecError::Empty(_) => "empty_model",
            ExecError::NotBatched(_) => "not_batched",
        }
    }
}

use loadpart_cuts::CutError;

/// Everything that can go wrong reading, analysing or rewriting an ONNX model.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("not a valid ONNX model: {0}")]
    Malformed(String),
    #[error("ONNX model has no graph")]
    NoGraph,
    #[error(
        "model uses external data for tensor '{0}'; only self-contained .onnx files are supported"
    )]
    ExternalData(String),
    #[error(
        "tensor '{tensor}' used by node '{node}' is neither a graph input, an initializer nor produced by a node"
    )]
    UndefinedTensor { tensor: String, node: String },
    #[error("tensor '{0}' is produced more than once")]
    DuplicateProducer(String),
    #[error("the graph has a cycle through node '{0}'")]
    Cycle(String),
    #[error("unknown tensor '{0}'")]
    UnknownTensor(String),
    #[error("cannot infer the shape of '{tensor}' (op {op}): {reason}")]
    Shape {
        tensor: String,
        op: String,
        reason: String,
    },
    #[error("unsupported element type {0} for '{1}'")]
    UnsupportedType(i32, String),
    #[error("cannot make the batch dimension dynamic: {0}")]
    Batch(String),
    #[error("invalid cut: {0}")]
    Cut(#[from] CutError),
    #[error("attribute '{attr}' of node '{node}': {reason}")]
    Attribute {
        node: String,
        attr: String,
        reason: String,
    },
}

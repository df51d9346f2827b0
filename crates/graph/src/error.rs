use loadpart_cuts::CutError;

/// Everything that can go wrong reading, analysing or rewriting an ONNX model.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("not a valid ONNX model: {0}")]
    Malformed(String),
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("unknown generated model {name:?} (known: {})", known.join(", "))]
    UnknownGenerated {
        name: String,
        known: Vec<&'static str>,
    },
    #[error("no light model {name:?} in {}: {reason}", dir.display())]
    LightModel {
        name: String,
        dir: std::path::PathBuf,
        reason: String,
    },
    #[error(
        "no model '{spec}': not a file, not zoo:NAME ({}), and not an installed light model \
         ({reason})",
        crate::zoo::MODELS.join(", ")
    )]
    NoSuchModel { spec: String, reason: String },
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

impl loadpart_errors::Classify for GraphError {
    fn kind(&self) -> loadpart_errors::ErrorKind {
        use loadpart_errors::ErrorKind::*;
        match self {
            GraphError::Cut(e) => e.kind(),
            GraphError::UnknownTensor(_)
            | GraphError::UnknownGenerated { .. }
            | GraphError::LightModel { .. }
            | GraphError::NoSuchModel { .. } => Caller,
            GraphError::Io { .. } => Internal,
            GraphError::Malformed(_)
            | GraphError::NoGraph
            | GraphError::ExternalData(_)
            | GraphError::UndefinedTensor { .. }
            | GraphError::DuplicateProducer(_)
            | GraphError::Cycle(_)
            | GraphError::Shape { .. }
            | GraphError::UnsupportedType(..)
            | GraphError::Batch(_)
            | GraphError::Attribute { .. } => Model,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            GraphError::Malformed(_) => "malformed_model",
            GraphError::Io { .. } => "io",
            GraphError::UnknownGenerated { .. } => "unknown_generated_model",
            GraphError::LightModel { .. } => "light_model_missing",
            GraphError::NoSuchModel { .. } => "no_such_model",
            GraphError::NoGraph => "no_graph",
            GraphError::ExternalData(_) => "external_data",
            GraphError::UndefinedTensor { .. } => "undefined_tensor",
            GraphError::DuplicateProducer(_) => "duplicate_producer",
            GraphError::Cycle(_) => "cycle",
            GraphError::UnknownTensor(_) => "unknown_tensor",
            GraphError::Shape { .. } => "shape_inference",
            GraphError::UnsupportedType(..) => "unsupported_type",
            GraphError::Batch(_) => "batch_dimension",
            GraphError::Cut(e) => e.label(),
            GraphError::Attribute { .. } => "bad_attribute",
        }
    }
}

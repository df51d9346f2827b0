use loadpart_engine::EngineError;
use loadpart_graph::GraphError;

/// Failures while running or measuring partitioned models.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{part} did not produce tensor '{tensor}'")]
    MissingTensor { part: &'static str, tensor: String },
    #[error("output '{name}' has shape {got:?}, expected {expected:?}")]
    ShapeMismatch {
        name: String,
        got: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("invalid options: {0}")]
    Options(String),
    #[error("codec on '{tensor}': {source}")]
    Codec {
        tensor: String,
        #[source]
        source: loadpart_codec::CodecError,
    },
}

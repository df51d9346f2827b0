//! The one error type of this crate.
//!
//! Callers (the server in particular) classify failures by variant: a bad request
//! (`UnknownInput`, `MissingInput`, `DuplicateInput`, `DtypeMismatch`, `ShapeMismatch`,
//! `BadTensor`) is the caller's fault, `Load`/`Run`/`Panic` are the model's or the backend's, and
//! `LibraryNotFound`/`LibraryLoad` mean the backend itself is unavailable.

use std::path::PathBuf;

use crate::EngineKind;

/// Boxed source error from a backend (ONNX Runtime or tract).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in `loadpart-engine`.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// An engine name that is neither `ort` nor `tract`.
    #[error("unknown engine {received:?}: expected \"ort\" or \"tract\"")]
    UnknownEngine { received: String },

    /// A spinning setting that is neither `on` nor `off`.
    #[error("unknown spinning setting {received:?}: expected \"on\" or \"off\"")]
    UnknownSpinning { received: String },

    /// No ONNX Runtime shared library at any of the places we look.
    #[error(
        "ONNX Runtime library not found; tried {}; run scripts/setup.sh (it installs it into \
         .loadpart/lib/) or set ORT_DYLIB_PATH",
        display_paths(.tried)
    )]
    LibraryNotFound { tried: Vec<PathBuf> },

    /// A library file exists but ONNX Runtime could not be initialised from it (wrong
    /// architecture, too old, corrupt).
    #[error("could not initialise ONNX Runtime from {path:?}: {reason}; run scripts/setup.sh")]
    LibraryLoad { path: PathBuf, reason: String },

    /// The backend rejected the model bytes (unparsable, truncated, unsupported operator).
    #[error("{engine} could not load the model ({len} bytes): {source}")]
    Load {
        engine: EngineKind,
        len: usize,
        #[source]
        source: BoxError,
    },

    /// The model's inputs or outputs use an element type this crate does not carry.
    #[error("tensor {tensor:?} has element type {dtype}; only f32 and i64 are supported")]
    UnsupportedDtype { tensor: String, dtype: String },

    /// A tensor whose data length does not match the product of its shape.
    #[error("tensor of shape {shape:?} needs {expected} elements, got {received}")]
    BadTensor {
        shape: Vec<usize>,
        expected: usize,
        received: usize,
    },

    /// An input name the model does not have.
    #[error("unknown input {received:?}; the model's inputs are {expected:?}")]
    UnknownInput {
        received: String,
        expected: Vec<String>,
    },

    /// A model input that the caller did not provide.
    #[error("missing input {name:?}; the model's inputs are {expected:?}")]
    MissingInput { name: String, expected: Vec<String> },

    /// The same input name given twice.
    #[error("input {name:?} given more than once")]
    DuplicateInput { name: String },

    /// Input of the wrong element type.
    #[error("input {name:?} must be {expected}, got {received}")]
    DtypeMismatch {
        name: String,
        expected: crate::DType,
        received: crate::DType,
    },

    /// Input of the wrong rank or with a wrong fixed dimension.
    #[error("input {name:?} must have shape {expected}, got {received:?}")]
    ShapeMismatch {
        name: String,
        /// The model's shape, `?` or a symbol for dynamic dimensions.
        expected: String,
        received: Vec<usize>,
    },

    /// The backend failed while running a model that loaded fine.
    #[error("{engine} failed to run the model: {source}")]
    Run {
        engine: EngineKind,
        #[source]
        source: BoxError,
    },

    /// The backend panicked; the panic was caught and turned into this error.
    #[error("{engine} panicked while {during}: {message}")]
    Panic {
        engine: EngineKind,
        during: &'static str,
        message: String,
    },
}

impl loadpart_errors::Classify for EngineError {
    fn kind(&self) -> loadpart_errors::ErrorKind {
        use loadpart_errors::ErrorKind::*;
        match self {
            EngineError::UnknownEngine { .. }
            | EngineError::UnknownSpinning { .. }
            | EngineError::BadTensor { .. }
            | EngineError::UnknownInput { .. }
            | EngineError::MissingInput { .. }
            | EngineError::DuplicateInput { .. }
            | EngineError::DtypeMismatch { .. }
            | EngineError::ShapeMismatch { .. } => Caller,
            EngineError::Load { .. } | EngineError::UnsupportedDtype { .. } => Model,
            EngineError::LibraryNotFound { .. }
            | EngineError::LibraryLoad { .. }
            | EngineError::Run { .. } => Engine,
            EngineError::Panic { .. } => Internal,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            EngineError::UnknownEngine { .. } => "unknown_engine",
            EngineError::UnknownSpinning { .. } => "unknown_spinning",
            EngineError::LibraryNotFound { .. } => "engine_library_not_found",
            EngineError::LibraryLoad { .. } => "engine_library_load",
            EngineError::Load { .. } => "model_load",
            EngineError::UnsupportedDtype { .. } => "unsupported_dtype",
            EngineError::BadTensor { .. } => "bad_tensor",
            EngineError::UnknownInput { .. } => "unknown_input",
            EngineError::MissingInput { .. } => "missing_input",
            EngineError::DuplicateInput { .. } => "duplicate_input",
            EngineError::DtypeMismatch { .. } => "dtype_mismatch",
            EngineError::ShapeMismatch { .. } => "shape_mismatch",
            EngineError::Run { .. } => "run_failed",
            EngineError::Panic { .. } => "engine_panic",
        }
    }
}

fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "no path".to_owned();
    }
    paths
        .iter()
        .map(|p| format!("{}", p.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `f`, turning a panic inside a backend into [`EngineError::Panic`] so that a malformed
/// model can never take down a server executor thread. The closure's state is dropped on panic,
/// so asserting unwind safety is sound here.
pub(crate) fn catch_panic<T>(
    engine: EngineKind,
    during: &'static str,
    f: impl FnOnce() -> Result<T, EngineError>,
) -> Result<T, EngineError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            Err(EngineError::Panic {
                engine,
                during,
                message,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_library_names_every_path_and_the_fix() {
        let err = EngineError::LibraryNotFound {
            tried: vec!["/a/libonnxruntime.so".into(), "/b/libonnxruntime.so".into()],
        }
        .to_string();
        assert!(
            err.contains("/a/libonnxruntime.so, /b/libonnxruntime.so"),
            "{err}"
        );
        assert!(err.contains("run scripts/setup.sh"), "{err}");
    }

    #[test]
    fn panics_become_errors() {
        let r: Result<(), _> = catch_panic(EngineKind::Tract, "testing", || panic!("boom {}", 1));
        let err = r.unwrap_err().to_string();
        assert_eq!(err, "tract panicked while testing: boom 1");
    }
}

//! Exceptions: `loadpart.Error` and one subclass per kind of failure, the same kinds as the
//! server's gRPC statuses and metric labels ([`loadpart_errors::ErrorKind`]), with the Rust
//! message. A fallback to the device is not an error: it is in `Outcome.route`.

use loadpart_errors::{Classify, ErrorKind};
use pyo3::create_exception;
use pyo3::prelude::*;

create_exception!(
    _loadpart,
    Error,
    pyo3::exceptions::PyException,
    "Base class of loadpart's errors."
);
create_exception!(
    _loadpart,
    CallerError,
    Error,
    "The call is wrong: a bad argument, input, cut id or setting. Fix the call."
);
create_exception!(
    _loadpart,
    ModelError,
    Error,
    "The model cannot do it: not a valid ONNX file, unsupported, or another model than the server's."
);
create_exception!(
    _loadpart,
    EngineError,
    Error,
    "The execution engine failed or is missing (ONNX Runtime's library not found, a run failed)."
);
create_exception!(
    _loadpart,
    InternalError,
    Error,
    "A bug or an exhausted resource inside loadpart."
);

/// Adds the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<Error>())?;
    m.add("CallerError", py.get_type::<CallerError>())?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    m.add("EngineError", py.get_type::<EngineError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    Ok(())
}

/// A library error as the exception of its kind.
pub fn to_py<E: Classify + std::fmt::Display>(e: E) -> PyErr {
    let msg = e.to_string();
    match e.kind() {
        ErrorKind::Caller => CallerError::new_err(msg),
        ErrorKind::Model => ModelError::new_err(msg),
        ErrorKind::Engine => EngineError::new_err(msg),
        ErrorKind::Internal => InternalError::new_err(msg),
    }
}

/// A wrong call found here.
pub fn caller_error(msg: impl Into<String>) -> PyErr {
    CallerError::new_err(msg.into())
}

/// Something that should not happen.
pub fn internal_error(msg: impl Into<String>) -> PyErr {
    InternalError::new_err(msg.into())
}

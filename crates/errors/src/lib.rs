//! Error classification shared by every loadpart library.
//!
//! A server must turn any failure into a gRPC status and a metric label without knowing each
//! crate's variants: whether the caller sent something wrong (`INVALID_ARGUMENT`,
//! `NOT_FOUND`), the model cannot do what was asked, the engine failed, or loadpart itself has a
//! bug. Each library error enum implements [`Classify`]; the server maps [`ErrorKind`] to a status
//! in one place, and counts failures by [`Classify::label`], a stable snake_case name.
#![forbid(unsafe_code)]

use std::fmt;

/// Whose fault a failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The caller's input is wrong (bad tensor, unknown name, malformed id, wrong shape): fix the
    /// request.
    Caller,
    /// The model cannot do it (unsupported operator, no shape, not a valid ONNX file): fix the
    /// model or its configuration.
    Model,
    /// The execution backend failed or is missing (ONNX Runtime not installed, a run failed).
    Engine,
    /// A bug or an exhausted resource inside loadpart.
    Internal,
}

impl ErrorKind {
    /// `caller`, `model`, `engine` or `internal`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Caller => "caller",
            ErrorKind::Model => "model",
            ErrorKind::Engine => "engine",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Implemented by every library error enum of loadpart.
pub trait Classify {
    /// Whose fault it is.
    fn kind(&self) -> ErrorKind;
    /// A stable snake_case name of the variant (for metrics and logs); never changes once
    /// published.
    fn label(&self) -> &'static str;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_stable_names() {
        let all = [
            ErrorKind::Caller,
            ErrorKind::Model,
            ErrorKind::Engine,
            ErrorKind::Internal,
        ];
        let names: Vec<String> = all.iter().map(|k| k.to_string()).collect();
        assert_eq!(names, ["caller", "model", "engine", "internal"]);
    }
}

//! Runs ONNX models (whole models, heads, tails) behind one small synchronous interface, so the
//! planner, profiler, server and client do not care which runtime executes a part.
//!
//! Two backends implement [`Engine`]:
//! - `ort`: ONNX Runtime through the `ort` crate, fast and batch-friendly. Its shared library is
//!   loaded at run time (see [`locate`]), so it can be missing; [`available`] says so in one call
//!   and the caller falls back to tract.
//! - `tract`: pure Rust, always available.
//!
//! Loading gives an `Arc<dyn Model>` that many threads share; [`Model::run`] takes named inputs
//! (cut tensors travel by name, borrowed: ONNX Runtime reads the caller's buffers in place) and
//! returns named outputs in the model's output order together with the time the backend spent
//! running. ONNX Runtime's outputs are handed over in the memory it wrote them to ([`Buffer`]),
//! as Python `onnxruntime` hands out its numpy arrays: no copy on the way out either.
#![forbid(unsafe_code)]

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

mod error;
mod io;
pub mod locate;
mod ort_backend;
pub mod probe;
mod tensor;
mod timing;
mod tract_backend;

pub use error::{BoxError, EngineError};
pub use io::{Dim, IoInfo, order_inputs};
pub use tensor::{Buffer, DType, Tensor, TensorData, TensorDataRef, TensorRef};
pub use timing::time_runs;

/// Which backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineKind {
    Ort,
    Tract,
}

impl EngineKind {
    pub const ALL: [EngineKind; 2] = [EngineKind::Ort, EngineKind::Tract];

    pub fn as_str(&self) -> &'static str {
        match self {
            EngineKind::Ort => "ort",
            EngineKind::Tract => "tract",
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EngineKind {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ort" | "onnxruntime" => Ok(EngineKind::Ort),
            "tract" => Ok(EngineKind::Tract),
            _ => Err(EngineError::UnknownEngine {
                received: s.to_owned(),
            }),
        }
    }
}

/// Whether a session's idle intra-op worker threads spin (busy-wait) for the next parallel
/// section, ONNX Runtime only (tract's workers never spin). Pick it by role:
/// - [`Spinning::On`], ONNX Runtime's own default (and Python `onnxruntime`'s), for runs back to
///   back on cores the process owns: a server's executor threads. A parallel section then starts
///   without waking a sleeping thread (on an idle 2-core VM, 2 threads: SqueezeNet at batch 1
///   4.1 ms instead of 7.4 ms, ResNet-50 39.8 ms instead of 43.4 ms), but the workers keep their
///   cores busy for milliseconds after each section and each run.
/// - [`Spinning::Off`] (the default here) for a process that alternates a model with other work:
///   a device running a head and then encoding and sending its output, a head and a tail run one
///   after the other, a host whose cores other processes also use. Spinning workers take the
///   cores the next step needs: on a 2-core VM shared with compiler jobs, SqueezeNet at batch 1
///   on 2 threads took twice as long with spinning as without, in Python `onnxruntime` (23.0 ms
///   against 11.4 ms, median of 60 runs) as in loadpart's engine.
///
/// Sessions that spin get a thread pool of their own; those that do not, with no thread count
/// given, share one process-wide pool of sleeping workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Spinning {
    #[default]
    Off,
    On,
}

impl fmt::Display for Spinning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Spinning::Off => "off",
            Spinning::On => "on",
        })
    }
}

impl FromStr for Spinning {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "1" => Ok(Spinning::On),
            "off" | "false" | "0" => Ok(Spinning::Off),
            _ => Err(EngineError::UnknownSpinning {
                received: s.to_owned(),
            }),
        }
    }
}

/// How to load a model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Threads one run may use inside an operator; 0 = the backend's default (ONNX Runtime: one
    /// per physical core; tract: single-threaded). With several executor threads, give each
    /// `cores / executors` so they do not oversubscribe the CPU.
    pub intra_threads: usize,
    /// ONNX Runtime only: the most sessions (and so concurrent runs) one model keeps; 0 = as
    /// many as threads calling `run` at once. Each session holds its own activations; weights
    /// are shared. Tract runs share one plan and need no limit.
    pub max_sessions: usize,
    /// Whether idle intra-op workers spin between parallel sections; choose by role (see
    /// [`Spinning`]).
    pub spinning: Spinning,
}

/// What one run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutput {
    /// `(name, tensor)` in the model's output order.
    pub outputs: Vec<(String, Tensor)>,
    /// Time spent inside the backend's run call: excludes input checks, input conversion and
    /// output hand-over.
    pub elapsed: Duration,
}

impl RunOutput {
    /// The output called `name`.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.outputs.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
}

/// A backend: turns ONNX bytes into a runnable [`Model`].
pub trait Engine: Send + Sync {
    fn kind(&self) -> EngineKind;

    /// Parses, optimises and prepares `onnx` (a serialized `ModelProto`). Errors, never panics,
    /// on unparsable or truncated bytes and on models the backend cannot run.
    fn load(&self, onnx: &[u8], opts: &LoadOptions) -> Result<Arc<dyn Model>, EngineError>;
}

/// A loaded model, shared by any number of threads.
pub trait Model: Send + Sync {
    fn engine(&self) -> EngineKind;

    /// The inputs a run needs (graph inputs that are not initializers), in model order.
    fn inputs(&self) -> &[IoInfo];

    /// The outputs a run returns, in model order.
    fn outputs(&self) -> &[IoInfo];

    /// Runs on named inputs. Every model input must be given exactly once, with the declared
    /// element type and shape (dynamic dimensions such as the batch may take any size; inputs
    /// sharing a named dimension must agree on it).
    fn run(&self, inputs: &[(&str, TensorRef<'_>)]) -> Result<RunOutput, EngineError>;
}

/// The engine called `kind`, ready to load models. For `ort` this loads ONNX Runtime's library
/// (once per process) and fails with [`EngineError::LibraryNotFound`] if it is not installed.
pub fn engine(kind: EngineKind) -> Result<Box<dyn Engine>, EngineError> {
    match kind {
        EngineKind::Ort => Ok(Box::new(ort_backend::OrtEngine::new()?)),
        EngineKind::Tract => Ok(Box::new(tract_backend::TractEngine)),
    }
}

/// The engine called `kind`, or tract when `kind` is ONNX Runtime and its library cannot be
/// loaded (logged as a warning that says why): for commands that must run on any machine.
pub fn engine_or_tract(kind: EngineKind) -> Result<Box<dyn Engine>, EngineError> {
    match engine(kind) {
        Ok(e) => Ok(e),
        Err(err) if kind == EngineKind::Ort => {
            tracing::warn!("ONNX Runtime unavailable ({err}); using tract");
            engine(EngineKind::Tract)
        }
        Err(err) => Err(err),
    }
}

/// Whether `kind` can be used on this machine; the error says why not (for `ort`, every path
/// searched for the library). Callers fall back from ort to tract on `Err`.
pub fn available(kind: EngineKind) -> Result<(), EngineError> {
    match kind {
        EngineKind::Ort => ort_backend::OrtEngine::new().map(|_| ()),
        EngineKind::Tract => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_kind_round_trips_and_quotes_bad_names() {
        for k in EngineKind::ALL {
            assert_eq!(k.to_string().parse::<EngineKind>().unwrap(), k);
        }
        assert_eq!(" ORT ".parse::<EngineKind>().unwrap(), EngineKind::Ort);
        let err = "onnx".parse::<EngineKind>().unwrap_err().to_string();
        assert!(err.contains("\"onnx\""), "{err}");
    }

    #[test]
    fn spinning_round_trips_and_quotes_bad_values() {
        for s in [Spinning::Off, Spinning::On] {
            assert_eq!(s.to_string().parse::<Spinning>().unwrap(), s);
        }
        assert_eq!(LoadOptions::default().spinning, Spinning::Off);
        let err = "spin".parse::<Spinning>().unwrap_err().to_string();
        assert!(err.contains("\"spin\""), "{err}");
    }

    #[test]
    fn tract_is_always_available() {
        assert!(available(EngineKind::Tract).is_ok());
        assert_eq!(engine(EngineKind::Tract).unwrap().kind(), EngineKind::Tract);
    }
}

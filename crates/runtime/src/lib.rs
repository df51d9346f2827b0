//! The serving runtime of partitioned models, shared by the edge server and the device client.
//!
//! A partitioned inference runs a *head* (model inputs to a cut) on the device and a *tail* (cut
//! to the outputs the head did not compute) on the server; a server merging requests that entered
//! at different cuts also runs *segments* (one cut to a later one). [`PartRunner`] is one such
//! part loaded on an engine; [`PartCache`] keeps loaded parts, keyed by model identity and
//! [`PartSpec`], bounded in bytes (a VGG-19 tail carries a 411 MB layer); [`ModelRuntime`] ties a
//! prepared model, an engine and a cache together. Inputs are borrowed ([`TensorRef`]), so a batch
//! buffer the server decoded into reaches ONNX Runtime without a copy; [`split_rows`] hands each
//! request its rows of a batched output.
//!
//! It knows nothing of networks, codecs or offline harnesses (those live in `loadpart-exec`).
#![forbid(unsafe_code)]

mod cache;
mod error;
mod model_runtime;
mod rows;
mod runner;
mod spec;

pub use cache::{CacheStats, PartCache};
pub use error::RuntimeError;
pub use model_runtime::ModelRuntime;
pub use rows::split_rows;
pub use runner::{PartOutput, PartRunner, part_bytes};
pub use spec::{PartKey, PartSpec};

pub use loadpart_engine::{Tensor, TensorRef};

/// Tensors by name, in a meaningful order (model inputs, cut tensors or outputs).
pub type NamedTensors = Vec<(String, Tensor)>;

/// Borrowed views of named tensors, as runners take them.
pub fn views(tensors: &[(String, Tensor)]) -> Vec<(&str, TensorRef<'_>)> {
    tensors
        .iter()
        .map(|(n, t)| (n.as_str(), t.view()))
        .collect()
}

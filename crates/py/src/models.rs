//! Model utilities: its structure and candidate cuts (`loadpart inspect --json`), and a copy of
//! a model source written to a file (with seeded random weights for checks).

use std::path::PathBuf;

use loadpart_graph::{load_model, randomize_for_checks};
use pyo3::prelude::*;

use crate::convert::to_py_data;
use crate::errors::{caller_error, to_py};

/// The model's structure as a dict, the same as `loadpart inspect --json`: identity, inputs and
/// outputs with their shapes, stages, blocks between articulation tensors and, with `cuts`,
/// every candidate cut (`id` is what `Client.infer(cut=...)` takes).
#[pyfunction]
#[pyo3(signature = (model, *, cuts=true, max_cuts_per_block=10_000))]
pub fn inspect(
    py: Python<'_>,
    model: &str,
    cuts: bool,
    max_cuts_per_block: usize,
) -> PyResult<Py<PyAny>> {
    let m = load_model(model).map_err(to_py)?;
    let report = loadpart_exec::inspect(&m, max_cuts_per_block, cuts).map_err(to_py)?;
    to_py_data(py, &report)
}

/// Writes `model` (path, `zoo:NAME` or light model name) to `path` as an ONNX file; with
/// `randomize_seed`, with seeded random weights and no final Softmax, as `loadpart serve
/// --randomize-seed` serves it (the model-zoo light models ship constant weights). Returns the
/// written model's identity.
#[pyfunction]
#[pyo3(signature = (model, path, *, randomize_seed=None))]
pub fn save_model(model: &str, path: PathBuf, randomize_seed: Option<u64>) -> PyResult<String> {
    let m = load_model(model).map_err(to_py)?;
    let m = match randomize_seed {
        Some(seed) => randomize_for_checks(&m, seed).map_err(to_py)?,
        None => m,
    };
    std::fs::write(&path, m.to_bytes())
        .map_err(|e| caller_error(format!("writing {}: {e}", path.display())))?;
    Ok(m.hash().to_string())
}

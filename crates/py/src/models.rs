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

/// A profile given as a dict (what `loadpart.profile` returns) or a path to its JSON file.
fn profile_arg(
    py: Python<'_>,
    p: &Bound<'_, PyAny>,
    what: &str,
) -> PyResult<loadpart_plan::ModelProfile> {
    let text: String = match p.extract::<PathBuf>() {
        Ok(path) => std::fs::read_to_string(&path)
            .map_err(|e| caller_error(format!("{what} {}: {e}", path.display())))?,
        Err(_) => py.import("json")?.call_method1("dumps", (p,))?.extract()?,
    };
    serde_json::from_str(&text).map_err(|e| caller_error(format!("{what}: not a profile: {e}")))
}

/// Where to cut `model` under given conditions, and why: the same data as `loadpart plan
/// --json` (the cut, its id, the predicted latency by part in ms, the runners-up, how long the
/// decision took). Profiles are dicts from `loadpart.profile` or paths to their JSON files;
/// bandwidths in Mbit/s, times in ms.
#[pyfunction]
#[pyo3(signature = (
    model, *, device_profile, server_profile, bandwidth_mbit, downlink_mbit=None, rtt_ms=5.0,
    queue_ms=0.0, slowdown=1.0, batch=1.0, device_slowdown=1.0, policy="loadpart", top=5,
))]
#[allow(clippy::too_many_arguments)]
pub fn plan(
    py: Python<'_>,
    model: &str,
    device_profile: &Bound<'_, PyAny>,
    server_profile: &Bound<'_, PyAny>,
    bandwidth_mbit: f64,
    downlink_mbit: Option<f64>,
    rtt_ms: f64,
    queue_ms: f64,
    slowdown: f64,
    batch: f64,
    device_slowdown: f64,
    policy: &str,
    top: usize,
) -> PyResult<Py<PyAny>> {
    use loadpart_plan::{Conditions, Estimate, Planner, PlannerOptions, PolicyKind};
    let estimate = Estimate {
        uplink_bytes_per_s: bandwidth_mbit * 1e6 / 8.0,
        downlink_bytes_per_s: downlink_mbit.unwrap_or(bandwidth_mbit) * 1e6 / 8.0,
        rtt_us: rtt_ms * 1e3,
        queue_us: queue_ms * 1e3,
        server_slowdown: slowdown,
        server_batch: batch,
        device_slowdown,
    }
    .checked()
    .map_err(to_py)?;
    let m = load_model(model).map_err(to_py)?;
    let device = profile_arg(py, device_profile, "device_profile")?;
    let server = profile_arg(py, server_profile, "server_profile")?;
    for (p, what) in [(&device, "device_profile"), (&server, "server_profile")] {
        if p.model_hash != m.hash() {
            return Err(crate::errors::ModelError::new_err(format!(
                "{what} was measured on another model (model_hash {}, this model's is {})",
                p.model_hash,
                m.hash()
            )));
        }
    }
    let prepared = loadpart_graph::Prepared::new(&m).map_err(to_py)?;
    let planner = std::sync::Arc::new(
        Planner::new(
            prepared.stages.dag().clone(),
            &device,
            &server,
            PlannerOptions::default(),
        )
        .map_err(to_py)?,
    );
    let policy = policy
        .parse::<PolicyKind>()
        .map_err(to_py)?
        .build(planner.clone())
        .map_err(to_py)?;
    let mut report =
        loadpart_plan::plan_report(&planner, policy.as_ref(), &Conditions::from(estimate), top);
    report.model = model.to_string();
    report.model_hash = m.hash().to_string();
    to_py_data(py, &report)
}

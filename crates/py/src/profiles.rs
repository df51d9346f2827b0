//! Models and profiles as Python sees them: a model source loaded (weights randomized when
//! asked), the engine chosen with a fallback to tract, and profiles from the same on-disk cache
//! as the CLI's (`loadpart_exec::ProfileCache`), measured on first use.

use std::path::PathBuf;
use std::sync::Arc;

use loadpart_engine::{Engine, EngineKind};
use loadpart_exec::{Lookup, ProfileCache, ProfileEffort, ProfileKey};
use loadpart_graph::{Prepared, load_model, randomize_for_checks};
use loadpart_plan::{ModelProfile, ProfileRole};
use pyo3::prelude::*;

use crate::blocking::run_blocking;
use crate::convert::to_py_data;
use crate::errors::{caller_error, to_py};

/// A model loaded from `source` (path, `zoo:NAME` or light model name), weights replaced by
/// seeded random ones when `seed` is given.
pub fn load_prepared(source: &str, seed: Option<u64>) -> PyResult<Arc<Prepared>> {
    let model = load_model(source).map_err(to_py)?;
    let model = match seed {
        Some(s) => randomize_for_checks(&model, s).map_err(to_py)?,
        None => model,
    };
    Ok(Arc::new(Prepared::new(&model).map_err(to_py)?))
}

/// `name` as an engine kind; ONNX Runtime falls back to tract with a Python warning when its
/// library cannot be loaded (a Python user without `onnxruntime` still gets results).
pub fn engine_kind(py: Python<'_>, name: &str) -> PyResult<EngineKind> {
    let kind: EngineKind = name
        .parse()
        .map_err(|e| caller_error(format!("engine {name:?}: {e}")))?;
    if kind == EngineKind::Ort
        && let Err(e) = loadpart_engine::available(kind)
    {
        let warnings = py.import("warnings")?;
        warnings.call_method1(
            "warn",
            (format!(
                "ONNX Runtime unavailable ({e}); using tract, which is slower. Install the \
                 `onnxruntime` package (pip install onnxruntime) or set ORT_DYLIB_PATH."
            ),),
        )?;
        return Ok(EngineKind::Tract);
    }
    Ok(kind)
}

/// The engine for `kind` (already checked by [`engine_kind`]).
pub fn engine(kind: EngineKind) -> PyResult<Arc<dyn Engine>> {
    Ok(Arc::from(loadpart_engine::engine(kind).map_err(to_py)?))
}

/// The profile cache in `dir`, or the usual one.
pub fn cache(dir: Option<PathBuf>) -> ProfileCache {
    match dir {
        Some(d) => ProfileCache::new(d, loadpart_exec::host_name()),
        None => ProfileCache::default_location(),
    }
}

/// The profile for `key` from `cache`, or measured now and cached (blocking; seconds for small
/// models, about a minute for ResNet-50 as a server). A cached file that cannot be used is
/// logged and measured again; one that cannot be written is used all the same.
pub fn cached_or_measured(
    cache: &ProfileCache,
    engine: &dyn Engine,
    prepared: &Prepared,
    key: &ProfileKey,
) -> Result<ModelProfile, loadpart_exec::ExecError> {
    match cache.lookup(engine, prepared, key) {
        Lookup::Hit(p, path) => {
            tracing::info!(path = %path.display(), "reusing the cached profile");
            return Ok(*p);
        }
        Lookup::Miss(_) => {}
        Lookup::Unusable { path, reason } => {
            tracing::warn!(path = %path.display(), "the cached profile {reason}; measuring again");
        }
    }
    tracing::info!(
        role = key.role.as_str(),
        engine = %engine.kind(),
        "measuring a profile of the model (cached for the next use)"
    );
    let measured = cache.measure(engine, prepared, key, &mut |_, _, _| {})?;
    if let Some(why) = measured.not_stored {
        tracing::warn!("the profile could not be cached ({why}); using it now");
    }
    Ok(measured.profile)
}

/// Measures (or reads from the cache) a profile of `model` as a device (`role="device"`: batch
/// 1, `threads` threads) or as a server (`role="server"`: batch sizes up to `max_batch`), and
/// returns it as a dict: the same JSON as `loadpart profile`.
#[pyfunction]
#[pyo3(signature = (model, *, role="device", engine="ort", threads=1, max_batch=8, randomize_seed=None, profile_cache=None))]
#[allow(clippy::too_many_arguments)]
pub fn profile(
    py: Python<'_>,
    model: &str,
    role: &str,
    engine: &str,
    threads: usize,
    max_batch: usize,
    randomize_seed: Option<u64>,
    profile_cache: Option<PathBuf>,
) -> PyResult<Py<PyAny>> {
    let key = match role {
        "device" => ProfileKey {
            threads,
            ..ProfileKey::device()
        },
        "server" => ProfileKey {
            role: ProfileRole::Server,
            batch_sizes: loadpart_exec::server_batch_sizes(max_batch),
            threads,
            spinning: loadpart_engine::Spinning::Off,
            effort: ProfileEffort::Quick,
            ..ProfileKey::device()
        },
        other => {
            return Err(caller_error(format!(
                "role {other:?}: \"device\" or \"server\""
            )));
        }
    };
    let kind = engine_kind(py, engine)?;
    let prepared = load_prepared(model, randomize_seed)?;
    let cache = cache(profile_cache);
    let engine = self::engine(kind)?;
    let p = run_blocking(py, async move {
        tokio::task::spawn_blocking(move || {
            cached_or_measured(&cache, engine.as_ref(), &prepared, &key)
        })
        .await
        .map_err(|e| crate::errors::internal_error(format!("profiling stopped: {e}")))?
        .map_err(to_py)
    })?;
    to_py_data(py, &p)
}

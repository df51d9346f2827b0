//! Plain data to Python: JSON values (what the CLI's `--json` prints) as dicts, lists and
//! numbers, so that Python sees the same data as the command line.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde_json::Value;

/// `v` as the Python object `json.loads` would make of it.
pub fn json_to_py(py: Python<'_>, v: &Value) -> PyResult<Py<PyAny>> {
    Ok(match v {
        Value::Null => py.None(),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any().unbind(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any().unbind(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any().unbind(),
            _ => n
                .as_f64()
                .unwrap_or(f64::NAN)
                .into_pyobject(py)?
                .into_any()
                .unbind(),
        },
        Value::String(s) => s.into_pyobject(py)?.into_any().unbind(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any().unbind()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, item) in map {
                dict.set_item(k, json_to_py(py, item)?)?;
            }
            dict.into_any().unbind()
        }
    })
}

/// A serializable value as Python data.
pub fn to_py_data<T: serde::Serialize>(py: Python<'_>, v: &T) -> PyResult<Py<PyAny>> {
    let value =
        serde_json::to_value(v).map_err(|e| crate::errors::internal_error(e.to_string()))?;
    json_to_py(py, &value)
}

/// The load report as JSON, times in milliseconds (the fields of loadpart.proto's LoadReport,
/// `_us` turned into `_ms`).
pub fn load_report_json(r: &loadpart_proto::loadpart::LoadReport) -> Value {
    let ms = |us: f64| us * 1e-3;
    serde_json::json!({
        "timestamp_unix_ms": r.timestamp_unix_ms,
        "window_s": r.window_s,
        "queue_wait_mean_ms": ms(r.queue_wait_mean_us),
        "queue_wait_p95_ms": ms(r.queue_wait_p95_us),
        "slowdown": r.slowdown,
        "queue_length": r.queue_length,
        "in_flight": r.in_flight,
        "requests_per_s": r.requests_per_s,
        "mean_batch_size": r.mean_batch_size,
        "executors": r.executors,
        "executors_busy": r.executors_busy,
        "utilization": r.utilization,
        "busy_seconds_total": r.busy_seconds_total,
        "backlog_ms": r.backlog_us.map(ms),
        "backlog_mean_ms": r.backlog_mean_us.map(ms),
        "batch_mix": r.batch_mix.iter().map(|b| (b.batch_size.to_string(), Value::from(b.count)))
            .collect::<serde_json::Map<String, Value>>(),
        "forming": r.forming.iter().map(|f| serde_json::json!({
            "model": f.model_name, "cut": f.cut_id, "size": f.size,
        })).collect::<Vec<_>>(),
        "cut_batches": r.cut_batches.iter().map(|c| serde_json::json!({
            "model": c.model_name, "cut": c.cut_id, "requests": c.requests,
            "mean_batch_size": c.mean_batch_size, "queue_wait_mean_ms": ms(c.queue_wait_mean_us),
        })).collect::<Vec<_>>(),
    })
}

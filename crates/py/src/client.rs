//! `loadpart.Client` and `loadpart.Outcome`: a device that offloads to a server, request by
//! request, and says why each request went where it went.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use loadpart_client::{ClientConfig, InferOptions, InferOutcome, Route};
use loadpart_cuts::CutId;
use loadpart_engine::LoadOptions;
use loadpart_exec::ProfileKey;
use loadpart_graph::Prepared;
use loadpart_plan::PolicyKind;
use loadpart_runtime::{ModelRuntime, PartCache};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays;
use crate::blocking::run_blocking;
use crate::convert::json_to_py;
use crate::errors::{caller_error, internal_error, to_py};
use crate::profiles;

/// Bytes of model parts the device keeps loaded.
const DEVICE_PART_CACHE_BYTES: usize = 1 << 30;

/// A device's client for one model on one server.
///
/// It runs the same model file as the server (same weights: the identity is checked), measures
/// its own profile on first use (cached on disk), and keeps bandwidth, round-trip time and the
/// server's load estimated in the background. Each `infer` picks the cut with the least
/// predicted latency, runs the head here, sends the cut tensors (8-bit, compressed when that
/// pays) and merges the outputs; whatever the server does, the outputs come back (a failed
/// offload finishes on this device, and `Outcome.route` says so).
#[pyclass(module = "loadpart._loadpart", frozen, subclass)]
pub struct Client {
    inner: Arc<loadpart_client::Client>,
    prepared: Arc<Prepared>,
    policy: PolicyKind,
}

fn parse_policy(name: &str) -> PyResult<PolicyKind> {
    name.parse().map_err(to_py)
}

/// "host:port" or a URL, as a URL.
fn server_url(server: &str) -> String {
    if server.contains("://") {
        server.to_string()
    } else {
        format!("http://{server}")
    }
}

#[pymethods]
impl Client {
    #[new]
    #[pyo3(signature = (
        server, model, *, name=None, policy="loadpart", device_slowdown=None, engine="ort",
        threads=1, randomize_seed=None, token=None, tls_ca=None, tls_domain=None,
        device_name=None, deadline_factor=2.0, hysteresis=0.0, profile_cache=None,
        wait_for_estimates_s=3.0,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        server: &Bound<'_, PyAny>,
        model: &str,
        name: Option<String>,
        policy: &str,
        device_slowdown: Option<f64>,
        engine: &str,
        threads: usize,
        randomize_seed: Option<u64>,
        token: Option<String>,
        tls_ca: Option<PathBuf>,
        tls_domain: Option<String>,
        device_name: Option<String>,
        deadline_factor: f64,
        hysteresis: f64,
        profile_cache: Option<PathBuf>,
        wait_for_estimates_s: f64,
    ) -> PyResult<Self> {
        // A Server object or its address.
        let server: String = match server.getattr("url") {
            Ok(url) => url.extract()?,
            Err(_) => server
                .extract::<String>()
                .map(|s| server_url(&s))
                .map_err(|_| caller_error("server: a loadpart.Server or \"host:port\""))?,
        };
        let policy = parse_policy(policy)?;
        let slowdown = device_slowdown.unwrap_or(1.0);
        if !(slowdown.is_finite() && slowdown >= 1.0) {
            return Err(caller_error(format!(
                "device_slowdown {slowdown}: at least 1 (how many times slower than this machine the device is)"
            )));
        }
        if !(wait_for_estimates_s.is_finite() && wait_for_estimates_s >= 0.0) {
            return Err(caller_error("wait_for_estimates_s: seconds, at least 0"));
        }
        let kind = profiles::engine_kind(py, engine)?;
        let prepared = profiles::load_prepared(model, randomize_seed)?;
        let engine = profiles::engine(kind)?;
        let mut config = ClientConfig::new(
            server,
            name.unwrap_or_else(|| loadpart_graph::model_name(model)),
        );
        config.policy = policy.clone();
        config.device_slowdown = slowdown;
        config.deadline_factor = deadline_factor;
        config.hysteresis = hysteresis;
        config.device_name = device_name.unwrap_or_default();
        config.access = loadpart_client::Access {
            tls_ca,
            tls_domain,
            token: token
                .as_deref()
                .map(loadpart_client::Token::new)
                .transpose()
                .map_err(to_py)?,
            device: None,
        };
        let cache = profiles::cache(profile_cache);
        let (p, e) = (prepared.clone(), engine.clone());
        let inner = run_blocking(py, async move {
            let key = ProfileKey {
                threads,
                ..ProfileKey::device()
            };
            let device_profile = {
                let (p, e) = (p.clone(), e.clone());
                tokio::task::spawn_blocking(move || {
                    profiles::cached_or_measured(&cache, e.as_ref(), &p, &key)
                })
                .await
                .map_err(|e| internal_error(format!("profiling stopped: {e}")))?
                .map_err(to_py)?
            };
            let runtime = Arc::new(ModelRuntime::new(
                e,
                p,
                Arc::new(PartCache::new(DEVICE_PART_CACHE_BYTES)),
                LoadOptions {
                    intra_threads: threads,
                    ..LoadOptions::default()
                },
            ));
            let client = loadpart_client::Client::connect(config, runtime, device_profile, None)
                .await
                .map_err(to_py)?;
            if !client.server_has_no_profile() {
                client
                    .wait_for_estimates(Duration::from_secs_f64(wait_for_estimates_s))
                    .await;
            }
            Ok(client)
        })?;
        Ok(Self {
            inner: Arc::new(inner),
            prepared,
            policy,
        })
    }

    /// Runs one inference on `x` (an array for a one-input model, else a dict of arrays by input
    /// name; batch 1 or more, any dtype NumPy can cast). `cut` forces a cut by its id (tensor
    /// names joined by ","), `policy` overrides the client's for this call. Returns an
    /// `Outcome`; raises only for what the device itself cannot do (bad input, unknown cut).
    #[pyo3(signature = (x, *, cut=None, policy=None))]
    fn infer(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        cut: Option<&str>,
        policy: Option<&str>,
    ) -> PyResult<Outcome> {
        let inputs = arrays::inputs(&self.prepared.model, x)?;
        let opts = InferOptions {
            policy: policy.map(parse_policy).transpose()?,
            cut: cut.map(CutId::parse).transpose().map_err(to_py)?,
            ..InferOptions::default()
        };
        let client = self.inner.clone();
        let outcome = run_blocking(py, async move {
            client.infer(inputs, &opts).await.map_err(to_py)
        })?;
        Outcome::new(py, outcome)
    }

    /// What the client believes now: bandwidth each way (Mbit/s), round-trip time, the server's
    /// queue wait (ms), slowdown and batch, as the planner is told.
    fn estimates(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let e = self.inner.estimate();
        let d = PyDict::new(py);
        d.set_item("uplink_mbit_s", e.uplink_bytes_per_s * 8e-6)?;
        d.set_item("downlink_mbit_s", e.downlink_bytes_per_s * 8e-6)?;
        d.set_item("rtt_ms", e.rtt_us * 1e-3)?;
        d.set_item("queue_ms", e.queue_us * 1e-3)?;
        d.set_item("server_slowdown", e.server_slowdown)?;
        d.set_item("server_batch", e.server_batch)?;
        d.set_item("device_slowdown", e.device_slowdown)?;
        Ok(d.into_any().unbind())
    }

    /// Counts so far: local (by plan), local_only (server not usable), offloaded, fallbacks,
    /// overloaded (refusals for load among the fallbacks), breaker_opened.
    fn stats(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("local", s.local)?;
        d.set_item("local_only", s.local_only)?;
        d.set_item("offloaded", s.offloaded)?;
        d.set_item("fallbacks", s.fallbacks)?;
        d.set_item("overloaded", s.overloaded)?;
        d.set_item("breaker_opened", s.breaker_opened)?;
        Ok(d.into_any().unbind())
    }

    /// The model's input names, in order.
    #[getter]
    fn inputs(&self) -> Vec<String> {
        self.prepared.model.inputs().to_vec()
    }

    /// The model's output names, in order.
    #[getter]
    fn outputs(&self) -> Vec<String> {
        self.prepared.model.outputs().to_vec()
    }

    /// The model's identity (a hash of its graph and weights; the server's must match).
    #[getter]
    fn identity(&self) -> String {
        self.prepared.identity().to_string()
    }

    /// The policy `infer` uses unless told otherwise.
    #[getter]
    fn policy(&self) -> String {
        self.policy.to_string()
    }

    fn __repr__(&self) -> String {
        let c = self.inner.config();
        format!(
            "Client(server={:?}, model={:?}, policy={:?})",
            c.server,
            c.model,
            self.policy.to_string()
        )
    }
}

/// What one inference returned and why it went where it went.
#[pyclass(module = "loadpart._loadpart", frozen, get_all)]
pub struct Outcome {
    /// The model's outputs by name (NumPy arrays).
    outputs: Py<PyDict>,
    /// The cut's id: tensor names joined by ","; the model's inputs for full offload.
    cut: String,
    /// "local" (planned), "local_only" (offloading not possible now), "offloaded" or
    /// "fallback" (the server failed; this device finished).
    route: String,
    /// Why a request ran locally without trying, or why its offload failed; None otherwise.
    reason: Option<String>,
    /// The policy that decided.
    policy: String,
    /// Fraction of the model that ran on the device.
    head_fraction: f64,
    /// Predicted latency by part, ms: device, encode, upload, rtt, queue, server, decode,
    /// download, risk, total.
    predicted: Py<PyAny>,
    /// Measured latency by part, ms: device, encode, network, queue, server, fallback, total
    /// (queue and server as the server reported them; None when it did not answer).
    measured: Py<PyAny>,
    /// What the planner was told (bandwidth, RTT, load), as `Client.estimates()`.
    estimate: Py<PyAny>,
    /// Payload bytes sent to the server.
    sent_bytes: u64,
    /// Output bytes received from it.
    received_bytes: u64,
}

impl Outcome {
    fn new(py: Python<'_>, o: InferOutcome) -> PyResult<Self> {
        let (route, reason) = match &o.route {
            Route::Local => ("local", None),
            Route::LocalOnly { why } => (
                "local_only",
                serde_json::to_value(why)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from)),
            ),
            Route::Offloaded => ("offloaded", None),
            Route::Fallback { why } => ("fallback", Some(why.to_string())),
        };
        let p = o.predicted.scaled(1e-3);
        let predicted = serde_json::json!({
            "device": p.device, "encode": p.encode, "upload": p.upload, "rtt": p.rtt,
            "queue": p.queue, "server": p.server, "decode": p.decode, "download": p.download,
            "risk": p.risk, "total": p.total(),
        });
        let m = &o.measured;
        let measured = serde_json::json!({
            "device": m.device_us * 1e-3,
            "encode": m.encode_us * 1e-3,
            "network": m.network_us * 1e-3,
            "queue": m.server.map(|s| (s.part_us + s.queue_us) * 1e-3),
            "server": m.server.map(|s| (s.decode_us + s.compute_us) * 1e-3),
            "server_batch": m.server.map(|s| s.batch_size),
            "fallback": m.fallback_us * 1e-3,
            "total": m.total_us * 1e-3,
        });
        let e = &o.estimate;
        let estimate = serde_json::json!({
            "uplink_mbit_s": e.uplink_bytes_per_s * 8e-6,
            "downlink_mbit_s": e.downlink_bytes_per_s * 8e-6,
            "rtt_ms": e.rtt_us * 1e-3,
            "queue_ms": e.queue_us * 1e-3,
            "server_slowdown": e.server_slowdown,
            "server_batch": e.server_batch,
            "device_slowdown": e.device_slowdown,
        });
        Ok(Self {
            cut: o.cut.to_string(),
            route: route.to_string(),
            reason,
            policy: o.policy.clone(),
            head_fraction: o.head_fraction,
            predicted: json_to_py(py, &predicted)?,
            measured: json_to_py(py, &measured)?,
            estimate: json_to_py(py, &estimate)?,
            sent_bytes: o.sent_bytes,
            received_bytes: o.received_bytes,
            outputs: arrays::to_dict(py, o.outputs)?,
        })
    }
}

#[pymethods]
impl Outcome {
    /// The only output's array, for a one-output model (else a ValueError naming the outputs).
    #[getter]
    fn output(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = self.outputs.bind(py);
        if d.len() != 1 {
            let names: Vec<String> = d.keys().extract()?;
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "the model has {} outputs ({names:?}): use .outputs[name]",
                d.len()
            )));
        }
        Ok(d.values().get_item(0)?.unbind())
    }

    /// Whether the server computed the result.
    #[getter]
    fn offloaded(&self) -> bool {
        self.route == "offloaded"
    }

    /// The outcome without the outputs, as a dict (for logs and tables).
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        d.set_item("cut", &self.cut)?;
        d.set_item("route", &self.route)?;
        d.set_item("reason", &self.reason)?;
        d.set_item("policy", &self.policy)?;
        d.set_item("head_fraction", self.head_fraction)?;
        d.set_item("predicted", self.predicted.bind(py))?;
        d.set_item("measured", self.measured.bind(py))?;
        d.set_item("estimate", self.estimate.bind(py))?;
        d.set_item("sent_bytes", self.sent_bytes)?;
        d.set_item("received_bytes", self.received_bytes)?;
        Ok(d.into_any().unbind())
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let total = self
            .measured
            .bind(py)
            .get_item("total")
            .and_then(|t| t.extract::<f64>())
            .unwrap_or(f64::NAN);
        format!(
            "Outcome(cut={:?}, route={:?}, policy={:?}, total_ms={total:.2})",
            self.cut, self.route, self.policy
        )
    }
}

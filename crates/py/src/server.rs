//! `loadpart.Server`: the edge server of `loadpart serve`, started inside the Python process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use loadpart_engine::Spinning;
use loadpart_exec::{ProfileEffort, ProfileKey};
use loadpart_plan::ProfileRole;
use loadpart_server::{ModelSpec, ProfileSource, RunningServer, ServerConfig, TlsFiles, WarmCuts};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::blocking::{run_blocking, runtime};
use crate::convert::json_to_py;
use crate::errors::{caller_error, internal_error, to_py};
use crate::profiles;

/// An edge server serving ONNX models over gRPC, in this process: the Open Inference Protocol
/// (KServe v2: tritonclient and other standard clients run whole-model inference), partitioned
/// requests from loadpart devices, the load report, health and Prometheus metrics.
///
/// Takes the same settings as `loadpart serve` (see `loadpart serve --help`). Before it starts
/// it measures a server profile of each model (cached on disk: only the first start pays) so
/// that devices can plan their cuts. Use it as a context manager, or call `stop()`.
#[pyclass(module = "loadpart._loadpart", frozen)]
pub struct Server {
    running: Mutex<Option<RunningServer>>,
    addr: SocketAddr,
    metrics: Option<SocketAddr>,
    models: Vec<String>,
    stopped: tokio::sync::watch::Sender<bool>,
}

#[pymethods]
impl Server {
    #[new]
    #[pyo3(signature = (
        model, listen="127.0.0.1:0", *, engine="ort", auto_profile=true, profile_cache=None,
        max_batch=8, max_delay_us=0, admission=true, max_queue=256, default_timeout_ms=10_000,
        load_window_ms=3_000, executors=1, threads=0, spinning=false, warm_cuts="none",
        randomize_seed=None, tls_cert=None, tls_key=None, tokens=None, insecure_listen=false,
        metrics_listen=None, fair_share=true,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        model: &Bound<'_, PyAny>,
        listen: &str,
        engine: &str,
        auto_profile: bool,
        profile_cache: Option<PathBuf>,
        max_batch: usize,
        max_delay_us: u64,
        admission: bool,
        max_queue: usize,
        default_timeout_ms: u64,
        load_window_ms: u64,
        executors: usize,
        threads: usize,
        spinning: bool,
        warm_cuts: &str,
        randomize_seed: Option<u64>,
        tls_cert: Option<PathBuf>,
        tls_key: Option<PathBuf>,
        tokens: Option<PathBuf>,
        insecure_listen: bool,
        metrics_listen: Option<&str>,
        fair_share: bool,
    ) -> PyResult<Self> {
        let sources: Vec<String> = match model.extract::<String>() {
            Ok(one) => vec![one],
            Err(_) => model.extract().map_err(|_| {
                caller_error(
                    "model: a model (path, zoo:NAME or light model name) or a list of them",
                )
            })?,
        };
        let listen: SocketAddr = listen
            .parse()
            .map_err(|e| caller_error(format!("listen {listen:?}: {e} (host:port)")))?;
        let metrics_listen = metrics_listen
            .map(|m| m.parse::<SocketAddr>())
            .transpose()
            .map_err(|e| caller_error(format!("metrics_listen: {e} (host:port)")))?;
        let warm: WarmCuts = warm_cuts.parse().map_err(to_py)?;
        let tls = match (tls_cert, tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => return Err(caller_error("tls_cert and tls_key go together")),
        };
        let engine = profiles::engine_kind(py, engine)?;
        let spinning = if spinning {
            Spinning::On
        } else {
            Spinning::Off
        };
        let mut config = ServerConfig {
            listen,
            metrics_listen,
            models: sources
                .iter()
                .map(|s| ModelSpec {
                    randomize_seed,
                    warm_cuts: warm.clone(),
                    ..ModelSpec::new(s.clone())
                })
                .collect(),
            engine,
            max_batch_rows: max_batch,
            max_queue_delay: Duration::from_micros(max_delay_us),
            max_queue_len: max_queue,
            admission,
            executors,
            intra_threads: threads,
            spinning,
            load_window: Duration::from_millis(load_window_ms),
            default_timeout: Duration::from_millis(default_timeout_ms),
            tls,
            tokens,
            insecure_listen,
            ..ServerConfig::default()
        };
        config.fair_share.enabled = fair_share;
        config.validate().map_err(to_py)?;
        if auto_profile {
            let key = ProfileKey {
                role: ProfileRole::Server,
                batch_sizes: loadpart_exec::server_batch_sizes(max_batch),
                threads,
                spinning,
                effort: ProfileEffort::Quick,
                ..ProfileKey::device()
            };
            let cache = profiles::cache(profile_cache);
            let engine = profiles::engine(engine)?;
            for spec in &mut config.models {
                let prepared = profiles::load_prepared(&spec.source, spec.randomize_seed)?;
                let (key, cache, engine) = (key.clone(), cache.clone(), engine.clone());
                let p = run_blocking(py, async move {
                    tokio::task::spawn_blocking(move || {
                        profiles::cached_or_measured(&cache, engine.as_ref(), &prepared, &key)
                    })
                    .await
                    .map_err(|e| internal_error(format!("profiling stopped: {e}")))?
                    .map_err(to_py)
                })?;
                spec.profile = Some(ProfileSource::Measured(Arc::new(p)));
            }
        }
        let running = run_blocking(py, async move {
            loadpart_server::Server::start(config).await.map_err(to_py)
        })?;
        let models = running.models().iter().map(|m| m.name.clone()).collect();
        Ok(Self {
            addr: running.addr(),
            metrics: running.metrics_addr(),
            running: Mutex::new(Some(running)),
            models,
            stopped: tokio::sync::watch::channel(false).0,
        })
    }

    /// "host:port" the server listens on (the real port when started with port 0).
    #[getter]
    fn address(&self) -> String {
        self.addr.to_string()
    }

    /// The URL devices connect to: "http://host:port" (TLS is negotiated when configured).
    #[getter]
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// "host:port" of the Prometheus endpoint (GET /metrics), or None.
    #[getter]
    fn metrics_address(&self) -> Option<String> {
        self.metrics.map(|m| m.to_string())
    }

    /// The names clients use for the served models.
    #[getter]
    fn models<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, &self.models)
    }

    /// Whether the server is still serving.
    #[getter]
    fn running(&self) -> bool {
        self.running.lock().is_some()
    }

    /// The load report devices plan with (GetLoad's answer), as a dict: queue wait, slowdown,
    /// queue length, requests in flight, batch mix, backlog. For `model`, or server-wide.
    #[pyo3(signature = (model=None))]
    fn load(&self, py: Python<'_>, model: Option<&str>) -> PyResult<Py<PyAny>> {
        let guard = self.running.lock();
        let running = guard
            .as_ref()
            .ok_or_else(|| caller_error("the server is stopped"))?;
        let report = running.load_report(model).ok_or_else(|| {
            caller_error(format!("no model {model:?}; serving {:?}", self.models))
        })?;
        json_to_py(py, &crate::convert::load_report_json(&report))
    }

    /// Blocks until `stop()` is called (from another thread) or Ctrl-C, which raises
    /// KeyboardInterrupt and leaves the server running: stop it, or leave the `with` block.
    fn wait(&self, py: Python<'_>) -> PyResult<()> {
        let mut rx = self.stopped.subscribe();
        run_blocking(py, async move {
            let _ = rx.wait_for(|stopped| *stopped).await;
            Ok(())
        })
    }

    /// Stops accepting requests, answers those in flight, and releases the port. Idempotent.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let Some(running) = self.running.lock().take() else {
            return Ok(());
        };
        let r = run_blocking(py, async move { running.shutdown().await.map_err(to_py) });
        self.stopped.send_replace(true);
        r
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _ty: Option<&Bound<'_, PyAny>>,
        _value: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.stop(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "Server(models={:?}, address={:?}, running={})",
            self.models,
            self.addr.to_string(),
            self.running.lock().is_some()
        )
    }
}

impl Drop for Server {
    /// A server dropped without `stop()` (garbage collected, interpreter exit) is shut down on
    /// the runtime's threads, so that its port and threads are released.
    fn drop(&mut self) {
        if let Some(running) = self.running.lock().take()
            && let Ok(rt) = runtime()
        {
            rt.spawn(async move {
                let _ = running.shutdown().await;
            });
        }
    }
}

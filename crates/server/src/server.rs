//! [`ServerConfig`] and [`Server::start`]: load the models, start the executors and the
//! scheduler, bind, serve; [`RunningServer::shutdown`] drains and stops every thread.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use loadpart_codec::DecodeLimits;
use loadpart_engine::{EngineKind, LoadOptions, Spinning};
use loadpart_proto::DEFAULT_MAX_MESSAGE_BYTES;
use loadpart_proto::inference::grpc_inference_service_server::GrpcInferenceServiceServer;
use loadpart_proto::loadpart::loadpart_server::LoadpartServer;
use loadpart_runtime::PartCache;
use tokio::sync::{oneshot, watch};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, ServerTlsConfig};

use crate::auth::{Authenticator, Tokens};
use crate::batcher::BatchLimits;
use crate::error::ServerError;
use crate::monitor::Monitor;
use crate::registry::{ModelSpec, Registry, ServedModel};
use crate::service::Shared;
use crate::service::inference::InferenceService;
use crate::service::loadpart::LoadpartService;
use crate::{executor, scheduler};

/// Everything the server needs to start; plain data, validated by [`Server::start`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free one (see [`RunningServer::addr`]).
    pub listen: SocketAddr,
    /// Address of the Prometheus metrics endpoint (`GET /metrics`, plain HTTP); `None` for none.
    /// Keep it on loopback or a private network: it tells anyone who asks how busy the server
    /// is.
    pub metrics_listen: Option<SocketAddr>,
    /// Models to serve, at least one.
    pub models: Vec<ModelSpec>,
    /// Engine that runs the models.
    pub engine: EngineKind,
    /// An engine of the embedding application's own, used instead of `engine`'s built-in one
    /// (another backend, or a test's engine that fails on purpose).
    pub custom_engine: Option<CustomEngine>,
    /// Most rows in one batch (Triton's `max_batch_size`).
    pub max_batch_rows: usize,
    /// How long a batch that is not full may wait for more requests; 0 runs at once whenever an
    /// executor is idle (Triton's `max_queue_delay_microseconds`).
    pub max_queue_delay: Duration,
    /// Most requests waiting; more are refused with RESOURCE_EXHAUSTED.
    pub max_queue_len: usize,
    /// Admission control: refuse at once (RESOURCE_EXHAUSTED) a request predicted to finish
    /// after its deadline. Off, the server is a plain FCFS dynamic batcher: requests wait in
    /// the bounded queue until run or past their deadline (for experiments that compare with
    /// servers without admission control). Default on.
    pub admission: bool,
    /// Staircase merging: a batch with room takes in batches of the same model waiting at
    /// earlier, nesting cuts, run forward through segments to its cut, so the rest of the model
    /// runs once at a larger batch size.
    pub staircase: bool,
    /// Executor threads (batches run side by side). On a small machine 1, with
    /// `intra_threads` 0 letting the engine use every core for one batch.
    pub executors: usize,
    /// Threads one run uses inside an operator; 0 = the engine's default.
    pub intra_threads: usize,
    /// Whether the engine's idle intra-op workers spin between parallel sections. Off by default
    /// for a server embedded in another process (tests, the demo), whose cores it shares;
    /// `loadpart serve` turns it on (its executors run batches back to back on cores the server
    /// owns) unless `--spinning off`. With spinning on, the admission and overload tests failed
    /// on 2 cores shared with their own load generators.
    pub spinning: Spinning,
    /// Largest gRPC message, decoded or encoded, bytes; checked by the transport before the
    /// message is allocated.
    pub max_message_bytes: usize,
    /// What an encoded cut tensor may declare.
    pub decode_limits: DecodeLimits,
    /// Byte budget of the part cache (loaded tails, full models).
    pub part_cache_bytes: usize,
    /// Most parts built at once for cold cuts and staircase segments (each on a blocking thread,
    /// beside the executors); more requests for other cold cuts wait their turn.
    pub part_builds: usize,
    /// Span of the load report's sliding window; also how long a measured batch time keeps
    /// predicting for admission. Default 3 s: long enough for dozens of batches, short enough
    /// that a burst (a closed-loop capacity probe, a warm-up) stops skewing clients' plans
    /// within seconds of its end.
    pub load_window: Duration,
    /// Deadline of a request that sets none, or a later one (gRPC timeout, `timeout`
    /// parameter): its answer is refused at arrival or dropped from the queue after this.
    pub default_timeout: Duration,
    /// TLS on the gRPC listener (rustls): the server's certificate chain and key, PEM files.
    /// `None` serves plaintext, on a loopback address only unless `insecure_listen`.
    pub tls: Option<TlsFiles>,
    /// Device tokens (`NAME TOKEN` lines, see [`crate::auth`]): every call of the inference and
    /// loadpart services must carry `authorization: Bearer TOKEN`. `None` checks nothing.
    pub tokens: Option<PathBuf>,
    /// Allow plaintext on a non-loopback address (logged as a warning).
    pub insecure_listen: bool,
    /// Most ProbeDownload payload the server sends, bytes per second over all clients (a burst
    /// of one second's worth, at least one largest probe): more is refused with
    /// RESOURCE_EXHAUSTED, so that small requests cannot make the server send without bound.
    pub probe_bytes_per_s: u64,
    /// Per-device limits on queued requests and admitted rate (see [`crate::fair_share`]).
    pub fair_share: crate::fair_share::FairShareConfig,
}

/// An engine supplied by the embedding application ([`ServerConfig::custom_engine`]).
#[derive(Clone)]
pub struct CustomEngine(pub Arc<dyn loadpart_engine::Engine>);

impl std::fmt::Debug for CustomEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CustomEngine({})", self.0.kind())
    }
}

/// The server's certificate chain and private key, PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// Reads both files into tonic's identity.
    fn identity(&self) -> Result<Identity, ServerError> {
        let read = |what: &str, p: &PathBuf| {
            std::fs::read(p).map_err(|e| {
                ServerError::Config(format!("reading the TLS {what} {}: {e}", p.display()))
            })
        };
        Ok(Identity::from_pem(
            read("certificate", &self.cert)?,
            read("key", &self.key)?,
        ))
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8001)),
            metrics_listen: None,
            models: Vec::new(),
            engine: EngineKind::Ort,
            custom_engine: None,
            max_batch_rows: 8,
            max_queue_delay: Duration::ZERO,
            max_queue_len: 256,
            admission: true,
            staircase: false,
            executors: 1,
            intra_threads: 0,
            spinning: Spinning::Off,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            decode_limits: DecodeLimits::default(),
            part_cache_bytes: 2 << 30,
            part_builds: 2,
            load_window: Duration::from_secs(3),
            default_timeout: Duration::from_secs(10),
            tls: None,
            tokens: None,
            insecure_listen: false,
            probe_bytes_per_s: crate::service::loadpart::DEFAULT_PROBE_BYTES_PER_S,
            fair_share: crate::fair_share::FairShareConfig::default(),
        }
    }
}

impl ServerConfig {
    /// Refuses values that cannot work, before anything is loaded or bound.
    pub fn validate(&self) -> Result<(), ServerError> {
        let bad = |m: &str| Err(ServerError::Config(m.to_string()));
        if self.models.is_empty() {
            return bad("no model to serve");
        }
        if self.executors == 0 {
            return bad("executors must be at least 1");
        }
        if self.max_batch_rows == 0 || self.max_queue_len == 0 {
            return bad("max_batch_rows and max_queue_len must be at least 1");
        }
        if self.max_message_bytes < 1024 {
            return bad("max_message_bytes must be at least 1024");
        }
        if self.load_window.is_zero() {
            return bad("load_window must be positive");
        }
        if self.default_timeout.is_zero() {
            return bad("default_timeout must be positive");
        }
        if self.probe_bytes_per_s == 0 {
            return bad("probe_bytes_per_s must be positive");
        }
        if let Some(problem) = self.fair_share.problem() {
            return Err(ServerError::Config(problem));
        }
        if self.tls.is_none() && !self.listen.ip().is_loopback() && !self.insecure_listen {
            return Err(ServerError::Config(format!(
                "refusing to serve plaintext on {}, a non-loopback address: give a TLS \
                 certificate and key, listen on loopback, or allow it explicitly \
                 (insecure_listen, --insecure-listen)",
                self.listen
            )));
        }
        Ok(())
    }
}

/// The server's entry point.
#[derive(Debug)]
pub struct Server;

/// A started server. Drop without [`RunningServer::shutdown`] aborts nothing gracefully: call it.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    tokens: Option<Arc<Tokens>>,
    metrics_addr: Option<SocketAddr>,
    metrics: Option<tokio::task::JoinHandle<()>>,
    stop: Option<oneshot::Sender<()>>,
    stopping: watch::Sender<bool>,
    serve: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    actor: tokio::task::JoinHandle<()>,
    executors: Vec<std::thread::JoinHandle<()>>,
    models: Vec<Arc<ServedModel>>,
    monitor: Arc<Monitor>,
}

impl Server {
    /// Loads every model (on a blocking thread), starts executors and scheduler, binds
    /// `config.listen` with TCP_NODELAY and serves the inference, loadpart and health services.
    /// Must run inside a multi-threaded tokio runtime.
    pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
        config.validate()?;
        // Files first: a bad certificate or token file must fail before minutes of loading.
        let tls = match &config.tls {
            Some(files) => Some(ServerTlsConfig::new().identity(files.identity()?)),
            None => None,
        };
        let tokens = match &config.tokens {
            Some(path) => Some(Arc::new(
                Tokens::load(path).map_err(|e| ServerError::Config(e.to_string()))?,
            )),
            None => None,
        };
        let cfg = config.clone();
        let (registry, engine) = tokio::task::spawn_blocking(move || load_models(&cfg))
            .await
            .map_err(|e| ServerError::Config(format!("model loading panicked: {e}")))??;
        let names = registry.names();
        let monitor = Arc::new(Monitor::new(
            &names,
            config.load_window,
            config.executors,
            config.max_batch_rows,
        )?);

        let (work_tx, work_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = tokio::sync::mpsc::unbounded_channel();
        let executors = executor::spawn(
            config.executors,
            work_rx,
            done_tx,
            monitor.clone(),
            config.decode_limits,
        )?;
        let limits = BatchLimits {
            max_batch_rows: config.max_batch_rows,
            max_queue_delay: config.max_queue_delay,
            max_queue_len: config.max_queue_len,
        };
        let sched = scheduler::SchedConfig {
            limits,
            executors: config.executors,
            stale_after: config.load_window,
            staircase: config.staircase,
            admission: config.admission,
        };
        let builds = crate::parts::Builds::new(config.part_builds);
        let (scheduler, actor) =
            scheduler::spawn(sched, work_tx, done_rx, monitor.clone(), builds.clone())?;

        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));

        let (stopping, stopping_rx) = watch::channel(false);
        let (metrics_addr, metrics) = match config.metrics_listen {
            None => (None, None),
            Some(at) => {
                let l = tokio::net::TcpListener::bind(at).await?;
                let a = l.local_addr()?;
                let task = tokio::spawn(crate::metrics_http::serve(
                    l,
                    monitor.clone(),
                    stopping_rx.clone(),
                ));
                tracing::info!(addr = %a, "metrics at http://{a}/metrics");
                (Some(a), Some(task))
            }
        };
        let models = registry.models().to_vec();
        let fair = Arc::new(crate::fair_share::gate::Gate::new(
            config.fair_share.clone(),
            config.max_queue_len,
            monitor.clone(),
        ));
        let unauthenticated = monitor.metrics.unauthenticated_counter();
        let report = monitor.clone();
        let shared = Arc::new(Shared {
            fair,
            registry,
            scheduler,
            monitor,
            limits: config.decode_limits,
            max_message_bytes: config.max_message_bytes,
            engine,
            intra_threads: config.intra_threads,
            default_timeout: config.default_timeout,
            builds,
            stopping: stopping_rx,
            probe_budget: parking_lot::Mutex::new(crate::service::loadpart::ByteBudget::new(
                config.probe_bytes_per_s,
                config
                    .probe_bytes_per_s
                    .max(crate::service::loadpart::MAX_PROBE_DOWNLOAD_BYTES),
                std::time::Instant::now(),
            )),
        });
        let n = config.max_message_bytes;
        let inference = crate::service::early::FairShareFirst::new(
            GrpcInferenceServiceServer::new(InferenceService {
                shared: shared.clone(),
            })
            .max_decoding_message_size(n)
            .max_encoding_message_size(n),
            shared.clone(),
        );
        let loadpart = LoadpartServer::new(LoadpartService { shared })
            .max_decoding_message_size(n)
            .max_encoding_message_size(n);
        // Health stays open (load balancers probe it; it tells only "serving").
        let auth = Authenticator::new(tokens.clone()).counting(unauthenticated);
        let inference = InterceptedService::new(inference, auth.clone());
        let loadpart = InterceptedService::new(loadpart, auth);
        let (health_reporter, health) = tonic_health::server::health_reporter();
        health_reporter
            .set_serving::<GrpcInferenceServiceServer<InferenceService>>()
            .await;
        health_reporter
            .set_serving::<LoadpartServer<LoadpartService>>()
            .await;

        let (stop, stop_rx) = oneshot::channel::<()>();
        let mut builder = tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .initial_stream_window_size(Some(4 << 20))
            .initial_connection_window_size(Some(16 << 20))
            .max_frame_size(Some(256 << 10));
        match tls {
            Some(tls) => {
                builder = builder
                    .tls_config(tls)
                    .map_err(|e| ServerError::Config(format!("TLS: {e}")))?;
            }
            None if addr.ip().is_loopback() => {
                tracing::info!(%addr, "plaintext gRPC (no TLS): loopback only");
            }
            None => {
                tracing::warn!(
                    %addr,
                    "plaintext gRPC (no TLS) on a non-loopback address: anyone on the network \
                     can read and alter requests"
                );
            }
        }
        match &tokens {
            Some(t) => tracing::info!(
                file = %t.path().display(),
                devices = t.current().len(),
                "device tokens required"
            ),
            None => tracing::info!("no device tokens: any client may call"),
        }
        let router = builder
            .add_service(health)
            .add_service(inference)
            .add_service(loadpart);
        let serve = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async move {
            let _ = stop_rx.await;
        }));
        tracing::info!(%addr, tls = config.tls.is_some(), models = ?names_of(&models), "serving");
        Ok(RunningServer {
            addr,
            tokens,
            metrics_addr,
            metrics,
            stop: Some(stop),
            stopping,
            serve,
            actor,
            executors,
            models,
            monitor: report,
        })
    }
}

fn names_of(models: &[Arc<ServedModel>]) -> Vec<&str> {
    models.iter().map(|m| m.name.as_str()).collect()
}

/// Loads every configured model on one engine and one shared part cache.
fn load_models(config: &ServerConfig) -> Result<(Registry, &'static str), ServerError> {
    let engine: Arc<dyn loadpart_engine::Engine> = match &config.custom_engine {
        Some(CustomEngine(e)) => e.clone(),
        None => Arc::from(
            loadpart_engine::engine(config.engine)
                .map_err(|e| ServerError::Config(format!("engine {}: {e}", config.engine)))?,
        ),
    };
    let cache = Arc::new(PartCache::new(config.part_cache_bytes));
    let load = LoadOptions {
        intra_threads: config.intra_threads,
        max_sessions: config.executors,
        spinning: config.spinning,
    };
    let models = config
        .models
        .iter()
        .map(|spec| ServedModel::load(spec, engine.clone(), cache.clone(), load.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sizes = vec![1, config.max_batch_rows];
    sizes.dedup();
    for (m, spec) in models.iter().zip(&config.models) {
        // Load the whole model now, so that the first plain request does not pay for it.
        m.runtime.full()?;
        let cuts = crate::parts::resolve(m, &spec.warm_cuts)?;
        crate::parts::warm(m, &cuts, &sizes)?;
    }
    Ok((Registry::new(models)?, engine.kind().as_str()))
}

impl RunningServer {
    /// The bound address (the real port when configured with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound metrics address, when metrics are served.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The device tokens, when configured: [`Tokens::reload`] re-reads their file.
    pub fn tokens(&self) -> Option<&Arc<Tokens>> {
        self.tokens.as_ref()
    }

    /// The served models.
    pub fn models(&self) -> &[Arc<ServedModel>] {
        &self.models
    }

    /// The load report GetLoad answers, for `model` or for all models (`None`); `None` for a
    /// model the server does not serve. For embedders that show the load without a gRPC call.
    pub fn load_report(&self, model: Option<&str>) -> Option<loadpart_proto::loadpart::LoadReport> {
        self.monitor.report(model)
    }

    /// Stops accepting connections, lets in-flight requests finish (the queue drains through
    /// the executors), ends WatchLoad streams, then joins the scheduler and executor threads.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        tracing::info!(addr = %self.addr, "shutting down: draining requests in flight");
        let _ = self.stopping.send(true);
        if let Some(m) = self.metrics.take() {
            let _ = m.await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let served = (&mut self.serve)
            .await
            .map_err(|e| ServerError::Config(format!("server task: {e}")))?;
        // The services (and their scheduler handles) are dropped once serving ends, so the
        // scheduler runs what is queued and stops, which closes the executors' channel.
        let _ = (&mut self.actor).await;
        let threads = std::mem::take(&mut self.executors);
        tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await
        .map_err(|e| ServerError::Config(format!("joining executors: {e}")))?;
        tracing::info!(addr = %self.addr, "stopped");
        served.map_err(|e| ServerError::Io(std::io::Error::other(e)))
    }
}

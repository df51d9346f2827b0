//! `loadpart serve`: the edge server. Configuration comes from built-in defaults, then a TOML
//! file (`--config`, see [`config`]), then flags; profiles may be measured first
//! ([`auto_profile`]); then the server starts and runs until SIGINT or SIGTERM.

mod auto_profile;
mod config;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use loadpart_engine::{EngineKind, Spinning};
use loadpart_server::{Server, ServerConfig};

/// Serve models over gRPC: the Open Inference Protocol (KServe v2, so tritonclient and other
/// standard clients run whole-model inference), partitioned requests from loadpart devices (the
/// tail of their cut), Triton's statistics, loadpart's load/profile/probe service and the gRPC
/// health service, with Prometheus metrics over HTTP. Stops cleanly on Ctrl-C or SIGTERM,
/// answering what is in flight.
///
/// Settings come from built-in defaults, then --config, then flags (a flag always wins); see
/// configs/server.toml for the file.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// TOML config file (models, batching, limits, threads, addresses); flags override it.
    #[arg(long, env = "LOADPART_CONFIG")]
    config: Option<PathBuf>,
    /// A model to serve (path, zoo:NAME, or light model name); repeat for several. Replaces the
    /// file's models. Clients name it by its file stem (or zoo/light name).
    #[arg(long = "model")]
    models: Vec<String>,
    /// Server profile JSON (`loadpart profile --role server`) per --model, in --model order;
    /// enables the slowdown factor against profiled times, GetServerProfile, and profile-based
    /// admission.
    #[arg(long = "profile")]
    profiles: Vec<PathBuf>,
    /// Measure a server profile, before serving, for each model without one (on by default:
    /// devices plan their cuts with it). Cached under --profile-cache by model identity,
    /// engine, host, threads and batch sizes, so only the first start pays (about a minute for
    /// ResNet-50 on two cores, seconds for small models). `--auto-profile=false` serves
    /// without: whole-model requests and forced cuts work, planning devices run locally.
    /// [default: true]
    #[arg(long, num_args = 0..=1, default_missing_value = "true", env = "LOADPART_AUTO_PROFILE")]
    auto_profile: Option<bool>,
    /// How long the profile measured at start may take: `quick` (about a minute for ResNet-50
    /// on two cores) or `fine` (several times longer, with a self-check on random cuts). Each
    /// is cached on its own.
    #[arg(long, default_value = "quick")]
    profile_effort: loadpart_exec::ProfileEffort,
    /// Where measured profiles are cached. [default: .loadpart/profiles in the nearest
    /// directory above that has a .loadpart, or $LOADPART_HOME/profiles]
    #[arg(long)]
    profile_cache: Option<PathBuf>,
    /// Address and port to listen on (port 0 picks a free one and prints it).
    /// [default: 127.0.0.1:8001]
    #[arg(long, env = "LOADPART_LISTEN")]
    listen: Option<SocketAddr>,
    /// TLS: the server's certificate chain, PEM (with --tls-key). Without TLS the server
    /// listens on loopback only, unless --insecure-listen.
    #[arg(long, requires = "tls_key", env = "LOADPART_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// TLS: the server's private key, PEM (with --tls-cert).
    #[arg(long, requires = "tls_cert", env = "LOADPART_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Device tokens: a file of `NAME TOKEN` lines (`#` comments). Every inference and loadpart
    /// call must then carry `authorization: Bearer TOKEN`; the device's name labels its
    /// metrics and log lines. Re-read on SIGHUP (a bad file keeps the old tokens).
    #[arg(long, env = "LOADPART_TOKENS")]
    tokens: Option<PathBuf>,
    /// Serve plaintext (no TLS) on a non-loopback address: anyone on the network can read and
    /// alter requests (and tokens). Logged as a warning.
    #[arg(long)]
    insecure_listen: bool,
    /// Address of the Prometheus endpoint (GET /metrics), or "off". Keep it on loopback or a
    /// private network. [default: 127.0.0.1:9464]
    #[arg(long, env = "LOADPART_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    /// ort (ONNX Runtime) or tract. [default: ort]
    #[arg(long, env = "LOADPART_ENGINE")]
    engine: Option<EngineKind>,
    /// Most rows in one batch. Larger batches raise throughput under load and the wait of
    /// requests that join them. [default: 8]
    #[arg(long)]
    max_batch: Option<usize>,
    /// How long a batch that is not full waits for more requests, µs. 0 runs a request at once
    /// when an executor is idle; batches still form from what queues meanwhile. [default: 0]
    #[arg(long)]
    max_delay_us: Option<u64>,
    /// Staircase merging: a batch with room takes in requests of the same model that entered
    /// at earlier cuts, run forward to its cut, so the rest runs once at a larger batch size.
    /// Pays off with many devices at different cuts; a segment is built on first use.
    #[arg(long)]
    staircase: bool,
    /// Admission control: a request predicted to finish after its deadline is refused at once
    /// with RESOURCE_EXHAUSTED and the load report, so that its device re-plans instead of
    /// waiting to miss. `--admission=false` makes a plain FCFS dynamic batcher: requests wait
    /// until run or past their deadline. [default: true]
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    admission: Option<bool>,
    /// Most requests waiting; beyond it requests are refused with RESOURCE_EXHAUSTED.
    /// [default: 256]
    #[arg(long)]
    max_queue: Option<usize>,
    /// Deadline of a request that sets none (gRPC timeout or `timeout` parameter) or a later
    /// one, ms. Requests predicted to miss their deadline are refused at arrival.
    /// [default: 10000]
    #[arg(long)]
    default_timeout_ms: Option<u64>,
    /// Span of the load report's window, ms: clients plan with the mean queue wait and slowdown
    /// over it. Short windows follow load quickly; long ones smooth bursts. [default: 3000]
    #[arg(long)]
    load_window_ms: Option<u64>,
    /// Executor threads running batches side by side. On few cores 1, with --threads 0 letting
    /// the engine use every core for one batch. [default: 1]
    #[arg(long)]
    executors: Option<usize>,
    /// Threads per run inside an operator (0 = engine default). With several executors give each
    /// cores / executors. [default: 0]
    #[arg(long)]
    threads: Option<usize>,
    /// Whether ONNX Runtime's idle worker threads spin between parallel sections: `on` (faster
    /// batches, the executors own their cores) or `off` (the host's cores are shared with other
    /// busy processes). [default: on]
    #[arg(long, env = "LOADPART_SPINNING")]
    spinning: Option<Spinning>,
    /// Most bandwidth-probe payload (ProbeDownload) the server sends, MiB/s over all clients;
    /// more is refused, so that tiny requests cannot make it send without bound. [default: 256]
    #[arg(long)]
    probe_mib_per_s: Option<u64>,
    /// Fair share: per-device limits on queued requests and admitted rate, so that one device
    /// cannot take the whole queue and the others keep their latency. A device over its share
    /// is refused with RESOURCE_EXHAUSTED (and a retry hint) before its request is decoded. A
    /// device is its token's name with --tokens, else its self-declared `loadpart-device`
    /// header, else its IP address: without tokens a client can claim several identities, so
    /// use tokens where devices are not trusted. `on` or `off`. [default: on]
    #[arg(long, value_parser = clap::builder::BoolishValueParser::new())]
    fair_share: Option<bool>,
    /// Fair share is divided among the devices seen in this window, ms (a device with requests
    /// still queued counts too). Longer keeps a bursty device's share reserved across its
    /// pauses; shorter hands it to the others sooner. [default: 5000]
    #[arg(long)]
    fair_active_ms: Option<u64>,
    /// Queued requests any device may have, however many devices are active (each device may
    /// queue max(floor, --max-queue / active devices), at most the ceiling). [default: 2]
    #[arg(long)]
    fair_queued_floor: Option<usize>,
    /// Most requests one device may have queued. Requests queue in arrival order, so this is
    /// how much work one device can put ahead of everyone else's next request: about one or
    /// two full batches (--max-batch) keeps others' waits short. [default: 8]
    #[arg(long)]
    fair_queued_ceiling: Option<usize>,
    /// Fraction of the measured capacity (requests/s at the recent batch mix) divided among
    /// active devices as per-device rate limits: 1 hands out all of it; 0.5 keeps half as
    /// headroom, so that one device using its whole share barely moves the others' latency.
    /// Raise it where devices must use the whole server and latency matters less. With one
    /// device active no per-device limit applies. [default: 0.5]
    #[arg(long)]
    fair_rate_factor: Option<f64>,
    /// Burst a device may send above its rate after a quiet spell, ms of its rate (at least
    /// --fair-burst-min requests). Every ms of it is also a burst a flooder may put ahead of
    /// the others when it starts. [default: 500]
    #[arg(long)]
    fair_burst_ms: Option<u64>,
    /// Least burst, in requests, however small a device's rate: deep enough for a
    /// well-behaved device's random bunching (Poisson arrivals at a quarter of the rate
    /// overflow 8 about once in ten million requests, 3 about once in four hundred).
    /// [default: 8]
    #[arg(long)]
    fair_burst_min: Option<f64>,
    /// Most device identities tracked at once; more share one entry, "(other)". Bounds memory
    /// and metric labels when identities are self-declared. [default: 1024]
    #[arg(long)]
    fair_max_devices: Option<usize>,
    /// Share of its rate limit a device keeps for --fair-active-ms after it was refused for
    /// its rate while sending more than its share on average (over --fair-active-ms): a
    /// flooder is held well below its share, so that what it still gets through barely moves
    /// the others' latency; a device within its share is never cut, even when a burst of its
    /// empties its bucket. 1 turns the penalty off. [default: 0.25]
    #[arg(long)]
    fair_overuse_factor: Option<f64>,
    /// Largest gRPC message either way, MiB; must exceed the largest cut batch. [default: 256]
    #[arg(long)]
    max_message_mib: Option<usize>,
    /// Cuts whose tails are built and warmed before the server turns ready, for every model:
    /// "auto" (the articulation cuts, where planners most often cut, at most 8), "auto:N",
    /// "none", or cut ids separated by ";" (a cut id is tensor names joined by ",").
    #[arg(long)]
    warm_cuts: Option<String>,
    /// Serve the models with seeded random weights (and no final Softmax), as checks do: the
    /// model-zoo light models have constant weights. Changes the model identity.
    #[arg(long)]
    randomize_seed: Option<u64>,
}

/// Built-in defaults, then the file with the flags laid over it. Returns the server's settings
/// and whether to measure missing profiles.
fn server_config(args: &Args) -> Result<(ServerConfig, bool)> {
    let file = match &args.config {
        Some(path) => {
            config::read(path)?.beside(path.parent().unwrap_or(std::path::Path::new(".")))
        }
        None => config::FileConfig::default(),
    };
    let mut merged = file.overlay(args.overlay()?)?;
    for m in &mut merged.models {
        if let Some(seed) = args.randomize_seed {
            m.randomize_seed = Some(seed);
        }
        if let Some(w) = &args.warm_cuts {
            m.warm_cuts = Some(config::WarmSpec::Word(w.clone()));
        }
    }
    let mut c = ServerConfig {
        metrics_listen: config::parse_metrics(config::DEFAULT_METRICS)?,
        // A standalone server owns its cores: spin, as ONNX Runtime does by default.
        spinning: Spinning::On,
        ..ServerConfig::default()
    };
    config::apply(&mut c, &merged)?;
    config::check(&c)?;
    Ok((c, merged.auto_profile.unwrap_or(true)))
}

impl Args {
    /// The flags as a file's settings, to lay over the file's (a flag not given sets nothing;
    /// `--model` replaces the file's models).
    fn overlay(&self) -> Result<config::FileConfig> {
        if self.models.is_empty() && !self.profiles.is_empty() {
            bail!("--profile goes with --model (profiles of file models go in the file)");
        }
        if !self.profiles.is_empty() && self.profiles.len() != self.models.len() {
            bail!(
                "{} --profile for {} --model: give one per model, in the same order",
                self.profiles.len(),
                self.models.len()
            );
        }
        Ok(config::FileConfig {
            listen: self.listen,
            metrics_listen: self.metrics_listen.clone(),
            engine: self.engine.map(|e| e.to_string()),
            auto_profile: self.auto_profile,
            tokens: self.tokens.clone(),
            insecure_listen: self.insecure_listen.then_some(true),
            tls: match (&self.tls_cert, &self.tls_key) {
                (Some(cert), Some(key)) => Some(config::Tls {
                    cert: cert.clone(),
                    key: key.clone(),
                }),
                _ => None,
            },
            batching: config::Batching {
                max_batch: self.max_batch,
                max_delay_us: self.max_delay_us,
                staircase: self.staircase.then_some(true),
            },
            limits: config::Limits {
                max_queue: self.max_queue,
                default_timeout_ms: self.default_timeout_ms,
                load_window_ms: self.load_window_ms,
                max_message_mib: self.max_message_mib,
                part_cache_mib: None,
                part_builds: None,
                probe_mib_per_s: self.probe_mib_per_s,
                admission: self.admission,
            },
            threads: config::Threads {
                executors: self.executors,
                intra: self.threads,
                spinning: self.spinning.map(|s| s.to_string()),
            },
            fair_share: config::FairShare {
                enabled: self.fair_share,
                active_window_ms: self.fair_active_ms,
                queued_floor: self.fair_queued_floor,
                queued_ceiling: self.fair_queued_ceiling,
                rate_factor: self.fair_rate_factor,
                burst_ms: self.fair_burst_ms,
                burst_min: self.fair_burst_min,
                max_devices: self.fair_max_devices,
                overuse_factor: self.fair_overuse_factor,
            },
            models: self
                .models
                .iter()
                .enumerate()
                .map(|(i, source)| config::FileModel {
                    source: source.clone(),
                    name: None,
                    randomize_seed: None,
                    profile: self.profiles.get(i).cloned(),
                    warm_cuts: None,
                })
                .collect(),
        })
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let (mut config, auto) = server_config(&args)?;
    config.validate()?;
    // The engine first: a missing ONNX Runtime is an error before a minute of profiling, not
    // after it.
    loadpart_engine::available(config.engine)
        .with_context(|| format!("engine {}", config.engine))?;
    if auto {
        let key = auto_profile::ServerKey {
            engine: config.engine,
            threads: config.intra_threads,
            batch_sizes: loadpart_exec::server_batch_sizes(config.max_batch_rows),
            spinning: config.spinning,
            effort: args.profile_effort,
        };
        let cache = match &args.profile_cache {
            Some(dir) => loadpart_exec::ProfileCache::new(dir, loadpart_exec::host_name()),
            None => loadpart_exec::ProfileCache::default_location(),
        };
        for m in &mut config.models {
            auto_profile::ensure(m, &key, &cache)
                .with_context(|| format!("profiling {}", m.source))?;
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let server_tls = config.tls.is_some();
    rt.block_on(async move {
        let server = Server::start(config).await?;
        let names: Vec<&str> = server.models().iter().map(|m| m.name.as_str()).collect();
        // Installed before the "serving" line, so that a SIGHUP sent after it is never the
        // default action (exit).
        #[cfg(unix)]
        let reload = match server.tokens().cloned() {
            None => None,
            Some(tokens) => {
                let mut hup =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                        .context("installing the SIGHUP handler")?;
                Some(tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        let t = tokens.clone();
                        let r = tokio::task::spawn_blocking(move || t.reload()).await;
                        match r {
                            Ok(Ok(n)) => eprintln!(
                                "SIGHUP: tokens reloaded from {}: {n} devices",
                                tokens.path().display()
                            ),
                            Ok(Err(e)) => {
                                eprintln!("SIGHUP: tokens not reloaded, keeping the old ones: {e}")
                            }
                            Err(e) => eprintln!("SIGHUP: token reload failed: {e}"),
                        }
                    }
                }))
            }
        };
        eprintln!(
            "loadpart serving {} on {} ({})",
            names.join(", "),
            server.addr(),
            match (server_tls, server.addr().ip().is_loopback()) {
                (true, _) => "TLS",
                (false, true) => "plaintext, no TLS: loopback only",
                (false, false) => "plaintext, no TLS, NOT loopback: --insecure-listen",
            }
        );
        if let Some(m) = server.metrics_addr() {
            eprintln!("metrics at http://{m}/metrics");
        }
        shutdown_signal().await?;
        #[cfg(unix)]
        if let Some(r) = reload {
            r.abort();
        }
        eprintln!("stopping: finishing requests in flight");
        server.shutdown().await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn shutdown_signal() -> Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> Args {
        Cli::parse_from(std::iter::once("serve").chain(argv.iter().copied())).args
    }

    #[test]
    fn flags_override_the_file() {
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/server.toml");
        let (c, auto) = server_config(&parse(&["--config", file])).unwrap();
        assert_eq!(c.max_batch_rows, 8);
        assert!(auto);
        let (_, auto) = server_config(&parse(&["--config", file, "--auto-profile=false"])).unwrap();
        assert!(!auto, "the flag wins over the file");
        let (_, auto) = server_config(&parse(&["--model", "zoo:chain"])).unwrap();
        assert!(auto, "profiled by default");
        let (c, auto) = server_config(&parse(&[
            "--config",
            file,
            "--max-batch",
            "4",
            "--metrics-listen",
            "off",
            "--model",
            "zoo:chain",
            "--auto-profile",
        ]))
        .unwrap();
        assert_eq!(c.max_batch_rows, 4);
        assert_eq!(c.metrics_listen, None);
        assert_eq!(c.models.len(), 1);
        assert_eq!(c.models[0].source, "zoo:chain");
        assert!(auto);
        let (c, _) = server_config(&parse(&[
            "--model",
            "zoo:chain",
            "--fair-share",
            "off",
            "--fair-queued-ceiling",
            "3",
            "--fair-burst-ms",
            "50",
        ]))
        .unwrap();
        assert!(!c.fair_share.enabled);
        assert_eq!(c.fair_share.queued_ceiling, 3);
        assert_eq!(c.fair_share.burst_s, 0.05);
    }

    #[test]
    fn no_model_is_an_error() {
        let e = server_config(&parse(&[])).unwrap_err();
        assert!(e.to_string().contains("no model"), "{e}");
    }
}

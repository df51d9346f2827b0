//! `loadpart serve`: the edge server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use loadpart_engine::{EngineKind, Spinning};
use loadpart_server::{ModelSpec, Server, ServerConfig};

/// Serve models over gRPC: the Open Inference Protocol (KServe v2, so tritonclient and other
/// standard clients run whole-model inference), partitioned requests from loadpart devices (the
/// tail of their cut), Triton's statistics, loadpart's load/profile/probe service and the gRPC
/// health service. Stops cleanly on Ctrl-C or SIGTERM, answering what is in flight.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A model to serve (path, zoo:NAME, or light model name); repeat for several. Clients name
    /// it by its file stem (or zoo/light name).
    #[arg(long = "model", required = true)]
    models: Vec<String>,
    /// Server profile JSON (`loadpart profile --role server`) per model, in --model order;
    /// enables the slowdown factor against profiled times and GetServerProfile.
    #[arg(long = "profile")]
    profiles: Vec<PathBuf>,
    /// Address and port to listen on (port 0 picks a free one and prints it).
    #[arg(long, default_value = "127.0.0.1:8001", env = "LOADPART_LISTEN")]
    listen: SocketAddr,
    /// ort (ONNX Runtime) or tract.
    #[arg(long, default_value = "ort", env = "LOADPART_ENGINE")]
    engine: EngineKind,
    /// Most rows in one batch. Larger batches raise throughput under load and the wait of
    /// requests that join them.
    #[arg(long, default_value_t = 8)]
    max_batch: usize,
    /// How long a batch that is not full waits for more requests, µs. 0 (the default) runs a
    /// request at once when an executor is idle; batches still form from what queues meanwhile.
    #[arg(long, default_value_t = 0)]
    max_delay_us: u64,
    /// Most requests waiting; beyond it requests are refused with RESOURCE_EXHAUSTED.
    #[arg(long, default_value_t = 256)]
    max_queue: usize,
    /// Executor threads running batches side by side. On few cores 1, with --threads 0 letting
    /// the engine use every core for one batch.
    #[arg(long, default_value_t = 1)]
    executors: usize,
    /// Threads per run inside an operator (0 = engine default). With several executors give each
    /// cores / executors.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Whether ONNX Runtime's idle worker threads spin between parallel sections: `on` (faster
    /// batches, the executors own their cores) or `off` (the host's cores are shared with other
    /// busy processes).
    #[arg(long, default_value_t = Spinning::On, env = "LOADPART_SPINNING")]
    spinning: Spinning,
    /// Largest gRPC message either way, MiB; must exceed the largest cut batch.
    #[arg(long, default_value_t = 256)]
    max_message_mib: usize,
    /// Serve the models with seeded random weights (and no final Softmax), as checks do: the
    /// model-zoo light models have constant weights. Changes the model identity.
    #[arg(long)]
    randomize_seed: Option<u64>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if !args.profiles.is_empty() && args.profiles.len() != args.models.len() {
        bail!(
            "{} --profile for {} --model: give one per model, in the same order",
            args.profiles.len(),
            args.models.len()
        );
    }
    let models = args
        .models
        .iter()
        .enumerate()
        .map(|(i, source)| ModelSpec {
            name: None,
            source: source.clone(),
            randomize_seed: args.randomize_seed,
            profile: args.profiles.get(i).cloned(),
        })
        .collect();
    let config = ServerConfig {
        listen: args.listen,
        models,
        engine: args.engine,
        max_batch_rows: args.max_batch,
        max_queue_delay: Duration::from_micros(args.max_delay_us),
        max_queue_len: args.max_queue,
        executors: args.executors,
        intra_threads: args.threads,
        spinning: args.spinning,
        max_message_bytes: args.max_message_mib << 20,
        ..ServerConfig::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let server = Server::start(config).await?;
        let names: Vec<&str> = server.models().iter().map(|m| m.name.as_str()).collect();
        eprintln!("loadpart serving {} on {}", names.join(", "), server.addr());
        shutdown_signal().await?;
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

//! `loadpart bench client-overhead`: what the device library adds to an offloaded request
//! beyond the head's run and the gRPC call itself.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use loadpart_client::{Client, ClientConfig, InferOptions, InferOutcome, Measured};
use loadpart_graph::{Prepared, load_model, randomize_for_checks};
use serde::Serialize;

use crate::loadgen::quantile;
use crate::outln;
use crate::remote_model::noise_inputs;
use crate::serving::child::ServerProcess;

/// Client overhead per offloaded request: the whole inference's wall time less the head's run
/// and the gRPC call (which holds the transfer, the server's time and protobuf framing), i.e.
/// deciding, bookkeeping, quantizing and compressing the cut tensors, building the request,
/// reading the reply and updating the estimators. Each model is served by `loadpart serve` in a
/// child process (seeded random weights) and one client sends --requests inferences one after
/// another with the loadpart policy. Prints the overhead's mean, p50, p95 and max next to the
/// head's and the call's own times, and its parts the client measures (decision, encoding).
#[derive(Debug, clap::Args)]
pub struct ClientOverheadArgs {
    /// Models (path, zoo:NAME or light model name), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "squeezenet,resnet50")]
    pub models: Vec<String>,
    /// Requests per model, after a warm-up of 20.
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
    /// Emulated device slowdown (phones are several times slower than the server; the
    /// overhead itself is not stretched).
    #[arg(long, default_value_t = 4.0)]
    pub device_slowdown: f64,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 1)]
    pub randomize_seed: u64,
    /// Run the server on the last core and this client on the first (where there are two or
    /// more), so that neither's threads wait for the other's: otherwise server work lands
    /// inside the client's overhead. `--pin=false` shares all cores.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value_t = true)]
    pub pin: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// One model's overhead.
#[derive(Debug, Serialize)]
pub struct OverheadRow {
    pub model: String,
    /// `planner` (the loadpart policy's cut) or `mid cut` (the middle candidate cut forced).
    pub variant: String,
    pub requests: usize,
    pub offloaded: usize,
    pub head_p50_ms: f64,
    pub rpc_p50_ms: f64,
    pub overhead_mean_ms: f64,
    pub overhead_p50_ms: f64,
    pub overhead_p95_ms: f64,
    pub overhead_max_ms: f64,
    /// Of the overhead: the planner's decision, mean ms.
    pub decide_mean_ms: f64,
    /// Of the overhead: quantizing and compressing, mean ms.
    pub encode_mean_ms: f64,
    /// Cut tensor bytes sent per request, mean.
    pub sent_bytes_mean: f64,
}

/// Runs every model and prints the table.
pub fn run(args: ClientOverheadArgs) -> Result<std::process::ExitCode> {
    ensure!(args.requests >= 1, "--requests must be at least 1");
    crate::pinning::init();
    let cores = crate::pinning::cores();
    let pinned = args.pin && cores >= 2;
    // Threads inherit the affinity of the thread that starts them: pin before the runtime.
    let pinned = pinned && crate::pinning::pin_current(0);
    let server_cpus = pinned
        .then(|| crate::pinning::core_id(cores - 1))
        .flatten()
        .map(|id| id.to_string());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut rows = Vec::new();
    for m in &args.models {
        let model = randomize_for_checks(&load_model(m)?, args.randomize_seed)?;
        let dir = std::env::temp_dir().join(format!(
            "loadpart-client-overhead-{}-{}",
            std::process::id(),
            loadpart_graph::model_name(m)
        ));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("model.onnx");
        std::fs::write(&path, model.to_bytes())?;
        // The file as the server reads it, so that both sides have the same identity.
        let prepared = Arc::new(Prepared::new(&loadpart_graph::OnnxModel::load(&path)?)?);
        let bin = std::env::current_exe().context("finding this binary")?;
        let server = ServerProcess::start(&bin, &path, &[], server_cpus.as_deref())?;
        let row = rt.block_on(measure(&args, m, prepared, &server.url));
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
        rows.extend(row?);
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(std::process::ExitCode::SUCCESS);
    }
    outln!(
        "device {}x slower than measured; {}; ms per offloaded request",
        args.device_slowdown,
        if pinned {
            "client and server on separate cores"
        } else {
            "client and server share the cores"
        }
    );
    outln!(
        "{:<24} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "model",
        "offloaded",
        "head p50",
        "rpc p50",
        "ovh mean",
        "ovh p50",
        "ovh p95",
        "ovh max",
        "decide",
        "encode"
    );
    for r in &rows {
        outln!(
            "{:<24} {:>9} {:>9.2} {:>9.2} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            format!("{} ({})", r.model, r.variant),
            format!("{}/{}", r.offloaded, r.requests),
            r.head_p50_ms,
            r.rpc_p50_ms,
            r.overhead_mean_ms,
            r.overhead_p50_ms,
            r.overhead_p95_ms,
            r.overhead_max_ms,
            r.decide_mean_ms,
            r.encode_mean_ms
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Sends the requests to the server at `url` (serving `prepared` as "model").
async fn measure(
    args: &ClientOverheadArgs,
    spec: &str,
    prepared: Arc<Prepared>,
    url: &str,
) -> Result<Vec<OverheadRow>> {
    let engine: Arc<dyn loadpart_engine::Engine> = Arc::from(loadpart_engine::engine_or_tract(
        loadpart_engine::EngineKind::Ort,
    )?);
    let profile = crate::profiles::device_profile(engine.clone(), prepared.clone()).await?;
    let runtime = crate::remote_model::device_runtime(engine, prepared.clone(), 2 << 30);
    let mut config = ClientConfig::new(url, "model".to_string());
    config.device_slowdown = args.device_slowdown;
    let client = Client::connect(config, runtime, profile, None).await?;
    ensure!(
        client.wait_for_estimates(Duration::from_secs(10)).await,
        "the estimates did not become fresh within 10 s"
    );
    client.warm_up_likely_cuts(3).await?;
    let inputs = noise_inputs(&prepared, args.randomize_seed)?;
    let mid = crate::mix::mix(&["mid".to_string()], &prepared)?[0]
        .0
        .clone();
    let variants = [
        ("planner", InferOptions::default()),
        (
            "mid cut",
            InferOptions {
                cut: Some(mid),
                ..InferOptions::default()
            },
        ),
    ];
    let mut rows = Vec::new();
    for (variant, opts) in variants {
        for _ in 0..20 {
            client.infer(inputs.clone(), &opts).await?;
        }
        let mut outcomes: Vec<InferOutcome> = Vec::with_capacity(args.requests);
        for _ in 0..args.requests {
            outcomes.push(client.infer(inputs.clone(), &opts).await?);
        }
        rows.push(row(spec, variant, &outcomes));
    }
    Ok(rows)
}

/// The overhead of the offloaded ones of `outcomes`.
fn row(spec: &str, variant: &str, outcomes: &[InferOutcome]) -> OverheadRow {
    let off: Vec<&InferOutcome> = outcomes.iter().filter(|o| o.route.offloaded()).collect();
    let overhead: Vec<f64> = off
        .iter()
        .map(|o| o.measured.client_overhead_us() * 1e-3)
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    // Per offloaded request, ms.
    let pick = |f: fn(&Measured) -> f64| {
        off.iter()
            .map(|o| f(&o.measured) * 1e-3)
            .collect::<Vec<f64>>()
    };
    OverheadRow {
        model: loadpart_graph::model_name(spec),
        variant: variant.to_string(),
        requests: outcomes.len(),
        offloaded: off.len(),
        head_p50_ms: quantile(&pick(|m| m.device_us), 0.5),
        rpc_p50_ms: quantile(&pick(|m| m.rpc_us), 0.5),
        overhead_mean_ms: mean(&overhead),
        overhead_p50_ms: quantile(&overhead, 0.5),
        overhead_p95_ms: quantile(&overhead, 0.95),
        overhead_max_ms: quantile(&overhead, 1.0),
        decide_mean_ms: mean(&pick(|m| m.decide_us)),
        encode_mean_ms: mean(&pick(|m| m.encode_us)),
        sent_bytes_mean: mean(&off.iter().map(|o| o.sent_bytes as f64).collect::<Vec<_>>()),
    }
}

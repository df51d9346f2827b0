//! `loadpart bench load`: open-loop load from many synthetic devices against a running server.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use loadpart_client::Remote;
use loadpart_engine::LoadOptions;
use loadpart_runtime::{ModelRuntime, PartCache};
use serde::Serialize;

use crate::loadgen::{self, Arrivals, LoadGenConfig, LoadGenReport, quantile};
use crate::outln;
use crate::remote_model::{RemoteModelArgs, noise_inputs};

/// Open-loop load, as many devices would offer it: requests that replay precomputed encoded cut
/// tensors at a mix of cuts, arriving as a Poisson process (or at the offsets of a trace file),
/// spread over N device identities, each with a deadline. Prints what happened to every request:
/// answered (latency percentiles), refused for load (and how early), past its deadline, failed,
/// or shed by the generator's own in-flight cap. The rate can be a fraction of the server's
/// capacity, measured first (maximum full-offload throughput, closed loop).
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    #[command(flatten)]
    remote: RemoteModelArgs,
    /// Requests per second.
    #[arg(long, conflicts_with = "capacity_fraction")]
    rate: Option<f64>,
    /// Requests per second as a fraction of the measured capacity (e.g. 4 for 4x overload).
    #[arg(long)]
    capacity_fraction: Option<f64>,
    /// Arrival offsets in seconds, one per line, instead of Poisson arrivals.
    #[arg(long, conflicts_with_all = ["rate", "capacity_fraction"])]
    trace: Option<PathBuf>,
    /// How long to run, seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Device identities the requests are spread over (distinct `loadpart-device` names), so
    /// that the server's fair share divides among them rather than capping the load at one
    /// device's share. A server with device tokens needs --tokens-file instead.
    #[arg(long, default_value_t = 16)]
    devices: usize,
    /// Identities with tokens, for a server with device tokens: a file of `NAME TOKEN` lines
    /// (the server's --tokens format); requests go out as each in turn (replacing --devices),
    /// and the capacity measurement uses the first. Tokens are never printed.
    #[arg(long, env = "LOADPART_LOADGEN_TOKENS")]
    tokens_file: Option<PathBuf>,
    /// A cut of the mix: a canonical cut id, `full` (the inputs: full offload) or `mid` (the
    /// middle candidate cut), optionally `@WEIGHT`. Repeat for a mix (default: full and mid,
    /// equally).
    #[arg(long = "cut")]
    cuts: Vec<String>,
    /// Deadline of each request, ms.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
    /// Most requests in flight (more arrivals are counted as shed).
    #[arg(long, default_value_t = 1024)]
    max_in_flight: usize,
    /// Seed of the arrivals and of the cut drawn per request.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Summary {
    offered_per_s: f64,
    capacity_per_s: Option<f64>,
    duration_s: f64,
    arrivals: u64,
    ok: u64,
    rejected: u64,
    deadline: u64,
    errors: u64,
    shed: u64,
    goodput_per_s: f64,
    latency_ms_p50: f64,
    latency_ms_p99: f64,
    latency_ms_max: f64,
    reject_ms_p50: f64,
    reject_ms_p99: f64,
    error_codes: Vec<(String, u64)>,
}

fn summarize(r: &LoadGenReport, capacity: Option<f64>) -> Summary {
    let ms = |v: &[f64], q| quantile(v, q) * 1e-3;
    Summary {
        offered_per_s: r.offered_per_s(),
        capacity_per_s: capacity,
        duration_s: r.elapsed.as_secs_f64(),
        arrivals: r.arrivals,
        ok: r.ok,
        rejected: r.rejected,
        deadline: r.deadline,
        errors: r.errors,
        shed: r.shed,
        goodput_per_s: r.goodput_per_s(),
        latency_ms_p50: ms(&r.ok_latency_us, 0.5),
        latency_ms_p99: ms(&r.ok_latency_us, 0.99),
        latency_ms_max: ms(&r.ok_latency_us, 1.0),
        reject_ms_p50: ms(&r.reject_latency_us, 0.5),
        reject_ms_p99: ms(&r.reject_latency_us, 0.99),
        error_codes: r.error_codes.clone(),
    }
}

/// Runs `loadpart bench load` on a runtime of its own.
pub fn run(args: LoadArgs) -> Result<ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(load(args))
}

async fn load(args: LoadArgs) -> Result<ExitCode> {
    ensure!(args.duration > 0.0, "--duration must be positive");
    let (prepared, engine) = args.remote.load()?;
    let name = args.remote.server_name();
    let mix = crate::mix::mix(&args.cuts, &prepared)?;
    let rt = ModelRuntime::new(
        engine,
        prepared.clone(),
        Arc::new(PartCache::new(1 << 30)),
        LoadOptions::default(),
    );
    let payloads = loadgen::payloads(
        &rt,
        &name,
        &mix,
        &noise_inputs(&prepared, 1)?,
        Default::default(),
    )?;
    let identities = match &args.tokens_file {
        Some(path) => loadgen::read_identities(path)?,
        None => Vec::new(),
    };
    let mut access = args.remote.access.access()?;
    if access.token.is_none() {
        access.token = identities.first().and_then(|i| i.token.clone());
    }
    let remote = Remote::with_access(
        &args.remote.server,
        loadpart_proto::DEFAULT_MAX_MESSAGE_BYTES,
        &access,
    )?;
    let mut capacity = None;
    let arrivals = if let Some(path) = &args.trace {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let offsets = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                l.parse::<f64>()
                    .with_context(|| format!("bad offset {l:?} in {}", path.display()))
            })
            .collect::<Result<Vec<_>>>()?;
        Arrivals::Trace(offsets)
    } else {
        let rate = match (args.rate, args.capacity_fraction) {
            (Some(r), _) => r,
            (None, Some(f)) => {
                if !args.json {
                    eprint!("measuring capacity (3 s, full offload)... ");
                }
                let c =
                    loadgen::measure_capacity(&remote, &payloads[0], 16, Duration::from_secs(3))
                        .await?;
                if !args.json {
                    eprintln!("{c:.1} requests/s");
                }
                capacity = Some(c);
                f * c
            }
            (None, None) => anyhow::bail!("give --rate, --capacity-fraction or --trace"),
        };
        ensure!(rate.is_finite() && rate > 0.0, "the rate must be positive");
        Arrivals::Poisson(tokio::sync::watch::channel(rate).1)
    };
    let config = LoadGenConfig {
        duration: Duration::from_secs_f64(args.duration),
        devices: args.devices.max(1),
        timeout: Duration::from_millis(args.timeout_ms),
        max_in_flight: args.max_in_flight.max(1),
        seed: args.seed,
        identities,
    };
    let report = loadgen::run(&remote, Arc::new(payloads), arrivals, &config).await?;
    let s = summarize(&report, capacity);
    if args.json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        outln!(
            "{} arrivals in {:.1} s ({:.1}/s offered{}): {} answered ({:.1}/s), {} refused for load, {} past deadline, {} errors, {} shed",
            s.arrivals,
            s.duration_s,
            s.offered_per_s,
            capacity.map_or(String::new(), |c| format!(", capacity {c:.1}/s")),
            s.ok,
            s.goodput_per_s,
            s.rejected,
            s.deadline,
            s.errors,
            s.shed
        );
        outln!(
            "latency of answered requests: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; refusals came after p50 {:.2} ms, p99 {:.2} ms",
            s.latency_ms_p50,
            s.latency_ms_p99,
            s.latency_ms_max,
            s.reject_ms_p50,
            s.reject_ms_p99
        );
        for (code, n) in &s.error_codes {
            outln!("  {code}: {n}");
        }
    }
    Ok(if report.accounted() {
        ExitCode::SUCCESS
    } else {
        eprintln!("error: some requests are not accounted for");
        ExitCode::from(1)
    })
}

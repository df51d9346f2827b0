//! `loadpart bench users`: N clients with the same policy at once against one server, to see
//! whether load-aware clients herd (all jump to the same cut when the server looks idle, load it,
//! all jump away, ...). Reports per policy the throughput, mean and p99 latency, and the churn:
//! how often a client's cut differs from its previous request's.
//!
//! The N devices share one core, so their compute is emulated: each device run lasts its
//! profiled time times the slowdown (the real run, then a sleep; `emulate_from_profile`), and
//! the heads of different devices do not slow each other down as real heads on one core would.
//! Each device has its own linkem relay (its own access link); the test bed is not used here.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use loadpart_client::{Client, ClientConfig, InferOptions};
use loadpart_engine::{Engine, EngineKind};
use loadpart_graph::load_model;
use loadpart_graph::{Prepared, randomize_for_checks};
use loadpart_linkem::{LinkShape, Relay};
use loadpart_plan::{PolicyKind, ProfileRole};
use loadpart_runtime::{ModelRuntime, NamedTensors};
use loadpart_server::{ModelSpec, ServerConfig};

use crate::embedded::ServerThread;
use crate::outln;
use crate::pinning;
use crate::profiles::ProfileKey;
use crate::remote_model::noise_inputs;
use crate::sweep::stats::{mean, quantile};

/// N emulated devices with the same policy at once (multi-user run): throughput, mean and p99
/// latency, and cut churn per policy. Device compute is emulated by sleeping the profiled head
/// time times the slowdown, so that N devices can share one core.
#[derive(Debug, clap::Args)]
pub struct UsersArgs {
    /// The model: a path, zoo:NAME or a light model name.
    #[arg(long, default_value = "zoo:mobilenet")]
    model: String,
    /// Seeded random weights (None: keep the file's).
    #[arg(long, default_value_t = 7)]
    randomize_seed: u64,
    /// Devices at once.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Policies, one run each (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "loadpart,neurosurgeon")]
    policies: Vec<String>,
    /// Seconds per policy.
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// Each device's link, Mbit/s.
    #[arg(long, default_value_t = 20.0)]
    mbit: f64,
    /// Device slowdown against the server.
    #[arg(long, default_value_t = 8.0)]
    device_slowdown: f64,
    /// Randomised hysteresis against herding: largest margins to run, comma separated (each
    /// device draws its margin from [0, max] and keeps its `loadpart` cut while it is within
    /// that margin of the best; 0 is off). Every policy runs once per value, on fresh devices.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    hysteresis: Vec<f64>,
    /// ort or tract.
    #[arg(long, default_value = "ort", env = "LOADPART_ENGINE")]
    engine: EngineKind,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, serde::Serialize)]
struct Row {
    policy: String,
    /// The devices' largest hysteresis margin (0: off).
    hysteresis: f64,
    requests: usize,
    per_s: f64,
    mean_ms: f64,
    p99_ms: f64,
    /// Share of requests whose cut differs from the same client's previous one, %.
    churn_pct: f64,
    distinct_cuts: usize,
    offloaded_pct: f64,
    /// Offloads that failed or were refused and finished on the device, %.
    fallback_pct: f64,
    /// Requests run locally without trying the server because the client was backing off
    /// after a failure or refusal (its circuit breaker), %.
    backoff_pct: f64,
}

/// How a request left the plan, if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detour {
    None,
    /// The offload failed or was refused; the device finished it.
    Fallback,
    /// Run locally without trying: the client was backing off.
    BackingOff,
}

pub fn run(args: UsersArgs) -> Result<ExitCode> {
    ensure!(args.clients >= 1, "--clients must be at least 1");
    ensure!(
        !args.hysteresis.is_empty() && args.hysteresis.iter().all(|h| (0.0..=1.0).contains(h)),
        "--hysteresis takes margins from 0 to 1"
    );
    ensure!(
        args.seconds > 0.0 && args.mbit > 0.0,
        "--seconds and --mbit must be positive"
    );
    let pinned = pinning::cores() >= 2 && pinning::pin_current(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(users(args, pinned))
}

async fn users(args: UsersArgs, pinned: bool) -> Result<ExitCode> {
    let model = randomize_for_checks(&load_model(&args.model)?, args.randomize_seed)?;
    let prepared = Arc::new(Prepared::new(&model)?);
    let engine: Arc<dyn Engine> = Arc::from(loadpart_engine::engine_or_tract(args.engine)?);
    let mut spec = ModelSpec::new(args.model.clone());
    spec.randomize_seed = Some(args.randomize_seed);
    let server = ServerThread::start(
        ServerConfig {
            listen: "127.0.0.1:0".parse()?,
            models: vec![spec],
            engine: engine.kind(),
            // Off: N devices of one policy are compared by throughput and latency; fair share
            // would refuse the busiest and change what is compared.
            fair_share: loadpart_server::FairShareConfig {
                enabled: false,
                ..Default::default()
            },
            ..ServerConfig::default()
        },
        engine.clone(),
        prepared.clone(),
        ProfileKey {
            role: ProfileRole::Server,
            batch_sizes: vec![1, 2, 4, 8],
            threads: 1,
            spinning: loadpart_engine::Spinning::Off,
            effort: loadpart_exec::ProfileEffort::Quick,
            ..ProfileKey::device()
        },
        pinned.then_some(0),
    )
    .await?;
    let device_profile = crate::profiles::device_profile(engine.clone(), prepared.clone()).await?;
    let runtime = crate::remote_model::device_runtime(engine.clone(), prepared.clone(), 1 << 30);
    let inputs: Vec<NamedTensors> = (0..4)
        .map(|s| noise_inputs(&prepared, 500 + s))
        .collect::<Result<_>>()?;
    let mut rows = Vec::new();
    for &hysteresis in &args.hysteresis {
        let (clients, relays) =
            devices(&args, &server, &runtime, &device_profile, hysteresis).await?;
        rows.extend(policies(&args, &clients, &inputs, hysteresis).await?);
        drop(clients);
        drop(relays);
    }
    server.stop().await?;
    print_rows(&args, &rows)
}

/// `args.clients` devices, each behind its own linkem relay, with estimates ready.
async fn devices(
    args: &UsersArgs,
    server: &ServerThread,
    runtime: &Arc<ModelRuntime>,
    device_profile: &loadpart_plan::ModelProfile,
    hysteresis: f64,
) -> Result<(Vec<Arc<Client>>, Vec<Relay>)> {
    let mut relays = Vec::new();
    let mut clients = Vec::new();
    for i in 0..args.clients {
        let relay = Relay::start(
            "127.0.0.1:0".parse()?,
            server.addr,
            LinkShape::symmetric_bits(args.mbit * 1e6),
        )
        .await?;
        let mut config = ClientConfig::new(format!("http://{}", relay.addr()), &server.model);
        config.device_name = format!("user-{i}");
        config.device_slowdown = args.device_slowdown;
        config.emulate_from_profile = true;
        config.hysteresis = hysteresis;
        let c = Client::connect(config, runtime.clone(), device_profile.clone(), None)
            .await
            .context("connecting a device")?;
        relays.push(relay);
        clients.push(Arc::new(c));
    }
    for c in &clients {
        c.wait_for_estimates(Duration::from_secs(5)).await;
    }
    clients[0].warm_up_likely_cuts(3).await?;
    Ok((clients, relays))
}

/// Every policy in turn on `clients` for `args.seconds` each: one row per policy.
async fn policies(
    args: &UsersArgs,
    clients: &[Arc<Client>],
    inputs: &[NamedTensors],
    hysteresis: f64,
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for p in &args.policies {
        let policy: PolicyKind = p.parse()?;
        // Let the previous policy's requests leave the server's load window.
        tokio::time::sleep(Duration::from_secs(4)).await;
        let start = Instant::now();
        let end = start + Duration::from_secs_f64(args.seconds);
        let mut tasks = tokio::task::JoinSet::new();
        for (i, c) in clients.iter().enumerate() {
            let (c, xs, policy) = (c.clone(), inputs.to_vec(), policy.clone());
            tasks.spawn(async move {
                let opts = InferOptions {
                    policy: Some(policy),
                    ..InferOptions::default()
                };
                let mut out = Vec::new();
                let mut n = i;
                while Instant::now() < end {
                    let o = c.infer(xs[n % xs.len()].clone(), &opts).await?;
                    n += 1;
                    out.push((
                        o.measured.total_us * 1e-3,
                        o.cut.to_string(),
                        o.route.offloaded(),
                        match o.route {
                            loadpart_client::Route::Fallback { .. } => Detour::Fallback,
                            loadpart_client::Route::LocalOnly { .. } => Detour::BackingOff,
                            _ => Detour::None,
                        },
                    ));
                }
                anyhow::Ok(out)
            });
        }
        let mut per_client = Vec::new();
        while let Some(r) = tasks.join_next().await {
            per_client.push(r??);
        }
        let secs = start.elapsed().as_secs_f64();
        let lat: Vec<f64> = per_client.iter().flatten().map(|x| x.0).collect();
        let n = lat.len().max(1) as f64;
        let changes: usize = per_client
            .iter()
            .map(|v| v.windows(2).filter(|w| w[0].1 != w[1].1).count())
            .sum();
        let pairs: usize = per_client.iter().map(|v| v.len().saturating_sub(1)).sum();
        let mut cuts: Vec<&str> = per_client.iter().flatten().map(|x| x.1.as_str()).collect();
        cuts.sort_unstable();
        cuts.dedup();
        rows.push(Row {
            policy: p.clone(),
            hysteresis,
            requests: lat.len(),
            per_s: lat.len() as f64 / secs,
            mean_ms: mean(&lat),
            p99_ms: quantile(&lat, 0.99),
            churn_pct: 100.0 * changes as f64 / pairs.max(1) as f64,
            distinct_cuts: cuts.len(),
            offloaded_pct: 100.0 * per_client.iter().flatten().filter(|x| x.2).count() as f64 / n,
            fallback_pct: 100.0
                * per_client
                    .iter()
                    .flatten()
                    .filter(|x| x.3 == Detour::Fallback)
                    .count() as f64
                / n,
            backoff_pct: 100.0
                * per_client
                    .iter()
                    .flatten()
                    .filter(|x| x.3 == Detour::BackingOff)
                    .count() as f64
                / n,
        });
    }
    Ok(rows)
}

fn print_rows(args: &UsersArgs, rows: &[Row]) -> Result<ExitCode> {
    if args.json {
        println!("{}", serde_json::to_string(&rows)?);
    } else {
        outln!(
            "{} devices ({}x slower, compute emulated by sleeping the profiled time), {} Mbit/s each, {} s per policy",
            args.clients,
            args.device_slowdown,
            args.mbit,
            args.seconds
        );
        outln!(
            "{:<18} {:>6} {:>8} {:>8} {:>9} {:>9} {:>8} {:>6} {:>7} {:>9} {:>9}",
            "policy",
            "hyst.",
            "requests",
            "req/s",
            "mean ms",
            "p99 ms",
            "churn %",
            "cuts",
            "offl. %",
            "fallb. %",
            "backoff %"
        );
        for r in rows {
            outln!(
                "{:<18} {:>6.2} {:>8} {:>8.1} {:>9.2} {:>9.2} {:>8.1} {:>6} {:>7.1} {:>9.1} {:>9.1}",
                r.policy,
                r.hysteresis,
                r.requests,
                r.per_s,
                r.mean_ms,
                r.p99_ms,
                r.churn_pct,
                r.distinct_cuts,
                r.offloaded_pct,
                r.fallback_pct,
                r.backoff_pct
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

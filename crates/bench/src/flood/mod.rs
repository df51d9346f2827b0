//! `loadpart bench flood`: does fair share protect well-behaved devices from a flooding one?
//!
//! A real `loadpart serve` process runs the model; well-behaved devices send modest open-loop
//! load (a fraction of their fair share) throughout, while one more device, `flood`, alternates
//! between silence and `--flood-factor` times its share, phase by phase. The table shows, per
//! phase, the well-behaved devices' p50/p95 latency and the flooder's admitted and refused
//! requests, then the well-behaved p95 in flood phases over quiet phases. The server's own
//! metrics confirm the refusals were counted against the flooder.

mod child;
mod table;
mod traffic;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use loadpart_client::Remote;
use loadpart_client::wire::{self, RequestMeta};
use loadpart_graph::Prepared;
use loadpart_proto::loadpart::LoadRequest;
use serde::Serialize;

use crate::outln;
use crate::pinning;
use crate::remote_model::noise_inputs;
use child::{ServeChild, counter, scrape};
use loadpart_graph::load_model;
use traffic::{Bounds, Device, Phases};

/// Flood test: well-behaved devices run throughout while one device alternates between silence
/// and many times its fair share, against a real `loadpart serve` on loopback. Prints, per
/// phase, the well-behaved devices' p50/p95 latency and the flooder's admitted/refused counts,
/// and the well-behaved p95 in flood phases over quiet phases (fair share works when it stays
/// near 1). Server and devices are pinned to separate cores with taskset when the machine has
/// two or more (see --server-cpus, --client-core, --no-pin).
#[derive(Debug, clap::Args)]
pub struct FloodArgs {
    /// The model the server runs (path, zoo:NAME, light model name); requests are plain
    /// whole-model ModelInfer calls of seeded noise.
    #[arg(long, default_value = "zoo:mobilenet")]
    model: String,
    /// Length of each phase, seconds.
    #[arg(long, default_value_t = 10.0)]
    phase_s: f64,
    /// Phases, alternating quiet (first) and flood.
    #[arg(long, default_value_t = 6)]
    phases: usize,
    /// Well-behaved devices.
    #[arg(long, default_value_t = 4)]
    devices: usize,
    /// The flooder's rate in flood phases, in multiples of its fair share.
    #[arg(long, default_value_t = 10.0)]
    flood_factor: f64,
    /// Each well-behaved device's rate, as a fraction of its fair share (well within it).
    #[arg(long, default_value_t = 0.25)]
    good_fraction: f64,
    /// Closed-loop warm-up before the phases, seconds: the server measures its capacity, from
    /// which the shares (and so the rates) follow.
    #[arg(long, default_value_t = 2.0)]
    warmup_s: f64,
    /// Deadline of each request, ms.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
    /// CPUs of the server process (`taskset -c` list). Default: the first core this process may
    /// use, when it may use two or more; otherwise unpinned.
    #[arg(long, env = "LOADPART_FLOOD_SERVER_CPUS")]
    server_cpus: Option<String>,
    /// Core (index among those this process may use) the devices run on. Default: 1, when
    /// there are two or more.
    #[arg(long, env = "LOADPART_FLOOD_CLIENT_CORE")]
    client_core: Option<usize>,
    /// Pin nothing: server and devices run where the OS puts them (inside whatever `taskset`
    /// this command itself runs under).
    #[arg(long, env = "LOADPART_FLOOD_NO_PIN")]
    no_pin: bool,
    /// An extra `loadpart serve` argument (repeat), e.g. --serve-arg=--fair-rate-factor=0.5.
    #[arg(long = "serve-arg", allow_hyphen_values = true)]
    serve_args: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Rates the run used, and what the server counted.
#[derive(Debug, Serialize)]
struct Report {
    #[serde(flatten)]
    summary: table::Summary,
    /// The flooder's fair share (requests/s) with every device active, and the rates sent.
    share_per_s: f64,
    good_rate_per_s: f64,
    flood_rate_per_s: f64,
    /// Fair-share refusals the server's metrics count for the flooder and for the others.
    server_refusals_flood: f64,
    server_refusals_good: f64,
    /// The same, by limit: (queued, rate) for the flooder and for the others.
    server_refusals_flood_by_limit: (f64, f64),
    server_refusals_good_by_limit: (f64, f64),
    /// Whether the server was still running at the end.
    server_alive: bool,
    /// Whether the server (taskset) and the devices were both pinned, to separate cores unless
    /// told otherwise.
    pinned: bool,
}

pub fn run(args: FloodArgs) -> Result<ExitCode> {
    ensure!(
        args.phase_s > 0.0 && args.phases >= 2,
        "need --phase-s > 0 and --phases >= 2"
    );
    ensure!(args.devices >= 1, "need at least one well-behaved device");
    ensure!(
        args.flood_factor > 0.0 && args.good_fraction > 0.0,
        "--flood-factor and --good-fraction must be positive"
    );
    let prepared = Prepared::new(&load_model(&args.model)?)?;
    let inputs = noise_inputs(&prepared, 1)?;
    let name = loadpart_graph::model_name(&args.model);
    let request = Arc::new(wire::request(
        &RequestMeta {
            model: &name,
            identity: None,
            cut: None,
            outputs: &[],
            timeout: None,
        },
        wire::raw_tensors(&inputs)?,
    ));

    pinning::init();
    let apart = !args.no_pin && pinning::cores() >= 2;
    let server_cpus = match (&args.server_cpus, apart) {
        (Some(c), _) if !args.no_pin => Some(c.clone()),
        (None, true) => {
            core_affinity::get_core_ids().and_then(|ids| ids.first().map(|c| c.id.to_string()))
        }
        _ => None,
    };
    let client_core = if args.no_pin {
        None
    } else {
        args.client_core.or(apart.then_some(1))
    };
    let mut extra = vec!["--threads".to_string(), "1".to_string()];
    if !apart {
        // Sharing cores with the devices: idle engine threads must not spin.
        extra.extend(["--spinning".to_string(), "off".to_string()]);
    }
    extra.extend(args.serve_args.iter().cloned());
    let mut server = ServeChild::start(
        &args.model,
        server_cpus.as_deref(),
        &extra,
        Duration::from_secs(120),
    )?;
    let pinned = match client_core {
        Some(c) => pinning::pin_current(c),
        None => false,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let url = format!("http://{}", server.addr);
    let (summary, rates, before) = rt.block_on(drive(&args, &url, request, server.metrics))?;
    let after = scrape(server.metrics).unwrap_or_default();
    // Refusals during the phases only (the warm-up's closed loop may exceed a share).
    let refusals = |labels: &[&str]| {
        let name = "loadpart_fair_share_refusals_total";
        counter(&after, name, labels) - counter(&before, name, labels)
    };
    let report = Report {
        server_refusals_flood: refusals(&[&format!("device=\"{FLOODER}\"")]),
        server_refusals_good: refusals(&["device=\"good-"]),
        server_refusals_flood_by_limit: (
            refusals(&[&format!("device=\"{FLOODER}\""), "reason=\"queued\""]),
            refusals(&[&format!("device=\"{FLOODER}\""), "reason=\"rate\""]),
        ),
        server_refusals_good_by_limit: (
            refusals(&["device=\"good-", "reason=\"queued\""]),
            refusals(&["device=\"good-", "reason=\"rate\""]),
        ),
        server_alive: server.alive(),
        share_per_s: rates.0,
        good_rate_per_s: rates.1,
        flood_rate_per_s: rates.2,
        summary,
        pinned: pinned && server_cpus.is_some(),
    };
    drop(server);
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        outln!(
            "{} well-behaved devices at {:.1} requests/s each ({:.0}% of a fair share of {:.1}/s); \
             flooder at {:.1}/s ({}x) in flood phases; {} phases of {} s{}",
            args.devices,
            report.good_rate_per_s,
            args.good_fraction * 100.0,
            report.share_per_s,
            report.flood_rate_per_s,
            args.flood_factor,
            args.phases,
            args.phase_s,
            if report.pinned {
                ""
            } else {
                "; server and devices NOT pinned apart"
            }
        );
        print!("{}", table::render(&report.summary));
        outln!(
            "server metrics: {} fair-share refusals of the flooder ({} queued, {} rate), {} of \
             well-behaved devices ({} queued, {} rate); server {}",
            report.server_refusals_flood,
            report.server_refusals_flood_by_limit.0,
            report.server_refusals_flood_by_limit.1,
            report.server_refusals_good,
            report.server_refusals_good_by_limit.0,
            report.server_refusals_good_by_limit.1,
            if report.server_alive {
                "still serving"
            } else {
                "DIED"
            }
        );
    }
    Ok(if report.server_alive {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The flooding device's identity.
const FLOODER: &str = "flood";

/// Warm-up, then the phases; returns the summary, (share, good rate, flood rate) per second,
/// and the server's metrics text from before the phases.
async fn drive(
    args: &FloodArgs,
    url: &str,
    request: Arc<loadpart_proto::inference::ModelInferRequest>,
    metrics: std::net::SocketAddr,
) -> Result<(table::Summary, (f64, f64, f64), String)> {
    // One connection per device, as real devices have: on a shared HTTP/2 connection the
    // flooder's request bodies would delay the others' in the same TCP stream, which is the
    // client's doing, not the server's.
    let connect = || Remote::new(url, loadpart_proto::DEFAULT_MAX_MESSAGE_BYTES);
    let remote = connect()?;
    let good_names: Vec<String> = (0..args.devices).map(|i| format!("good-{i}")).collect();
    // The warm-up's closed loop runs over its shares once the capacity is known, and a device
    // refused for its rate has its share cut for a while (`--fair-overuse-factor`): so it runs
    // as identities of its own, which leave the active set five seconds into the first phase.
    let warm_names: Vec<String> = (0..args.devices).map(|i| format!("warm-{i}")).collect();
    warm_up(
        &remote,
        &request,
        &warm_names,
        Duration::from_secs_f64(args.warmup_s),
    )
    .await?;
    // The share with the flooder active too: the rate limit the server reports for `devices`
    // active devices, scaled to one more; asked as the flooder, which has not sent yet (so its
    // share is not cut, and asking is not activity).
    let mut ask = tonic::Request::new(LoadRequest::default());
    ask.metadata_mut()
        .insert(loadpart_proto::names::DEVICE_HEADER, FLOODER.parse()?);
    let report = remote
        .loadpart
        .clone()
        .get_load(ask)
        .await
        .context("asking the server for the devices' share")?
        .into_inner();
    let Some(rate) = report.device_share.and_then(|s| s.rate_limit_per_s) else {
        bail!(
            "the server reports no per-device rate limit after the warm-up: is fair share on \
             (and more than one device active)?"
        );
    };
    let before = scrape(metrics).unwrap_or_default();
    let n = args.devices as f64;
    let share = rate * n / (n + 1.0);
    let (good_rate, flood_rate) = (args.good_fraction * share, args.flood_factor * share);
    let phases = Phases {
        start: Instant::now() + Duration::from_millis(200),
        len: Duration::from_secs_f64(args.phase_s),
        count: args.phases,
    };
    let timeout = Duration::from_millis(args.timeout_ms);
    let bounds = Bounds {
        timeout,
        max_in_flight: 64,
    };
    let mut good = tokio::task::JoinSet::new();
    for (i, name) in good_names.iter().enumerate() {
        let device = Device {
            name: name.clone(),
            rate_per_s: good_rate,
            flood_only: false,
            seed: 100 + i as u64,
        };
        good.spawn(traffic::run(
            connect()?,
            request.clone(),
            device,
            phases,
            bounds,
        ));
    }
    let flooder = Device {
        name: FLOODER.into(),
        rate_per_s: flood_rate,
        flood_only: true,
        seed: 7,
    };
    let flood = traffic::run(
        connect()?,
        request.clone(),
        flooder,
        phases,
        Bounds {
            timeout,
            max_in_flight: 512,
        },
    )
    .await;
    let mut good_samples = Vec::new();
    while let Some(r) = good.join_next().await {
        good_samples.extend(r?);
    }
    Ok((
        table::summarize(&good_samples, &flood, args.phases),
        (share, good_rate, flood_rate),
        before,
    ))
}

/// Each well-behaved device closed loop (one request at a time) for `d`, so that the server
/// measures its capacity and sees them active.
async fn warm_up(
    remote: &Remote,
    request: &Arc<loadpart_proto::inference::ModelInferRequest>,
    names: &[String],
    d: Duration,
) -> Result<()> {
    let end = Instant::now() + d;
    let mut tasks = tokio::task::JoinSet::new();
    for name in names {
        let header: tonic::metadata::MetadataValue<tonic::metadata::Ascii> = name.parse()?;
        let (mut stub, request) = (remote.infer.clone(), request.clone());
        tasks.spawn(async move {
            let mut ok = 0u64;
            // Bounded by time and by count.
            for _ in 0..100_000 {
                if Instant::now() >= end {
                    break;
                }
                let mut r = tonic::Request::new((*request).clone());
                r.set_timeout(Duration::from_secs(10));
                r.metadata_mut()
                    .insert(loadpart_proto::names::DEVICE_HEADER, header.clone());
                if stub.model_infer(r).await.is_ok() {
                    ok += 1;
                }
            }
            ok
        });
    }
    let mut ok = 0;
    while let Some(r) = tasks.join_next().await {
        ok += r?;
    }
    ensure!(ok > 0, "no request was answered during the warm-up");
    Ok(())
}

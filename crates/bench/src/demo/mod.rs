//! `loadpart demo`: an edge server and several emulated devices on this machine, with load and
//! bandwidth that change while they run.
//!
//! One job per file: `scenario` (the phases: link rates and synthetic load), `record` (what every
//! request did, and the summary table), `live` (the terminal view), `timeline` (the SVG).

pub mod live;
pub mod record;
pub mod scenario;
pub mod timeline;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::loadgen::{self, Arrivals, LoadGenConfig};
use anyhow::{Context, Result};
use loadpart_client::{Client, ClientConfig, InferOptions, Remote};
use loadpart_engine::{Engine, EngineKind, LoadOptions};
use loadpart_graph::Prepared;
use loadpart_linkem::{LinkShape, Relay};
use loadpart_plan::{PolicyKind, ProfileRole};
use loadpart_proto::loadpart::LoadRequest;
use loadpart_runtime::{ModelRuntime, NamedTensors, PartCache};
use loadpart_server::{ModelSpec, ServerConfig};
use tokio::sync::watch;

use crate::demo::live::{DeviceView, LastDecision, Live, LiveState};
use crate::demo::record::{POLICIES, Record, summary};
use crate::demo::scenario::{bounds, default_phases, phase_at};
use crate::demo::timeline::LoadPoint;
use crate::embedded::ServerThread;
use crate::pinning;
use crate::profiles::{ProfileKey, cached_profile};
use crate::remote_model::noise_inputs;
use loadpart_engine::engine_or_tract;
use loadpart_graph::load_model;

/// Watch load-aware partitioning at work: starts an edge server and several emulated devices on
/// this machine (loopback only, nothing to set up) and runs a short story in four phases: fast
/// links and an idle server; the server busy with other devices' requests (synthetic load from
/// the load generator); links 8x slower; back to normal. Each device is several times slower than
/// the server, as phones are (each run lasts its profiled time times --device-slowdown: the real
/// run, then a sleep, so that devices sharing one core do not slow each other), and reaches it through its own rate-limited link (a pacing relay on
/// loopback). Request by request, each device cycles through four policies under the same
/// conditions: loadpart (load- and bandwidth-aware), neurosurgeon (bandwidth-aware, ignores
/// load), local (everything on the device) and server (everything offloaded). The live view
/// shows the cut loadpart picks on each device and its predicted breakdown; the end shows a
/// summary per phase and writes an SVG timeline.
///
/// Profiles of the model (device and server) are measured on first use and cached in
/// .loadpart/profiles.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model: a path to an .onnx file, zoo:NAME, or a light model name.
    #[arg(long, default_value = "zoo:mobilenet")]
    model: String,
    /// Emulated devices.
    #[arg(long, default_value_t = 3)]
    devices: usize,
    /// Length of the story, seconds.
    #[arg(long, default_value_t = 40.0)]
    seconds: f64,
    /// Each device's run time is this many times the server's (emulated by sleeping). Phones
    /// run DNNs several to tens of times slower than an edge server; at 8x the generated
    /// MobileNet's cut moves with load and bandwidth on this kind of machine.
    #[arg(long, default_value_t = 8.0)]
    device_slowdown: f64,
    /// Base link rate of each device, Mbit/s, comma separated (reused in turn when there are
    /// more devices).
    #[arg(long, value_delimiter = ',', default_value = "100,40,15")]
    link_mbit: Vec<f64>,
    /// Synthetic load in the busy phase, as a fraction of the server's measured capacity.
    #[arg(long, default_value_t = 1.5)]
    load: f64,
    /// ort (ONNX Runtime; falls back to tract if its library is missing) or tract.
    #[arg(long, default_value = "ort", env = "LOADPART_ENGINE")]
    engine: EngineKind,
    /// Threads of the server's executor (and of its profile).
    #[arg(long, default_value_t = 1)]
    server_threads: usize,
    /// Where to write the SVG timeline.
    #[arg(long, default_value = "loadpart-demo.svg")]
    plot: std::path::PathBuf,
    /// Also write every request as a JSON line here.
    #[arg(long)]
    records: Option<std::path::PathBuf>,
    /// TLS on the demo's server: its certificate chain (PEM; with --tls-key and --tls-ca). The
    /// certificate must name `localhost` (or --tls-domain).
    #[arg(long, requires_all = ["tls_key", "tls_ca"])]
    tls_cert: Option<std::path::PathBuf>,
    /// TLS: the server's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Device tokens file of the demo's server (`NAME TOKEN` lines); the phones and the load
    /// generator send --token.
    #[arg(long, requires = "token")]
    tokens: Option<std::path::PathBuf>,
    #[command(flatten)]
    access: crate::remote_model::AccessArgs,
}

pub fn run(args: Args) -> Result<ExitCode> {
    // Devices (this thread and every thread it creates) on core 1, the server on core 0.
    let pinned = pinning::cores() >= 2 && pinning::pin_current(1);
    if !pinned {
        eprintln!("note: devices and server are not pinned to separate cores; timings are noisier");
    }
    anyhow::ensure!(args.devices >= 1, "--devices must be at least 1");
    anyhow::ensure!(
        args.seconds >= 4.0 && args.seconds.is_finite(),
        "--seconds must be at least 4"
    );
    anyhow::ensure!(
        !args.link_mbit.is_empty() && args.link_mbit.iter().all(|r| *r > 0.0),
        "--link-mbit needs positive rates"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(demo(args, pinned))
}

/// A short, readable name of a cut: the local/offload extremes by name, else its first tensor
/// and how many there are.
fn cut_label(cut: &str, full_local: &str, full_offload: &str) -> String {
    if cut == full_local {
        return "(all local)".into();
    }
    if cut == full_offload {
        return "(all offloaded)".into();
    }
    let id = loadpart_cuts::CutId::parse(cut).map(|c| c.names());
    match id {
        Ok(names) if names.len() > 1 => format!("{} +{}", names[0], names.len() - 1),
        Ok(names) if !names.is_empty() => names[0].clone(),
        _ => cut.to_string(),
    }
}

async fn demo(args: Args, pinned: bool) -> Result<ExitCode> {
    let tty = std::io::stderr().is_terminal();
    let model = load_model(&args.model)?;
    let prepared = Arc::new(Prepared::new(&model)?);
    let engine: Arc<dyn Engine> = Arc::from(engine_or_tract(args.engine)?);
    eprintln!(
        "model {} ({} stages), engine {}; devices {}x slower than the server",
        args.model,
        prepared.stages.dag().node_count(),
        engine.kind(),
        args.device_slowdown
    );

    // The server: its own thread and runtime, pinned to core 0 when there are two cores (the
    // devices run on core 1); its profile is measured there, under the same pinning.
    let server_key = ProfileKey {
        role: ProfileRole::Server,
        batch_sizes: vec![1, 2, 4, 8],
        threads: args.server_threads,
        // As the embedded server runs (ServerConfig's default).
        spinning: loadpart_engine::Spinning::Off,
        effort: loadpart_exec::ProfileEffort::Quick,
    };
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse()?,
        models: vec![ModelSpec::new(args.model.clone())],
        engine: engine.kind(),
        intra_threads: args.server_threads,
        max_queue_len: 64,
        // A short window, so that the load report follows the story's phases closely.
        load_window: Duration::from_secs(2),
        tls: match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(loadpart_server::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        },
        tokens: args.tokens.clone(),
        ..ServerConfig::default()
    };
    let mut access = args.access.access()?;
    if access.tls_ca.is_some() && access.tls_domain.is_none() {
        // The phones reach the server through relays on 127.0.0.1 ports.
        access.tls_domain = Some("localhost".into());
    }
    let server = ServerThread::start(
        config,
        engine.clone(),
        prepared.clone(),
        server_key,
        pinned.then_some(0),
    )
    .await?;
    let device_key = ProfileKey {
        role: ProfileRole::Device,
        batch_sizes: vec![1],
        threads: 1,
        spinning: loadpart_engine::Spinning::Off,
        effort: loadpart_exec::ProfileEffort::Quick,
    };
    let device_profile = {
        let (engine, prepared) = (engine.clone(), prepared.clone());
        tokio::task::spawn_blocking(move || cached_profile(engine.as_ref(), &prepared, &device_key))
            .await??
            .0
    };
    let model_name = server.model.clone();
    let server_url = format!("http://{}", server.addr);

    // Devices: each behind its own link.
    let base: Vec<f64> = (0..args.devices)
        .map(|i| args.link_mbit[i % args.link_mbit.len()])
        .collect();
    let mut relays = Vec::new();
    for &mbit in &base {
        relays.push(
            Relay::start(
                "127.0.0.1:0".parse()?,
                server.addr,
                LinkShape::symmetric_bits(mbit * 1e6),
            )
            .await?,
        );
    }
    let cache = Arc::new(PartCache::new(1 << 30));
    let device_rt = Arc::new(ModelRuntime::new(
        engine.clone(),
        prepared.clone(),
        cache,
        LoadOptions {
            intra_threads: 1,
            ..LoadOptions::default()
        },
    ));
    let mut clients = Vec::new();
    for (i, relay) in relays.iter().enumerate() {
        let mut config = ClientConfig::new(format!("http://{}", relay.addr()), &model_name);
        config.device_name = format!("phone-{}", i + 1);
        config.device_slowdown = args.device_slowdown;
        config.access = access.clone();
        // Three devices share one core: each run lasts its profiled time times the slowdown
        // (the real run, then a sleep), so that they do not slow each other down.
        config.emulate_from_profile = true;
        let c = Client::connect(config, device_rt.clone(), device_profile.clone(), None)
            .await
            .context("connecting a device")?;
        clients.push(Arc::new(c));
    }
    for c in &clients {
        if !c.wait_for_estimates(Duration::from_secs(3)).await {
            eprintln!("note: a device's estimates were not fresh after 3 s");
        }
    }
    // The devices share one part cache: warming once warms all.
    clients[0].warm_up_likely_cuts(3).await?;
    let planner = clients[0]
        .planner()
        .context("the server's profile was not fetched")?;
    let dag = planner.dag();
    let full_local = planner.full_local().id(dag).to_string();
    let full_offload = planner.full_offload().id(dag).to_string();

    // Synthetic devices: full offloads and a mid-model cut, sent straight to the server.
    let direct = Remote::with_access(
        &server_url,
        loadpart_proto::DEFAULT_MAX_MESSAGE_BYTES,
        &access,
    )?;
    let candidates: Vec<_> = planner.candidates().map(|c| c.cut.clone()).collect();
    let mid = candidates[candidates.len() / 2].id(dag);
    let mix = vec![(planner.full_offload().id(dag), 1.0), (mid, 1.0)];
    let payloads = {
        let (rt, name, x) = (
            device_rt.clone(),
            model_name.clone(),
            noise_inputs(&prepared, 99)?,
        );
        tokio::task::spawn_blocking(move || {
            loadgen::payloads(&rt, &name, &mix, &x, Default::default())
        })
        .await??
    };
    eprint!("measuring the server's capacity (2 s)... ");
    let capacity =
        loadgen::measure_capacity(&direct, &payloads[0], 8, Duration::from_secs(2)).await?;
    eprintln!("{capacity:.0} requests/s");
    // Let the server's load window forget the capacity run before the story starts.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let phases = default_phases(args.load);
    let spans = bounds(&phases, args.seconds);
    let (rate_tx, rate_rx) = watch::channel(0.0f64);
    let loadgen_task = {
        let (direct, payloads) = (direct.clone(), Arc::new(payloads));
        let config = LoadGenConfig {
            duration: Duration::from_secs_f64(args.seconds),
            devices: 16,
            timeout: Duration::from_secs(2),
            max_in_flight: 256,
            seed: 7,
            identities: Vec::new(),
        };
        tokio::spawn(async move {
            loadgen::run(&direct, payloads, Arrivals::Poisson(rate_rx), &config).await
        })
    };

    let start = Instant::now();
    let total = Duration::from_secs_f64(args.seconds);
    let records: Arc<Mutex<Vec<Record>>> = Arc::default();
    let state = Arc::new(Mutex::new(LiveState {
        total: args.seconds,
        devices: (0..args.devices)
            .map(|i| DeviceView {
                name: format!("phone-{}", i + 1),
                link_mbit: base[i],
                last: None,
            })
            .collect(),
        ..LiveState::default()
    }));
    let phase_now = Arc::new(std::sync::atomic::AtomicUsize::new(0));

    // The devices' request loops.
    let mut device_tasks = Vec::new();
    for (i, client) in clients.iter().enumerate() {
        let (client, records, state, phase_now) = (
            client.clone(),
            records.clone(),
            state.clone(),
            phase_now.clone(),
        );
        let xs: Vec<NamedTensors> = (0..4)
            .map(|k| noise_inputs(&prepared, (i * 10 + k) as u64))
            .collect::<Result<_>>()?;
        let (fl, fo) = (full_local.clone(), full_offload.clone());
        device_tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while start.elapsed() < total {
                let policy = POLICIES[n % POLICIES.len()];
                let x = xs[(n / POLICIES.len()) % xs.len()].clone();
                n += 1;
                let opts = InferOptions {
                    policy: Some(policy.parse::<PolicyKind>().expect("known policy")),
                    ..InferOptions::default()
                };
                let o = match client.infer(x, &opts).await {
                    Ok(o) => o,
                    Err(e) => return Err(anyhow::Error::from(e)),
                };
                let phase = phase_now.load(std::sync::atomic::Ordering::Relaxed);
                let rec = Record::new(start.elapsed().as_secs_f64(), phase, i, &o);
                if policy == "loadpart" {
                    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                    s.devices[i].last = Some(LastDecision {
                        cut: cut_label(&rec.cut, &fl, &fo),
                        head_fraction: o.head_fraction,
                        latency_ms: rec.latency_ms,
                        predicted: o.predicted,
                        route: rec.route,
                        estimate_mbit: o.estimate.uplink_bytes_per_s * 8e-6,
                    });
                }
                records.lock().unwrap_or_else(|p| p.into_inner()).push(rec);
            }
            Ok(())
        }));
    }

    // The story: phases, the live view, and the server's load.
    let live = Live::new(args.devices, tty);
    let mut load_points = Vec::new();
    let mut current = usize::MAX;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut n_tick = 0u64;
    while start.elapsed() < total {
        tick.tick().await;
        n_tick += 1;
        let t = start.elapsed().as_secs_f64();
        let p = phase_at(&spans, t);
        if p != current {
            current = p;
            phase_now.store(p, std::sync::atomic::Ordering::Relaxed);
            let ph = &phases[p];
            for (relay, &mbit) in relays.iter().zip(&base) {
                relay.set_shape(LinkShape::symmetric_bits(mbit * ph.link_factor * 1e6));
            }
            rate_tx.send_replace(ph.load * capacity);
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            s.phase = (p + 1, ph.name.to_string());
            s.offered_per_s = ph.load * capacity;
            for (d, &mbit) in s.devices.iter_mut().zip(&base) {
                d.link_mbit = mbit * ph.link_factor;
            }
            live.println(&format!("t={t:>5.1}s  phase {}: {}", p + 1, ph.name));
        }
        let mut req = tonic::Request::new(LoadRequest {
            model_name: model_name.clone(),
        });
        req.set_timeout(Duration::from_millis(500));
        if let Ok(r) = direct.loadpart.clone().get_load(req).await {
            let r = r.into_inner();
            load_points.push(LoadPoint {
                t,
                queue_ms: r.queue_wait_mean_us * 1e-3,
                requests_per_s: r.requests_per_s,
            });
            state.lock().unwrap_or_else(|p| p.into_inner()).load =
                Some(loadpart_client::wire::load_sample(&r));
        }
        let snapshot = {
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            s.t = t;
            s.clone()
        };
        live.show(&snapshot, n_tick.is_multiple_of(15));
    }
    rate_tx.send_replace(0.0);
    for t in device_tasks {
        t.await??;
    }
    live.finish();
    let synthetic = loadgen_task.await??;
    drop(clients);
    drop(relays);
    server.stop().await?;

    let records = std::mem::take(&mut *records.lock().unwrap_or_else(|p| p.into_inner()));
    let names: Vec<&str> = phases.iter().map(|p| p.name).collect();
    println!();
    println!(
        "{} requests from {} devices in {:.0} s; synthetic devices sent {} ({} answered, {} refused for load, {} past deadline)",
        records.len(),
        args.devices,
        args.seconds,
        synthetic.arrivals,
        synthetic.ok,
        synthetic.rejected,
        synthetic.deadline
    );
    println!();
    print!("{}", summary(&records, &names));
    let phase_spans: Vec<(f64, f64, String)> = spans
        .iter()
        .zip(&phases)
        .map(|(&(a, b), p)| (a, b, p.short.to_string()))
        .collect();
    let device_names: Vec<String> = (1..=args.devices).map(|i| format!("phone-{i}")).collect();
    timeline::write(
        &args.plot,
        &records,
        &load_points,
        &phase_spans,
        &device_names,
        &format!(
            "loadpart demo: {} on {} devices {}x slower than the server",
            model_name, args.devices, args.device_slowdown
        ),
    )?;
    println!("\ntimeline: {}", args.plot.display());
    if let Some(path) = &args.records {
        let mut text = String::new();
        for r in &records {
            text.push_str(&serde_json::to_string(r)?);
            text.push('\n');
        }
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

//! The demo's cast, before the story starts: the model, the edge server on its own core, the
//! phones behind their own links, and the synthetic devices that load the server.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use loadpart_client::{Access, Client, ClientConfig, Remote};
use loadpart_engine::{Engine, engine_or_tract};
use loadpart_exec::ProfileEffort;
use loadpart_graph::{Prepared, load_model};
use loadpart_linkem::{LinkShape, Relay};
use loadpart_plan::ProfileRole;
use loadpart_runtime::ModelRuntime;
use loadpart_server::{ModelSpec, ServerConfig, TlsFiles};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::args::Args;
use crate::embedded::ServerThread;
use crate::loadgen::{self, Arrivals, LoadGenConfig, LoadGenReport};
use crate::profiles::{ProfileKey, cached_profile};
use crate::remote_model::noise_inputs;

/// The model and the engine every part of the demo runs it on.
pub struct Model {
    pub prepared: Arc<Prepared>,
    pub engine: Arc<dyn Engine>,
}

impl Model {
    pub fn load(args: &Args) -> Result<Self> {
        let prepared = Arc::new(Prepared::new(&load_model(&args.model)?)?);
        let engine: Arc<dyn Engine> = Arc::from(engine_or_tract(args.engine)?);
        eprintln!(
            "model {} ({} stages), engine {}; devices {}x slower than the server",
            args.model,
            prepared.stages.dag().node_count(),
            engine.kind(),
            args.device_slowdown
        );
        Ok(Self { prepared, engine })
    }
}

/// The server: its own thread and runtime, pinned to core 0 when there are two cores (the
/// devices run on core 1); its profile is measured there, under the same pinning.
pub async fn start_server(args: &Args, model: &Model, pinned: bool) -> Result<ServerThread> {
    let key = ProfileKey {
        role: ProfileRole::Server,
        batch_sizes: vec![1, 2, 4, 8],
        threads: args.server_threads,
        // As the embedded server runs (ServerConfig's default).
        spinning: loadpart_engine::Spinning::Off,
        effort: ProfileEffort::Quick,
        ..ProfileKey::device()
    };
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse()?,
        models: vec![ModelSpec::new(args.model.clone())],
        engine: model.engine.kind(),
        intra_threads: args.server_threads,
        max_queue_len: 64,
        // A short window, so that the load report follows the story's phases closely.
        load_window: Duration::from_secs(2),
        tls: match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        },
        tokens: args.tokens.clone(),
        fair_share: loadpart_server::FairShareConfig {
            enabled: args.fair_share,
            ..Default::default()
        },
        ..ServerConfig::default()
    };
    ServerThread::start(
        config,
        model.engine.clone(),
        model.prepared.clone(),
        key,
        pinned.then_some(0),
    )
    .await
}

/// The phones: each its own client behind its own pacing relay, all sharing one part cache.
pub struct Devices {
    /// Each phone's link.
    pub relays: Vec<Relay>,
    /// Each phone's link rate outside the slow phase, Mbit/s.
    pub base_mbit: Vec<f64>,
    pub clients: Vec<Arc<Client>>,
    pub runtime: Arc<ModelRuntime>,
    /// Cut ids of the whole model on the phone and of sending the inputs.
    pub full_local: String,
    pub full_offload: String,
    /// How the phones (and the synthetic devices) reach the server.
    pub access: Access,
}

impl Devices {
    pub async fn start(args: &Args, model: &Model, server: &ServerThread) -> Result<Self> {
        let mut access = args.access.access()?;
        if access.tls_ca.is_some() && access.tls_domain.is_none() {
            // The phones reach the server through relays on 127.0.0.1 ports.
            access.tls_domain = Some("localhost".into());
        }
        let device_profile = {
            let (engine, prepared) = (model.engine.clone(), model.prepared.clone());
            tokio::task::spawn_blocking(move || {
                cached_profile(engine.as_ref(), &prepared, &ProfileKey::device())
            })
            .await??
            .0
        };
        let base_mbit: Vec<f64> = (0..args.devices)
            .map(|i| args.link_mbit[i % args.link_mbit.len()])
            .collect();
        let mut relays = Vec::new();
        for &mbit in &base_mbit {
            relays.push(
                Relay::start(
                    "127.0.0.1:0".parse()?,
                    server.addr,
                    LinkShape::symmetric_bits(mbit * 1e6),
                )
                .await?,
            );
        }
        let runtime = crate::remote_model::device_runtime(
            model.engine.clone(),
            model.prepared.clone(),
            1 << 30,
        );
        let mut clients = Vec::new();
        for (i, relay) in relays.iter().enumerate() {
            let mut config = ClientConfig::new(format!("http://{}", relay.addr()), &server.model);
            config.device_name = phone_name(i);
            config.device_slowdown = args.device_slowdown;
            config.access = access.clone();
            // Three devices share one core: each run lasts its profiled time times the slowdown
            // (the real run, then a sleep), so that they do not slow each other down.
            config.emulate_from_profile = true;
            let c = Client::connect(config, runtime.clone(), device_profile.clone(), None)
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
        Ok(Self {
            full_local: planner.full_local().id(dag).to_string(),
            full_offload: planner.full_offload().id(dag).to_string(),
            relays,
            base_mbit,
            clients,
            runtime,
            access,
        })
    }
}

/// Phone `i`'s name, as the server counts it.
pub fn phone_name(i: usize) -> String {
    format!("phone-{}", i + 1)
}

/// The synthetic devices: full offloads and a mid-model cut sent straight to the server,
/// open-loop, at a rate the story sets.
pub struct SyntheticLoad {
    /// A connection to the server without a shaped link (also for load polls).
    pub direct: Remote,
    /// Requests per second the server completed closed-loop before the story.
    pub capacity_per_s: f64,
    /// The offered rate, requests/s (0 pauses the generator).
    pub rate: watch::Sender<f64>,
    task: JoinHandle<Result<LoadGenReport, loadpart_client::ClientError>>,
}

impl SyntheticLoad {
    pub async fn start(
        args: &Args,
        model: &Model,
        server: &ServerThread,
        devices: &Devices,
    ) -> Result<Self> {
        let direct = Remote::with_access(
            &format!("http://{}", server.addr),
            loadpart_proto::DEFAULT_MAX_MESSAGE_BYTES,
            &devices.access,
        )?;
        let planner = devices.clients[0]
            .planner()
            .context("the server's profile was not fetched")?;
        let dag = planner.dag();
        let candidates: Vec<_> = planner.candidates().map(|c| c.cut.clone()).collect();
        let mid = candidates[candidates.len() / 2].id(dag);
        let mix = vec![(planner.full_offload().id(dag), 1.0), (mid, 1.0)];
        let payloads = {
            let (rt, name, x) = (
                devices.runtime.clone(),
                server.model.clone(),
                noise_inputs(&model.prepared, 99)?,
            );
            tokio::task::spawn_blocking(move || {
                loadgen::payloads(&rt, &name, &mix, &x, Default::default())
            })
            .await??
        };
        eprint!("measuring the server's capacity (2 s)... ");
        let capacity_per_s =
            loadgen::measure_capacity(&direct, &payloads[0], 8, Duration::from_secs(2)).await?;
        eprintln!("{capacity_per_s:.0} requests/s");
        // Let the server's load window forget the capacity run before the story starts.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (rate, rate_rx) = watch::channel(0.0f64);
        let config = LoadGenConfig {
            duration: Duration::from_secs_f64(args.seconds),
            devices: 16,
            timeout: Duration::from_secs(2),
            max_in_flight: 256,
            seed: 7,
            identities: Vec::new(),
        };
        let task = {
            let (direct, payloads) = (direct.clone(), Arc::new(payloads));
            tokio::spawn(async move {
                loadgen::run(&direct, payloads, Arrivals::Poisson(rate_rx), &config).await
            })
        };
        Ok(Self {
            direct,
            capacity_per_s,
            rate,
            task,
        })
    }

    /// Stops the generator and returns what it sent.
    pub async fn finish(self) -> Result<LoadGenReport> {
        self.rate.send_replace(0.0);
        Ok(self.task.await??)
    }
}

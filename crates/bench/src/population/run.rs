//! One population run: a fresh server (its own core) and N fresh devices (the other core), each
//! with its own client, estimators and linkem link, inferring frames for the warm-up and the
//! measured seconds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use loadpart_client::{Client, ClientConfig, Remote, RunMemo};
use loadpart_engine::Engine;
use loadpart_graph::Prepared;
use loadpart_linkem::{LinkShape, Relay};
use loadpart_plan::{Estimate, ModelProfile, PolicyKind, ProfileRole};
use loadpart_proto::loadpart::LoadRequest;
use loadpart_server::{ModelSpec, ServerConfig, WarmCuts};

use super::config::{Population, Run};
use super::device::{self, Device};
use super::record::{Frame, Line};
use crate::embedded::ServerThread;
use crate::profiles::ProfileKey;
use crate::remote_model::noise_inputs;

/// What every run of an experiment shares.
pub struct Shared {
    pub population: Population,
    pub engine: Arc<dyn Engine>,
    pub prepared: Arc<Prepared>,
    pub device_profile: ModelProfile,
    /// Device runs, computed once for the whole experiment and replayed.
    pub memo: Arc<RunMemo>,
    /// Whether the server gets core 0 and the devices core 1.
    pub pinned: bool,
}

/// The policy of device `i` in a run of `policy`.
fn device_policy(policy: &str, i: usize) -> Result<PolicyKind> {
    Ok(match policy {
        "mix" if i.is_multiple_of(2) => PolicyKind::Loadpart,
        "mix" => PolicyKind::Neurosurgeon,
        p => p.parse()?,
    })
}

/// Runs `run`; returns its lines (frames, then `done`).
pub async fn run(sh: &Shared, run: &Run) -> Result<Vec<Line>> {
    let p = &sh.population;
    let mut spec = ModelSpec::new(p.model.clone());
    spec.randomize_seed = p.randomize_seed;
    // The articulation cuts are built before the run: every policy meets warm parts, and no
    // device pays for the first build of a tail another policy never asks for.
    spec.warm_cuts = WarmCuts::Auto(8);
    let server = ServerThread::start(
        ServerConfig {
            listen: "127.0.0.1:0".parse()?,
            models: vec![spec],
            engine: sh.engine.kind(),
            intra_threads: p.server_threads,
            max_batch_rows: p.max_batch,
            max_queue_len: p.max_queue,
            admission: run.admission,
            // Off: each device is its own identity, and a share would refuse the busiest and
            // change what is compared.
            fair_share: loadpart_server::FairShareConfig {
                enabled: false,
                ..Default::default()
            },
            ..ServerConfig::default()
        },
        sh.engine.clone(),
        sh.prepared.clone(),
        ProfileKey {
            role: ProfileRole::Server,
            batch_sizes: loadpart_exec::server_batch_sizes(p.max_batch),
            threads: p.server_threads,
            spinning: loadpart_engine::Spinning::Off,
            effort: loadpart_exec::ProfileEffort::Quick,
            ..ProfileKey::device()
        },
        sh.pinned.then_some(0),
    )
    .await?;
    let result = devices_run(sh, run, &server).await;
    server.stop().await?;
    result
}

async fn devices_run(sh: &Shared, run: &Run, server: &ServerThread) -> Result<Vec<Line>> {
    let p = &sh.population;
    let runtime =
        crate::remote_model::device_runtime(sh.engine.clone(), sh.prepared.clone(), 1 << 30);
    let input = noise_inputs(&sh.prepared, 900)?;
    let delay = Duration::from_secs_f64(p.one_way_delay_ms * 1e-3);
    let mut relays = Vec::new();
    let mut devices = Vec::new();
    for i in 0..run.devices {
        let mbit = p.link_mbit[i % p.link_mbit.len()];
        let slowdown = p.device_slowdowns[i % p.device_slowdowns.len()];
        let relay = Relay::start(
            "127.0.0.1:0".parse()?,
            server.addr,
            LinkShape {
                one_way_delay: delay,
                ..LinkShape::symmetric_bits(mbit * 1e6)
            },
        )
        .await?;
        let policy = device_policy(&run.policy, i)?;
        let mut config = ClientConfig::new(format!("http://{}", relay.addr()), &server.model);
        config.device_name = format!("device-{i}");
        config.device_slowdown = slowdown;
        config.policy = policy.clone();
        config.emulate_from_profile = true;
        config.replay_device_runs = Some(sh.memo.clone());
        config.deadline_factor = p.deadline_factor();
        if policy == PolicyKind::Loadpart {
            config.hysteresis = p.hysteresis;
        }
        // The breaker off for every policy: every failed offload falls back on its own, and
        // none keeps a device from offloading for a while.
        config.breaker.failures_to_open = u32::MAX;
        config.breaker.slow_to_open = u32::MAX;
        config.breaker.overload_backoff = Duration::ZERO;
        config.breaker.max_pushback = Duration::ZERO;
        let client = Client::connect(config, runtime.clone(), sh.device_profile.clone(), None)
            .await
            .context("connecting a device")?;
        relays.push(relay);
        devices.push((Arc::new(client), policy, mbit, slowdown));
    }
    for (c, ..) in &devices {
        c.wait_for_estimates(Duration::from_secs(5)).await;
    }
    let direct = Remote::new(
        &format!("http://{}", server.addr),
        loadpart_proto::DEFAULT_MAX_MESSAGE_BYTES,
    )?;
    let warmup = Duration::from_secs_f64(p.warmup_s);
    let horizon = p.warmup_s + p.seconds;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (client, policy, mbit, slowdown)) in devices.iter().enumerate() {
        let planner = client
            .planner()
            .context("a device has no plan: the server profile was not fetched")?;
        // The SLO: the device's best predicted latency on an idle server, over its own link.
        let idle = Estimate {
            rtt_us: 2.0 * p.one_way_delay_ms * 1e3,
            device_slowdown: *slowdown,
            ..Estimate::idle(mbit * 1e6 / 8.0)
        };
        let best_ms = planner.decide(&idle).predicted.total() * 1e-3;
        let d = Device {
            index: i,
            client: client.clone(),
            policy: policy.clone(),
            slo_ms: p.slo_factor * best_ms,
            input: input.clone(),
            // The same trace for every policy and admission setting of a repetition.
            arrivals: device::arrivals(
                p.frames_per_s,
                horizon,
                p.seed ^ ((run.rep as u64) << 32) ^ i as u64,
            ),
        };
        tasks.spawn(device::frames(d, run.clone(), start, warmup));
    }
    // The server's busy time over the measured seconds.
    tokio::time::sleep_until((start + warmup).into()).await;
    let busy_at = |direct: Remote, model: String| async move {
        let r = direct
            .loadpart
            .clone()
            .get_load(LoadRequest { model_name: model })
            .await?;
        anyhow::Ok((Instant::now(), r.into_inner().busy_seconds_total))
    };
    let (t0, busy0) = busy_at(direct.clone(), String::new()).await?;
    let mut frames: Vec<Frame> = Vec::new();
    while let Some(r) = tasks.join_next().await {
        frames.extend(r??);
    }
    let (t1, busy1) = busy_at(direct, String::new()).await?;
    let seconds = (t1 - t0).as_secs_f64();
    // One executor (the server's default): its busy time over the wall time.
    let utilization = ((busy1 - busy0) / seconds).clamp(0.0, 1.0);
    drop(devices);
    drop(relays);
    let mut lines: Vec<Line> = frames
        .into_iter()
        .map(|f| Line::Frame(Box::new(f)))
        .collect();
    lines.push(Line::Done {
        run: run.clone(),
        key: run.key(),
        utilization,
        seconds,
    });
    Ok(lines)
}

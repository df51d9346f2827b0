//! A sweep's run, model by model: an embedded server (pinned to core 0) behind the link, the
//! load generator beside it, and one measured client per device slowdown (the caller's thread,
//! core 1), then the cells not done yet.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use loadpart_client::{Client, ClientConfig, Remote};
use loadpart_engine::Engine;
use loadpart_graph::load_model;
use loadpart_graph::{Prepared, randomize_for_checks};
use loadpart_plan::ProfileRole;
use loadpart_runtime::{NamedTensors, views};
use loadpart_server::{ModelSpec, ServerConfig};

use super::background::{self, Background};
use super::cell::{CellEnv, run_cell, top1};
use super::config::Sweep;
use super::link::{Link, LinkKind};
use super::loadgen_thread::LoadThread;
use super::results::{Line, Results};
use super::security::Security;
use crate::embedded::ServerThread;
use crate::loadgen::LoadGenConfig;
use crate::profiles::ProfileKey;
use crate::progress::Progress;
use crate::remote_model::noise_inputs;

/// Shared by every model of the run.
pub struct RunCtx<'a> {
    pub sweep: &'a Sweep,
    pub link: &'a LinkKind,
    pub engine: Arc<dyn Engine>,
    /// Whether server and load generator go to core 0 and the device stays on core 1.
    pub pinned: bool,
    pub bar: &'a Progress,
    /// Cells (all models) to run in this session, and how many ran so far.
    pub total: usize,
    pub done: usize,
    /// Stop after this many cells (for tests of resuming).
    pub max_cells: Option<usize>,
}

/// Runs every cell of `model` that `results` does not hold yet.
pub async fn run_model(ctx: &mut RunCtx<'_>, model: &str, results: &mut Results) -> Result<()> {
    let sweep = ctx.sweep;
    let todo: Vec<_> = sweep
        .cells(model)
        .into_iter()
        .filter(|c| !results.is_done(c))
        .collect();
    if todo.is_empty() || ctx.max_cells.is_some_and(|m| ctx.done >= m) {
        return Ok(());
    }
    let loaded = load_model(model)?;
    let loaded = match sweep.randomize_seed {
        Some(s) => randomize_for_checks(&loaded, s)?,
        None => loaded,
    };
    let prepared = Arc::new(Prepared::new(&loaded)?);
    // The server randomizes the weights with the same seed, so both hold the same model.
    let mut spec = ModelSpec::new(model.to_string());
    spec.randomize_seed = sweep.randomize_seed;
    let mut config = ServerConfig {
        listen: Link::listen(ctx.link),
        // On the test bed it listens on every address of a namespace that has only loopback
        // (the devices' shaped 127.0.0.1 and the load generator's unshaped 127.0.0.2).
        insecure_listen: matches!(ctx.link, LinkKind::Testbed { .. }),
        models: vec![spec],
        engine: ctx.engine.kind(),
        intra_threads: sweep.server_threads,
        max_batch_rows: sweep.max_batch,
        // Off: a cell's load must be the level it is labelled with. At high levels each of the
        // load generator's identities sends near its share (0.9 x capacity / 16), and with a
        // bucket of one request Poisson bunching alone would get some of it refused, lowering
        // the load; the evaluation measures planning under a known load, not fair share.
        fair_share: loadpart_server::FairShareConfig {
            enabled: false,
            ..Default::default()
        },
        admission: sweep.admission,
        // Without admission control requests wait: a large bound, so that the queue is the
        // batcher's, not a refusal in disguise.
        max_queue_len: if sweep.admission { 256 } else { 4096 },
        ..ServerConfig::default()
    };
    let security = sweep
        .security
        .then(|| Security::new(sweep.load_devices))
        .transpose()?;
    if let Some(s) = &security {
        s.apply(&mut config);
    }
    let server_key = ProfileKey {
        role: ProfileRole::Server,
        batch_sizes: loadpart_exec::server_batch_sizes(sweep.max_batch),
        threads: sweep.server_threads,
        spinning: loadpart_engine::Spinning::Off,
        effort: loadpart_exec::ProfileEffort::Quick,
        ..ProfileKey::device()
    };
    let server = ServerThread::start(
        config,
        ctx.engine.clone(),
        prepared.clone(),
        server_key,
        ctx.pinned.then_some(0),
    )
    .await?;
    let result = run_on_server(
        ctx,
        model,
        &server,
        security.as_ref(),
        prepared,
        results,
        todo,
    )
    .await;
    server.stop().await?;
    result
}

async fn run_on_server(
    ctx: &mut RunCtx<'_>,
    model: &str,
    server: &ServerThread,
    security: Option<&Security>,
    prepared: Arc<Prepared>,
    results: &mut Results,
    todo: Vec<super::config::Cell>,
) -> Result<()> {
    let sweep = ctx.sweep;
    let runtime =
        crate::remote_model::device_runtime(ctx.engine.clone(), prepared.clone(), 2 << 30);
    let device_profile =
        crate::profiles::device_profile(ctx.engine.clone(), prepared.clone()).await?;
    let link = Link::start(ctx.link, server.addr, todo[0].mbit).await?;
    let direct_url = link.direct_url(server.addr);
    let access = security.map(Security::measured).unwrap_or_default();
    let direct = Remote::with_access(
        &direct_url,
        loadpart_proto::DEFAULT_MAX_MESSAGE_BYTES,
        &access,
    )?;

    // Inputs and their local top-1 classes.
    let inputs: Vec<NamedTensors> = (0..4)
        .map(|s| noise_inputs(&prepared, 1000 + s))
        .collect::<Result<_>>()?;
    let local_top1: Vec<usize> = {
        let (rt, xs) = (runtime.clone(), inputs.clone());
        tokio::task::spawn_blocking(move || -> Result<Vec<usize>> {
            let full = rt.full()?;
            xs.iter()
                .map(|x| {
                    let out = full.run(&views(x))?.outputs;
                    top1(&out).context("the model's first output is not f32")
                })
                .collect()
        })
        .await??
    };

    // The load generator, and the capacity (measured once per sweep and model).
    let mix = crate::mix::mix(&sweep.load_mix, &prepared)?;
    let payloads = {
        let (rt, name, x) = (
            runtime.clone(),
            server.model.clone(),
            noise_inputs(&prepared, 99)?,
        );
        tokio::task::spawn_blocking(move || {
            crate::loadgen::payloads(&rt, &name, &mix, &x, Default::default())
        })
        .await??
    };
    let known = results.capacity(model);
    let (load, measured) = LoadThread::start(
        direct_url,
        security.map(Security::load_access).unwrap_or_default(),
        payloads,
        LoadGenConfig {
            duration: Duration::from_secs(7 * 24 * 3600),
            devices: sweep.load_devices.max(1),
            timeout: Duration::from_millis(sweep.load_timeout_ms),
            max_in_flight: 256,
            seed: 1,
            // Distinct identities (`loadpart-device` names, or with security on a token each):
            // with fair share on, it would divide among load_devices devices.
            identities: security.map(Security::load_identities).unwrap_or_default(),
        },
        ctx.pinned.then_some(0),
        known.is_none().then_some(sweep.capacity_s),
    )
    .await?;
    let capacity = match (known, measured) {
        (Some(c), _) => c,
        (None, Some(c)) => {
            results.append(&[Line::Capacity {
                model: model.to_string(),
                per_s: c,
            }])?;
            c
        }
        (None, None) => anyhow::bail!("no capacity"),
    };
    ctx.bar.println(&format!(
        "{model}: capacity {capacity:.1} requests/s (full offload, closed loop{})",
        if known.is_some() {
            ", from an earlier session"
        } else {
            ""
        }
    ));
    let curve: Option<Vec<(f64, f64)>> = match sweep.background.as_str() {
        "closed" => Some(match results.tenant_curve(model, sweep.tenants) {
            Some(c) => c.to_vec(),
            None => {
                ctx.bar.println(&format!(
                    "{model}: measuring the utilization of {} closed-loop tenants by think time \
                     ({} s)",
                    sweep.tenants,
                    (sweep.tenant_probe_s * background::THINK_GRID_MS.len() as f64).round()
                ));
                let c = background::calibrate(&load, &direct, sweep.tenants, sweep.tenant_probe_s)
                    .await?;
                results.append(&[Line::Tenants {
                    model: model.to_string(),
                    tenants: sweep.tenants,
                    curve: c.clone(),
                }])?;
                c
            }
        }),
        _ => None,
    };
    if let Some(c) = &curve {
        let points: Vec<String> = c
            .iter()
            .map(|(t, u)| format!("{t:.0} ms: {u:.2}"))
            .collect();
        ctx.bar.println(&format!(
            "{model}: utilization by think time: {}",
            points.join(", ")
        ));
    }
    let bg = Background {
        sweep,
        load: &load,
        capacity_per_s: capacity,
        curve: curve.as_deref(),
    };

    let result = async {
        let mut client: Option<(f64, Client)> = None;
        for cell in todo {
            if ctx.max_cells.is_some_and(|m| ctx.done >= m) {
                break;
            }
            if client
                .as_ref()
                .is_none_or(|(s, _)| *s != cell.device_slowdown)
            {
                drop(client.take());
                let mut config = ClientConfig::new(link.device_url(), &server.model);
                config.device_name = "measured".into();
                config.device_slowdown = cell.device_slowdown;
                config.access = access.clone();
                config.emulate_from_profile = sweep.device_from_profile;
                config.deadline_factor = sweep.deadline_factor();
                if !sweep.breaker {
                    config.breaker.failures_to_open = u32::MAX;
                    config.breaker.slow_to_open = u32::MAX;
                    config.breaker.overload_backoff = Duration::ZERO;
                    config.breaker.max_pushback = Duration::ZERO;
                }
                let c =
                    Client::connect(config, runtime.clone(), device_profile.clone(), None).await?;
                anyhow::ensure!(
                    c.wait_for_estimates(Duration::from_secs(5)).await,
                    "the measured client's estimates did not become fresh within 5 s"
                );
                c.warm_up_likely_cuts(3).await?;
                client = Some((cell.device_slowdown, c));
            }
            let (_, c) = client.as_ref().expect("connected above");
            let started = Instant::now();
            link.set_rate(cell.mbit).await?;
            let offered = bg.set(cell.load);
            let env = CellEnv {
                client: c,
                direct: &direct,
                model_name: &server.model,
                inputs: &inputs,
                local_top1: &local_top1,
            };
            let measure = async {
                tokio::time::sleep(Duration::from_secs_f64(sweep.settle_s)).await;
                let since = background::busy_seconds(&direct).await?;
                let records = run_cell(&env, &cell, sweep, ctx.bar, (ctx.done, ctx.total)).await?;
                let utilization = background::utilization_since(&direct, since).await?;
                anyhow::Ok((records, utilization))
            };
            // A varying background changes while the cell runs; a constant one is set above.
            let (records, utilization) = tokio::select! {
                r = measure => r?,
                () = bg.vary(&cell, started) => anyhow::bail!("the background outlived its cell"),
            };
            let mut lines: Vec<Line> = records
                .into_iter()
                .map(|r| Line::Request(Box::new(r)))
                .collect();
            lines.push(Line::Done {
                key: cell.key(),
                cell,
                link: match security {
                    // The report lists every link described, so a mixed file shows.
                    Some(_) => format!("{}, TLS + device tokens", ctx.link.describe()),
                    None => ctx.link.describe(),
                },
                capacity_per_s: capacity,
                load_offered_per_s: offered,
                seconds: started.elapsed().as_secs_f64(),
                utilization: Some(utilization),
            });
            results.append(&lines)?;
            ctx.done += 1;
        }
        Ok(())
    }
    .await;
    load.stop().await;
    result
}

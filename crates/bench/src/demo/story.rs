//! The story: the phones send request after request, cycling through the policies, while the
//! scenario's phases change their links and the synthetic load; the live view follows the cut
//! `loadpart` picks on each phone and the server's load.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use loadpart_client::{Client, InferOptions};
use loadpart_linkem::LinkShape;
use loadpart_plan::PolicyKind;
use loadpart_proto::loadpart::LoadRequest;
use loadpart_runtime::NamedTensors;
use parking_lot::Mutex;
use tokio::task::JoinHandle;

use super::args::Args;
use super::live::{DeviceView, LastDecision, Live, LiveState};
use super::record::{POLICIES, Record};
use super::scenario::{Phase, bounds, default_phases, phase_at};
use super::setup::{Devices, Model, SyntheticLoad, phone_name};
use super::timeline::LoadPoint;
use crate::remote_model::noise_inputs;

/// What the story left: every phone request, the server's load over time, and the phases.
pub struct Told {
    pub records: Vec<Record>,
    pub load_points: Vec<LoadPoint>,
    pub phases: Vec<Phase>,
    /// Each phase's start and end, seconds from the start.
    pub spans: Vec<(f64, f64)>,
}

/// Runs the story for `args.seconds`.
pub async fn tell(
    args: &Args,
    model: &Model,
    devices: &Devices,
    load: &SyntheticLoad,
) -> Result<Told> {
    let phases = default_phases(args.load);
    let spans = bounds(&phases, args.seconds);
    let start = Instant::now();
    let total = Duration::from_secs_f64(args.seconds);
    let records: Arc<Mutex<Vec<Record>>> = Arc::default();
    let state = Arc::new(Mutex::new(LiveState {
        total: args.seconds,
        devices: (0..args.devices)
            .map(|i| DeviceView {
                name: phone_name(i),
                link_mbit: devices.base_mbit[i],
                last: None,
            })
            .collect(),
        ..LiveState::default()
    }));
    let phase_now = Arc::new(AtomicUsize::new(0));
    let mut phone_tasks = Vec::new();
    for (i, client) in devices.clients.iter().enumerate() {
        let inputs: Vec<NamedTensors> = (0..4)
            .map(|k| noise_inputs(&model.prepared, (i * 10 + k) as u64))
            .collect::<Result<_>>()?;
        phone_tasks.push(phone(
            Phone {
                index: i,
                client: client.clone(),
                inputs,
                full_local: devices.full_local.clone(),
                full_offload: devices.full_offload.clone(),
            },
            Shared {
                start,
                total,
                records: records.clone(),
                state: state.clone(),
                phase_now: phase_now.clone(),
            },
        ));
    }

    // The phases, the live view, and the server's load.
    let live = Live::new(args.devices, std::io::stderr().is_terminal());
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
            phase_now.store(p, Ordering::Relaxed);
            let ph = &phases[p];
            for (relay, &mbit) in devices.relays.iter().zip(&devices.base_mbit) {
                relay.set_shape(LinkShape::symmetric_bits(mbit * ph.link_factor * 1e6));
            }
            load.rate.send_replace(ph.load * load.capacity_per_s);
            let mut s = state.lock();
            s.phase = (p + 1, ph.name.to_string());
            s.offered_per_s = ph.load * load.capacity_per_s;
            for (d, &mbit) in s.devices.iter_mut().zip(&devices.base_mbit) {
                d.link_mbit = mbit * ph.link_factor;
            }
            live.println(&format!("t={t:>5.1}s  phase {}: {}", p + 1, ph.name));
        }
        let mut req = tonic::Request::new(LoadRequest {
            model_name: devices.clients[0].config().model.clone(),
        });
        req.set_timeout(Duration::from_millis(500));
        if let Ok(r) = load.direct.loadpart.clone().get_load(req).await {
            let r = r.into_inner();
            load_points.push(LoadPoint {
                t,
                queue_ms: r.queue_wait_mean_us * 1e-3,
                requests_per_s: r.requests_per_s,
            });
            state.lock().load = Some(loadpart_client::wire::load_sample(&r));
        }
        let snapshot = {
            let mut s = state.lock();
            s.t = t;
            s.clone()
        };
        live.show(&snapshot, n_tick.is_multiple_of(15));
    }
    load.rate.send_replace(0.0);
    for t in phone_tasks {
        t.await??;
    }
    live.finish();
    let records = std::mem::take(&mut *records.lock());
    Ok(Told {
        records,
        load_points,
        phases,
        spans,
    })
}

/// One phone.
struct Phone {
    index: usize,
    client: Arc<Client>,
    /// The inputs it sends, in turn.
    inputs: Vec<NamedTensors>,
    full_local: String,
    full_offload: String,
}

/// What every phone's loop shares with the story.
struct Shared {
    start: Instant,
    total: Duration,
    records: Arc<Mutex<Vec<Record>>>,
    state: Arc<Mutex<LiveState>>,
    phase_now: Arc<AtomicUsize>,
}

/// The phone's request loop until the story ends: one request after another, each with the
/// next policy of [`POLICIES`]; `loadpart`'s decisions go to the live view.
fn phone(p: Phone, sh: Shared) -> JoinHandle<Result<()>> {
    tokio::spawn(async move {
        let mut n = 0usize;
        while sh.start.elapsed() < sh.total {
            let policy = POLICIES[n % POLICIES.len()];
            let x = p.inputs[(n / POLICIES.len()) % p.inputs.len()].clone();
            n += 1;
            let opts = InferOptions {
                policy: Some(policy.parse::<PolicyKind>().expect("known policy")),
                ..InferOptions::default()
            };
            let o = p.client.infer(x, &opts).await?;
            let phase = sh.phase_now.load(Ordering::Relaxed);
            let rec = Record::new(sh.start.elapsed().as_secs_f64(), phase, p.index, &o);
            if policy == "loadpart" {
                sh.state.lock().devices[p.index].last = Some(LastDecision {
                    cut: cut_label(&rec.cut, &p.full_local, &p.full_offload),
                    head_fraction: o.head_fraction,
                    latency_ms: rec.latency_ms,
                    predicted: o.predicted,
                    route: rec.route,
                    estimate_mbit: o.estimate.uplink_bytes_per_s * 8e-6,
                });
            }
            sh.records.lock().push(rec);
        }
        Ok(())
    })
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

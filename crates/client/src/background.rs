//! The client's background tasks: they keep the estimates fresh while the device works.
//!
//! - **Load watch**: the server's `WatchLoad` stream feeds the load estimator several times a
//!   second; when the stream breaks it is reopened.
//! - **Upkeep** (every 50 ms): fetch the server profile if the server was unreachable at start;
//!   when the circuit breaker's back-off has passed, a cheap health check (ServerReady) closes it
//!   or backs off further; otherwise link probes when an estimate is getting old (RTT first, then
//!   an upload and a download sized to last ~150 ms at the current estimate) and a load poll when
//!   the watch has gone quiet.
//!
//! Probes, polls and health checks have short deadlines, and every failure is counted by the
//! breaker, so a dead server costs the device nothing but these small calls.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use loadpart_proto::inference::ServerReadyRequest;
use loadpart_proto::loadpart::{
    LoadRequest, ProbeDownloadRequest, ProbeUploadRequest, WatchLoadRequest,
};
use tokio::task::JoinHandle;

use crate::shared::{FetchError, Shared};
use crate::wire::load_sample;
use crate::{Direction, Failure, Probe};

/// How long the link must have been quiet before a probe starts.
const PROBE_QUIET: Duration = Duration::from_millis(300);

/// Starts the tasks; they hold only weak references, so they end with the client.
pub(crate) fn spawn(shared: &Arc<Shared>) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(watch_load(Arc::downgrade(shared))),
        tokio::spawn(upkeep(Arc::downgrade(shared))),
    ]
}

fn timed<T>(msg: T, timeout: Duration) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(timeout);
    r
}

async fn watch_load(shared: Weak<Shared>) {
    loop {
        let Some(s) = shared.upgrade() else { return };
        let ok_to_watch = s.plan().is_some() && s.breaker.lock().allows_offload();
        if !ok_to_watch {
            drop(s);
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let req = WatchLoadRequest {
            model_name: s.config.model.clone(),
            min_interval_ms: s.config.watch_interval.as_millis().clamp(10, 60_000) as u32,
        };
        let mut client = s.remote.loadpart.clone();
        // The device's name comes with every call (the stubs' interceptor), so that the
        // reports' fair share is this device's.
        let req = tonic::Request::new(req);
        drop(s);
        let mut stream = match client.watch_load(req).await {
            Ok(r) => r.into_inner(),
            Err(status) => {
                tracing::debug!("load watch not opened: {status}");
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
        };
        loop {
            // A silent stream (server hung) is abandoned after 2 s and reopened.
            let msg = tokio::time::timeout(Duration::from_secs(2), stream.message()).await;
            let Some(s) = shared.upgrade() else { return };
            match msg {
                Ok(Ok(Some(report))) => {
                    let sample = load_sample(&report);
                    if let Err(e) = s
                        .estimator
                        .lock()
                        .load
                        .observe_report(&sample, Instant::now())
                    {
                        tracing::debug!("load report refused: {e}");
                    }
                }
                Ok(Ok(None)) => {
                    tracing::debug!("load watch ended by the server; reopening");
                    break;
                }
                Ok(Err(status)) => {
                    tracing::debug!("load watch failed: {status}; reopening");
                    break;
                }
                Err(_) => {
                    tracing::debug!("load watch silent for 2 s; reopening");
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn upkeep(shared: Weak<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_profile_fetch = Instant::now();
    loop {
        tick.tick().await;
        let Some(s) = shared.upgrade() else { return };
        let now = Instant::now();
        if s.plan().is_none() {
            if now >= next_profile_fetch {
                match s.fetch_server_profile().await {
                    Ok(p) => match s.install_plan(&p) {
                        Ok(()) => {
                            tracing::info!(server = %s.config.server, "server profile fetched; offloading")
                        }
                        Err(e) => tracing::warn!("server profile unusable: {e}"),
                    },
                    Err(FetchError::Fatal(e)) => {
                        tracing::warn!("server profile: {e}; running locally");
                        next_profile_fetch = now + Duration::from_secs(10);
                    }
                    Err(FetchError::Missing(_)) => {
                        s.profile_missing
                            .store(true, std::sync::atomic::Ordering::Relaxed);
                        next_profile_fetch = now + Duration::from_secs(10);
                    }
                    Err(FetchError::Unreachable(_)) => {
                        next_profile_fetch = now + Duration::from_millis(500);
                    }
                }
            }
            continue;
        }
        let health_check = s.breaker.lock().wants_health_check(now);
        if health_check {
            let ok = s
                .remote
                .infer
                .clone()
                .server_ready(timed(ServerReadyRequest {}, Duration::from_millis(500)))
                .await
                .is_ok_and(|r| r.get_ref().ready);
            let mut b = s.breaker.lock();
            if ok {
                b.success();
                tracing::info!(server = %s.config.server, "server answers again; offloading");
            } else {
                b.failure(Failure::Unreachable, Instant::now());
            }
            continue;
        }
        if !s.breaker.lock().allows_offload() {
            continue;
        }
        let (probe, up_bytes, down_bytes, poll) = {
            let e = s.estimator.lock();
            (
                e.needs_probe(now),
                e.link.next_probe_bytes(Direction::Up, now),
                e.link.next_probe_bytes(Direction::Down, now),
                e.needs_load_poll(now),
            )
        };
        // Bandwidth probes wait for a quiet link: beside an offload they would time both (and
        // neither sample would be used), and a device that offloads back to back is measured by
        // its offloads. An RTT probe moves almost nothing and takes a moment, so an idle instant
        // is enough; and it must run, or passive samples (which need the RTT) stop.
        let may_probe = |p: &Probe| match p {
            Probe::Rtt => s.link_use.idle(),
            Probe::Upload | Probe::Download => s.link_use.quiet(PROBE_QUIET, now),
        };
        if let Some(p) = probe.filter(may_probe)
            && let Err(()) = run_probe(&s, p, up_bytes, down_bytes).await
        {
            s.breaker
                .lock()
                .failure(Failure::Unreachable, Instant::now());
            continue;
        }
        if poll {
            let req = timed(
                LoadRequest {
                    model_name: s.config.model.clone(),
                },
                Duration::from_millis(500),
            );
            if let Ok(r) = s.remote.loadpart.clone().get_load(req).await {
                let _ = s
                    .estimator
                    .lock()
                    .load
                    .observe_report(&load_sample(r.get_ref()), Instant::now());
            }
        }
    }
}

/// One probe; its sample goes to the link estimator when the probe had the link alone.
async fn run_probe(s: &Shared, probe: Probe, up_bytes: u64, down_bytes: u64) -> Result<(), ()> {
    let ticket = s.link_use.begin();
    let start = Instant::now();
    let result = probe_call(s, probe, up_bytes, down_bytes).await;
    let elapsed = start.elapsed();
    let alone = s.link_use.end(ticket);
    let moved = result?;
    if !alone {
        return Ok(());
    }
    let now = Instant::now();
    let mut e = s.estimator.lock();
    let _ = match (probe, moved) {
        (Probe::Rtt, _) => e.link.observe_rtt(elapsed, now),
        (Probe::Upload, bytes) => e.link.observe_probe(Direction::Up, bytes, elapsed, now),
        (Probe::Download, 0) => return Ok(()),
        (Probe::Download, bytes) => e.link.observe_probe(Direction::Down, bytes, elapsed, now),
    };
    Ok(())
}

/// One probe call; the bytes it moved.
async fn probe_call(s: &Shared, probe: Probe, up_bytes: u64, down_bytes: u64) -> Result<u64, ()> {
    match probe {
        Probe::Rtt => {
            s.remote
                .infer
                .clone()
                .server_live(timed(Default::default(), Duration::from_secs(1)))
                .await
                .map_err(|_| ())?;
            Ok(0)
        }
        Probe::Upload => {
            let req = ProbeUploadRequest {
                payload: vec![0u8; up_bytes as usize],
            };
            s.remote
                .loadpart
                .clone()
                .probe_upload(timed(req, Duration::from_secs(10)))
                .await
                .map_err(|_| ())?;
            Ok(up_bytes)
        }
        Probe::Download => {
            let req = ProbeDownloadRequest { bytes: down_bytes };
            match s
                .remote
                .loadpart
                .clone()
                .probe_download(timed(req, Duration::from_secs(10)))
                .await
            {
                Ok(r) => Ok(r.get_ref().payload.len() as u64),
                // The server's probe budget is spent: no sample, and no sign of an unreachable
                // server.
                Err(st) if st.code() == tonic::Code::ResourceExhausted => Ok(0),
                Err(_) => Err(()),
            }
        }
    }
}

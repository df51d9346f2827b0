//! The load generator on a thread of its own, pinned beside the server (other tenants' traffic
//! is part of the server's load; on the device's core it would slow the measured device).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use loadpart_client::{Access, Remote};
use tokio::sync::{oneshot, watch};

use crate::loadgen::{self, Arrivals, LoadGenConfig, Payload, Tenants};
use crate::pinning;

/// A running load generator: open-loop arrivals at a rate (requests/s, 0 = paused) and
/// closed-loop tenants (0 = paused), both changeable at any time.
pub struct LoadThread {
    rate: watch::Sender<f64>,
    tenants: watch::Sender<Tenants>,
    stop: Option<oneshot::Sender<()>>,
    join: Option<std::thread::JoinHandle<()>>,
}

impl LoadThread {
    /// Starts the generator, paused, against `url` (the unshaped path) with `access`'s TLS trust
    /// (its identities carry their own tokens). When `measure` is given
    /// it first measures the server's capacity with that many seconds of closed-loop requests of
    /// the mix's first payload and returns it.
    pub async fn start(
        url: String,
        access: Access,
        payloads: Vec<Payload>,
        config: LoadGenConfig,
        core: Option<usize>,
        measure: Option<f64>,
    ) -> Result<(Self, Option<f64>)> {
        let (rate, rate_rx) = watch::channel(0.0f64);
        let (tenants, tenants_rx) = watch::channel(Tenants {
            count: 0,
            think_ms: 0.0,
        });
        let (stop, stop_rx) = oneshot::channel::<()>();
        let (cap_tx, cap_rx) = oneshot::channel::<Result<Option<f64>>>();
        let join = std::thread::Builder::new()
            .name("loadgen".into())
            .spawn(move || {
                if let Some(c) = core {
                    pinning::pin_current(c);
                }
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = cap_tx.send(Err(e.into()));
                        return;
                    }
                };
                rt.block_on(async move {
                    let remote = match Remote::with_access(
                        &url,
                        loadpart_proto::DEFAULT_MAX_MESSAGE_BYTES,
                        &access,
                    ) {
                        Ok(r) => r,
                        Err(e) => {
                            let _ = cap_tx.send(Err(e.into()));
                            return;
                        }
                    };
                    let cap = match measure {
                        Some(s) => loadgen::measure_capacity(
                            &remote,
                            &payloads[0],
                            16,
                            Duration::from_secs_f64(s),
                        )
                        .await
                        .map(Some)
                        .map_err(anyhow::Error::from),
                        None => Ok(None),
                    };
                    let failed = cap.is_err();
                    let _ = cap_tx.send(cap);
                    if failed {
                        return;
                    }
                    let payloads = Arc::new(payloads);
                    tokio::select! {
                        _ = loadgen::run(&remote, payloads.clone(), Arrivals::Poisson(rate_rx), &config) => {}
                        _ = loadgen::run_closed(&remote, payloads, tenants_rx, &config) => {}
                        _ = stop_rx => {}
                    }
                });
            })?;
        let cap = cap_rx
            .await
            .context("the load generator's thread ended")??;
        Ok((
            Self {
                rate,
                tenants,
                stop: Some(stop),
                join: Some(join),
            },
            cap,
        ))
    }

    /// Sets the offered rate, requests/s.
    pub fn set_rate(&self, per_s: f64) {
        self.rate.send_replace(per_s);
    }

    /// Sets the closed-loop tenants.
    pub fn set_tenants(&self, tenants: Tenants) {
        self.tenants.send_replace(tenants);
    }

    /// Stops it (requests in flight are dropped) and joins its thread.
    pub async fn stop(mut self) {
        self.rate.send_replace(0.0);
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(j) = self.join.take() {
            let _ = tokio::task::spawn_blocking(move || j.join()).await;
        }
    }
}

//! An edge server embedded in this process, on a thread of its own (for the demo and the
//! evaluation harness, which run server and devices on one machine).

use std::sync::Arc;

use anyhow::{Context, Result};
use loadpart_engine::Engine;
use loadpart_graph::Prepared;
use loadpart_server::{ProfileSource, Server, ServerConfig};

use crate::pinning;
use crate::profiles::{ProfileKey, cached_profile};

/// The server on a thread of its own (pinned to `core` when given), with its own runtime, so
/// that every thread it starts inherits the pinning.
pub struct ServerThread {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// The model's name on it.
    pub model: String,
    stop: tokio::sync::oneshot::Sender<()>,
    join: std::thread::JoinHandle<Result<()>>,
}

impl ServerThread {
    pub async fn start(
        mut config: ServerConfig,
        engine: Arc<dyn Engine>,
        prepared: Arc<Prepared>,
        key: ProfileKey,
        core: Option<usize>,
    ) -> Result<Self> {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let join = std::thread::Builder::new()
            .name("embedded-server".into())
            .spawn(move || -> Result<()> {
                if let Some(c) = core {
                    pinning::pin_current(c);
                }
                let started = (|| -> Result<_> {
                    let (profile, _, _) = cached_profile(engine.as_ref(), &prepared, &key)?;
                    config.models[0].profile = Some(ProfileSource::Measured(Arc::new(profile)));
                    Ok(tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(1)
                        .enable_all()
                        .build()?)
                })();
                let rt = match started {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return Ok(());
                    }
                };
                rt.block_on(async move {
                    let server = match Server::start(config).await {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.into()));
                            return Ok(());
                        }
                    };
                    let _ = ready_tx.send(Ok((server.addr(), server.models()[0].name.clone())));
                    let _ = stop_rx.await;
                    server.shutdown().await?;
                    Ok(())
                })
            })?;
        let (addr, model) = ready_rx.await.context("the server thread ended")??;
        Ok(Self {
            addr,
            model,
            stop,
            join,
        })
    }

    /// Drains and stops the server, and joins its thread.
    pub async fn stop(self) -> Result<()> {
        let _ = self.stop.send(());
        tokio::task::spawn_blocking(move || {
            self.join
                .join()
                .map_err(|_| anyhow::anyhow!("the server thread panicked"))?
        })
        .await?
    }
}

//! `loadpart.v1.Loadpart`: server profile, load poll and watch, bandwidth probes.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use loadpart_proto::loadpart::loadpart_server::Loadpart;
use loadpart_proto::loadpart::*;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{Shared, unix_us};
use crate::status::to_status;

/// Most bytes ProbeDownload sends (16 MiB): enough to time a link, small enough that a probe
/// cannot make the server allocate much.
pub const MAX_PROBE_DOWNLOAD_BYTES: u64 = 16 << 20;

/// Default server-wide budget of ProbeDownload payload, bytes per second (see
/// [`crate::server::ServerConfig::probe_bytes_per_s`]).
pub const DEFAULT_PROBE_BYTES_PER_S: u64 = 256 << 20;

/// A token bucket of bytes: `rate` per second, holding at most `burst`. Pure: time is a
/// parameter.
#[derive(Debug)]
pub(crate) struct ByteBudget {
    rate: f64,
    burst: f64,
    level: f64,
    at: std::time::Instant,
}

impl ByteBudget {
    /// Full at `now`.
    pub(crate) fn new(rate_per_s: u64, burst: u64, now: std::time::Instant) -> Self {
        Self {
            rate: rate_per_s as f64,
            burst: burst as f64,
            level: burst as f64,
            at: now,
        }
    }

    /// Takes `n` bytes if the bucket holds them at `now`.
    pub(crate) fn take(&mut self, n: u64, now: std::time::Instant) -> bool {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now.max(self.at);
        self.level = (self.level + dt * self.rate).min(self.burst);
        if self.level >= n as f64 {
            self.level -= n as f64;
            true
        } else {
            false
        }
    }
}

/// WatchLoad's interval when the client leaves it to the server, ms.
pub const DEFAULT_WATCH_INTERVAL_MS: u32 = 200;

/// WatchLoad's shortest interval, ms: a faster watch would cost more than it tells.
pub const MIN_WATCH_INTERVAL_MS: u32 = 10;

/// The loadpart service.
#[derive(Debug, Clone)]
pub struct LoadpartService {
    pub(crate) shared: Arc<Shared>,
}

impl LoadpartService {
    /// The load of `model` (all when empty), with `device`'s own fair share.
    fn report(&self, model: &str, device: &str) -> Result<LoadReport, Status> {
        let filter = if model.is_empty() {
            None
        } else {
            self.shared.registry.get(model).map_err(|e| to_status(&e))?;
            Some(model)
        };
        let mut report = self
            .shared
            .monitor
            .report(filter)
            .ok_or_else(|| Status::not_found(format!("no load window for model {model:?}")))?;
        report.device_share = super::share_proto(&self.shared, device);
        Ok(report)
    }
}

#[tonic::async_trait]
impl Loadpart for LoadpartService {
    async fn get_server_profile(
        &self,
        request: Request<ServerProfileRequest>,
    ) -> Result<Response<ServerProfileResponse>, Status> {
        let name = &request.get_ref().model_name;
        let m = self.shared.registry.get(name).map_err(|e| to_status(&e))?;
        let profile = m.profile.as_ref().ok_or_else(|| {
            Status::failed_precondition(format!(
                "model {name:?} has no server profile (none was given or measured for it)"
            ))
        })?;
        let profile_json = serde_json::to_string(profile)
            .map_err(|e| Status::internal(format!("serializing the profile: {e}")))?;
        Ok(Response::new(ServerProfileResponse {
            model_name: m.name.clone(),
            model_identity: m.identity().to_string(),
            profile_json,
            engine: self.shared.engine.into(),
            intra_threads: self.shared.intra_threads as u32,
        }))
    }

    async fn get_load(
        &self,
        request: Request<LoadRequest>,
    ) -> Result<Response<LoadReport>, Status> {
        let device = super::device_key(&request);
        Ok(Response::new(
            self.report(&request.get_ref().model_name, &device)?,
        ))
    }

    type WatchLoadStream = Pin<Box<dyn Stream<Item = Result<LoadReport, Status>> + Send>>;

    /// A report every `min_interval_ms` (default 200, at least 10) until the client leaves or
    /// the server stops.
    async fn watch_load(
        &self,
        request: Request<WatchLoadRequest>,
    ) -> Result<Response<Self::WatchLoadStream>, Status> {
        let device = super::device_key(&request);
        let req = request.into_inner();
        self.report(&req.model_name, &device)?;
        let ms = match req.min_interval_ms {
            0 => DEFAULT_WATCH_INTERVAL_MS,
            n => n.max(MIN_WATCH_INTERVAL_MS),
        };
        let (tx, rx) = mpsc::channel(1);
        let this = self.clone();
        let mut stopping = self.shared.stopping.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(ms.into()));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if tx.send(this.report(&req.model_name, &device)).await.is_err() {
                            break;
                        }
                    }
                    _ = tx.closed() => break,
                    () = async { drop(stopping.wait_for(|&s| s).await) } => break,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn probe_upload(
        &self,
        request: Request<ProbeUploadRequest>,
    ) -> Result<Response<ProbeUploadReply>, Status> {
        Ok(Response::new(ProbeUploadReply {
            received_bytes: request.get_ref().payload.len() as u64,
            server_time_us: unix_us(),
        }))
    }

    async fn probe_download(
        &self,
        request: Request<ProbeDownloadRequest>,
    ) -> Result<Response<ProbeDownloadReply>, Status> {
        let n = request.get_ref().bytes;
        // Leave room for the message's own framing under the encoding limit.
        let cap =
            MAX_PROBE_DOWNLOAD_BYTES.min((self.shared.max_message_bytes as u64).saturating_sub(64));
        if n > cap {
            return Err(Status::invalid_argument(format!(
                "ProbeDownload of {n} bytes: at most {cap} bytes"
            )));
        }
        // A server-wide byte rate: a stream of tiny requests must not turn the server into an
        // amplifier of its own uplink.
        let granted = self
            .shared
            .probe_budget
            .lock()
            .take(n, std::time::Instant::now());
        if !granted {
            return Err(Status::resource_exhausted(
                "ProbeDownload: the server's probe budget is spent; probe again later",
            ));
        }
        Ok(Response::new(ProbeDownloadReply {
            payload: vec![0u8; n as usize],
            server_time_us: unix_us(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::ByteBudget;

    #[test]
    fn byte_budget_refills_at_its_rate_up_to_its_burst() {
        let t0 = Instant::now();
        let mut b = ByteBudget::new(1000, 2000, t0);
        assert!(b.take(1500, t0));
        assert!(!b.take(600, t0));
        assert!(b.take(500, t0));
        assert!(!b.take(1, t0));
        // Half a second: 500 bytes back.
        let t1 = t0 + Duration::from_millis(500);
        assert!(!b.take(600, t1));
        assert!(b.take(500, t1));
        // Long idle: never more than the burst.
        let t2 = t1 + Duration::from_secs(60);
        assert!(!b.take(2001, t2));
        assert!(b.take(2000, t2));
    }
}

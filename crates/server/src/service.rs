//! The gRPC services: thin handlers that validate, call the scheduler or the monitor, and
//! convert back. [`inference`] is the Open Inference Protocol service, [`loadpart`] loadpart's
//! own profile/load/probe service.

pub mod early;
pub mod inference;
pub mod loadpart;
mod refusal;

use std::sync::Arc;
use std::time::Duration;

use loadpart_codec::DecodeLimits;
use tokio::sync::watch;
use tonic::codegen::http;

use crate::monitor::Monitor;
use crate::registry::Registry;
use crate::scheduler::SchedulerHandle;

/// What both services share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub registry: Registry,
    pub scheduler: SchedulerHandle,
    pub monitor: Arc<Monitor>,
    pub limits: DecodeLimits,
    /// Largest message either way, bytes.
    pub max_message_bytes: usize,
    /// Engine name ("ort", "tract").
    pub engine: &'static str,
    /// Threads one run uses inside an operator (0: the engine's default).
    pub intra_threads: usize,
    /// Longest deadline a request gets.
    pub default_timeout: Duration,
    /// Builds of cold parts off the executors ([`crate::parts::ready`]), shared with the
    /// scheduler (staircase segments).
    pub builds: Arc<crate::parts::Builds>,
    /// Becomes true when the server stops; long-lived streams end on it.
    pub stopping: watch::Receiver<bool>,
    /// Server-wide budget of ProbeDownload payload bytes. Server-wide on purpose: it bounds
    /// what the server sends in all, which per-device budgets would multiply by the number of
    /// identities a client can claim.
    pub probe_budget: parking_lot::Mutex<loadpart::ByteBudget>,
    /// Per-device fair share, checked before a request is decoded.
    pub fair: Arc<crate::fair_share::gate::Gate>,
}

/// Longest `loadpart-device` header taken as a device's name.
pub const MAX_DEVICE_HEADER_LEN: usize = 64;

/// The identity fair share counts a request under: the authenticated device's name when tokens
/// are configured (a `loadpart-device` header is then ignored: it proves nothing), else the
/// self-declared `loadpart-device` header (printable ASCII, at most [`MAX_DEVICE_HEADER_LEN`]
/// bytes), else `peer:IP` (the port left out: one host's connections are one device).
pub(crate) fn device_key<T>(request: &tonic::Request<T>) -> Arc<str> {
    let header = request
        .metadata()
        .get(DEVICE_HEADER)
        .and_then(|v| v.to_str().ok());
    device_key_of(request.extensions(), header)
}

/// [`device_key`] from a request's extensions (the authenticated name, the connection) and
/// its `loadpart-device` header, for code that sees the HTTP request before tonic does.
pub(crate) fn device_key_of(ext: &http::Extensions, header: Option<&str>) -> Arc<str> {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    if let Some(d) = ext.get::<crate::auth::DeviceName>() {
        return d.0.clone();
    }
    let peer = ext
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| {
            ext.get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|i| i.get_ref().remote_addr())
        });
    let header = header.map(str::trim).filter(|s| {
        !s.is_empty() && s.len() <= MAX_DEVICE_HEADER_LEN && s.bytes().all(|b| b.is_ascii_graphic())
    });
    match (header, peer) {
        (Some(h), _) => Arc::from(h),
        (None, Some(a)) => Arc::from(format!("peer:{}", a.ip())),
        (None, None) => Arc::from("peer:unknown"),
    }
}

/// `device`'s fair share as sent in load reports; `None` when fair share is off.
pub(crate) fn share_proto(
    shared: &Shared,
    device: &str,
) -> Option<loadpart_proto::loadpart::DeviceShare> {
    if !shared.fair.enabled() {
        return None;
    }
    let s = shared.fair.share(device);
    let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    Some(loadpart_proto::loadpart::DeviceShare {
        device: s.device.to_string(),
        active_devices: n(s.active_devices),
        queued: n(s.queued),
        queued_limit: s.queued_limit.map(n),
        admitted_per_s: s.admitted_per_s,
        rate_limit_per_s: s.rate_limit_per_s,
    })
}

/// Metadata key a device names itself by (self-declared; see [`device_key`]).
pub const DEVICE_HEADER: &str = loadpart_proto::names::DEVICE_HEADER;

/// The `grpc-timeout` header (gRPC over HTTP/2: an integer of at most 8 digits and a unit
/// H, M, S, m, u or n), if present and well formed.
pub(crate) fn grpc_timeout(meta: &tonic::metadata::MetadataMap) -> Option<Duration> {
    let v = meta.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = v.split_at(v.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Now, µs since the Unix epoch.
pub(crate) fn unix_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_identity_prefers_the_token_then_the_header_then_the_peer() {
        let mut r = tonic::Request::new(());
        assert_eq!(&*device_key(&r), "peer:unknown");
        r.metadata_mut()
            .insert(DEVICE_HEADER, "phone-7".parse().unwrap());
        assert_eq!(&*device_key(&r), "phone-7");
        r.extensions_mut()
            .insert(crate::auth::DeviceName(Arc::from("tok-dev")));
        assert_eq!(
            &*device_key(&r),
            "tok-dev",
            "with tokens the header is ignored"
        );
        let mut long = tonic::Request::new(());
        long.metadata_mut()
            .insert(DEVICE_HEADER, "x".repeat(65).parse().unwrap());
        assert_eq!(&*device_key(&long), "peer:unknown");
    }

    #[test]
    fn parses_grpc_timeouts() {
        let mut m = tonic::metadata::MetadataMap::new();
        assert_eq!(grpc_timeout(&m), None);
        m.insert("grpc-timeout", "250m".parse().unwrap());
        assert_eq!(grpc_timeout(&m), Some(Duration::from_millis(250)));
        m.insert("grpc-timeout", "3S".parse().unwrap());
        assert_eq!(grpc_timeout(&m), Some(Duration::from_secs(3)));
        m.insert("grpc-timeout", "123456789u".parse().unwrap());
        assert_eq!(grpc_timeout(&m), None);
        m.insert("grpc-timeout", "5x".parse().unwrap());
        assert_eq!(grpc_timeout(&m), None);
    }
}

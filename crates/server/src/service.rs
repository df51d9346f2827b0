//! The gRPC services: thin handlers that validate, call the scheduler or the monitor, and
//! convert back. [`inference`] is the Open Inference Protocol service, [`loadpart`] loadpart's
//! own profile/load/probe service.

pub mod inference;
pub mod loadpart;

use std::sync::Arc;
use std::time::Duration;

use loadpart_codec::DecodeLimits;
use tokio::sync::watch;

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
    /// Server-wide budget of ProbeDownload payload bytes.
    pub probe_budget: std::sync::Mutex<loadpart::ByteBudget>,
}

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

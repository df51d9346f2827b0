//! Refusals that tell the refused device what it needs to re-plan: the server's load report in
//! the status metadata, and for fair share a retry hint and the device's own share.

use loadpart_proto::loadpart::LoadReport;
use loadpart_proto::names::{LOAD_REPORT_METADATA, RETRY_PUSHBACK_METADATA};
use tonic::Status;

use super::Shared;

/// Puts `load` on a refusal, so that the refused device re-plans without another call.
pub(crate) fn attach_load(status: &mut Status, load: &LoadReport) {
    use prost::Message;
    let bytes = load.encode_to_vec();
    status.metadata_mut().insert_bin(
        LOAD_REPORT_METADATA,
        tonic::metadata::MetadataValue::from_bytes(&bytes),
    );
}

/// RESOURCE_EXHAUSTED saying the device is over its fair share, with gRPC's retry pushback
/// (`grpc-retry-pushback-ms`, which retrying gRPC clients honour) and the server-wide load
/// report with the device's own share; counted by device.
pub(crate) fn refusal_status(
    shared: &Shared,
    refusal: crate::fair_share::ShareRefusal,
) -> tonic::Status {
    let device = refusal.device().to_string();
    let (reason, retry) = (refusal.reason(), refusal.retry_after());
    shared.monitor.metrics.share_refused(&device, reason);
    tracing::debug!(%device, reason, "over fair share");
    let mut status = crate::status::to_status(&crate::error::ServerError::from(refusal));
    if let Ok(v) = retry.as_millis().to_string().parse() {
        status.metadata_mut().insert(RETRY_PUSHBACK_METADATA, v);
    }
    let mut load = shared.monitor.report(None).unwrap_or_default();
    load.device_share = super::share_proto(shared, &device);
    attach_load(&mut status, &load);
    status
}

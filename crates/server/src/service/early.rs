//! [`FairShareFirst`]: fair share checked on the HTTP request, before tonic reads and decodes
//! the ModelInfer message, so that a device over its share costs neither the decoding nor the
//! allocation of its tensors (the transport stops reading the body once the refusal is sent;
//! at most the stream's flow-control window of it was received).
//!
//! It sits inside the token interceptor (which names the device) and around the inference
//! service. An admitted request carries its [`Slot`] in its extensions; the handler keeps it
//! until the answer, so the device's queued count covers the whole request. Refusals are
//! counted by device (`loadpart_fair_share_refusals_total`); the model is not known yet, so
//! they are not in the per-model error counters.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;

use super::Shared;
use crate::fair_share::gate::Slot;

/// The path of ModelInfer, the one call fair share limits.
pub const MODEL_INFER_PATH: &str = "/inference.GRPCInferenceService/ModelInfer";

/// An admitted request's place in its device's count (a request extension).
#[derive(Debug, Clone)]
pub(crate) struct Admitted(pub Arc<Slot>);

/// The inference service with fair share in front.
#[derive(Debug, Clone)]
pub struct FairShareFirst<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> FairShareFirst<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

impl<S: NamedService> NamedService for FairShareFirst<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<B>> for FairShareFirst<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        if req.uri().path() == MODEL_INFER_PATH {
            let header = req
                .headers()
                .get(super::DEVICE_HEADER)
                .and_then(|v| v.to_str().ok());
            let device = super::device_key_of(req.extensions(), header);
            match self.shared.fair.admit(&device) {
                Ok(slot) => {
                    req.extensions_mut().insert(Admitted(Arc::new(slot)));
                }
                Err(refusal) => {
                    let status = refusal_status(&self.shared, refusal);
                    return Box::pin(async move { Ok(status.into_http()) });
                }
            }
        }
        Box::pin(self.inner.call(req))
    }
}

/// RESOURCE_EXHAUSTED saying the device is over its fair share, with gRPC's retry pushback
/// (`grpc-retry-pushback-ms`, which retrying gRPC clients honour) and the server-wide load
/// report with the device's own share; counted by device.
pub(crate) fn refusal_status(shared: &Shared, refusal: crate::ShareRefusal) -> tonic::Status {
    let device = refusal.device().to_string();
    let (reason, retry) = (refusal.reason(), refusal.retry_after());
    shared.monitor.metrics.share_refused(&device, reason);
    tracing::debug!(%device, reason, "over fair share");
    let mut status = crate::status::to_status(&crate::ServerError::from(refusal));
    if let Ok(v) = retry.as_millis().to_string().parse() {
        status.metadata_mut().insert(RETRY_PUSHBACK_METADATA, v);
    }
    let mut load = shared.monitor.report(None).unwrap_or_default();
    load.device_share = super::share_proto(shared, &device);
    super::inference::attach_load(&mut status, &load);
    status
}

/// gRPC's server pushback (gRFC A6): milliseconds a retrying client should wait.
pub const RETRY_PUSHBACK_METADATA: &str = "grpc-retry-pushback-ms";

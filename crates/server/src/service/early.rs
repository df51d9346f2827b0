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
                    let status = super::refusal::refusal_status(&self.shared, refusal);
                    return Box::pin(async move { Ok(status.into_http()) });
                }
            }
        }
        Box::pin(self.inner.call(req))
    }
}

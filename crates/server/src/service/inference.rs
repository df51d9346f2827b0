//! `inference.GRPCInferenceService`: the Open Inference Protocol (KServe v2) with Triton's
//! statistics extension. A plain ModelInfer runs the whole model, a partitioned one the tail of
//! its cut (see [`crate::validate`]).

use std::sync::Arc;
use std::time::Instant;

use loadpart_codec::ParamValue;
use loadpart_errors::Classify;
use loadpart_proto::inference::grpc_inference_service_server::GrpcInferenceService;
use loadpart_proto::inference::model_infer_response::InferOutputTensor;
use loadpart_proto::inference::model_metadata_response::TensorMetadata;
use loadpart_proto::inference::*;
use loadpart_proto::loadpart::LoadReport;
use loadpart_proto::to_proto_params;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::{Shared, grpc_timeout};
use crate::jobs::Reply;
use crate::monitor::InFlight;
use crate::registry::{ServedModel, TensorMeta};
use crate::status::to_status;
use crate::validate::validate_request;

/// Extensions listed in ServerMetadata.
pub const EXTENSIONS: [&str; 3] = ["schedule_policy", "statistics", "loadpart"];

/// The inference service.
#[derive(Debug, Clone)]
pub struct InferenceService {
    pub(crate) shared: Arc<Shared>,
}

#[tonic::async_trait]
impl GrpcInferenceService for InferenceService {
    async fn server_live(
        &self,
        _: Request<ServerLiveRequest>,
    ) -> Result<Response<ServerLiveResponse>, Status> {
        Ok(Response::new(ServerLiveResponse { live: true }))
    }

    /// Ready once every model is loaded, which happens before the server binds.
    async fn server_ready(
        &self,
        _: Request<ServerReadyRequest>,
    ) -> Result<Response<ServerReadyResponse>, Status> {
        Ok(Response::new(ServerReadyResponse { ready: true }))
    }

    async fn model_ready(
        &self,
        request: Request<ModelReadyRequest>,
    ) -> Result<Response<ModelReadyResponse>, Status> {
        let ready = self.shared.registry.get(&request.get_ref().name).is_ok();
        Ok(Response::new(ModelReadyResponse { ready }))
    }

    async fn server_metadata(
        &self,
        _: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        Ok(Response::new(ServerMetadataResponse {
            name: "loadpart".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            extensions: EXTENSIONS.iter().map(|s| s.to_string()).collect(),
        }))
    }

    async fn model_metadata(
        &self,
        request: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        let m = self
            .shared
            .registry
            .get(&request.get_ref().name)
            .map_err(|e| to_status(&e))?;
        let meta = |t: &TensorMeta| TensorMetadata {
            name: t.name.clone(),
            datatype: t.datatype.into(),
            shape: t.shape.clone(),
        };
        let platform = match self.shared.engine {
            "ort" => "onnxruntime_onnx",
            _ => "tract_onnx",
        };
        Ok(Response::new(ModelMetadataResponse {
            name: m.name.clone(),
            versions: vec!["1".into()],
            platform: platform.into(),
            inputs: m.inputs.iter().map(meta).collect(),
            outputs: m.outputs.iter().map(meta).collect(),
        }))
    }

    async fn model_infer(
        &self,
        request: Request<ModelInferRequest>,
    ) -> Result<Response<ModelInferResponse>, Status> {
        let device = crate::auth::device_of(&request).map(|d| d.0.clone());
        if let Some(d) = &device {
            self.shared.monitor.metrics.device_request(d);
        }
        let span = tracing::debug_span!(
            "model_infer",
            model = %request.get_ref().model_name,
            id = %request.get_ref().id,
            device = device.as_deref().unwrap_or(""),
        );
        self.infer(request).instrument(span).await
    }

    async fn model_statistics(
        &self,
        request: Request<ModelStatisticsRequest>,
    ) -> Result<Response<ModelStatisticsResponse>, Status> {
        let name = &request.get_ref().name;
        let filter = if name.is_empty() {
            None
        } else {
            self.shared.registry.get(name).map_err(|e| to_status(&e))?;
            Some(name.as_str())
        };
        Ok(Response::new(ModelStatisticsResponse {
            model_stats: self.shared.monitor.statistics(filter),
        }))
    }
}

impl InferenceService {
    /// ModelInfer: validate, make the part ready, queue, answer; every failure is counted by
    /// gRPC code and label.
    async fn infer(
        &self,
        request: Request<ModelInferRequest>,
    ) -> Result<Response<ModelInferResponse>, Status> {
        let now = Instant::now();
        let shared = &self.shared;
        // Fair share was checked before decoding ([`super::early`]); the slot is held until
        // the answer. Without that layer in front (a service built by hand), check here.
        let device = super::device_key(&request);
        let _slot = match request.extensions().get::<super::early::Admitted>() {
            Some(a) => a.0.clone(),
            None => match shared.fair.admit(&device) {
                Ok(slot) => Arc::new(slot),
                Err(refusal) => return Err(super::refusal::refusal_status(shared, refusal)),
            },
        };
        let _in_flight = InFlight::new(&shared.monitor);
        // The server's default caps whatever the client asked for.
        let timeout = Some(
            grpc_timeout(request.metadata())
                .map_or(shared.default_timeout, |t| t.min(shared.default_timeout)),
        );
        let req = request.into_inner();
        let name = req.model_name.clone();
        let count = |e: &crate::error::ServerError| {
            let code = crate::status::code(e);
            shared
                .monitor
                .metrics
                .request_failed(&name, code, e.label());
            tracing::debug!(error = %e, ?code, "request failed");
        };
        let fail = |e: crate::error::ServerError| {
            shared.monitor.record_failure(&name, now.elapsed());
            count(&e);
            to_status(&e)
        };
        let mut valid =
            validate_request(req, &shared.registry, &shared.limits, timeout, now).map_err(fail)?;
        crate::parts::ready(&mut valid, &shared.builds)
            .await
            .map_err(fail)?;
        let model = valid.model.clone();
        let id = valid.id.clone();
        let reply = match shared.scheduler.submit(valid).await {
            Ok(r) => r,
            // The scheduler and executors record the failures they answer themselves.
            Err(e) => {
                count(&e);
                let mut status = to_status(&e);
                if status.code() == tonic::Code::ResourceExhausted {
                    let load = self.load(&model.name, &device);
                    super::refusal::attach_load(&mut status, &load);
                }
                return Err(status);
            }
        };
        tracing::debug!(
            queue_us = reply.timings.queue_us,
            compute_us = reply.timings.compute_us,
            batch = reply.timings.batch_rows,
            "answered"
        );
        let load = self.load(&model.name, &device);
        Ok(Response::new(infer_response(&model, id, reply, &load)))
    }

    /// The load report of `model` (server-wide figures) with `device`'s own share.
    fn load(&self, model: &str, device: &str) -> LoadReport {
        let mut load = self.shared.monitor.report(Some(model)).unwrap_or_default();
        load.device_share = super::share_proto(&self.shared, device);
        load
    }
}

/// Outputs as raw little-endian FP32, one entry per output in request order, and the timing
/// and load parameters.
fn infer_response(
    m: &ServedModel,
    id: String,
    reply: Reply,
    load: &LoadReport,
) -> ModelInferResponse {
    let mut outputs = Vec::with_capacity(reply.outputs.len());
    let mut raw = Vec::with_capacity(reply.outputs.len());
    for (name, t) in reply.outputs {
        let bytes = loadpart_proto::le_f32_bytes(t.as_f32().unwrap_or(&[]));
        outputs.push(InferOutputTensor {
            name,
            datatype: "FP32".into(),
            shape: t.shape.iter().map(|&d| d as i64).collect(),
            parameters: Default::default(),
            contents: None,
        });
        raw.push(bytes);
    }
    ModelInferResponse {
        model_name: m.name.clone(),
        model_version: "1".into(),
        id,
        parameters: to_proto_params(reply_params(&reply.timings, load)),
        outputs,
        raw_output_contents: raw,
    }
}

/// Response parameters: this request's server timings (`loadpart_queue_us`,
/// `loadpart_decode_us`, `loadpart_compute_us`, `loadpart_batch_size`, int64), the model's
/// load report (`loadpart_load_*`: doubles for means and rates, int64 for counts) and the
/// caller's fair share (`loadpart_share_*`, when reported).
pub fn reply_params(t: &crate::jobs::Timings, load: &LoadReport) -> Vec<(String, ParamValue)> {
    let int = |k: &str, v: u64| {
        (
            k.to_string(),
            ParamValue::Int64(v.min(i64::MAX as u64) as i64),
        )
    };
    let dbl = |k: &str, v: f64| (k.to_string(), ParamValue::Double(v));
    use loadpart_proto::names::{self as n, load as l};
    let mut params = vec![
        int(n::PART_US, t.part_us),
        int(n::QUEUE_US, t.queue_us),
        int(n::DECODE_US, t.decode_us),
        int(n::COMPUTE_US, t.compute_us),
        int(n::BATCH_SIZE, t.batch_rows as u64),
        dbl(l::WINDOW_S, load.window_s),
        dbl(l::QUEUE_WAIT_MEAN_US, load.queue_wait_mean_us),
        dbl(l::QUEUE_WAIT_P95_US, load.queue_wait_p95_us),
        dbl(l::SLOWDOWN, load.slowdown),
        dbl(l::REQUESTS_PER_S, load.requests_per_s),
        dbl(l::MEAN_BATCH_SIZE, load.mean_batch_size),
        int(l::QUEUE_LENGTH, load.queue_length.into()),
        int(l::IN_FLIGHT, load.in_flight.into()),
        int(l::EXECUTORS, load.executors.into()),
        int(l::EXECUTORS_BUSY, load.executors_busy.into()),
    ];
    if let Some(b) = load.backlog_us {
        params.push(dbl(l::BACKLOG_US, b));
    }
    if let Some(b) = load.backlog_mean_us {
        params.push(dbl(l::BACKLOG_MEAN_US, b));
    }
    if let Some(s) = &load.device_share {
        use loadpart_proto::names::share as sh;
        params.push(int(sh::ACTIVE_DEVICES, s.active_devices.into()));
        params.push(int(sh::QUEUED, s.queued.into()));
        params.push(dbl(sh::ADMITTED_PER_S, s.admitted_per_s));
        if let Some(q) = s.queued_limit {
            params.push(int(sh::QUEUED_LIMIT, q.into()));
        }
        if let Some(r) = s.rate_limit_per_s {
            params.push(dbl(sh::RATE_LIMIT_PER_S, r));
        }
    }
    params
}

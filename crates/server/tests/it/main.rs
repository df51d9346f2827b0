//! Integration tests of loadpart-server: real gRPC on 127.0.0.1:0, real (generated) models.
//! One binary, one module per concern; `processes` runs this binary again as client processes.
//!
//! Run in release mode: `cargo test --release -p loadpart-server` (needs `scripts/setup.sh`'s
//! ONNX Runtime library and, for the tritonclient test, its Python venv).
mod admission;
mod bad_input;
mod concurrency;
mod disconnects;
mod fair_share;
mod metrics;
mod overload;
mod panics;
mod partitioned;
mod parts;
mod processes;
mod python;
mod security;
mod services;
mod staircase;

use std::time::Duration;

use loadpart_client::wire::{self, RequestMeta};
use loadpart_codec::{Compression, EncodeOptions, Encoder, Precision};
use loadpart_cuts::CutId;
use loadpart_proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use loadpart_proto::inference::{
    ModelInferRequest, ModelInferResponse, ModelStatistics, ModelStatisticsRequest,
};
use loadpart_proto::loadpart::loadpart_client::LoadpartClient;
use loadpart_proto::loadpart::{LoadReport, LoadRequest};
use loadpart_runtime::{NamedTensors, views};
use loadpart_server::{ModelSpec, RunningServer, ServedModel, Server, ServerConfig};
use tonic::transport::Channel;

/// A server on 127.0.0.1:0 serving the zoo models `models` with seeded random weights (so that
/// outputs depend on inputs), with `tweak` applied to the config.
pub async fn start(models: &[&str], tweak: impl FnOnce(&mut ServerConfig)) -> RunningServer {
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        models: models
            .iter()
            .map(|m| ModelSpec {
                randomize_seed: Some(7),
                ..ModelSpec::new(format!("zoo:{m}"))
            })
            .collect(),
        ..ServerConfig::default()
    };
    tweak(&mut config);
    Server::start(config).await.expect("server starts")
}

/// A connected channel to `server`.
pub async fn channel(server: &RunningServer) -> Channel {
    Channel::from_shared(format!("http://{}", server.addr()))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connects")
}

pub async fn infer_client(server: &RunningServer) -> GrpcInferenceServiceClient<Channel> {
    GrpcInferenceServiceClient::new(channel(server).await)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

pub async fn loadpart_client(server: &RunningServer) -> LoadpartClient<Channel> {
    LoadpartClient::new(channel(server).await)
}

/// `model`'s load report (`GetLoad`).
pub async fn load_report(server: &RunningServer, model: &str) -> LoadReport {
    loadpart_client(server)
        .await
        .get_load(LoadRequest {
            model_name: model.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// GET /metrics over plain HTTP/1.0.
pub async fn metrics_text(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    out
}

/// A load report's batch mix as (batch size, batches) pairs.
pub fn batch_mix(r: &LoadReport) -> Vec<(u32, u64)> {
    r.batch_mix
        .iter()
        .map(|b| (b.batch_size, b.count))
        .collect()
}

/// `model`'s Triton statistics (`ModelStatistics`).
pub async fn model_stats(server: &RunningServer, model: &str) -> ModelStatistics {
    let mut stats = infer_client(server)
        .await
        .model_statistics(ModelStatisticsRequest {
            name: model.into(),
            version: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    stats.model_stats.remove(0)
}

/// Deterministic, seed-dependent values for every model input at `batch`.
pub fn inputs(m: &ServedModel, batch: usize, seed: u32) -> NamedTensors {
    loadpart_testkit::seeded_inputs(&m.runtime.prepared().model, batch, seed)
}

/// A plain ModelInfer request with FP32 raw contents, as the client sends one.
pub fn plain_request(model: &str, tensors: &NamedTensors) -> ModelInferRequest {
    let meta = RequestMeta {
        model,
        identity: None,
        cut: None,
        outputs: &[],
        timeout: None,
    };
    wire::request(&meta, wire::raw_tensors(tensors).unwrap())
}

/// The reply's outputs as tensors, by name, in reply order.
pub fn outputs(r: &ModelInferResponse) -> NamedTensors {
    wire::parse_reply(r.clone()).expect("a valid reply").outputs
}

/// The whole model's outputs on `tensors`, computed in process.
pub fn reference(m: &ServedModel, tensors: &NamedTensors) -> NamedTensors {
    m.runtime
        .full()
        .unwrap()
        .run(&views(tensors))
        .unwrap()
        .outputs
}

/// Largest |a - b| over the largest |a|, over every output ([`loadpart_exec::compare_outputs`]).
pub fn rel_err(a: &NamedTensors, b: &NamedTensors) -> f64 {
    assert_eq!(a.len(), b.len());
    loadpart_exec::compare_outputs(a, b)
        .expect("same outputs")
        .1
}

/// A cut of `m` with several tensors when there is one (a DAG cut), else any inner cut.
pub fn inner_cut(m: &ServedModel) -> CutId {
    let prepared = m.runtime.prepared();
    let dag = prepared.stages.dag();
    let space = prepared.stages.cut_space(4096);
    let cuts: Vec<_> = space
        .all_candidate_cuts()
        .map(|c| c.cut.clone())
        .filter(|c| !c.is_full_local() && !c.is_full_offload())
        .filter(|c| c.tensors.iter().all(|&t| !dag.is_output(t)))
        .collect();
    let cut = cuts
        .iter()
        .find(|c| c.tensors.len() > 1)
        .or_else(|| cuts.get(cuts.len() / 2))
        .expect("an inner cut");
    cut.id(dag)
}

/// A partitioned request for `cut` of `m` on `tensors` (model inputs), as the client builds one:
/// the head runs here, its cut tensors are encoded with `precision` (zstd, default otherwise) and
/// sent with the model identity and the cut checksum.
pub fn partitioned_request(
    m: &ServedModel,
    cut: &CutId,
    tensors: &NamedTensors,
    precision: Precision,
) -> ModelInferRequest {
    let head = m.runtime.head(cut).unwrap();
    let sent = head.run(&views(tensors)).unwrap().outputs;
    let mut enc = Encoder::new(EncodeOptions::with(
        precision,
        Compression::Zstd { level: 1 },
    ))
    .unwrap();
    let outputs: Vec<String> = m.outputs.iter().map(|o| o.name.clone()).collect();
    let meta = RequestMeta {
        model: &m.name,
        identity: Some(m.identity()),
        cut: Some(cut),
        outputs: &outputs,
        timeout: None,
    };
    wire::request(&meta, wire::encode_tensors(&mut enc, &sent).unwrap())
}

/// An int64 or double response parameter as f64.
pub fn param(r: &ModelInferResponse, key: &str) -> f64 {
    use loadpart_proto::inference::infer_parameter::ParameterChoice::*;
    match r
        .parameters
        .get(key)
        .and_then(|p| p.parameter_choice.clone())
    {
        Some(Int64Param(i)) => i as f64,
        Some(DoubleParam(d)) => d,
        other => panic!("parameter {key}: {other:?}"),
    }
}

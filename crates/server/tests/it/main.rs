//! Integration tests of loadpart-server: real gRPC on 127.0.0.1:0, real (generated) models.
//! One binary, one module per concern; `processes` runs this binary again as client processes.
//!
//! Run in release mode: `cargo test --release -p loadpart-server` (needs `scripts/setup.sh`'s
//! ONNX Runtime library and, for the tritonclient test, its Python venv).
mod admission;
mod bad_input;
mod concurrency;
mod metrics;
mod overload;
mod partitioned;
mod parts;
mod processes;
mod python;
mod services;
mod staircase;

use std::time::Duration;

use loadpart_codec::{Compression, EncodeOptions, Encoder, Precision};
use loadpart_cuts::CutId;
use loadpart_engine::Tensor;
use loadpart_graph::Shapes;
use loadpart_proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use loadpart_proto::inference::model_infer_request::{
    InferInputTensor, InferRequestedOutputTensor,
};
use loadpart_proto::inference::{InferParameter, ModelInferRequest, ModelInferResponse};
use loadpart_proto::loadpart::loadpart_client::LoadpartClient;
use loadpart_proto::to_proto_params;
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

/// Deterministic, seed-dependent values for every model input at `batch`.
pub fn inputs(m: &ServedModel, batch: usize, seed: u32) -> NamedTensors {
    let model = &m.runtime.prepared().model;
    let shapes = Shapes::infer(model, batch).unwrap();
    model
        .inputs()
        .iter()
        .map(|name| {
            let ty = shapes.get(name).unwrap();
            let data = (0..ty.elements())
                .map(|i| {
                    // murmur3's finalizer over (index, seed): every seed gives new values.
                    let mut h = (i as u32).wrapping_add(seed.wrapping_mul(0x9E37_79B9));
                    h ^= h >> 16;
                    h = h.wrapping_mul(0x85EB_CA6B);
                    h ^= h >> 13;
                    h = h.wrapping_mul(0xC2B2_AE35);
                    h ^= h >> 16;
                    h as f32 / u32::MAX as f32 - 0.5
                })
                .collect();
            (name.clone(), Tensor::f32(ty.dims.clone(), data).unwrap())
        })
        .collect()
}

/// A plain ModelInfer request with FP32 raw contents.
pub fn plain_request(model: &str, tensors: &NamedTensors) -> ModelInferRequest {
    ModelInferRequest {
        model_name: model.into(),
        inputs: tensors
            .iter()
            .map(|(n, t)| InferInputTensor {
                name: n.clone(),
                datatype: "FP32".into(),
                shape: t.shape.iter().map(|&d| d as i64).collect(),
                ..Default::default()
            })
            .collect(),
        raw_input_contents: tensors.iter().map(|(_, t)| le_bytes(t)).collect(),
        ..Default::default()
    }
}

pub fn le_bytes(t: &Tensor) -> Vec<u8> {
    t.as_f32()
        .unwrap()
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

/// The reply's outputs as tensors, by name, in reply order.
pub fn outputs(r: &ModelInferResponse) -> NamedTensors {
    r.outputs
        .iter()
        .zip(&r.raw_output_contents)
        .map(|(o, raw)| {
            let data = raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let shape = o.shape.iter().map(|&d| d as usize).collect();
            (o.name.clone(), Tensor::f32(shape, data).unwrap())
        })
        .collect()
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

/// A partitioned request for `cut` of `m` on `tensors` (model inputs): the head runs here, its
/// cut tensors are encoded with `precision` (zstd, default otherwise) and sent with the model
/// identity and the cut checksum.
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
    let mut inputs = Vec::new();
    let mut raw = Vec::new();
    for (name, t) in &sent {
        let e = enc.encode(t.as_f32().unwrap(), &t.shape).unwrap();
        inputs.push(InferInputTensor {
            name: name.clone(),
            datatype: "FP32".into(),
            shape: t.shape.iter().map(|&d| d as i64).collect(),
            parameters: to_proto_params(e.header.to_params()),
            contents: None,
        });
        raw.push(e.payload);
    }
    let string = |s: String| InferParameter {
        parameter_choice: Some(
            loadpart_proto::inference::infer_parameter::ParameterChoice::StringParam(s),
        ),
    };
    ModelInferRequest {
        model_name: m.name.clone(),
        inputs,
        outputs: m
            .outputs
            .iter()
            .map(|o| InferRequestedOutputTensor {
                name: o.name.clone(),
                parameters: Default::default(),
            })
            .collect(),
        raw_input_contents: raw,
        parameters: [
            (
                "loadpart_model_identity".to_string(),
                string(m.identity().into()),
            ),
            (
                "loadpart_cut_checksum".to_string(),
                string(cut.checksum_hex()),
            ),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    }
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

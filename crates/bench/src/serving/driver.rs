//! The served side's load: a closed-loop KServe v2 client, as a third party writes one (the
//! generated gRPC stub, one HTTP/2 connection, inputs in `raw_input_contents`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use loadpart_engine::TensorData;
use loadpart_proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use loadpart_proto::inference::infer_parameter::ParameterChoice;
use loadpart_proto::inference::model_infer_request::InferInputTensor;
use loadpart_proto::inference::{InferParameter, ModelInferRequest, ServerReadyRequest};
use loadpart_proto::names;
use loadpart_runtime::NamedTensors;
use tonic::transport::{Channel, Endpoint};

use super::child::ServerProcess;
use super::report::{Level, LevelKind, ServerTimes};

/// Largest message either way (the server's default).
const MAX_MESSAGE: usize = 256 << 20;

/// A whole-model ModelInfer of `model` on `inputs`: FP32 or INT64, little-endian, raw.
pub fn whole_model_request(model: &str, inputs: &NamedTensors) -> Result<ModelInferRequest> {
    let mut tensors = Vec::new();
    let mut raw = Vec::new();
    for (name, t) in inputs {
        let (datatype, bytes) = match &t.data {
            TensorData::F32(v) => ("FP32", loadpart_proto::le_f32_bytes(v)),
            TensorData::I64(v) => (
                "INT64",
                v.iter()
                    .flat_map(|x| x.to_le_bytes())
                    .collect::<Vec<u8>>()
                    .into(),
            ),
        };
        tensors.push(InferInputTensor {
            name: name.clone(),
            datatype: datatype.into(),
            shape: t.shape.iter().map(|&d| d as i64).collect(),
            ..Default::default()
        });
        raw.push(bytes);
    }
    Ok(ModelInferRequest {
        model_name: model.into(),
        inputs: tensors,
        raw_input_contents: raw,
        ..Default::default()
    })
}

/// Keeps `concurrency` copies of `request` in flight against `server`: `warmup` first, then
/// `measure_for`. Every request must succeed.
pub fn measure(
    server: &ServerProcess,
    request: &ModelInferRequest,
    concurrency: usize,
    warmup: Duration,
    measure_for: Duration,
) -> Result<Level> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let server_cpu = || super::cpu_time(&server.pid().to_string());
    rt.block_on(async {
        let client = connect(&server.url).await?;
        let request = Arc::new(request.clone());
        let warm_until = Instant::now() + warmup;
        let start = warm_until;
        let end = start + measure_for;
        let mut loops = Vec::new();
        for _ in 0..concurrency {
            let mut client = client.clone();
            let request = request.clone();
            loops.push(tokio::spawn(async move {
                let mut latencies_ms = Vec::new();
                let mut said = ServerSaid::default();
                loop {
                    let t = Instant::now();
                    if t >= end {
                        return Ok::<_, anyhow::Error>((latencies_ms, said));
                    }
                    let reply = client
                        .model_infer(tonic::Request::new((*request).clone()))
                        .await
                        .context("ModelInfer failed")?;
                    let done = Instant::now();
                    if t >= start && done <= end {
                        latencies_ms.push((done - t).as_secs_f64() * 1e3);
                        said.add(&reply.into_inner().parameters);
                    }
                }
            }));
        }
        // CPU counters from the start of the measured span: warm-up work is not counted.
        tokio::time::sleep_until(start.into()).await;
        let (server0, driver0) = (server_cpu(), super::cpu_time("self"));
        tokio::time::sleep_until(end.into()).await;
        let (server1, driver1) = (server_cpu(), super::cpu_time("self"));
        let mut latencies_ms = Vec::new();
        let mut said = ServerSaid::default();
        for l in loops {
            let (lat, s) = l.await??;
            latencies_ms.extend(lat);
            said.merge(&s);
        }
        let delta = |a: Option<Duration>, b: Option<Duration>| a.zip(b).map(|(a, b)| b - a);
        let mut level = Level::new(
            LevelKind::Served { concurrency },
            &latencies_ms,
            1,
            measure_for,
            delta(server0, server1),
            delta(driver0, driver1),
        );
        level.server = said.means();
        Ok(level)
    })
}

/// Connects and waits until the server says it is ready (or its process has ended).
pub async fn wait_ready(server: &mut ServerProcess, within: Duration) -> Result<()> {
    let give_up = Instant::now() + within;
    loop {
        if let Some(status) = server.exited()? {
            bail!("`loadpart serve` exited before it was ready ({status}); see its log above");
        }
        if let Ok(mut c) = connect(&server.url).await
            && let Ok(r) = c.server_ready(ServerReadyRequest {}).await
            && r.into_inner().ready
        {
            return Ok(());
        }
        if Instant::now() > give_up {
            bail!("`loadpart serve` not ready after {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn connect(url: &str) -> Result<GrpcInferenceServiceClient<Channel>> {
    let channel = Endpoint::from_shared(url.to_string())?
        .tcp_nodelay(true)
        .connect()
        .await?;
    Ok(GrpcInferenceServiceClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE))
}

/// Sums of the timings the server reports in each reply's parameters.
#[derive(Debug, Default)]
struct ServerSaid {
    replies: u64,
    batch_rows: f64,
    queue_us: f64,
    decode_us: f64,
    compute_us: f64,
}

impl ServerSaid {
    fn add(&mut self, params: &std::collections::HashMap<String, InferParameter>) {
        let get = |k: &str| match params.get(k).and_then(|p| p.parameter_choice.as_ref()) {
            Some(ParameterChoice::Int64Param(v)) => *v as f64,
            _ => 0.0,
        };
        self.replies += 1;
        self.batch_rows += get(names::BATCH_SIZE);
        self.queue_us += get(names::QUEUE_US);
        self.decode_us += get(names::DECODE_US);
        self.compute_us += get(names::COMPUTE_US);
    }

    fn merge(&mut self, o: &ServerSaid) {
        self.replies += o.replies;
        self.batch_rows += o.batch_rows;
        self.queue_us += o.queue_us;
        self.decode_us += o.decode_us;
        self.compute_us += o.compute_us;
    }

    fn means(&self) -> Option<ServerTimes> {
        let n = self.replies as f64;
        (self.replies > 0).then(|| ServerTimes {
            batch_rows: self.batch_rows / n,
            queue_ms: self.queue_us / n / 1e3,
            decode_ms: self.decode_us / n / 1e3,
            compute_ms: self.compute_us / n / 1e3,
        })
    }
}

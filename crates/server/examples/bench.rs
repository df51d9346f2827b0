//! The server's system bench: prints two tables.
//!
//! 1. ResNet-50 (random weights) at max batch 1, 4 and 8: throughput, p50 and p99 of plain
//!    ModelInfer against offered load (open loop, as fractions of in-process throughput), next
//!    to in-process ONNX Runtime throughput at the same batch size, measured in the same run.
//!    Goal: the server's best throughput >= 0.95x in-process.
//! 2. A 1 MB ModelInfer round trip through an identity model (delay 0) next to a bare tonic
//!    service that echoes the same bytes with the same messages. Goal: <= 1.2x.
//!
//! `cargo run --release -p loadpart-server --example bench [-- --quick] [--only resnet|echo]` (needs
//! `scripts/setup.sh`'s ONNX Runtime and models). The client runs in this process on the same
//! cores, as a device would not: ratios are what it reports, against a baseline of the same run.

use std::time::{Duration, Instant};

use loadpart_client::wire::{self, RequestMeta};
use loadpart_graph::OnnxModel;
use loadpart_graph::build::{model, node, value_info};
use loadpart_graph::onnx::{DataType, GraphProto};
use loadpart_proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use loadpart_proto::inference::grpc_inference_service_server::{
    GrpcInferenceService, GrpcInferenceServiceServer,
};
use loadpart_proto::inference::model_infer_response::InferOutputTensor;
use loadpart_proto::inference::*;
use loadpart_runtime::{NamedTensors, views};
use loadpart_server::{ModelSpec, RunningServer, ServedModel, Server, ServerConfig};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

const MSG: usize = 64 << 20;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only = |t: &str| !args.iter().any(|a| a == "--only") || args.iter().any(|a| a == t);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        if only("resnet") {
            resnet_table(quick).await;
        }
        if only("echo") {
            echo_table(quick).await;
        }
    });
}

async fn start(spec: ModelSpec, max_batch: usize) -> RunningServer {
    Server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        models: vec![spec],
        max_batch_rows: max_batch,
        max_message_bytes: MSG,
        ..ServerConfig::default()
    })
    .await
    .expect("server starts")
}

async fn client(server: &RunningServer) -> GrpcInferenceServiceClient<Channel> {
    let ch = Channel::from_shared(format!("http://{}", server.addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    GrpcInferenceServiceClient::new(ch)
        .max_decoding_message_size(MSG)
        .max_encoding_message_size(MSG)
}

/// Model inputs of `m` at `batch`, seeded.
fn inputs(m: &ServedModel, batch: usize) -> NamedTensors {
    loadpart_testkit::seeded_inputs(&m.runtime.prepared().model, batch, 1)
}

/// A plain ModelInfer request (FP32 raw contents), built as the client builds one.
fn request(name: &str, tensors: &NamedTensors) -> ModelInferRequest {
    let meta = RequestMeta {
        model: name,
        identity: None,
        cut: None,
        outputs: &[],
        timeout: None,
    };
    wire::request(&meta, wire::raw_tensors(tensors).expect("float32 inputs"))
}

fn pct(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// In-process ONNX Runtime: the whole model at `batch`, back to back for `secs`; rows/s.
fn in_process(m: &ServedModel, batch: usize, secs: f64) -> f64 {
    let full = m.runtime.full().unwrap();
    let x = inputs(m, batch);
    full.run(&views(&x)).unwrap();
    let t0 = Instant::now();
    let mut rows = 0;
    while t0.elapsed().as_secs_f64() < secs {
        full.run(&views(&x)).unwrap();
        rows += batch;
    }
    rows as f64 / t0.elapsed().as_secs_f64()
}

/// Open-loop arrivals at `rate` for `secs`; (completed per second, sorted latencies, failures).
async fn open_loop(
    c: &GrpcInferenceServiceClient<Channel>,
    req: &ModelInferRequest,
    rate: f64,
    secs: f64,
) -> (f64, Vec<Duration>, usize) {
    let n = (rate * secs).max(1.0) as usize;
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        tokio::time::sleep_until((t0 + Duration::from_secs_f64(i as f64 / rate)).into()).await;
        let (mut c, r) = (c.clone(), req.clone());
        tasks.push(tokio::spawn(async move {
            let s = Instant::now();
            c.model_infer(r).await.map(|_| s.elapsed())
        }));
    }
    let mut lat = Vec::with_capacity(n);
    let mut failed = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(d) => lat.push(d),
            Err(_) => failed += 1,
        }
    }
    let span = t0.elapsed().as_secs_f64();
    lat.sort();
    (lat.len() as f64 / span, lat, failed)
}

async fn resnet_table(quick: bool) {
    let secs = if quick { 2.0 } else { 5.0 };
    println!(
        "ResNet-50, plain ModelInfer of one image, open loop; in-process = ONNX Runtime alone"
    );
    println!(
        "{:>9} {:>10} {:>10} {:>9} {:>9} {:>7} {:>11} {:>7}",
        "max batch", "offered/s", "served/s", "p50 ms", "p99 ms", "failed", "in-proc/s", "ratio"
    );
    for max_batch in [1, 4, 8] {
        let server = start(
            ModelSpec {
                randomize_seed: Some(7),
                ..ModelSpec::new("resnet50")
            },
            max_batch,
        )
        .await;
        let m = server.models()[0].clone();
        let mm = m.clone();
        let reference = tokio::task::spawn_blocking(move || in_process(&mm, max_batch, secs))
            .await
            .unwrap();
        let c = client(&server).await;
        let req = request(&m.name, &inputs(&m, 1));
        // Warm the batch sizes the server will form.
        open_loop(&c, &req, reference, 1.0).await;
        let mut best: f64 = 0.0;
        for load in [0.5, 0.9, 1.2, 2.0] {
            let rate = reference * load;
            let (served, lat, failed) = open_loop(&c, &req, rate, secs).await;
            best = best.max(served);
            println!(
                "{max_batch:>9} {rate:>10.1} {served:>10.1} {:>9.1} {:>9.1} {failed:>7} {reference:>11.1} {:>7.2}",
                ms(pct(&lat, 0.5)),
                ms(pct(&lat, 0.99)),
                served / reference
            );
        }
        println!(
            "{max_batch:>9} {:>10} {best:>10.1} {:>9} {:>9} {:>7} {reference:>11.1} {:>7.2}  <- best",
            "",
            "",
            "",
            "",
            best / reference
        );
        server.shutdown().await.unwrap();
    }
}

/// A bare tonic service with the same messages: ModelInfer answers the request's bytes back.
struct Echo;

#[tonic::async_trait]
impl GrpcInferenceService for Echo {
    async fn server_live(
        &self,
        _: Request<ServerLiveRequest>,
    ) -> Result<Response<ServerLiveResponse>, Status> {
        Err(Status::unimplemented(""))
    }
    async fn server_ready(
        &self,
        _: Request<ServerReadyRequest>,
    ) -> Result<Response<ServerReadyResponse>, Status> {
        Err(Status::unimplemented(""))
    }
    async fn model_ready(
        &self,
        _: Request<ModelReadyRequest>,
    ) -> Result<Response<ModelReadyResponse>, Status> {
        Err(Status::unimplemented(""))
    }
    async fn server_metadata(
        &self,
        _: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        Err(Status::unimplemented(""))
    }
    async fn model_metadata(
        &self,
        _: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        Err(Status::unimplemented(""))
    }
    async fn model_statistics(
        &self,
        _: Request<ModelStatisticsRequest>,
    ) -> Result<Response<ModelStatisticsResponse>, Status> {
        Err(Status::unimplemented(""))
    }
    async fn model_infer(
        &self,
        r: Request<ModelInferRequest>,
    ) -> Result<Response<ModelInferResponse>, Status> {
        let r = r.into_inner();
        Ok(Response::new(ModelInferResponse {
            model_name: r.model_name,
            model_version: "1".into(),
            id: r.id,
            parameters: Default::default(),
            outputs: r
                .inputs
                .iter()
                .map(|i| InferOutputTensor {
                    name: i.name.clone(),
                    datatype: i.datatype.clone(),
                    shape: i.shape.clone(),
                    parameters: Default::default(),
                    contents: None,
                })
                .collect(),
            raw_output_contents: r.raw_input_contents,
        }))
    }
}

/// An ONNX model `y = Identity(x)` on `[N, 262144]` FP32: 1 MiB per row.
fn identity_model(dir: &std::path::Path) -> std::path::PathBuf {
    let graph = GraphProto {
        name: Some("identity".into()),
        node: vec![node("Identity", Some("id"), &["x"], &["y"], vec![])],
        input: vec![value_info("x", DataType::Float, &[None, Some(262_144)])],
        output: vec![value_info("y", DataType::Float, &[None, Some(262_144)])],
        ..Default::default()
    };
    let m = OnnxModel::from_proto(model(graph, 13)).unwrap();
    let path = dir.join("identity.onnx");
    std::fs::write(&path, m.to_bytes()).unwrap();
    path
}

async fn round_trips(
    c: &mut GrpcInferenceServiceClient<Channel>,
    req: &ModelInferRequest,
    n: usize,
    mut parts: Option<&mut [f64; 3]>,
) -> Vec<Duration> {
    for _ in 0..10 {
        c.model_infer(req.clone()).await.unwrap();
    }
    let mut lat: Vec<Duration> = Vec::with_capacity(n);
    for _ in 0..n {
        let r = req.clone();
        let s = Instant::now();
        let reply = c.model_infer(r).await.unwrap();
        lat.push(s.elapsed());
        let reply = wire::parse_reply(reply.into_inner()).unwrap();
        assert_eq!(reply.bytes, 1 << 20);
        if let (Some(p), Some(t)) = (parts.as_deref_mut(), reply.timings) {
            p[0] += t.queue_us;
            p[1] += t.decode_us;
            p[2] += t.compute_us;
        }
    }
    lat.sort();
    lat
}

async fn echo_table(quick: bool) {
    let n = if quick { 50 } else { 300 };
    let dir = std::env::temp_dir().join(format!("loadpart-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = start(
        ModelSpec::new(identity_model(&dir).to_string_lossy().into_owned()),
        8,
    )
    .await;
    let m = server.models()[0].clone();
    let req = request(&m.name, &inputs(&m, 1));
    let mut lp = client(&server).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let svc = GrpcInferenceServiceServer::new(Echo)
        .max_decoding_message_size(MSG)
        .max_encoding_message_size(MSG);
    let echo_task = tokio::spawn(
        tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .add_service(svc)
            .serve_with_incoming(incoming),
    );
    let ch = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut echo = GrpcInferenceServiceClient::new(ch)
        .max_decoding_message_size(MSG)
        .max_encoding_message_size(MSG);

    // Interleaved rounds, so that drift of the host hits both alike.
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut server_us = [0.0; 3];
    for _ in 0..3 {
        a.extend(round_trips(&mut lp, &req, n / 3, Some(&mut server_us)).await);
        b.extend(round_trips(&mut echo, &req, n / 3, None).await);
    }
    a.sort();
    b.sort();
    let mean = |v: &[Duration]| v.iter().sum::<Duration>().as_secs_f64() * 1e3 / v.len() as f64;
    println!();
    println!("1 MiB ModelInfer round trip, sequential, {} each", a.len());
    println!(
        "{:>28} {:>9} {:>9} {:>9}",
        "", "mean ms", "p50 ms", "p99 ms"
    );
    for (label, v) in [("loadpart (identity model)", &a), ("bare tonic echo", &b)] {
        println!(
            "{label:>28} {:>9.3} {:>9.3} {:>9.3}",
            mean(v),
            ms(pct(v, 0.5)),
            ms(pct(v, 0.99))
        );
    }
    println!(
        "{:>28} {:>9.2} {:>9.2} {:>9.2}",
        "ratio",
        mean(&a) / mean(&b),
        ms(pct(&a, 0.5)) / ms(pct(&b, 0.5)),
        ms(pct(&a, 0.99)) / ms(pct(&b, 0.99))
    );
    let k = a.len() as f64;
    println!(
        "loadpart's own time per request, mean: queue {:.0} us, decode {:.0} us, engine {:.0} us",
        server_us[0] / k,
        server_us[1] / k,
        server_us[2] / k
    );
    echo_task.abort();
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

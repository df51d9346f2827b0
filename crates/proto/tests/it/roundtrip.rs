//! A tonic server of `GRPCInferenceService` answering a tonic client and `tritonclient`'s gRPC
//! client: wire compatibility with a real third-party client, not just matching descriptors.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use loadpart_proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use loadpart_proto::inference::grpc_inference_service_server::{
    GrpcInferenceService, GrpcInferenceServiceServer,
};
use loadpart_proto::inference::*;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};

use crate::python::python_or_skip;

/// Live, and nothing else.
struct LiveOnly;

#[tonic::async_trait]
impl GrpcInferenceService for LiveOnly {
    async fn server_live(
        &self,
        _: Request<ServerLiveRequest>,
    ) -> Result<Response<ServerLiveResponse>, Status> {
        Ok(Response::new(ServerLiveResponse { live: true }))
    }
    async fn server_ready(
        &self,
        _: Request<ServerReadyRequest>,
    ) -> Result<Response<ServerReadyResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn model_ready(
        &self,
        _: Request<ModelReadyRequest>,
    ) -> Result<Response<ModelReadyResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn server_metadata(
        &self,
        _: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn model_metadata(
        &self,
        _: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn model_infer(
        &self,
        _: Request<ModelInferRequest>,
    ) -> Result<Response<ModelInferResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn model_statistics(
        &self,
        _: Request<ModelStatisticsRequest>,
    ) -> Result<Response<ModelStatisticsResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
}

/// Serves [`LiveOnly`] on 127.0.0.1 (a free port) for as long as the runtime lives.
async fn serve() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(Server::builder().serve_with_incoming(
        GrpcInferenceServiceServer::new(LiveOnly),
        TcpIncoming::from(listener),
    ));
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tonic_client_calls_tonic_server() {
    let addr = serve().await;
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap();
    let mut client = GrpcInferenceServiceClient::new(channel);
    let live = client.server_live(ServerLiveRequest {}).await.unwrap();
    assert!(live.into_inner().live);
    let ready = client
        .server_ready(ServerReadyRequest {})
        .await
        .unwrap_err();
    assert_eq!(ready.code(), Code::Unimplemented);
}

/// `tritonclient.grpc.InferenceServerClient(url).is_server_live()` against our server is True,
/// and an RPC the server leaves unimplemented reaches the client as UNIMPLEMENTED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tritonclient_calls_tonic_server() {
    let Some(py) = python_or_skip("tritonclient_calls_tonic_server") else {
        return;
    };
    let addr = serve().await;
    let script = r#"
import sys
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException
client = grpcclient.InferenceServerClient(url=sys.argv[1])
print("live", client.is_server_live(client_timeout=30))
try:
    client.is_server_ready(client_timeout=30)
    print("ready answered")
except InferenceServerException as e:
    print("ready", e.status())
"#;
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::task::spawn_blocking(move || {
            Command::new(py)
                .args(["-c", script, &addr.to_string()])
                .output()
                .unwrap()
        }),
    )
    .await
    .expect("tritonclient answered within 120 s")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        ["live True", "ready StatusCode.UNIMPLEMENTED"],
        "{stdout}"
    );
}

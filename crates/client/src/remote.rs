//! [`Remote`]: the gRPC stubs of one server, over one lazily connected channel.

use std::time::Duration;

use loadpart_proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use loadpart_proto::loadpart::loadpart_client::LoadpartClient;
use tonic::transport::{Channel, Endpoint};

use crate::ClientError;

/// The inference and loadpart services of one server.
///
/// The channel connects on first use and reconnects by itself after the server goes away, so a
/// client can be created before its server is up and survives a server restart.
#[derive(Debug, Clone)]
pub struct Remote {
    url: String,
    /// `inference.GRPCInferenceService`.
    pub infer: GrpcInferenceServiceClient<Channel>,
    /// `loadpart.v1.Loadpart`.
    pub loadpart: LoadpartClient<Channel>,
}

impl Remote {
    /// Stubs for the server at `url` (`http://host:port`), messages up to `max_message_bytes`.
    pub fn new(url: &str, max_message_bytes: usize) -> Result<Self, ClientError> {
        let bad = |reason: String| ClientError::BadUrl {
            url: url.to_string(),
            reason,
        };
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| bad(e.to_string()))?
            .connect_timeout(Duration::from_secs(1))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(5));
        let channel = endpoint.connect_lazy();
        Ok(Self {
            url: url.to_string(),
            infer: GrpcInferenceServiceClient::new(channel.clone())
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
            loadpart: LoadpartClient::new(channel)
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
        })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

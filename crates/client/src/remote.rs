//! [`Remote`]: the gRPC stubs of one server, over one lazily connected channel, with the
//! device's [`Access`] (TLS trust, bearer token and name) applied to every call.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use loadpart_proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use loadpart_proto::loadpart::loadpart_client::LoadpartClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::ClientError;

/// Environment variable a device's token may come from (`loadpart infer`, `demo`, `bench`).
pub const TOKEN_ENV: &str = "LOADPART_TOKEN";

/// A device token, sent as `authorization: Bearer TOKEN`. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Arc<str>);

impl Token {
    /// A token; refused when empty or not printable ASCII (it must fit a header).
    pub fn new(token: impl AsRef<str>) -> Result<Self, ClientError> {
        let t = token.as_ref().trim();
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ClientError::BadAccess(
                "a token must be non-empty printable ASCII without spaces".into(),
            ));
        }
        Ok(Self(Arc::from(t)))
    }

    /// The token itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// How a device reaches its server securely: TLS trust and a bearer token. The default is
/// plaintext with no token (what a loopback server without tokens expects).
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// Verify the server against this CA certificate (PEM) over TLS. An `http://` server URL
    /// is then taken as `https://`.
    pub tls_ca: Option<PathBuf>,
    /// The name the server's certificate must carry, when it differs from the URL's host.
    pub tls_domain: Option<String>,
    /// Sent as `authorization: Bearer TOKEN` on every call (inference, probes, load watch).
    pub token: Option<Token>,
    /// The device's name, sent as `loadpart-device` on every call: a server without tokens
    /// counts fair share and metrics by it (with tokens, by the token's name).
    pub device: Option<String>,
}

/// Adds the bearer token and the device's name to every call that does not carry its own (a
/// load generator standing in for many devices sets each request's). `Debug` never shows the
/// token.
#[derive(Clone, Default)]
pub struct Identify {
    bearer: Option<MetadataValue<Ascii>>,
    device: Option<MetadataValue<Ascii>>,
}

impl fmt::Debug for Identify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bearer = if self.bearer.is_some() {
            "<redacted>"
        } else {
            "none"
        };
        f.debug_struct("Identify")
            .field("bearer", &bearer)
            .field("device", &self.device)
            .finish()
    }
}

impl Interceptor for Identify {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let headers = [
            ("authorization", &self.bearer),
            (loadpart_proto::names::DEVICE_HEADER, &self.device),
        ];
        for (key, value) in headers {
            if let Some(v) = value
                && !request.metadata().contains_key(key)
            {
                request.metadata_mut().insert(key, v.clone());
            }
        }
        Ok(request)
    }
}

/// The channel every stub runs over: the connection with the token and the device's name added.
pub type Transport = InterceptedService<Channel, Identify>;

/// The inference and loadpart services of one server.
///
/// The channel connects on first use and reconnects by itself after the server goes away, so a
/// client can be created before its server is up and survives a server restart.
#[derive(Debug, Clone)]
pub struct Remote {
    url: String,
    /// `inference.GRPCInferenceService`.
    pub infer: GrpcInferenceServiceClient<Transport>,
    /// `loadpart.v1.Loadpart`.
    pub loadpart: LoadpartClient<Transport>,
}

impl Remote {
    /// Stubs for the server at `url` (`http://host:port`), messages up to `max_message_bytes`,
    /// plaintext and no token.
    pub fn new(url: &str, max_message_bytes: usize) -> Result<Self, ClientError> {
        Self::with_access(url, max_message_bytes, &Access::default())
    }

    /// Stubs for the server at `url` with `access`'s TLS trust and token.
    pub fn with_access(
        url: &str,
        max_message_bytes: usize,
        access: &Access,
    ) -> Result<Self, ClientError> {
        let bad = |reason: String| ClientError::BadUrl {
            url: url.to_string(),
            reason,
        };
        let target = match (&access.tls_ca, url.strip_prefix("http://")) {
            (Some(_), Some(rest)) => format!("https://{rest}"),
            (None, _) if url.starts_with("https://") => {
                return Err(bad(
                    "an https:// server needs a CA file to verify it (tls_ca, --tls-ca)".into(),
                ));
            }
            _ => url.to_string(),
        };
        let mut endpoint = Endpoint::from_shared(target.clone())
            .map_err(|e| bad(e.to_string()))?
            .connect_timeout(Duration::from_secs(1))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(5));
        if let Some(ca) = &access.tls_ca {
            let pem = std::fs::read(ca).map_err(|e| {
                ClientError::BadAccess(format!("reading the CA file {}: {e}", ca.display()))
            })?;
            let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem));
            if let Some(d) = &access.tls_domain {
                tls = tls.domain_name(d.clone());
            }
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| ClientError::BadAccess(format!("TLS: {e}")))?;
        }
        let bearer = match &access.token {
            None => None,
            Some(t) => {
                let mut v: MetadataValue<Ascii> =
                    format!("Bearer {}", t.expose()).parse().map_err(|_| {
                        ClientError::BadAccess("the token does not fit a header".into())
                    })?;
                // Never indexed by HPACK (kept out of header compression tables).
                v.set_sensitive(true);
                Some(v)
            }
        };
        let device = match access.device.as_deref().filter(|d| !d.is_empty()) {
            None => None,
            Some(d) => Some(d.parse().map_err(|_| {
                ClientError::BadAccess(format!(
                    "the device name {d:?} does not fit a header (printable ASCII)"
                ))
            })?),
        };
        let identify = Identify { bearer, device };
        let channel = endpoint.connect_lazy();
        Ok(Self {
            url: target,
            infer: GrpcInferenceServiceClient::with_interceptor(channel.clone(), identify.clone())
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
            loadpart: LoadpartClient::with_interceptor(channel, identify)
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
        })
    }

    /// The server's URL (`https://` when TLS is on).
    pub fn url(&self) -> &str {
        &self.url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tokens_are_never_printed() {
        let t = Token::new("s3cret-s3cret-s3cret").unwrap();
        let access = Access {
            token: Some(t.clone()),
            ..Access::default()
        };
        assert!(!format!("{t:?} {access:?}").contains("s3cret"));
        let r = Remote::with_access("http://127.0.0.1:1", 1 << 20, &access).unwrap();
        assert!(!format!("{r:?}").contains("s3cret"), "{r:?}");
        assert!(Token::new("").is_err());
        assert!(Token::new("has space").is_err());
    }

    #[test]
    fn https_needs_a_ca() {
        assert!(Remote::new("https://127.0.0.1:1", 1 << 20).is_err());
        let missing = Access {
            tls_ca: Some("/nonexistent/ca.pem".into()),
            ..Access::default()
        };
        let e = Remote::with_access("http://127.0.0.1:1", 1 << 20, &missing).unwrap_err();
        assert!(e.to_string().contains("CA file"), "{e}");
    }
}

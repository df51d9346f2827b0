//! What every device-side command needs: the server, the model this device runs (the same file
//! and weights as the server's), its name on the server, and the engine; plus seeded noise
//! inputs for experiments.

use std::sync::Arc;

use anyhow::{Context, Result};
use loadpart_engine::LoadOptions;
use loadpart_engine::engine_or_tract;
use loadpart_engine::{Engine, EngineKind};
use loadpart_graph::load_model;
use loadpart_graph::{Prepared, Shapes, randomize_for_checks};
use loadpart_runtime::{ModelRuntime, NamedTensors, PartCache, Tensor};

/// The server and the model, as a device names them.
#[derive(Debug, Clone, clap::Args)]
pub struct RemoteModelArgs {
    /// The server, http://HOST:PORT.
    #[arg(long, env = "LOADPART_SERVER")]
    pub server: String,
    /// The model this device runs: a path to an .onnx file, zoo:NAME, or a light model name;
    /// the same file as the server's.
    #[arg(long)]
    pub model: String,
    /// The model's name on the server (default: the file stem, as `loadpart serve` names it).
    #[arg(long)]
    pub name: Option<String>,
    /// Replace the weights with seeded random ones, as `loadpart serve --randomize-seed` does.
    #[arg(long)]
    pub randomize_seed: Option<u64>,
    /// ort (ONNX Runtime; falls back to tract if its library is missing) or tract.
    #[arg(long, default_value = "ort", env = "LOADPART_ENGINE")]
    pub engine: EngineKind,
    #[command(flatten)]
    pub access: AccessArgs,
}

/// TLS trust and the device token, for every command that connects to a server.
#[derive(Clone, clap::Args)]
pub struct AccessArgs {
    /// Verify the server over TLS against this CA certificate (PEM); the server URL may then
    /// be http:// or https://.
    #[arg(long, env = "LOADPART_TLS_CA")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// The name the server's certificate must carry, when it differs from the URL's host.
    #[arg(long, requires = "tls_ca")]
    pub tls_domain: Option<String>,
    /// This device's token, sent as `authorization: Bearer TOKEN` (prefer the environment
    /// variable: a flag shows in the process list). Never printed.
    #[arg(long, env = "LOADPART_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl std::fmt::Debug for AccessArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessArgs")
            .field("tls_ca", &self.tls_ca)
            .field("tls_domain", &self.tls_domain)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl AccessArgs {
    /// The client library's access settings.
    pub fn access(&self) -> Result<loadpart_client::Access> {
        Ok(loadpart_client::Access {
            tls_ca: self.tls_ca.clone(),
            tls_domain: self.tls_domain.clone(),
            token: self
                .token
                .as_deref()
                .map(loadpart_client::Token::new)
                .transpose()?,
            device: None,
        })
    }
}

impl RemoteModelArgs {
    /// The prepared model (weights randomized when asked) and the engine.
    pub fn load(&self) -> Result<(Arc<Prepared>, Arc<dyn Engine>)> {
        let model = load_model(&self.model)?;
        let model = match self.randomize_seed {
            Some(seed) => randomize_for_checks(&model, seed)?,
            None => model,
        };
        Ok((
            Arc::new(Prepared::new(&model)?),
            Arc::from(engine_or_tract(self.engine)?),
        ))
    }

    /// The model's name on the server.
    pub fn server_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| loadpart_graph::model_name(&self.model))
    }
}

/// The runtime an emulated device runs its heads and fallbacks on: one intra-op thread (a
/// device is one core; the slowdown emulates the rest), parts cached up to `cache_bytes`.
pub fn device_runtime(
    engine: Arc<dyn Engine>,
    prepared: Arc<Prepared>,
    cache_bytes: usize,
) -> Arc<ModelRuntime> {
    Arc::new(ModelRuntime::new(
        engine,
        prepared,
        Arc::new(PartCache::new(cache_bytes)),
        LoadOptions {
            intra_threads: 1,
            ..LoadOptions::default()
        },
    ))
}

/// Seeded noise in [-1, 1) for every model input at batch 1 (xorshift: it does not compress,
/// as real images do not).
pub fn noise_inputs(prepared: &Prepared, seed: u64) -> Result<NamedTensors> {
    let shapes = Shapes::infer(&prepared.model, 1)?;
    prepared
        .model
        .inputs()
        .iter()
        .map(|name| {
            let ty = shapes.get(name).context("input without a shape")?;
            let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let data = (0..ty.elements())
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 40) as f32 / (1u64 << 23) as f32 - 1.0
                })
                .collect();
            Ok((name.clone(), Tensor::f32(ty.dims.clone(), data)?))
        })
        .collect()
}

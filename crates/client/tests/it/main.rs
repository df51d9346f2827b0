//! Integration tests of loadpart-client against a real in-process server on 127.0.0.1:0, over
//! real gRPC, with real (generated) models and profiles measured here.
//!
//! Run in release mode: `cargo test --release -p loadpart-client`.
mod fallback;
mod offload;
mod secure;

use std::path::PathBuf;
use std::sync::Arc;

use loadpart_client::{Client, ClientConfig};
use loadpart_engine::{EngineKind, LoadOptions};
use loadpart_exec::{ProfileOptions, profile_model};
use loadpart_graph::{Prepared, zoo};
use loadpart_plan::{ModelProfile, ProfileRole};
use loadpart_runtime::{ModelRuntime, NamedTensors, PartCache};
use loadpart_server::{ModelSpec, RunningServer, Server, ServerConfig};

/// The generated model `name`, prepared as server and device both prepare it.
pub fn prepared(name: &str) -> Arc<Prepared> {
    Arc::new(Prepared::new(&zoo::generate(name).unwrap()).unwrap())
}

/// A quick profile of `prepared` for `role` on ONNX Runtime (1 thread).
pub fn profile(prepared: &Prepared, role: ProfileRole) -> ModelProfile {
    profile_with_bits(prepared, role, &[8])
}

/// [`profile`] with the codec measured at these code widths too.
pub fn profile_with_bits(prepared: &Prepared, role: ProfileRole, bits: &[u8]) -> ModelProfile {
    let engine = loadpart_engine::engine(EngineKind::Ort).unwrap();
    let opts = ProfileOptions {
        batch_sizes: match role {
            ProfileRole::Device => vec![1],
            ProfileRole::Server => vec![1, 2, 4],
        },
        warmup: 1,
        runs: 3,
        anchors: 4,
        validate_cuts: 0,
        codec_bits: bits.to_vec(),
        role,
        load: LoadOptions {
            intra_threads: 1,
            ..LoadOptions::default()
        },
        ..ProfileOptions::default()
    };
    profile_model(engine.as_ref(), prepared, "test", &opts, &mut |_, _, _| {}).unwrap()
}

/// Writes `p` to a temporary file and returns its path.
pub fn profile_file(p: &ModelProfile, tag: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "loadpart-client-test-{}-{tag}.json",
        std::process::id()
    ));
    std::fs::write(&path, serde_json::to_string(p).unwrap()).unwrap();
    path
}

/// A server for zoo model `name` on 127.0.0.1:`port` (0: any) with a server profile.
pub async fn server(name: &str, port: u16, profile: &std::path::Path) -> RunningServer {
    let config = ServerConfig {
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        models: vec![ModelSpec {
            profile: Some(loadpart_server::ProfileSource::File(profile.to_path_buf())),
            ..ModelSpec::new(format!("zoo:{name}"))
        }],
        intra_threads: 1,
        ..ServerConfig::default()
    };
    Server::start(config).await.expect("server starts")
}

/// The device side: `prepared` on ONNX Runtime with 1 thread.
pub fn device_runtime(prepared: Arc<Prepared>) -> Arc<ModelRuntime> {
    let engine: Arc<dyn loadpart_engine::Engine> =
        Arc::from(loadpart_engine::engine(EngineKind::Ort).unwrap());
    Arc::new(ModelRuntime::new(
        engine,
        prepared,
        Arc::new(PartCache::new(1 << 30)),
        LoadOptions {
            intra_threads: 1,
            ..LoadOptions::default()
        },
    ))
}

/// A client of `server` for model `name`.
pub async fn client(
    server_addr: std::net::SocketAddr,
    name: &str,
    rt: Arc<ModelRuntime>,
    device: &ModelProfile,
    tweak: impl FnOnce(&mut ClientConfig),
) -> Client {
    let mut config = ClientConfig::new(format!("http://{server_addr}"), name);
    tweak(&mut config);
    Client::connect(config, rt, device.clone(), None)
        .await
        .expect("client connects")
}

/// Seeded inputs for every model input at batch 1.
pub fn inputs(prepared: &Prepared, seed: u32) -> NamedTensors {
    loadpart_testkit::seeded_inputs(&prepared.model, 1, seed)
}

/// Whole-model outputs on the device engine.
pub fn local(rt: &ModelRuntime, x: &NamedTensors) -> NamedTensors {
    rt.full()
        .unwrap()
        .run(&loadpart_runtime::views(x))
        .unwrap()
        .outputs
}

/// Largest relative error over the outputs.
pub fn rel_err(a: &NamedTensors, b: &NamedTensors) -> f64 {
    loadpart_exec::compare_outputs(a, b)
        .expect("same outputs")
        .1
}

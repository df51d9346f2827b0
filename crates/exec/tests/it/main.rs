//! Integration tests of loadpart-exec: one binary, one module per concern.
//!
//! Run in release mode (tract is slow unoptimised): `cargo test --release -p loadpart-exec`.
//! Needs `scripts/setup.sh` to have installed ONNX Runtime and the light models.
mod broken_split;
mod codec_accuracy;
mod conformance;
mod plan_real;
mod profile;

use loadpart_engine::{Engine, EngineKind};

/// Directory of the model-zoo light models installed by `scripts/setup.sh`.
pub fn light_dir() -> std::path::PathBuf {
    let dir = loadpart_graph::zoo::light_models_dir();
    assert!(
        dir.join("light_resnet50.onnx").exists(),
        "light models missing in {}: run scripts/setup.sh",
        dir.display()
    );
    dir
}

/// Every engine; a missing ONNX Runtime fails the tests rather than skipping them.
pub fn engines() -> Vec<Box<dyn Engine>> {
    EngineKind::ALL
        .iter()
        .map(|&k| {
            loadpart_engine::engine(k).unwrap_or_else(|e| panic!("engine {}: {e}", k.as_str()))
        })
        .collect()
}

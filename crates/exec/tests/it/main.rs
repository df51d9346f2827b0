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

/// A light model with seeded random weights, prepared (see `loadpart_graph::randomize_for_checks`).
pub fn randomized_light(name: &str) -> loadpart_exec::Prepared {
    let model = loadpart_graph::zoo::load_light(name).unwrap_or_else(|e| panic!("{e}"));
    loadpart_exec::Prepared::new(&loadpart_exec::randomize_for_checks(&model, 7).unwrap()).unwrap()
}

/// Held by every test of this binary that runs models: timing tests (profiles) must not share
/// the two cores with conformance runs, or their measurements measure the other tests.
pub fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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

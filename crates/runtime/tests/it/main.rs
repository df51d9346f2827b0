//! Integration tests of loadpart-runtime: one binary, one module per concern.
//!
//! Run in release mode: `cargo test --release -p loadpart-runtime` (needs `scripts/setup.sh`'s
//! ONNX Runtime library; a missing one fails the ort tests rather than skipping them).
mod cache;
mod multi_output;
mod zero_copy;

use std::sync::Arc;

use loadpart_engine::{Engine, EngineKind, LoadOptions, Tensor};
use loadpart_graph::{OnnxModel, Prepared, Shapes, onnx::DataType, zoo};
use loadpart_runtime::{ModelRuntime, NamedTensors, PartCache};

pub fn engine(kind: EngineKind) -> Arc<dyn Engine> {
    Arc::from(loadpart_engine::engine(kind).unwrap_or_else(|e| panic!("engine {kind}: {e}")))
}

pub fn runtime(kind: EngineKind, model: &str, budget: usize) -> ModelRuntime {
    let prepared = Prepared::new(&zoo::generate(model).unwrap()).unwrap();
    ModelRuntime::new(
        engine(kind),
        Arc::new(prepared),
        Arc::new(PartCache::new(budget)),
        LoadOptions::default(),
    )
}

/// Deterministic, input-dependent values for every model input at `batch`.
pub fn inputs(model: &OnnxModel, batch: usize, seed: u32) -> NamedTensors {
    let shapes = Shapes::infer(model, batch).unwrap();
    model
        .inputs()
        .iter()
        .map(|name| {
            let ty = shapes.get(name).unwrap();
            assert_eq!(ty.elem, DataType::Float);
            let n = ty.elements();
            let data = (0..n)
                .map(|i| {
                    let h = (i as u32 ^ seed.wrapping_mul(0x9e37_79b9)).wrapping_mul(2_654_435_761);
                    (h ^ (h >> 15)) as f32 / u32::MAX as f32
                })
                .collect();
            (name.clone(), Tensor::f32(ty.dims.clone(), data).unwrap())
        })
        .collect()
}

/// Largest |a - b| over the largest |a|, over every output; names must match.
pub fn rel_err(a: &NamedTensors, b: &NamedTensors) -> f64 {
    assert_eq!(a.len(), b.len(), "{:?} vs {:?}", names(a), names(b));
    let mut worst = 0f64;
    for (name, x) in a {
        let (_, y) = b.iter().find(|(n, _)| n == name).expect("same outputs");
        assert_eq!(x.shape, y.shape, "{name}");
        let (x, y) = (x.as_f32().unwrap(), y.as_f32().unwrap());
        let scale = x.iter().fold(0f64, |m, v| m.max(v.abs() as f64)).max(1e-30);
        let diff = x
            .iter()
            .zip(y)
            .fold(0f64, |m, (p, q)| m.max((*p as f64 - *q as f64).abs()));
        worst = worst.max(diff / scale);
    }
    worst
}

pub fn names(t: &NamedTensors) -> Vec<&str> {
    t.iter().map(|(n, _)| n.as_str()).collect()
}

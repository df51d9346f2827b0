//! Shared helpers: where the test models live, the float comparison, deterministic values.

use std::path::PathBuf;

use loadpart_engine::{Dim, Engine, EngineKind, IoInfo};

/// The light model-zoo models ([`loadpart_graph::zoo::light_models_dir`]). Missing models fail
/// the test; they are never skipped.
pub fn models_dir() -> PathBuf {
    let dir = loadpart_graph::zoo::light_models_dir();
    assert!(
        dir.join("light_resnet50.onnx").is_file(),
        "test models not found in {}: run scripts/setup.sh (or set LOADPART_MODELS)",
        dir.display()
    );
    dir
}

/// The engine, or a failure that says how to install it.
pub fn engine(kind: EngineKind) -> Box<dyn Engine> {
    loadpart_engine::engine(kind).unwrap_or_else(|e| panic!("engine {kind} unavailable: {e}"))
}

/// Max absolute difference relative to the reference's largest magnitude:
/// `max|got - want| / max(max|want|, 1e-6)`. Element-wise relative error is meaningless near
/// zero (post-ReLU activations, tiny logits); scaling by the tensor's range is not. NaN or a
/// length mismatch counts as infinitely wrong.
pub fn max_rel_err(got: &[f32], want: &[f32]) -> f32 {
    if got.len() != want.len() {
        return f32::INFINITY;
    }
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    let mut worst = 0f32;
    for (a, b) in got.iter().zip(want) {
        let d = (a - b).abs();
        if d.is_nan() {
            return f32::INFINITY;
        }
        worst = worst.max(d);
    }
    worst / scale
}

/// Tolerance of the whole suite.
pub const TOL: f32 = 1e-4;

/// `arange(n) / n` in f32, the input the reference outputs were produced from.
pub fn arange_input(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32 / n as f32).collect()
}

/// The concrete shape of an input whose dimensions are all fixed.
pub fn fixed_shape(info: &IoInfo) -> Vec<usize> {
    info.shape
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => *n,
            Dim::Dynamic(s) => panic!("input {:?} has dynamic dimension {s}", info.name),
        })
        .collect()
}

/// Deterministic values in [-1, 1) (xorshift64*), so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
        (v as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
}

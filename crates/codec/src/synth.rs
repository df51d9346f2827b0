//! Synthetic activation-like tensors for benchmarks and tests until real activations are wired.
//!
//! Each (row, channel) plane is a spatially correlated Gaussian field (separable AR(1), unit
//! variance) times a per-channel gain, through ReLU: about half the values are exact zeros and
//! the rest are half-normal, with neighbours alike, as after a conv + ReLU layer.

/// Deterministic pseudo-activations of `shape` (NCHW; lower ranks are treated as one plane per
/// leading index). `seed` selects the sample.
pub fn synthetic_activations(shape: &[usize], seed: u64) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let w = shape.last().copied().unwrap_or(1).max(1);
    let h = if shape.len() >= 2 {
        shape[shape.len() - 2].max(1)
    } else {
        1
    };
    let plane = w * h;
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let a = 0.8f32;
    let b = (1.0 - a * a).sqrt();
    let mut out = vec![0.0f32; n];
    let mut prev_row = vec![0.0f32; w];
    for p in out.chunks_mut(plane) {
        let gain = 0.2 + 2.0 * rng.uniform();
        for (y, row) in p.chunks_mut(w).enumerate() {
            let mut v = rng.normal();
            for (x, o) in row.iter_mut().enumerate() {
                v = if x == 0 { v } else { a * v + b * rng.normal() };
                let f = if y == 0 { v } else { a * prev_row[x] + b * v };
                prev_row[x] = f;
                *o = (f * gain).max(0.0);
            }
        }
    }
    out
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f32 {
        ((self.next() >> 40) as f32 + 1.0) / (1u64 << 24) as f32
    }
    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
}

//! Helpers the workspace's tests share, so that each exists once: a free loopback port and
//! seeded inputs for a model. A dev-dependency only; nothing here is for production code.
//!
//! It depends on `graph` and `engine` alone, so that any crate above them (runtime, server,
//! client, cli) can use it in its tests without a cycle.
#![forbid(unsafe_code)]

use loadpart_engine::Tensor;
use loadpart_graph::{OnnxModel, Shapes};

/// A free loopback port: bound, noted and released, for a server that must come back on the
/// same port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a loopback port")
        .local_addr()
        .expect("its address")
        .port()
}

/// Deterministic, seed-dependent values in [-0.5, 0.5] for every (float) input of `model` at
/// `batch`, by name: every seed gives new values, and the same seed the same ones in every
/// process.
pub fn seeded_inputs(model: &OnnxModel, batch: usize, seed: u32) -> Vec<(String, Tensor)> {
    let shapes = Shapes::infer(model, batch).expect("the model's shapes");
    model
        .inputs()
        .iter()
        .map(|name| {
            let ty = shapes.get(name).expect("an input with a shape");
            let data = (0..ty.elements())
                .map(|i| {
                    // murmur3's finalizer over (index, seed).
                    let mut h = (i as u32).wrapping_add(seed.wrapping_mul(0x9E37_79B9));
                    h ^= h >> 16;
                    h = h.wrapping_mul(0x85EB_CA6B);
                    h ^= h >> 13;
                    h = h.wrapping_mul(0xC2B2_AE35);
                    h ^= h >> 16;
                    h as f32 / u32::MAX as f32 - 0.5
                })
                .collect();
            let t = Tensor::f32(ty.dims.clone(), data).expect("a tensor of the input's shape");
            (name.clone(), t)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_give_different_values_in_range() {
        let m = loadpart_graph::zoo::generate("chain").unwrap();
        let (a, b) = (seeded_inputs(&m, 2, 1), seeded_inputs(&m, 2, 2));
        assert_eq!(a.len(), m.inputs().len());
        assert_eq!(a[0].1.shape[0], 2);
        let (va, vb) = (a[0].1.as_f32().unwrap(), b[0].1.as_f32().unwrap());
        assert_ne!(va, vb);
        assert_eq!(va, seeded_inputs(&m, 2, 1)[0].1.as_f32().unwrap());
        assert!(va.iter().all(|v| (-0.5..=0.5).contains(v)));
        assert_ne!(free_port(), 0);
    }
}

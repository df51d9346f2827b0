//! A tiny dynamic-batch model written by the test itself, and the same computation by hand.
//!
//! The light model-zoo files hard-code batch 1 (input dims and Reshape constants), so they
//! cannot show that an engine runs any batch size. This net can:
//! `x[N,2,5,5] -> Conv(3x3, pad 1) -> Relu = h[N,3,5,5] -> Flatten -> Gemm[75->4] -> + s[N,4] = y`.
//! Two inputs and two outputs also check that inputs are matched by name and outputs come back
//! in model order (`y`, then `h`).

use loadpart_graph::onnx::GraphProto;
use loadpart_graph::tensor_from_f32;

use crate::fixtures::{int, ints, model, node, value_info};
use crate::support::Rng;

pub const C_IN: usize = 2;
pub const C_OUT: usize = 3;
pub const HW: usize = 5;
pub const FEAT: usize = C_OUT * HW * HW;
pub const CLASSES: usize = 4;

pub struct SmallNet {
    pub conv_w: Vec<f32>,
    pub conv_b: Vec<f32>,
    pub gemm_w: Vec<f32>,
    pub gemm_b: Vec<f32>,
}

impl SmallNet {
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        SmallNet {
            conv_w: rng.vec(C_OUT * C_IN * 9),
            conv_b: rng.vec(C_OUT),
            gemm_w: rng.vec(FEAT * CLASSES),
            gemm_b: rng.vec(CLASSES),
        }
    }

    /// Serialized ONNX, batch dimension `dim_param: "N"`.
    pub fn onnx(&self) -> Vec<u8> {
        let n = None;
        let graph = GraphProto {
            name: Some("small_net".into()),
            node: vec![
                node(
                    "Conv",
                    &["x", "W", "B"],
                    &["c"],
                    vec![
                        ints("kernel_shape", &[3, 3]),
                        ints("pads", &[1, 1, 1, 1]),
                        ints("strides", &[1, 1]),
                    ],
                ),
                node("Relu", &["c"], &["h"], vec![]),
                node("Flatten", &["h"], &["f"], vec![int("axis", 1)]),
                node("Gemm", &["f", "G", "Gb"], &["g"], vec![]),
                node("Add", &["g", "s"], &["y"], vec![]),
            ],
            initializer: vec![
                tensor_from_f32("W", &[C_OUT, C_IN, 3, 3], &self.conv_w),
                tensor_from_f32("B", &[C_OUT], &self.conv_b),
                tensor_from_f32("G", &[FEAT, CLASSES], &self.gemm_w),
                tensor_from_f32("Gb", &[CLASSES], &self.gemm_b),
            ],
            input: vec![
                value_info("x", &[n, Some(C_IN), Some(HW), Some(HW)]),
                value_info("s", &[n, Some(CLASSES)]),
            ],
            output: vec![
                value_info("y", &[n, Some(CLASSES)]),
                value_info("h", &[n, Some(C_OUT), Some(HW), Some(HW)]),
            ],
            ..Default::default()
        };
        model(graph)
    }

    /// `(y, h)` computed directly, in f64.
    pub fn reference(&self, batch: usize, x: &[f32], s: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let mut h = vec![0f32; batch * FEAT];
        for b in 0..batch {
            for o in 0..C_OUT {
                for i in 0..HW {
                    for j in 0..HW {
                        let mut acc = self.conv_b[o] as f64;
                        for c in 0..C_IN {
                            for di in 0..3 {
                                for dj in 0..3 {
                                    let (ii, jj) = (i + di, j + dj);
                                    if ii < 1 || jj < 1 || ii > HW || jj > HW {
                                        continue;
                                    }
                                    let xv = x[((b * C_IN + c) * HW + ii - 1) * HW + jj - 1];
                                    let wv = self.conv_w[((o * C_IN + c) * 3 + di) * 3 + dj];
                                    acc += xv as f64 * wv as f64;
                                }
                            }
                        }
                        h[((b * C_OUT + o) * HW + i) * HW + j] = acc.max(0.0) as f32;
                    }
                }
            }
        }
        let mut y = vec![0f32; batch * CLASSES];
        for b in 0..batch {
            for k in 0..CLASSES {
                let mut acc = self.gemm_b[k] as f64 + s[b * CLASSES + k] as f64;
                for f in 0..FEAT {
                    acc += h[b * FEAT + f] as f64 * self.gemm_w[f * CLASSES + k] as f64;
                }
                y[b * CLASSES + k] = acc as f32;
            }
        }
        (y, h)
    }
}

/// Inputs for one batch: `(x, s)`.
pub fn inputs(batch: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    (rng.vec(batch * C_IN * HW * HW), rng.vec(batch * CLASSES))
}

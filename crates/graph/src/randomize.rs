//! Deterministic random weights for models whose weights are constant fills.
//!
//! The model-zoo "light" models generate every weight with ConstantOfShape(0.02), so their
//! outputs are the same whatever the input: comparing outputs would prove nothing. This rewrite
//! replaces each weight with seeded random values of the same shape, scaled by its role (He
//! scaling for Conv/Gemm/MatMul weights, near-identity for normalisation scales, small values for
//! biases) so activations neither vanish nor explode through 100+ layers.

use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::consts::tensor_from_f32;
use crate::onnx::DataType;
use crate::{GraphError, OnnxModel, Shapes};

/// How a constant float tensor is used, which sets the distribution of its random values.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    /// Weight with this fan-in: uniform with the He variance 2 / fan_in.
    Weight { fan_in: usize },
    /// A multiplicative scale (BatchNormalization scale or variance, Mul): around 1.
    Scale,
    /// An additive term (bias, BatchNormalization mean, Add): around 0.
    Shift,
}

/// Returns a copy of `model` whose weights are seeded random values. Weights are the float
/// tensors made by ConstantOfShape nodes or stored as initializers and read (directly or through
/// constant ops like Unsqueeze) by Conv, Gemm, MatMul, BatchNormalization, Mul, Add, Sub, PRelu.
pub fn randomize_weights(model: &OnnxModel, seed: u64) -> Result<OnnxModel, GraphError> {
    let shapes = Shapes::infer(model, 1)?;
    let mut proto = model.proto().clone();
    let graph = proto.graph.as_mut().ok_or(GraphError::NoGraph)?;
    let mut drop_nodes = vec![false; graph.node.len()];
    let mut replaced = Vec::new();

    let candidates: Vec<(String, Option<usize>)> = graph
        .initializer
        .iter()
        .filter(|t| t.data_type() == DataType::Float as i32 && t.dims.iter().product::<i64>() > 1)
        .map(|t| (t.name().to_string(), None))
        .chain(
            graph
                .node
                .iter()
                .enumerate()
                .filter(|(_, n)| n.op_type() == "ConstantOfShape")
                .map(|(i, n)| (n.output[0].clone(), Some(i))),
        )
        .collect();
    for (name, node) in candidates {
        let ty = shapes.try_get(&name)?;
        if ty.elem != DataType::Float {
            continue;
        }
        let Some(role) = role_of(model, &shapes, &name) else {
            continue;
        };
        let mut rng = StdRng::seed_from_u64(seed ^ fnv(&name));
        let n = ty.elements();
        let data: Vec<f32> = match role {
            Role::Weight { fan_in } => {
                let a = (6.0 / fan_in.max(1) as f32).sqrt();
                (0..n).map(|_| rng.random_range(-a..a)).collect()
            }
            Role::Scale => (0..n).map(|_| rng.random_range(0.8..1.2)).collect(),
            Role::Shift => (0..n).map(|_| rng.random_range(-0.1..0.1)).collect(),
        };
        replaced.push(tensor_from_f32(&name, &ty.dims, &data));
        if let Some(i) = node {
            drop_nodes[i] = true;
        }
    }
    let names: std::collections::HashSet<String> =
        replaced.iter().map(|t| t.name().to_string()).collect();
    graph.initializer.retain(|t| !names.contains(t.name()));
    graph.initializer.extend(replaced);
    let mut i = 0;
    graph.node.retain(|_| {
        i += 1;
        !drop_nodes[i - 1]
    });
    model.revalued(proto)
}

/// Follows `tensor` through constant-only ops to the first activation op that reads it.
fn role_of(model: &OnnxModel, shapes: &Shapes, tensor: &str) -> Option<Role> {
    let mut current = tensor.to_string();
    for _ in 0..8 {
        let consumers = model.consumers(&current);
        let &c = consumers.first()?;
        let node = &model.nodes()[c];
        if model.is_constant_node(c) {
            current = node.output.first()?.clone();
            continue;
        }
        let slot = node.input.iter().position(|i| *i == current)?;
        let dims = &shapes.get(&current)?.dims;
        let trans_b = crate::model::attr_i(node, "transB", 0) != 0;
        return match (node.op_type(), slot) {
            ("Conv", 1) => Some(Role::Weight {
                fan_in: dims[1..].iter().product(),
            }),
            ("ConvTranspose", 1) => Some(Role::Weight {
                fan_in: dims[0] * dims[2..].iter().product::<usize>(),
            }),
            ("Gemm", 1) => Some(Role::Weight {
                fan_in: if trans_b { dims[1] } else { dims[0] },
            }),
            ("MatMul", 1) if dims.len() >= 2 => Some(Role::Weight {
                fan_in: dims[dims.len() - 2],
            }),
            ("Conv" | "Gemm" | "ConvTranspose", 2) => Some(Role::Shift),
            ("BatchNormalization", 1 | 4) | ("Mul" | "Div", _) => Some(Role::Scale),
            ("BatchNormalization", 2 | 3) | ("Add" | "Sub" | "Sum", _) | ("PRelu", 1) => {
                Some(Role::Shift)
            }
            _ => None,
        };
    }
    None
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// Returns `model` without its final Softmax layers: each model output produced by a Softmax
/// (or LogSoftmax) is replaced by that layer's input, the logits. Comparing probabilities of a
/// randomly weighted network says little (they saturate or flatten); logits keep every node's
/// contribution visible.
pub fn strip_final_softmax(model: &OnnxModel) -> Result<OnnxModel, GraphError> {
    let mut proto = model.proto().clone();
    let graph = proto.graph.as_mut().ok_or(GraphError::NoGraph)?;
    let mut drop = Vec::new();
    for out in graph.output.iter_mut() {
        let Some(p) = model.producer(out.name()) else {
            continue;
        };
        let node = &model.nodes()[p];
        let logits = &node.input[0];
        let unread = model.consumers(out.name()).is_empty() && model.consumers(logits).len() == 1;
        if matches!(node.op_type(), "Softmax" | "LogSoftmax")
            && unread
            && !model.is_constant_tensor(logits)
        {
            out.name = Some(logits.clone());
            out.r#type = None;
            drop.push(p);
        }
    }
    if drop.is_empty() {
        return Ok(model.clone());
    }
    let mut i = 0;
    graph.node.retain(|_| {
        i += 1;
        !drop.contains(&(i - 1))
    });
    model.revalued(proto)
}

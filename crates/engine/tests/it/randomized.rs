//! Both engines on the light models with their constant weights replaced by deterministic
//! random values, compared on the logits before the final Softmax.
//!
//! The shipped references are uniform softmaxes (constant weights), so matching them shows
//! only that a model runs. Here the weights vary, so the logits depend on the input and on every
//! node, and ort and tract must agree on them. The rewrite uses tract-onnx's generated protobuf
//! types (`tract_onnx::pb`) only because they cover the whole ONNX schema needed to re-encode a
//! model; the bytes go to both engines alike.

use std::collections::HashMap;

use loadpart_engine::{EngineKind, LoadOptions, TensorRef};
use prost::Message;
use tract_onnx::pb;

use crate::light::{ignored, model_bytes};
use crate::support::{Rng, TOL, arange_input, engine, fixed_shape, max_rel_err};

const FLOAT: i32 = 1;
const INT64: i32 = 7;

fn int64s(t: &pb::TensorProto) -> Vec<i64> {
    if t.raw_data.is_empty() {
        t.int64_data.clone()
    } else {
        t.raw_data
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
            .collect()
    }
}

fn first_f32(t: &pb::TensorProto) -> f32 {
    if t.raw_data.len() >= 4 {
        f32::from_le_bytes(t.raw_data[..4].try_into().unwrap())
    } else {
        t.float_data.first().copied().unwrap_or(0.0)
    }
}

fn float_info(name: &str, dims: Option<&[i64]>) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{Dimension, dimension::Value};
    let shape = dims.map(|d| pb::TensorShapeProto {
        dim: d
            .iter()
            .map(|&v| Dimension {
                value: Some(Value::DimValue(v)),
                ..Default::default()
            })
            .collect(),
    });
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: FLOAT,
                shape,
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Replaces every `ConstantOfShape(shape, value=c)` by an initializer of that shape: weights
/// (rank >= 2) get He-uniform values `u * sqrt(6 / fan_in)` so activations keep their scale
/// through the network; vectors (biases, batch-norm parameters) get `c * (1 + u/2)`, which keeps
/// signs so variances stay positive, or `u/10` where `c == 0` (`u` uniform in [-1, 1)). Adds the
/// last Softmax's input as an output. Returns the bytes and the name of the tensor to compare:
/// those logits, or the first output for a model without Softmax.
pub fn randomize(bytes: &[u8], seed: u64) -> (Vec<u8>, String) {
    let mut model = pb::ModelProto::decode(bytes).expect("decodes");
    let graph = model.graph.as_mut().expect("has a graph");
    let mut shapes: HashMap<String, Vec<i64>> = graph
        .initializer
        .iter()
        .filter(|t| t.data_type == INT64)
        .map(|t| (t.name.clone(), int64s(t)))
        .collect();
    for node in graph.node.iter().filter(|n| n.op_type == "Constant") {
        if let Some(t) = node.attribute.iter().find_map(|a| a.t.as_ref())
            && t.data_type == INT64
        {
            shapes.insert(node.output[0].clone(), int64s(t));
        }
    }
    let mut rng = Rng::new(seed);
    let mut weights = Vec::new();
    graph.node.retain(|node| {
        if node.op_type != "ConstantOfShape" {
            return true;
        }
        let dims = shapes
            .get(&node.input[0])
            .unwrap_or_else(|| panic!("shape of {} is not a constant", node.output[0]));
        let fill = node
            .attribute
            .iter()
            .find(|a| a.name == "value")
            .and_then(|a| a.t.as_ref())
            .map_or(0.0, first_f32);
        let n = dims.iter().product::<i64>() as usize;
        let float_data = if dims.len() >= 2 {
            let fan_in = dims[1..].iter().product::<i64>().max(1) as f32;
            let bound = (6.0 / fan_in).sqrt();
            (0..n).map(|_| rng.next() * bound).collect()
        } else if fill == 0.0 {
            (0..n).map(|_| rng.next() / 10.0).collect()
        } else {
            (0..n).map(|_| fill * (1.0 + rng.next() / 2.0)).collect()
        };
        weights.push(pb::TensorProto {
            dims: dims.clone(),
            data_type: FLOAT,
            float_data,
            name: node.output[0].clone(),
            ..Default::default()
        });
        false
    });
    assert!(!weights.is_empty(), "no ConstantOfShape weights found");
    // IR < 4 requires initializers to be listed as graph inputs too.
    for w in &weights {
        graph.input.push(float_info(&w.name, Some(&w.dims)));
    }
    graph.initializer.extend(weights);
    let logits = match graph.node.iter().rev().find(|n| n.op_type == "Softmax") {
        Some(softmax) => {
            let logits = softmax.input[0].clone();
            graph.output.push(float_info(&logits, None));
            logits
        }
        None => graph.output[0].name.clone(),
    };
    (model.encode_to_vec(), logits)
}

fn logits(kind: EngineKind, bytes: &[u8], name: &str) -> Vec<f32> {
    let model = engine(kind)
        .load(bytes, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
    let input = model.inputs()[0].clone();
    let shape = fixed_shape(&input);
    let data = arange_input(shape.iter().product());
    let out = model
        .run(&[(input.name.as_str(), TensorRef::f32(&shape, &data).unwrap())])
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
    let t = out
        .get(name)
        .unwrap_or_else(|| panic!("{kind}: no output {name}"));
    t.as_f32().unwrap().to_vec()
}

pub fn check(model: &str) {
    for kind in EngineKind::ALL {
        if let Some(reason) = ignored(kind, model) {
            println!("RESULT randomized {model}: not compared, {kind} cannot run it ({reason})");
            return;
        }
    }
    let (bytes, name) = randomize(&model_bytes(model), 1234);
    let ort = logits(EngineKind::Ort, &bytes, &name);
    let tract = logits(EngineKind::Tract, &bytes, &name);
    let (lo, hi) = ort
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    let scale = lo.abs().max(hi.abs());
    assert!(
        hi - lo > 1e-3 * scale && scale.is_finite(),
        "{model}: logits in [{lo}, {hi}] do not depend enough on the weights"
    );
    let (other_weights, _) = randomize(&model_bytes(model), 4321);
    let other = logits(EngineKind::Ort, &other_weights, &name);
    let teeth = max_rel_err(&other, &ort);
    assert!(
        teeth > 100.0 * TOL,
        "{model}: other weights change logits by only {teeth:e}"
    );
    let err = max_rel_err(&tract, &ort);
    println!(
        "RESULT randomized {model}: tract vs ort max_rel_err {err:.3e} on {name:?} in \
         [{lo:.3e}, {hi:.3e}]; other weights differ by {teeth:.3e}"
    );
    assert!(
        err <= TOL,
        "{model}: tract vs ort logits max_rel_err {err:e}"
    );
}

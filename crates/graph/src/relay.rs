//! Layout relays: identity nodes that let ONNX Runtime keep a tail in its fast CPU layout.
//!
//! ONNX Runtime's CPU optimiser runs convolutions in a blocked channel layout (NCHWc) and fuses a
//! residual `Add`/`Sum` (and the `Relu` after it) into the convolution that produces one operand,
//! but only when the other operand is in NCHWc too. A part's graph inputs arrive in plain NCHW,
//! so where a tail's input feeds a residual sum directly (the skip tensor of a multi-tensor cut
//! such as ResNet's `{block input, main path}`), the sum runs unfused in NCHW with layout
//! conversions around it, and each later residual block of the stage inherits the NCHW operand.
//! On ResNet-50 that made such tails about 2 ms (7%) slower than the same layers in the whole
//! model. A 1x1 `MaxPool` with stride 1 is the identity on a 4-d tensor, and the optimiser
//! converts it to NCHWc like a convolution's input, so routing the input through one restores
//! the fused path for the cost of one layout conversion and one copy.
//!
//! The relays change no values; they are for loading a part on ONNX Runtime, not for the
//! standard ONNX files `loadpart split` writes.

use crate::Part;
use crate::build::{ints_attr, node};
use crate::onnx::{GraphProto, NodeProto, type_proto};

/// Routes every rank-4 graph input of `part` that an `Add` or `Sum` reads through an identity
/// `MaxPool` (kernel 1, stride 1), rewriting those readers. Returns how many relays were added.
pub fn insert_layout_relays(part: &mut Part) -> usize {
    let Some(graph) = part.model.graph.as_mut() else {
        return 0;
    };
    let taken = |name: &str, g: &GraphProto| {
        g.node.iter().any(|n| n.output.iter().any(|o| o == name))
            || g.input.iter().any(|i| i.name() == name)
            || g.initializer.iter().any(|t| t.name() == name)
    };
    let mut relays = Vec::new();
    for input in &graph.input {
        let Some(name) = input.name.as_deref() else {
            continue;
        };
        let rank4 = input
            .r#type
            .as_ref()
            .and_then(|t| match &t.value {
                Some(type_proto::Value::TensorType(tt)) => tt.shape.as_ref(),
                _ => None,
            })
            .is_some_and(|s| s.dim.len() == 4);
        let feeds_sum = graph.node.iter().any(|n| {
            matches!(n.op_type.as_deref(), Some("Add" | "Sum")) && n.input.iter().any(|i| i == name)
        });
        if !rank4 || !feeds_sum {
            continue;
        }
        let mut relayed = format!("{name}/layout_relay");
        while taken(&relayed, graph) {
            relayed.push('_');
        }
        relays.push((name.to_owned(), relayed));
    }
    for node in &mut graph.node {
        if matches!(node.op_type.as_deref(), Some("Add" | "Sum")) {
            for i in node.input.iter_mut() {
                if let Some((_, relayed)) = relays.iter().find(|(n, _)| n == i) {
                    *i = relayed.clone();
                }
            }
        }
    }
    let new_nodes: Vec<NodeProto> = relays
        .iter()
        .map(|(from, to)| {
            let attrs = vec![
                ints_attr("kernel_shape", &[1, 1]),
                ints_attr("strides", &[1, 1]),
            ];
            node("MaxPool", Some(to), &[from.as_str()], &[to.as_str()], attrs)
        })
        .collect();
    let added = new_nodes.len();
    // Relays read graph inputs only, so placing them first keeps the node list topological.
    graph.node.splice(0..0, new_nodes);
    added
}

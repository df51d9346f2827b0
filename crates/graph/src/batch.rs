//! Making the batch dimension dynamic on models exported with a fixed batch of 1.
//!
//! Besides the input and output dims, exporters hard-code the batch in Reshape targets
//! (`[1, 9216]` before a classifier, `[1, 4, 28, 56, 56]` in a channel shuffle). Those leading 1s
//! become -1 (or 0, "copy", when the target already has a -1). The result is checked by
//! inferring shapes at another batch size: every output must follow the batch.

use std::collections::HashMap;

use crate::consts::tensor_from_i64;
use crate::model::{attr_i, node_label};
use crate::onnx::{tensor_shape_proto::dimension, type_proto};
use crate::{BATCH_DIM, GraphError, OnnxModel, Shapes};

/// Returns a copy of `model` whose inputs and outputs take any batch size in dim 0.
pub fn make_batch_dynamic(model: &OnnxModel) -> Result<OnnxModel, GraphError> {
    let shapes = Shapes::infer(model, 1)?;
    let mut proto = model.proto().clone();
    let graph = proto.graph.as_mut().ok_or(GraphError::NoGraph)?;
    let mut new_inits = Vec::new();
    let mut renamed: HashMap<usize, String> = HashMap::new();
    for (i, node) in graph.node.iter().enumerate() {
        match node.op_type() {
            "Flatten" if attr_i(node, "axis", 1) == 0 => {
                return Err(GraphError::Batch(format!(
                    "Flatten '{}' with axis=0 merges the batch into one row",
                    node_label(node)
                )));
            }
            "Reshape" => {
                let Some(target) = node.input.get(1) else {
                    continue;
                };
                let Some(value) = shapes.value(target) else {
                    if model.is_constant_tensor(target) {
                        return Err(GraphError::Batch(format!(
                            "the target shape of Reshape '{}' is constant but could not be evaluated",
                            node_label(node)
                        )));
                    }
                    continue; // computed from the input's shape: already follows the batch
                };
                let mut dims = value.to_i64();
                if dims.first() != Some(&1) || attr_i(node, "allowzero", 0) != 0 {
                    continue;
                }
                dims[0] = if dims.contains(&-1) { 0 } else { -1 };
                let name = format!("{target}__loadpart_dynbatch_{i}");
                new_inits.push(tensor_from_i64(&name, &[dims.len()], &dims));
                renamed.insert(i, name);
            }
            _ => {}
        }
    }
    for (i, name) in renamed {
        graph.node[i].input[1] = name;
    }
    graph.initializer.extend(new_inits);
    graph.value_info.clear();
    for vi in graph.input.iter_mut().chain(graph.output.iter_mut()) {
        if let Some(type_proto::Value::TensorType(tt)) =
            vi.r#type.as_mut().and_then(|t| t.value.as_mut())
            && let Some(d) = tt.shape.as_mut().and_then(|s| s.dim.first_mut())
        {
            d.value = Some(dimension::Value::DimParam(BATCH_DIM.into()));
        }
    }
    let rewritten = model.reshaped(proto)?;
    let at3 =
        Shapes::infer(&rewritten, 3).map_err(|e| GraphError::Batch(format!("at batch 3: {e}")))?;
    for o in rewritten.outputs() {
        let dims = &at3.try_get(o)?.dims;
        if dims.first() != Some(&3) {
            return Err(GraphError::Batch(format!(
                "output '{o}' has dims {dims:?} at batch 3: dim 0 does not follow the batch"
            )));
        }
    }
    Ok(rewritten)
}

//! Shape inference: every tensor's element type and concrete dims at a given batch size.
//!
//! Files often lack `value_info`, and a cut's byte size must be known for any batch size, so
//! shapes are inferred here from the inputs' shapes and the operators' semantics. Small integer
//! tensors (shape arithmetic: Shape -> Gather -> Concat -> Reshape) are evaluated along the way,
//! because later shapes depend on their values.

mod ops;
mod values;

use std::collections::HashMap;

use crate::consts::ConstTensor;
use crate::model::{OnnxModel, TensorType};
use crate::onnx::DataType;
use crate::{GraphError, model::node_label};

/// Types of all tensors of a model at one batch size, plus the values of small constants.
#[derive(Debug, Clone)]
pub struct Shapes {
    pub batch: usize,
    types: HashMap<String, TensorType>,
    values: HashMap<String, ConstTensor>,
}

impl Shapes {
    /// Infers every tensor's type with the batch dimension (dim 0 of each model input) set to
    /// `batch`. Other symbolic input dims are an error naming the input.
    pub fn infer(model: &OnnxModel, batch: usize) -> Result<Self, GraphError> {
        let mut s = Shapes {
            batch,
            types: HashMap::new(),
            values: HashMap::new(),
        };
        for name in model.inputs() {
            let (elem, dims) = model.declared(name).ok_or_else(|| GraphError::Shape {
                tensor: name.clone(),
                op: "graph input".into(),
                reason: "input has no tensor type".into(),
            })?;
            let dims = dims
                .iter()
                .enumerate()
                .map(|(i, d)| match (i, d) {
                    (0, _) => Ok(batch),
                    (_, Some(d)) => Ok(*d),
                    (_, None) => Err(GraphError::Shape {
                        tensor: name.clone(),
                        op: "graph input".into(),
                        reason: format!("dimension {i} is symbolic; only dim 0 (the batch) may be"),
                    }),
                })
                .collect::<Result<Vec<_>, _>>()?;
            s.types.insert(name.clone(), TensorType { elem, dims });
        }
        for t in &model.graph().initializer {
            let c = ConstTensor::from_proto(t)?;
            let elem = DataType::try_from(t.data_type()).unwrap_or(DataType::Float);
            s.types.insert(
                t.name().to_string(),
                TensorType {
                    elem,
                    dims: c.dims().to_vec(),
                },
            );
            if c.dims().iter().product::<usize>() <= values::MAX_VALUE_ELEMENTS {
                s.values.insert(t.name().to_string(), c);
            }
        }
        for node in model.nodes() {
            let outs = ops::infer_node(node, model, &s).map_err(|reason| GraphError::Shape {
                tensor: node.output.first().cloned().unwrap_or_default(),
                op: format!("{} ({})", node.op_type(), node_label(node)),
                reason,
            })?;
            for (name, ty) in node.output.iter().zip(outs) {
                if name.is_empty() {
                    continue;
                }
                if let Some(v) = values::evaluate(node, &s, &ty) {
                    s.values.insert(name.clone(), v);
                }
                s.types.insert(name.clone(), ty);
            }
        }
        Ok(s)
    }

    pub fn get(&self, tensor: &str) -> Option<&TensorType> {
        self.types.get(tensor)
    }

    pub fn try_get(&self, tensor: &str) -> Result<&TensorType, GraphError> {
        self.get(tensor)
            .ok_or_else(|| GraphError::UnknownTensor(tensor.to_string()))
    }

    /// The value of a small constant tensor, when it could be computed.
    pub fn value(&self, tensor: &str) -> Option<&ConstTensor> {
        self.values.get(tensor)
    }
}

//! Test helpers: a node, the types (and small constant values) it reads, and its inferred types.

use std::collections::HashMap;

use super::{Out, infer_node};
use crate::consts::{ConstTensor, tensor_from_i64};
use crate::model::{OnnxModel, TensorType};
use crate::onnx::{
    AttributeProto, DataType, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto::AttributeType,
    tensor_shape_proto::Dimension, tensor_shape_proto::dimension, type_proto,
};
use crate::shape::Shapes;
pub(super) use crate::zoo::{int_attr as int, ints_attr as ints};

/// Every operator type that [`infer_node`] has a rule for.
#[rustfmt::skip]
pub(super) const RULED_OPS: &[&str] = &[
    "Relu", "LeakyRelu", "PRelu", "Sigmoid", "Tanh", "Clip", "Identity", "LRN", "Softmax",
    "LogSoftmax", "Exp", "Log", "Sqrt", "Neg", "Abs", "Erf", "HardSigmoid", "HardSwish", "Elu",
    "Selu", "Softplus", "Softsign", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Not",
    "InstanceNormalization", "Gelu", "Mish", "ThresholdedRelu", "Celu", "Hardmax", "Sin", "Cos",
    "CumSum", "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Mod", "BitShift",
    "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Where",
    "BatchNormalization", "LayerNormalization", "Dropout", "Conv", "MaxPool", "AveragePool",
    "LpPool", "ConvTranspose", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "Gemm",
    "MatMul", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "DepthToSpace",
    "SpaceToDepth", "Concat", "Split", "Gather", "Slice", "Pad", "Tile", "Expand", "Resize",
    "Upsample", "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2",
    "ReduceL1", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin", "Cast", "Shape", "Size",
    "ConstantOfShape", "Constant",
];

/// The model (for its opset) and the known tensor types and values a node is inferred against.
pub(super) struct Env {
    model: OnnxModel,
    shapes: Shapes,
}

impl Env {
    /// Opset 13, no known tensors.
    pub fn new() -> Self {
        Self::opset(13)
    }

    pub fn opset(version: i64) -> Self {
        let proto = ModelProto {
            ir_version: Some(8),
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(version),
            }],
            graph: Some(GraphProto {
                input: vec![value_info("x", DataType::Float, &[None])],
                output: vec![value_info("x", DataType::Float, &[None])],
                ..Default::default()
            }),
            ..Default::default()
        };
        let shapes = Shapes {
            batch: 1,
            types: HashMap::new(),
            values: HashMap::new(),
        };
        Self {
            model: OnnxModel::from_proto(proto).unwrap(),
            shapes,
        }
    }

    /// A tensor `name` of type `elem` and dims `dims`.
    pub fn ty(mut self, name: &str, elem: DataType, dims: &[usize]) -> Self {
        let t = TensorType {
            elem,
            dims: dims.to_vec(),
        };
        self.shapes.types.insert(name.into(), t);
        self
    }

    /// A float tensor.
    pub fn f32(self, name: &str, dims: &[usize]) -> Self {
        self.ty(name, DataType::Float, dims)
    }

    /// A known 1-D int64 constant.
    pub fn ints(self, name: &str, values: &[i64]) -> Self {
        let dims = vec![values.len()];
        let c = ConstTensor::I64 {
            dims: dims.clone(),
            data: values.to_vec(),
        };
        self.val(name, DataType::Int64, c)
    }

    /// A known 1-D float constant.
    pub fn floats(self, name: &str, values: &[f32]) -> Self {
        let dims = vec![values.len()];
        let c = ConstTensor::F32 {
            dims: dims.clone(),
            data: values.to_vec(),
        };
        self.val(name, DataType::Float, c)
    }

    fn val(mut self, name: &str, elem: DataType, c: ConstTensor) -> Self {
        self = self.ty(name, elem, c.dims());
        self.shapes.values.insert(name.into(), c);
        self
    }

    pub fn infer(&self, node: &NodeProto) -> Out {
        infer_node(node, &self.model, &self.shapes)
    }

    /// The dims of every output; panics on an error.
    pub fn dims(&self, node: &NodeProto) -> Vec<Vec<usize>> {
        let outs = self
            .infer(node)
            .unwrap_or_else(|e| panic!("{}: {e}", node.op_type()));
        outs.into_iter().map(|t| t.dims).collect()
    }

    /// The error message; panics when inference succeeds.
    pub fn err(&self, node: &NodeProto) -> String {
        match self.infer(node) {
            Ok(t) => panic!("{} unexpectedly gave {t:?}", node.op_type()),
            Err(e) => e,
        }
    }
}

pub(super) fn node(
    op: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attrs,
        ..Default::default()
    }
}

/// A node with inputs `inputs`, one output `y`.
pub(super) fn node1(op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
    node(op, inputs, &["y"], attrs)
}

pub(super) fn float(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Float as i32),
        f: Some(v),
        ..Default::default()
    }
}

pub(super) fn floats(name: &str, v: &[f32]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Floats as i32),
        floats: v.to_vec(),
        ..Default::default()
    }
}

pub(super) fn string(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::String as i32),
        s: Some(v.as_bytes().to_vec()),
        ..Default::default()
    }
}

pub(super) fn tensor(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Tensor as i32),
        t: Some(t),
        ..Default::default()
    }
}

/// A 1-D int64 tensor attribute.
pub(super) fn i64_tensor(name: &str, v: &[i64]) -> AttributeProto {
    tensor(name, tensor_from_i64("", &[v.len()], v))
}

/// A value-info entry (`None` dims are symbolic).
pub(super) fn value_info(name: &str, elem: DataType, dims: &[Option<usize>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Some(d) => dimension::Value::DimValue(*d as i64),
                None => dimension::Value::DimParam("N".into()),
            }),
            denotation: None,
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(elem as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
            denotation: None,
        }),
        ..Default::default()
    }
}

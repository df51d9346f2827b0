//! Test helpers: a node, the types (and small constant values) it reads, and its inferred types.

use std::collections::HashMap;

use super::{Out, infer_node};
use crate::build::model;
pub(super) use crate::build::{
    float_attr as float, floats_attr as floats, int_attr as int, ints_attr as ints,
    string_attr as string, tensor_attr as tensor, value_info,
};
use crate::consts::{ConstTensor, tensor_from_i64};
use crate::model::{OnnxModel, TensorType};
use crate::onnx::{AttributeProto, DataType, GraphProto, NodeProto};
use crate::shape::Shapes;

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
        let graph = GraphProto {
            input: vec![value_info("x", DataType::Float, &[None])],
            output: vec![value_info("x", DataType::Float, &[None])],
            ..Default::default()
        };
        let proto = model(graph, version);
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

/// An unnamed node.
pub(super) fn node(
    op: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: Vec<AttributeProto>,
) -> NodeProto {
    crate::build::node(op, None, inputs, outputs, attrs)
}

/// A node with inputs `inputs`, one output `y`.
pub(super) fn node1(op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
    node(op, inputs, &["y"], attrs)
}

/// A 1-D int64 tensor attribute.
pub(super) fn i64_tensor(name: &str, v: &[i64]) -> AttributeProto {
    tensor(name, tensor_from_i64("", &[v.len()], v))
}

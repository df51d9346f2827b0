//! Output types of one node from its input types (ONNX operator semantics, opsets 9 and later).
//!
//! [`infer_node`] maps an operator type to the rule of its family; each family has its own file
//! (and its unit tests) under `ops/`. Operators without a rule fall back to the types the file
//! declares.

mod concat_split;
mod conv_pool;
mod elementwise;
mod gather_slice;
mod layout;
mod linear;
mod norm;
mod reduce;
mod reshape;
mod resize;
mod shape_ops;
#[cfg(test)]
mod testutil;

use super::Shapes;
use crate::consts::ConstTensor;
use crate::model::{OnnxModel, TensorType, attr, attr_i, attr_ints};
use crate::onnx::{AttributeProto, NodeProto};

type Out = Result<Vec<TensorType>, String>;

pub(super) fn infer_node(node: &NodeProto, model: &OnnxModel, s: &Shapes) -> Out {
    let cx = Ctx { node, model, s };
    match node.op_type() {
        // Output has input 0's type and dims (pointwise ops, and shape-keeping ones such as
        // softmax, LRN, instance normalization and CumSum).
        "Relu"
        | "LeakyRelu"
        | "PRelu"
        | "Sigmoid"
        | "Tanh"
        | "Clip"
        | "Identity"
        | "LRN"
        | "Softmax"
        | "LogSoftmax"
        | "Exp"
        | "Log"
        | "Sqrt"
        | "Neg"
        | "Abs"
        | "Erf"
        | "HardSigmoid"
        | "HardSwish"
        | "Elu"
        | "Selu"
        | "Softplus"
        | "Softsign"
        | "Reciprocal"
        | "Floor"
        | "Ceil"
        | "Round"
        | "Sign"
        | "Not"
        | "InstanceNormalization"
        | "Gelu"
        | "Mish"
        | "ThresholdedRelu"
        | "Celu"
        | "Hardmax"
        | "Sin"
        | "Cos"
        | "CumSum" => elementwise::unary(&cx),
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Max" | "Min" | "Sum" | "Mean" | "Mod"
        | "BitShift" => elementwise::arithmetic(&cx),
        "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "And" | "Or" | "Xor" => {
            elementwise::compare(&cx)
        }
        "Where" => elementwise::select(&cx),
        "BatchNormalization" | "LayerNormalization" | "Dropout" => norm::with_side_outputs(&cx),
        "Conv" | "MaxPool" | "AveragePool" | "LpPool" | "ConvTranspose" => conv_pool::windowed(&cx),
        "GlobalAveragePool" | "GlobalMaxPool" | "GlobalLpPool" => conv_pool::global(&cx),
        "Gemm" => linear::gemm(&cx),
        "MatMul" => linear::matmul(&cx),
        "Flatten" => reshape::flatten(&cx),
        "Reshape" => reshape::reshape(&cx),
        "Squeeze" => reshape::squeeze(&cx),
        "Unsqueeze" => reshape::unsqueeze(&cx),
        "Transpose" => layout::transpose(&cx),
        "DepthToSpace" | "SpaceToDepth" => layout::depth_space(&cx),
        "Concat" => concat_split::concat(&cx),
        "Split" => concat_split::split(&cx),
        "Gather" => gather_slice::gather(&cx),
        "Slice" => gather_slice::slice(&cx),
        "Pad" => resize::pad(&cx),
        "Tile" => resize::tile(&cx),
        "Expand" => resize::expand(&cx),
        "Resize" | "Upsample" => resize::resize(&cx),
        "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL2"
        | "ReduceL1" | "ReduceLogSumExp" | "ReduceSumSquare" | "ArgMax" | "ArgMin" => {
            reduce::reduce(&cx)
        }
        "Cast" => shape_ops::cast(&cx),
        "Shape" => shape_ops::shape(&cx),
        "Size" => shape_ops::size(&cx),
        "ConstantOfShape" => shape_ops::constant_of_shape(&cx),
        "Constant" => shape_ops::constant(&cx),
        _ => declared_fallback(&cx),
    }
}

/// What a rule sees of one node: the node, the model (its opset and declared types), and the
/// types and small constant values inferred so far.
struct Ctx<'a> {
    node: &'a NodeProto,
    model: &'a OnnxModel,
    s: &'a Shapes,
}

impl<'a> Ctx<'a> {
    fn op(&self) -> &'a str {
        self.node.op_type()
    }

    /// The type of input `i`; an error when the input is absent, empty (omitted) or untyped.
    fn input(&self, i: usize) -> Result<&'a TensorType, String> {
        let name = self
            .node
            .input
            .get(i)
            .filter(|n| !n.is_empty())
            .ok_or(format!("missing input {i}"))?;
        self.s
            .get(name)
            .ok_or(format!("input '{name}' has no known type"))
    }

    /// The values of input `i` as integers, when it is present and a known small constant.
    fn ints_in(&self, i: usize) -> Option<Vec<i64>> {
        self.node
            .input
            .get(i)
            .filter(|n| !n.is_empty())
            .and_then(|n| self.s.value(n))
            .map(ConstTensor::to_i64)
    }

    /// The value of input `i`, when it is a known small constant.
    fn value(&self, i: usize) -> Option<&'a ConstTensor> {
        self.node.input.get(i).and_then(|n| self.s.value(n))
    }

    /// `t` for every output (at least one).
    fn same(&self, t: &TensorType) -> Out {
        Ok(vec![t.clone(); self.node.output.len().max(1)])
    }

    fn attr(&self, name: &str) -> Option<&'a AttributeProto> {
        attr(self.node, name)
    }

    fn attr_i(&self, name: &str, default: i64) -> i64 {
        attr_i(self.node, name, default)
    }

    fn attr_ints(&self, name: &str) -> Option<Vec<i64>> {
        attr_ints(self.node, name)
    }
}

/// For operators without a rule, trust the file's declared types (value_info / outputs), with
/// dim 0 taken as the batch.
fn declared_fallback(cx: &Ctx) -> Out {
    cx.node
        .output
        .iter()
        .map(|o| {
            let (elem, dims) = cx.model.declared(o).ok_or_else(|| {
                format!(
                    "operator {} has no shape rule and the file declares no type for '{o}'",
                    cx.op()
                )
            })?;
            let dims = dims
                .iter()
                .enumerate()
                .map(|(i, d)| match (i, d) {
                    (0, _) => Ok(cx.s.batch),
                    (_, Some(d)) => Ok(*d),
                    _ => Err(format!("declared type of '{o}' has a symbolic dim {i}")),
                })
                .collect::<Result<_, String>>()?;
            Ok(TensorType { elem, dims })
        })
        .collect()
}

/// `axis` (negative counts from the end) as an index below `rank` (below 1 for scalars).
fn norm_axis(axis: i64, rank: usize) -> Result<usize, String> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    usize::try_from(a)
        .ok()
        .filter(|a| *a < rank.max(1))
        .ok_or(format!("axis {axis} out of range for rank {rank}"))
}

/// Numpy-style multidirectional broadcast of two shapes.
fn broadcast(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let r = a.len().max(b.len());
    (0..r)
        .map(|i| {
            let x = if i + a.len() >= r {
                a[i + a.len() - r]
            } else {
                1
            };
            let y = if i + b.len() >= r {
                b[i + b.len() - r]
            } else {
                1
            };
            match (x, y) {
                (x, y) if x == y => Ok(x),
                (1, y) => Ok(y),
                (x, 1) => Ok(x),
                _ => Err(format!("cannot broadcast {a:?} with {b:?}")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::testutil::{Env, node};
    use super::*;
    use crate::onnx::DataType;
    use crate::zoo;

    #[test]
    fn axes_normalise() {
        assert_eq!(norm_axis(1, 4), Ok(1));
        assert_eq!(norm_axis(-1, 4), Ok(3));
        assert_eq!(norm_axis(0, 0), Ok(0), "a scalar accepts axis 0");
        assert!(norm_axis(4, 4).unwrap_err().contains("out of range"));
        assert!(norm_axis(-5, 4).is_err());
    }

    #[test]
    fn shapes_broadcast() {
        assert_eq!(broadcast(&[2, 1, 4], &[3, 1]), Ok(vec![2, 3, 4]));
        assert_eq!(broadcast(&[], &[5]), Ok(vec![5]));
        assert_eq!(broadcast(&[0, 3], &[1, 3]), Ok(vec![0, 3]));
        assert!(
            broadcast(&[2, 3], &[4, 3])
                .unwrap_err()
                .contains("cannot broadcast")
        );
    }

    /// Every operator type that has a rule reaches it: with no inputs, each rule answers (mostly
    /// with an error about its inputs) and none falls back to declared types.
    #[test]
    fn every_ruled_operator_dispatches_to_its_rule() {
        let env = Env::new();
        for op in testutil::RULED_OPS {
            let r = env.infer(&node(op, &[], &["y"], vec![]));
            if let Err(e) = r {
                assert!(!e.contains("no shape rule"), "{op}: {e}");
            }
        }
        let e = env.infer(&node("NoSuchOp", &["x"], &["y"], vec![]));
        assert!(
            e.unwrap_err()
                .contains("operator NoSuchOp has no shape rule")
        );
    }

    #[test]
    fn unknown_operators_use_declared_types_with_the_batch() {
        // The zoo chain declares its output 'gemm_N' without a type: rename the Gemm so that it
        // has no rule, and give the output a declared [N, 10] type.
        let mut proto = zoo::chain();
        let g = proto.graph.as_mut().unwrap();
        let gemm = g.node.last_mut().unwrap();
        gemm.op_type = Some("MyGemm".into());
        let out = gemm.output[0].clone();
        g.output[0] = testutil::value_info(&out, DataType::Float, &[None, Some(10)]);
        let model = OnnxModel::from_proto(proto.clone()).unwrap();
        let s = Shapes::infer(&model, 3).unwrap();
        assert_eq!(s.get(&out).unwrap().dims, [3, 10]);

        // A symbolic dim other than the batch cannot be trusted.
        let g = proto.graph.as_mut().unwrap();
        g.output[0] = testutil::value_info(&out, DataType::Float, &[None, None]);
        let model = OnnxModel::from_proto(proto.clone()).unwrap();
        let e = Shapes::infer(&model, 3).unwrap_err().to_string();
        assert!(e.contains("symbolic dim 1"), "{e}");

        // No declared type at all.
        proto.graph.as_mut().unwrap().output[0].r#type = None;
        let model = OnnxModel::from_proto(proto).unwrap();
        let e = Shapes::infer(&model, 3).unwrap_err().to_string();
        assert!(e.contains("MyGemm has no shape rule"), "{e}");
    }
}

//! Operators that make tensors from attributes or from other tensors' metadata: Cast, Shape,
//! Size, ConstantOfShape, Constant.

use super::{Ctx, Out};
use crate::consts::ConstTensor;
use crate::model::TensorType;
use crate::onnx::DataType;

/// Input 0's dims with the element type of attribute `to` (default float).
pub(super) fn cast(cx: &Ctx) -> Out {
    let to = DataType::try_from(cx.attr_i("to", 1) as i32).map_err(|_| "bad 'to'".to_string())?;
    Ok(vec![TensorType {
        elem: to,
        dims: cx.input(0)?.dims.clone(),
    }])
}

/// A 1-D int64 tensor of the input's rank, or of the `start`..`end` part of its dims (opset 15).
pub(super) fn shape(cx: &Ctx) -> Out {
    let x = cx.input(0)?;
    let rank = x.dims.len() as i64;
    let norm = |v: i64| {
        if v < 0 {
            (v + rank).max(0)
        } else {
            v.min(rank)
        }
    };
    let start = norm(cx.attr_i("start", 0));
    let end = cx.attr("end").and_then(|a| a.i).map(norm).unwrap_or(rank);
    Ok(vec![TensorType {
        elem: DataType::Int64,
        dims: vec![(end - start).max(0) as usize],
    }])
}

/// An int64 scalar.
pub(super) fn size(_cx: &Ctx) -> Out {
    Ok(vec![TensorType {
        elem: DataType::Int64,
        dims: vec![],
    }])
}

/// Dims from the known value of input 0; the type of the `value` attribute (default float).
pub(super) fn constant_of_shape(cx: &Ctx) -> Out {
    let dims = cx
        .ints_in(0)
        .ok_or("shape unknown")?
        .iter()
        .map(|d| *d as usize)
        .collect();
    let elem = cx
        .attr("value")
        .and_then(|a| a.t.as_ref())
        .and_then(|t| DataType::try_from(t.data_type()).ok())
        .unwrap_or(DataType::Float);
    Ok(vec![TensorType { elem, dims }])
}

/// The type of the node's (first) attribute: a tensor, or a float/int scalar or list.
pub(super) fn constant(cx: &Ctx) -> Out {
    let a = cx.node.attribute.first().ok_or("Constant without value")?;
    if let Some(t) = &a.t {
        let c = ConstTensor::from_proto(t).map_err(|e| e.to_string())?;
        let elem = DataType::try_from(t.data_type()).unwrap_or(DataType::Float);
        return Ok(vec![TensorType {
            elem,
            dims: c.dims().to_vec(),
        }]);
    }
    let (elem, dims) = match a.name() {
        "value_float" => (DataType::Float, vec![]),
        "value_int" => (DataType::Int64, vec![]),
        "value_floats" => (DataType::Float, vec![a.floats.len()]),
        "value_ints" => (DataType::Int64, vec![a.ints.len()]),
        other => return Err(format!("unsupported Constant attribute {other}")),
    };
    Ok(vec![TensorType { elem, dims }])
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{
        Env, float, floats, i64_tensor, int, ints, node1, string, tensor,
    };
    use crate::consts::tensor_from_f32;
    use crate::onnx::DataType;

    #[test]
    fn cast_changes_the_type_only() {
        let env = Env::new().f32("x", &[2, 3]);
        let n = node1("Cast", &["x"], vec![int("to", DataType::Int64 as i64)]);
        let outs = env.infer(&n).unwrap();
        assert_eq!(
            (outs[0].elem, outs[0].dims.clone()),
            (DataType::Int64, vec![2, 3])
        );
        let outs = env.infer(&node1("Cast", &["x"], vec![])).unwrap();
        assert_eq!(outs[0].elem, DataType::Float, "default 'to'");
        assert_eq!(
            env.err(&node1("Cast", &["x"], vec![int("to", 999)])),
            "bad 'to'"
        );
        assert_eq!(env.err(&node1("Cast", &[], vec![])), "missing input 0");
    }

    #[test]
    fn shape_counts_the_selected_dims() {
        let env = Env::new().f32("x", &[2, 3, 4, 5]);
        let shape = |attrs| env.infer(&node1("Shape", &["x"], attrs)).unwrap();
        let outs = shape(vec![]);
        assert_eq!(
            (outs[0].elem, outs[0].dims.clone()),
            (DataType::Int64, vec![4])
        );
        assert_eq!(shape(vec![int("start", 1)])[0].dims, [3]);
        assert_eq!(shape(vec![int("start", -3), int("end", -1)])[0].dims, [2]);
        assert_eq!(
            shape(vec![int("start", -9), int("end", 99)])[0].dims,
            [4],
            "clamped"
        );
        assert_eq!(shape(vec![int("start", 3), int("end", 1)])[0].dims, [0]);
        assert_eq!(
            env.err(&node1("Shape", &["y"], vec![])),
            "input 'y' has no known type"
        );
    }

    #[test]
    fn size_is_an_int64_scalar() {
        let outs = Env::new()
            .f32("x", &[2, 3])
            .infer(&node1("Size", &["x"], vec![]));
        let outs = outs.unwrap();
        assert_eq!(
            (outs[0].elem, outs[0].dims.clone()),
            (DataType::Int64, vec![])
        );
    }

    #[test]
    fn constant_of_shape_reads_its_shape_input() {
        let env = Env::new().ints("s", &[2, 3]).f32("x", &[2]);
        let outs = env
            .infer(&node1("ConstantOfShape", &["s"], vec![]))
            .unwrap();
        assert_eq!(
            (outs[0].elem, outs[0].dims.clone()),
            (DataType::Float, vec![2, 3])
        );
        let n = node1("ConstantOfShape", &["s"], vec![i64_tensor("value", &[0])]);
        assert_eq!(env.infer(&n).unwrap()[0].elem, DataType::Int64);
        let n = node1("ConstantOfShape", &["x"], vec![]);
        assert_eq!(
            env.err(&n),
            "shape unknown",
            "a shape without a known value"
        );
    }

    #[test]
    fn constant_types_follow_the_attribute() {
        let env = Env::new();
        let ty = |a| {
            let outs = env.infer(&node1("Constant", &[], vec![a])).unwrap();
            (outs[0].elem, outs[0].dims.clone())
        };
        let t = tensor_from_f32("", &[2, 3], &[0.0; 6]);
        assert_eq!(ty(tensor("value", t)), (DataType::Float, vec![2, 3]));
        assert_eq!(ty(i64_tensor("value", &[1, 2])), (DataType::Int64, vec![2]));
        assert_eq!(ty(float("value_float", 1.0)), (DataType::Float, vec![]));
        assert_eq!(ty(int("value_int", 1)), (DataType::Int64, vec![]));
        assert_eq!(
            ty(floats("value_floats", &[1.0; 3])),
            (DataType::Float, vec![3])
        );
        assert_eq!(ty(ints("value_ints", &[1; 4])), (DataType::Int64, vec![4]));
    }

    #[test]
    fn constant_errors() {
        let env = Env::new();
        let err = |attrs| env.err(&node1("Constant", &[], attrs));
        assert_eq!(err(vec![]), "Constant without value");
        assert_eq!(
            err(vec![string("value_string", "hi")]),
            "unsupported Constant attribute value_string"
        );
        // A tensor whose data does not fill its dims.
        let t = tensor_from_f32("bad", &[2, 3], &[0.0; 5]);
        assert!(err(vec![tensor("value", t)]).contains("5 values for dims [2, 3]"));
    }
}

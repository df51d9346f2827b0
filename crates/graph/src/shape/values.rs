//! Evaluation of small constant tensors (shape arithmetic) during shape inference.

use super::Shapes;
use crate::consts::ConstTensor;
use crate::model::{TensorType, attr, attr_i, attr_ints};
use crate::onnx::{DataType, NodeProto};

/// Tensors up to this many elements have their values tracked.
pub(super) const MAX_VALUE_ELEMENTS: usize = 64;

/// Computes the value of `node`'s first output when it is small and its inputs are known.
pub(super) fn evaluate(node: &NodeProto, s: &Shapes, out: &TensorType) -> Option<ConstTensor> {
    if out.elements() > MAX_VALUE_ELEMENTS {
        return None;
    }
    let dims = out.dims.clone();
    let int_out = !matches!(
        out.elem,
        DataType::Float | DataType::Double | DataType::Float16
    );
    let ints =
        |i: usize| -> Option<Vec<i64>> { s.value(node.input.get(i)?).map(ConstTensor::to_i64) };
    let make = |data: Vec<i64>| -> Option<ConstTensor> {
        if data.len() != dims.iter().product::<usize>() {
            return None;
        }
        Some(if int_out {
            ConstTensor::I64 {
                dims: dims.clone(),
                data,
            }
        } else {
            ConstTensor::F32 {
                dims: dims.clone(),
                data: data.iter().map(|v| *v as f32).collect(),
            }
        })
    };
    match node.op_type() {
        "Constant" => {
            let a = attr(node, "value")?;
            if let Some(t) = &a.t {
                return ConstTensor::from_proto(t).ok();
            }
            None
        }
        "Shape" => {
            let t = s.get(node.input.first()?)?;
            let rank = t.dims.len() as i64;
            let norm = |v: i64| {
                if v < 0 {
                    (v + rank).max(0)
                } else {
                    v.min(rank)
                }
            };
            let start = norm(attr_i(node, "start", 0)) as usize;
            let end = attr(node, "end")
                .and_then(|a| a.i)
                .map(|e| norm(e) as usize)
                .unwrap_or(t.dims.len());
            make(
                t.dims[start..end.max(start)]
                    .iter()
                    .map(|d| *d as i64)
                    .collect(),
            )
        }
        "Identity" | "Unsqueeze" | "Squeeze" | "Reshape" | "Flatten" => make(ints(0)?),
        "Cast" => {
            if let (true, Some(v)) = (int_out, s.value(node.input.first()?)) {
                return make(v.to_i64());
            }
            match s.value(node.input.first()?)? {
                ConstTensor::F32 { data, .. } => Some(ConstTensor::F32 {
                    dims,
                    data: data.clone(),
                }),
                ConstTensor::I64 { data, .. } => make(data.clone()),
            }
        }
        "Concat" => {
            let mut all = Vec::new();
            for i in 0..node.input.len() {
                all.extend(ints(i)?);
            }
            make(all)
        }
        "Gather" => {
            let data = ints(0)?;
            let idx = ints(1)?;
            let data_dims = s.get(&node.input[0])?.dims.clone();
            if data_dims.len() != 1 || attr_i(node, "axis", 0) != 0 {
                return None;
            }
            let n = data.len() as i64;
            let picked = idx
                .iter()
                .map(|i| {
                    let i = if *i < 0 { i + n } else { *i };
                    data.get(usize::try_from(i).ok()?).copied()
                })
                .collect::<Option<Vec<_>>>()?;
            make(picked)
        }
        "Slice" => {
            let data = ints(0)?;
            let (starts, ends, steps) = match attr_ints(node, "starts") {
                Some(st) => (st, attr_ints(node, "ends")?, vec![1]),
                None => (ints(1)?, ints(2)?, ints(4).unwrap_or(vec![1])),
            };
            if starts.len() != 1 || steps[0] != 1 {
                return None;
            }
            let n = data.len() as i64;
            let clamp = |v: i64| if v < 0 { (v + n).max(0) } else { v.min(n) } as usize;
            let (a, b) = (clamp(starts[0]), clamp(ends[0]));
            make(data.get(a..b.max(a))?.to_vec())
        }
        "Add" | "Sub" | "Mul" | "Div" => {
            let (x, y) = (ints(0)?, ints(1)?);
            let n = x.len().max(y.len());
            let at = |v: &Vec<i64>, i: usize| if v.len() == 1 { v[0] } else { v[i] };
            if !(x.len() == n || x.len() == 1) || !(y.len() == n || y.len() == 1) {
                return None;
            }
            let r = (0..n)
                .map(|i| {
                    let (a, b) = (at(&x, i), at(&y, i));
                    match node.op_type() {
                        "Add" => Some(a + b),
                        "Sub" => Some(a - b),
                        "Mul" => Some(a * b),
                        _ => a.checked_div(b),
                    }
                })
                .collect::<Option<Vec<_>>>()?;
            make(r)
        }
        "ConstantOfShape" if int_out => {
            let fill = attr(node, "value")
                .and_then(|a| a.t.as_ref())
                .and_then(|t| ConstTensor::from_proto(t).ok())
                .map(|c| c.to_i64().first().copied().unwrap_or(0))
                .unwrap_or(0);
            make(vec![fill; dims.iter().product()])
        }
        _ => None,
    }
}

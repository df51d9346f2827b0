//! Output types of one node from its input types (ONNX operator semantics, opsets 9 and later).

use super::Shapes;
use crate::consts::ConstTensor;
use crate::model::{OnnxModel, TensorType, attr, attr_i, attr_ints, attr_s};
use crate::onnx::{DataType, NodeProto};

type Out = Result<Vec<TensorType>, String>;

pub(super) fn infer_node(node: &NodeProto, model: &OnnxModel, s: &Shapes) -> Out {
    let input = |i: usize| -> Result<&TensorType, String> {
        let name = node
            .input
            .get(i)
            .filter(|n| !n.is_empty())
            .ok_or(format!("missing input {i}"))?;
        s.get(name)
            .ok_or(format!("input '{name}' has no known type"))
    };
    let ints_in = |i: usize| -> Option<Vec<i64>> {
        node.input
            .get(i)
            .filter(|n| !n.is_empty())
            .and_then(|n| s.value(n))
            .map(ConstTensor::to_i64)
    };
    let same = |t: &TensorType| Ok(vec![t.clone(); node.output.len().max(1)]);
    let op = node.op_type();
    match op {
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
        | "CumSum" => same(input(0)?),
        "BatchNormalization" | "LayerNormalization" | "Dropout" => {
            let t = input(0)?.clone();
            let mut outs = vec![t.clone()];
            for _ in 1..node.output.len() {
                outs.push(TensorType {
                    elem: if op == "Dropout" {
                        DataType::Bool
                    } else {
                        DataType::Float
                    },
                    dims: t.dims.clone(),
                });
            }
            Ok(outs)
        }
        "Cast" => {
            let to = DataType::try_from(attr_i(node, "to", 1) as i32)
                .map_err(|_| "bad 'to'".to_string())?;
            Ok(vec![TensorType {
                elem: to,
                dims: input(0)?.dims.clone(),
            }])
        }
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Max" | "Min" | "Sum" | "Mean" | "Mod"
        | "BitShift" => {
            let mut dims = input(0)?.dims.clone();
            for i in 1..node.input.len() {
                dims = broadcast(&dims, &input(i)?.dims)?;
            }
            Ok(vec![TensorType {
                elem: input(0)?.elem,
                dims,
            }])
        }
        "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "And" | "Or" | "Xor" => {
            let dims = broadcast(&input(0)?.dims, &input(1)?.dims)?;
            Ok(vec![TensorType {
                elem: DataType::Bool,
                dims,
            }])
        }
        "Where" => {
            let dims = broadcast(
                &broadcast(&input(0)?.dims, &input(1)?.dims)?,
                &input(2)?.dims,
            )?;
            Ok(vec![TensorType {
                elem: input(1)?.elem,
                dims,
            }])
        }
        "Conv" | "MaxPool" | "AveragePool" | "LpPool" | "ConvTranspose" => {
            let x = input(0)?;
            if x.dims.len() < 3 {
                return Err(format!("expects rank >= 3, got {:?}", x.dims));
            }
            let spatial = x.dims.len() - 2;
            let kernel = match op {
                "Conv" | "ConvTranspose" => {
                    let w = input(1)?;
                    attr_ints(node, "kernel_shape")
                        .unwrap_or_else(|| w.dims[2..].iter().map(|d| *d as i64).collect())
                }
                _ => attr_ints(node, "kernel_shape").ok_or("missing kernel_shape")?,
            };
            let channels = match op {
                "Conv" => input(1)?.dims[0],
                "ConvTranspose" => input(1)?.dims[1] * attr_i(node, "group", 1) as usize,
                _ => x.dims[1],
            };
            let dims = pool_dims(node, &x.dims[2..], &kernel, spatial, op == "ConvTranspose")?;
            let mut out = vec![x.dims[0], channels];
            out.extend(dims);
            let mut outs = vec![TensorType {
                elem: x.elem,
                dims: out.clone(),
            }];
            if node.output.len() > 1 {
                outs.push(TensorType {
                    elem: DataType::Int64,
                    dims: out,
                });
            }
            Ok(outs)
        }
        "GlobalAveragePool" | "GlobalMaxPool" | "GlobalLpPool" => {
            let x = input(0)?;
            let mut dims = x.dims[..2.min(x.dims.len())].to_vec();
            dims.extend(std::iter::repeat_n(1, x.dims.len().saturating_sub(2)));
            Ok(vec![TensorType { elem: x.elem, dims }])
        }
        "Gemm" => {
            let (a, b) = (input(0)?, input(1)?);
            if a.dims.len() != 2 || b.dims.len() != 2 {
                return Err(format!(
                    "Gemm needs 2-D inputs, got {:?} and {:?}",
                    a.dims, b.dims
                ));
            }
            let m = if attr_i(node, "transA", 0) != 0 {
                a.dims[1]
            } else {
                a.dims[0]
            };
            let n = if attr_i(node, "transB", 0) != 0 {
                b.dims[0]
            } else {
                b.dims[1]
            };
            Ok(vec![TensorType {
                elem: a.elem,
                dims: vec![m, n],
            }])
        }
        "MatMul" => {
            let (a, b) = (input(0)?, input(1)?);
            Ok(vec![TensorType {
                elem: a.elem,
                dims: matmul_dims(&a.dims, &b.dims)?,
            }])
        }
        "Flatten" => {
            let x = input(0)?;
            let axis = norm_axis(attr_i(node, "axis", 1), x.dims.len() + 1)?;
            let outer: usize = x.dims[..axis].iter().product();
            let inner: usize = x.dims[axis..].iter().product();
            Ok(vec![TensorType {
                elem: x.elem,
                dims: vec![outer, inner],
            }])
        }
        "Reshape" => {
            let x = input(0)?;
            let shape = match attr_ints(node, "shape") {
                Some(sh) if node.input.len() < 2 => sh,
                _ => ints_in(1).ok_or("the target shape is not a known constant")?,
            };
            let allow_zero = attr_i(node, "allowzero", 0) != 0;
            Ok(vec![TensorType {
                elem: x.elem,
                dims: reshape_dims(&x.dims, &shape, allow_zero)?,
            }])
        }
        "Transpose" => {
            let x = input(0)?;
            let perm =
                attr_ints(node, "perm").unwrap_or_else(|| (0..x.dims.len() as i64).rev().collect());
            let dims = perm
                .iter()
                .map(|p| {
                    x.dims
                        .get(*p as usize)
                        .copied()
                        .ok_or(format!("perm {perm:?} out of range"))
                })
                .collect::<Result<_, _>>()?;
            Ok(vec![TensorType { elem: x.elem, dims }])
        }
        "Concat" => {
            let first = input(0)?;
            let axis = norm_axis(attr_i(node, "axis", 0), first.dims.len())?;
            let mut dims = first.dims.clone();
            for i in 1..node.input.len() {
                let t = input(i)?;
                if t.dims.len() != dims.len() {
                    return Err(format!("rank mismatch {:?} vs {:?}", dims, t.dims));
                }
                dims[axis] += t.dims[axis];
            }
            Ok(vec![TensorType {
                elem: first.elem,
                dims,
            }])
        }
        "Split" => {
            let x = input(0)?;
            let axis = norm_axis(attr_i(node, "axis", 0), x.dims.len())?;
            let n = node.output.len();
            let parts = attr_ints(node, "split")
                .or_else(|| ints_in(1))
                .unwrap_or_else(|| {
                    let each = x.dims[axis].div_ceil(n);
                    (0..n)
                        .map(|i| each.min(x.dims[axis].saturating_sub(i * each)) as i64)
                        .collect()
                });
            Ok(parts
                .iter()
                .map(|p| {
                    let mut d = x.dims.clone();
                    d[axis] = *p as usize;
                    TensorType {
                        elem: x.elem,
                        dims: d,
                    }
                })
                .collect())
        }
        "Unsqueeze" => {
            let x = input(0)?;
            let axes = attr_ints(node, "axes")
                .or_else(|| ints_in(1))
                .ok_or("axes unknown")?;
            let rank = x.dims.len() + axes.len();
            let mut axes = axes
                .iter()
                .map(|a| norm_axis(*a, rank))
                .collect::<Result<Vec<_>, _>>()?;
            axes.sort_unstable();
            let mut dims = x.dims.clone();
            for a in axes {
                dims.insert(a, 1);
            }
            Ok(vec![TensorType { elem: x.elem, dims }])
        }
        "Squeeze" => {
            let x = input(0)?;
            let axes = match attr_ints(node, "axes").or_else(|| ints_in(1)) {
                Some(a) => a
                    .iter()
                    .map(|a| norm_axis(*a, x.dims.len()))
                    .collect::<Result<Vec<_>, _>>()?,
                None => (0..x.dims.len()).filter(|i| x.dims[*i] == 1).collect(),
            };
            let dims = x
                .dims
                .iter()
                .enumerate()
                .filter(|(i, _)| !axes.contains(i))
                .map(|(_, d)| *d)
                .collect();
            Ok(vec![TensorType { elem: x.elem, dims }])
        }
        "Shape" => {
            let x = input(0)?;
            let rank = x.dims.len() as i64;
            let norm = |v: i64| {
                if v < 0 {
                    (v + rank).max(0)
                } else {
                    v.min(rank)
                }
            };
            let start = norm(attr_i(node, "start", 0));
            let end = attr(node, "end")
                .and_then(|a| a.i)
                .map(norm)
                .unwrap_or(rank);
            Ok(vec![TensorType {
                elem: DataType::Int64,
                dims: vec![(end - start).max(0) as usize],
            }])
        }
        "Size" => Ok(vec![TensorType {
            elem: DataType::Int64,
            dims: vec![],
        }]),
        "Gather" => {
            let (x, idx) = (input(0)?, input(1)?);
            let axis = norm_axis(attr_i(node, "axis", 0), x.dims.len())?;
            let mut dims = x.dims[..axis].to_vec();
            dims.extend(&idx.dims);
            dims.extend(&x.dims[axis + 1..]);
            Ok(vec![TensorType { elem: x.elem, dims }])
        }
        "Slice" => {
            let x = input(0)?;
            let (starts, ends, axes, steps) = match attr_ints(node, "starts") {
                Some(st) => (
                    st,
                    attr_ints(node, "ends").ok_or("missing ends")?,
                    attr_ints(node, "axes"),
                    None,
                ),
                None => (
                    ints_in(1).ok_or("starts unknown")?,
                    ints_in(2).ok_or("ends unknown")?,
                    ints_in(3),
                    ints_in(4),
                ),
            };
            let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
            let mut dims = x.dims.clone();
            for (k, a) in axes.iter().enumerate() {
                let a = norm_axis(*a, dims.len())?;
                let n = x.dims[a] as i64;
                let step = steps.as_ref().map(|s| s[k]).unwrap_or(1);
                if step == 0 {
                    return Err("step 0".into());
                }
                let clamp = |v: i64, lo: i64, hi: i64| {
                    if v < 0 {
                        (v + n).clamp(lo, hi)
                    } else {
                        v.clamp(lo, hi)
                    }
                };
                dims[a] = if step > 0 {
                    let (b, e) = (clamp(starts[k], 0, n), clamp(ends[k], 0, n));
                    ((e - b).max(0) + step - 1) / step
                } else {
                    let (b, e) = (clamp(starts[k], -1, n - 1), clamp(ends[k], -1, n - 1));
                    ((b - e).max(0) + (-step) - 1) / (-step)
                } as usize;
            }
            Ok(vec![TensorType { elem: x.elem, dims }])
        }
        "Pad" => {
            let x = input(0)?;
            let pads = attr_ints(node, "pads")
                .or_else(|| ints_in(1))
                .ok_or("pads unknown")?;
            let r = x.dims.len();
            if pads.len() != 2 * r {
                return Err(format!("pads {pads:?} for rank {r}"));
            }
            let dims = (0..r)
                .map(|i| (x.dims[i] as i64 + pads[i] + pads[i + r]).max(0) as usize)
                .collect();
            Ok(vec![TensorType { elem: x.elem, dims }])
        }
        "ConstantOfShape" => {
            let dims = ints_in(0)
                .ok_or("shape unknown")?
                .iter()
                .map(|d| *d as usize)
                .collect();
            let elem = attr(node, "value")
                .and_then(|a| a.t.as_ref())
                .and_then(|t| DataType::try_from(t.data_type()).ok())
                .unwrap_or(DataType::Float);
            Ok(vec![TensorType { elem, dims }])
        }
        "Constant" => {
            let a = node.attribute.first().ok_or("Constant without value")?;
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
        "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL2"
        | "ReduceL1" | "ReduceLogSumExp" | "ReduceSumSquare" | "ArgMax" | "ArgMin" => {
            let x = input(0)?;
            let keep = attr_i(node, "keepdims", 1) != 0;
            let axes = if op.starts_with("Arg") {
                Some(vec![attr_i(node, "axis", 0)])
            } else {
                attr_ints(node, "axes").or_else(|| ints_in(1))
            };
            let axes: Vec<usize> = match axes {
                Some(a) if !a.is_empty() => a
                    .iter()
                    .map(|a| norm_axis(*a, x.dims.len()))
                    .collect::<Result<_, _>>()?,
                _ if attr_i(node, "noop_with_empty_axes", 0) != 0 => vec![],
                _ => (0..x.dims.len()).collect(),
            };
            let mut dims = Vec::new();
            for (i, d) in x.dims.iter().enumerate() {
                if !axes.contains(&i) {
                    dims.push(*d);
                } else if keep {
                    dims.push(1);
                }
            }
            let elem = if op.starts_with("Arg") {
                DataType::Int64
            } else {
                x.elem
            };
            Ok(vec![TensorType { elem, dims }])
        }
        "Expand" => {
            let x = input(0)?;
            let shape: Vec<usize> = ints_in(1)
                .ok_or("shape unknown")?
                .iter()
                .map(|d| *d as usize)
                .collect();
            Ok(vec![TensorType {
                elem: x.elem,
                dims: broadcast(&x.dims, &shape)?,
            }])
        }
        "Resize" | "Upsample" => {
            let x = input(0)?;
            let sizes = if op == "Resize" {
                ints_in(3).filter(|v| !v.is_empty())
            } else {
                None
            };
            let dims = if let Some(sz) = sizes {
                sz.iter().map(|d| *d as usize).collect()
            } else {
                let scale_idx = if op == "Upsample" || model.opset() < 11 {
                    1
                } else {
                    2
                };
                let scales: Vec<f32> = match node.input.get(scale_idx).and_then(|n| s.value(n)) {
                    Some(ConstTensor::F32 { data, .. }) => data.clone(),
                    _ => attr(node, "scales")
                        .map(|a| a.floats.clone())
                        .ok_or("scales unknown")?,
                };
                if scales.len() != x.dims.len() {
                    return Err(format!("scales {scales:?} for rank {}", x.dims.len()));
                }
                x.dims
                    .iter()
                    .zip(&scales)
                    .map(|(d, s)| (*d as f32 * s).floor() as usize)
                    .collect()
            };
            Ok(vec![TensorType { elem: x.elem, dims }])
        }
        "DepthToSpace" | "SpaceToDepth" => {
            let x = input(0)?;
            let b = attr_i(node, "blocksize", 1) as usize;
            let d = &x.dims;
            let dims = if op == "DepthToSpace" {
                vec![d[0], d[1] / (b * b), d[2] * b, d[3] * b]
            } else {
                vec![d[0], d[1] * b * b, d[2] / b, d[3] / b]
            };
            Ok(vec![TensorType { elem: x.elem, dims }])
        }
        "Tile" => {
            let x = input(0)?;
            let reps = ints_in(1).ok_or("repeats unknown")?;
            let dims = x
                .dims
                .iter()
                .zip(&reps)
                .map(|(d, r)| d * (*r as usize))
                .collect();
            Ok(vec![TensorType { elem: x.elem, dims }])
        }
        _ => declared_fallback(node, model, s),
    }
}

/// For operators without a rule, trust the file's declared types (value_info / outputs), with
/// dim 0 taken as the batch.
fn declared_fallback(node: &NodeProto, model: &OnnxModel, s: &Shapes) -> Out {
    node.output
        .iter()
        .map(|o| {
            let (elem, dims) = model.declared(o).ok_or_else(|| {
                format!(
                    "operator {} has no shape rule and the file declares no type for '{o}'",
                    node.op_type()
                )
            })?;
            let dims = dims
                .iter()
                .enumerate()
                .map(|(i, d)| match (i, d) {
                    (0, _) => Ok(s.batch),
                    (_, Some(d)) => Ok(*d),
                    _ => Err(format!("declared type of '{o}' has a symbolic dim {i}")),
                })
                .collect::<Result<_, String>>()?;
            Ok(TensorType { elem, dims })
        })
        .collect()
}

fn norm_axis(axis: i64, rank: usize) -> Result<usize, String> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    usize::try_from(a)
        .ok()
        .filter(|a| *a < rank.max(1))
        .ok_or(format!("axis {axis} out of range for rank {rank}"))
}

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

fn matmul_dims(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let (a2, b2) = (a.len() == 1, b.len() == 1);
    let a = if a2 { vec![1, a[0]] } else { a.to_vec() };
    let b = if b2 { vec![b[0], 1] } else { b.to_vec() };
    if a.len() < 2 || b.len() < 2 || a[a.len() - 1] != b[b.len() - 2] {
        return Err(format!("MatMul shapes {a:?} x {b:?} do not agree"));
    }
    let mut out = broadcast(&a[..a.len() - 2], &b[..b.len() - 2])?;
    if !a2 {
        out.push(a[a.len() - 2]);
    }
    if !b2 {
        out.push(b[b.len() - 1]);
    }
    Ok(out)
}

fn reshape_dims(x: &[usize], shape: &[i64], allow_zero: bool) -> Result<Vec<usize>, String> {
    let total: usize = x.iter().product();
    let mut dims = Vec::with_capacity(shape.len());
    let mut infer = None;
    for (i, d) in shape.iter().enumerate() {
        match *d {
            0 if !allow_zero => dims.push(*x.get(i).ok_or(format!("0 at {i} beyond input rank"))?),
            -1 if infer.is_none() => {
                infer = Some(i);
                dims.push(1);
            }
            d if d >= 0 => dims.push(d as usize),
            d => return Err(format!("invalid target dim {d} in {shape:?}")),
        }
    }
    let known: usize = dims.iter().product();
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {x:?} to {shape:?}"));
        }
        dims[i] = total / known;
    } else if known != total {
        return Err(format!(
            "cannot reshape {x:?} ({total} elements) to {shape:?}"
        ));
    }
    Ok(dims)
}

fn pool_dims(
    node: &NodeProto,
    x: &[usize],
    kernel: &[i64],
    spatial: usize,
    transpose: bool,
) -> Result<Vec<usize>, String> {
    if kernel.len() != spatial {
        return Err(format!("kernel {kernel:?} for {spatial} spatial dims"));
    }
    let strides = attr_ints(node, "strides").unwrap_or(vec![1; spatial]);
    let dil = attr_ints(node, "dilations").unwrap_or(vec![1; spatial]);
    let pads = attr_ints(node, "pads").unwrap_or(vec![0; 2 * spatial]);
    let ceil = attr_i(node, "ceil_mode", 0) != 0;
    let auto = attr_s(node, "auto_pad").unwrap_or_default();
    (0..spatial)
        .map(|i| {
            let (n, k, s, d) = (x[i] as i64, kernel[i], strides[i].max(1), dil[i].max(1));
            let ek = (k - 1) * d + 1;
            if transpose {
                let op = attr_ints(node, "output_padding").map(|p| p[i]).unwrap_or(0);
                return Ok(((n - 1) * s + ek - pads[i] - pads[i + spatial] + op).max(0) as usize);
            }
            let out = match auto.as_str() {
                "SAME_UPPER" | "SAME_LOWER" => (n + s - 1) / s,
                "VALID" => (n - ek) / s + 1,
                _ => {
                    let span = n + pads[i] + pads[i + spatial] - ek;
                    if span < 0 {
                        return Err(format!("kernel {k} larger than padded input {n}"));
                    }
                    let mut o = if ceil {
                        (span + s - 1) / s + 1
                    } else {
                        span / s + 1
                    };
                    // With ceil_mode the last window must start inside the input or left padding.
                    if ceil && (o - 1) * s >= n + pads[i] {
                        o -= 1;
                    }
                    o
                }
            };
            Ok(out.max(0) as usize)
        })
        .collect()
}

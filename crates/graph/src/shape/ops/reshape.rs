//! Operators that change dims but not the element order: Reshape, Flatten, Squeeze, Unsqueeze.

use super::{Ctx, Out, norm_axis};
use crate::model::TensorType;

/// `[product of dims before axis, product of the rest]`.
pub(super) fn flatten(cx: &Ctx) -> Out {
    let x = cx.input(0)?;
    let axis = norm_axis(cx.attr_i("axis", 1), x.dims.len() + 1)?;
    let outer: usize = x.dims[..axis].iter().product();
    let inner: usize = x.dims[axis..].iter().product();
    Ok(vec![TensorType {
        elem: x.elem,
        dims: vec![outer, inner],
    }])
}

/// The target shape from input 1's known value (or the opset-1 `shape` attribute).
pub(super) fn reshape(cx: &Ctx) -> Out {
    let x = cx.input(0)?;
    let shape = match cx.attr_ints("shape") {
        Some(sh) if cx.node.input.len() < 2 => sh,
        _ => cx
            .ints_in(1)
            .ok_or("the target shape is not a known constant")?,
    };
    let allow_zero = cx.attr_i("allowzero", 0) != 0;
    Ok(vec![TensorType {
        elem: x.elem,
        dims: reshape_dims(&x.dims, &shape, allow_zero)?,
    }])
}

/// Removes the listed unit axes (attribute, or input 1 from opset 13), or all unit axes.
pub(super) fn squeeze(cx: &Ctx) -> Out {
    let x = cx.input(0)?;
    let axes = match cx.attr_ints("axes").or_else(|| cx.ints_in(1)) {
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

/// Inserts unit axes at the listed positions of the output (attribute, or input 1 from opset 13).
pub(super) fn unsqueeze(cx: &Ctx) -> Out {
    let x = cx.input(0)?;
    let axes = cx
        .attr_ints("axes")
        .or_else(|| cx.ints_in(1))
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

/// Reshape's target dims: 0 copies the input dim (unless `allow_zero`), one -1 is inferred.
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

#[cfg(test)]
mod tests {
    use super::super::testutil::{Env, int, ints, node1};
    use super::reshape_dims;
    use crate::onnx::DataType;

    #[test]
    fn flatten_splits_at_the_axis() {
        let env = Env::new().ty("x", DataType::Int8, &[2, 3, 4, 5]);
        let flat = |axis| env.infer(&node1("Flatten", &["x"], vec![int("axis", axis)]));
        let outs = env.infer(&node1("Flatten", &["x"], vec![])).unwrap();
        assert_eq!(
            (outs[0].elem, outs[0].dims.clone()),
            (DataType::Int8, vec![2, 60])
        );
        assert_eq!(flat(0).unwrap()[0].dims, [1, 120]);
        assert_eq!(
            flat(4).unwrap()[0].dims,
            [120, 1],
            "axis may equal the rank"
        );
        assert!(
            flat(5)
                .unwrap_err()
                .contains("axis 5 out of range for rank 5")
        );
    }

    #[test]
    fn reshape_target_from_input_or_attribute() {
        let env = Env::new()
            .f32("x", &[2, 3, 4])
            .ints("s", &[0, -1])
            .ints("z", &[0, 24])
            .f32("unknown", &[2]);
        assert_eq!(env.dims(&node1("Reshape", &["x", "s"], vec![])), [[2, 12]]);
        let allow_zero = vec![int("allowzero", 1)];
        let e = env.err(&node1("Reshape", &["x", "z"], allow_zero));
        assert!(
            e.contains("cannot reshape [2, 3, 4] (24 elements) to [0, 24]"),
            "{e}"
        );
        // Opset 1: the shape is an attribute (ignored once there is a second input).
        let attr = || vec![ints("shape", &[4, 6])];
        assert_eq!(env.dims(&node1("Reshape", &["x"], attr())), [[4, 6]]);
        assert_eq!(env.dims(&node1("Reshape", &["x", "s"], attr())), [[2, 12]]);
        assert_eq!(
            env.err(&node1("Reshape", &["x", "unknown"], vec![])),
            "the target shape is not a known constant"
        );
        assert_eq!(env.err(&node1("Reshape", &[], vec![])), "missing input 0");
    }

    #[test]
    fn reshape_dims_rules() {
        assert_eq!(reshape_dims(&[2, 3, 4], &[-1], false), Ok(vec![24]));
        assert_eq!(
            reshape_dims(&[2, 3, 4], &[0, 0, 2, 2], false),
            Ok(vec![2, 3, 2, 2])
        );
        assert_eq!(reshape_dims(&[0, 3], &[0, 3], true), Ok(vec![0, 3]));
        let err = |x: &[usize], s: &[i64]| reshape_dims(x, s, false).unwrap_err();
        assert!(err(&[2, 3], &[0, 0, 0]).contains("0 at 2 beyond input rank"));
        assert!(err(&[2, 3], &[-1, -1]).contains("invalid target dim -1"));
        assert!(err(&[2, 3], &[-2, 3]).contains("invalid target dim -2"));
        assert!(err(&[2, 3], &[4, -1]).contains("cannot reshape [2, 3] to [4, -1]"));
        assert!(err(&[2, 3], &[7]).contains("(6 elements)"));
    }

    #[test]
    fn squeeze_removes_unit_axes() {
        let env = Env::new()
            .f32("x", &[1, 3, 1, 5])
            .ints("a", &[-2])
            .ints("bad", &[4]);
        assert_eq!(env.dims(&node1("Squeeze", &["x"], vec![])), [[3, 5]]);
        let attr = vec![ints("axes", &[0])];
        assert_eq!(env.dims(&node1("Squeeze", &["x"], attr)), [[3, 1, 5]]);
        assert_eq!(
            env.dims(&node1("Squeeze", &["x", "a"], vec![])),
            [[1, 3, 5]]
        );
        assert!(
            env.err(&node1("Squeeze", &["x", "bad"], vec![]))
                .contains("axis 4 out of range for rank 4")
        );
    }

    #[test]
    fn unsqueeze_inserts_unit_axes() {
        let env = Env::new()
            .f32("x", &[3, 5])
            .ints("a", &[-1, 0])
            .f32("unknown", &[1]);
        assert_eq!(
            env.dims(&node1("Unsqueeze", &["x", "a"], vec![])),
            [[1, 3, 5, 1]]
        );
        let attr = vec![ints("axes", &[1, 3])];
        assert_eq!(env.dims(&node1("Unsqueeze", &["x"], attr)), [[3, 1, 5, 1]]);
        let n = node1("Unsqueeze", &["x", "unknown"], vec![]);
        assert_eq!(env.err(&n), "axes unknown");
        let bad = vec![ints("axes", &[3])];
        assert!(
            env.err(&node1("Unsqueeze", &["x"], bad))
                .contains("out of range for rank 3")
        );
    }
}

//! Gather and Slice.

use super::{Ctx, Out, norm_axis};
use crate::model::TensorType;

/// The data dims with dim `axis` replaced by the indices' dims.
pub(super) fn gather(cx: &Ctx) -> Out {
    let (x, idx) = (cx.input(0)?, cx.input(1)?);
    let axis = norm_axis(cx.attr_i("axis", 0), x.dims.len())?;
    let mut dims = x.dims[..axis].to_vec();
    dims.extend(&idx.dims);
    dims.extend(&x.dims[axis + 1..]);
    Ok(vec![TensorType { elem: x.elem, dims }])
}

/// starts/ends/axes as attributes (opset 1) or known inputs 1..=4 with steps (opset 10), clamped
/// as ONNX does.
pub(super) fn slice(cx: &Ctx) -> Out {
    let x = cx.input(0)?;
    let (starts, ends, axes, steps) = match cx.attr_ints("starts") {
        Some(st) => (
            st,
            cx.attr_ints("ends").ok_or("missing ends")?,
            cx.attr_ints("axes"),
            None,
        ),
        None => (
            cx.ints_in(1).ok_or("starts unknown")?,
            cx.ints_in(2).ok_or("ends unknown")?,
            cx.ints_in(3),
            cx.ints_in(4),
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

#[cfg(test)]
mod tests {
    use super::super::testutil::{Env, int, ints, node1};
    use crate::onnx::DataType;

    #[test]
    fn gather_replaces_the_axis_by_the_indices() {
        let env = Env::new()
            .ty("x", DataType::Int64, &[4, 5, 6])
            .ty("i", DataType::Int64, &[2, 3])
            .ty("scalar", DataType::Int64, &[]);
        let outs = env.infer(&node1("Gather", &["x", "i"], vec![])).unwrap();
        assert_eq!(
            (outs[0].elem, outs[0].dims.clone()),
            (DataType::Int64, vec![2, 3, 5, 6])
        );
        let n = node1("Gather", &["x", "i"], vec![int("axis", -2)]);
        assert_eq!(env.dims(&n), [[4, 2, 3, 6]]);
        let n = node1("Gather", &["x", "scalar"], vec![int("axis", 2)]);
        assert_eq!(env.dims(&n), [[4, 5]]);
    }

    #[test]
    fn gather_errors() {
        let env = Env::new().f32("x", &[4, 5]).f32("i", &[2]);
        assert_eq!(env.err(&node1("Gather", &["x"], vec![])), "missing input 1");
        let n = node1("Gather", &["x", "i"], vec![int("axis", 2)]);
        assert!(env.err(&n).contains("axis 2 out of range for rank 2"));
    }

    #[test]
    fn slice_from_inputs_with_steps() {
        let env = Env::new()
            .f32("x", &[10, 20, 30])
            .ints("st", &[1, -5])
            .ints("en", &[i64::MAX, -1])
            .ints("ax", &[0, 2])
            .ints("step", &[3, 1])
            .ints("back", &[-1, -2])
            .ints("bst", &[i64::MAX, -1])
            .ints("ben", &[i64::MIN, 0]);
        let s = |ins: &[&str]| env.dims(&node1("Slice", ins, vec![]));
        assert_eq!(s(&["x", "st", "en"]), [[9, 4, 30]], "axes default to 0..");
        assert_eq!(s(&["x", "st", "en", "ax"]), [[9, 20, 4]]);
        assert_eq!(s(&["x", "st", "en", "ax", "step"]), [[3, 20, 4]]);
        // Backwards: all of axis 0 reversed; axis 1 from its end down to (excluding) 0 by 2.
        assert_eq!(s(&["x", "bst", "ben", "", "back"]), [[10, 10, 30]]);
        assert_eq!(s(&["x", "en", "st"]), [[0, 0, 30]], "empty ranges");
    }

    #[test]
    fn slice_from_attributes() {
        let env = Env::new().f32("x", &[10, 20]);
        let attrs = vec![
            ints("starts", &[2]),
            ints("ends", &[-2]),
            ints("axes", &[1]),
        ];
        assert_eq!(env.dims(&node1("Slice", &["x"], attrs)), [[10, 16]]);
        let attrs = vec![ints("starts", &[2, 0]), ints("ends", &[4, 100])];
        assert_eq!(env.dims(&node1("Slice", &["x"], attrs)), [[2, 20]]);
    }

    #[test]
    fn slice_errors() {
        let env = Env::new()
            .f32("x", &[10, 20])
            .ints("one", &[1])
            .ints("zero", &[0])
            .ints("ax", &[2]);
        let err = |ins: &[&str], attrs| env.err(&node1("Slice", ins, attrs));
        assert_eq!(err(&["x", "one", "one", "", "zero"], vec![]), "step 0");
        assert_eq!(err(&["x"], vec![]), "starts unknown");
        assert_eq!(err(&["x", "one"], vec![]), "ends unknown");
        assert_eq!(err(&["x"], vec![ints("starts", &[1])]), "missing ends");
        let e = err(&["x", "one", "one", "ax"], vec![]);
        assert!(e.contains("axis 2 out of range for rank 2"), "{e}");
    }
}

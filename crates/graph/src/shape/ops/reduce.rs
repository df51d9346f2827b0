//! Reductions: Reduce* (axes as attribute, or input 1 from opsets 13/18) and ArgMax/ArgMin.

use super::{Ctx, Out, norm_axis};
use crate::model::TensorType;
use crate::onnx::DataType;

/// The reduced axes dropped (or kept as 1 with `keepdims`); ArgMax/ArgMin give int64 indices.
/// No axes reduce everything, unless `noop_with_empty_axes`.
pub(super) fn reduce(cx: &Ctx) -> Out {
    let op = cx.op();
    let x = cx.input(0)?;
    let keep = cx.attr_i("keepdims", 1) != 0;
    let axes = if op.starts_with("Arg") {
        Some(vec![cx.attr_i("axis", 0)])
    } else {
        cx.attr_ints("axes").or_else(|| cx.ints_in(1))
    };
    let axes: Vec<usize> = match axes {
        Some(a) if !a.is_empty() => a
            .iter()
            .map(|a| norm_axis(*a, x.dims.len()))
            .collect::<Result<_, _>>()?,
        _ if cx.attr_i("noop_with_empty_axes", 0) != 0 => vec![],
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

#[cfg(test)]
mod tests {
    use super::super::testutil::{Env, int, ints, node1};
    use crate::onnx::DataType;

    const REDUCE: [&str; 9] = [
        "ReduceMean",
        "ReduceSum",
        "ReduceMax",
        "ReduceMin",
        "ReduceProd",
        "ReduceL2",
        "ReduceL1",
        "ReduceLogSumExp",
        "ReduceSumSquare",
    ];

    fn env() -> Env {
        Env::new()
            .ty("x", DataType::Float16, &[2, 3, 4])
            .ints("a", &[-1, 0])
            .ints("empty", &[])
    }

    #[test]
    fn reductions_keep_or_drop_axes() {
        let env = env();
        for op in REDUCE {
            let n = node1(op, &["x"], vec![ints("axes", &[1])]);
            let outs = env.infer(&n).unwrap();
            assert_eq!(outs[0].elem, DataType::Float16, "{op}");
            assert_eq!(outs[0].dims, [2, 1, 4], "{op}");
        }
        let r = |ins: &[&str], attrs| env.dims(&node1("ReduceSum", ins, attrs));
        assert_eq!(r(&["x", "a"], vec![]), [[1, 3, 1]], "axes as input");
        assert_eq!(r(&["x", "a"], vec![int("keepdims", 0)]), [[3]]);
        assert_eq!(r(&["x"], vec![]), [[1, 1, 1]], "no axes: all");
        assert_eq!(
            r(&["x", "empty"], vec![int("keepdims", 0)]),
            [Vec::<usize>::new()]
        );
        let noop = vec![int("noop_with_empty_axes", 1)];
        assert_eq!(r(&["x", "empty"], noop), [[2, 3, 4]]);
    }

    #[test]
    fn arg_reductions_give_int64_indices() {
        let env = env();
        for op in ["ArgMax", "ArgMin"] {
            let outs = env.infer(&node1(op, &["x"], vec![])).unwrap();
            assert_eq!(
                (outs[0].elem, outs[0].dims.clone()),
                (DataType::Int64, vec![1, 3, 4])
            );
            let n = node1(op, &["x"], vec![int("axis", -1), int("keepdims", 0)]);
            assert_eq!(env.dims(&n), [[2, 3]], "{op}");
        }
    }

    #[test]
    fn reduce_errors() {
        let env = env();
        let n = node1("ReduceMean", &["x"], vec![ints("axes", &[3])]);
        assert!(env.err(&n).contains("axis 3 out of range for rank 3"));
        let n = node1("ArgMax", &["x"], vec![int("axis", -4)]);
        assert!(env.err(&n).contains("axis -4 out of range for rank 3"));
        assert_eq!(env.err(&node1("ReduceMax", &[], vec![])), "missing input 0");
    }
}

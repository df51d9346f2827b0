//! Concat and Split.

use super::{Ctx, Out, norm_axis};
use crate::model::TensorType;

/// Input 0's dims with the `axis` dims of all inputs summed.
pub(super) fn concat(cx: &Ctx) -> Out {
    let first = cx.input(0)?;
    let axis = norm_axis(cx.attr_i("axis", 0), first.dims.len())?;
    let mut dims = first.dims.clone();
    for i in 1..cx.node.input.len() {
        let t = cx.input(i)?;
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

/// One output per part along `axis`: sizes from the `split` attribute or input 1, else equal
/// parts (the last one smaller when the dim does not divide).
pub(super) fn split(cx: &Ctx) -> Out {
    let x = cx.input(0)?;
    let axis = norm_axis(cx.attr_i("axis", 0), x.dims.len())?;
    let n = cx.node.output.len();
    let parts = cx
        .attr_ints("split")
        .or_else(|| cx.ints_in(1))
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

#[cfg(test)]
mod tests {
    use super::super::testutil::{Env, int, ints, node, node1};
    use crate::onnx::DataType;

    #[test]
    fn concat_sums_the_axis() {
        let env = Env::new()
            .ty("a", DataType::Int64, &[2, 3, 4])
            .f32("b", &[2, 5, 4])
            .f32("c", &[2, 1, 4]);
        let n = node1("Concat", &["a", "b", "c"], vec![int("axis", 1)]);
        let outs = env.infer(&n).unwrap();
        assert_eq!(
            (outs[0].elem, outs[0].dims.clone()),
            (DataType::Int64, vec![2, 9, 4])
        );
        let n = node1("Concat", &["a", "a"], vec![int("axis", -1)]);
        assert_eq!(env.dims(&n), [[2, 3, 8]]);
        assert_eq!(env.dims(&node1("Concat", &["a", "a"], vec![])), [[4, 3, 4]]);
    }

    #[test]
    fn concat_errors() {
        let env = Env::new().f32("a", &[2, 3]).f32("v", &[6]);
        let n = node1("Concat", &["a", "v"], vec![int("axis", 1)]);
        assert_eq!(env.err(&n), "rank mismatch [2, 3] vs [6]");
        let n = node1("Concat", &["a", "a"], vec![int("axis", 2)]);
        assert!(env.err(&n).contains("axis 2 out of range for rank 2"));
        let n = node1("Concat", &["a", "ghost"], vec![]);
        assert_eq!(env.err(&n), "input 'ghost' has no known type");
    }

    #[test]
    fn split_into_given_or_equal_parts() {
        let env = Env::new()
            .ty("x", DataType::Int32, &[2, 7])
            .ints("s", &[3, 4]);
        let outs = env
            .infer(&node("Split", &["x"], &["a", "b"], vec![int("axis", 1)]))
            .unwrap();
        assert!(outs.iter().all(|t| t.elem == DataType::Int32));
        let dims: Vec<_> = outs.into_iter().map(|t| t.dims).collect();
        assert_eq!(dims, [[2, 4], [2, 3]], "equal parts, the last smaller");
        let three = node("Split", &["x"], &["a", "b", "c"], vec![int("axis", -1)]);
        assert_eq!(env.dims(&three), [[2, 3], [2, 3], [2, 1]]);
        let attr = vec![int("axis", 1), ints("split", &[5, 2])];
        assert_eq!(
            env.dims(&node("Split", &["x"], &["a", "b"], attr)),
            [[2, 5], [2, 2]]
        );
        let input = node("Split", &["x", "s"], &["a", "b"], vec![int("axis", 1)]);
        assert_eq!(env.dims(&input), [[2, 3], [2, 4]]);
        let rows = node("Split", &["x"], &["a", "b"], vec![]);
        assert_eq!(env.dims(&rows), [[1, 7], [1, 7]]);
    }

    #[test]
    fn split_errors() {
        let env = Env::new().f32("x", &[2, 7]);
        let n = node("Split", &["x"], &["a", "b"], vec![int("axis", -3)]);
        assert!(env.err(&n).contains("axis -3 out of range for rank 2"));
        assert_eq!(
            env.err(&node("Split", &[], &["a"], vec![])),
            "missing input 0"
        );
    }
}

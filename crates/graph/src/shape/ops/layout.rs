//! Operators that permute data: Transpose, DepthToSpace, SpaceToDepth.

use super::{Ctx, Out};
use crate::model::TensorType;

/// Input dims permuted by `perm` (default: reversed).
pub(super) fn transpose(cx: &Ctx) -> Out {
    let x = cx.input(0)?;
    let perm = cx
        .attr_ints("perm")
        .unwrap_or_else(|| (0..x.dims.len() as i64).rev().collect());
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

/// NCHW with channels moved into (DepthToSpace) or out of (SpaceToDepth) `blocksize` blocks.
pub(super) fn depth_space(cx: &Ctx) -> Out {
    let x = cx.input(0)?;
    let b = cx.attr_i("blocksize", 1) as usize;
    let d = &x.dims;
    let dims = if cx.op() == "DepthToSpace" {
        vec![d[0], d[1] / (b * b), d[2] * b, d[3] * b]
    } else {
        vec![d[0], d[1] * b * b, d[2] / b, d[3] / b]
    };
    Ok(vec![TensorType { elem: x.elem, dims }])
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{Env, int, ints, node1};
    use crate::onnx::DataType;

    #[test]
    fn transpose_permutes() {
        let env = Env::new().ty("x", DataType::Bool, &[2, 3, 4]);
        let outs = env.infer(&node1("Transpose", &["x"], vec![])).unwrap();
        assert_eq!(
            (outs[0].elem, outs[0].dims.clone()),
            (DataType::Bool, vec![4, 3, 2])
        );
        let perm = vec![ints("perm", &[1, 0, 2])];
        assert_eq!(env.dims(&node1("Transpose", &["x"], perm)), [[3, 2, 4]]);
        let bad = vec![ints("perm", &[0, 3, 1])];
        assert_eq!(
            env.err(&node1("Transpose", &["x"], bad)),
            "perm [0, 3, 1] out of range"
        );
        assert_eq!(env.err(&node1("Transpose", &[], vec![])), "missing input 0");
    }

    #[test]
    fn depth_and_space_trade_places() {
        let env = Env::new().f32("x", &[1, 16, 4, 6]);
        let b2 = || vec![int("blocksize", 2)];
        assert_eq!(
            env.dims(&node1("DepthToSpace", &["x"], b2())),
            [[1, 4, 8, 12]]
        );
        assert_eq!(
            env.dims(&node1("SpaceToDepth", &["x"], b2())),
            [[1, 64, 2, 3]]
        );
        assert_eq!(
            env.err(&node1("SpaceToDepth", &["y"], b2())),
            "input 'y' has no known type"
        );
    }
}

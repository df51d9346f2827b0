//! Matrix products: Gemm and MatMul.

use super::{Ctx, Out, broadcast};
use crate::model::TensorType;

/// `[M, N]` from 2-D A and B, either possibly transposed.
pub(super) fn gemm(cx: &Ctx) -> Out {
    let (a, b) = (cx.input(0)?, cx.input(1)?);
    if a.dims.len() != 2 || b.dims.len() != 2 {
        return Err(format!(
            "Gemm needs 2-D inputs, got {:?} and {:?}",
            a.dims, b.dims
        ));
    }
    let m = if cx.attr_i("transA", 0) != 0 {
        a.dims[1]
    } else {
        a.dims[0]
    };
    let n = if cx.attr_i("transB", 0) != 0 {
        b.dims[0]
    } else {
        b.dims[1]
    };
    Ok(vec![TensorType {
        elem: a.elem,
        dims: vec![m, n],
    }])
}

/// Numpy matmul: batch dims broadcast, 1-D operands promoted and their unit dim dropped.
pub(super) fn matmul(cx: &Ctx) -> Out {
    let (a, b) = (cx.input(0)?, cx.input(1)?);
    Ok(vec![TensorType {
        elem: a.elem,
        dims: matmul_dims(&a.dims, &b.dims)?,
    }])
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

#[cfg(test)]
mod tests {
    use super::super::testutil::{Env, int, node1};
    use super::matmul_dims;
    use crate::onnx::DataType;

    #[test]
    fn gemm_transposes() {
        let env = Env::new()
            .ty("a", DataType::Float16, &[4, 3])
            .f32("b", &[3, 5])
            .f32("c", &[5]);
        let outs = env.infer(&node1("Gemm", &["a", "b", "c"], vec![])).unwrap();
        assert_eq!(
            (outs[0].elem, outs[0].dims.clone()),
            (DataType::Float16, vec![4, 5])
        );
        let t = |ta, tb| vec![int("transA", ta), int("transB", tb)];
        assert_eq!(env.dims(&node1("Gemm", &["a", "b"], t(1, 0))), [[3, 5]]);
        assert_eq!(env.dims(&node1("Gemm", &["a", "b"], t(0, 1))), [[4, 3]]);
        assert_eq!(env.dims(&node1("Gemm", &["b", "a"], t(1, 1))), [[5, 4]]);
    }

    #[test]
    fn gemm_needs_matrices() {
        let env = Env::new().f32("a", &[2, 4, 3]).f32("b", &[3, 5]);
        assert_eq!(
            env.err(&node1("Gemm", &["a", "b"], vec![])),
            "Gemm needs 2-D inputs, got [2, 4, 3] and [3, 5]"
        );
        assert_eq!(env.err(&node1("Gemm", &["b"], vec![])), "missing input 1");
    }

    #[test]
    fn matmul_broadcasts_batches() {
        let env = Env::new()
            .ty("a", DataType::Int32, &[2, 1, 4, 3])
            .f32("b", &[5, 3, 6])
            .f32("v", &[3]);
        let outs = env.infer(&node1("MatMul", &["a", "b"], vec![])).unwrap();
        assert_eq!(
            (outs[0].elem, outs[0].dims.clone()),
            (DataType::Int32, vec![2, 5, 4, 6])
        );
        assert_eq!(env.dims(&node1("MatMul", &["a", "v"], vec![])), [[2, 1, 4]]);
        assert_eq!(env.dims(&node1("MatMul", &["v", "b"], vec![])), [[5, 6]]);
        assert_eq!(
            env.dims(&node1("MatMul", &["v", "v"], vec![])),
            [Vec::<usize>::new()]
        );
    }

    #[test]
    fn matmul_errors() {
        assert!(
            matmul_dims(&[4, 3], &[4, 3])
                .unwrap_err()
                .contains("do not agree")
        );
        assert!(matmul_dims(&[], &[3]).is_err(), "a scalar is no matrix");
        assert!(
            matmul_dims(&[2, 4, 3], &[5, 3, 6])
                .unwrap_err()
                .contains("cannot broadcast")
        );
        let env = Env::new().f32("a", &[4, 3]);
        assert_eq!(env.err(&node1("MatMul", &["a"], vec![])), "missing input 1");
    }
}

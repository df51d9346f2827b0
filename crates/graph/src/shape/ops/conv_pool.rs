//! Sliding-window operators: Conv, ConvTranspose, MaxPool, AveragePool, LpPool, and the global
//! pools.

use super::{Ctx, Out};
use crate::model::{TensorType, attr_s};
use crate::onnx::DataType;

/// `[N, C, spatial...]` with the output channels of the weight (or the input's, for pools) and
/// the windowed spatial dims; MaxPool's second output (indices) is int64 of the same dims.
pub(super) fn windowed(cx: &Ctx) -> Out {
    let op = cx.op();
    let x = cx.input(0)?;
    if x.dims.len() < 3 {
        return Err(format!("expects rank >= 3, got {:?}", x.dims));
    }
    let spatial = x.dims.len() - 2;
    let kernel = match op {
        "Conv" | "ConvTranspose" => {
            let w = cx.input(1)?;
            cx.attr_ints("kernel_shape")
                .unwrap_or_else(|| w.dims[2..].iter().map(|d| *d as i64).collect())
        }
        _ => cx.attr_ints("kernel_shape").ok_or("missing kernel_shape")?,
    };
    let channels = match op {
        "Conv" => cx.input(1)?.dims[0],
        "ConvTranspose" => cx.input(1)?.dims[1] * cx.attr_i("group", 1) as usize,
        _ => x.dims[1],
    };
    let dims = pool_dims(cx, &x.dims[2..], &kernel, spatial, op == "ConvTranspose")?;
    let mut out = vec![x.dims[0], channels];
    out.extend(dims);
    let mut outs = vec![TensorType {
        elem: x.elem,
        dims: out.clone(),
    }];
    if cx.node.output.len() > 1 {
        outs.push(TensorType {
            elem: DataType::Int64,
            dims: out,
        });
    }
    Ok(outs)
}

/// `[N, C, 1, 1, ...]`.
pub(super) fn global(cx: &Ctx) -> Out {
    let x = cx.input(0)?;
    let mut dims = x.dims[..2.min(x.dims.len())].to_vec();
    dims.extend(std::iter::repeat_n(1, x.dims.len().saturating_sub(2)));
    Ok(vec![TensorType { elem: x.elem, dims }])
}

/// Spatial output dims of a window `kernel` sliding over `x` (strides, dilations, pads,
/// auto_pad, ceil_mode; output_padding for a transposed convolution).
fn pool_dims(
    cx: &Ctx,
    x: &[usize],
    kernel: &[i64],
    spatial: usize,
    transpose: bool,
) -> Result<Vec<usize>, String> {
    if kernel.len() != spatial {
        return Err(format!("kernel {kernel:?} for {spatial} spatial dims"));
    }
    let strides = cx.attr_ints("strides").unwrap_or(vec![1; spatial]);
    let dil = cx.attr_ints("dilations").unwrap_or(vec![1; spatial]);
    let pads = cx.attr_ints("pads").unwrap_or(vec![0; 2 * spatial]);
    let ceil = cx.attr_i("ceil_mode", 0) != 0;
    let auto = attr_s(cx.node, "auto_pad").unwrap_or_default();
    (0..spatial)
        .map(|i| {
            let (n, k, s, d) = (x[i] as i64, kernel[i], strides[i].max(1), dil[i].max(1));
            let ek = (k - 1) * d + 1;
            if transpose {
                let op = cx.attr_ints("output_padding").map(|p| p[i]).unwrap_or(0);
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

#[cfg(test)]
mod tests {
    use super::super::testutil::{Env, int, ints, node, node1, string};
    use crate::onnx::DataType;
    use crate::{OnnxModel, Shapes, zoo};

    fn env() -> Env {
        Env::new()
            .f32("x", &[2, 3, 32, 32])
            .f32("w", &[8, 3, 3, 3])
            .f32("wt", &[3, 4, 3, 3])
    }

    #[test]
    fn conv_takes_channels_and_kernel_from_the_weight() {
        let e = env();
        let conv = |attrs| e.dims(&node1("Conv", &["x", "w"], attrs));
        assert_eq!(conv(vec![]), [[2, 8, 30, 30]], "kernel from the weight");
        assert_eq!(conv(vec![ints("pads", &[1; 4])]), [[2, 8, 32, 32]]);
        let strided = vec![ints("pads", &[1; 4]), ints("strides", &[2, 2])];
        assert_eq!(conv(strided), [[2, 8, 16, 16]]);
        assert_eq!(conv(vec![ints("dilations", &[2, 2])]), [[2, 8, 28, 28]]);
        let same = vec![string("auto_pad", "SAME_UPPER"), ints("strides", &[3, 3])];
        assert_eq!(conv(same), [[2, 8, 11, 11]]);
        let valid = vec![string("auto_pad", "VALID"), ints("strides", &[2, 2])];
        assert_eq!(conv(valid), [[2, 8, 15, 15]]);
        let rect = vec![ints("kernel_shape", &[1, 5])];
        assert_eq!(conv(rect), [[2, 8, 32, 28]], "kernel_shape wins");
    }

    #[test]
    fn conv_transpose_upsamples() {
        let e = env();
        let ct = |attrs| e.dims(&node1("ConvTranspose", &["x", "wt"], attrs));
        assert_eq!(ct(vec![]), [[2, 4, 34, 34]]);
        let up = vec![ints("strides", &[2, 2]), ints("pads", &[1; 4])];
        assert_eq!(ct(up), [[2, 4, 63, 63]]);
        let out_pad = vec![
            ints("strides", &[2, 2]),
            ints("pads", &[1; 4]),
            ints("output_padding", &[1, 0]),
            int("group", 2),
        ];
        assert_eq!(
            ct(out_pad),
            [[2, 8, 64, 63]],
            "channels = weight dim 1 * group"
        );
    }

    #[test]
    fn pools_keep_channels() {
        let e = env();
        let k2 = || vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])];
        for op in ["MaxPool", "AveragePool", "LpPool"] {
            assert_eq!(e.dims(&node1(op, &["x"], k2())), [[2, 3, 16, 16]], "{op}");
        }
        // MaxPool's indices.
        let outs = e
            .infer(&node("MaxPool", &["x"], &["y", "i"], k2()))
            .unwrap();
        assert_eq!(outs[1].elem, DataType::Int64);
        assert_eq!(outs[1].dims, [2, 3, 16, 16]);
        // ceil_mode: 6 wide, kernel 3, stride 2 gives 2 windows, 3 with ceil_mode ...
        let e = Env::new().f32("x", &[1, 1, 6, 5]);
        let pool = |attrs| e.dims(&node1("MaxPool", &["x"], attrs));
        let ceil = |k: i64, p: i64| {
            vec![
                ints("kernel_shape", &[k, k]),
                ints("strides", &[2, 2]),
                ints("pads", &[p; 4]),
                int("ceil_mode", 1),
            ]
        };
        assert_eq!(pool(ceil(3, 0)), [[1, 1, 3, 2]]);
        assert_eq!(pool(ceil(3, 0)[..2].to_vec()), [[1, 1, 2, 2]]);
        // ... but a last window starting in the right padding is dropped (5 + 1 + 1, kernel 2).
        assert_eq!(pool(ceil(2, 1)), [[1, 1, 4, 3]]);
    }

    #[test]
    fn windowed_errors() {
        let e = env().f32("v", &[2, 3]).f32("w1", &[8, 3, 3]);
        assert!(
            e.err(&node1("Conv", &["v", "w"], vec![]))
                .contains("expects rank >= 3, got [2, 3]")
        );
        assert_eq!(e.err(&node1("Conv", &["x"], vec![])), "missing input 1");
        assert_eq!(
            e.err(&node1("MaxPool", &["x"], vec![])),
            "missing kernel_shape"
        );
        assert!(
            e.err(&node1("Conv", &["x", "w1"], vec![]))
                .contains("kernel [3] for 2 spatial dims")
        );
        let big = vec![ints("kernel_shape", &[40, 40])];
        assert!(
            e.err(&node1("AveragePool", &["x"], big))
                .contains("kernel 40 larger than padded input 32")
        );
    }

    #[test]
    fn global_pools_keep_n_and_c() {
        let e = env().f32("v", &[5]);
        for op in ["GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"] {
            assert_eq!(e.dims(&node1(op, &["x"], vec![])), [[2, 3, 1, 1]], "{op}");
        }
        assert_eq!(e.dims(&node1("GlobalMaxPool", &["v"], vec![])), [[5]]);
        assert_eq!(
            e.err(&node1("GlobalMaxPool", &[], vec![])),
            "missing input 0"
        );
    }

    #[test]
    fn zoo_chain_shapes() {
        let model = OnnxModel::from_proto(zoo::chain()).unwrap();
        let s = Shapes::infer(&model, 4).unwrap();
        let dims: Vec<_> = model
            .nodes()
            .iter()
            .filter(|n| n.op_type() != "Relu")
            .map(|n| s.get(&n.output[0]).unwrap().dims.clone())
            .collect();
        let expect: [&[usize]; 7] = [
            &[4, 8, 32, 32],
            &[4, 16, 16, 16],
            &[4, 16, 8, 8],
            &[4, 16, 8, 8],
            &[4, 16, 1, 1],
            &[4, 16],
            &[4, 10],
        ];
        assert_eq!(dims, expect);
    }
}

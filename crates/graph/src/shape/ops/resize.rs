//! Operators that grow or shrink dims: Pad, Tile, Expand, Resize, Upsample.

use super::{Ctx, Out, broadcast};
use crate::consts::ConstTensor;
use crate::model::TensorType;

/// Each dim plus its begin and end pads (attribute, or known input 1 from opset 11).
pub(super) fn pad(cx: &Ctx) -> Out {
    let x = cx.input(0)?;
    let pads = cx
        .attr_ints("pads")
        .or_else(|| cx.ints_in(1))
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

/// Each dim times its known repeat count (input 1).
pub(super) fn tile(cx: &Ctx) -> Out {
    let x = cx.input(0)?;
    let reps = cx.ints_in(1).ok_or("repeats unknown")?;
    let dims = x
        .dims
        .iter()
        .zip(&reps)
        .map(|(d, r)| d * (*r as usize))
        .collect();
    Ok(vec![TensorType { elem: x.elem, dims }])
}

/// The input broadcast with the known shape of input 1.
pub(super) fn expand(cx: &Ctx) -> Out {
    let x = cx.input(0)?;
    let shape: Vec<usize> = cx
        .ints_in(1)
        .ok_or("shape unknown")?
        .iter()
        .map(|d| *d as usize)
        .collect();
    Ok(vec![TensorType {
        elem: x.elem,
        dims: broadcast(&x.dims, &shape)?,
    }])
}

/// Resize's `sizes` (input 3) when given, else each dim times its scale (floored): input 2 of
/// Resize from opset 11, input 1 of Resize-10 and Upsample, or Upsample-7's `scales` attribute.
pub(super) fn resize(cx: &Ctx) -> Out {
    let op = cx.op();
    let x = cx.input(0)?;
    let sizes = if op == "Resize" {
        cx.ints_in(3).filter(|v| !v.is_empty())
    } else {
        None
    };
    let dims = if let Some(sz) = sizes {
        sz.iter().map(|d| *d as usize).collect()
    } else {
        let scale_idx = if op == "Upsample" || cx.model.opset() < 11 {
            1
        } else {
            2
        };
        let scales: Vec<f32> = match cx.value(scale_idx) {
            Some(ConstTensor::F32 { data, .. }) => data.clone(),
            _ => cx
                .attr("scales")
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

#[cfg(test)]
mod tests {
    use super::super::testutil::{Env, floats, ints, node1};
    use crate::onnx::DataType;

    #[test]
    fn pad_adds_begin_and_end() {
        let env = Env::new()
            .ty("x", DataType::Uint8, &[1, 3, 8, 8])
            .ints("p", &[0, 0, 1, 2, 0, 0, 3, -4]);
        let outs = env.infer(&node1("Pad", &["x", "p"], vec![])).unwrap();
        assert_eq!(
            (outs[0].elem, outs[0].dims.clone()),
            (DataType::Uint8, vec![1, 3, 12, 6])
        );
        let attr = vec![ints("pads", &[0, 0, 0, -9, 0, 0, 0, 0])];
        assert_eq!(
            env.dims(&node1("Pad", &["x"], attr)),
            [[1, 3, 8, 0]],
            "cropped to 0"
        );
    }

    #[test]
    fn pad_errors() {
        let env = Env::new().f32("x", &[8, 8]).f32("unknown", &[4]);
        assert_eq!(
            env.err(&node1("Pad", &["x", "unknown"], vec![])),
            "pads unknown"
        );
        let short = vec![ints("pads", &[1, 1])];
        assert_eq!(
            env.err(&node1("Pad", &["x"], short)),
            "pads [1, 1] for rank 2"
        );
    }

    #[test]
    fn tile_multiplies() {
        let env = Env::new()
            .f32("x", &[2, 3])
            .ints("r", &[3, 1])
            .f32("unknown", &[2]);
        assert_eq!(env.dims(&node1("Tile", &["x", "r"], vec![])), [[6, 3]]);
        let n = node1("Tile", &["x", "unknown"], vec![]);
        assert_eq!(env.err(&n), "repeats unknown");
    }

    #[test]
    fn expand_broadcasts_to_the_shape() {
        let env = Env::new()
            .f32("x", &[3, 1])
            .ints("s", &[2, 1, 4])
            .ints("bad", &[2, 4])
            .f32("unknown", &[2]);
        assert_eq!(env.dims(&node1("Expand", &["x", "s"], vec![])), [[2, 3, 4]]);
        let e = env.err(&node1("Expand", &["x", "bad"], vec![]));
        assert!(e.contains("cannot broadcast [3, 1] with [2, 4]"), "{e}");
        let n = node1("Expand", &["x", "unknown"], vec![]);
        assert_eq!(env.err(&n), "shape unknown");
    }

    #[test]
    fn resize_by_sizes_or_scales() {
        let env = Env::new()
            .f32("x", &[1, 3, 10, 10])
            .ints("sizes", &[1, 3, 7, 9])
            .floats("sc", &[1.0, 1.0, 2.0, 0.55])
            .ints("none", &[]);
        let r = |ins: &[&str]| env.dims(&node1("Resize", ins, vec![]));
        assert_eq!(r(&["x", "", "", "sizes"]), [[1, 3, 7, 9]]);
        assert_eq!(r(&["x", "", "sc"]), [[1, 3, 20, 5]]);
        assert_eq!(r(&["x", "", "sc", "none"]), [[1, 3, 20, 5]], "empty sizes");
        // Before opset 11, and for Upsample, the scales are input 1.
        let old = Env::opset(10)
            .f32("x", &[1, 3, 10, 10])
            .floats("sc", &[1.0, 1.0, 2.0, 3.0]);
        assert_eq!(
            old.dims(&node1("Resize", &["x", "sc"], vec![])),
            [[1, 3, 20, 30]]
        );
        assert_eq!(
            old.dims(&node1("Upsample", &["x", "sc"], vec![])),
            [[1, 3, 20, 30]]
        );
        let attr = vec![floats("scales", &[1.0, 1.0, 2.0, 2.0])];
        assert_eq!(env.dims(&node1("Upsample", &["x"], attr)), [[1, 3, 20, 20]]);
    }

    #[test]
    fn resize_errors() {
        let env = Env::new()
            .f32("x", &[1, 3, 10, 10])
            .floats("sc", &[2.0, 2.0]);
        let n = node1("Resize", &["x", "", "sc"], vec![]);
        assert_eq!(env.err(&n), "scales [2.0, 2.0] for rank 4");
        assert_eq!(env.err(&node1("Resize", &["x"], vec![])), "scales unknown");
        // Upsample ignores a sizes input.
        let env = env.ints("sizes", &[1, 3, 5, 5]);
        let n = node1("Upsample", &["x", "", "", "sizes"], vec![]);
        assert_eq!(env.err(&n), "scales unknown");
    }
}

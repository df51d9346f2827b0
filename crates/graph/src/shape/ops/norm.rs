//! Normalizations and Dropout with optional side outputs (BatchNormalization's running
//! statistics, LayerNormalization's mean and inverse deviation, Dropout's mask).

use super::{Ctx, Out};
use crate::model::TensorType;
use crate::onnx::DataType;

/// Output 0 is input 0; each further output has input 0's dims, as bool (Dropout's mask) or
/// float (statistics).
pub(super) fn with_side_outputs(cx: &Ctx) -> Out {
    let t = cx.input(0)?.clone();
    let mut outs = vec![t.clone()];
    for _ in 1..cx.node.output.len() {
        outs.push(TensorType {
            elem: if cx.op() == "Dropout" {
                DataType::Bool
            } else {
                DataType::Float
            },
            dims: t.dims.clone(),
        });
    }
    Ok(outs)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{Env, node, node1};
    use crate::onnx::DataType;

    #[test]
    fn one_output_is_the_input_type() {
        let env = Env::new()
            .ty("x", DataType::Float16, &[2, 8, 5, 5])
            .f32("p", &[8]);
        for op in ["BatchNormalization", "LayerNormalization", "Dropout"] {
            let outs = env
                .infer(&node1(op, &["x", "p", "p", "p", "p"], vec![]))
                .unwrap();
            assert_eq!(outs.len(), 1, "{op}");
            assert_eq!(outs[0].elem, DataType::Float16, "{op}");
            assert_eq!(outs[0].dims, [2, 8, 5, 5], "{op}");
        }
    }

    #[test]
    fn side_outputs_are_float_or_bool_masks() {
        let env = Env::new().ty("x", DataType::Float16, &[2, 8]);
        let outs = env
            .infer(&node("Dropout", &["x"], &["y", "mask"], vec![]))
            .unwrap();
        assert_eq!(outs[1].elem, DataType::Bool);
        assert_eq!(outs[1].dims, [2, 8]);
        for op in ["BatchNormalization", "LayerNormalization"] {
            let outs = env
                .infer(&node(op, &["x"], &["y", "m", "v"], vec![]))
                .unwrap();
            assert_eq!(outs.len(), 3, "{op}");
            // Only the statistics' type is checked: the rule gives them input 0's dims, where
            // ONNX has [C] (BatchNormalization) or the normalized axes set to 1 (LayerNorm).
            for t in &outs[1..] {
                assert_eq!(t.elem, DataType::Float, "{op}");
            }
        }
    }

    #[test]
    fn missing_data_input_is_an_error() {
        let env = Env::new().f32("p", &[8]);
        let n = node1("BatchNormalization", &["", "p", "p", "p", "p"], vec![]);
        assert_eq!(env.err(&n), "missing input 0");
    }
}

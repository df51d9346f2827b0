//! Elementwise operators: unary ops (and every op whose outputs keep input 0's type and dims),
//! broadcasting arithmetic, comparisons and logic, and Where.

use super::{Ctx, Out, broadcast};
use crate::model::TensorType;
use crate::onnx::DataType;

/// Input 0's type and dims, for every output.
pub(super) fn unary(cx: &Ctx) -> Out {
    cx.same(cx.input(0)?)
}

/// Add, Sub, ... (and the variadic Max, Min, Sum, Mean): input 0's element type, all inputs
/// broadcast together.
pub(super) fn arithmetic(cx: &Ctx) -> Out {
    let mut dims = cx.input(0)?.dims.clone();
    for i in 1..cx.node.input.len() {
        dims = broadcast(&dims, &cx.input(i)?.dims)?;
    }
    Ok(vec![TensorType {
        elem: cx.input(0)?.elem,
        dims,
    }])
}

/// Comparisons and boolean logic: a bool tensor of the broadcast dims of inputs 0 and 1.
pub(super) fn compare(cx: &Ctx) -> Out {
    let dims = broadcast(&cx.input(0)?.dims, &cx.input(1)?.dims)?;
    Ok(vec![TensorType {
        elem: DataType::Bool,
        dims,
    }])
}

/// Where(condition, x, y): x's element type, the three inputs broadcast together.
pub(super) fn select(cx: &Ctx) -> Out {
    let dims = broadcast(
        &broadcast(&cx.input(0)?.dims, &cx.input(1)?.dims)?,
        &cx.input(2)?.dims,
    )?;
    Ok(vec![TensorType {
        elem: cx.input(1)?.elem,
        dims,
    }])
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{Env, node, node1};
    use crate::onnx::DataType;

    #[rustfmt::skip]
    const UNARY: &[&str] = &[
        "Relu", "LeakyRelu", "PRelu", "Sigmoid", "Tanh", "Clip", "Identity", "LRN", "Softmax",
        "LogSoftmax", "Exp", "Log", "Sqrt", "Neg", "Abs", "Erf", "HardSigmoid", "HardSwish", "Elu",
        "Selu", "Softplus", "Softsign", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Not",
        "InstanceNormalization", "Gelu", "Mish", "ThresholdedRelu", "Celu", "Hardmax", "Sin", "Cos",
        "CumSum",
    ];

    #[test]
    fn unary_ops_keep_type_and_dims() {
        let env = Env::new().ty("x", DataType::Float16, &[2, 3, 4]);
        for op in UNARY {
            let outs = env.infer(&node1(op, &["x"], vec![])).unwrap();
            assert_eq!(outs.len(), 1, "{op}");
            assert_eq!(outs[0].elem, DataType::Float16, "{op}");
            assert_eq!(outs[0].dims, [2, 3, 4], "{op}");
        }
        // Every output gets the type; no output still gives one.
        assert_eq!(
            env.dims(&node("Identity", &["x"], &["a", "b"], vec![])),
            [[2, 3, 4], [2, 3, 4]]
        );
        assert_eq!(env.dims(&node("Relu", &["x"], &[], vec![])), [[2, 3, 4]]);
    }

    #[test]
    fn unary_errors_name_the_input() {
        let env = Env::new();
        assert_eq!(env.err(&node1("Relu", &[], vec![])), "missing input 0");
        assert_eq!(env.err(&node1("Relu", &[""], vec![])), "missing input 0");
        assert_eq!(
            env.err(&node1("Relu", &["ghost"], vec![])),
            "input 'ghost' has no known type"
        );
    }

    #[test]
    fn arithmetic_broadcasts_all_inputs() {
        let env = Env::new()
            .ty("a", DataType::Int64, &[2, 1, 4])
            .f32("b", &[3, 1])
            .f32("c", &[4]);
        for op in ["Add", "Sub", "Mul", "Div", "Pow", "Mod", "BitShift"] {
            let outs = env.infer(&node1(op, &["a", "b"], vec![])).unwrap();
            assert_eq!(outs[0].dims, [2, 3, 4], "{op}");
            assert_eq!(outs[0].elem, DataType::Int64, "{op}: input 0's type");
        }
        for op in ["Max", "Min", "Sum", "Mean"] {
            assert_eq!(env.dims(&node1(op, &["b", "a", "c"], vec![])), [[2, 3, 4]]);
            assert_eq!(env.dims(&node1(op, &["c"], vec![])), [[4]], "{op} of one");
        }
    }

    #[test]
    fn arithmetic_errors() {
        let env = Env::new().f32("a", &[2, 3]).f32("b", &[4, 3]);
        assert!(
            env.err(&node1("Add", &["a", "b"], vec![]))
                .contains("cannot broadcast [2, 3] with [4, 3]")
        );
        assert_eq!(
            env.err(&node1("Add", &["a", ""], vec![])),
            "missing input 1"
        );
    }

    #[test]
    fn comparisons_and_logic_are_bool() {
        let env = Env::new().f32("a", &[5, 1]).f32("b", &[1, 6]);
        for op in [
            "Equal",
            "Less",
            "Greater",
            "LessOrEqual",
            "GreaterOrEqual",
            "And",
            "Or",
            "Xor",
        ] {
            let outs = env.infer(&node1(op, &["a", "b"], vec![])).unwrap();
            assert_eq!(outs[0].elem, DataType::Bool, "{op}");
            assert_eq!(outs[0].dims, [5, 6], "{op}");
        }
        assert_eq!(env.err(&node1("Less", &["a"], vec![])), "missing input 1");
    }

    #[test]
    fn where_takes_the_values_type() {
        let env = Env::new()
            .ty("c", DataType::Bool, &[4, 1])
            .ty("x", DataType::Int32, &[1, 3])
            .f32("y", &[2, 1, 1]);
        let outs = env
            .infer(&node1("Where", &["c", "x", "y"], vec![]))
            .unwrap();
        assert_eq!(outs[0].elem, DataType::Int32);
        assert_eq!(outs[0].dims, [2, 4, 3]);
        assert_eq!(
            env.err(&node1("Where", &["c", "x"], vec![])),
            "missing input 2"
        );
        let env = env.f32("z", &[5]);
        assert!(
            env.err(&node1("Where", &["c", "x", "z"], vec![]))
                .contains("cannot broadcast")
        );
    }
}

//! Model inputs for checks and profiling.

use loadpart_engine::Tensor;
use loadpart_graph::onnx::DataType;
use loadpart_graph::{OnnxModel, Shapes};
use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::ExecError;

pub use loadpart_runtime::{NamedTensors, views};

/// Seeded uniform [0, 1) values for every model input at `batch` (integers inputs get zeros).
pub fn random_inputs(
    model: &OnnxModel,
    batch: usize,
    seed: u64,
) -> Result<NamedTensors, ExecError> {
    let shapes = Shapes::infer(model, batch)?;
    let mut rng = StdRng::seed_from_u64(seed);
    model
        .inputs()
        .iter()
        .map(|name| {
            let ty = shapes.try_get(name)?;
            let n = ty.elements();
            let t = match ty.elem {
                DataType::Int64 | DataType::Int32 => Tensor::i64(ty.dims.clone(), vec![0; n])?,
                _ => Tensor::f32(
                    ty.dims.clone(),
                    (0..n).map(|_| rng.random::<f32>()).collect(),
                )?,
            };
            Ok((name.clone(), t))
        })
        .collect()
}

/// The input the ONNX model zoo used for the light models' reference outputs:
/// `arange(n) / n` in float32, shaped like the (single) model input at batch 1.
pub fn reference_input(model: &OnnxModel) -> Result<NamedTensors, ExecError> {
    let shapes = Shapes::infer(model, 1)?;
    let name = model.inputs().first().ok_or(ExecError::Empty("input"))?;
    let ty = shapes.try_get(name)?;
    let n = ty.elements();
    let data = (0..n).map(|i| i as f32 / n as f32).collect();
    Ok(vec![(name.clone(), Tensor::f32(ty.dims.clone(), data)?)])
}

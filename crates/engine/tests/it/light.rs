//! The nine ONNX model-zoo "light" models against their shipped reference outputs.
//!
//! The reference was produced from the input `arange(n) / n` (f32, in the input's shape). These
//! models fill their weights with constants (ConstantOfShape), so the final output is a uniform
//! softmax whatever the input: this test proves the engine loads and runs every operator of the
//! model end to end, not that the operators compute the right values; `small_net` (hand
//! computation) and `randomized` (engines compared on input-dependent logits) cover that.

use std::fs;

use loadpart_engine::{EngineKind, LoadOptions, TensorRef};
use loadpart_graph::tensor_f32;

use crate::support::{TOL, arange_input, engine, fixed_shape, max_rel_err, models_dir};

pub use loadpart_graph::zoo::LIGHT_MODELS as MODELS;

/// Models an engine cannot run, with the exact reason. An entry is still run and must still
/// fail: the day it passes, the test says to remove it.
pub fn ignored(kind: EngineKind, model: &str) -> Option<&'static str> {
    const IGNORED: &[(EngineKind, &str, &str)] = &[];
    IGNORED
        .iter()
        .find(|(k, m, _)| *k == kind && *m == model)
        .map(|(_, _, reason)| *reason)
}

pub fn model_bytes(model: &str) -> Vec<u8> {
    let path = models_dir().join(format!("light_{model}.onnx"));
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn reference(model: &str) -> (Vec<usize>, Vec<f32>) {
    let path = models_dir().join(format!("light_{model}_output_0.pb"));
    let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    tensor_f32(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Full model on `arange(n)/n`, batch 1: the first output's shape and values.
fn run_full(kind: EngineKind, model: &str) -> Result<(Vec<usize>, Vec<f32>), String> {
    let loaded = engine(kind)
        .load(&model_bytes(model), &LoadOptions::default())
        .map_err(|e| e.to_string())?;
    assert_eq!(loaded.inputs().len(), 1, "{model}: {:?}", loaded.inputs());
    let input = &loaded.inputs()[0];
    let shape = fixed_shape(input);
    let data = arange_input(shape.iter().product());
    let t = TensorRef::f32(&shape, &data).map_err(|e| e.to_string())?;
    let out = loaded
        .run(&[(input.name.as_str(), t)])
        .map_err(|e| e.to_string())?;
    let (_, first) = out.outputs.into_iter().next().ok_or("no outputs")?;
    let shape = first.shape.clone();
    Ok((shape, first.into_f32().ok_or("output is not f32")?))
}

pub fn check(kind: EngineKind, model: &str) {
    let result = run_full(kind, model);
    match (ignored(kind, model), result) {
        (None, Ok((shape, got))) => {
            let (want_shape, want) = reference(model);
            assert_eq!(shape, want_shape, "{kind} {model}: output shape");
            let err = max_rel_err(&got, &want);
            println!("RESULT {kind} {model}: max_rel_err {err:.3e}");
            assert!(err <= TOL, "{kind} {model}: max_rel_err {err:e} > {TOL:e}");
        }
        (None, Err(e)) => panic!("{kind} {model} failed: {e}"),
        (Some(reason), Err(e)) => {
            println!("RESULT {kind} {model}: expected failure ({reason}): {e}")
        }
        (Some(reason), Ok(_)) => {
            panic!("{model} is on the {kind} ignore list ({reason}) but runs now: remove it")
        }
    }
}

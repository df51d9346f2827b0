//! Both engines on the light models with their constant weights replaced by deterministic
//! random values, compared on the logits before the final Softmax.
//!
//! The shipped references are uniform softmaxes (constant weights), so matching them shows
//! only that a model runs. Here the weights vary, so the logits depend on the input and on every
//! node, and ort and tract must agree on them. The rewrite is the graph crate's, so these are
//! the weights every other check of the project uses.

use loadpart_engine::{EngineKind, LoadOptions, TensorRef};
use loadpart_graph::{OnnxModel, randomize_weights, strip_final_softmax};

use crate::light::{ignored, model_bytes};
use crate::support::{TOL, arange_input, engine, fixed_shape, max_rel_err};

/// The model with seeded random weights and without its final Softmax, as the whole project
/// prepares models for checking ([`randomize_weights`], [`strip_final_softmax`]): its bytes and
/// the output to compare (the logits).
fn randomize(bytes: &[u8], seed: u64) -> (Vec<u8>, String) {
    let model = OnnxModel::from_bytes(bytes).expect("light model loads");
    let model = strip_final_softmax(&randomize_weights(&model, seed).expect("randomizes"))
        .expect("strips the Softmax");
    let logits = model.outputs()[0].clone();
    (model.to_bytes(), logits)
}

fn logits(kind: EngineKind, bytes: &[u8], name: &str) -> Vec<f32> {
    let model = engine(kind)
        .load(bytes, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
    let input = model.inputs()[0].clone();
    let shape = fixed_shape(&input);
    let data = arange_input(shape.iter().product());
    let out = model
        .run(&[(input.name.as_str(), TensorRef::f32(&shape, &data).unwrap())])
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
    let t = out
        .get(name)
        .unwrap_or_else(|| panic!("{kind}: no output {name}"));
    t.as_f32().unwrap().to_vec()
}

pub fn check(model: &str) {
    for kind in EngineKind::ALL {
        if let Some(reason) = ignored(kind, model) {
            println!("RESULT randomized {model}: not compared, {kind} cannot run it ({reason})");
            return;
        }
    }
    let (bytes, name) = randomize(&model_bytes(model), 1234);
    let ort = logits(EngineKind::Ort, &bytes, &name);
    let tract = logits(EngineKind::Tract, &bytes, &name);
    let (lo, hi) = ort
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    let scale = lo.abs().max(hi.abs());
    assert!(
        hi - lo > 1e-3 * scale && scale.is_finite(),
        "{model}: logits in [{lo}, {hi}] do not depend enough on the weights"
    );
    let (other_weights, _) = randomize(&model_bytes(model), 4321);
    let other = logits(EngineKind::Ort, &other_weights, &name);
    let teeth = max_rel_err(&other, &ort);
    assert!(
        teeth > 100.0 * TOL,
        "{model}: other weights change logits by only {teeth:e}"
    );
    let err = max_rel_err(&tract, &ort);
    println!(
        "RESULT randomized {model}: tract vs ort max_rel_err {err:.3e} on {name:?} in \
         [{lo:.3e}, {hi:.3e}]; other weights differ by {teeth:.3e}"
    );
    assert!(
        err <= TOL,
        "{model}: tract vs ort logits max_rel_err {err:e}"
    );
}

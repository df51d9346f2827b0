//! Models as the checks run them (the MODEL argument itself is `loadpart_graph::load_model`'s).

use anyhow::Result;
use loadpart_graph::{OnnxModel, Prepared, randomize_for_checks};

/// Prepares `model` for a check: with seeded random weights and no final Softmax (see
/// [`randomize_for_checks`]) unless `keep_weights`.
pub fn prepare_for_checks(model: &OnnxModel, keep_weights: bool, seed: u64) -> Result<Prepared> {
    let model = if keep_weights {
        model.clone()
    } else {
        randomize_for_checks(model, seed)?
    };
    Ok(Prepared::new(&model)?)
}

//! Resolving a MODEL argument: a file, a generated model, or an installed light model.

use std::path::Path;

use anyhow::{Context, Result};
use loadpart_graph::{OnnxModel, Prepared, randomize_for_checks, zoo};

/// Loads the model named by `spec` (see `loadpart --help`).
pub fn load_model(spec: &str) -> Result<OnnxModel> {
    if let Some(name) = spec.strip_prefix("zoo:") {
        return Ok(zoo::generate(name)?);
    }
    let path = if Path::new(spec).exists() {
        Path::new(spec).to_path_buf()
    } else {
        zoo::light_model_path(spec).with_context(|| {
            format!(
                "no model '{spec}': not a file, not zoo:NAME ({}), and not an installed light model",
                zoo::MODELS.join(", ")
            )
        })?
    };
    OnnxModel::load(&path).with_context(|| format!("loading {}", path.display()))
}

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

//! Resolving a MODEL argument: a file, a generated model, or an installed light model.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use loadpart_graph::{OnnxModel, zoo};

/// Loads the model named by `spec` (see `loadpart --help`).
pub fn load_model(spec: &str) -> Result<OnnxModel> {
    if let Some(name) = spec.strip_prefix("zoo:") {
        return Ok(zoo::generate(name)?);
    }
    let path = resolve_path(spec)?;
    OnnxModel::load(&path).with_context(|| format!("loading {}", path.display()))
}

fn resolve_path(spec: &str) -> Result<PathBuf> {
    let p = Path::new(spec);
    if p.exists() {
        return Ok(p.to_path_buf());
    }
    let dir = models_dir();
    for candidate in [
        format!("light_{spec}.onnx"),
        format!("light_bvlc_{spec}.onnx"),
        format!("{spec}.onnx"),
    ] {
        let c = dir.join(candidate);
        if c.exists() {
            return Ok(c);
        }
    }
    bail!(
        "no model '{spec}': not a file, not zoo:NAME ({}), and not a light model in {} (run scripts/setup.sh to install them)",
        zoo::MODELS.join(", "),
        dir.display()
    )
}

/// Where scripts/setup.sh puts the light models.
pub fn models_dir() -> PathBuf {
    zoo::light_models_dir()
}

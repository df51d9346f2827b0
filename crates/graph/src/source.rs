//! Models named the way every command and config file names them (a MODEL argument): a path to
//! an `.onnx` file, `zoo:NAME` for a generated model, or the name of an installed model-zoo light
//! model. One loader, so that a device and a server given the same name load the same model.

use std::path::Path;

use crate::{GraphError, OnnxModel, zoo};

/// Loads the model `spec` names: `zoo:NAME`, else an existing file, else a light model.
pub fn load_model(spec: &str) -> Result<OnnxModel, GraphError> {
    if let Some(name) = spec.strip_prefix("zoo:") {
        return zoo::generate(name);
    }
    if Path::new(spec).exists() {
        return OnnxModel::load(spec);
    }
    zoo::load_light(spec).map_err(|e| match e {
        GraphError::LightModel { reason, .. } => GraphError::NoSuchModel {
            spec: spec.to_string(),
            reason,
        },
        other => other,
    })
}

/// The name a server gives the model `spec` names, and devices call it by: `resnet50.onnx` ->
/// `resnet50`; `zoo:inception` -> `inception`; a light model's name stays itself.
pub fn model_name(spec: &str) -> String {
    let s = spec.strip_prefix("zoo:").unwrap_or(spec);
    Path::new(s)
        .file_stem()
        .map(|x| x.to_string_lossy().into_owned())
        .unwrap_or_else(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_errors() {
        assert_eq!(model_name("dir/resnet50.onnx"), "resnet50");
        assert_eq!(model_name("zoo:inception"), "inception");
        assert_eq!(model_name("squeezenet"), "squeezenet");
        assert!(load_model("zoo:chain").is_ok());
        let e = load_model("surely-not-a-model").unwrap_err().to_string();
        assert!(e.contains("no model 'surely-not-a-model'"), "{e}");
        assert!(e.contains("zoo:NAME (chain"), "{e}");
        let e = load_model("zoo:nope").unwrap_err().to_string();
        assert!(e.contains("unknown generated model"), "{e}");
    }
}

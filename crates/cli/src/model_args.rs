//! [`ModelArgs`]: the model a command runs, named as everywhere (a path, `zoo:NAME`, or a light
//! model name), and the engine that runs it.

use anyhow::Result;
use loadpart_engine::{Engine, EngineKind, engine_or_tract};
use loadpart_graph::{OnnxModel, load_model};

/// The model and the engine, for the commands that run a model here.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// The model (path, zoo:NAME, or light model name).
    pub model: String,
    /// ort (ONNX Runtime; falls back to tract if its library is missing) or tract.
    #[arg(long, default_value = "ort", env = "LOADPART_ENGINE")]
    pub engine: EngineKind,
}

impl ModelArgs {
    /// The model, loaded.
    pub fn load(&self) -> Result<OnnxModel> {
        Ok(load_model(&self.model)?)
    }

    /// The engine, or tract when ONNX Runtime is asked for and missing (with a warning).
    pub fn engine(&self) -> Result<Box<dyn Engine>> {
        Ok(engine_or_tract(self.engine)?)
    }
}

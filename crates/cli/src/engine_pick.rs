//! Choosing an engine, falling back from ONNX Runtime to tract when its library is missing.

use anyhow::Result;
use loadpart_engine::{Engine, EngineKind, engine};

/// The requested engine, or tract with a warning when ONNX Runtime cannot be loaded.
pub fn pick(kind: EngineKind) -> Result<Box<dyn Engine>> {
    match engine(kind) {
        Ok(e) => Ok(e),
        Err(err) if kind == EngineKind::Ort => {
            tracing::warn!("ONNX Runtime unavailable, falling back to tract: {err}");
            eprintln!("warning: ONNX Runtime unavailable ({err}); using tract");
            Ok(engine(EngineKind::Tract)?)
        }
        Err(err) => Err(err.into()),
    }
}

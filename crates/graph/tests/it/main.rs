//! Integration tests of loadpart-graph: one binary, one module per concern.
mod bad_input;
mod batch;
mod cuts;
mod extract;
mod light;
mod proto_bootstrap;

/// Directory of the model-zoo light models installed by `scripts/setup.sh`.
pub fn light_dir() -> std::path::PathBuf {
    let dir = std::env::var_os("LOADPART_MODELS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.loadpart/models/light")
        });
    assert!(
        dir.join("light_resnet50.onnx").exists(),
        "light models missing in {}: run scripts/setup.sh",
        dir.display()
    );
    dir
}

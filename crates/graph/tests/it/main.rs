//! Integration tests of loadpart-graph: one binary, one module per concern.
mod bad_input;
mod batch;
mod cuts;
mod extract;
mod light;
mod proto_bootstrap;

/// Directory of the model-zoo light models installed by `scripts/setup.sh`.
pub fn light_dir() -> std::path::PathBuf {
    let dir = loadpart_graph::zoo::light_models_dir();
    assert!(
        dir.join("light_resnet50.onnx").exists(),
        "light models missing in {}: run scripts/setup.sh",
        dir.display()
    );
    dir
}

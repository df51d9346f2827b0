//! The ONNX protobuf code is generated once and committed, so normal builds need no protoc.
//! This test regenerates it with a vendored protoc and fails on any difference.
//! To update after changing `proto/onnx.proto`: `LOADPART_BLESS=1 cargo test -p loadpart-graph proto`.

use std::path::PathBuf;

#[test]
fn generated_onnx_code_is_up_to_date() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = tempdir();
    // SAFETY-free: setting PROTOC for the prost-build call in this test process only.
    let protoc = protoc_bin_vendored::protoc_bin_path().expect("vendored protoc");
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc);
    config.out_dir(&out);
    config
        .compile_protos(
            &[crate_dir.join("proto/onnx.proto")],
            &[crate_dir.join("proto")],
        )
        .expect("protoc compiles onnx.proto");
    let fresh = std::fs::read_to_string(out.join("onnx.rs")).expect("generated onnx.rs");
    let committed_path = crate_dir.join("src/onnx_pb.rs");
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    if std::env::var_os("LOADPART_BLESS").is_some() {
        std::fs::write(&committed_path, &fresh).expect("write generated code");
        return;
    }
    assert!(
        committed == fresh,
        "src/onnx_pb.rs is stale: rerun with LOADPART_BLESS=1 to regenerate it"
    );
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loadpart-proto-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

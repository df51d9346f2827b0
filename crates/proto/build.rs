//! Generates the prost messages and tonic clients/servers of `proto/*.proto` into OUT_DIR, with
//! the vendored protoc (no system protoc needed), and writes their FileDescriptorSet next to them.

use std::path::PathBuf;

const PROTOS: [&str; 2] = ["proto/inference.proto", "proto/loadpart.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for p in PROTOS {
        println!("cargo:rerun-if-changed={p}");
    }
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR not set")?);
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    // Tensor bytes as `Bytes`: decoding slices them out of the received buffer instead of
    // copying each (a 224x224 image is 600 KB), and senders hand over their buffers.
    config.bytes([
        ".inference.ModelInferRequest.raw_input_contents",
        ".inference.ModelInferResponse.raw_output_contents",
    ]);
    tonic_prost_build::configure()
        // `connect` helpers would need tonic's "channel" feature; callers build a Channel.
        .build_transport(false)
        .file_descriptor_set_path(out_dir.join("loadpart_proto_descriptor.bin"))
        .compile_with_config(config, &PROTOS, &["proto"])?;
    Ok(())
}

//! Compiles proto/rapport/v1 with protox (pure Rust, no protoc on the machine), then generates
//! the prost types, the tonic services, proto3-JSON serde impls (pbjson) and the descriptor set
//! that server reflection serves.
use prost::Message;
use std::{env, fs, path::PathBuf};

const PROTOS: &[&str] = &[
    "rapport/v1/common.proto",
    "rapport/v1/analyzer.proto",
    "rapport/v1/scoring.proto",
    "rapport/v1/live.proto",
    "rapport/v1/profiles.proto",
    "rapport/v1/info.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out = PathBuf::from(env::var("OUT_DIR")?);
    let fds = protox::compile(PROTOS, ["proto"])?;
    let descriptor_path = out.join("rapport_descriptor.bin");
    let bytes = fds.encode_to_vec();
    fs::write(&descriptor_path, &bytes)?;

    // Well-known types come from pbjson_types (they carry the proto3-JSON serde impls); telling
    // prost not to map them to prost_types itself avoids a duplicate `.google.protobuf` extern.
    tonic_prost_build::configure()
        .compile_well_known_types(true)
        .extern_path(".google.protobuf", "::pbjson_types")
        .compile_fds(fds)?;

    pbjson_build::Builder::new()
        .register_descriptors(&bytes)?
        .emit_fields()
        .build(&[".rapport.v1"])?;
    Ok(())
}

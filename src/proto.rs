//! Generated protobuf types (prost), services (tonic) and proto3-JSON serde impls (pbjson).
#![allow(clippy::all, missing_docs)]

pub mod rapport {
    pub mod v1 {
        tonic::include_proto!("rapport.v1");
        include!(concat!(env!("OUT_DIR"), "/rapport.v1.serde.rs"));
    }
}

pub use rapport::v1;

/// Encoded FileDescriptorSet of the public API, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/rapport_descriptor.bin"));

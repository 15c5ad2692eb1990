//! The Arca gRPC API (`arca.v1`) and the helpers every client uses to reach a daemon.
#![forbid(unsafe_code)]

mod endpoint;

pub use endpoint::{ConnectError, DEFAULT_SOCKET, DaemonEndpoint, TlsClientFiles};

/// Generated protobuf and gRPC code for package `arca.v1`.
pub mod v1 {
    #![allow(missing_debug_implementations, clippy::all, clippy::pedantic)]
    tonic::include_proto!("arca.v1");
}

/// The encoded `FileDescriptorSet` of `arca.v1`, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/arca_descriptor.bin"));

/// Metadata key carrying the request id of a call.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

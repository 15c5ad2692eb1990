//! The Arca gRPC API (`arca.v1`) and the helpers every client uses to reach a daemon.
#![forbid(unsafe_code)]
// `pub` is for what another crate uses.
#![warn(unreachable_pub)]

pub mod attributes;
pub mod civil;
pub mod codec;
mod daemon_endpoints;
mod endpoint;
pub mod limits;
pub mod principal;
pub mod wire;

pub use daemon_endpoints::{DaemonEndpoints, ENDPOINT_SEPARATOR, ListFault};
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
/// Metadata key naming the PKCS#11 application (`Token.Attach`'s answer) a Token call belongs to.
pub const APPLICATION_HEADER: &str = "x-arca-app";
/// Metadata key in which the daemon puts the `CK_RV` of a failed Token call, as `0x%08X`.
pub const CKR_HEADER: &str = "x-arca-ckr";
/// How long a client waits to connect to a daemon (on one whose listen backlog is full) and,
/// for the PKCS#11 module, for its application to be attached.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The canonical gRPC name of a status code, as in the gRPC specification.
pub fn code_name(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::Ok => "OK",
        tonic::Code::Cancelled => "CANCELLED",
        tonic::Code::Unknown => "UNKNOWN",
        tonic::Code::InvalidArgument => "INVALID_ARGUMENT",
        tonic::Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        tonic::Code::NotFound => "NOT_FOUND",
        tonic::Code::AlreadyExists => "ALREADY_EXISTS",
        tonic::Code::PermissionDenied => "PERMISSION_DENIED",
        tonic::Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        tonic::Code::FailedPrecondition => "FAILED_PRECONDITION",
        tonic::Code::Aborted => "ABORTED",
        tonic::Code::OutOfRange => "OUT_OF_RANGE",
        tonic::Code::Unimplemented => "UNIMPLEMENTED",
        tonic::Code::Internal => "INTERNAL",
        tonic::Code::Unavailable => "UNAVAILABLE",
        tonic::Code::DataLoss => "DATA_LOSS",
        tonic::Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    /// The metadata names are wire protocol: clients built from other versions send these.
    #[test]
    fn metadata_names_are_the_wire_names() {
        assert_eq!(super::REQUEST_ID_HEADER, "x-request-id");
        assert_eq!(super::APPLICATION_HEADER, "x-arca-app");
        assert_eq!(super::CKR_HEADER, "x-arca-ckr");
    }
}

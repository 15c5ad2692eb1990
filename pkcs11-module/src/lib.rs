//! `libarca_pkcs11.so`: the PKCS#11 face of Arca.
//!
//! The module is a pure translator. Every PKCS#11 call becomes one gRPC call to the daemon's
//! `arca.v1.Token` service (`proto/proto/arca/v1/token.proto`); the daemon keeps the sessions,
//! the login state, the operations and every rule. The module's own work is the C ABI (pointer
//! checks, the two-call convention, marshalling of attributes and mechanism parameters) and the
//! connection (one tokio runtime and one multiplexed channel per process, see [`client`] and
//! [`runtime`]).
//!
//! Layout:
//! - [`abi`]: the `extern "C"` functions, one module per chapter of the specification, and the
//!   function lists and interfaces; the only place where `unsafe` is allowed.
//! - [`client`] and [`state`]: the blocking gRPC bridge and the process-wide state; [`runtime`]:
//!   the tokio runtime behind the blocking calls; [`connect`]: opening the channel.
//! - [`marshal`]: attribute values and mechanism parameters to and from their wire form.
//! - [`output`]: the two-call convention for output buffers; [`lengths`]: single-part output
//!   lengths announced at `C_*Init`, so length queries need no round trip.
//! - [`error`]: the one error type and its mapping to `CK_RV`.
//! - [`config`]: where the daemon is (`ARCA_SOCKET`, `ARCA_ENDPOINT`, `ARCA_PKCS11_CONF`).
//!
//! The module never writes to stdout or stderr.
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]
// `pub` is for what another crate uses (the fuzz targets link the rlib).
#![warn(unreachable_pub)]

#[allow(unsafe_code)]
pub mod abi;
pub mod client;
pub mod config;
pub mod connect;
pub mod error;
#[cfg(test)]
mod fake_daemon;
pub mod lengths;
pub mod marshal;
pub mod messages;
pub mod output;
pub mod runtime;
pub mod state;
pub mod wire_client;

// Session and object handles are the daemon's u64 values passed through unchanged, and the wire
// form of a CK_ULONG attribute is 8 bytes: both need a 64-bit CK_ULONG (LP64 Linux).
const _: () = assert!(size_of::<cryptoki_sys::CK_ULONG>() == size_of::<u64>());
const _: () = assert!(size_of::<cryptoki_sys::CK_ULONG>() == size_of::<usize>());

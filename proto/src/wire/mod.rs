//! The Token service's lean wire on the Unix socket: the same `arca.v1` messages as gRPC, in
//! length-delimited frames on a plain stream, one call at a time per connection.
//!
//! The PKCS#11 module uses it to reach a local daemon: a call is one `write` and one `read` on
//! the calling thread, with no HTTP/2 framing, no runtime and no task hand-off on either side
//! (`docs/decisions.md`, "The PKCS#11 module's wire"). gRPC stays the API for every other client
//! and for TCP; the daemon tells the two apart by a connection's first byte (HTTP/2 clients open
//! with `PRI * HTTP/2.0`, this wire with [`PREFACE`]).
//!
//! A connection opens with [`PREFACE`], then the application it serves (`Attach`'s answer, as a
//! gRPC call carries it in `x-arca-app`): a little-endian `u16` length and the id's bytes, empty
//! on the connection that attaches. Then each request is a frame `u32` length (little-endian, of
//! what follows) ‖ method id ‖ the protobuf request, and each answer a frame `u32` length ‖
//! [`ANSWER_OK`] ‖ the protobuf response, or `u32` length ‖ [`ANSWER_STATUS`] ‖ a [`WireStatus`]
//! (the gRPC status, with the metadata the daemon attached: `x-arca-ckr`, the request id).
//!
//! `Attach` answers its first event and then holds the connection: the application lives while
//! it is open, and the daemon closes it when the application ends. Every other method is unary.

mod client;
mod counted;
mod methods;
mod server;

pub use client::{CallError, HeldConnection, WireConnection};
pub use methods::*;
pub use server::{WireHost, WireStream, serve_connection};

use std::marker::PhantomData;

#[cfg(test)]
use prost::Message as _;

/// The first bytes of every connection (never `P`, the first byte of HTTP/2's preface).
pub const PREFACE: &[u8; 12] = b"ARCA-WIRE/1\n";
/// An answer frame carrying the response message.
pub const ANSWER_OK: u8 = 0;
/// An answer frame carrying a [`WireStatus`].
pub const ANSWER_STATUS: u8 = 1;
/// The longest application id a preface may carry.
pub const MAX_APPLICATION_ID_BYTES: usize = 256;
/// Metadata marking a status the wire server made itself (an undecodable or unknown request, one
/// over the cap), as opposed to the service's answer.
pub const WIRE_STATUS_HEADER: &str = "x-arca-wire";
/// The bytes of a frame before its message: the length and the method id or answer kind.
pub const FRAME_HEADER_BYTES: usize = 5;

/// True when a connection's first byte is this wire's and not HTTP/2's.
pub fn opens_wire(first_byte: u8) -> bool {
    first_byte == PREFACE[0]
}

/// One Token method: its id on this wire, its gRPC path, and its message types.
#[derive(Debug)]
pub struct Method<Req, Resp> {
    pub id: u8,
    /// The gRPC path, `/arca.v1.Token/Name`.
    pub path: &'static str,
    types: PhantomData<fn(Req) -> Resp>,
}

impl<Req, Resp> Method<Req, Resp> {
    pub const fn new(id: u8, path: &'static str) -> Self {
        Self { id, path, types: PhantomData }
    }

    /// The method's name, as the last part of its path.
    pub fn name(&self) -> &'static str {
        self.path.rsplit('/').next().unwrap_or(self.path)
    }
}

impl<Req, Resp> Clone for Method<Req, Resp> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Req, Resp> Copy for Method<Req, Resp> {}

/// A failed call's gRPC status on this wire.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WireStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    /// The status's ASCII metadata, as names and values in the same order.
    #[prost(string, repeated, tag = "3")]
    pub metadata_names: Vec<String>,
    #[prost(string, repeated, tag = "4")]
    pub metadata_values: Vec<String>,
}

impl WireStatus {
    pub fn from_status(status: &tonic::Status) -> Self {
        let mut names = Vec::new();
        let mut values = Vec::new();
        for entry in status.metadata().iter() {
            if let tonic::metadata::KeyAndValueRef::Ascii(name, value) = entry
                && let Ok(value) = value.to_str()
            {
                names.push(name.as_str().to_owned());
                values.push(value.to_owned());
            }
        }
        Self {
            code: status.code() as i32,
            message: status.message().to_owned(),
            metadata_names: names,
            metadata_values: values,
        }
    }

    pub fn into_status(self) -> tonic::Status {
        let mut metadata = tonic::metadata::MetadataMap::new();
        for (name, value) in self.metadata_names.iter().zip(&self.metadata_values) {
            if let (Ok(name), Ok(value)) = (
                tonic::metadata::AsciiMetadataKey::from_bytes(name.as_bytes()),
                tonic::metadata::AsciiMetadataValue::try_from(value.as_str()),
            ) {
                metadata.insert(name, value);
            }
        }
        tonic::Status::with_metadata(tonic::Code::from_i32(self.code), self.message, metadata)
    }
}

#[cfg(test)]
mod tests;

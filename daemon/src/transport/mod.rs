//! The connection layer between the listeners and the gRPC services: how many connections, streams
//! and calls the daemon takes on and for how long (settings in `[connections]`), and, on the Unix
//! socket, the `:authority` rewrite that lets grpc-core and grpc-java clients in.

mod activity;
mod admission;
mod authority;
mod connection;
mod frames;
mod gate;
mod settings;

#[cfg(test)]
mod authority_tests;

pub(crate) use activity::CallLimits;
pub(crate) use admission::{Admission, Gate};
pub(crate) use connection::Peer;
pub(crate) use settings::ConnectionSettings;

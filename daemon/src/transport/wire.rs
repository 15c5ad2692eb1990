//! The Unix socket's two protocols: gRPC (HTTP/2) for every client, and the Token service's lean
//! wire (`arca_proto::wire`) for the PKCS#11 module. A connection's first byte tells them apart;
//! both hold their place under the connection cap, keep the idle timeout, and count their calls
//! against the same caps (`CallLimits`). The wire's calls reach the same `TokenApi` as gRPC's,
//! with the same peer in their extensions, so identity, policy, quotas and audit are one.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use arca_proto::wire::{WireHost, opens_wire, serve_connection};
use rustix::net::RecvFlags;
use tokio::io::Interest;
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tonic::transport::server::{Connected, UdsConnectInfo};

use super::CallLimits;
use super::activity::CallSlot;
use super::authority::AuthorityRewrite;
use super::connection::{Connection, Peer};
use super::gate::Slot;
use crate::grpc::TokenApi;

/// An admitted Unix connection whose protocol is not known yet.
#[derive(Debug)]
pub(crate) struct AdmittedUnix {
    pub(super) stream: UnixStream,
    pub(super) slot: Slot,
    pub(super) idle_timeout: Option<Duration>,
    pub(super) max_header_list_size: usize,
}

/// The gRPC side of the Unix socket: connections for tonic's server.
pub(crate) type GrpcUnixConnection = Connection<AuthorityRewrite<UnixStream>>;

/// What serving the wire needs.
#[derive(Debug, Clone)]
pub(crate) struct WireServer {
    pub token: Arc<TokenApi>,
    pub limits: CallLimits,
    pub max_request_bytes: usize,
}

impl AdmittedUnix {
    /// Waits for the client's first byte (at most the idle timeout), then hands the connection
    /// to tonic through `grpc`, or serves the wire on this task until it ends.
    pub(crate) async fn serve(
        self,
        grpc: mpsc::Sender<io::Result<GrpcUnixConnection>>,
        wire: WireServer,
        stopped: impl Future<Output = ()>,
    ) {
        let mut stopped = std::pin::pin!(stopped);
        let waiting = async {
            match self.idle_timeout {
                Some(timeout) => tokio::time::timeout(timeout, first_byte(&self.stream)).await.ok(),
                None => Some(first_byte(&self.stream).await),
            }
        };
        // A client that says nothing does not hold up a stopping server.
        let peeked = tokio::select! {
            biased;
            () = &mut stopped => return,
            peeked = waiting => peeked,
        };
        let Some(Ok(first)) = peeked else { return };
        if opens_wire(first) {
            let connection = Connection::new(self.stream, self.slot, self.idle_timeout);
            let host = WireCalls { limits: wire.limits, peer: connection.connect_info() };
            serve_connection(connection, wire.token, host, wire.max_request_bytes, stopped).await;
        } else {
            let stream = AuthorityRewrite::new(self.stream, self.max_header_list_size);
            let _tonic_stopped = grpc.send(Ok(Connection::new(stream, self.slot, self.idle_timeout))).await;
        }
    }
}

/// The client's first byte, left in the socket for whichever protocol reads it.
async fn first_byte(stream: &UnixStream) -> io::Result<u8> {
    let mut first = [0u8; 1];
    loop {
        stream.readable().await?;
        let peeked = stream.try_io(Interest::READABLE, || {
            rustix::net::recv(stream, &mut first, RecvFlags::PEEK).map_err(io::Error::from)
        });
        match peeked {
            Ok((0, _)) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => return Ok(first[0]),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
    }
}

/// Each wire call's admission: the call caps, and the connection's peer for `caller_of`.
#[derive(Debug)]
struct WireCalls {
    limits: CallLimits,
    peer: Peer<UdsConnectInfo>,
}

impl WireHost for WireCalls {
    type Admitted = CallSlot;

    fn admit(&self, extensions: &mut tonic::Extensions) -> Result<CallSlot, tonic::Status> {
        let slot = self.limits.admit_on(Some(&self.peer.activity))?;
        extensions.insert(self.peer.clone());
        Ok(slot)
    }
}

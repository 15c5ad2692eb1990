//! Who is calling: the peer's uid on the Unix socket, the certificate subject over mutual TLS;
//! and, for the AWS KMS front, the principal of the access key that signed a request
//! ([`sigv4`]).

mod amz_date;
pub(crate) mod sigv4;

use std::fmt;

use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo, UdsConnectInfo};
use x509_cert::der::Decode;

use crate::transport::Peer;

/// The authenticated identity of a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A local process, identified by SO_PEERCRED.
    Unix { uid: u32 },
    /// A TLS client, identified by its verified certificate's subject (RFC 4514 form).
    Certificate { subject: String },
    /// A connection whose identity the transport could not establish.
    Unknown,
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix { uid } => write!(f, "uid:{uid}"),
            Self::Certificate { subject } => write!(f, "cert:{subject}"),
            Self::Unknown => f.write_str("unknown"),
        }
    }
}

impl Caller {
    /// The transport the call came over, as the audit record's source names it.
    pub(crate) fn transport(&self) -> &'static str {
        match self {
            Self::Unix { .. } => "unix",
            Self::Certificate { .. } => "tls",
            Self::Unknown => "unknown",
        }
    }
}

/// Identifies the caller of a request from what the transport recorded (the listeners attach a
/// [`Peer`] around the transport's own connect info).
pub(crate) fn caller_of<T>(request: &tonic::Request<T>) -> Caller {
    let extensions = request.extensions();
    if let Some(peer) = extensions.get::<Peer<UdsConnectInfo>>() {
        return peer.transport.peer_cred.map_or(Caller::Unknown, |cred| Caller::Unix { uid: cred.uid() });
    }
    let tls = extensions.get::<TlsConnectInfo<Peer<TcpConnectInfo>>>();
    let Some(certs) = tls.and_then(TlsConnectInfo::peer_certs) else { return Caller::Unknown };
    let Some(leaf) = certs.first() else { return Caller::Unknown };
    match x509_cert::Certificate::from_der(leaf.as_ref()) {
        Ok(cert) => Caller::Certificate { subject: cert.tbs_certificate().subject().to_string() },
        Err(_) => Caller::Unknown,
    }
}

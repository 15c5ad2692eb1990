//! Opening the channel without tokio's blocking pool, whose threads a module that may not create
//! threads must not start.
//!
//! A Unix socket needs no help (`DaemonEndpoint::connect` dials it directly). For `https://`
//! tonic's own connector resolves the host name with `spawn_blocking`; here the name is resolved
//! on the calling thread instead (an application thread, inside `C_Initialize` or a slot-level
//! call), and tonic adds the same TLS as for any endpoint (`ca_cert`, `client_cert`,
//! `client_key`; the server name is the URL's host).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use arca_proto::{DaemonEndpoint, TlsClientFiles};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tonic::codegen::Service;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity, Uri};

use crate::error::Error;

/// Opens a channel to the daemon; a daemon that cannot be reached is `CKR_DEVICE_REMOVED`.
pub async fn connect(endpoint: &DaemonEndpoint) -> Result<Channel, Error> {
    match endpoint {
        DaemonEndpoint::Unix(_) => endpoint.connect().await.map_err(|_| Error::DeviceRemoved),
        DaemonEndpoint::Tls { url, files } => connect_tls(url, files).await,
    }
}

async fn connect_tls(url: &str, files: &TlsClientFiles) -> Result<Channel, Error> {
    let read = |path: &Path| std::fs::read(path).map_err(|_| Error::DeviceRemoved);
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(&files.ca_cert)?))
        .identity(Identity::from_pem(read(&files.client_cert)?, read(&files.client_key)?));
    let endpoint = Endpoint::from_shared(url.to_owned()).map_err(|_| Error::Configuration)?;
    let endpoint = endpoint.tls_config(tls).map_err(|_| Error::Configuration)?;
    endpoint.connect_with_connector(TcpConnector).await.map_err(|_| Error::DeviceRemoved)
}

/// Dials `host:port` of a URI, resolving the name on the current thread.
#[derive(Debug, Clone, Copy)]
struct TcpConnector;

type Dialing = Pin<Box<dyn Future<Output = io::Result<TokioIo<TcpStream>>> + Send>>;

impl Service<Uri> for TcpConnector {
    type Response = TokioIo<TcpStream>;
    type Error = io::Error;
    type Future = Dialing;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Dialing {
        Box::pin(async move {
            let addresses = resolve(&uri)?;
            let stream = TcpStream::connect(addresses.as_slice()).await?;
            stream.set_nodelay(true)?;
            Ok(TokioIo::new(stream))
        })
    }
}

/// The addresses of a URI's host (an IPv6 literal keeps its brackets) and port (443 by default).
fn resolve(uri: &Uri) -> io::Result<Vec<SocketAddr>> {
    let host = uri.host().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no host"))?;
    let port = uri.port_u16().unwrap_or(443);
    Ok(format!("{host}:{port}").to_socket_addrs()?.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_addresses_resolve_without_a_lookup() {
        let uri = |text: &str| text.parse::<Uri>().unwrap();
        let v4: SocketAddr = "127.0.0.1:7443".parse().unwrap();
        assert_eq!(resolve(&uri("https://127.0.0.1:7443")).unwrap(), [v4]);
        let v6: SocketAddr = "[::1]:443".parse().unwrap();
        assert_eq!(resolve(&uri("https://[::1]")).unwrap(), [v6]);
    }
}

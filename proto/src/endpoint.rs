//! Where a daemon listens and how to open a channel to it.

use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// The production socket path.
pub const DEFAULT_SOCKET: &str = "/run/arca/arca.sock";

/// The PEM files a TLS client presents and trusts.
#[derive(Debug, Clone)]
pub struct TlsClientFiles {
    pub ca_cert: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

/// A daemon address: a Unix socket path or an `https://host:port` URL with mutual TLS.
#[derive(Debug, Clone)]
pub enum DaemonEndpoint {
    Unix(PathBuf),
    Tls { url: String, files: TlsClientFiles },
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to {endpoint}: {source}")]
    Transport {
        endpoint: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid endpoint {0:?}: expected a socket path or an https:// URL")]
    InvalidEndpoint(String),
    #[error("invalid endpoint list {list:?}: {fault}")]
    InvalidEndpointList { list: String, fault: crate::daemon_endpoints::ListFault },
}

impl DaemonEndpoint {
    /// Parses a socket path, `unix:PATH`, or `https://host:port` (which needs `tls`).
    pub fn parse(text: &str, tls: Option<TlsClientFiles>) -> Result<Self, ConnectError> {
        if let Some(path) = text.strip_prefix("unix:") {
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        if text.starts_with("https://") {
            let files = tls.ok_or_else(|| ConnectError::InvalidEndpoint(text.to_owned()))?;
            return Ok(Self::Tls { url: text.to_owned(), files });
        }
        if text.contains("://") || text.is_empty() {
            return Err(ConnectError::InvalidEndpoint(text.to_owned()));
        }
        Ok(Self::Unix(PathBuf::from(text)))
    }

    /// Opens a channel; the connection is made now, so a missing daemon is reported here.
    pub async fn connect(&self) -> Result<Channel, ConnectError> {
        match self {
            Self::Unix(path) => connect_unix(path).await,
            Self::Tls { url, files } => connect_tls(url, files).await,
        }
    }
}

impl std::fmt::Display for DaemonEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
            Self::Tls { url, .. } => f.write_str(url),
        }
    }
}

async fn connect_unix(path: &Path) -> Result<Channel, ConnectError> {
    let socket = path.to_path_buf();
    // The URI is required by the HTTP/2 layer but never resolved: the connector dials the socket.
    let endpoint = Endpoint::from_static("http://arcad.local");
    endpoint
        .connect_with_connector(tower::service_fn(move |_| {
            let socket = socket.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(socket).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        }))
        .await
        .map_err(|source| ConnectError::Transport { endpoint: format!("unix:{}", path.display()), source })
}

async fn connect_tls(url: &str, files: &TlsClientFiles) -> Result<Channel, ConnectError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| ConnectError::ReadFile { path: path.to_path_buf(), source })
    };
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(&files.ca_cert)?))
        .identity(Identity::from_pem(read(&files.client_cert)?, read(&files.client_key)?));
    let transport = |source| ConnectError::Transport { endpoint: url.to_owned(), source };
    Endpoint::from_shared(url.to_owned())
        .map_err(transport)?
        .tls_config(tls)
        .map_err(transport)?
        .connect()
        .await
        .map_err(transport)
}

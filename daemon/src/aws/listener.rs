//! The AWS front's listener: HTTP/1.1 (what the AWS SDKs speak to KMS) over TLS with the `[tls]`
//! certificate, or plain on loopback for `--dev`. Connections are admitted under the same cap and
//! idle timeout as the gRPC listeners; a TLS handshake and a request's headers each have a
//! deadline, so a client that opens connections and sends nothing holds nothing for long.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_stream::StreamExt;

use super::AwsFront;
use crate::error::{Error, Result};
use crate::transport::Admission;

/// How long a client gets to finish its TLS handshake, and to send a request's headers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// hyper's smallest read buffer: `[connections] max_header_list_size` below it is raised to it.
const MIN_HEADER_BUFFER: usize = 8192;

/// The certificate and key the HTTPS listener presents (`[tls]`'s), and the CA that client
/// certificates may chain to (the external key store's mutual TLS), if any.
#[derive(Debug, Clone)]
pub(crate) struct TlsFiles {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    pub(crate) client_ca: Option<PathBuf>,
}

/// A client certificate is asked for but not required (AWS front callers present none); one
/// that does not chain to `ca` ends the handshake.
fn client_verifier(
    ca: &Path,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|error| Error::Config(format!("cannot read {}: {error}", ca.display())))?;
    for cert in certs {
        roots.add(cert).map_err(|error| Error::Config(format!("{}: {error}", ca.display())))?;
    }
    rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .allow_unauthenticated()
        .build()
        .map_err(|error| Error::Config(format!("xks.client_ca: {error}")))
}

/// The subject (RFC 4514 form) of the client certificate a TLS connection presented.
fn client_subject(connection: &rustls::ServerConnection) -> Option<String> {
    use x509_cert::der::Decode;
    let leaf = connection.peer_certificates()?.first()?;
    let cert = x509_cert::Certificate::from_der(leaf.as_ref()).ok()?;
    Some(cert.tbs_certificate().subject().to_string())
}

fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor> {
    let read_error = |path: &Path| {
        let path = path.display().to_string();
        move |error: rustls_pki_types::pem::Error| Error::Config(format!("cannot read {path}: {error}"))
    };
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(read_error(&files.cert))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(read_error(&files.cert))?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(read_error(&files.key))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| Error::Config(format!("TLS for the AWS front: {error}")))?;
    let builder = match &files.client_ca {
        Some(ca) => builder.with_client_cert_verifier(client_verifier(ca, provider)?),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|error| Error::Config(format!("invalid [tls] certificate for the AWS front: {error}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves the AWS front on `listener` until `shutdown` turns true; `tls` is `None` for plain
/// HTTP. At shutdown, requests in flight are answered and connections then closed.
pub(crate) fn serve(
    front: Arc<AwsFront>,
    listener: TcpListener,
    tls: Option<&TlsFiles>,
    admission: Admission,
    shutdown: watch::Receiver<bool>,
) -> Result<JoinHandle<()>> {
    let acceptor = tls.map(acceptor).transpose()?;
    // Request line and headers together, bounded like the gRPC listeners' header lists.
    let header_bytes = admission.max_header_list_size.max(MIN_HEADER_BUFFER);
    Ok(tokio::spawn(async move {
        let mut incoming = std::pin::pin!(admission.incoming_tcp(listener));
        let mut stopped = std::pin::pin!(stopping(shutdown.clone()));
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let connection = tokio::select! {
                _ = &mut stopped => break,
                next = incoming.next() => match next {
                    Some(Ok(connection)) => connection,
                    Some(Err(_)) => continue,
                    None => break,
                },
            };
            let (front, acceptor, shutdown) = (Arc::clone(&front), acceptor.clone(), shutdown.clone());
            connections.spawn(async move {
                match acceptor {
                    Some(acceptor) => {
                        let handshake =
                            tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(connection)).await;
                        if let Ok(Ok(stream)) = handshake {
                            let subject = client_subject(stream.get_ref().1);
                            serve_connection(front, stream, "https", subject, header_bytes, shutdown).await;
                        }
                    }
                    None => serve_connection(front, connection, "http", None, header_bytes, shutdown).await,
                }
            });
            while connections.try_join_next().is_some() {}
        }
        while connections.join_next().await.is_some() {}
    }))
}

async fn stopping(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn serve_connection<S>(
    front: Arc<AwsFront>,
    stream: S,
    transport: &'static str,
    client_subject: Option<String>,
    header_bytes: usize,
    shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let (front, subject) = (Arc::clone(&front), client_subject.clone());
        async move { Ok::<_, std::convert::Infallible>(front.handle(request, transport, subject).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(header_bytes)
        .serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let served = tokio::select! {
        served = connection.as_mut() => served,
        () = stopping(shutdown) => {
            // The request in flight is answered; the connection then closes.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = served {
        tracing::debug!(%error, "an AWS protocol connection ended with an error");
    }
}

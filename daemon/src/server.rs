//! Startup and the listeners: the Unix socket always, TCP with mutual TLS when configured.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use arca_proto::v1::admin_server::AdminServer;
use arca_proto::v1::key_management_server::KeyManagementServer;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::service::Routes;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use crate::config::{Settings, TlsSettings};
use crate::error::{Error, Result};
use crate::grpc::{AdminApi, KmsApi};
use crate::secure_mem;
use crate::service::KmsService;
use crate::store::{RedbBackend, SealMode};

/// Hardens the process, opens the store and serves until SIGTERM or SIGINT.
pub async fn run(settings: Settings) -> Result<()> {
    secure_mem::harden_process()?;
    secure_mem::init(settings.lock_policy)?;
    prepare_data_dir(&settings)?;
    let backend = RedbBackend::open(&settings.store_path())?;
    let service =
        Arc::new(KmsService::open(Arc::new(backend), settings.seal.clone(), settings.service.clone()).await?);
    let status = service.status()?;
    tracing::info!(sealed = status.sealed, keys = status.key_count, "store opened");

    let uds = serve_unix(routes(&service, &settings), &settings.socket).await?;
    let tls = match &settings.tls {
        Some(tls) => Some(serve_tls(routes(&service, &settings), tls)?),
        None => None,
    };
    shutdown_signal().await;
    tracing::info!("shutting down");
    uds.abort();
    if let Some(tls) = tls {
        tls.abort();
    }
    let _ = std::fs::remove_file(&settings.socket);
    Ok(())
}

/// The same services on every listener.
fn routes(service: &Arc<KmsService>, settings: &Settings) -> Routes {
    let limit = settings.max_request_bytes;
    Routes::new(KeyManagementServer::new(KmsApi::new(Arc::clone(service))).max_decoding_message_size(limit))
        .add_service(AdminServer::new(AdminApi::new(Arc::clone(service))).max_decoding_message_size(limit))
}

fn prepare_data_dir(settings: &Settings) -> Result<()> {
    let dir = &settings.data_dir;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(Error::io(format!("cannot create data directory {}", dir.display())))?;
    if let (true, SealMode::KeyFile(path)) = (settings.create_key_file, &settings.seal.mode)
        && !path.exists()
    {
        crate::store::create_key_file(path)?;
        tracing::info!(path = %path.display(), "created a new master key file");
    }
    Ok(())
}

async fn serve_unix(routes: Routes, socket: &Path) -> Result<tokio::task::JoinHandle<()>> {
    if let Some(parent) = socket.parent() {
        std::fs::create_dir_all(parent).map_err(Error::io(format!("cannot create {}", parent.display())))?;
    }
    if socket.exists() {
        if tokio::net::UnixStream::connect(socket).await.is_ok() {
            return Err(Error::Config(format!("another daemon is listening on {}", socket.display())));
        }
        std::fs::remove_file(socket)
            .map_err(Error::io(format!("cannot remove stale socket {}", socket.display())))?;
    }
    let listener = tokio::net::UnixListener::bind(socket)
        .map_err(Error::io(format!("cannot bind {}", socket.display())))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o660))
        .map_err(Error::io(format!("cannot set permissions on {}", socket.display())))?;
    announce(&format!("unix:{}", socket.display()));
    let incoming = UnixListenerStream::new(listener);
    Ok(tokio::spawn(async move {
        if let Err(error) = Server::builder().add_routes(routes).serve_with_incoming(incoming).await {
            tracing::error!(%error, "the Unix socket listener stopped");
        }
    }))
}

fn serve_tls(routes: Routes, tls: &TlsSettings) -> Result<tokio::task::JoinHandle<()>> {
    let read =
        |path: &Path| std::fs::read(path).map_err(Error::io(format!("cannot read {}", path.display())));
    let config = ServerTlsConfig::new()
        .identity(Identity::from_pem(read(&tls.cert)?, read(&tls.key)?))
        .client_ca_root(Certificate::from_pem(read(&tls.client_ca)?));
    let listen = tls.listen;
    let std_listener =
        std::net::TcpListener::bind(listen).map_err(Error::io(format!("cannot bind {listen}")))?;
    std_listener.set_nonblocking(true).map_err(Error::io("cannot configure the TCP listener"))?;
    let local = std_listener.local_addr().map_err(Error::io("cannot read the TCP address"))?;
    let listener = tokio::net::TcpListener::from_std(std_listener)
        .map_err(Error::io("cannot register the TCP listener"))?;
    let mut server = Server::builder()
        .tls_config(config)
        .map_err(|e| Error::Config(format!("invalid TLS settings: {e}")))?;
    announce(&format!("https://{local}"));
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    Ok(tokio::spawn(async move {
        if let Err(error) = server.add_routes(routes).serve_with_incoming(incoming).await {
            tracing::error!(%error, "the TLS listener stopped");
        }
    }))
}

/// Tells whoever started the daemon where it listens (tests and scripts wait for this line).
fn announce(address: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "arcad listening on {address}");
    let _ = stdout.flush();
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else { return std::future::pending().await };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

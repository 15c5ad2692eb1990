//! Startup and the listeners: the Unix socket always, TCP with mutual TLS and the Prometheus
//! endpoint when configured. Shutdown on SIGTERM/SIGINT is graceful: listeners stop accepting,
//! in-flight calls finish (every acknowledged effect is already durable), then the process exits.

use std::future::Future;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arca_proto::v1::admin_server::AdminServer;
use arca_proto::v1::key_management_server::KeyManagementServer;
use arca_proto::v1::token_server::TokenServer;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt as _;
use tonic::service::Routes;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic_health::server::HealthReporter;
use tower::layer::util::{Identity as NoLayer, Stack};

use crate::audit::AuditLog;
use crate::aws::{AwsFront, TlsFiles};
use crate::config::{AwsSettings, AwsTransport, Settings, TlsSettings};
use crate::error::{Error, Result};
use crate::grpc::{AdminApi, KmsApi, TokenApi};
use crate::metrics::{Gauges, Metrics};
use crate::notify::{notify, status_line};
use crate::secure_mem;
use crate::service::{DEV_CREDENTIALS_FILE, Keystore, Services};
use crate::store::{PostgresBackend, RedbBackend, SealMode, StoreBackend, StoreSettings};
use crate::transport::{Admission, CallLimits, ConnectionSettings, Gate, WireServer};
use crate::xks::XksFront;

/// How long in-flight calls get to finish after SIGTERM.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
const KMS_SERVICE_NAME: &str = "arca.v1.KeyManagement";
/// Streams a client may reset before the server has accepted them, and streams the server may
/// reset for protocol errors, before the connection is ended (the HTTP/2 "rapid reset" defences;
/// left unbounded by default in the gRPC server).
const MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;
const MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;

/// Everything a listener needs, cloned per listener.
#[derive(Clone)]
struct Shared {
    services: Arc<Services>,
    metrics: Arc<Metrics>,
    health: tonic_health::pb::health_server::HealthServer<tonic_health::server::HealthService>,
    max_request_bytes: usize,
    connections: ConnectionSettings,
    admission: Admission,
    call_limits: CallLimits,
    shutdown: watch::Receiver<bool>,
}

impl Shared {
    fn routes(&self) -> Result<Routes> {
        let limit = self.max_request_bytes;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(arca_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| Error::Config(format!("server reflection: {e}")))?;
        let kms = KmsApi::new(Arc::clone(&self.services), Arc::clone(&self.metrics));
        let admin = AdminApi::new(Arc::clone(&self.services), Arc::clone(&self.metrics));
        let token = self.token_api();
        Ok(Routes::new(KeyManagementServer::new(kms).max_decoding_message_size(limit))
            .add_service(AdminServer::new(admin).max_decoding_message_size(limit))
            .add_service(TokenServer::new(token).max_decoding_message_size(limit))
            .add_service(self.health.clone())
            .add_service(reflection))
    }

    fn token_api(&self) -> TokenApi {
        TokenApi::new(Arc::clone(&self.services), Arc::clone(&self.metrics), self.max_request_bytes)
    }

    /// A gRPC server with the HTTP/2 limits and the call caps of `[connections]`.
    fn server(&self) -> Server<Stack<CallLimits, NoLayer>> {
        let limits = &self.connections;
        Server::builder()
            .max_concurrent_streams(limits.max_concurrent_streams)
            .http2_max_header_list_size(limits.max_header_list_size)
            .http2_keepalive_interval(limits.keepalive_interval())
            .http2_keepalive_timeout(Some(limits.keepalive_timeout()))
            .http2_max_pending_accept_reset_streams(Some(MAX_PENDING_ACCEPT_RESET_STREAMS))
            .http2_max_local_error_reset_streams(Some(MAX_LOCAL_ERROR_RESET_STREAMS))
            .layer(self.call_limits.clone())
    }

    fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut shutdown = self.shutdown.clone();
        async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        }
    }
}

/// Hardens the process, opens the store and serves until SIGTERM or SIGINT.
pub async fn run(settings: Settings) -> Result<()> {
    // Before anything is announced, so a signal sent as soon as we listen is handled, not fatal.
    let signals = Signals::install()?;
    secure_mem::harden_process()?;
    let open_files = secure_mem::raise_open_files_limit()?;
    secure_mem::init(settings.lock_policy)?;
    prepare_data_dir(&settings)?;
    let backend: Arc<dyn StoreBackend> = match &settings.store {
        StoreSettings::Redb | StoreSettings::RedbAt(_) => {
            Arc::new(RedbBackend::open(&settings.store_path())?)
        }
        StoreSettings::Postgres(postgres) => Arc::new(PostgresBackend::open(postgres)?),
    };
    let audit = Arc::new(AuditLog::open(&settings.audit_path(), settings.audit_max_bytes)?);
    let service = Arc::new(
        Keystore::open(backend, Arc::clone(&audit), settings.seal.clone(), settings.service.clone()).await?,
    );
    // Deletions and rotations that fell due while the daemon was down happen before serving.
    service.run_due_work().await?;
    let status = service.status()?;
    tracing::info!(sealed = status.sealed, keys = status.key_count, "store opened");

    let reporter = HealthReporter::new();
    let health = tonic_health::pb::health_server::HealthServer::new(
        tonic_health::server::HealthService::from_health_reporter(reporter.clone()),
    );
    reporter.set_service_status("arca.v1.Admin", tonic_health::ServingStatus::Serving).await;
    reporter.set_service_status(KMS_SERVICE_NAME, serving_status(status.sealed)).await;
    let (stop, shutdown) = watch::channel(false);
    let services = Arc::new(Services::new(Arc::clone(&service))?);
    if settings.create_key_file {
        let (path, principal) = (settings.data_dir.join(DEV_CREDENTIALS_FILE), secure_mem::effective_uid());
        services.access_keys.ensure_dev_credentials(&path, &format!("uid:{principal}")).await?;
    }
    let metrics = Arc::new(Metrics::default());
    let limits = settings.connections.clone();
    let admission = Admission {
        gate: Gate::new(connection_cap(&limits, open_files), limits.admin_reserve, Arc::clone(&metrics)),
        service: Arc::clone(&service),
        idle_timeout: limits.idle_timeout(),
        max_header_list_size: limits.max_header_list_size as usize,
    };
    let shared = Shared {
        services: Arc::clone(&services),
        call_limits: CallLimits::new(
            limits.max_requests,
            limits.max_requests_per_connection,
            Arc::clone(&metrics),
        ),
        metrics,
        health,
        max_request_bytes: settings.max_request_bytes,
        connections: limits,
        admission,
        shutdown,
    };
    let mut listeners = vec![serve_unix(&shared, &settings.socket).await?];
    if let Some(tls) = &settings.tls {
        listeners.push(serve_tls(&shared, tls)?);
    }
    if let Some(aws) = &settings.aws {
        listeners.push(serve_aws(&shared, aws)?);
    }
    if let Some(address) = settings.metrics_listen {
        listeners.push(serve_metrics(&shared, address).await?);
    }
    notify("READY=1");
    let monitor = tokio::spawn(report_seal_state(Arc::clone(&service), reporter, shared.stopped()));
    let scheduler = tokio::spawn(run_due_work_periodically(
        Arc::clone(&service),
        settings.schedule_interval,
        shared.stopped(),
    ));

    signals.wait_for_termination(&settings).await;
    tracing::info!("shutting down: draining in-flight calls");
    notify("STOPPING=1");
    let _ = stop.send(true);
    // PKCS#11 applications hold an Attach stream open; end them so the drain can finish.
    services.token.detach_all();
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        for listener in listeners {
            let _ = listener.await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!("calls still running after {DRAIN_TIMEOUT:?}; exiting anyway");
    }
    monitor.abort();
    scheduler.abort();
    if let Err(error) = audit.sync() {
        tracing::error!(%error, "cannot sync the audit log at shutdown");
    }
    let _ = std::fs::remove_file(&settings.socket);
    Ok(())
}

/// `connections.max_connections`, lowered (with a warning) when the open-files limit could not
/// hold that many connections besides the administrators' reserve and the daemon's own files.
fn connection_cap(limits: &ConnectionSettings, open_files: u64) -> usize {
    let cap = limits.connections_within(open_files);
    if cap < limits.max_connections {
        tracing::warn!(
            open_files,
            configured = limits.max_connections,
            cap,
            "RLIMIT_NOFILE is too low for connections.max_connections; raise LimitNOFILE= (or \
             `ulimit -n`) or lower the setting"
        );
    }
    cap
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

async fn serve_unix(shared: &Shared, socket: &Path) -> Result<JoinHandle<()>> {
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
    let routes = shared.routes()?;
    let stopped = shared.stopped();
    let mut incoming = shared.admission.clone().incoming_unix(listener);
    let mut server = shared.server();
    let wire = WireServer {
        token: Arc::new(shared.token_api()),
        limits: shared.call_limits.clone(),
        max_request_bytes: shared.max_request_bytes,
    };
    // gRPC connections go to tonic through this channel; wire connections are served by the
    // task that told them apart. `wire_served` ends when every wire connection has.
    let (grpc, grpc_incoming) = tokio::sync::mpsc::channel(64);
    let (wire_alive, mut wire_served) = tokio::sync::mpsc::channel::<()>(1);
    let accepting = {
        let shared = shared.clone();
        async move {
            let mut stopped = std::pin::pin!(shared.stopped());
            loop {
                let admitted = tokio::select! {
                    () = &mut stopped => break,
                    admitted = incoming.next() => admitted,
                };
                let Some(Ok(admitted)) = admitted else { break };
                let (grpc, wire, alive) = (grpc.clone(), wire.clone(), wire_alive.clone());
                let stopped = shared.stopped();
                tokio::spawn(async move {
                    admitted.serve(grpc, wire, stopped).await;
                    drop(alive);
                });
            }
        }
    };
    Ok(tokio::spawn(async move {
        let accepting = tokio::spawn(accepting);
        let incoming = tokio_stream::wrappers::ReceiverStream::new(grpc_incoming);
        let served = server.add_routes(routes).serve_with_incoming_shutdown(incoming, stopped);
        if let Err(error) = served.await {
            tracing::error!(%error, "the Unix socket listener stopped");
        }
        let _ = accepting.await;
        let _all_ended = wire_served.recv().await;
    }))
}

fn serve_tls(shared: &Shared, tls: &TlsSettings) -> Result<JoinHandle<()>> {
    let read =
        |path: &Path| std::fs::read(path).map_err(Error::io(format!("cannot read {}", path.display())));
    let config = ServerTlsConfig::new()
        .identity(Identity::from_pem(read(&tls.cert)?, read(&tls.key)?))
        .client_ca_root(Certificate::from_pem(read(&tls.client_ca)?));
    let listener = bind_tcp(tls.listen)?;
    let local = listener.local_addr().map_err(Error::io("cannot read the TCP address"))?;
    let mut server = shared
        .server()
        .tls_config(config)
        .map_err(|e| Error::Config(format!("invalid TLS settings: {e}")))?;
    announce(&format!("https://{local}"));
    let routes = shared.routes()?;
    let stopped = shared.stopped();
    let incoming = shared.admission.clone().incoming_tcp(listener);
    Ok(tokio::spawn(async move {
        if let Err(error) = server.add_routes(routes).serve_with_incoming_shutdown(incoming, stopped).await {
            tracing::error!(%error, "the TLS listener stopped");
        }
    }))
}

/// The AWS KMS front: HTTPS with `[tls]`'s certificate, or plain HTTP on loopback for `--dev`.
fn serve_aws(shared: &Shared, settings: &AwsSettings) -> Result<JoinHandle<()>> {
    let listener = bind_tcp(settings.listen)?;
    let local = listener.local_addr().map_err(Error::io("cannot read the AWS front's address"))?;
    let (services, metrics) = (&shared.services, &shared.metrics);
    let xks = settings.xks.clone().map(|xks| XksFront::new(Arc::clone(services), Arc::clone(metrics), xks));
    let front = Arc::new(AwsFront::new(
        Arc::clone(services),
        Arc::clone(metrics),
        &settings.identity,
        shared.max_request_bytes,
        xks,
    ));
    let client_ca = settings.xks.as_ref().and_then(|xks| xks.client.as_ref()).map(|client| client.ca.clone());
    let (tls, scheme) = match &settings.transport {
        AwsTransport::Https { cert, key } => {
            (Some(TlsFiles { cert: cert.clone(), key: key.clone(), client_ca }), "https")
        }
        AwsTransport::PlainLoopback => (None, "http"),
    };
    let handle =
        crate::aws::serve(front, listener, tls.as_ref(), shared.admission.clone(), shared.shutdown.clone())?;
    announce(&format!("{scheme}://{local} (AWS KMS)"));
    Ok(handle)
}

async fn serve_metrics(shared: &Shared, address: std::net::SocketAddr) -> Result<JoinHandle<()>> {
    let listener = bind_tcp(address)?;
    let local = listener.local_addr().map_err(Error::io("cannot read the metrics address"))?;
    let (service, metrics) = (Arc::clone(&shared.services.keystore), Arc::clone(&shared.metrics));
    let scrape = move || {
        let (service, metrics) = (Arc::clone(&service), Arc::clone(&metrics));
        async move {
            let status = service.status().ok();
            let gauges = Gauges {
                sealed: status.as_ref().is_none_or(|s| s.sealed),
                keys: status.map_or(0, |s| s.key_count),
                locked_bytes: secure_mem::locked_bytes(),
                disk: service.disk_reserve().gauges(),
            };
            ([("content-type", "text/plain; version=0.0.4")], metrics.render(gauges))
        }
    };
    let router = axum::Router::new().route("/metrics", axum::routing::get(scrape));
    announce(&format!("http://{local}/metrics"));
    let stopped = shared.stopped();
    Ok(tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).with_graceful_shutdown(stopped).await {
            tracing::error!(%error, "the metrics listener stopped");
        }
    }))
}

fn bind_tcp(address: std::net::SocketAddr) -> Result<tokio::net::TcpListener> {
    let listener =
        std::net::TcpListener::bind(address).map_err(Error::io(format!("cannot bind {address}")))?;
    listener.set_nonblocking(true).map_err(Error::io("cannot configure a TCP listener"))?;
    tokio::net::TcpListener::from_std(listener).map_err(Error::io("cannot register a TCP listener"))
}

/// Keeps the health service and systemd's STATUS in step with the seal state: KeyManagement is
/// SERVING only while unsealed.
async fn report_seal_state(
    service: Arc<Keystore>,
    reporter: HealthReporter,
    stopped: impl Future<Output = ()>,
) {
    let mut last = None;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            _ = tick.tick() => {}
        }
        let Ok(status) = service.status() else { continue };
        let state = (status.sealed, status.key_count);
        if last == Some(state) {
            continue;
        }
        last = Some(state);
        reporter.set_service_status(KMS_SERVICE_NAME, serving_status(status.sealed)).await;
        notify(&status_line(status.sealed, status.key_count));
    }
    reporter.set_service_status(KMS_SERVICE_NAME, tonic_health::ServingStatus::NotServing).await;
}

/// Runs the scheduled work every `interval` (see `config::DEFAULT_SCHEDULE_INTERVAL`).
async fn run_due_work_periodically(
    service: Arc<Keystore>,
    interval: Duration,
    stopped: impl Future<Output = ()>,
) {
    let mut tick = tokio::time::interval(interval);
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            _ = tick.tick() => {}
        }
        if let Err(error) = service.run_due_work().await {
            tracing::error!(%error, "scheduled rotation or deletion failed; retrying at the next tick");
        }
    }
}

fn serving_status(sealed: bool) -> tonic_health::ServingStatus {
    if sealed { tonic_health::ServingStatus::NotServing } else { tonic_health::ServingStatus::Serving }
}

/// Tells whoever started the daemon where it listens (tests and scripts wait for this line).
fn announce(address: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "arcad listening on {address}");
    let _ = stdout.flush();
}

/// The signals the daemon acts on.
struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind| signal(kind).map_err(Error::io("cannot install a signal handler"));
        Ok(Self {
            terminate: install(SignalKind::terminate())?,
            interrupt: install(SignalKind::interrupt())?,
            hangup: install(SignalKind::hangup())?,
        })
    }

    /// Returns on SIGTERM or SIGINT. SIGHUP re-reads and checks the configuration file; every
    /// setting takes effect at the next start, which the log says.
    async fn wait_for_termination(mut self, settings: &Settings) {
        loop {
            tokio::select! {
                _ = self.terminate.recv() => return,
                _ = self.interrupt.recv() => return,
                _ = self.hangup.recv() => reload(settings),
            }
        }
    }
}

fn reload(settings: &Settings) {
    let Some(path) = &settings.config_file else {
        tracing::info!("SIGHUP: no configuration file to re-read");
        return;
    };
    match Settings::from_file(path) {
        Ok(_) => tracing::info!(
            path = %path.display(),
            "SIGHUP: configuration re-read and valid; changes take effect at the next restart"
        ),
        Err(error) => {
            tracing::error!(%error, "SIGHUP: the configuration file is invalid; keeping the running one")
        }
    }
}

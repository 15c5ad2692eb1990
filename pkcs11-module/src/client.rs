//! The blocking gRPC bridge: one tokio runtime and one multiplexed channel per process.
//!
//! `C_Initialize` builds a [`Module`]: a runtime ([`crate::runtime::Bridge`], driven by the
//! calling threads or by two workers of its own) and, if the daemon answers, a [`Connection`] — a
//! tonic `Channel` (cloned for every call, so all threads share one HTTP/2 connection) and the
//! `Attach` stream that registers this process as one PKCS#11 application. A task reads that
//! stream; when it ends the application is gone (the daemon restarted or dropped us) and the
//! connection is marked so. With a runtime driven by the calling threads the task runs only
//! while some call drives the runtime, so a slot-level call first lets it catch up.
//!
//! Calls come in two reaches. Slot-level calls ([`Reach::Attached`]: slot and token queries,
//! `C_OpenSession`, mechanisms, `C_InitToken`) reconnect and attach afresh when there is no live
//! application (and once more when the connection they took fails underneath them), and report
//! `CKR_TOKEN_NOT_PRESENT` if the daemon cannot be reached. Session-level calls
//! ([`Reach::Existing`]) use the current connection as it is, so after a daemon restart the
//! daemon itself answers `CKR_SESSION_HANDLE_INVALID`, or the call fails with
//! `CKR_DEVICE_REMOVED` when the daemon cannot be reached.
//!
//! With several nodes (`ARCA_ENDPOINT=unix:/a,unix:/b`, see `crate::config`) the application
//! lives on one node at a time. Attaching afresh after a connection died starts at the node
//! after the dead one and tries each node once, in order, wrapping round; a node that cannot be
//! reached (refused, broken, `UNAVAILABLE`, silent past the connect timeout) passes the turn to
//! the next, and the node that answers is kept until it fails in turn. This is the restarted
//! daemon's path: the sessions of the old node are gone with its application, its handles
//! answer `CKR_DEVICE_REMOVED` until a slot-level call has attached elsewhere and
//! `CKR_SESSION_HANDLE_INVALID` from the new node after.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use arca_proto::limits::PIECE_OVERHEAD_BYTES;
use arca_proto::v1::token_client::TokenClient;
use arca_proto::v1::{AttachEvent, AttachRequest};
use arca_proto::wire::Method;
use arca_proto::{APPLICATION_HEADER, CONNECT_TIMEOUT, DaemonEndpoint, DaemonEndpoints};
use tokio::task::JoinHandle;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use tonic::{Request, Response, Status, Streaming};

use crate::config::UnixTransport;
use crate::error::Error;
use crate::runtime::{Bridge, Flavor};
use crate::wire_client::WireClient;

/// The deadline of one RPC (RSA-4096 generation takes seconds; nothing should take minutes).
pub const DEADLINE: Duration = Duration::from_secs(120);
/// The largest answer accepted (tonic's default of 4 MiB would be below some outputs the
/// daemon may produce; the daemon's own request caps are the real limit).
pub(crate) const MAX_MESSAGE: usize = 64 << 20;
/// How long a call's answer may take: the deadline, and a margin for a peer that falls silent.
pub(crate) const ANSWER_WAIT: Duration = DEADLINE.saturating_add(Duration::from_secs(5));
/// The smallest request cap a daemon can be configured with (`max_request_bytes`).
pub(crate) const SMALLEST_REQUEST_CAP: usize = 8 * 1024;
/// How many times a slot-level call yields to the runtime's tasks before it judges the
/// connection, in a runtime driven by the calling threads: enough for the connection's I/O to
/// notice a closed socket and for the `Attach` watcher to hear of it.
const CATCH_UP_YIELDS: usize = 4;

/// Numbers the connections of the process (across `C_Finalize`/`C_Initialize` and `fork`), so
/// that what was learnt on one connection is not applied on another (see [`Module::generation`]).
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

/// A fresh connection number.
pub(crate) fn next_generation() -> u64 {
    GENERATIONS.fetch_add(1, Ordering::Relaxed)
}

/// Which connection a call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// A live application, attaching afresh if needed (slot-level calls).
    Attached,
    /// Whatever connection there is (session-level calls).
    Existing,
}

/// A daemon connection with a registered application.
#[derive(Debug)]
struct Connection {
    channel: Channel,
    app: MetadataValue<Ascii>,
    gone: Arc<AtomicBool>,
    watcher: JoinHandle<()>,
    /// This connection's number, from [`GENERATIONS`].
    generation: u64,
    /// The largest request the daemon accepts, as its `Attach` answer said (0: not said).
    max_request_bytes: u64,
    /// The node it reaches: its position in [`Shared::endpoints`].
    node: usize,
}

impl Connection {
    fn is_gone(&self) -> bool {
        self.gone.load(Ordering::SeqCst)
    }

    fn mark_gone(&self) {
        self.gone.store(true, Ordering::SeqCst);
    }
}

impl Drop for Connection {
    /// Stops reading the `Attach` stream, which drops it: the daemon then ends the application.
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// What the calls in flight share.
#[derive(Debug)]
struct Shared {
    endpoints: DaemonEndpoints,
    application_name: String,
    current: RwLock<Option<Arc<Connection>>>,
    reconnect: tokio::sync::Mutex<()>,
    /// The runtime runs only inside calls: slot-level calls let it catch up first.
    catch_up: bool,
}

/// The module's state between `C_Initialize` and `C_Finalize`.
#[derive(Debug)]
pub struct Module {
    transport: Transport,
}

/// How the module reaches its daemons: the lean wire when every node is a local Unix socket
/// (`crate::wire_client`), gRPC through a tokio runtime otherwise (TCP with mutual TLS).
#[derive(Debug)]
enum Transport {
    Wire(WireClient),
    Grpc { bridge: Bridge, shared: Arc<Shared> },
}

impl Module {
    /// Builds the transport and tries once to attach; a daemon that is down is not an error.
    pub fn start(
        endpoints: DaemonEndpoints,
        unix_transport: UnixTransport,
        may_create_threads: bool,
    ) -> Result<Self, Error> {
        let all_local =
            endpoints.as_slice().iter().all(|endpoint| matches!(endpoint, DaemonEndpoint::Unix(_)));
        let transport = if all_local && unix_transport == UnixTransport::Wire {
            Transport::Wire(WireClient::new(endpoints, application_name()))
        } else {
            let bridge = Bridge::new(may_create_threads)?;
            let shared = Arc::new(Shared {
                endpoints,
                application_name: application_name(),
                current: RwLock::new(None),
                reconnect: tokio::sync::Mutex::new(()),
                catch_up: bridge.flavor() == Flavor::CurrentThread,
            });
            Transport::Grpc { bridge, shared }
        };
        let module = Self { transport };
        // The outcome shows later: the slot reports a token or not.
        let _attached = module.token_present();
        Ok(module)
    }

    /// Runs one call of `method` (a slot-level call may send it twice, see [`Reach::Attached`]).
    pub fn call<Req, Resp>(
        &self,
        reach: Reach,
        method: Method<Req, Resp>,
        request: Req,
    ) -> Result<Resp, Error>
    where
        Req: prost::Message + Clone + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        match &self.transport {
            Transport::Wire(client) => client.call(reach, method, &request),
            Transport::Grpc { bridge, shared } => {
                let shared = Arc::clone(shared);
                bridge.block_on(async move { shared.call(reach, method, request).await })?
            }
        }
    }

    /// True when the daemon answers (attaching afresh if needed): the slot has a token.
    pub fn token_present(&self) -> Result<bool, Error> {
        match &self.transport {
            Transport::Wire(client) => Ok(client.token_present()),
            Transport::Grpc { bridge, shared } => {
                let shared = Arc::clone(shared);
                bridge.block_on(async move { shared.connection().await.is_ok() })
            }
        }
    }

    /// The number of the live connection, if there is one. Session handles and the operations
    /// behind them belong to one connection's application: after a daemon restart, a
    /// `C_Finalize`/`C_Initialize` or a `fork` the number differs, so nothing learnt before (see
    /// `crate::lengths`) is taken for the new application's.
    pub fn generation(&self) -> Option<u64> {
        match &self.transport {
            Transport::Wire(client) => client.generation(),
            Transport::Grpc { shared, .. } => shared.live().map(|connection| connection.generation),
        }
    }

    /// How many bytes of operation input one request may carry on the current connection: the
    /// daemon's request cap less room for the request's other fields. A daemon that did not
    /// say gets pieces that fit its smallest possible cap.
    pub fn piece_bytes(&self) -> usize {
        let announced = match &self.transport {
            Transport::Wire(client) => client.max_request_bytes(),
            Transport::Grpc { shared, .. } => {
                shared.current().map_or(0, |connection| connection.max_request_bytes)
            }
        };
        let cap = match usize::try_from(announced) {
            Ok(0) | Err(_) => SMALLEST_REQUEST_CAP,
            Ok(cap) => cap.max(SMALLEST_REQUEST_CAP),
        };
        cap - PIECE_OVERHEAD_BYTES
    }
}

impl Drop for Module {
    /// Ends the application (closes the attaching connection, or drops the `Attach` stream); a
    /// gRPC runtime stops next (see [`Bridge`]'s `Drop`). On a thread that is ending nothing of
    /// tokio is touched: the gRPC connection is let go of with the process.
    fn drop(&mut self) {
        let Transport::Grpc { shared, .. } = &self.transport else { return };
        let connection = shared.current.write().unwrap_or_else(PoisonError::into_inner).take();
        if crate::runtime::thread_alive() {
            drop(connection);
        } else {
            std::mem::forget(connection);
        }
    }
}

impl Shared {
    async fn call<Req, Resp>(
        &self,
        reach: Reach,
        method: Method<Req, Resp>,
        request: Req,
    ) -> Result<Resp, Error>
    where
        Req: prost::Message + Clone + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        if reach == Reach::Existing {
            let connection = self.current().ok_or(Error::DeviceRemoved)?;
            return send(&connection, method, request).await;
        }
        let connection = self.connection().await?;
        match send(&connection, method, request.clone()).await {
            // The daemon went away since the connection was last judged live, or a new daemon
            // already answers on the socket and does not know this application (for a slot-level
            // call nothing else can be an invalid session): a restarted daemon is found now
            // rather than at the next call.
            Err(error) if error.is_transport() || error.is_unknown_application() => {
                connection.mark_gone();
                let connection = self.connection().await?;
                send(&connection, method, request).await
            }
            answer => answer,
        }
    }

    fn current(&self) -> Option<Arc<Connection>> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn live(&self) -> Option<Arc<Connection>> {
        self.current().filter(|connection| !connection.is_gone())
    }

    /// A live application, attaching afresh if there is none (or `CKR_TOKEN_NOT_PRESENT`).
    async fn connection(&self) -> Result<Arc<Connection>, Error> {
        if self.catch_up {
            for _ in 0..CATCH_UP_YIELDS {
                tokio::task::yield_now().await;
            }
        }
        if let Some(connection) = self.live() {
            return Ok(connection);
        }
        // One thread reconnects; the others wait here and then find its connection.
        let _gate = self.reconnect.lock().await;
        if let Some(connection) = self.live() {
            return Ok(connection);
        }
        // After a connection died its node is tried last: it is the one known to have failed.
        let first = self.current().map_or(0, |gone| self.endpoints.after(gone.node));
        let fresh = Arc::new(self.attach_any(first).await?);
        let previous =
            self.current.write().unwrap_or_else(PoisonError::into_inner).replace(Arc::clone(&fresh));
        drop(previous);
        Ok(fresh)
    }

    /// Attaches on the first node that can be reached, trying each once in order from `first`
    /// and wrapping round; `CKR_TOKEN_NOT_PRESENT` when none answers. A node that answers with
    /// a refusal ends the search: it is reachable, and the next call asks it again.
    async fn attach_any(&self, first: usize) -> Result<Connection, Error> {
        let mut node = first;
        for _ in self.endpoints.as_slice() {
            let endpoint = self.endpoints.as_slice().get(node).ok_or(Error::General)?;
            match self.attach(endpoint, node).await {
                Ok(connection) => return Ok(connection),
                Err(error) if error.is_transport() => node = self.endpoints.after(node),
                Err(_refused) => return Err(Error::TokenNotPresent),
            }
        }
        Err(Error::TokenNotPresent)
    }

    /// Connects to `endpoint` (node number `node`) and registers the application; the first
    /// `Attach` event carries its id.
    async fn attach(&self, endpoint: &DaemonEndpoint, node: usize) -> Result<Connection, Error> {
        let attach = async {
            let channel = crate::connect::connect(endpoint).await?;
            let request = AttachRequest { application_name: self.application_name.clone() };
            let mut client = TokenClient::new(channel.clone());
            let mut stream = client.attach(request).await.map_err(|s| Error::from_status(&s))?.into_inner();
            let first = stream.message().await.map_err(|s| Error::from_status(&s))?;
            Ok::<_, Error>((channel, stream, first.ok_or(Error::Protocol)?))
        };
        let (channel, stream, event) =
            tokio::time::timeout(CONNECT_TIMEOUT, attach).await.map_err(|_| Error::DeviceRemoved)??;
        let app = application_id(&event)?;
        let gone = Arc::new(AtomicBool::new(false));
        let watcher = tokio::spawn(watch(stream, Arc::clone(&gone)));
        let generation = next_generation();
        let max_request_bytes = event.max_request_bytes;
        Ok(Connection { channel, app, gone, watcher, generation, max_request_bytes, node })
    }
}

/// Sends one RPC on `connection`; a transport failure marks the connection gone.
async fn send<Req, Resp>(
    connection: &Connection,
    method: Method<Req, Resp>,
    request: Req,
) -> Result<Resp, Error>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let mut request = Request::new(request);
    request.metadata_mut().insert(APPLICATION_HEADER, connection.app.clone());
    request.set_timeout(DEADLINE);
    // The deadline travels as `grpc-timeout`; this local one also covers a silent peer.
    let call = unary(connection.channel.clone(), method, request);
    let answer = tokio::time::timeout(ANSWER_WAIT, call).await;
    match answer {
        Err(_elapsed) => Err(Error::DeviceError),
        Ok(Ok(response)) => Ok(response.into_inner()),
        Ok(Err(status)) => {
            let error = Error::from_status(&status);
            if error.is_transport() {
                connection.mark_gone();
            }
            Err(error)
        }
    }
}

/// One unary gRPC call of `method`, as the generated client makes it.
async fn unary<Req, Resp>(
    channel: Channel,
    method: Method<Req, Resp>,
    request: Request<Req>,
) -> Result<Response<Resp>, Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel).max_decoding_message_size(MAX_MESSAGE);
    grpc.ready().await.map_err(|error| Status::unknown(format!("Service was not ready: {error}")))?;
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(method.path);
    grpc.unary(request, path, tonic_prost::ProstCodec::default()).await
}

/// The `x-arca-app` value of an `Attach` answer.
fn application_id(event: &AttachEvent) -> Result<MetadataValue<Ascii>, Error> {
    if event.application_id.is_empty() {
        return Err(Error::Protocol);
    }
    MetadataValue::try_from(event.application_id.as_str()).map_err(|_| Error::Protocol)
}

/// Reads the `Attach` stream until it ends, then marks the application gone.
async fn watch(mut stream: Streaming<AttachEvent>, gone: Arc<AtomicBool>) {
    while let Ok(Some(_event)) = stream.message().await {}
    gone.store(true, Ordering::SeqCst);
}

/// What this process calls itself in the daemon's logs: `name[pid]`.
fn application_name() -> String {
    let name = std::env::args_os()
        .next()
        .as_deref()
        .and_then(|arg0| std::path::Path::new(arg0).file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "pkcs11".to_owned());
    format!("{name}[{}]", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_ids_must_be_ascii_and_present() {
        let event = |id: &str| AttachEvent { application_id: id.to_owned(), max_request_bytes: 0 };
        assert_eq!(application_id(&event("app-1")).unwrap(), "app-1");
        assert_eq!(application_id(&event("")), Err(Error::Protocol));
        assert_eq!(application_id(&event("bad\nid")), Err(Error::Protocol));
    }

    #[test]
    fn application_name_names_the_process() {
        let name = application_name();
        assert!(name.ends_with(&format!("[{}]", std::process::id())), "{name}");
    }
}

//! The blocking gRPC bridge: one tokio runtime and one multiplexed channel per process.
//!
//! `C_Initialize` builds a [`Module`]: a multi-thread runtime with two workers and, if the daemon
//! answers, a [`Connection`] — a tonic `Channel` (cloned for every call, so all threads share one
//! HTTP/2 connection) and the `Attach` stream that registers this process as one PKCS#11
//! application. A background task reads that stream; when it ends the application is gone (the
//! daemon restarted or dropped us) and the connection is marked so.
//!
//! Calls come in two reaches. Slot-level calls ([`Reach::Attached`]: slot and token queries,
//! `C_OpenSession`, mechanisms, `C_InitToken`) reconnect and attach afresh when there is no live
//! application, and report `CKR_TOKEN_NOT_PRESENT` if the daemon cannot be reached. Session-level
//! calls ([`Reach::Existing`]) use the current connection as it is, so after a daemon restart the
//! daemon itself answers `CKR_SESSION_HANDLE_INVALID`, or the call fails with
//! `CKR_DEVICE_REMOVED` when the daemon cannot be reached.
//!
//! Application threads wait with `Handle::block_on`; a thread that is itself inside some tokio
//! runtime (where `block_on` would panic) instead spawns the call and waits on a channel.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use arca_proto::DaemonEndpoint;
use arca_proto::v1::token_client::TokenClient;
use arca_proto::v1::{AttachEvent, AttachRequest};
use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use tonic::{Request, Response, Status, Streaming};

use crate::error::Error;

/// Metadata entry carrying the application id on every call but `Attach`.
pub const APP_HEADER: &str = "x-arca-app";
/// The deadline of one RPC (RSA-4096 generation takes seconds; nothing should take minutes).
pub const DEADLINE: Duration = Duration::from_secs(120);
/// The largest answer accepted (tonic's default of 4 MiB would be below some outputs the
/// daemon may produce; the daemon's own request caps are the real limit).
const MAX_MESSAGE: usize = 64 << 20;
/// How long connecting and receiving the first `Attach` event may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `C_Finalize` waits for the runtime's threads.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

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
    endpoint: DaemonEndpoint,
    application_name: String,
    current: RwLock<Option<Arc<Connection>>>,
    reconnect: tokio::sync::Mutex<()>,
}

/// The module's state between `C_Initialize` and `C_Finalize`.
#[derive(Debug)]
pub struct Module {
    runtime: Option<Runtime>,
    shared: Arc<Shared>,
}

impl Module {
    /// Builds the runtime and tries once to attach; a daemon that is down is not an error.
    pub fn start(endpoint: DaemonEndpoint) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("arca-pkcs11")
            .enable_all()
            .build()
            .map_err(|_| Error::FunctionFailed)?;
        let shared = Arc::new(Shared {
            endpoint,
            application_name: application_name(),
            current: RwLock::new(None),
            reconnect: tokio::sync::Mutex::new(()),
        });
        let module = Self { runtime: Some(runtime), shared };
        let shared = Arc::clone(&module.shared);
        // The outcome shows later: the slot reports a token or not.
        let _attached = module.block_on(async move { shared.connection(Reach::Attached).await.is_ok() });
        Ok(module)
    }

    /// Runs one RPC: `rpc` gets a client on the shared channel and the request, which already
    /// carries `x-arca-app` and the deadline.
    pub fn call<Req, Resp, F, Fut>(&self, reach: Reach, request: Req, rpc: F) -> Result<Resp, Error>
    where
        Req: Send + 'static,
        Resp: Send + 'static,
        F: FnOnce(TokenClient<Channel>, Request<Req>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        self.block_on(async move { shared.call(reach, request, rpc).await })?
    }

    /// True when the daemon answers (attaching afresh if needed): the slot has a token.
    pub fn token_present(&self) -> Result<bool, Error> {
        let shared = Arc::clone(&self.shared);
        self.block_on(async move { shared.connection(Reach::Attached).await.is_ok() })
    }

    fn block_on<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, Error> {
        let runtime = self.runtime.as_ref().ok_or(Error::General)?;
        if Handle::try_current().is_err() {
            return Ok(runtime.handle().block_on(future));
        }
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _receiver_gone = sender.send(future.await);
        });
        receiver.recv().map_err(|_| Error::General)
    }
}

impl Drop for Module {
    /// Ends the application (drops the `Attach` stream), then stops the runtime's threads so that
    /// nothing of the module still runs if the application unloads it after `C_Finalize`.
    fn drop(&mut self) {
        self.shared.current.write().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(runtime) = self.runtime.take() {
            shut_down(runtime);
        }
    }
}

/// Stops a runtime, waiting a little for its threads; from inside another runtime's context
/// (where waiting is forbidden) the wait happens on a helper thread.
fn shut_down(runtime: Runtime) {
    if Handle::try_current().is_err() {
        runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
        return;
    }
    // The runtime goes to the helper only once it runs, so that if the thread cannot be made the
    // runtime is still here to be let go of without waiting.
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new().name("arca-pkcs11-stop".into()).spawn(move || {
        let runtime = receiver.recv();
        if let Ok(runtime) = runtime {
            Runtime::shutdown_timeout(runtime, SHUTDOWN_TIMEOUT);
        }
    });
    match spawned {
        Ok(thread) => {
            let _sent = sender.send(runtime);
            let _joined = thread.join();
        }
        Err(_) => runtime.shutdown_background(),
    }
}

impl Shared {
    async fn call<Req, Resp, F, Fut>(&self, reach: Reach, request: Req, rpc: F) -> Result<Resp, Error>
    where
        F: FnOnce(TokenClient<Channel>, Request<Req>) -> Fut,
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        let connection = self.connection(reach).await?;
        let mut request = Request::new(request);
        request.metadata_mut().insert(APP_HEADER, connection.app.clone());
        request.set_timeout(DEADLINE);
        let client = TokenClient::new(connection.channel.clone()).max_decoding_message_size(MAX_MESSAGE);
        // The deadline travels as `grpc-timeout`; this local one also covers a silent peer.
        let answer = tokio::time::timeout(DEADLINE + Duration::from_secs(5), rpc(client, request)).await;
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

    fn current(&self) -> Option<Arc<Connection>> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn live(&self) -> Option<Arc<Connection>> {
        self.current().filter(|connection| !connection.is_gone())
    }

    async fn connection(&self, reach: Reach) -> Result<Arc<Connection>, Error> {
        if reach == Reach::Existing {
            return self.current().ok_or(Error::DeviceRemoved);
        }
        if let Some(connection) = self.live() {
            return Ok(connection);
        }
        // One thread reconnects; the others wait here and then find its connection.
        let _gate = self.reconnect.lock().await;
        if let Some(connection) = self.live() {
            return Ok(connection);
        }
        let fresh = Arc::new(self.attach().await.map_err(|_| Error::TokenNotPresent)?);
        let previous =
            self.current.write().unwrap_or_else(PoisonError::into_inner).replace(Arc::clone(&fresh));
        drop(previous);
        Ok(fresh)
    }

    /// Connects and registers the application; the first `Attach` event carries its id.
    async fn attach(&self) -> Result<Connection, Error> {
        let attach = async {
            let channel = self.endpoint.connect().await.map_err(|_| Error::DeviceRemoved)?;
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
        Ok(Connection { channel, app, gone, watcher })
    }
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
        let event = |id: &str| AttachEvent { application_id: id.to_owned() };
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

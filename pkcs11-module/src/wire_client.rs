//! The module's path to local daemons: the Token service's lean wire (`arca_proto::wire`) on
//! their Unix sockets, with blocking I/O on the calling thread. The module starts no thread and
//! no runtime on this path, so `CKF_LIBRARY_CANT_CREATE_OS_THREADS` costs nothing.
//!
//! The application is one attaching connection, held open: the daemon ends the application when
//! it closes, and closes it when it ends the application (or stops). Calls go over connections of
//! their own, kept in a small pool, one call at a time each: a calling thread takes an idle
//! connection (or opens one), makes its call, and gives it back. The behaviour is the gRPC
//! path's (`crate::client`): slot-level calls ([`Reach::Attached`]) find a daemon that went away
//! (the attaching connection is closed) and attach afresh, trying the nodes in order from the
//! one after the dead one; session-level calls ([`Reach::Existing`]) use the application as it
//! is, and fail with `CKR_DEVICE_REMOVED` once it is gone.
//!
//! A pooled connection the daemon closed for idleness (`[connections] idle_timeout`) is found
//! when a call on it fails while the application's own connection is still open: the daemon
//! closes an idle connection only when no request is waiting on it, so the call was not served
//! and is sent again on a fresh connection.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use arca_proto::v1::AttachRequest;
use arca_proto::wire::{ATTACH, CallError, HeldConnection, Method, WireConnection};
use arca_proto::{CONNECT_TIMEOUT, DaemonEndpoint, DaemonEndpoints};

use crate::client::{ANSWER_WAIT, MAX_MESSAGE, Reach, next_generation};
use crate::error::Error;

/// Idle connections kept per application; more are closed when given back.
const POOL_SIZE: usize = 64;

/// One attached application on one node.
#[derive(Debug)]
struct Application {
    node: usize,
    generation: u64,
    id: String,
    max_request_bytes: u64,
    held: HeldConnection,
    gone: AtomicBool,
    idle: Mutex<Vec<WireConnection>>,
}

impl Application {
    fn is_gone(&self) -> bool {
        self.gone.load(Ordering::SeqCst)
    }

    fn mark_gone(&self) {
        self.gone.store(true, Ordering::SeqCst);
    }

    fn path<'a>(&self, endpoints: &'a DaemonEndpoints) -> Result<&'a Path, Error> {
        match endpoints.as_slice().get(self.node) {
            Some(DaemonEndpoint::Unix(path)) => Ok(path),
            _ => Err(Error::General),
        }
    }

    fn take_idle(&self) -> Option<WireConnection> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop()
    }

    /// Keeps `connection` for the next call, unless the application is gone.
    fn give_back(&self, connection: WireConnection) {
        if self.is_gone() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < POOL_SIZE {
            idle.push(connection);
        }
    }

    fn forget_idle(&self) {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// The error of a call whose connection failed: the daemon is gone if it closed the
    /// application's own connection (then `CKR_DEVICE_REMOVED`, and the application is marked
    /// gone); otherwise only this call failed, and the application lives on.
    fn failed(&self, otherwise: Error) -> Error {
        if self.held.is_closed() {
            self.mark_gone();
            return Error::DeviceRemoved;
        }
        otherwise
    }
}

impl Drop for Application {
    /// Ends the application's connections for every process holding them: a child forked since
    /// holds copies of the descriptors, which would otherwise keep the application alive in the
    /// daemon after `C_Finalize` here.
    fn drop(&mut self) {
        self.held.shut_down();
        for connection in self.idle.get_mut().unwrap_or_else(PoisonError::into_inner).iter() {
            connection.shut_down();
        }
    }
}

/// The module's state for Unix-socket daemons.
#[derive(Debug)]
pub struct WireClient {
    endpoints: DaemonEndpoints,
    application_name: String,
    current: RwLock<Option<Arc<Application>>>,
    reconnect: Mutex<()>,
}

impl WireClient {
    /// A client for `endpoints`, which are all Unix sockets; nothing is connected yet.
    pub fn new(endpoints: DaemonEndpoints, application_name: String) -> Self {
        Self { endpoints, application_name, current: RwLock::new(None), reconnect: Mutex::new(()) }
    }

    /// Runs one call (see [`Reach`]).
    pub fn call<Req, Resp>(
        &self,
        reach: Reach,
        method: Method<Req, Resp>,
        request: &Req,
    ) -> Result<Resp, Error>
    where
        Req: prost::Message,
        Resp: prost::Message + Default,
    {
        if reach == Reach::Existing {
            let application =
                self.current().filter(|application| !application.is_gone()).ok_or(Error::DeviceRemoved)?;
            return self.send(&application, method, request);
        }
        let application = self.application()?;
        match self.send(&application, method, request) {
            // As on the gRPC path: a daemon that restarted since is found now, not at the next call.
            Err(error) if error.is_transport() || error.is_unknown_application() => {
                application.mark_gone();
                let application = self.application()?;
                self.send(&application, method, request)
            }
            answer => answer,
        }
    }

    /// True when a daemon answers (attaching afresh if needed).
    pub fn token_present(&self) -> bool {
        self.application().is_ok()
    }

    /// The live application's connection number (see `Module::generation`).
    pub fn generation(&self) -> Option<u64> {
        self.current().filter(|application| !application.is_gone()).map(|application| application.generation)
    }

    /// The request cap the current daemon announced (0: none).
    pub fn max_request_bytes(&self) -> u64 {
        self.current().map_or(0, |application| application.max_request_bytes)
    }

    fn current(&self) -> Option<Arc<Application>> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The current application if it is still attached: not marked gone, and its connection
    /// not closed by the daemon.
    fn live(&self) -> Option<Arc<Application>> {
        let application = self.current().filter(|application| !application.is_gone())?;
        if application.held.is_closed() {
            application.mark_gone();
            return None;
        }
        Some(application)
    }

    /// A live application, attaching afresh if there is none (or `CKR_TOKEN_NOT_PRESENT`).
    fn application(&self) -> Result<Arc<Application>, Error> {
        if let Some(application) = self.live() {
            return Ok(application);
        }
        // One thread reconnects; the others wait here and then find its application.
        let _gate = self.reconnect.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(application) = self.live() {
            return Ok(application);
        }
        let first = self.current().map_or(0, |gone| self.endpoints.after(gone.node));
        let fresh = Arc::new(self.attach_any(first)?);
        let previous =
            self.current.write().unwrap_or_else(PoisonError::into_inner).replace(Arc::clone(&fresh));
        drop(previous);
        Ok(fresh)
    }

    /// Attaches on the first node that answers, from `first` on and wrapping round; a node that
    /// answers with a refusal ends the search.
    fn attach_any(&self, first: usize) -> Result<Application, Error> {
        let mut node = first;
        for _ in self.endpoints.as_slice() {
            match self.attach(node) {
                Ok(application) => return Ok(application),
                Err(error) if error.is_transport() => node = self.endpoints.after(node),
                Err(_refused) => return Err(Error::TokenNotPresent),
            }
        }
        Err(Error::TokenNotPresent)
    }

    fn attach(&self, node: usize) -> Result<Application, Error> {
        let Some(DaemonEndpoint::Unix(path)) = self.endpoints.as_slice().get(node) else {
            return Err(Error::General);
        };
        let mut connection =
            WireConnection::open(path, "", CONNECT_TIMEOUT, MAX_MESSAGE).map_err(|_| Error::DeviceRemoved)?;
        let request = AttachRequest { application_name: self.application_name.clone() };
        let event = connection.call(ATTACH, &request).map_err(|error| match error {
            CallError::Status(status) => Error::from_status(&status),
            CallError::Io(_) => Error::DeviceRemoved,
            CallError::Protocol => Error::Protocol,
        })?;
        if event.application_id.is_empty() || !event.application_id.is_ascii() {
            return Err(Error::Protocol);
        }
        let held = connection.hold().map_err(|_| Error::DeviceRemoved)?;
        Ok(Application {
            node,
            generation: next_generation(),
            id: event.application_id,
            max_request_bytes: event.max_request_bytes,
            held,
            gone: AtomicBool::new(false),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends one call on one of the application's connections.
    fn send<Req, Resp>(
        &self,
        application: &Application,
        method: Method<Req, Resp>,
        request: &Req,
    ) -> Result<Resp, Error>
    where
        Req: prost::Message,
        Resp: prost::Message + Default,
    {
        let (mut connection, reused) = match application.take_idle() {
            Some(connection) => (connection, true),
            None => (self.open(application)?, false),
        };
        let answer = connection.call(method, request);
        let answer = match answer {
            // The daemon closed an idle connection before the request reached it (its own
            // connection still stands): the write found the connection closed, or the daemon
            // closed it with the request unread. (A clean end of stream after the request went
            // out could follow a request that was served: it is not sent again.) The others
            // idle as long are closed too.
            Err(CallError::Io(error)) if reused && was_not_read(&error) && !application.held.is_closed() => {
                application.forget_idle();
                connection = self.open(application)?;
                connection.call(method, request)
            }
            answer => answer,
        };
        match answer {
            Ok(response) => {
                application.give_back(connection);
                Ok(response)
            }
            Err(CallError::Status(status)) => {
                let error = Error::from_status(&status);
                if error.is_transport() {
                    application.mark_gone();
                } else {
                    application.give_back(connection);
                }
                Err(error)
            }
            // A silent daemon: the call's outcome is unknown, the connection is dropped.
            Err(CallError::Io(error)) if is_timeout(&error) => Err(Error::DeviceError),
            Err(CallError::Io(_)) => Err(application.failed(Error::DeviceError)),
            Err(CallError::Protocol) => Err(Error::Protocol),
        }
    }

    fn open(&self, application: &Application) -> Result<WireConnection, Error> {
        let path = application.path(&self.endpoints)?;
        WireConnection::open(path, &application.id, ANSWER_WAIT, MAX_MESSAGE).map_err(|error| {
            if nobody_listens(&error) {
                // The daemon is gone, even if the close of the application's own connection
                // has not reached this process yet (or, the socket file alone removed, never
                // will): the application ends here and in the daemon, and no pooled connection
                // serves its sessions on.
                application.mark_gone();
                application.forget_idle();
                application.held.shut_down();
                Error::DeviceRemoved
            } else {
                // No connection while the application's own stands (a listen backlog full for
                // the connect timeout, no descriptor left here): no reason to end the
                // application. (A daemon at its connection cap accepts and closes instead:
                // the call then fails with CKR_DEVICE_ERROR.)
                application.failed(Error::DeviceMemory)
            }
        })
    }
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// A connect that found no socket file, or no daemon listening on it.
fn nobody_listens(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused)
}

/// A failure that shows the daemon closed the connection without reading the request: the write
/// found it closed (`EPIPE`), or the daemon closed it with the request unread (`ECONNRESET`).
fn was_not_read(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe)
}

#[cfg(test)]
mod tests {
    use arca_proto::v1::TokenRandomRequest;
    use arca_proto::wire::GENERATE_RANDOM;

    use super::*;
    use crate::fake_daemon::FakeDaemon;

    /// A call that finds nobody listening on the socket knows the daemon is gone before the close
    /// of the application's own connection reaches the module (here it never does: the socket
    /// file alone is gone).
    #[test]
    fn a_socket_nobody_listens_on_means_the_daemon_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("arca.sock");
        let daemon = FakeDaemon::start(&socket, 1);
        let client = WireClient::new(DaemonEndpoint::Unix(socket.clone()).into(), "test[1]".to_owned());
        let request = TokenRandomRequest { session: 7, length: 16 };
        let application = client.application().unwrap();
        assert!(client.call(Reach::Existing, GENERATE_RANDOM, &request).is_ok());
        std::fs::remove_file(&socket).unwrap();

        // Another thread's call holds the pooled connection; this call needs a second one and
        // finds nobody listening: the application ends here and in the daemon, and the pooled
        // connection is not given back to serve its sessions on.
        let pooled = application.take_idle().unwrap();
        assert_eq!(client.call(Reach::Existing, GENERATE_RANDOM, &request).err(), Some(Error::DeviceRemoved));
        assert!(application.is_gone());
        application.give_back(pooled);
        assert!(application.take_idle().is_none());
        assert_eq!(client.call(Reach::Existing, GENERATE_RANDOM, &request).err(), Some(Error::DeviceRemoved));
        assert!(
            daemon.sees_a_detach_within(std::time::Duration::from_secs(2)),
            "the daemon still holds the application"
        );
        assert_eq!(
            client.call(Reach::Attached, GENERATE_RANDOM, &request).err(),
            Some(Error::TokenNotPresent)
        );
    }
}

//! Accepting connections under the connection cap. Every open connection holds a slot; past
//! `max_connections` a new connection is closed at once (the client sees the refusal immediately
//! instead of waiting in the listen backlog until its deadline), except an administrator's on the
//! Unix socket (known by its peer uid), for whom `admin_reserve` more slots are kept. Refusals are
//! counted in the metrics and logged at most once every few seconds.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::time::Sleep;
use tokio_stream::Stream;

use super::connection::Connection;
pub(crate) use super::gate::Gate;
use super::wire::AdmittedUnix;
use crate::service::Keystore;

/// How long accepting pauses after the system refused (EMFILE, ENFILE, ENOMEM), instead of
/// spinning on a listener whose backlog it cannot drain.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// What the listeners need to admit a connection.
#[derive(Debug, Clone)]
pub(crate) struct Admission {
    pub gate: Arc<Gate>,
    pub service: Arc<Keystore>,
    pub idle_timeout: Option<Duration>,
    pub max_header_list_size: usize,
}

impl Admission {
    /// Admits a Unix connection; its protocol is told later (`AdmittedUnix::serve`).
    fn unix(&self, stream: UnixStream) -> Option<AdmittedUnix> {
        let administrator = stream
            .peer_cred()
            .is_ok_and(|cred| self.service.is_administrator(&format!("uid:{}", cred.uid())));
        let slot = self.gate.admit(administrator)?;
        Some(AdmittedUnix {
            stream,
            slot,
            idle_timeout: self.idle_timeout,
            max_header_list_size: self.max_header_list_size,
        })
    }

    /// TLS clients are named only after the handshake, so none of them uses the reserve.
    fn tcp(&self, stream: TcpStream) -> Option<Connection<TcpStream>> {
        let slot = self.gate.admit(false)?;
        let _ = stream.set_nodelay(true);
        Some(Connection::new(stream, slot, self.idle_timeout))
    }

    pub(crate) fn incoming_unix(
        self,
        listener: UnixListener,
    ) -> impl Stream<Item = io::Result<AdmittedUnix>> {
        Incoming::new(
            move |cx: &mut Context<'_>| listener.poll_accept(cx).map_ok(|(s, _)| s),
            move |s| self.unix(s),
        )
    }

    pub(crate) fn incoming_tcp(
        self,
        listener: TcpListener,
    ) -> impl Stream<Item = io::Result<Connection<TcpStream>>> {
        Incoming::new(
            move |cx: &mut Context<'_>| listener.poll_accept(cx).map_ok(|(s, _)| s),
            move |s| self.tcp(s),
        )
    }
}

/// A listener as a stream of admitted connections; refused ones are dropped (closed) here.
struct Incoming<A, F> {
    accept: A,
    admit: F,
    pause: Option<Pin<Box<Sleep>>>,
}

impl<A, F> Incoming<A, F> {
    fn new(accept: A, admit: F) -> Self {
        Self { accept, admit, pause: None }
    }
}

impl<A, F, S, C> Stream for Incoming<A, F>
where
    A: FnMut(&mut Context<'_>) -> Poll<io::Result<S>> + Unpin,
    F: FnMut(S) -> Option<C> + Unpin,
{
    type Item = io::Result<C>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(pause) = &mut this.pause {
                if pause.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.pause = None;
            }
            match (this.accept)(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(stream)) => {
                    if let Some(connection) = (this.admit)(stream) {
                        return Poll::Ready(Some(Ok(connection)));
                    }
                }
                Poll::Ready(Err(error)) => {
                    tracing::warn!(%error, "cannot accept a connection; pausing accepts briefly");
                    this.pause = Some(Box::pin(tokio::time::sleep(ACCEPT_ERROR_PAUSE)));
                }
            }
        }
    }
}

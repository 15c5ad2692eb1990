//! One accepted connection as the gRPC server sees it: the socket, its place under the connection
//! cap (given back when the connection is dropped), and the idle timeout. A connection with no
//! call in progress for `idle_timeout` is ended the next time it has nothing to read, so idle
//! clients cannot hold descriptors for ever; a call in progress (a streaming `Attach` too) keeps
//! it open however quiet it is.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};
use tonic::transport::server::Connected;

use super::activity::Activity;
use super::gate::Slot;

/// Time a call read just before the idle timeout expires has to reach the call counter.
const DISPATCH_GRACE: Duration = Duration::from_secs(1);

/// The connect info of a connection: what the transport knows about the peer, and what the
/// connection is doing (for the per-connection call cap and the idle timeout).
#[derive(Debug, Clone)]
pub(crate) struct Peer<T> {
    pub transport: T,
    pub(super) activity: Arc<Activity>,
}

/// An admitted connection.
#[derive(Debug)]
pub(crate) struct Connection<S> {
    inner: S,
    activity: Arc<Activity>,
    idle_timeout: Option<Duration>,
    idle_check: Option<Pin<Box<Sleep>>>,
    closed_for_idleness: bool,
    _slot: Slot,
}

impl<S> Connection<S> {
    pub(super) fn new(inner: S, slot: Slot, idle_timeout: Option<Duration>) -> Self {
        Self {
            inner,
            activity: Activity::new(),
            idle_timeout,
            idle_check: None,
            closed_for_idleness: false,
            _slot: slot,
        }
    }

    /// True once the connection has been quiet for the idle timeout; otherwise arms a timer that
    /// wakes the reader when it next could be.
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(timeout) = self.idle_timeout else { return false };
        loop {
            let wait = match self.activity.idle_for() {
                Some(idle) if idle >= timeout => return true,
                Some(idle) => timeout - idle,
                // Re-checked after a full timeout; the call may be long over by then.
                None => timeout,
            };
            let deadline = Instant::now() + wait;
            let check = self.idle_check.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            check.as_mut().reset(deadline);
            if check.as_mut().poll(cx).is_pending() {
                return false;
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Connection<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.closed_for_idleness {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Pending if this.idle_expired(cx) => {
                tracing::debug!("closing a connection idle for {:?}", this.idle_timeout.unwrap_or_default());
                this.closed_for_idleness = true;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                if let Some(timeout) = this.idle_timeout {
                    this.activity.idle_at_most(timeout.saturating_sub(DISPATCH_GRACE));
                }
                Poll::Ready(Ok(()))
            }
            polled => polled,
        }
    }
}

writes_through_to_inner!(Connection);

impl arca_proto::wire::WireStream for Connection<tokio::net::UnixStream> {
    fn socket(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        arca_proto::wire::WireStream::socket(&self.inner)
    }
}

impl<S: Connected> Connected for Connection<S> {
    type ConnectInfo = Peer<S::ConnectInfo>;

    fn connect_info(&self) -> Self::ConnectInfo {
        Peer { transport: self.inner.connect_info(), activity: Arc::clone(&self.activity) }
    }
}

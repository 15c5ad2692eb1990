//! Calls in progress, per connection and in total. A tower layer admits each call against both
//! caps before any service work (a call over a cap ends at once with RESOURCE_EXHAUSTED, so a
//! flood of open streams cannot pile up), and keeps the call counted until its response body is
//! finished or dropped, so a streaming call such as `Attach` keeps its connection busy. The
//! per-connection count is also what the idle timeout watches.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo, UdsConnectInfo};

use super::Peer;
use crate::metrics::Metrics;

/// What one connection is doing, shared by its I/O wrapper and the calls made on it.
#[derive(Debug)]
pub(super) struct Activity {
    in_progress: AtomicUsize,
    /// When the connection last became quiet (opened, or its last call ended), in milliseconds
    /// after `opened`.
    quiet_since_ms: AtomicU64,
    opened: Instant,
}

impl Activity {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            in_progress: AtomicUsize::new(0),
            quiet_since_ms: AtomicU64::new(0),
            opened: Instant::now(),
        })
    }

    /// How long the connection has had no call in progress; `None` while one is.
    pub(super) fn idle_for(&self) -> Option<Duration> {
        if self.in_progress.load(Ordering::Acquire) > 0 {
            return None;
        }
        let quiet_since = Duration::from_millis(self.quiet_since_ms.load(Ordering::Acquire));
        Some(self.opened.elapsed().saturating_sub(quiet_since))
    }

    /// Makes the connection count as idle for at most `longest`: the client sent something, which
    /// may be a call the server has not dispatched yet. (Keepalive answers arrive too, so this
    /// only delays an expiry, it does not restart the idle period.)
    pub(super) fn idle_at_most(&self, longest: Duration) {
        let floor = self.opened.elapsed().saturating_sub(longest);
        let floor_ms = u64::try_from(floor.as_millis()).unwrap_or(u64::MAX);
        self.quiet_since_ms.fetch_max(floor_ms, Ordering::AcqRel);
    }

    fn touch(&self) {
        self.idle_at_most(Duration::ZERO);
    }

    fn begin(self: &Arc<Self>, limit: usize) -> Option<Arc<Self>> {
        if self.in_progress.fetch_add(1, Ordering::AcqRel) >= limit {
            self.end();
            return None;
        }
        Some(Arc::clone(self))
    }

    fn end(&self) {
        self.touch();
        self.in_progress.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One admitted call: holds its place in both caps until dropped.
#[derive(Debug)]
pub(crate) struct CallSlot {
    connection: Option<Arc<Activity>>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for CallSlot {
    fn drop(&mut self) {
        if let Some(connection) = &self.connection {
            connection.end();
        }
    }
}

/// The tower layer that admits calls against the caps.
#[derive(Debug, Clone)]
pub(crate) struct CallLimits {
    global: Arc<Semaphore>,
    per_connection: usize,
    metrics: Arc<Metrics>,
}

impl CallLimits {
    pub(crate) fn new(max_requests: usize, per_connection: usize, metrics: Arc<Metrics>) -> Self {
        Self { global: Arc::new(Semaphore::new(max_requests)), per_connection, metrics }
    }

    fn admit<B>(&self, request: &http::Request<B>) -> Result<CallSlot, tonic::Status> {
        self.admit_on(activity_of(request))
    }

    /// Admits a call on the connection whose activity is `connection` (none: not counted per
    /// connection).
    pub(super) fn admit_on(&self, connection: Option<&Arc<Activity>>) -> Result<CallSlot, tonic::Status> {
        let Ok(permit) = Arc::clone(&self.global).try_acquire_owned() else {
            self.metrics.record_call_refused("max_requests");
            return Err(tonic::Status::resource_exhausted("too many calls in progress in the daemon; retry"));
        };
        let Some(activity) = connection else {
            return Ok(CallSlot { connection: None, _permit: permit });
        };
        match activity.begin(self.per_connection) {
            Some(connection) => Ok(CallSlot { connection: Some(connection), _permit: permit }),
            None => {
                self.metrics.record_call_refused("max_requests_per_connection");
                Err(tonic::Status::resource_exhausted("too many calls in progress on this connection; retry"))
            }
        }
    }
}

/// The connection's activity, from the connect info the listener attached to the request.
fn activity_of<B>(request: &http::Request<B>) -> Option<&Arc<Activity>> {
    let extensions = request.extensions();
    if let Some(peer) = extensions.get::<Peer<UdsConnectInfo>>() {
        return Some(&peer.activity);
    }
    extensions.get::<TlsConnectInfo<Peer<TcpConnectInfo>>>().map(|tls| &tls.get_ref().activity)
}

impl<S> tower::Layer<S> for CallLimits {
    type Service = LimitCalls<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LimitCalls { inner, limits: self.clone() }
    }
}

/// The service [`CallLimits`] wraps around the routes.
#[derive(Debug, Clone)]
pub(crate) struct LimitCalls<S> {
    inner: S,
    limits: CallLimits,
}

type Response = http::Response<tonic::body::Body>;
type BoxedFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for LimitCalls<S>
where
    S: tower::Service<http::Request<B>, Response = Response>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxedFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let slot = match self.limits.admit(&request) {
            Ok(slot) => slot,
            Err(status) => return Box::pin(std::future::ready(Ok(status.into_http()))),
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| tonic::body::Body::new(CountedBody { body, _slot: slot })))
        })
    }
}

/// A response body that keeps its call counted until it is finished or dropped.
#[derive(Debug)]
struct CountedBody {
    body: tonic::body::Body,
    _slot: CallSlot,
}

impl Body for CountedBody {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(global: usize, per_connection: usize) -> CallLimits {
        CallLimits::new(global, per_connection, Arc::new(Metrics::default()))
    }

    fn request_on(activity: &Arc<Activity>) -> http::Request<()> {
        let mut request = http::Request::new(());
        let info = UdsConnectInfo { peer_addr: None, peer_cred: None };
        request.extensions_mut().insert(Peer { transport: info, activity: Arc::clone(activity) });
        request
    }

    #[test]
    fn calls_are_admitted_up_to_each_cap_and_counted_until_dropped() {
        let limits = limits(3, 2);
        let (first, second) = (Activity::new(), Activity::new());
        let a = limits.admit(&request_on(&first)).unwrap();
        let b = limits.admit(&request_on(&first)).unwrap();
        let refused = limits.admit(&request_on(&first)).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert!(refused.message().contains("this connection"), "{}", refused.message());
        assert_eq!(first.idle_for(), None, "calls are in progress");
        let c = limits.admit(&request_on(&second)).unwrap();
        let global = limits.admit(&request_on(&second)).unwrap_err();
        assert!(global.message().contains("in the daemon"), "{}", global.message());
        drop((a, b));
        assert!(first.idle_for().is_some(), "the connection is quiet again");
        limits.admit(&request_on(&first)).unwrap();
        drop(c);
    }
}

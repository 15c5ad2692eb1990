//! The connection layer between the listeners and the gRPC services: how many connections, streams
//! and calls the daemon takes on and for how long (settings in `[connections]`), and, on the Unix
//! socket, the `:authority` rewrite that lets grpc-core and grpc-java clients in and the PKCS#11
//! module's lean wire beside gRPC (`wire.rs`).

/// `AsyncWrite` for a stream wrapper whose writes go to its `inner` stream unchanged (the wrappers
/// here only watch or rewrite what the client sends).
macro_rules! writes_through_to_inner {
    ($wrapper:ident) => {
        impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for $wrapper<S> {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                self.inner.is_write_vectored()
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_flush(cx)
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
            }
        }
    };
}

mod activity;
mod admission;
mod authority;
mod connection;
mod frames;
mod gate;
mod settings;
mod wire;

#[cfg(test)]
mod authority_tests;

pub(crate) use activity::CallLimits;
pub(crate) use admission::{Admission, Gate};
pub(crate) use connection::Peer;
pub(crate) use settings::ConnectionSettings;
pub(crate) use wire::WireServer;

//! Blocking work (fsync, Argon2id, key generation) runs on the blocking pool, never on the
//! reactor; and a poisoned lock of the service's state becomes one storage error.

use crate::error::{Error, Result};

/// Runs blocking work (fsync, Argon2id) off the async reactor.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Storage(format!("a blocking task failed: {e}")))?
}

pub(super) fn poisoned() -> Error {
    Error::Storage("service state lock poisoned".into())
}

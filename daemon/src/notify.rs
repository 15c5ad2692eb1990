//! The systemd notification protocol (`Type=notify`): READY once listening, STATUS for the seal
//! state, STOPPING on shutdown. Without `NOTIFY_SOCKET` in the environment it does nothing.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends one notification; failures are logged, never fatal (the daemon works without systemd).
pub(crate) fn notify(state: &str) {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else { return };
    let target = target.to_string_lossy().into_owned();
    let address = match target.strip_prefix('@') {
        Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name.as_bytes()),
        None => SocketAddr::from_pathname(&target),
    };
    let sent = address.and_then(|address| UnixDatagram::unbound()?.send_to_addr(state.as_bytes(), &address));
    if let Err(error) = sent {
        tracing::warn!(%error, socket = %target, "cannot notify systemd");
    }
}

/// The STATUS line for a seal state.
pub(crate) fn status_line(sealed: bool, key_count: u64) -> String {
    if sealed {
        "STATUS=sealed: waiting for `arcactl unseal`".to_owned()
    } else {
        format!("STATUS=unsealed, {key_count} keys")
    }
}

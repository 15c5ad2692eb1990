//! The `[connections]` settings: every limit the connection layer enforces before a call reaches
//! a service, each with a default that bounds the daemon's memory and file descriptors when
//! clients misbehave (docs/decisions.md, "Connection limits").

use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Descriptors the daemon needs besides its connections: the store, the audit log and its
/// rotations, the listeners, the metrics endpoint, stdio and the runtime's own.
pub(super) const DESCRIPTORS_FOR_THE_DAEMON: u64 = 64;

/// The `[connections]` section of the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionSettings {
    /// Open connections, all listeners together, beyond which a client that is not an
    /// administrator is disconnected at once.
    pub max_connections: usize,
    /// Further Unix-socket connections accepted only from administrators (by peer uid), so an
    /// operator can always reach a daemon whose clients have used up `max_connections`.
    pub admin_reserve: usize,
    /// A connection with no call in progress for this long is closed; 0 never.
    pub idle_timeout_secs: u64,
    /// HTTP/2 streams one connection may have open (SETTINGS_MAX_CONCURRENT_STREAMS).
    pub max_concurrent_streams: u32,
    /// Bytes of request headers (SETTINGS_MAX_HEADER_LIST_SIZE, counted as HTTP/2 does).
    pub max_header_list_size: u32,
    /// Calls in progress on one connection; further ones end with RESOURCE_EXHAUSTED.
    pub max_requests_per_connection: usize,
    /// Calls in progress in the whole daemon; further ones end with RESOURCE_EXHAUSTED.
    pub max_requests: usize,
    /// How often an HTTP/2 PING checks that a peer is still there; 0 never.
    pub keepalive_interval_secs: u64,
    /// A peer that has not answered a PING within this long is disconnected.
    pub keepalive_timeout_secs: u64,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            admin_reserve: 16,
            idle_timeout_secs: 300,
            max_concurrent_streams: 128,
            max_header_list_size: 16 * 1024,
            max_requests_per_connection: 128,
            max_requests: 1024,
            keepalive_interval_secs: 60,
            keepalive_timeout_secs: 20,
        }
    }
}

impl ConnectionSettings {
    /// Refuses values that would switch a limit off or make the daemon unusable, naming the field.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("max_connections", self.max_connections as u64),
            ("max_concurrent_streams", u64::from(self.max_concurrent_streams)),
            ("max_requests_per_connection", self.max_requests_per_connection as u64),
            ("max_requests", self.max_requests as u64),
            ("keepalive_timeout_secs", self.keepalive_timeout_secs),
        ];
        if let Some((field, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(Error::Config(format!("connections.{field} must be at least 1")));
        }
        // Below this a gRPC call with a few metadata entries no longer fits.
        if self.max_header_list_size < 1024 {
            return Err(Error::Config("connections.max_header_list_size must be at least 1024".into()));
        }
        Ok(())
    }

    pub fn idle_timeout(&self) -> Option<Duration> {
        (self.idle_timeout_secs > 0).then(|| Duration::from_secs(self.idle_timeout_secs))
    }

    pub fn keepalive_interval(&self) -> Option<Duration> {
        (self.keepalive_interval_secs > 0).then(|| Duration::from_secs(self.keepalive_interval_secs))
    }

    pub fn keepalive_timeout(&self) -> Duration {
        Duration::from_secs(self.keepalive_timeout_secs)
    }

    /// The connection cap the descriptor limit allows: every connection is a descriptor, and
    /// `accept` failing with EMFILE leaves clients waiting in the backlog until they time out,
    /// so the cap (with the administrators' reserve) must stay below the limit.
    pub fn connections_within(&self, open_files_limit: u64) -> usize {
        let room = open_files_limit.saturating_sub(DESCRIPTORS_FOR_THE_DAEMON + self.admin_reserve as u64);
        self.max_connections.min(usize::try_from(room).unwrap_or(usize::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_limits_are_refused_and_named() {
        for field in
            ["max_connections", "max_concurrent_streams", "max_requests_per_connection", "max_requests"]
        {
            let text = format!("{field} = 0");
            let settings: ConnectionSettings = toml::from_str(&text).unwrap();
            let error = settings.validate().unwrap_err().to_string();
            assert!(error.contains(&format!("connections.{field}")), "{error}");
            let one: ConnectionSettings = toml::from_str(&format!("{field} = 1")).unwrap();
            one.validate().unwrap();
        }
        let small: ConnectionSettings = toml::from_str("max_header_list_size = 1023").unwrap();
        assert!(small.validate().unwrap_err().to_string().contains("max_header_list_size"));
        let enough: ConnectionSettings = toml::from_str("max_header_list_size = 1024").unwrap();
        enough.validate().unwrap();
        assert!(toml::from_str::<ConnectionSettings>("max_conections = 3").is_err(), "typos are refused");
    }

    #[test]
    fn the_cap_leaves_room_for_the_reserve_and_the_daemon() {
        let settings = ConnectionSettings { max_connections: 1024, admin_reserve: 16, ..Default::default() };
        assert_eq!(settings.connections_within(1_048_576), 1024);
        assert_eq!(settings.connections_within(1024), 1024 - 64 - 16);
        assert_eq!(settings.connections_within(10), 0);
        assert_eq!(settings.idle_timeout(), Some(Duration::from_secs(300)));
        let never = ConnectionSettings { idle_timeout_secs: 0, ..Default::default() };
        assert_eq!(never.idle_timeout(), None);
    }
}

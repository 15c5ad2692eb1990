//! Where the daemon is: `ARCA_SOCKET`, `ARCA_ENDPOINT` and `ARCA_PKCS11_CONF`.
//!
//! - `ARCA_SOCKET=/path/arca.sock` (or `unix:/path`) wins when set and non-empty.
//! - `ARCA_ENDPOINT=https://host:port` needs `ARCA_PKCS11_CONF`, a small `key = value` file
//!   naming the PEM files of mutual TLS (`ca_cert`, `client_cert`, `client_key`); blank lines
//!   and `#` comments are ignored, values may be double-quoted, relative paths are taken from
//!   the file's directory. `ARCA_ENDPOINT` may also hold a socket path.
//! - `ARCA_ENDPOINT` may name several nodes, comma-separated and all of one kind
//!   (`https://a:7443,https://b:7443` or `unix:/x/a.sock,unix:/y/b.sock`): the module fails over
//!   between them in that order (`crate::client`). The TLS file applies to every node.
//! - Otherwise the production socket, `/run/arca/arca.sock`.
//! - `ARCA_PKCS11_TRANSPORT=grpc` makes the module speak gRPC on Unix sockets too, instead of the
//!   Token service's lean wire (`wire`, the default; `crate::wire_client`). TLS endpoints are
//!   always gRPC.
//!
//! A configuration that cannot be understood (an unknown scheme, https without the file, an
//! unreadable or malformed file, an empty element or mixed kinds in a list) makes `C_Initialize`
//! fail with `CKR_FUNCTION_FAILED`: unlike a daemon that is down, it will not fix itself. The PEM
//! files themselves are read at connect time.

use std::path::{Path, PathBuf};

use arca_proto::{DEFAULT_SOCKET, DaemonEndpoint, DaemonEndpoints, TlsClientFiles};

use crate::error::Error;

/// The variable naming the daemon's socket.
pub const SOCKET_VAR: &str = "ARCA_SOCKET";
/// The variable naming the daemon's `https://` endpoint (or the nodes' endpoints).
pub const ENDPOINT_VAR: &str = "ARCA_ENDPOINT";
/// The variable naming the TLS client configuration file.
pub const CONF_VAR: &str = "ARCA_PKCS11_CONF";

/// The variable choosing the protocol on Unix sockets.
pub const TRANSPORT_VAR: &str = "ARCA_PKCS11_TRANSPORT";

/// The protocol the module speaks on Unix sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnixTransport {
    /// The Token service's lean wire (the default).
    Wire,
    /// gRPC, as on TLS endpoints.
    Grpc,
}

/// The Unix-socket protocol the environment chooses; an unknown value is a configuration error.
pub fn unix_transport_from_env() -> Result<UnixTransport, Error> {
    match std::env::var(TRANSPORT_VAR).ok().as_deref() {
        None | Some("" | "wire") => Ok(UnixTransport::Wire),
        Some("grpc") => Ok(UnixTransport::Grpc),
        Some(_) => Err(Error::Configuration),
    }
}

/// The daemon endpoints the environment names, in the order they are tried.
pub fn endpoint_from_env() -> Result<DaemonEndpoints, Error> {
    let var = |name| std::env::var(name).ok().filter(|value: &String| !value.is_empty());
    resolve(var(SOCKET_VAR), var(ENDPOINT_VAR), var(CONF_VAR), |path| std::fs::read_to_string(path))
}

/// The endpoints for the given variables; `read` reads the configuration file.
pub fn resolve(
    socket: Option<String>,
    endpoint: Option<String>,
    conf: Option<String>,
    read: impl FnOnce(&Path) -> std::io::Result<String>,
) -> Result<DaemonEndpoints, Error> {
    if let Some(socket) = socket {
        return one(&socket);
    }
    let Some(endpoint) = endpoint else {
        return one(DEFAULT_SOCKET);
    };
    if !endpoint.starts_with("https://") {
        return parse(&endpoint, None);
    }
    let conf = PathBuf::from(conf.ok_or(Error::Configuration)?);
    let text = read(&conf).map_err(|_| Error::Configuration)?;
    let base = conf.parent().unwrap_or_else(|| Path::new("."));
    parse(&endpoint, Some(parse_tls_conf(&text, base)?))
}

/// `ARCA_SOCKET` names one socket, whatever its path holds.
fn one(text: &str) -> Result<DaemonEndpoints, Error> {
    DaemonEndpoint::parse(text, None).map(DaemonEndpoints::from).map_err(|_| Error::Configuration)
}

fn parse(text: &str, tls: Option<TlsClientFiles>) -> Result<DaemonEndpoints, Error> {
    DaemonEndpoints::parse(text, tls).map_err(|_| Error::Configuration)
}

/// Parses the `key = value` TLS client file.
pub fn parse_tls_conf(text: &str, base: &Path) -> Result<TlsClientFiles, Error> {
    let (mut ca_cert, mut client_cert, mut client_key) = (None, None, None);
    for line in text.lines() {
        let line = line.split_once('#').map_or(line, |(before, _)| before).trim();
        if line.is_empty() {
            continue;
        }
        let (key, value) = line.split_once('=').ok_or(Error::Configuration)?;
        let value = unquote(value.trim());
        if value.is_empty() {
            return Err(Error::Configuration);
        }
        let slot = match key.trim() {
            "ca_cert" => &mut ca_cert,
            "client_cert" => &mut client_cert,
            "client_key" => &mut client_key,
            _ => return Err(Error::Configuration),
        };
        *slot = Some(base.join(value));
    }
    match (ca_cert, client_cert, client_key) {
        (Some(ca_cert), Some(client_cert), Some(client_key)) => {
            Ok(TlsClientFiles { ca_cert, client_cert, client_key })
        }
        _ => Err(Error::Configuration),
    }
}

fn unquote(value: &str) -> &str {
    value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "# Arca PKCS#11 client\nca_cert = /etc/arca/ca.pem\n\n\
                        client_cert = \"client.pem\"  # relative\nclient_key=client.key\n";

    fn no_file(_: &Path) -> std::io::Result<String> {
        Err(std::io::Error::from(std::io::ErrorKind::NotFound))
    }

    fn unix(endpoints: &DaemonEndpoints) -> &Path {
        match endpoints.as_slice() {
            [DaemonEndpoint::Unix(path)] => path,
            other => panic!("expected one socket, got {other:?}"),
        }
    }

    #[test]
    fn default_is_the_production_socket() {
        let endpoint = resolve(None, None, None, no_file).unwrap();
        assert_eq!(unix(&endpoint), Path::new("/run/arca/arca.sock"));
    }

    #[test]
    fn socket_wins_over_endpoint() {
        let endpoint =
            resolve(Some("/tmp/a.sock".into()), Some("https://h:1".into()), None, no_file).unwrap();
        assert_eq!(unix(&endpoint), Path::new("/tmp/a.sock"));
        let endpoint = resolve(Some("unix:/tmp/b.sock".into()), None, None, no_file).unwrap();
        assert_eq!(unix(&endpoint), Path::new("/tmp/b.sock"));
    }

    #[test]
    fn https_reads_the_conf_file() {
        let read = |path: &Path| {
            assert_eq!(path, Path::new("/etc/arca/pkcs11.conf"));
            Ok(CONF.to_owned())
        };
        let endpoint =
            resolve(None, Some("https://kms:7443".into()), Some("/etc/arca/pkcs11.conf".into()), read)
                .unwrap();
        let [DaemonEndpoint::Tls { url, files }] = endpoint.as_slice() else { panic!("expected TLS") };
        assert_eq!(url, "https://kms:7443");
        assert_eq!(files.ca_cert, Path::new("/etc/arca/ca.pem"));
        assert_eq!(files.client_cert, Path::new("/etc/arca/client.pem"));
        assert_eq!(files.client_key, Path::new("/etc/arca/client.key"));
    }

    #[test]
    fn https_without_a_usable_conf_is_a_configuration_error() {
        assert_eq!(
            resolve(None, Some("https://kms:7443".into()), None, no_file).err(),
            Some(Error::Configuration)
        );
        let missing = resolve(None, Some("https://kms:7443".into()), Some("/nope".into()), no_file);
        assert_eq!(missing.err(), Some(Error::Configuration));
        assert_eq!(
            resolve(None, Some("http://kms:80".into()), None, no_file).err(),
            Some(Error::Configuration)
        );
    }

    #[test]
    fn endpoint_lists_name_the_nodes_in_order() {
        let sockets = resolve(None, Some("unix:/x/a.sock,/y/b.sock".into()), None, no_file).unwrap();
        assert_eq!(sockets.to_string(), "unix:/x/a.sock,unix:/y/b.sock");
        let read = |_: &Path| Ok(CONF.to_owned());
        let urls = "https://a:7443,https://b:7443".to_owned();
        let nodes = resolve(None, Some(urls), Some("/etc/arca/pkcs11.conf".into()), read).unwrap();
        for node in nodes.as_slice() {
            let DaemonEndpoint::Tls { files, .. } = node else { panic!("expected TLS") };
            assert_eq!(files.client_key, Path::new("/etc/arca/client.key"), "one TLS file for all");
        }
        assert_eq!(nodes.to_string(), "https://a:7443,https://b:7443");
        // ARCA_SOCKET names one socket even with a comma in its path.
        let socket = resolve(Some("/tmp/a,b.sock".into()), None, None, no_file).unwrap();
        assert_eq!(unix(&socket), Path::new("/tmp/a,b.sock"));
    }

    #[test]
    fn bad_endpoint_lists_are_configuration_errors() {
        let read = |_: &Path| Ok(CONF.to_owned());
        let conf = || Some("/etc/arca/pkcs11.conf".to_owned());
        for list in ["unix:/a,", ",unix:/a", "unix:/a,,unix:/b", "unix:/a,https://b:1", "unix:/a,ftp://b"] {
            assert_eq!(
                resolve(None, Some(list.into()), conf(), read).err(),
                Some(Error::Configuration),
                "{list}"
            );
        }
        let mixed = resolve(None, Some("https://a:1,unix:/b".into()), conf(), read);
        assert_eq!(mixed.err(), Some(Error::Configuration));
        let no_conf = resolve(None, Some("https://a:1,https://b:1".into()), None, no_file);
        assert_eq!(no_conf.err(), Some(Error::Configuration));
    }

    #[test]
    fn conf_file_errors() {
        let base = Path::new("/etc");
        assert!(parse_tls_conf("ca_cert = a\nclient_cert = b\n", base).is_err());
        assert!(parse_tls_conf("ca_cert = a\nclient_cert = b\nclient_key = c\nextra = d\n", base).is_err());
        assert!(parse_tls_conf("ca_cert a\n", base).is_err());
        assert!(parse_tls_conf("ca_cert =\nclient_cert = b\nclient_key = c\n", base).is_err());
        assert!(parse_tls_conf("ca_cert = a\nclient_cert = b\nclient_key = c\n", base).is_ok());
    }
}

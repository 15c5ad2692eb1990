//! The nodes of one deployment: several daemon addresses of one kind, tried in order.
//!
//! `ARCA_ENDPOINT` and `arcactl --endpoint` take a comma-separated list
//! (`https://a:7443,https://b:7443`, `unix:/x/a.sock,unix:/y/b.sock`). Text without a comma is one
//! [`DaemonEndpoint`], parsed exactly as before lists existed, errors included. A list holds
//! socket paths only or `https://` URLs only, and the TLS client files apply to every element;
//! an empty element or a mix of kinds is refused with the list named. A socket path that
//! contains a comma cannot be an element of a list (it still works alone).

use crate::endpoint::{ConnectError, DaemonEndpoint, TlsClientFiles};

/// What separates the elements of a list of endpoints.
pub const ENDPOINT_SEPARATOR: char = ',';

/// Why a list of endpoints was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ListFault {
    #[error("an element is empty")]
    EmptyElement,
    #[error("it mixes socket paths and https:// URLs (the nodes of a list are reached one way)")]
    MixedKinds,
}

/// One or more daemon endpoints of one kind, in the order they are tried; never empty.
#[derive(Debug, Clone)]
pub struct DaemonEndpoints(Vec<DaemonEndpoint>);

impl DaemonEndpoints {
    /// Parses one endpoint as [`DaemonEndpoint::parse`] does, or a comma-separated list of them;
    /// `tls` applies to every `https://` element.
    pub fn parse(text: &str, tls: Option<TlsClientFiles>) -> Result<Self, ConnectError> {
        if !text.contains(ENDPOINT_SEPARATOR) {
            return DaemonEndpoint::parse(text, tls).map(Self::from);
        }
        let refuse = |fault| ConnectError::InvalidEndpointList { list: text.to_owned(), fault };
        // The first element's kind is the list's; judged before parsing, so that a socket list
        // with a URL in it is called mixed rather than a URL without its TLS files.
        let tls_list = is_url(text);
        let mut endpoints = Vec::new();
        for element in text.split(ENDPOINT_SEPARATOR) {
            if element.is_empty() {
                return Err(refuse(ListFault::EmptyElement));
            }
            if is_url(element) != tls_list {
                return Err(refuse(ListFault::MixedKinds));
            }
            endpoints.push(DaemonEndpoint::parse(element, tls.clone())?);
        }
        Ok(Self(endpoints))
    }

    /// The endpoints, in the order they are tried.
    pub fn as_slice(&self) -> &[DaemonEndpoint] {
        &self.0
    }

    /// The position after `index`, wrapping round to the first.
    pub fn after(&self, index: usize) -> usize {
        (index + 1) % self.0.len()
    }
}

impl From<DaemonEndpoint> for DaemonEndpoints {
    fn from(endpoint: DaemonEndpoint) -> Self {
        Self(vec![endpoint])
    }
}

impl std::fmt::Display for DaemonEndpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (index, endpoint) in self.0.iter().enumerate() {
            if index > 0 {
                write!(f, "{ENDPOINT_SEPARATOR}")?;
            }
            write!(f, "{endpoint}")?;
        }
        Ok(())
    }
}

/// True for an element [`DaemonEndpoint::parse`] takes as a TLS endpoint (all others are socket
/// paths or refused).
fn is_url(element: &str) -> bool {
    element.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn files() -> TlsClientFiles {
        let path = PathBuf::from;
        TlsClientFiles { ca_cert: path("ca.pem"), client_cert: path("c.pem"), client_key: path("c.key") }
    }

    fn fault(text: &str, tls: Option<TlsClientFiles>) -> ListFault {
        match DaemonEndpoints::parse(text, tls) {
            Err(ConnectError::InvalidEndpointList { list, fault }) => {
                assert_eq!(list, text);
                fault
            }
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    #[test]
    fn one_endpoint_parses_as_before() {
        let one = DaemonEndpoints::parse("/run/arca/arca.sock", None).unwrap();
        assert!(
            matches!(one.as_slice(), [DaemonEndpoint::Unix(path)] if path == Path::new("/run/arca/arca.sock"))
        );
        let tls = DaemonEndpoints::parse("https://kms:7443", Some(files())).unwrap();
        assert!(matches!(tls.as_slice(), [DaemonEndpoint::Tls { url, .. }] if url == "https://kms:7443"));
        for bad in ["", "http://kms:80", "https://kms:7443"] {
            let error = DaemonEndpoints::parse(bad, None).unwrap_err();
            assert!(matches!(&error, ConnectError::InvalidEndpoint(text) if text == bad), "{error}");
        }
    }

    #[test]
    fn lists_keep_their_order_and_give_every_element_the_tls_files() {
        let list =
            DaemonEndpoints::parse("https://a:7443,https://b:7443,https://c:7443", Some(files())).unwrap();
        let urls: Vec<String> = list.as_slice().iter().map(ToString::to_string).collect();
        assert_eq!(urls, ["https://a:7443", "https://b:7443", "https://c:7443"]);
        for endpoint in list.as_slice() {
            let DaemonEndpoint::Tls { files, .. } = endpoint else { panic!("expected TLS") };
            assert_eq!(files.ca_cert, Path::new("ca.pem"));
        }
        assert_eq!(list.to_string(), "https://a:7443,https://b:7443,https://c:7443");
        let sockets = DaemonEndpoints::parse("unix:/x/a.sock,/y/b.sock", None).unwrap();
        assert_eq!(sockets.to_string(), "unix:/x/a.sock,unix:/y/b.sock");
        assert_eq!((sockets.after(0), sockets.after(1)), (1, 0), "wraps round");
    }

    #[test]
    fn empty_elements_and_mixed_kinds_are_refused_with_the_list_named() {
        for text in [",", "unix:/a,", ",unix:/a", "unix:/a,,unix:/b"] {
            assert_eq!(fault(text, None), ListFault::EmptyElement, "{text:?}");
        }
        assert_eq!(fault("unix:/a,https://b:7443", Some(files())), ListFault::MixedKinds);
        assert_eq!(fault("https://b:7443,/run/a.sock", Some(files())), ListFault::MixedKinds);
        assert_eq!(fault("unix:/a,https://b:7443", None), ListFault::MixedKinds, "not a URL without files");
        let message = DaemonEndpoints::parse("unix:/a,", None).unwrap_err().to_string();
        assert_eq!(message, "invalid endpoint list \"unix:/a,\": an element is empty");
    }

    #[test]
    fn a_bad_element_is_named_alone() {
        let error = DaemonEndpoints::parse("unix:/a,ftp://b", None).unwrap_err();
        assert!(matches!(&error, ConnectError::InvalidEndpoint(text) if text == "ftp://b"), "{error}");
        let error = DaemonEndpoints::parse("https://a:1,https://b:2", None).unwrap_err();
        assert!(matches!(&error, ConnectError::InvalidEndpoint(text) if text == "https://a:1"), "{error}");
    }
}

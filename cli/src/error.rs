//! The one error type of arcactl and how it is reported.

use arca_proto::{ConnectError, REQUEST_ID_HEADER};
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error("{}", chain(.0))]
    Connect(#[from] ConnectError),
    /// No node of an --endpoint list could be reached: each node and why, in the order tried.
    #[error("no endpoint could be reached: {}", tried(.0))]
    Unreachable(Vec<(String, CliError)>),
    #[error("{}: {}{}", arca_proto::code_name(.0.code()), .0.message(), request_id_note(.0))]
    Rpc(#[from] Status),
    #[error("DEADLINE_EXCEEDED: no answer within {0} s")]
    Timeout(u64),
    #[error("{0}")]
    Input(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("the OS random number generator failed: {0}")]
    Random(String),
    #[error("interrupted: {0}")]
    Interrupted(String),
    /// An error and what to do about it.
    #[error("{source} ({hint})")]
    Hint { source: Box<CliError>, hint: &'static str },
}

impl CliError {
    #[must_use]
    pub(crate) fn hint(self, hint: &'static str) -> Self {
        Self::Hint { source: Box::new(self), hint }
    }

    /// The error of a connection attempt on every node: one node's own error as it is, several
    /// as [`CliError::Unreachable`].
    pub(crate) fn unreachable(mut tried: Vec<(String, CliError)>) -> Self {
        match tried.pop() {
            Some((_, only)) if tried.is_empty() => only,
            Some(last) => {
                tried.push(last);
                Self::Unreachable(tried)
            }
            None => Self::Input("no endpoint given".to_owned()),
        }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}

/// An error and its causes, as `outer: inner: innermost` (tonic's transport errors say little alone).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Each node and why it failed, in the order tried (`node: error` unless the error names it).
fn tried(nodes: &[(String, CliError)]) -> String {
    let each = nodes.iter().map(|(node, error)| {
        let text = error.to_string();
        if text.contains(node.as_str()) { text } else { format!("{node}: {text}") }
    });
    each.collect::<Vec<_>>().join("; ")
}

fn request_id_note(status: &Status) -> String {
    status
        .metadata()
        .get(REQUEST_ID_HEADER)
        .and_then(|id| id.to_str().ok())
        .map_or_else(String::new, |id| format!(" (request id {id})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_unreachable_node_fails_as_before_and_several_are_each_named() {
        let timeout = || ("unix:/a".to_owned(), CliError::Timeout(3));
        assert_eq!(
            CliError::unreachable(vec![timeout()]).to_string(),
            "DEADLINE_EXCEEDED: no answer within 3 s"
        );
        let refused = ("unix:/b".to_owned(), CliError::Input("cannot connect to unix:/b: refused".into()));
        assert_eq!(
            CliError::unreachable(vec![timeout(), refused]).to_string(),
            "no endpoint could be reached: unix:/a: DEADLINE_EXCEEDED: no answer within 3 s; \
             cannot connect to unix:/b: refused"
        );
    }
}

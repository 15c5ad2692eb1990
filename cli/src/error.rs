//! The one error type of arcactl and how it is reported.

use arca_proto::{ConnectError, REQUEST_ID_HEADER};
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error("{}", chain(.0))]
    Connect(#[from] ConnectError),
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

fn request_id_note(status: &Status) -> String {
    status
        .metadata()
        .get(REQUEST_ID_HEADER)
        .and_then(|id| id.to_str().ok())
        .map_or_else(String::new, |id| format!(" (request id {id})"))
}

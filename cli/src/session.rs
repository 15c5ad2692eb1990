//! One connection to the daemon; every call carries the request id and is bounded by --timeout.
//!
//! `--endpoint` may name several nodes (`https://a:7443,https://b:7443`): they are tried in
//! order, each for at most --timeout, and the first that can be reached serves the command. Only
//! reaching a node moves on to the next; a call that failed once sent is not sent again
//! elsewhere, since it may have taken effect. When none can be reached the error names each node
//! and why (one node fails exactly as before lists existed).

use std::future::Future;
use std::time::Duration;

use arca_proto::v1::admin_client::AdminClient;
use arca_proto::v1::key_management_client::KeyManagementClient;
use arca_proto::{ConnectError, DaemonEndpoint, DaemonEndpoints, REQUEST_ID_HEADER, TlsClientFiles};
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;
use tonic::{Request, Response, Status, Streaming};

use crate::cli::Global;
use crate::error::CliError;
use crate::input::request_id_value;

#[derive(Debug)]
pub(crate) struct Session {
    channel: Channel,
    request_id: Option<AsciiMetadataValue>,
    timeout: Duration,
}

impl Session {
    /// Connects to the first node of [`endpoints`] that can be reached.
    pub(crate) async fn connect(global: &Global) -> Result<Self, CliError> {
        let mut unreachable = Vec::new();
        for endpoint in endpoints(global)?.as_slice() {
            match Self::connect_to(endpoint, global).await {
                Ok(session) => return Ok(session),
                Err(error) if is_unreachable(&error) => unreachable.push((endpoint.to_string(), error)),
                Err(error) => return Err(error),
            }
        }
        Err(CliError::unreachable(unreachable))
    }

    /// Connects to one node, waiting at most --timeout.
    pub(crate) async fn connect_to(endpoint: &DaemonEndpoint, global: &Global) -> Result<Self, CliError> {
        let timeout = Duration::from_secs(global.timeout);
        let channel = tokio::time::timeout(timeout, endpoint.connect())
            .await
            .map_err(|_| CliError::Timeout(global.timeout))??;
        Ok(Self { channel, request_id: request_id_value(global.request_id.as_deref())?, timeout })
    }

    pub(crate) fn kms(&self) -> KeyManagementClient<Channel> {
        KeyManagementClient::new(self.channel.clone())
    }

    pub(crate) fn admin(&self) -> AdminClient<Channel> {
        AdminClient::new(self.channel.clone())
    }

    pub(crate) fn token(&self) -> arca_proto::v1::token_client::TokenClient<Channel> {
        arca_proto::v1::token_client::TokenClient::new(self.channel.clone())
    }

    /// Wraps a message, adding the `x-request-id` metadata when one was given.
    pub(crate) fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(id) = &self.request_id {
            request.metadata_mut().insert(REQUEST_ID_HEADER, id.clone());
        }
        request
    }

    /// Awaits a call for at most --timeout and unwraps its message.
    pub(crate) async fn call<T>(
        &self,
        call: impl Future<Output = Result<Response<T>, Status>>,
    ) -> Result<T, CliError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(outcome) => Ok(outcome?.into_inner()),
            Err(_) => Err(CliError::Timeout(self.timeout.as_secs())),
        }
    }

    /// The next message of a server stream, waiting at most --timeout for it; `None` at the end.
    pub(crate) async fn next<T>(&self, stream: &mut Streaming<T>) -> Result<Option<T>, CliError> {
        match tokio::time::timeout(self.timeout, stream.message()).await {
            Ok(outcome) => Ok(outcome?),
            Err(_) => Err(CliError::Timeout(self.timeout.as_secs())),
        }
    }
}

/// The nodes --endpoint names in order, or the one --socket names.
pub(crate) fn endpoints(global: &Global) -> Result<DaemonEndpoints, CliError> {
    let Some(url) = &global.endpoint else { return Ok(DaemonEndpoint::Unix(global.socket()).into()) };
    let tls = match (&global.ca_cert, &global.client_cert, &global.client_key) {
        (Some(ca_cert), Some(client_cert), Some(client_key)) => Some(TlsClientFiles {
            ca_cert: ca_cert.clone(),
            client_cert: client_cert.clone(),
            client_key: client_key.clone(),
        }),
        _ => None,
    };
    if url.starts_with("https://") && tls.is_none() {
        return Err(CliError::Input(format!("{url} needs --ca-cert, --client-cert and --client-key")));
    }
    Ok(DaemonEndpoints::parse(url, tls)?)
}

/// Whether connecting failed for want of a node that answers (the next one may), rather than for
/// something every node would refuse alike (an unreadable certificate file).
fn is_unreachable(error: &CliError) -> bool {
    match error {
        CliError::Connect(ConnectError::Transport { .. }) | CliError::Timeout(_) => true,
        CliError::Connect(
            ConnectError::ReadFile { .. }
            | ConnectError::InvalidEndpoint(_)
            | ConnectError::InvalidEndpointList { .. },
        ) => false,
        CliError::Rpc(_)
        | CliError::Input(_)
        | CliError::Io { .. }
        | CliError::Runtime(_)
        | CliError::Random(_)
        | CliError::Interrupted(_)
        | CliError::Hint { .. }
        | CliError::Unreachable(_) => false,
    }
}

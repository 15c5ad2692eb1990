//! A PKCS#11 application spoken to directly over `arca.v1.Token`, as `libarca_pkcs11.so` speaks
//! to the daemon: attached for as long as the value lives, each request carrying its id.

use arca_proto::APPLICATION_HEADER;
use arca_proto::v1 as pb;
use tonic::Request;
use tonic::transport::Channel;

use crate::Daemon;

/// The Token service's client.
pub type TokenClient = pb::token_client::TokenClient<Channel>;

/// An attached application; dropping it ends the Attach stream, and with it the application.
pub struct TokenApp {
    pub client: TokenClient,
    pub id: String,
    /// The request cap the daemon announced on attaching.
    pub max_request_bytes: u64,
    _events: tonic::Streaming<pb::AttachEvent>,
}

impl TokenApp {
    pub async fn attach(daemon: &Daemon, name: &str) -> Self {
        let mut client = TokenClient::new(daemon.channel().await);
        let request = pb::AttachRequest { application_name: name.into() };
        let mut events = client.attach(request).await.unwrap().into_inner();
        let first = events.message().await.unwrap().unwrap();
        Self { client, id: first.application_id, max_request_bytes: first.max_request_bytes, _events: events }
    }

    /// `message` as a request of this application.
    pub fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.metadata_mut().insert(APPLICATION_HEADER, self.id.parse().unwrap());
        request
    }
}

//! `token_wire`: the bytes a local client sends on the daemon's Unix socket once it has opened
//! with the Token wire's first byte: the preface, the application id, then frames. Served by
//! `arca_proto::wire::serve_connection` over a stub service that answers every method with an
//! empty response (the service itself is the daemon's, reached by gRPC tests and the other
//! targets). Invariants: the server ends when the input ends (no hang), and what it wrote is a
//! sequence of whole answer frames, each a response or a status that decodes.

use std::sync::Arc;

use arca_proto::v1::token_server::Token;
use arca_proto::v1::*;
use arca_proto::wire::{self, WireHost, WireStatus};
use prost::Message as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::{Request, Response, Status};

/// The request cap of the served connection: small, so that the refusal path is reached.
const MAX_REQUEST_BYTES: usize = 4096;

struct Stub;

struct Admit;

impl WireHost for Admit {
    type Admitted = ();

    fn admit(&self, _: &mut tonic::Extensions) -> Result<(), Status> {
        Ok(())
    }
}

type Events = tonic::codegen::tokio_stream::Iter<std::vec::IntoIter<Result<AttachEvent, Status>>>;

macro_rules! stub_token {
    ($($id:literal $constant:ident $method:ident $name:literal $request:ident => $response:ident;)*) => {
        #[tonic::async_trait]
        impl Token for Stub {
            type AttachStream = Events;

            async fn attach(&self, _: Request<AttachRequest>) -> Result<Response<Events>, Status> {
                let first = AttachEvent { application_id: "app".into(), max_request_bytes: MAX_REQUEST_BYTES as u64 };
                Ok(Response::new(tonic::codegen::tokio_stream::iter(vec![Ok(first)])))
            }

            $(async fn $method(&self, request: Request<$request>) -> Result<Response<$response>, Status> {
                drop(request);
                Ok(Response::new($response::default()))
            })*
        }
    };
}

arca_proto::with_unary_token_methods!(stub_token);

pub fn check(data: &[u8]) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    let written = runtime.block_on(async {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let serving =
            wire::serve_connection(server, Arc::new(Stub), Admit, MAX_REQUEST_BYTES, std::future::pending());
        let sending = async {
            let _ = client.write_all(data).await;
            let _ = client.shutdown().await;
            let mut written = Vec::new();
            let _ = client.read_to_end(&mut written).await;
            written
        };
        let ((), written) = tokio::join!(serving, sending);
        written
    });
    let mut rest = written.as_slice();
    while !rest.is_empty() {
        assert!(rest.len() >= wire::FRAME_HEADER_BYTES, "a cut frame header: {rest:?}");
        let (header, body) = rest.split_at(wire::FRAME_HEADER_BYTES);
        let length = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        assert!(length >= 1 && body.len() >= length - 1, "a cut frame");
        let (message, next) = body.split_at(length - 1);
        match header[4] {
            wire::ANSWER_OK => {}
            wire::ANSWER_STATUS => {
                let status = WireStatus::decode(message).expect("a status decodes").into_status();
                assert_ne!(status.code(), tonic::Code::Ok, "a status frame carries a failure");
            }
            kind => panic!("an answer of kind {kind}"),
        }
        rest = next;
    }
}

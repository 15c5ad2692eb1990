//! Serving one wire connection with any `Token` implementation: each frame is decoded, handed to
//! the same trait method tonic's router would call (with the application in `x-arca-app` and the
//! extensions the host adds), and answered on the same task, one call at a time.

use std::future::Future;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use rustix::io::Errno;
use rustix::net::RecvFlags;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tonic::codegen::tokio_stream::StreamExt as _;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::{Request, Response, Status};

use super::client::wipe;
use super::counted::Count;
use super::{
    ANSWER_OK, ANSWER_STATUS, ATTACH, FRAME_HEADER_BYTES, MAX_APPLICATION_ID_BYTES, PREFACE,
    WIRE_STATUS_HEADER, WireStatus,
};
use crate::APPLICATION_HEADER;
use crate::v1::token_server::Token;

/// A stream the wire is served on. One with a descriptor may be polled for the next request
/// without the runtime (see [`serve_connection`]).
pub trait WireStream: AsyncRead + AsyncWrite + Unpin {
    /// The socket to poll; `None`: the server waits through the runtime only.
    fn socket(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}

impl WireStream for tokio::net::UnixStream {
    fn socket(&self) -> Option<BorrowedFd<'_>> {
        Some(self.as_fd())
    }
}

impl WireStream for tokio::io::DuplexStream {}

/// What the server that accepted a connection does around each call on it.
pub trait WireHost: Send + Sync + 'static {
    /// Held while a call runs (for `Attach`, while the application lives).
    type Admitted: Send + 'static;

    /// Admits one call, adding to its extensions what the service reads of the connection (the
    /// peer); a refusal is the call's answer.
    fn admit(&self, extensions: &mut tonic::Extensions) -> Result<Self::Admitted, Status>;
}

/// Serves the wire on `stream` until the client closes it, breaks the protocol, or `stopped`
/// completes while no call is in progress. Requests of more than `max_request_bytes` are refused
/// with `RESOURCE_EXHAUSTED` and end the connection.
pub async fn serve_connection<S, T, H>(
    mut stream: S,
    token: Arc<T>,
    host: H,
    max_request_bytes: usize,
    stopped: impl Future<Output = ()>,
) where
    S: WireStream,
    T: Token,
    H: WireHost,
{
    let mut stopped = std::pin::pin!(stopped);
    let application = tokio::select! {
        biased;
        () = &mut stopped => return,
        application = read_preface(&mut stream) => application,
    };
    let Some(application) = application else { return };
    // The attaching connection (no application yet) carries no calls and is not counted.
    let _open = application.is_some().then(|| OPEN.enter());
    let mut request = Vec::new();
    let mut answer = Vec::new();
    loop {
        let mut header = [0u8; FRAME_HEADER_BYTES];
        tokio::select! {
            biased;
            () = &mut stopped => return,
            read = stream.read_exact(&mut header) => if read.is_err() { return },
        }
        let [l0, l1, l2, l3, method] = header;
        let Some(length) = (u32::from_le_bytes([l0, l1, l2, l3]) as usize).checked_sub(1) else { return };
        if length > max_request_bytes {
            let refusal = wire_status(
                tonic::Code::ResourceExhausted,
                format!("a request of {length} bytes is over the daemon's limit of {max_request_bytes}"),
            );
            encode_status(&mut answer, &refusal);
            let _ = stream.write_all(&answer).await;
            return;
        }
        // The body is taken as it arrives (a header alone commits no memory), and a server
        // stopping does not wait for one that does not come.
        request.clear();
        request.reserve(length.min(BODY_RESERVE_BYTES));
        let mut body = (&mut stream).take(length as u64);
        let read = tokio::select! {
            biased;
            () = &mut stopped => None,
            read = body.read_to_end(&mut request) => read.ok(),
        };
        if read != Some(length) {
            wipe(&mut request);
            return;
        }
        if method == ATTACH.id {
            attach(&mut stream, &token, &host, &request, &mut stopped).await;
            wipe(&mut request);
            return;
        }
        let busy = BUSY.enter();
        dispatch(method, &request, &token, &host, application.as_ref(), &mut answer).await;
        wipe(&mut request);
        let written = stream.write_all(&answer).await;
        wipe(&mut answer);
        if written.is_err() {
            return;
        }
        drop(busy);
        if let Some(socket) = stream.socket() {
            await_next_request_briefly(socket);
        }
    }
}

/// The most memory a request's announced length commits before its bytes arrive.
const BODY_RESERVE_BYTES: usize = 8192;
/// How long the server polls for a connection's next request when it serves nothing else.
const SPIN: Duration = Duration::from_micros(50);
/// Wire calls in progress in this server.
static BUSY: Count = Count::new();
/// Open wire connections that carry calls (an application's) in this server.
static OPEN: Count = Count::new();

/// When this is the server's one wire connection besides applications' attaching ones (which
/// carry no calls) and no call is in progress, polls the socket for up to [`SPIN`] for the
/// client's next request (a PKCS#11 application's `C_Sign` follows its `C_SignInit` within
/// microseconds), so the thread need not sleep and be woken for it. It holds its worker that long
/// at most, and stops as soon as a call starts; with more connections (several application
/// threads, whose calls keep the processors busy) it does not poll at all.
fn await_next_request_briefly(socket: BorrowedFd<'_>) {
    if BUSY.get() != 0 || OPEN.get() > 1 {
        return;
    }
    let until = Instant::now() + SPIN;
    let mut byte = [0u8; 1];
    while BUSY.get() == 0 && Instant::now() < until {
        match rustix::net::recv(socket, &mut byte, RecvFlags::PEEK | RecvFlags::DONTWAIT) {
            Err(Errno::AGAIN | Errno::INTR) => std::hint::spin_loop(),
            // A request, the end of the stream, or an error: the async read takes it from here.
            _ => return,
        }
    }
}

/// Reads the preface and the application id (`None`: not this wire, or a bad id).
async fn read_preface<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Option<AsciiMetadataValue>> {
    let mut magic = [0u8; PREFACE.len()];
    stream.read_exact(&mut magic).await.ok()?;
    if &magic != PREFACE {
        return None;
    }
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).await.ok()?;
    let length = usize::from(u16::from_le_bytes(length));
    if length == 0 {
        return Some(None);
    }
    if length > MAX_APPLICATION_ID_BYTES {
        return None;
    }
    let mut id = vec![0u8; length];
    stream.read_exact(&mut id).await.ok()?;
    AsciiMetadataValue::try_from(id.as_slice()).ok().map(Some)
}

/// A request for the service: the message, the application, the host's extensions.
fn request<Req>(
    message: Req,
    application: Option<&AsciiMetadataValue>,
    extensions: tonic::Extensions,
) -> Request<Req> {
    let mut metadata = MetadataMap::new();
    if let Some(application) = application {
        metadata.insert(APPLICATION_HEADER, application.clone());
    }
    Request::from_parts(metadata, extensions, message)
}

/// Runs one unary call and encodes its answer into `answer`.
async fn unary<'a, Req, Resp, H, Fut>(
    body: &[u8],
    host: &H,
    application: Option<&AsciiMetadataValue>,
    answer: &mut Vec<u8>,
    handler: impl FnOnce(Request<Req>) -> Fut,
) where
    Req: Message + Default,
    Resp: Message,
    H: WireHost,
    Fut: Future<Output = Result<Response<Resp>, Status>> + 'a,
{
    let message = match Req::decode(body) {
        Ok(message) => message,
        Err(error) => {
            let refusal =
                wire_status(tonic::Code::Internal, format!("failed to decode the request: {error}"));
            return encode_status(answer, &refusal);
        }
    };
    let mut extensions = tonic::Extensions::new();
    let admitted = match host.admit(&mut extensions) {
        Ok(admitted) => admitted,
        Err(refusal) => return encode_status(answer, &refusal),
    };
    match handler(request(message, application, extensions)).await {
        Ok(response) => encode_message(answer, ANSWER_OK, response.get_ref()),
        Err(status) => encode_status(answer, &status),
    }
    drop(admitted);
}

macro_rules! dispatch_unary {
    ($($id:literal $constant:ident $method:ident $name:literal $request:ident => $response:ident;)*) => {
        /// Runs the unary call `method` names; an unknown id is `UNIMPLEMENTED`.
        async fn dispatch<T: Token, H: WireHost>(
            method: u8,
            body: &[u8],
            token: &Arc<T>,
            host: &H,
            application: Option<&AsciiMetadataValue>,
            answer: &mut Vec<u8>,
        ) {
            match method {
                $($id => unary(body, host, application, answer, |request| token.$method(request)).await,)*
                unknown => {
                    let refusal = wire_status(tonic::Code::Unimplemented, format!("no Token method {unknown} on this wire"));
                    encode_status(answer, &refusal)
                }
            }
        }
    };
}

crate::with_unary_token_methods!(dispatch_unary);

/// `Attach`: answers the first event, then holds the connection until the client closes it,
/// the application ends (its event stream ends) or the server stops.
async fn attach<S, T, H>(
    stream: &mut S,
    token: &Arc<T>,
    host: &H,
    body: &[u8],
    stopped: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    T: Token,
    H: WireHost,
{
    let mut answer = Vec::new();
    let message = match crate::v1::AttachRequest::decode(body) {
        Ok(message) => message,
        Err(error) => {
            let refusal =
                wire_status(tonic::Code::Internal, format!("failed to decode the request: {error}"));
            encode_status(&mut answer, &refusal);
            let _ = stream.write_all(&answer).await;
            return;
        }
    };
    let mut extensions = tonic::Extensions::new();
    let _admitted = match host.admit(&mut extensions) {
        Ok(admitted) => admitted,
        Err(refusal) => {
            encode_status(&mut answer, &refusal);
            let _ = stream.write_all(&answer).await;
            return;
        }
    };
    let events = match token.attach(request(message, None, extensions)).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            encode_status(&mut answer, &status);
            let _ = stream.write_all(&answer).await;
            return;
        }
    };
    let mut events = std::pin::pin!(events);
    match events.next().await {
        Some(Ok(event)) => encode_message(&mut answer, ANSWER_OK, &event),
        Some(Err(status)) => encode_status(&mut answer, &status),
        None => return,
    }
    if stream.write_all(&answer).await.is_err() {
        return;
    }
    // Nothing more is read on this connection: any byte, or its end, ends the application.
    let mut byte = [0u8; 1];
    loop {
        tokio::select! {
            () = stopped.as_mut() => return,
            _ = stream.read(&mut byte) => return,
            event = events.next() => if !matches!(event, Some(Ok(_))) { return },
        }
    }
}

fn encode_message(answer: &mut Vec<u8>, kind: u8, message: &impl Message) {
    let length = message.encoded_len() + 1;
    answer.clear();
    answer.reserve(FRAME_HEADER_BYTES - 1 + length);
    // Answers are bounded by the module's cap on what it accepts, far below 4 GiB.
    answer.extend_from_slice(&u32::try_from(length).unwrap_or(u32::MAX).to_le_bytes());
    answer.push(kind);
    // Encoding into a `Vec` cannot run out of space.
    let _ = message.encode(answer);
}

/// A status of the wire's own (not the service's): marked with [`WIRE_STATUS_HEADER`], so that a
/// client does not take it for a broken connection, as a gRPC status without metadata is.
fn wire_status(code: tonic::Code, message: String) -> Status {
    let mut status = Status::new(code, message);
    status.metadata_mut().insert(WIRE_STATUS_HEADER, tonic::metadata::AsciiMetadataValue::from_static("1"));
    status
}

fn encode_status(answer: &mut Vec<u8>, status: &Status) {
    encode_message(answer, ANSWER_STATUS, &WireStatus::from_status(status));
}

//! A fake `arca.v1.Token` server on a Unix socket, for the module's own tests: enough behaviour
//! to drive attach, metadata, error mapping, the two-call convention and reconnection. The real
//! daemon is tested against the module by the workspace's end-to-end tests.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arca_proto::v1::attribute_result::Outcome;
use arca_proto::v1::token_server::{Token, TokenServer};
use arca_proto::v1::*;
use arca_proto::{APPLICATION_HEADER, CKR_HEADER};
use cryptoki_sys::*;
use prost::Message;
use tokio::runtime::Runtime;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::{ReceiverStream, UnixListenerStream};
use tonic::{Request, Response, Status};

type Answer<T> = Result<Response<T>, Status>;

/// The request cap the fake announces: the smallest a daemon may have, so tests see pieces.
pub(crate) const FAKE_REQUEST_CAP: u64 = 8 * 1024;

/// What the fake saw.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub attached: Mutex<Vec<String>>,
    pub detached: Mutex<Vec<String>>,
    pub connections: AtomicU64,
    pub mechanisms: Mutex<Vec<Mechanism>>,
    pub templates: Mutex<Vec<Vec<Attribute>>>,
    /// `OperationOneShot` calls (length queries the module answers itself do not count).
    pub one_shots: AtomicU64,
    /// `OperationInit` calls without a mechanism: operations the module ended.
    pub ended: AtomicU64,
    /// Pieces of input held for a later request (`more`), and how many there were.
    pub held: Mutex<Vec<u8>>,
    pub pieces: AtomicU64,
}

/// A running fake daemon; dropping it (or [`FakeDaemon::stop`]) kills it like a crash.
#[derive(Debug)]
pub(crate) struct FakeDaemon {
    runtime: Option<Runtime>,
    socket: PathBuf,
    pub seen: Arc<Seen>,
}

impl FakeDaemon {
    /// Listens on `socket`; application ids are `app-{generation}-{n}`.
    pub(crate) fn start(socket: &Path, generation: u32) -> Self {
        let _ = std::fs::remove_file(socket);
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let seen = Arc::new(Seen::default());
        let service = Fake { generation, next: AtomicU64::new(1), seen: Arc::clone(&seen) };
        let listener = {
            let _entered = runtime.enter();
            tokio::net::UnixListener::bind(socket).unwrap()
        };
        // Like the daemon, the fake speaks gRPC and the lean wire on its socket, told apart by
        // each connection's first byte.
        let counter = Arc::clone(&seen);
        let service = Arc::new(service);
        let (grpc, grpc_incoming) = tokio::sync::mpsc::channel(16);
        let wire = Arc::clone(&service);
        runtime.spawn(async move {
            let mut incoming = UnixListenerStream::new(listener);
            while let Some(Ok(connection)) = incoming.next().await {
                counter.connections.fetch_add(1, Ordering::SeqCst);
                let (grpc, wire) = (grpc.clone(), Arc::clone(&wire));
                tokio::spawn(async move {
                    match first_byte(&connection).await {
                        Some(first) if arca_proto::wire::opens_wire(first) => {
                            let pending = std::future::pending::<()>();
                            arca_proto::wire::serve_connection(connection, wire, NoLimits, 1 << 20, pending)
                                .await;
                        }
                        Some(_) => {
                            let _ = grpc.send(Ok::<_, std::io::Error>(connection)).await;
                        }
                        None => {}
                    }
                });
            }
        });
        runtime.spawn(
            tonic::transport::Server::builder()
                .add_service(TokenServer::from_arc(service))
                .serve_with_incoming(ReceiverStream::new(grpc_incoming)),
        );
        Self { runtime: Some(runtime), socket: socket.to_path_buf(), seen }
    }

    /// Kills the server: every connection and stream drops at once.
    pub(crate) fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(2));
        }
        let _ = std::fs::remove_file(&self.socket);
    }

    pub(crate) fn attached(&self) -> Vec<String> {
        self.seen.attached.lock().unwrap().clone()
    }

    pub(crate) fn detached(&self) -> Vec<String> {
        self.seen.detached.lock().unwrap().clone()
    }

    /// Whether an application ends (its connection closes) within `within`.
    pub(crate) fn sees_a_detach_within(&self, within: Duration) -> bool {
        let start = std::time::Instant::now();
        while self.detached().is_empty() {
            if start.elapsed() >= within {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The fake admits every wire call, and marks it as one.
struct NoLimits;

/// The extension that marks a call that came over the wire.
#[derive(Debug, Clone, Copy)]
struct OverWire;

impl arca_proto::wire::WireHost for NoLimits {
    type Admitted = ();

    fn admit(&self, extensions: &mut tonic::Extensions) -> Result<(), Status> {
        extensions.insert(OverWire);
        Ok(())
    }
}

/// A connection's first byte, left in the socket.
async fn first_byte(stream: &tokio::net::UnixStream) -> Option<u8> {
    let mut first = [0u8; 1];
    loop {
        stream.readable().await.ok()?;
        let peeked = stream.try_io(tokio::io::Interest::READABLE, || {
            rustix::net::recv(stream, &mut first, rustix::net::RecvFlags::PEEK).map_err(std::io::Error::from)
        });
        match peeked {
            Ok((0, _)) => return None,
            Ok(_) => return Some(first[0]),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return None,
        }
    }
}

struct Fake {
    generation: u32,
    next: AtomicU64,
    seen: Arc<Seen>,
}

/// A refusal carrying `x-arca-ckr`.
pub(crate) fn refuse(code: tonic::Code, rv: CK_RV) -> Status {
    let mut status = Status::new(code, "refused");
    status.metadata_mut().insert(CKR_HEADER, format!("0x{rv:08X}").parse().unwrap());
    status
}

/// The fake's rule for outputs: `output` if it fits the space, else the length only.
fn spend(space: Option<OutputSpace>, output: Vec<u8>) -> Answer<OutputResponse> {
    let space = space.unwrap_or_default();
    let length = output.len() as u64;
    let answer = if space.length_only {
        OutputResponse { output: vec![], length, buffer_too_small: false }
    } else if space.capacity < length {
        OutputResponse { output: vec![], length, buffer_too_small: true }
    } else {
        OutputResponse { output, length, buffer_too_small: false }
    };
    Ok(Response::new(answer))
}

impl Fake {
    /// Checks `x-arca-app` like the daemon: an unknown id is CKR_SESSION_HANDLE_INVALID.
    fn app<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let id = request.metadata().get(APPLICATION_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if self.seen.attached.lock().unwrap().iter().any(|known| known == id) {
            Ok(())
        } else {
            Err(refuse(tonic::Code::NotFound, CKR_SESSION_HANDLE_INVALID))
        }
    }

    /// Holds a piece that more follow (`None`), or gives the request with all its input.
    fn whole(&self, mut request: OperationDataRequest) -> Option<OperationDataRequest> {
        assert!(request.encoded_len() <= FAKE_REQUEST_CAP as usize, "a request over the cap");
        let mut held = self.seen.held.lock().unwrap();
        if request.more {
            self.seen.pieces.fetch_add(1, Ordering::SeqCst);
            held.extend_from_slice(&request.data);
            return None;
        }
        let mut data = std::mem::take(&mut *held);
        data.extend_from_slice(&request.data);
        request.data = data;
        Some(request)
    }

    fn empty<T>(&self, request: &Request<T>) -> Answer<Empty> {
        self.app(request)?;
        Ok(Response::new(Empty {}))
    }
}

#[tonic::async_trait]
impl Token for Fake {
    type AttachStream = ReceiverStream<Result<AttachEvent, Status>>;

    async fn attach(&self, request: Request<AttachRequest>) -> Answer<Self::AttachStream> {
        assert!(request.get_ref().application_name.contains('['));
        let id = format!("app-{}-{}", self.generation, self.next.fetch_add(1, Ordering::SeqCst));
        self.seen.attached.lock().unwrap().push(id.clone());
        let (sender, receiver) = tokio::sync::mpsc::channel(1);
        let first = AttachEvent { application_id: id.clone(), max_request_bytes: FAKE_REQUEST_CAP };
        sender.send(Ok(first)).await.unwrap();
        let seen = Arc::clone(&self.seen);
        tokio::spawn(async move {
            sender.closed().await;
            seen.detached.lock().unwrap().push(id);
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }

    async fn get_token_info(&self, request: Request<GetTokenInfoRequest>) -> Answer<TokenInfo> {
        self.app(&request)?;
        // gRPC calls carry their deadline; on the wire the module's own socket timeouts are it.
        if request.metadata().get("grpc-timeout").is_none()
            && request.extensions().get::<OverWire>().is_none()
        {
            return Err(Status::invalid_argument("no deadline"));
        }
        Ok(Response::new(TokenInfo {
            label: "Fake token".into(),
            serial_number: "42".into(),
            flags: CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED | CKF_LOGIN_REQUIRED | CKF_RNG,
            session_count: 1,
            max_pin_len: 64,
            min_pin_len: 4,
            ..TokenInfo::default()
        }))
    }

    async fn get_mechanism_list(
        &self,
        request: Request<GetMechanismListRequest>,
    ) -> Answer<GetMechanismListResponse> {
        self.app(&request)?;
        Ok(Response::new(GetMechanismListResponse { mechanisms: vec![CKM_AES_GCM, CKM_SHA256, CKM_ECDSA] }))
    }

    async fn get_mechanism_info(&self, request: Request<GetMechanismInfoRequest>) -> Answer<MechanismInfo> {
        self.app(&request)?;
        if request.get_ref().mechanism != CKM_AES_GCM {
            return Err(refuse(tonic::Code::InvalidArgument, CKR_MECHANISM_INVALID));
        }
        Ok(Response::new(MechanismInfo {
            min_key_size: 16,
            max_key_size: 32,
            flags: CKF_ENCRYPT | CKF_DECRYPT,
        }))
    }

    async fn init_token(&self, request: Request<InitTokenRequest>) -> Answer<Empty> {
        assert_eq!(request.get_ref().label.len(), 32);
        self.empty(&request)
    }

    async fn unlock_so_pin(&self, _: Request<UnlockSoPinRequest>) -> Answer<Empty> {
        Err(Status::unimplemented("the module never unlocks the SO PIN"))
    }

    async fn init_pin(&self, request: Request<InitPinRequest>) -> Answer<Empty> {
        self.empty(&request)
    }

    async fn set_pin(&self, request: Request<SetPinRequest>) -> Answer<Empty> {
        self.empty(&request)
    }

    async fn login(&self, request: Request<LoginRequest>) -> Answer<Empty> {
        self.app(&request)?;
        if request.get_ref().pin != b"1234" {
            return Err(refuse(tonic::Code::PermissionDenied, CKR_PIN_INCORRECT));
        }
        self.empty(&request)
    }

    async fn logout(&self, request: Request<LogoutRequest>) -> Answer<Empty> {
        self.empty(&request)
    }

    async fn open_session(&self, request: Request<OpenSessionRequest>) -> Answer<OpenSessionResponse> {
        self.app(&request)?;
        Ok(Response::new(OpenSessionResponse { session: 0x1_0000_0007 }))
    }

    async fn close_session(&self, request: Request<SessionRequest>) -> Answer<Empty> {
        self.empty(&request)
    }

    async fn close_all_sessions(&self, request: Request<CloseAllSessionsRequest>) -> Answer<Empty> {
        self.empty(&request)
    }

    async fn get_session_info(&self, request: Request<SessionRequest>) -> Answer<SessionInfo> {
        self.app(&request)?;
        let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
        Ok(Response::new(SessionInfo { state: CKS_RW_USER_FUNCTIONS, flags, device_error: 0 }))
    }

    async fn create_object(&self, request: Request<CreateObjectRequest>) -> Answer<ObjectResponse> {
        self.app(&request)?;
        self.seen.templates.lock().unwrap().push(request.into_inner().template);
        Ok(Response::new(ObjectResponse { object: 99, additional_objects: Vec::new() }))
    }

    async fn copy_object(&self, _: Request<CopyObjectRequest>) -> Answer<ObjectResponse> {
        Err(Status::unimplemented("copy"))
    }

    async fn destroy_object(&self, request: Request<ObjectRequest>) -> Answer<Empty> {
        self.empty(&request)
    }

    async fn get_object_size(&self, _: Request<ObjectRequest>) -> Answer<GetObjectSizeResponse> {
        Err(Status::unimplemented("size"))
    }

    async fn get_attribute_value(
        &self,
        request: Request<GetAttributeValueRequest>,
    ) -> Answer<GetAttributeValueResponse> {
        self.app(&request)?;
        let result = |kind: u64| {
            let (outcome, value) = match kind {
                CKA_CLASS => (Outcome::AttributeOk, CKO_SECRET_KEY.to_le_bytes().to_vec()),
                CKA_LABEL => (Outcome::AttributeOk, b"fake".to_vec()),
                CKA_VALUE => (Outcome::AttributeSensitive, vec![]),
                _ => (Outcome::AttributeTypeInvalid, vec![]),
            };
            AttributeResult { r#type: kind, outcome: outcome as i32, value }
        };
        let attributes = request.get_ref().types.iter().map(|&kind| result(kind)).collect();
        Ok(Response::new(GetAttributeValueResponse { attributes }))
    }

    async fn set_attribute_value(&self, request: Request<SetAttributeValueRequest>) -> Answer<Empty> {
        self.empty(&request)
    }

    async fn find_objects_init(&self, request: Request<FindObjectsInitRequest>) -> Answer<Empty> {
        self.empty(&request)
    }

    async fn find_objects(&self, request: Request<FindObjectsRequest>) -> Answer<FindObjectsResponse> {
        self.app(&request)?;
        let max = usize::try_from(request.get_ref().max_objects).unwrap().min(3);
        Ok(Response::new(FindObjectsResponse { objects: vec![11, 12, 13][..max].to_vec() }))
    }

    async fn find_objects_final(&self, request: Request<SessionRequest>) -> Answer<Empty> {
        self.empty(&request)
    }

    async fn generate_key(&self, _: Request<GenerateKeyRequest>) -> Answer<ObjectResponse> {
        Err(Status::unimplemented("generate"))
    }

    async fn generate_key_pair(&self, _: Request<GenerateKeyPairRequest>) -> Answer<GenerateKeyPairResponse> {
        Err(Status::unimplemented("generate pair"))
    }

    async fn wrap_key(&self, request: Request<WrapKeyRequest>) -> Answer<OutputResponse> {
        self.app(&request)?;
        spend(request.into_inner().space, vec![0x5a; 40])
    }

    async fn unwrap_key(&self, _: Request<UnwrapKeyRequest>) -> Answer<ObjectResponse> {
        Err(Status::unimplemented("unwrap"))
    }

    async fn derive_key(&self, _: Request<DeriveKeyRequest>) -> Answer<ObjectResponse> {
        Err(Status::unimplemented("derive"))
    }

    async fn generate_random(&self, request: Request<TokenRandomRequest>) -> Answer<OutputResponse> {
        self.app(&request)?;
        let length = usize::try_from(request.get_ref().length).unwrap();
        Ok(Response::new(OutputResponse {
            output: vec![0xab; length],
            length: length as u64,
            buffer_too_small: false,
        }))
    }

    /// Encryption outputs the input plus 4 bytes (see `operation_one_shot`).
    async fn operation_init(&self, request: Request<OperationInitRequest>) -> Answer<OperationInitResponse> {
        self.app(&request)?;
        let Some(mechanism) = request.get_ref().mechanism.clone() else {
            self.seen.ended.fetch_add(1, Ordering::SeqCst);
            self.seen.held.lock().unwrap().clear();
            return Ok(Response::new(OperationInitResponse::default()));
        };
        self.seen.mechanisms.lock().unwrap().push(mechanism);
        Ok(Response::new(OperationInitResponse { output_length: 4, plus_input: true }))
    }

    /// Encrypt: the bytes inverted plus "TAG!"; verify: the signature must be the data reversed.
    async fn operation_one_shot(&self, request: Request<OperationDataRequest>) -> Answer<OutputResponse> {
        self.app(&request)?;
        let Some(request) = self.whole(request.into_inner()) else {
            return spend(None, vec![]);
        };
        self.seen.one_shots.fetch_add(1, Ordering::SeqCst);
        if request.kind == OperationKind::OperationVerify as i32 {
            let expected: Vec<u8> = request.data.iter().rev().copied().collect();
            if request.signature != expected {
                return Err(refuse(tonic::Code::InvalidArgument, CKR_SIGNATURE_INVALID));
            }
            return spend(request.space, vec![]);
        }
        let mut output: Vec<u8> = request.data.iter().map(|b| !b).collect();
        output.extend_from_slice(b"TAG!");
        spend(request.space, output)
    }

    async fn operation_update(&self, request: Request<OperationDataRequest>) -> Answer<OutputResponse> {
        self.app(&request)?;
        let Some(request) = self.whole(request.into_inner()) else {
            return spend(None, vec![]);
        };
        spend(request.space, request.data)
    }

    async fn digest_key(&self, _: Request<DigestKeyRequest>) -> Answer<Empty> {
        Err(Status::unimplemented("digest key"))
    }

    async fn operation_final(&self, request: Request<OperationDataRequest>) -> Answer<OutputResponse> {
        self.app(&request)?;
        spend(request.into_inner().space, b"END".to_vec())
    }
}

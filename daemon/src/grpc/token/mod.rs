//! The Token service: the PKCS#11 module's RPCs, each one PKCS#11 call. Every call is served,
//! logged, measured and audited like the KMS calls (operation names are the PKCS#11 function
//! names), and a failure carries its exact CK_RV in `x-arca-ckr`.

pub(crate) mod convert;
mod keys;
mod objects;
mod sessions;
pub(super) mod status;
mod steps;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use arca_proto::limits::MAX_PIN_BYTES;
use arca_proto::v1 as pb;
use arca_proto::v1::token_server::Token;
use cryptoki_sys::CKR_PIN_LEN_RANGE;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};
use zeroize::Zeroizing;

use super::serve;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::operation::Operation;
use crate::service::Call;
use crate::service::Services;
use crate::service::token::{App, TokenService};
use convert::token_info;
use steps::{Step, init_operation};

/// Metadata entry naming the application a call belongs to.
pub(crate) use arca_proto::APPLICATION_HEADER;

/// The gRPC face of [`TokenService`].
#[derive(Debug, Clone)]
pub(crate) struct TokenApi {
    services: Arc<Services>,
    metrics: Arc<Metrics>,
    /// The server's request cap, told to each application so it cuts its input to fit.
    max_request_bytes: usize,
}

impl TokenApi {
    pub(crate) fn new(services: Arc<Services>, metrics: Arc<Metrics>, max_request_bytes: usize) -> Self {
        Self { services, metrics, max_request_bytes }
    }

    /// Serves one call of an attached application.
    pub(super) async fn call<Req, Resp, Fut>(
        &self,
        operation: Operation,
        request: Request<Req>,
        handler: impl FnOnce(Arc<Services>, Arc<App>, Arc<Call>, Req) -> Fut,
    ) -> std::result::Result<Response<Resp>, Status>
    where
        Req: crate::front::Audited,
        Fut: Future<Output = Result<Resp>>,
    {
        let application = request
            .metadata()
            .get(APPLICATION_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let services = Arc::clone(&self.services);
        serve(&self.metrics, &self.services.keystore, operation, request, |call, message| async move {
            let app = services.token.app(&application, call.principal())?;
            handler(services, app, call, message).await
        })
        .await
    }
}

/// The Attach stream: one event, then open until the client goes or the daemon stops; when it
/// is dropped, the application ends.
#[derive(Debug)]
pub(crate) struct AttachStream {
    events: tokio_stream::wrappers::ReceiverStream<std::result::Result<pb::AttachEvent, Status>>,
    application: String,
    token: Arc<TokenService>,
}

impl Stream for AttachStream {
    type Item = std::result::Result<pb::AttachEvent, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.events).poll_next(cx)
    }
}

impl Drop for AttachStream {
    fn drop(&mut self) {
        self.token.detach(&self.application);
    }
}

/// A PIN from the wire. One longer than the token's `ulMaxPinLen` is CKR_PIN_LEN_RANGE before
/// any Argon2id work and without counting as a wrong PIN.
fn pin(bytes: Vec<u8>) -> Result<Zeroizing<Vec<u8>>> {
    let pin = Zeroizing::new(bytes);
    if pin.len() > MAX_PIN_BYTES {
        return Err(Error::p11(CKR_PIN_LEN_RANGE, format!("a PIN has at most {MAX_PIN_BYTES} bytes")));
    }
    Ok(pin)
}

fn unit<T>(result: Result<T>) -> Result<pb::Empty> {
    result.map(|_| pb::Empty {})
}

#[tonic::async_trait]
impl Token for TokenApi {
    type AttachStream = AttachStream;

    async fn attach(
        &self,
        request: Request<pb::AttachRequest>,
    ) -> std::result::Result<Response<AttachStream>, Status> {
        let services = Arc::clone(&self.services);
        let max_request_bytes = self.max_request_bytes as u64;
        // The stream is made inside the call, so that an application registered by a call that
        // then fails (its audit record cannot be written) ends with the dropped stream.
        serve(&self.metrics, &self.services.keystore, Operation::Attach, request, |call, r| async move {
            let app = services.token.attach(&r.application_name, call.principal())?;
            let (sender, events) = tokio::sync::mpsc::channel(1);
            let stream = AttachStream {
                events: tokio_stream::wrappers::ReceiverStream::new(events),
                application: app.id.clone(),
                token: Arc::clone(&services.token),
            };
            let first = pb::AttachEvent { application_id: app.id.clone(), max_request_bytes };
            sender.try_send(Ok(first)).map_err(|_| Error::Storage("attach channel".into()))?;
            services.token.keep_until_closed(&app.id, sender);
            Ok(stream)
        })
        .await
    }

    async fn get_token_info(
        &self,
        request: Request<pb::GetTokenInfoRequest>,
    ) -> std::result::Result<Response<pb::TokenInfo>, Status> {
        let services = Arc::clone(&self.services);
        serve(&self.metrics, &self.services.keystore, Operation::GetTokenInfo, request, |_, _| async move {
            Ok(token_info(services.token.token_info()?))
        })
        .await
    }

    async fn get_mechanism_list(
        &self,
        request: Request<pb::GetMechanismListRequest>,
    ) -> std::result::Result<Response<pb::GetMechanismListResponse>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::GetMechanismList,
            request,
            |_, _| async move {
                Ok(pb::GetMechanismListResponse { mechanisms: crate::service::token::mechanisms::list() })
            },
        )
        .await
    }

    async fn get_mechanism_info(
        &self,
        request: Request<pb::GetMechanismInfoRequest>,
    ) -> std::result::Result<Response<pb::MechanismInfo>, Status> {
        serve(
            &self.metrics,
            &self.services.keystore,
            Operation::GetMechanismInfo,
            request,
            |_, r| async move {
                let (min_key_size, max_key_size, flags) =
                    crate::service::token::mechanisms::info(r.mechanism)?;
                Ok(pb::MechanismInfo { min_key_size, max_key_size, flags })
            },
        )
        .await
    }

    async fn init_token(
        &self,
        request: Request<pb::InitTokenRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        let services = Arc::clone(&self.services);
        serve(&self.metrics, &self.services.keystore, Operation::InitToken, request, |call, r| async move {
            let so_pin = pin(r.so_pin)?;
            unit(services.token_login.init_token(&call, &so_pin, &r.label).await)
        })
        .await
    }

    async fn unlock_so_pin(
        &self,
        request: Request<pb::UnlockSoPinRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        let services = Arc::clone(&self.services);
        serve(&self.metrics, &self.services.keystore, Operation::UnlockSoPin, request, |call, r| async move {
            let new_so_pin = Zeroizing::new(r.new_so_pin);
            let replacement = (!new_so_pin.is_empty()).then_some(new_so_pin.as_slice());
            unit(services.token_login.unlock_so_pin(&call, replacement).await)
        })
        .await
    }

    async fn init_pin(
        &self,
        request: Request<pb::InitPinRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        self.call(Operation::InitPin, request, sessions::init_pin).await
    }

    async fn set_pin(
        &self,
        request: Request<pb::SetPinRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        self.call(Operation::SetPin, request, sessions::set_pin).await
    }

    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        self.call(Operation::Login, request, sessions::login).await
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        self.call(Operation::Logout, request, sessions::logout).await
    }

    async fn open_session(
        &self,
        request: Request<pb::OpenSessionRequest>,
    ) -> std::result::Result<Response<pb::OpenSessionResponse>, Status> {
        self.call(Operation::OpenSession, request, sessions::open_session).await
    }

    async fn close_session(
        &self,
        request: Request<pb::SessionRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        self.call(Operation::CloseSession, request, sessions::close_session).await
    }

    async fn close_all_sessions(
        &self,
        request: Request<pb::CloseAllSessionsRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        self.call(Operation::CloseAllSessions, request, sessions::close_all_sessions).await
    }

    async fn get_session_info(
        &self,
        request: Request<pb::SessionRequest>,
    ) -> std::result::Result<Response<pb::SessionInfo>, Status> {
        self.call(Operation::GetSessionInfo, request, sessions::get_session_info).await
    }

    async fn create_object(
        &self,
        request: Request<pb::CreateObjectRequest>,
    ) -> std::result::Result<Response<pb::ObjectResponse>, Status> {
        self.call(Operation::CreateObject, request, objects::create_object).await
    }

    async fn copy_object(
        &self,
        request: Request<pb::CopyObjectRequest>,
    ) -> std::result::Result<Response<pb::ObjectResponse>, Status> {
        self.call(Operation::CopyObject, request, objects::copy_object).await
    }

    async fn destroy_object(
        &self,
        request: Request<pb::ObjectRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        self.call(Operation::DestroyObject, request, objects::destroy_object).await
    }

    async fn get_object_size(
        &self,
        request: Request<pb::ObjectRequest>,
    ) -> std::result::Result<Response<pb::GetObjectSizeResponse>, Status> {
        self.call(Operation::GetObjectSize, request, objects::get_object_size).await
    }

    async fn get_attribute_value(
        &self,
        request: Request<pb::GetAttributeValueRequest>,
    ) -> std::result::Result<Response<pb::GetAttributeValueResponse>, Status> {
        self.call(Operation::GetAttributeValue, request, objects::get_attribute_value).await
    }

    async fn set_attribute_value(
        &self,
        request: Request<pb::SetAttributeValueRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        self.call(Operation::SetAttributeValue, request, objects::set_attribute_value).await
    }

    async fn find_objects_init(
        &self,
        request: Request<pb::FindObjectsInitRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        self.call(Operation::FindObjectsInit, request, objects::find_objects_init).await
    }

    async fn find_objects(
        &self,
        request: Request<pb::FindObjectsRequest>,
    ) -> std::result::Result<Response<pb::FindObjectsResponse>, Status> {
        self.call(Operation::FindObjects, request, objects::find_objects).await
    }

    async fn find_objects_final(
        &self,
        request: Request<pb::SessionRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        self.call(Operation::FindObjectsFinal, request, objects::find_objects_final).await
    }

    async fn generate_key(
        &self,
        request: Request<pb::GenerateKeyRequest>,
    ) -> std::result::Result<Response<pb::ObjectResponse>, Status> {
        self.call(Operation::GenerateKey, request, keys::generate_key).await
    }

    async fn generate_key_pair(
        &self,
        request: Request<pb::GenerateKeyPairRequest>,
    ) -> std::result::Result<Response<pb::GenerateKeyPairResponse>, Status> {
        self.call(Operation::GenerateKeyPair, request, keys::generate_key_pair).await
    }

    async fn wrap_key(
        &self,
        request: Request<pb::WrapKeyRequest>,
    ) -> std::result::Result<Response<pb::OutputResponse>, Status> {
        self.call(Operation::WrapKey, request, keys::wrap_key).await
    }

    async fn unwrap_key(
        &self,
        request: Request<pb::UnwrapKeyRequest>,
    ) -> std::result::Result<Response<pb::ObjectResponse>, Status> {
        self.call(Operation::UnwrapKey, request, keys::unwrap_key).await
    }

    async fn derive_key(
        &self,
        request: Request<pb::DeriveKeyRequest>,
    ) -> std::result::Result<Response<pb::ObjectResponse>, Status> {
        self.call(Operation::DeriveKey, request, keys::derive_key).await
    }

    async fn generate_random(
        &self,
        request: Request<pb::TokenRandomRequest>,
    ) -> std::result::Result<Response<pb::OutputResponse>, Status> {
        self.call(Operation::TokenGenerateRandom, request, sessions::generate_random).await
    }

    async fn operation_init(
        &self,
        request: Request<pb::OperationInitRequest>,
    ) -> std::result::Result<Response<pb::OperationInitResponse>, Status> {
        let operation = init_operation(request.get_ref().kind);
        self.call(operation, request, steps::operation_init).await
    }

    async fn operation_one_shot(
        &self,
        request: Request<pb::OperationDataRequest>,
    ) -> std::result::Result<Response<pb::OutputResponse>, Status> {
        self.data_step(Step::OneShot, request).await
    }

    async fn operation_update(
        &self,
        request: Request<pb::OperationDataRequest>,
    ) -> std::result::Result<Response<pb::OutputResponse>, Status> {
        self.data_step(Step::Update, request).await
    }

    async fn digest_key(
        &self,
        request: Request<pb::DigestKeyRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        self.call(Operation::DigestKey, request, steps::digest_key).await
    }

    async fn operation_final(
        &self,
        request: Request<pb::OperationDataRequest>,
    ) -> std::result::Result<Response<pb::OutputResponse>, Status> {
        self.data_step(Step::Final, request).await
    }
}

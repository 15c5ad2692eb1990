//! The Token service: the PKCS#11 module's RPCs, each one PKCS#11 call. Every call is served,
//! logged, measured and audited like the KMS calls (operation names are the PKCS#11 function
//! names), and a failure carries its exact CK_RV in `x-arca-ckr`.

pub(crate) mod convert;
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
use crate::service::token::{App, AppCall, TokenService};
use convert::{attribute_results, mechanism, operation_kind, output, space, template, token_info};
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

    pub(super) fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// Serves one call of an attached application.
    pub(super) async fn call<Req, Resp, Fut>(
        &self,
        operation: Operation,
        request: Request<Req>,
        handler: impl FnOnce(Arc<App>, Arc<Call>, Req) -> Fut,
    ) -> std::result::Result<Response<Resp>, Status>
    where
        Req: super::audited::Audited,
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
            let app = services.token.app(&application)?;
            handler(app, call, message).await
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
        serve(&self.metrics, &self.services.keystore, Operation::Attach, request, |_, r| async move {
            let app = services.token.attach(&r.application_name)?;
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
        let services = Arc::clone(&self.services);
        self.call(Operation::InitPin, request, |app, _, r| async move {
            let pin = pin(r.pin)?;
            unit(services.token_login.init_pin(&app, r.session, &pin).await)
        })
        .await
    }

    async fn set_pin(
        &self,
        request: Request<pb::SetPinRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::SetPin, request, |app, _, r| async move {
            let (old_pin, new_pin) = (pin(r.old_pin)?, pin(r.new_pin)?);
            unit(services.token_login.set_pin(&app, r.session, &old_pin, &new_pin).await)
        })
        .await
    }

    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::Login, request, |app, call, r| async move {
            let pin = pin(r.pin)?;
            unit(
                services
                    .token_login
                    .login(AppCall { app: &app, call: &call }, r.session, r.user_type, &pin)
                    .await,
            )
        })
        .await
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::Logout, request, |app, _, r| async move {
            unit(services.token_login.logout(&app, r.session))
        })
        .await
    }

    async fn open_session(
        &self,
        request: Request<pb::OpenSessionRequest>,
    ) -> std::result::Result<Response<pb::OpenSessionResponse>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::OpenSession, request, |app, _, r| async move {
            Ok(pb::OpenSessionResponse { session: services.token.open_session(&app, r.flags)? })
        })
        .await
    }

    async fn close_session(
        &self,
        request: Request<pb::SessionRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        self.call(
            Operation::CloseSession,
            request,
            |app, _, r| async move { unit(app.close_session(r.session)) },
        )
        .await
    }

    async fn close_all_sessions(
        &self,
        request: Request<pb::CloseAllSessionsRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        self.call(
            Operation::CloseAllSessions,
            request,
            |app, _, _| async move { unit(app.close_all_sessions()) },
        )
        .await
    }

    async fn get_session_info(
        &self,
        request: Request<pb::SessionRequest>,
    ) -> std::result::Result<Response<pb::SessionInfo>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::GetSessionInfo, request, |app, _, r| async move {
            let (state, flags) = services.token.session_info(&app, r.session)?;
            Ok(pb::SessionInfo { state, flags, device_error: 0 })
        })
        .await
    }

    async fn create_object(
        &self,
        request: Request<pb::CreateObjectRequest>,
    ) -> std::result::Result<Response<pb::ObjectResponse>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::CreateObject, request, |app, call, r| async move {
            let object = services
                .token_objects
                .create_object(AppCall { app: &app, call: &call }, r.session, &template(r.template)?)
                .await?;
            Ok(pb::ObjectResponse { object })
        })
        .await
    }

    async fn copy_object(
        &self,
        request: Request<pb::CopyObjectRequest>,
    ) -> std::result::Result<Response<pb::ObjectResponse>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::CopyObject, request, |app, call, r| async move {
            let object = services
                .token_objects
                .copy_object(AppCall { app: &app, call: &call }, r.session, r.object, &template(r.template)?)
                .await?;
            Ok(pb::ObjectResponse { object })
        })
        .await
    }

    async fn destroy_object(
        &self,
        request: Request<pb::ObjectRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::DestroyObject, request, |app, call, r| async move {
            unit(
                services.token_objects.destroy(AppCall { app: &app, call: &call }, r.session, r.object).await,
            )
        })
        .await
    }

    async fn get_object_size(
        &self,
        request: Request<pb::ObjectRequest>,
    ) -> std::result::Result<Response<pb::GetObjectSizeResponse>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::GetObjectSize, request, |app, _, r| async move {
            Ok(pb::GetObjectSizeResponse {
                size: services.token_objects.object_size(&app, r.session, r.object)?,
            })
        })
        .await
    }

    async fn get_attribute_value(
        &self,
        request: Request<pb::GetAttributeValueRequest>,
    ) -> std::result::Result<Response<pb::GetAttributeValueResponse>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::GetAttributeValue, request, |app, call, r| async move {
            let found = services.token_objects.get_attributes(
                AppCall { app: &app, call: &call },
                r.session,
                r.object,
                &r.types,
            )?;
            Ok(pb::GetAttributeValueResponse { attributes: attribute_results(&r.types, found) })
        })
        .await
    }

    async fn set_attribute_value(
        &self,
        request: Request<pb::SetAttributeValueRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::SetAttributeValue, request, |app, call, r| async move {
            unit(
                services
                    .token_objects
                    .set_attributes(
                        AppCall { app: &app, call: &call },
                        r.session,
                        r.object,
                        &template(r.template)?,
                    )
                    .await,
            )
        })
        .await
    }

    async fn find_objects_init(
        &self,
        request: Request<pb::FindObjectsInitRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::FindObjectsInit, request, |app, call, r| async move {
            unit(services.token_objects.find_init(
                AppCall { app: &app, call: &call },
                r.session,
                &template(r.template)?,
            ))
        })
        .await
    }

    async fn find_objects(
        &self,
        request: Request<pb::FindObjectsRequest>,
    ) -> std::result::Result<Response<pb::FindObjectsResponse>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::FindObjects, request, |app, _, r| async move {
            let max = usize::try_from(r.max_objects).unwrap_or(usize::MAX);
            Ok(pb::FindObjectsResponse { objects: services.token_objects.find(&app, r.session, max)? })
        })
        .await
    }

    async fn find_objects_final(
        &self,
        request: Request<pb::SessionRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::FindObjectsFinal, request, |app, _, r| async move {
            unit(services.token_objects.find_final(&app, r.session))
        })
        .await
    }

    async fn generate_key(
        &self,
        request: Request<pb::GenerateKeyRequest>,
    ) -> std::result::Result<Response<pb::ObjectResponse>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::GenerateKey, request, |app, call, r| async move {
            let object = services
                .token_keys
                .generate_key(
                    AppCall { app: &app, call: &call },
                    r.session,
                    &mechanism(r.mechanism)?,
                    &template(r.template)?,
                )
                .await?;
            Ok(pb::ObjectResponse { object })
        })
        .await
    }

    async fn generate_key_pair(
        &self,
        request: Request<pb::GenerateKeyPairRequest>,
    ) -> std::result::Result<Response<pb::GenerateKeyPairResponse>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::GenerateKeyPair, request, |app, call, r| async move {
            let (public, private) = (template(r.public_template)?, template(r.private_template)?);
            let (public_key, private_key) = services
                .token_keys
                .generate_key_pair(
                    AppCall { app: &app, call: &call },
                    r.session,
                    &mechanism(r.mechanism)?,
                    &public,
                    &private,
                )
                .await?;
            Ok(pb::GenerateKeyPairResponse { public_key, private_key })
        })
        .await
    }

    async fn wrap_key(
        &self,
        request: Request<pb::WrapKeyRequest>,
    ) -> std::result::Result<Response<pb::OutputResponse>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::WrapKey, request, |app, call, r| async move {
            let mechanism = mechanism(r.mechanism)?;
            output(services.token_keys.wrap_key(
                AppCall { app: &app, call: &call },
                r.session,
                &mechanism,
                r.wrapping_key,
                r.key,
                space(r.space),
            )?)
        })
        .await
    }

    async fn unwrap_key(
        &self,
        request: Request<pb::UnwrapKeyRequest>,
    ) -> std::result::Result<Response<pb::ObjectResponse>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::UnwrapKey, request, |app, call, r| async move {
            let (mechanism, template) = (mechanism(r.mechanism)?, template(r.template)?);
            let object = services
                .token_keys
                .unwrap_key(
                    AppCall { app: &app, call: &call },
                    r.session,
                    &mechanism,
                    r.unwrapping_key,
                    &r.wrapped_key,
                    &template,
                )
                .await?;
            Ok(pb::ObjectResponse { object })
        })
        .await
    }

    async fn derive_key(
        &self,
        request: Request<pb::DeriveKeyRequest>,
    ) -> std::result::Result<Response<pb::ObjectResponse>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::DeriveKey, request, |app, call, r| async move {
            let (mechanism, template) = (mechanism(r.mechanism)?, template(r.template)?);
            let object = services
                .token_keys
                .derive_key(AppCall { app: &app, call: &call }, r.session, &mechanism, r.base_key, &template)
                .await?;
            Ok(pb::ObjectResponse { object })
        })
        .await
    }

    async fn generate_random(
        &self,
        request: Request<pb::TokenRandomRequest>,
    ) -> std::result::Result<Response<pb::OutputResponse>, Status> {
        let services = Arc::clone(&self.services);
        self.call(Operation::TokenGenerateRandom, request, |app, _, r| async move {
            let len = usize::try_from(r.length).unwrap_or(usize::MAX);
            let random = services.token.generate_random(&app, r.session, len)?;
            Ok(pb::OutputResponse { length: random.len() as u64, output: random, buffer_too_small: false })
        })
        .await
    }

    async fn operation_init(
        &self,
        request: Request<pb::OperationInitRequest>,
    ) -> std::result::Result<Response<pb::OperationInitResponse>, Status> {
        let services = Arc::clone(&self.services);
        let operation = init_operation(request.get_ref().kind);
        self.call(operation, request, |app, call, r| async move {
            let kind = operation_kind(r.kind)?;
            if r.mechanism.is_none() {
                services.token_operations.operation_cancel(&app, r.session, kind)?;
                return Ok(pb::OperationInitResponse { output_length: 0, plus_input: false });
            }
            let (output_length, plus_input) = services.token_operations.operation_init(
                AppCall { app: &app, call: &call },
                r.session,
                kind,
                &mechanism(r.mechanism)?,
                r.key,
            )?;
            Ok(pb::OperationInitResponse { output_length: output_length as u64, plus_input })
        })
        .await
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
        let services = Arc::clone(&self.services);
        self.call(Operation::DigestKey, request, |app, call, r| async move {
            unit(services.token_operations.digest_key(AppCall { app: &app, call: &call }, r.session, r.key))
        })
        .await
    }

    async fn operation_final(
        &self,
        request: Request<pb::OperationDataRequest>,
    ) -> std::result::Result<Response<pb::OutputResponse>, Status> {
        self.data_step(Step::Final, request).await
    }
}

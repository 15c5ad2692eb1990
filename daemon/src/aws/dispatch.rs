//! From one HTTP request to one answer: the body read under its size limit, the operation named
//! by `X-Amz-Target`, the SigV4 signature checked, then the operation's handler run through
//! `front::run` (admission, `Call`, audit record) and its result or exception written back.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Limited};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::exceptions::{self, SERIALIZATION, UNKNOWN_OPERATION};
use super::wire::{self, TARGET_PREFIX};
use super::{Answer, AwsFront, answer, crypto, error_answer, exception_name, grants, keys};
use crate::auth::sigv4;
use crate::error::{Error, Result};
use crate::front::{self, Audited, CallFacts};
use crate::operation::{Face, Operation};
use crate::service::Call;

/// AWS accepts at most this many grant tokens on a call.
const MAX_GRANT_TOKENS: usize = 10;

/// A request shape: read from JSON, and what the audit record and the `Call` take from it.
trait Shape: Audited + DeserializeOwned + Default + Send + 'static {}

impl<T: Audited + DeserializeOwned + Default + Send + 'static> Shape for T {}

macro_rules! shapes {
    ($($shape:ty),* $(,)?) => { $(impl Audited for $shape {})* };
}

/// Shapes whose `KeyId` (or other member) names the key, and which may carry grant tokens.
macro_rules! keyed_shapes {
    ($($shape:ty => $key:ident $(, context $context:ident)? $(, tokens $tokens:ident)?;)*) => {
        $(
            impl Audited for $shape {
                fn key_ref(&self) -> &str {
                    &self.$key
                }
                $(fn encryption_context(&self) -> BTreeMap<String, String> {
                    self.$context.clone()
                })?
                $(fn grant_tokens(&self) -> Vec<String> {
                    self.$tokens.clone()
                })?
            }
        )*
    };
}

shapes!(keys::CreateKeyRequest, keys::Empty, crypto::GenerateRandomRequest);

keyed_shapes! {
    keys::KeyIdRequest => key_id, tokens grant_tokens;
    keys::ListRequest => key_id;
    keys::AliasRequest => alias_name;
    keys::EnableKeyRotationRequest => key_id;
    keys::ScheduleKeyDeletionRequest => key_id;
    keys::KeyPolicyRequest => key_id;
    keys::TagResourceRequest => key_id;
    keys::UpdateKeyDescriptionRequest => key_id;
    crypto::DeriveSharedSecretRequest => key_id, tokens grant_tokens;
    crypto::EncryptRequest => key_id, context encryption_context, tokens grant_tokens;
    crypto::DecryptRequest => key_id, context encryption_context, tokens grant_tokens;
    crypto::ReEncryptRequest => destination_key_id, context destination_encryption_context, tokens grant_tokens;
    crypto::GenerateDataKeyRequest => key_id, context encryption_context, tokens grant_tokens;
    crypto::GenerateDataKeyPairRequest => key_id, context encryption_context, tokens grant_tokens;
    crypto::SignRequest => key_id, tokens grant_tokens;
    crypto::MacRequest => key_id, tokens grant_tokens;
    grants::CreateGrantRequest => key_id, tokens grant_tokens;
    grants::ListGrantsRequest => key_id;
    grants::RetireGrantRequest => key_id;
    grants::GetParametersForImportRequest => key_id;
    grants::ImportKeyMaterialRequest => key_id;
}

/// The operation an `X-Amz-Target` names: `Ok(None)` for a KMS operation this appliance does not
/// offer, an error for a header that names no KMS operation at all.
fn operation_of(parts: &Parts) -> std::result::Result<Option<Operation>, &'static str> {
    let target = parts.headers.get("x-amz-target").and_then(|value| value.to_str().ok()).unwrap_or_default();
    let name = target
        .strip_prefix(TARGET_PREFIX)
        .filter(|name| !name.is_empty())
        .ok_or("no TrentService operation in X-Amz-Target")?;
    let offered =
        Operation::ALL.iter().find(|operation| operation.face() == Face::Kms && operation.name() == name);
    Ok(offered.copied())
}

fn content_type_ok(parts: &Parts) -> bool {
    let value = parts.headers.get(http::header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    value.is_none_or(|value| value.starts_with("application/x-amz-json-1."))
}

impl AwsFront {
    /// Serves one request; `transport` is `https` or `http`, for the audit record's source;
    /// `client_subject` the subject of the TLS client certificate the connection presented.
    /// Requests for any other path than `/` go to the external key store, when it is served.
    pub(super) async fn handle<B>(
        self: Arc<Self>,
        request: http::Request<B>,
        transport: &'static str,
        client_subject: Option<String>,
    ) -> Answer
    where
        B: http_body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let request_id = front::new_request_id();
        let (parts, body) = request.into_parts();
        // The AWS KMS protocol has one path, `/`; every other is the external key store's (which
        // answers a path outside its API with InvalidUriPathException).
        if let Some(xks) = self.xks.as_ref().filter(|_| parts.uri.path() != "/") {
            let xks = Arc::clone(xks);
            return match self.read_body(body, &request_id).await {
                Ok(body) => xks.handle(parts, body, transport, client_subject).await,
                Err(refused) => refused,
            };
        }
        if parts.method != Method::POST || parts.uri.path() != "/" {
            return error_answer(
                UNKNOWN_OPERATION,
                "the AWS KMS protocol is POST / with X-Amz-Target",
                &request_id,
            );
        }
        let body = match self.read_body(body, &request_id).await {
            Ok(body) => body,
            Err(refused) => return refused,
        };
        if !content_type_ok(&parts) {
            return error_answer(
                SERIALIZATION,
                "Content-Type must be application/x-amz-json-1.1",
                &request_id,
            );
        }
        let operation = match operation_of(&parts) {
            Ok(Some(operation)) => operation,
            Ok(None) => Operation::UnsupportedKms,
            Err(message) => return error_answer(UNKNOWN_OPERATION, message, &request_id),
        };
        let source = format!("aws/{transport}");
        let now = std::time::SystemTime::now();
        let verified = sigv4::verify(&parts, &body, now, &self.region, &self.services.access_keys);
        let principal = match verified {
            Ok(verified) => verified.principal,
            Err(refusal) => {
                let error = Error::Unauthenticated {
                    exception: refusal.exception_name(),
                    message: refusal.message(),
                };
                return self.refuse(operation, request_id, source, error).await;
            }
        };
        let facts = CallFacts { principal, ..CallFacts::unauthenticated(request_id, source) };
        self.dispatch(operation, facts, body).await
    }

    /// The whole body, under the size limit (over it: HTTP 413 before any more is read).
    async fn read_body<B>(&self, body: B, request_id: &str) -> std::result::Result<Bytes, Answer>
    where
        B: http_body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match Limited::new(body, self.max_request_bytes).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(_) => {
                let too_large = exceptions::Exception {
                    name: "RequestEntityTooLargeException",
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                };
                let message =
                    format!("the request body exceeds {} bytes (or was cut off)", self.max_request_bytes);
                Err(error_answer(too_large, &message, request_id))
            }
        }
    }

    /// Audits and answers a request refused before it became a call of its operation.
    async fn refuse(&self, operation: Operation, request_id: String, source: String, error: Error) -> Answer {
        let facts = CallFacts::unauthenticated(request_id.clone(), source);
        let metrics = &self.metrics;
        let error =
            front::refuse(metrics, &self.services.keystore, operation, facts, exception_name, error).await;
        error_answer(exceptions::exception_of(&error), &error.to_string(), &request_id)
    }

    async fn dispatch(self: Arc<Self>, operation: Operation, facts: CallFacts, body: Bytes) -> Answer {
        use Operation as O;
        match operation {
            O::CreateKey => self.call(operation, facts, body, keys::create_key).await,
            O::DescribeKey => self.call(operation, facts, body, keys::describe_key).await,
            O::ListKeys => self.call(operation, facts, body, keys::list_keys).await,
            O::EnableKey => self.call(operation, facts, body, keys::enable_key).await,
            O::DisableKey => self.call(operation, facts, body, keys::disable_key).await,
            O::CreateAlias => self.call(operation, facts, body, keys::create_alias).await,
            O::UpdateAlias => self.call(operation, facts, body, keys::update_alias).await,
            O::DeleteAlias => self.call(operation, facts, body, keys::delete_alias).await,
            O::ListAliases => self.call(operation, facts, body, keys::list_aliases).await,
            O::RotateKeyOnDemand => self.call(operation, facts, body, keys::rotate_key_on_demand).await,
            O::EnableKeyRotation => self.call(operation, facts, body, keys::enable_key_rotation).await,
            O::DisableKeyRotation => self.call(operation, facts, body, keys::disable_key_rotation).await,
            O::GetKeyRotationStatus => self.call(operation, facts, body, keys::get_key_rotation_status).await,
            O::ListKeyRotations => self.call(operation, facts, body, keys::list_key_rotations).await,
            O::ScheduleKeyDeletion => self.call(operation, facts, body, keys::schedule_key_deletion).await,
            O::CancelKeyDeletion => self.call(operation, facts, body, keys::cancel_key_deletion).await,
            O::PutKeyPolicy => self.call(operation, facts, body, keys::put_key_policy).await,
            O::GetKeyPolicy => self.call(operation, facts, body, keys::get_key_policy).await,
            O::ListKeyPolicies => self.call(operation, facts, body, keys::list_key_policies).await,
            O::CreateGrant => self.call(operation, facts, body, grants::create_grant).await,
            O::ListGrants => self.call(operation, facts, body, grants::list_grants).await,
            O::ListRetirableGrants => self.call(operation, facts, body, grants::list_retirable_grants).await,
            O::RetireGrant => self.call(operation, facts, body, grants::retire_grant).await,
            O::RevokeGrant => self.call(operation, facts, body, grants::revoke_grant).await,
            O::GetParametersForImport => {
                self.call(operation, facts, body, grants::get_parameters_for_import).await
            }
            O::ImportKeyMaterial => self.call(operation, facts, body, grants::import_key_material).await,
            O::DeleteImportedKeyMaterial => {
                self.call(operation, facts, body, grants::delete_imported_key_material).await
            }
            O::Encrypt => self.call(operation, facts, body, crypto::encrypt).await,
            O::Decrypt => self.call(operation, facts, body, crypto::decrypt).await,
            O::ReEncrypt => self.call(operation, facts, body, crypto::re_encrypt).await,
            O::GenerateDataKey => self.call(operation, facts, body, crypto::generate_data_key).await,
            O::GenerateDataKeyWithoutPlaintext => {
                self.call(operation, facts, body, crypto::generate_data_key_without_plaintext).await
            }
            O::GenerateDataKeyPair => self.call(operation, facts, body, crypto::generate_data_key_pair).await,
            O::GenerateDataKeyPairWithoutPlaintext => {
                self.call(operation, facts, body, crypto::generate_data_key_pair_without_plaintext).await
            }
            O::GenerateRandom => self.call(operation, facts, body, crypto::generate_random).await,
            O::Sign => self.call(operation, facts, body, crypto::sign).await,
            O::Verify => self.call(operation, facts, body, crypto::verify).await,
            O::GetPublicKey => self.call(operation, facts, body, crypto::get_public_key).await,
            O::GenerateMac => self.call(operation, facts, body, crypto::generate_mac).await,
            O::VerifyMac => self.call(operation, facts, body, crypto::verify_mac).await,
            O::DeriveSharedSecret => self.call(operation, facts, body, crypto::derive_shared_secret).await,
            O::TagResource => self.call(operation, facts, body, keys::tag_resource).await,
            O::UntagResource => self.call(operation, facts, body, keys::untag_resource).await,
            O::ListResourceTags => self.call(operation, facts, body, keys::list_resource_tags).await,
            O::UpdateKeyDescription => self.call(operation, facts, body, keys::update_key_description).await,
            other => {
                let error = Error::Unsupported(format!("{} is not offered by this appliance", other.name()));
                self.call(operation, facts, body, move |_, _, _: keys::Empty| async move {
                    Err::<keys::Empty, _>(error)
                })
                .await
            }
        }
    }

    /// Runs one operation: the body read into its shape (a malformed one is refused and audited
    /// like any bad input), then the handler as a call.
    async fn call<Req, Resp, Fut>(
        self: Arc<Self>,
        operation: Operation,
        mut facts: CallFacts,
        body: Bytes,
        handler: impl FnOnce(Arc<AwsFront>, Arc<Call>, Req) -> Fut,
    ) -> Answer
    where
        Req: Shape,
        Resp: Serialize,
        Fut: Future<Output = Result<Resp>>,
    {
        let request_id = facts.request_id.clone();
        let parsed = wire::refuse_dry_run(&body).and_then(|()| wire::decode::<Req>(&body)).and_then(|request| {
            if request.grant_tokens().len() > MAX_GRANT_TOKENS {
                return Err(Error::invalid(format!(
                    "1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to {MAX_GRANT_TOKENS}"
                )));
            }
            Ok(request)
        });
        if let Ok(request) = &parsed {
            facts.key = request.key_ref().to_owned();
            facts.encryption_context = request.encryption_context();
            facts.grant_tokens = request.grant_tokens();
        }
        let front = Arc::clone(&self);
        let outcome = front::run(
            &self.metrics,
            &self.services.keystore,
            operation,
            facts,
            exception_name,
            |call| async move {
                let answer = handler(front, call, parsed?).await?;
                wire::encode(&answer)
            },
        )
        .await;
        match outcome {
            Ok(body) => answer(StatusCode::OK, body, &request_id),
            Err(error) => error_answer(exceptions::exception_of(&error), &error.to_string(), &request_id),
        }
    }
}

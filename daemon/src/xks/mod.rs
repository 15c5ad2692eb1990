//! The external key store front: the XKS proxy API (AWS's published v1) that a real AWS KMS calls
//! for every encrypt and decrypt under a key of an EXTERNAL_KEY_STORE custom key store, served on
//! the AWS front's listener under `{path_prefix}/kms/xks/v1`. A thin adapter like the others:
//! SigV4 (service `kms-xks-proxy`) with Arca's access keys names the caller, each call runs through
//! `front::run` (quotas, the audit record with the request's `requestMetadata`) into
//! `service::XksService`, and errors answer with the specification's names and HTTP codes
//! (`errors.rs`).

mod errors;
mod shapes;

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;

use crate::auth::sigv4;
use crate::config::XksSettings;
use crate::error::{Error, Result};
use crate::front::{self, CallFacts};
use crate::keys::KeyId;
use crate::metrics::Metrics;
use crate::operation::Operation;
use crate::service::{Call, Services};
use errors::{XksError, error_of};
use shapes::Requested;

/// SigV4's service name for XKS requests.
const SERVICE: &str = "kms-xks-proxy";
const API_PATH: &str = "/kms/xks/v1";
const MAX_EXTERNAL_KEY_ID: usize = 128;

pub(crate) type Answer = Response<Full<Bytes>>;

/// What every XKS request is served with.
#[derive(Debug)]
pub(crate) struct XksFront {
    services: Arc<Services>,
    metrics: Arc<Metrics>,
    settings: XksSettings,
    base: String,
}

/// The call an XKS path names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Health,
    Key { external_key_id: String, operation: Operation },
}

impl XksFront {
    pub(crate) fn new(services: Arc<Services>, metrics: Arc<Metrics>, settings: XksSettings) -> Self {
        let base = format!("{}{API_PATH}", settings.path_prefix);
        Self { services, metrics, settings, base }
    }

    /// Serves one XKS request. `client_subject` is the subject of the TLS client certificate the
    /// connection presented, if any.
    pub(crate) async fn handle(
        self: Arc<Self>,
        parts: Parts,
        body: Bytes,
        transport: &'static str,
        client_subject: Option<String>,
    ) -> Answer {
        let request_id = front::new_request_id();
        let Some(route) = route(&self.base, parts.uri.path()) else {
            return error_answer(errors::INVALID_URI_PATH, "no XKS API has this path", &request_id);
        };
        if parts.method != Method::POST {
            let mut answer =
                error_answer(errors::METHOD_NOT_ALLOWED, "XKS APIs are called with POST", &request_id);
            answer.headers_mut().insert(http::header::ALLOW, HeaderValue::from_static("POST"));
            return answer;
        }
        let operation = match &route {
            Route::Health => Operation::XksGetHealthStatus,
            Route::Key { operation, .. } => *operation,
        };
        let mut facts = CallFacts::unauthenticated(request_id.clone(), format!("xks/{transport}"));
        if let Route::Key { external_key_id, .. } = &route {
            facts.key = external_key_id.clone();
        }
        facts.request_metadata = shapes::request_metadata_of(&body);
        match self.authenticate(&parts, &body, client_subject.as_deref()) {
            Ok(principal) => facts.principal = principal,
            Err(error) => return self.refuse(operation, facts, error).await,
        }
        match route {
            Route::Health => self.call(operation, facts, body, health).await,
            Route::Key { external_key_id, operation: Operation::XksGetKeyMetadata } => {
                self.call(operation, facts, body, move |front, call, r| {
                    metadata(front, call, r, external_key_id)
                })
                .await
            }
            Route::Key { external_key_id, operation: Operation::XksEncrypt } => {
                self.call(operation, facts, body, move |front, call, r| {
                    encrypt(front, call, r, external_key_id)
                })
                .await
            }
            Route::Key { external_key_id, .. } => {
                self.call(operation, facts, body, move |front, call, r| {
                    decrypt(front, call, r, external_key_id)
                })
                .await
            }
        }
    }

    /// SigV4 with the XKS service name and region; then, with mutual TLS configured, the client
    /// certificate's subject.
    fn authenticate(&self, parts: &Parts, body: &[u8], client_subject: Option<&str>) -> Result<String> {
        let now = std::time::SystemTime::now();
        let keys = &self.services.access_keys;
        let verified = sigv4::verify_for_service(parts, body, now, &self.settings.region, SERVICE, keys)
            .map_err(|refusal| Error::Unauthenticated {
                exception: refusal.exception_name(),
                message: refusal.message(),
            })?;
        if let Some(client) = &self.settings.client
            && client_subject != Some(client.subject.as_str())
        {
            return Err(Error::Unauthenticated {
                exception: "ClientCertificate",
                message: format!("XKS requests need a client certificate with subject {}", client.subject),
            });
        }
        Ok(verified.principal)
    }

    /// Audits and answers a request refused before it became a call.
    async fn refuse(&self, operation: Operation, facts: CallFacts, error: Error) -> Answer {
        let request_id = facts.request_id.clone();
        let metrics = &self.metrics;
        let error =
            front::refuse(metrics, &self.services.keystore, operation, facts, error_name, error).await;
        error_answer(error_of(&error), &error.to_string(), &request_id)
    }

    async fn call<Req, Resp, Fut>(
        self: Arc<Self>,
        operation: Operation,
        facts: CallFacts,
        body: Bytes,
        handler: impl FnOnce(Arc<XksFront>, Arc<Call>, Req) -> Fut,
    ) -> Answer
    where
        Req: Requested,
        Resp: Serialize,
        Fut: Future<Output = Result<Resp>>,
    {
        let request_id = facts.request_id.clone();
        let parsed =
            crate::aws::wire::decode::<Req>(&body).and_then(|request| request.checked().map(|()| request));
        let front = Arc::clone(&self);
        let outcome = front::run(
            &self.metrics,
            &self.services.keystore,
            operation,
            facts,
            error_name,
            |call| async move {
                let answer = handler(front, call, parsed?).await?;
                crate::aws::wire::encode(&answer)
            },
        )
        .await;
        match outcome {
            Ok(body) => answer(StatusCode::OK, body, &request_id),
            Err(error) => error_answer(error_of(&error), &error.to_string(), &request_id),
        }
    }
}

/// The call `path` names under `base` (`{path_prefix}/kms/xks/v1`).
fn route(base: &str, path: &str) -> Option<Route> {
    let rest = path.strip_prefix(base)?;
    if rest == "/health" {
        return Some(Route::Health);
    }
    let (external_key_id, action) = rest.strip_prefix("/keys/")?.split_once('/')?;
    let operation = match action {
        "metadata" => Operation::XksGetKeyMetadata,
        "encrypt" => Operation::XksEncrypt,
        "decrypt" => Operation::XksDecrypt,
        _ => return None,
    };
    Some(Route::Key { external_key_id: external_key_id.to_owned(), operation })
}

/// The audit record's `error_code` on this face: the XKS error name the caller got.
fn error_name(error: &Error) -> Cow<'static, str> {
    Cow::Borrowed(error_of(error).name)
}

/// An `externalKeyId` as the services take it: an Arca key id, or an alias without its `alias/`.
fn key_ref(external_key_id: &str) -> Result<String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    if external_key_id.is_empty()
        || external_key_id.len() > MAX_EXTERNAL_KEY_ID
        || !external_key_id.chars().all(allowed)
    {
        return Err(Error::invalid(
            "externalKeyId must be 1 to 128 letters, digits, hyphens, periods or underscores",
        ));
    }
    Ok(match KeyId::parse(external_key_id) {
        Some(id) => id.to_string(),
        None => format!("alias/{external_key_id}"),
    })
}

async fn metadata(
    front: Arc<XksFront>,
    call: Arc<Call>,
    _: shapes::MetadataRequest,
    external_key_id: String,
) -> Result<shapes::MetadataResponse> {
    let metadata = front.services.xks.metadata(&call, &key_ref(&external_key_id)?)?;
    Ok(shapes::MetadataResponse::from(metadata))
}

async fn encrypt(
    front: Arc<XksFront>,
    call: Arc<Call>,
    r: shapes::EncryptRequest,
    external_key_id: String,
) -> Result<shapes::EncryptResponse> {
    let aad = r.additional_authenticated_data.as_ref().map_or(&[][..], |blob| blob.0.as_slice());
    let plaintext = r.plaintext.as_ref().map_or(&[][..], |blob| blob.0.as_slice());
    let sealed = front.services.xks.encrypt(
        &call,
        &key_ref(&external_key_id)?,
        plaintext,
        aad,
        r.wants_integrity_value(),
    )?;
    Ok(shapes::EncryptResponse::from(sealed))
}

async fn decrypt(
    front: Arc<XksFront>,
    call: Arc<Call>,
    r: shapes::DecryptRequest,
    external_key_id: String,
) -> Result<shapes::DecryptResponse> {
    let plaintext = front.services.xks.decrypt(&call, &key_ref(&external_key_id)?, &r.sealed())?;
    // Handed out on purpose: the caller asked for its plaintext.
    Ok(shapes::DecryptResponse::new(plaintext.as_slice()))
}

async fn health(
    front: Arc<XksFront>,
    _call: Arc<Call>,
    _: shapes::HealthRequest,
) -> Result<shapes::HealthResponse> {
    Ok(shapes::HealthResponse::new(front.services.xks.health()))
}

fn answer(status: StatusCode, body: Bytes, request_id: &str) -> Answer {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-arca-request-id", value);
    }
    response
}

fn error_answer(error: XksError, message: &str, request_id: &str) -> Answer {
    answer(error.status, errors::body(error.name, message), request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_key_ids_name_keys_or_aliases() {
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(key_ref(id).unwrap(), id);
        assert_eq!(key_ref("orders").unwrap(), "alias/orders");
        assert!(key_ref("a/b").is_err());
        assert!(key_ref(&"k".repeat(129)).is_err());
        assert!(key_ref("").is_err());
    }

    #[test]
    fn paths_route_under_the_prefix() {
        let base = "/keystores/orders/kms/xks/v1";
        assert_eq!(route(base, "/keystores/orders/kms/xks/v1/health"), Some(Route::Health));
        assert_eq!(
            route(base, "/keystores/orders/kms/xks/v1/keys/k1/encrypt"),
            Some(Route::Key { external_key_id: "k1".into(), operation: Operation::XksEncrypt })
        );
        assert_eq!(route(base, "/keystores/orders/kms/xks/v1/keys/k1/sign"), None);
        assert_eq!(route(base, "/kms/xks/v1/health"), None);
        assert_eq!(route(base, "/keystores/orders/kms/xks/v1/keys/k1/encrypt/more"), None);
    }
}

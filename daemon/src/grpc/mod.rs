//! The tonic adapters: protobuf in, service call, protobuf out. Errors become a `Status` in one
//! place (`status.rs`); every call gets a request id and one log line without secrets.

mod admin;
mod audited;
mod convert;
mod error_codes;
mod kms;
mod status;
pub(crate) mod token;

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use arca_proto::REQUEST_ID_HEADER;
use tonic::metadata::MetadataValue;
use tonic::{Code, Request, Response, Status};

pub(crate) use admin::AdminApi;
pub(crate) use kms::KmsApi;
pub(crate) use token::TokenApi;

use crate::auth::{Caller, caller_of};
use crate::error::Error;
use crate::front::Audited;
use crate::front::{self, CallFacts};
use crate::metrics::Metrics;
use crate::operation::{Face, Operation};
use crate::service::{Call, Keystore};

/// How a call came, for its audit record: the face and the transport (`grpc/unix`, `pkcs11/tls`).
fn source_of(operation: Operation, caller: &Caller) -> String {
    format!("{}/{}", operation.face().source_name(), caller.transport())
}

/// The gRPC code of a PKCS#11 failure (the outcome class `front::outcome_code` reports).
pub(crate) fn token_code_for(rv: cryptoki_sys::CK_RV) -> Code {
    token::status::code_for(rv)
}

fn request_id_of<T>(request: &Request<T>) -> String {
    request
        .metadata()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .map_or_else(front::new_request_id, str::to_owned)
}

/// The audit record's `error_code` of a KMS or Admin call: the daemon's error kind.
fn kms_error_code(error: &Error) -> Cow<'static, str> {
    error_codes::audit_error_code(error, false)
}

/// The audit record's `error_code` of a PKCS#11 call: the CK_RV the module returns.
fn pkcs11_error_code(error: &Error) -> Cow<'static, str> {
    error_codes::audit_error_code(error, true)
}

/// Runs one call through `front::run` and answers it: the request id echoed on success and
/// failure, errors as a `Status` (`status.rs`).
async fn serve<Req: Audited, Resp, Fut>(
    metrics: &Metrics,
    service: &Keystore,
    operation: Operation,
    request: Request<Req>,
    handler: impl FnOnce(Arc<Call>, Req) -> Fut,
) -> Result<Response<Resp>, Status>
where
    Fut: Future<Output = Result<Resp, Error>>,
{
    let request_id = request_id_of(&request);
    let transport_caller = caller_of(&request);
    let message = request.into_inner();
    let facts = CallFacts {
        request_id: request_id.clone(),
        principal: transport_caller.to_string(),
        source: source_of(operation, &transport_caller),
        key: message.key_ref().to_owned(),
        encryption_context: message.encryption_context(),
        grant_tokens: message.grant_tokens(),
        request_metadata: std::collections::BTreeMap::new(),
    };
    let error_code = if operation.face() == Face::Pkcs11 { pkcs11_error_code } else { kms_error_code };
    let outcome =
        front::run(metrics, service, operation, facts, error_code, |call| handler(call, message)).await;
    let header = MetadataValue::try_from(request_id.as_str()).ok();
    match outcome {
        Ok(message) => {
            let mut response = Response::new(message);
            if let Some(header) = header {
                response.metadata_mut().insert(REQUEST_ID_HEADER, header);
            }
            Ok(response)
        }
        Err(error) => {
            let mut status = status::to_status(&error);
            if let Some(header) = header {
                status.metadata_mut().insert(REQUEST_ID_HEADER, header);
            }
            Err(status)
        }
    }
}

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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use arca_proto::{REQUEST_ID_HEADER, code_name};
use tonic::metadata::MetadataValue;
use tonic::{Code, Request, Response, Status};

pub(crate) use admin::AdminApi;
pub(crate) use kms::KmsApi;
pub(crate) use token::TokenApi;

use crate::audit::Event;
use crate::auth::{Caller, caller_of};
use crate::error::Error;
use crate::metrics::Metrics;
use crate::operation::{Face, Operation};
use crate::quota::ThrottledRecord;
use crate::service::{Call, Keystore};
use audited::Audited;

/// How a call came, for its audit record: the face and the transport (`grpc/unix`, `pkcs11/tls`).
fn source_of(operation: Operation, caller: &Caller) -> String {
    format!("{}/{}", operation.face().source_name(), caller.transport())
}

/// Whether the call may start: the data directory's free-space reserve (Status, which reports
/// it, is always answered), then the caller's quotas.
fn admit(service: &Keystore, caller: &str, operation: Operation) -> Result<(), Error> {
    if operation != Operation::Status {
        service.disk_reserve().admit()?;
    }
    service.quotas().admit(caller, operation)
}

/// The outcomes that refuse the caller's request as asked: they count against the caller's
/// quota of refusals, so a caller allowed nothing cannot flood the daemon and its audit log.
///
/// A verdict on the caller's data is an answer, not a refusal: a ciphertext that does not open or
/// a signature that does not verify (an application checking signatures, or the PKCS#11
/// conformance suite's threads, meet them all the time). On the PKCS#11 face only the codes
/// that mean "not yours, not there, not allowed" count: attribute probes such as
/// `CKR_ATTRIBUTE_SENSITIVE` are how applications read templates.
fn is_refusal(error: &Error, code: Code) -> bool {
    use cryptoki_sys as p11;
    match error {
        // A ciphertext made under another key than the one named is a verdict on the data too.
        Error::InvalidCiphertext(_) | Error::DecryptionFailed | Error::IncorrectKey { .. } => false,
        Error::Pkcs11 { rv, .. } => matches!(
            *rv,
            p11::CKR_USER_NOT_LOGGED_IN
                | p11::CKR_USER_TYPE_INVALID
                | p11::CKR_ACTION_PROHIBITED
                | p11::CKR_TOKEN_WRITE_PROTECTED
                | p11::CKR_KEY_FUNCTION_NOT_PERMITTED
                | p11::CKR_KEY_HANDLE_INVALID
                | p11::CKR_OBJECT_HANDLE_INVALID
                | p11::CKR_SESSION_HANDLE_INVALID
                | p11::CKR_PIN_INCORRECT
        ),
        _ => matches!(
            code,
            Code::InvalidArgument
                | Code::NotFound
                | Code::AlreadyExists
                | Code::PermissionDenied
                | Code::FailedPrecondition
                | Code::OutOfRange
                | Code::Unauthenticated
        ),
    }
}

fn new_request_id() -> String {
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).map_or(0, |()| u32::from_be_bytes(bytes))
    });
    format!("{prefix:08x}-{:08x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn request_id_of<T>(request: &Request<T>) -> String {
    request
        .metadata()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .map_or_else(new_request_id, str::to_owned)
}

/// Runs one call: context, handler, log line, metrics, request id echoed on success and failure.
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
    let caller = transport_caller.to_string();
    let source = source_of(operation, &transport_caller);
    let started = Instant::now();
    let message = request.into_inner();
    let (mut key, encryption_context) = (message.key_ref().to_owned(), message.encryption_context());
    let grant_tokens = message.grant_tokens();
    let mut key_version = None;
    let mut record = ThrottledRecord::Write { unrecorded_before: 0 };
    let outcome = match admit(service, &caller, operation) {
        Ok(()) => {
            let call = Arc::new(Call::new(caller.clone()).with_grant_tokens(grant_tokens));
            // Key bytes the handler's frames moved through are wiped after each of its polls.
            let outcome = crate::secure_mem::wiping_stack(handler(Arc::clone(&call), message)).await;
            let used = call.used();
            if key.is_empty() {
                key = used.key.unwrap_or_default();
            }
            key_version = used.key_version;
            outcome
        }
        Err(throttled) => {
            record = service.quotas().throttled_record(&caller).unwrap_or(record);
            Err(throttled)
        }
    };
    let (code, error_code) = match &outcome {
        Ok(_) => (Code::Ok, Cow::Borrowed("")),
        Err(error) => (
            status::to_status(error).code(),
            error_codes::audit_error_code(error, operation.face() == Face::Pkcs11),
        ),
    };
    if outcome.as_ref().err().is_some_and(|error| is_refusal(error, code))
        && let Err(error) = service.quotas().charge_refusal(&caller)
    {
        tracing::error!(%error, "cannot count a refusal against the caller's quota");
    }
    let ThrottledRecord::Write { unrecorded_before: unrecorded_throttled } = record else {
        // A throttled call left out of the log: the caller's next throttled record counts it.
        return finish(metrics, operation, &request_id, &caller, started, outcome, false);
    };
    let event = Event {
        request_id: &request_id,
        principal: &caller,
        source: &source,
        operation: operation.name(),
        key: &key,
        key_version,
        encryption_context,
        outcome: code_name(code),
        error_code: &error_code,
        durable: operation.changes_state(),
        unrecorded_throttled,
    };
    // Fail closed: a call whose record cannot be written does not succeed.
    let audit_started = Instant::now();
    let appended = service.audit().append(event);
    metrics.record_audit_write(audit_started.elapsed());
    let outcome = match appended {
        Ok(()) => outcome,
        Err(error) => {
            tracing::error!(%error, "cannot write the audit log");
            Err(Error::AuditUnavailable(error.to_string()))
        }
    };
    finish(metrics, operation, &request_id, &caller, started, outcome, true)
}

/// Answers a call: metrics, the log line (left out for a throttled call left out of the audit
/// log, so a flood cannot fill the journal either), and the request id on success and failure.
fn finish<Resp>(
    metrics: &Metrics,
    operation: Operation,
    request_id: &str,
    caller: &str,
    started: Instant,
    outcome: Result<Resp, Error>,
    logged: bool,
) -> Result<Response<Resp>, Status> {
    let elapsed = started.elapsed();
    let micros = elapsed.as_micros() as u64;
    let header = MetadataValue::try_from(request_id).ok();
    match outcome {
        Ok(message) => {
            metrics.record(operation, code_name(Code::Ok), elapsed);
            tracing::info!(request_id, caller, operation = operation.name(), micros, "ok");
            let mut response = Response::new(message);
            if let Some(header) = header {
                response.metadata_mut().insert(REQUEST_ID_HEADER, header);
            }
            Ok(response)
        }
        Err(error) => {
            let mut status = status::to_status(&error);
            metrics.record(operation, code_name(status.code()), elapsed);
            let error = status.message();
            if logged {
                tracing::info!(request_id, caller, operation = operation.name(), micros, code = ?status.code(), error, "failed");
            }
            if let Some(header) = header {
                status.metadata_mut().insert(REQUEST_ID_HEADER, header);
            }
            Err(status)
        }
    }
}

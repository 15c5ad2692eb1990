//! What every front does around one call, whatever its wire: admission (the disk reserve, then
//! the caller's quotas), the explicit [`Call`], the audit record (fail closed), the metrics and
//! the one log line. The gRPC services (`grpc/`) and the AWS KMS JSON front (`aws/`) differ only
//! in how they read a request and write an answer.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use arca_proto::code_name;
use tonic::Code;

use crate::audit::Event;
use crate::error::Error;
use crate::metrics::Metrics;
use crate::operation::Operation;
use crate::quota::ThrottledRecord;
use crate::service::{Call, Keystore};

/// What a front knows of a call before it runs: who asks, from where, and what the audit record
/// names (the key as the caller named it, the encryption context).
#[derive(Debug)]
pub(crate) struct CallFacts {
    pub(crate) request_id: String,
    pub(crate) principal: String,
    /// The face and transport, as the audit record's `source` (`grpc/unix`, `aws/https`).
    pub(crate) source: String,
    pub(crate) key: String,
    pub(crate) encryption_context: BTreeMap<String, String>,
    pub(crate) grant_tokens: Vec<String>,
    /// The caller's own account of the request, for the audit record (XKS `requestMetadata`).
    pub(crate) request_metadata: BTreeMap<String, String>,
}

impl CallFacts {
    /// A request whose caller is not yet known (its signature unchecked, or refused): principal
    /// `unknown`, nothing named.
    pub(crate) fn unauthenticated(request_id: String, source: String) -> Self {
        Self {
            request_id,
            principal: crate::auth::Caller::Unknown.to_string(),
            source,
            key: String::new(),
            encryption_context: BTreeMap::new(),
            grant_tokens: Vec::new(),
            request_metadata: BTreeMap::new(),
        }
    }
}

/// What the audit log records of a request before it runs: the key as the caller named it, if
/// the call names one, and its encryption context.
pub(crate) trait Audited {
    fn key_ref(&self) -> &str {
        ""
    }

    fn encryption_context(&self) -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    /// The KMS grant tokens the request carries (for the `Call`, which authorisation checks).
    fn grant_tokens(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The precise error the caller got, as the audit record's `error_code` names it: the CK_RV on
/// the PKCS#11 face, the exception name on the AWS face, the daemon's error kind otherwise.
pub(crate) type ErrorCode = fn(&Error) -> Cow<'static, str>;

/// A fresh request id: a per-process random prefix and a counter.
pub(crate) fn new_request_id() -> String {
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 4];
        crate::secure_mem::fill_random(&mut bytes).map_or(0, |()| u32::from_be_bytes(bytes))
    });
    format!("{prefix:08x}-{:08x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A request refused before it became a call of `operation` (a bad signature, say): admitted,
/// audited, charged and logged like a call that failed with `error`. Returns the error the caller
/// gets (admission's own, such as a quota, when it refused first).
pub(crate) async fn refuse(
    metrics: &Metrics,
    service: &Keystore,
    operation: Operation,
    facts: CallFacts,
    error_code: ErrorCode,
    error: Error,
) -> Error {
    let Err(error) =
        run::<Infallible, _>(metrics, service, operation, facts, error_code, |_| async { Err(error) }).await;
    error
}

/// The outcome class of an error, in the gRPC code vocabulary the audit log and the metrics use
/// for every front.
pub(crate) fn outcome_code(error: &Error) -> Code {
    match error {
        Error::Sealed | Error::NotInitialized | Error::AlreadyInitialized | Error::WrongKeyUsage { .. } => {
            Code::FailedPrecondition
        }
        Error::WrongSealMode(_) => Code::FailedPrecondition,
        Error::WrongPassphrase | Error::AccessDenied(_) => Code::PermissionDenied,
        Error::KeyNotFound(_) => Code::NotFound,
        Error::AlreadyExists(_) => Code::AlreadyExists,
        Error::KeyNotEnabled { .. } => Code::FailedPrecondition,
        Error::InvalidKeyId(_)
        | Error::InvalidArgument(_)
        | Error::InvalidCiphertext(_)
        | Error::DecryptionFailed
        | Error::SignatureNotValid
        | Error::MacNotValid
        | Error::IncorrectKey { .. }
        | Error::InvalidAliasName(_)
        | Error::InvalidGrantToken(_)
        | Error::TagRule(_) => Code::InvalidArgument,
        Error::Unauthenticated { .. } => Code::Unauthenticated,
        Error::Unsupported(_) => Code::Unimplemented,
        Error::KeyIntegrity(_) | Error::Integrity(_) => Code::DataLoss,
        Error::LockedMemory(_) | Error::Throttled(_) => Code::ResourceExhausted,
        Error::Conflict(_) => Code::Aborted,
        Error::AuditUnavailable(_) | Error::StoreUnavailable(_) => Code::Unavailable,
        Error::DeadlineExceeded(_) => Code::DeadlineExceeded,
        Error::Storage(_) | Error::Io { .. } | Error::Random(_) | Error::Config(_) | Error::Crypto(_) => {
            Code::Internal
        }
        Error::Pkcs11 { rv, .. } => crate::grpc::token_code_for(*rv),
    }
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
fn is_refusal(error: &Error) -> bool {
    use cryptoki_sys as p11;
    match error {
        Error::InvalidCiphertext(_)
        | Error::DecryptionFailed
        | Error::SignatureNotValid
        | Error::MacNotValid => false,
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
        other => matches!(
            outcome_code(other),
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

/// Why a call did not start.
enum Admission {
    /// Refused by the disk reserve or a quota: the throttled records are rate-limited.
    Throttled(Error),
    /// The shared store could not be asked what changed: the call cannot be served safely.
    Store(Error),
}

/// Runs one call: admission, the handler with its `Call`, the audit record, metrics and the log
/// line. A call whose audit record cannot be written does not succeed.
pub(crate) async fn run<Resp, Fut>(
    metrics: &Metrics,
    service: &Keystore,
    operation: Operation,
    facts: CallFacts,
    error_code: ErrorCode,
    handler: impl FnOnce(Arc<Call>) -> Fut,
) -> Result<Resp, Error>
where
    Fut: Future<Output = Result<Resp, Error>>,
{
    let started = Instant::now();
    let CallFacts {
        request_id,
        principal: caller,
        source,
        mut key,
        encryption_context,
        grant_tokens,
        request_metadata,
    } = facts;
    let mut key_version = None;
    let mut record = ThrottledRecord::Write { unrecorded_before: 0 };
    // Before the call, this node takes in what other nodes of a shared store changed.
    let admitted = match admit(service, &caller, operation) {
        Ok(()) => service.catch_up().await.map_err(Admission::Store),
        Err(throttled) => Err(Admission::Throttled(throttled)),
    };
    let outcome = match admitted {
        Ok(()) => {
            let call = Arc::new(Call::new(caller.clone()).with_grant_tokens(grant_tokens));
            // Key bytes the handler's frames moved through are wiped after each of its polls.
            let outcome = crate::secure_mem::wiping_stack(handler(Arc::clone(&call))).await;
            let used = call.used();
            if key.is_empty() {
                key = used.key.unwrap_or_default();
            }
            key_version = used.key_version;
            outcome
        }
        Err(Admission::Store(unavailable)) => Err(unavailable),
        Err(Admission::Throttled(throttled)) => {
            record = service.quotas().throttled_record(&caller).unwrap_or(record);
            Err(throttled)
        }
    };
    if outcome.as_ref().err().is_some_and(is_refusal)
        && let Err(error) = service.quotas().charge_refusal(&caller)
    {
        tracing::error!(%error, "cannot count a refusal against the caller's quota");
    }
    let ThrottledRecord::Write { unrecorded_before: unrecorded_throttled } = record else {
        // A throttled call left out of the log: the caller's next throttled record counts it.
        return finish(metrics, operation, &request_id, &caller, started, outcome, false);
    };
    let (code, precise) = match &outcome {
        Ok(_) => (Code::Ok, Cow::Borrowed("")),
        Err(error) => (outcome_code(error), error_code(error)),
    };
    let event = Event {
        request_id: &request_id,
        principal: &caller,
        source: &source,
        operation: operation.name(),
        key: &key,
        key_version,
        encryption_context,
        request_metadata,
        outcome: code_name(code),
        error_code: &precise,
        durable: operation.changes_state(),
        unrecorded_throttled,
    };
    let outcome = match append(metrics, service, event) {
        Ok(()) => outcome,
        Err(error) => Err(error),
    };
    finish(metrics, operation, &request_id, &caller, started, outcome, true)
}

fn append(metrics: &Metrics, service: &Keystore, event: Event<'_>) -> Result<(), Error> {
    let audit_started = Instant::now();
    let appended = service.audit().append(event);
    metrics.record_audit_write(audit_started.elapsed());
    appended.map_err(|error| {
        tracing::error!(%error, "cannot write the audit log");
        Error::AuditUnavailable(error.to_string())
    })
}

/// Metrics and the log line: a failure's at `info` (left out for a throttled call left out of the
/// audit log, so a flood cannot fill the journal either), a success's at `debug`.
fn finish<Resp>(
    metrics: &Metrics,
    operation: Operation,
    request_id: &str,
    caller: &str,
    started: Instant,
    outcome: Result<Resp, Error>,
    logged: bool,
) -> Result<Resp, Error> {
    let elapsed = started.elapsed();
    let micros = elapsed.as_micros() as u64;
    match &outcome {
        Ok(_) => {
            metrics.record(operation, code_name(Code::Ok), elapsed);
            // The audit log records every call; the journal gets failures, and successes at
            // `debug` (a line per call was a tenth of a signature's cost, docs/benchmarks.md).
            tracing::debug!(request_id, caller, operation = operation.name(), micros, "ok");
        }
        Err(error) => {
            let code = outcome_code(error);
            metrics.record(operation, code_name(code), elapsed);
            if logged {
                let error = crate::error::bounded_message(&error.to_string()).into_owned();
                tracing::info!(request_id, caller, operation = operation.name(), micros, code = ?code, error, "failed");
            }
        }
    }
    outcome
}

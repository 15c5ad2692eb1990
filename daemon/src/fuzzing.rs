//! Entry points for the fuzz targets in `fuzz/` (built only with the `fuzzing` feature, which no
//! normal build enables): the parsers of hostile bytes that are not public API, reached exactly
//! as the daemon reaches them (including SigV4 verification, `sigv4_verify`). The parsers that are public (`Policy::parse`, `Settings::from_toml`,
//! `crypto::blob::parse`, `crypto::der`, `crypto::import`, `AuditLog`) are fuzzed
//! directly and need no door.

use arca_proto::v1 as pb;

use crate::error::Result;
use crate::grpc::token::convert as token_convert;
pub use crate::service::token::attributes::{AttributeMap, Template};
pub use crate::service::token::{Mechanism, OperationKind};

/// A template as the Token service reads it from a request (C_CreateObject, C_FindObjectsInit …).
pub fn token_template(attributes: Vec<pb::Attribute>) -> Result<Template> {
    token_convert::template(attributes)
}

/// A mechanism and its parameter as the Token service reads them from a request.
pub fn token_mechanism(mechanism: Option<pb::Mechanism>) -> Result<Mechanism> {
    token_convert::mechanism(mechanism)
}

/// The operation kind of an OperationInit or operation data request.
pub fn operation_kind(kind: i32) -> Result<OperationKind> {
    token_convert::operation_kind(kind)
}

/// What C_CreateObject would store for `template`, after all its checks, without a session.
pub fn new_object_attributes(template: &Template) -> Result<AttributeMap> {
    crate::service::token::fuzzing::new_object_attributes(template)
}

/// The secret of the example access key of AWS's SigV4 test suite (`AKIDEXAMPLE`).
pub const SIGV4_EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// The test suite's access key, known here as `uid:7`.
struct ExampleKey;

impl crate::auth::sigv4::CredentialSource for ExampleKey {
    fn credential(&self, access_key_id: &str) -> Result<Option<crate::service::Credential>> {
        if access_key_id != "AKIDEXAMPLE" {
            return Ok(None);
        }
        let secret = crate::secure_mem::SecretBuf::copy_from(SIGV4_EXAMPLE_SECRET.as_bytes())?;
        Ok(Some(crate::service::Credential { principal: "uid:7".to_owned(), secret }))
    }
}

/// SigV4 verification (`auth::sigv4`) of a request as AWS's SigV4 test suite writes them: signed
/// for the service `service` in `us-east-1`, checked at 2015-08-30T12:36:00Z. `None` when the
/// parts make no HTTP request; else the principal, or the refusal's exception name and message.
pub fn sigv4_verify(
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<std::result::Result<String, (&'static str, String)>> {
    let mut builder = http::Request::builder().method(method).uri(target);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let parts = builder.body(()).ok()?.into_parts().0;
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160);
    let outcome =
        crate::auth::sigv4::verify_for_service(&parts, body, now, "us-east-1", "service", &ExampleKey);
    Some(
        outcome
            .map(|verified| verified.principal)
            .map_err(|refusal| (refusal.exception_name(), refusal.message())),
    )
}

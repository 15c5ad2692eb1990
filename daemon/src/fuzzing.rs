//! Entry points for the fuzz targets in `fuzz/` (built only with the `fuzzing` feature, which no
//! normal build enables): the parsers of hostile bytes that are not public API, reached exactly
//! as the daemon reaches them. The parsers that are public (`Policy::parse`, `Settings::from_toml`,
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

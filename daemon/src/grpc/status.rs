//! The one mapping from daemon errors to gRPC status codes.

use tonic::Status;

use crate::error::Error;

pub(super) fn to_status(error: &Error) -> Status {
    let code = crate::front::outcome_code(error);
    // Bounded: a message never carries a caller's huge input back whole.
    let mut status = Status::new(code, crate::error::bounded_message(&error.to_string()));
    let rv = format!("0x{:08X}", super::token::status::ckr_for(error));
    if let Ok(value) = tonic::metadata::MetadataValue::try_from(rv.as_str()) {
        status.metadata_mut().insert(super::token::status::CKR_HEADER, value);
    }
    status
}

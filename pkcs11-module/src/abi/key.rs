//! Key management (PKCS#11 3.0 §5.14): generate, generate a pair, wrap, unwrap, derive.

use arca_proto::v1::{
    DeriveKeyRequest, GenerateKeyPairRequest, GenerateKeyRequest, UnwrapKeyRequest, WrapKeyRequest,
};
use cryptoki_sys::*;

use super::mechanism::read_mechanism;
use super::{capacity, deliver, guard, input, non_null, template, write};
use crate::client::Reach;
use crate::output::{self, settle_response};
use crate::state::rpc;

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GenerateKey(
    session: CK_SESSION_HANDLE,
    mechanism: *mut CK_MECHANISM,
    attributes: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        // SAFETY: the caller's contract holds for the mechanism and the template.
        let (mechanism, template) = unsafe { (read_mechanism(mechanism)?, template(attributes, count)?) };
        non_null(key)?;
        let request = GenerateKeyRequest { session, mechanism: Some(mechanism), template };
        let generated = rpc!(Reach::Existing, GENERATE_KEY, request)?;
        // SAFETY: the caller guarantees a writable handle at the non-NULL `key`.
        unsafe { write(key, generated.object) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GenerateKeyPair(
    session: CK_SESSION_HANDLE,
    mechanism: *mut CK_MECHANISM,
    public_attributes: *mut CK_ATTRIBUTE,
    public_count: CK_ULONG,
    private_attributes: *mut CK_ATTRIBUTE,
    private_count: CK_ULONG,
    public_key: *mut CK_OBJECT_HANDLE,
    private_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        // SAFETY: the caller's contract holds for the mechanism and both templates.
        let (mechanism, public_template, private_template) = unsafe {
            (
                read_mechanism(mechanism)?,
                template(public_attributes, public_count)?,
                template(private_attributes, private_count)?,
            )
        };
        non_null(public_key)?;
        non_null(private_key)?;
        let request =
            GenerateKeyPairRequest { session, mechanism: Some(mechanism), public_template, private_template };
        let pair = rpc!(Reach::Existing, GENERATE_KEY_PAIR, request)?;
        // SAFETY: the caller guarantees writable handles at both non-NULL pointers.
        unsafe {
            write(public_key, pair.public_key)?;
            write(private_key, pair.private_key)
        }
    })
}

/// Follows the two-call convention for the wrapped key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_WrapKey(
    session: CK_SESSION_HANDLE,
    mechanism: *mut CK_MECHANISM,
    wrapping_key: CK_OBJECT_HANDLE,
    key: CK_OBJECT_HANDLE,
    wrapped: *mut CK_BYTE,
    wrapped_len: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        // SAFETY: the caller's contract holds for the mechanism and the output buffer.
        unsafe {
            let mechanism = read_mechanism(mechanism)?;
            let space = capacity(wrapped, wrapped_len)?;
            let request = WrapKeyRequest {
                session,
                mechanism: Some(mechanism),
                wrapping_key,
                key,
                space: Some(output::space(space)),
            };
            let answer = rpc!(Reach::Existing, WRAP_KEY, request)?;
            deliver(wrapped, wrapped_len, settle_response(answer, space)?)
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_UnwrapKey(
    session: CK_SESSION_HANDLE,
    mechanism: *mut CK_MECHANISM,
    unwrapping_key: CK_OBJECT_HANDLE,
    wrapped: *mut CK_BYTE,
    wrapped_len: CK_ULONG,
    attributes: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        // SAFETY: the caller's contract holds for the mechanism, the wrapped key and the template.
        let (mechanism, wrapped_key, template) = unsafe {
            (read_mechanism(mechanism)?, input(wrapped, wrapped_len)?.to_vec(), template(attributes, count)?)
        };
        non_null(key)?;
        let request =
            UnwrapKeyRequest { session, mechanism: Some(mechanism), unwrapping_key, wrapped_key, template };
        let unwrapped = rpc!(Reach::Existing, UNWRAP_KEY, request)?;
        // SAFETY: the caller guarantees a writable handle at the non-NULL `key`.
        unsafe { write(key, unwrapped.object) }
    })
}

/// `phKey` is required: the mechanisms that allow a NULL one (SSL 3 / TLS key-and-MAC
/// derivation) are not Arca's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DeriveKey(
    session: CK_SESSION_HANDLE,
    mechanism: *mut CK_MECHANISM,
    base_key: CK_OBJECT_HANDLE,
    attributes: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        let mechanism_ptr = mechanism.cast_const();
        // SAFETY: the caller's contract holds for the mechanism and the template.
        let (mechanism, template) = unsafe { (read_mechanism(mechanism)?, template(attributes, count)?) };
        non_null(key)?;
        let request = DeriveKeyRequest { session, mechanism: Some(mechanism), base_key, template };
        let derived = rpc!(Reach::Existing, DERIVE_KEY, request)?;
        // SAFETY: the same mechanism the call was made with (SP 800-108's additional keys), and
        // the caller guarantees a writable handle at the non-NULL `key`.
        unsafe {
            write(key, derived.object)?;
            super::sp800_108::write_additional_handles(mechanism_ptr, &derived.additional_objects)
        }
    })
}

//! Object management (PKCS#11 3.0 §5.7). Objects live in the daemon; handles pass through.

use arca_proto::limits::MAX_TEMPLATE_ATTRIBUTES;
use arca_proto::v1::attribute_result::Outcome;
use arca_proto::v1::{
    AttributeResult, CopyObjectRequest, CreateObjectRequest, FindObjectsInitRequest, FindObjectsRequest,
    GetAttributeValueRequest, ObjectRequest, SessionRequest, SetAttributeValueRequest,
};
use cryptoki_sys::*;

use super::{check_output, guard, length, non_null, slice, template, write};
use crate::client::Reach;
use crate::error::Error;
use crate::marshal::attributes;
use crate::state::rpc;

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_CreateObject(
    session: CK_SESSION_HANDLE,
    attributes: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    object: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        // SAFETY: the caller guarantees `count` readable attributes at `attributes`.
        let template = unsafe { template(attributes, count) }?;
        non_null(object)?;
        let created = rpc!(Reach::Existing, CREATE_OBJECT, CreateObjectRequest { session, template })?;
        // SAFETY: the caller guarantees a writable handle at the non-NULL `object`.
        unsafe { write(object, created.object) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_CopyObject(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    attributes: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    new_object: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        // SAFETY: the caller guarantees `count` readable attributes at `attributes`.
        let template = unsafe { template(attributes, count) }?;
        non_null(new_object)?;
        let copied = rpc!(Reach::Existing, COPY_OBJECT, CopyObjectRequest { session, object, template })?;
        // SAFETY: the caller guarantees a writable handle at the non-NULL `new_object`.
        unsafe { write(new_object, copied.object) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DestroyObject(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE) -> CK_RV {
    guard(|| rpc!(Reach::Existing, DESTROY_OBJECT, ObjectRequest { session, object }).map(drop))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetObjectSize(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    size: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        non_null(size)?;
        let answer = rpc!(Reach::Existing, GET_OBJECT_SIZE, ObjectRequest { session, object })?;
        // SAFETY: the caller guarantees a writable CK_ULONG at the non-NULL `size`.
        unsafe { write(size, answer.size) }
    })
}

/// Processes every attribute and returns `CKR_ATTRIBUTE_SENSITIVE`,
/// `CKR_ATTRIBUTE_TYPE_INVALID` or `CKR_BUFFER_TOO_SMALL` if any attribute had that outcome.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetAttributeValue(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    attributes: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    guard(|| {
        // SAFETY: the caller guarantees `count` readable and writable attributes at
        // `attributes`; the shared view ends before anything is written.
        let types = unsafe { slice(attributes.cast_const(), count, Error::ArgumentsBad) }?
            .iter()
            .map(|entry| entry.type_)
            .collect::<Vec<_>>();
        // A long template is asked in batches, each of which fits in one request.
        let mut results = Vec::with_capacity(types.len());
        for batch in types.chunks(MAX_TEMPLATE_ATTRIBUTES) {
            let request = GetAttributeValueRequest { session, object, types: batch.to_vec() };
            results.extend(rpc!(Reach::Existing, GET_ATTRIBUTE_VALUE, request)?.attributes);
        }
        if results.len() != length(count, 1)? {
            return Err(Error::Protocol);
        }
        let mut outcome = Ok(());
        for (index, result) in results.into_iter().enumerate() {
            // SAFETY: `index < count`, so the entry is one of the caller's attributes.
            let entry = unsafe { attributes.add(index) };
            // SAFETY: as above; the entry's `pValue` is valid for its `ulValueLen` bytes.
            if let Err(error) = unsafe { fill(entry, result) }? {
                outcome = outcome.and(Err(error));
            }
        }
        outcome
    })
}

/// Writes one result into the caller's attribute; the inner error is the attribute's outcome.
unsafe fn fill(entry: *mut CK_ATTRIBUTE, result: AttributeResult) -> Result<Result<(), Error>, Error> {
    // SAFETY: the caller guarantees that `entry` is one of the application's attributes.
    let mut attribute = unsafe { entry.read_unaligned() };
    if result.r#type != attribute.type_ {
        return Err(Error::Protocol);
    }
    let buffer = if attribute.pValue.is_null() { None } else { Some(length(attribute.ulValueLen, 1)?) };
    let placed = place(result, buffer)?;
    if let Some(value) = &placed.copy {
        // SAFETY: `place` copies only when `value.len()` fits in `ulValueLen`, the size of the
        // caller's non-NULL `pValue` buffer; the regions cannot overlap.
        unsafe { std::ptr::copy_nonoverlapping(value.as_ptr(), attribute.pValue.cast::<u8>(), value.len()) };
    }
    attribute.ulValueLen = placed.length;
    // SAFETY: as above; only `ulValueLen` changes.
    unsafe { entry.write_unaligned(attribute) };
    Ok(placed.outcome)
}

/// What one attribute of `C_GetAttributeValue` gets.
#[derive(Debug, PartialEq, Eq)]
pub struct Placed {
    /// The new `ulValueLen`.
    pub length: CK_ULONG,
    /// The value to copy to `pValue`.
    pub copy: Option<Vec<u8>>,
    /// The attribute's outcome.
    pub outcome: Result<(), Error>,
}

/// Applies PKCS#11 §5.7.5 to one daemon result; `buffer` is the size of `pValue` (None: NULL).
pub fn place(result: AttributeResult, buffer: Option<usize>) -> Result<Placed, Error> {
    let unavailable = |error| Placed { length: CK_UNAVAILABLE_INFORMATION, copy: None, outcome: Err(error) };
    let value = match Outcome::try_from(result.outcome).map_err(|_| Error::Protocol)? {
        Outcome::AttributeSensitive => return Ok(unavailable(Error::AttributeSensitive)),
        Outcome::AttributeTypeInvalid => return Ok(unavailable(Error::AttributeTypeInvalid)),
        Outcome::AttributeOk => match attributes::from_wire(result.r#type, result.value) {
            Ok(value) => value,
            Err(Error::AttributeTypeInvalid) => return Ok(unavailable(Error::AttributeTypeInvalid)),
            Err(error) => return Err(error),
        },
    };
    let length = value.len() as CK_ULONG;
    Ok(match buffer {
        None => Placed { length, copy: None, outcome: Ok(()) },
        Some(size) if size < value.len() => unavailable(Error::BufferTooSmall),
        Some(_) => Placed { length, copy: Some(value), outcome: Ok(()) },
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SetAttributeValue(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    attributes: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    guard(|| {
        // SAFETY: the caller guarantees `count` readable attributes at `attributes`.
        let template = unsafe { template(attributes, count) }?;
        let request = SetAttributeValueRequest { session, object, template };
        rpc!(Reach::Existing, SET_ATTRIBUTE_VALUE, request).map(drop)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_FindObjectsInit(
    session: CK_SESSION_HANDLE,
    attributes: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    guard(|| {
        // SAFETY: the caller guarantees `count` readable attributes at `attributes`.
        let template = unsafe { template(attributes, count) }?;
        rpc!(Reach::Existing, FIND_OBJECTS_INIT, FindObjectsInitRequest { session, template }).map(drop)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_FindObjects(
    session: CK_SESSION_HANDLE,
    objects: *mut CK_OBJECT_HANDLE,
    max_objects: CK_ULONG,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        let capacity = check_output(objects, max_objects)?;
        non_null(count)?;
        let request = FindObjectsRequest { session, max_objects };
        let found = rpc!(Reach::Existing, FIND_OBJECTS, request)?.objects;
        if found.len() > capacity {
            return Err(Error::Protocol);
        }
        if !found.is_empty() {
            // SAFETY: at most `max_objects` handles go to the caller's `max_objects`-handle
            // buffer, which is non-NULL when anything is found; bytes need no alignment.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    found.as_ptr().cast::<u8>(),
                    objects.cast::<u8>(),
                    std::mem::size_of_val(found.as_slice()),
                );
            }
        }
        // SAFETY: the caller guarantees a writable CK_ULONG at the non-NULL `count`.
        unsafe { write(count, found.len() as CK_ULONG) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_FindObjectsFinal(session: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| rpc!(Reach::Existing, FIND_OBJECTS_FINAL, SessionRequest { session }).map(drop))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(kind: CK_ATTRIBUTE_TYPE, outcome: Outcome, value: &[u8]) -> AttributeResult {
        AttributeResult { r#type: kind, outcome: outcome as i32, value: value.to_vec() }
    }

    #[test]
    fn a_null_buffer_gets_the_length() {
        let placed = place(result(CKA_LABEL, Outcome::AttributeOk, b"label"), None).unwrap();
        assert_eq!(placed, Placed { length: 5, copy: None, outcome: Ok(()) });
        let placed = place(result(CKA_CLASS, Outcome::AttributeOk, &3u64.to_le_bytes()), None).unwrap();
        assert_eq!(placed.length, size_of::<CK_ULONG>() as CK_ULONG);
    }

    #[test]
    fn a_big_enough_buffer_gets_the_native_value() {
        let placed =
            place(result(CKA_KEY_TYPE, Outcome::AttributeOk, &0x1fu64.to_le_bytes()), Some(8)).unwrap();
        assert_eq!(placed.copy, Some(CKK_AES.to_ne_bytes().to_vec()));
        assert_eq!(placed.outcome, Ok(()));
        let placed = place(result(CKA_ID, Outcome::AttributeOk, b""), Some(0)).unwrap();
        assert_eq!(placed, Placed { length: 0, copy: Some(vec![]), outcome: Ok(()) });
    }

    #[test]
    fn a_short_buffer_is_unavailable_and_too_small() {
        let placed = place(result(CKA_MODULUS, Outcome::AttributeOk, &[1; 256]), Some(128)).unwrap();
        let expected =
            Placed { length: CK_UNAVAILABLE_INFORMATION, copy: None, outcome: Err(Error::BufferTooSmall) };
        assert_eq!(placed, expected);
    }

    #[test]
    fn sensitive_and_invalid_attributes_are_unavailable() {
        let placed = place(result(CKA_VALUE, Outcome::AttributeSensitive, b""), Some(32)).unwrap();
        assert_eq!(placed.length, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(placed.outcome, Err(Error::AttributeSensitive));
        let placed = place(result(CKA_PRIME_1, Outcome::AttributeTypeInvalid, b""), None).unwrap();
        assert_eq!(placed.length, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(placed.outcome, Err(Error::AttributeTypeInvalid));
        let placed = place(result(CKA_WRAP_TEMPLATE, Outcome::AttributeOk, b"xx"), Some(64)).unwrap();
        assert_eq!(placed.outcome, Err(Error::AttributeTypeInvalid));
    }

    #[test]
    fn malformed_answers_are_protocol_errors() {
        let mut bad = result(CKA_LABEL, Outcome::AttributeOk, b"");
        bad.outcome = 9;
        assert_eq!(place(bad, None), Err(Error::Protocol));
        assert_eq!(place(result(CKA_CLASS, Outcome::AttributeOk, &[1, 2]), None), Err(Error::Protocol));
    }
}

//! The C ABI: every `C_*` function, split by chapter of the PKCS#11 specification, and the
//! pointer helpers they share. This is the only place with `unsafe` code.
//!
//! Each exported function runs its body in [`guard`] (a panic becomes `CKR_GENERAL_ERROR`),
//! checks its pointers through the helpers below (NULL where the specification does not allow it
//! is `CKR_ARGUMENTS_BAD`), and converts its [`Error`] to `CK_RV` once, at the end.
//!
//! # Safety
//!
//! The exported functions are `unsafe extern "C"`: the caller keeps the PKCS#11 contract, that
//! every non-NULL pointer it passes is valid for reads (and, for outputs, writes) of the length it
//! gives alongside, and stays so for the duration of the call. The module never keeps a pointer
//! after returning, and returns pointers only to its own statics (function lists, interfaces).

#![allow(non_snake_case, clippy::missing_safety_doc)]

pub mod crypt;
pub mod digest;
pub mod function_list;
pub mod general;
pub mod key;
pub mod mechanism;
pub mod message;
pub mod object;
pub mod operation;
pub mod random;
pub mod session;
pub mod sign;
pub mod slot;
mod sp800_108;

#[cfg(test)]
pub(crate) mod tests;

use std::panic::{AssertUnwindSafe, catch_unwind};

use arca_proto::limits::{MAX_LABEL_BYTES, MAX_PIN_BYTES, MAX_TEMPLATE_ATTRIBUTES, MAX_TEMPLATE_VALUE_BYTES};
use arca_proto::v1::Attribute;
use cryptoki_sys::*;

use crate::error::Error;
use crate::marshal::attributes;
use crate::output::{Capacity, Settled};
use crate::state;

/// Runs the body of a C function that needs `C_Initialize` first: `CKR_CRYPTOKI_NOT_INITIALIZED`
/// before anything else is looked at, then the body's error, or `CKR_GENERAL_ERROR` on a panic.
pub fn guard(body: impl FnOnce() -> Result<(), Error>) -> CK_RV {
    guard_any(|| {
        state::ensure_initialized()?;
        body()
    })
}

/// Runs the body of a C function that works in any state (function lists, `C_Initialize`).
pub fn guard_any(body: impl FnOnce() -> Result<(), Error>) -> CK_RV {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => CKR_OK,
        Ok(Err(error)) => error.into(),
        Err(_panic) => CKR_GENERAL_ERROR,
    }
}

/// A C length as `usize`, refusing lengths no object can have.
fn length(len: CK_ULONG, item: usize) -> Result<usize, Error> {
    let len = usize::try_from(len).map_err(|_| Error::ArgumentsBad)?;
    match len.checked_mul(item) {
        Some(bytes) if isize::try_from(bytes).is_ok() => Ok(len),
        _ => Err(Error::ArgumentsBad),
    }
}

/// The `len` items at `ptr`; NULL is allowed only with `len == 0`, else `null_error`.
unsafe fn slice<'a, T>(ptr: *const T, len: CK_ULONG, null_error: Error) -> Result<&'a [T], Error> {
    let len = length(len, size_of::<T>())?;
    if ptr.is_null() {
        return if len == 0 { Ok(&[]) } else { Err(null_error) };
    }
    if !ptr.is_aligned() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: `ptr` is non-NULL and aligned, the size fits in `isize` (checked by `length`), and
    // the caller guarantees `len` readable items at `ptr` for the duration of the call.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The bytes of an input buffer (`pData`, `ulDataLen`): NULL with a length is `CKR_ARGUMENTS_BAD`.
unsafe fn input<'a>(ptr: *const CK_BYTE, len: CK_ULONG) -> Result<&'a [u8], Error> {
    // SAFETY: the caller's contract for (`ptr`, `len`) is the one `slice` needs.
    unsafe { slice(ptr, len, Error::ArgumentsBad) }
}

/// A PIN: NULL (which would mean a protected authentication path Arca does not have) is
/// `CKR_ARGUMENTS_BAD` whatever the length; one longer than the token's `ulMaxPinLen` is
/// `CKR_PIN_LEN_RANGE`, without a round trip.
unsafe fn pin(ptr: *const CK_UTF8CHAR, len: CK_ULONG) -> Result<Vec<u8>, Error> {
    if ptr.is_null() {
        return Err(Error::ArgumentsBad);
    }
    if usize::try_from(len).ok().is_none_or(|len| len > MAX_PIN_BYTES) {
        return Err(Error::PinLenRange);
    }
    // SAFETY: the caller guarantees `len` readable bytes at the non-NULL `ptr`.
    unsafe { input(ptr, len) }.map(<[u8]>::to_vec)
}

/// Checks a fixed-size output buffer without touching it: NULL only with a zero length.
fn check_output<T>(ptr: *mut T, len: CK_ULONG) -> Result<usize, Error> {
    let len = length(len, size_of::<T>())?;
    if ptr.is_null() && len > 0 { Err(Error::ArgumentsBad) } else { Ok(len) }
}

/// Reads the value at `ptr`, which must not be NULL.
unsafe fn read<T>(ptr: *const T) -> Result<T, Error> {
    if ptr.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: non-NULL, and the caller guarantees a readable `T`; alignment is not required.
    Ok(unsafe { ptr.read_unaligned() })
}

/// Writes `value` to `ptr`, which must not be NULL.
unsafe fn write<T>(ptr: *mut T, value: T) -> Result<(), Error> {
    if ptr.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: non-NULL, and the caller guarantees a writable `T`; alignment is not required.
    unsafe { ptr.write_unaligned(value) };
    Ok(())
}

/// Fails with `CKR_ARGUMENTS_BAD` if an output pointer is NULL, before any call is made.
fn non_null<T>(ptr: *mut T) -> Result<(), Error> {
    if ptr.is_null() { Err(Error::ArgumentsBad) } else { Ok(()) }
}

/// The capacity of a two-call output buffer: `len_ptr` is required, `buffer` may be NULL.
/// `*len_ptr` is read only beside a buffer: with a NULL buffer the application may leave it
/// uninitialised (`CK_ULONG len; C_Sign(h, data, n, NULL, &len)`).
unsafe fn capacity<T>(buffer: *mut T, len_ptr: *mut CK_ULONG) -> Result<Capacity, Error> {
    non_null(len_ptr)?;
    if buffer.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL; beside a non-NULL buffer the caller guarantees an initialised CK_ULONG.
    let len = unsafe { read(len_ptr) }?;
    length(len, size_of::<T>()).map(Some)
}

/// Writes a settled output: the items (if any) to `buffer`, the length to `len_ptr`.
unsafe fn deliver<T: Copy>(buffer: *mut T, len_ptr: *mut CK_ULONG, settled: Settled<T>) -> Result<(), Error> {
    if let Some(items) = &settled.items {
        if buffer.is_null() {
            return Err(Error::ArgumentsBad);
        }
        // SAFETY: `items.len()` never exceeds the capacity read from `len_ptr` (the `settle_*`
        // functions guarantee it), and the caller guarantees that many writable items at
        // `buffer`. Copying bytes needs no alignment; the regions cannot overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(
                items.as_ptr().cast::<u8>(),
                buffer.cast::<u8>(),
                std::mem::size_of_val(items.as_slice()),
            );
        }
    }
    // SAFETY: the caller guarantees a writable CK_ULONG at `len_ptr` (checked non-NULL before).
    unsafe { write(len_ptr, settled.length) }?;
    settled.result
}

/// A template in wire form. NULL with `count > 0` is `CKR_ARGUMENTS_BAD`; an attribute whose
/// `pValue` is NULL with a length is `CKR_ATTRIBUTE_VALUE_INVALID`. The sizes of
/// `arca_proto::limits` are checked here, before anything is copied or sent: more attributes than
/// any object has is `CKR_TEMPLATE_INCONSISTENT`, a label or values too long for the token
/// `CKR_ATTRIBUTE_VALUE_INVALID`.
unsafe fn template(ptr: *const CK_ATTRIBUTE, count: CK_ULONG) -> Result<Vec<Attribute>, Error> {
    // SAFETY: the caller guarantees `count` readable CK_ATTRIBUTEs at `ptr`.
    let entries = unsafe { slice(ptr, count, Error::ArgumentsBad) }?;
    if entries.len() > MAX_TEMPLATE_ATTRIBUTES {
        return Err(Error::TemplateInconsistent);
    }
    let value_len = |entry: &CK_ATTRIBUTE| usize::try_from(entry.ulValueLen).unwrap_or(usize::MAX);
    let label_too_long = entries.iter().any(|e| e.type_ == CKA_LABEL && value_len(e) > MAX_LABEL_BYTES);
    let total = entries.iter().fold(0usize, |sum, entry| sum.saturating_add(value_len(entry)));
    if label_too_long || total > MAX_TEMPLATE_VALUE_BYTES {
        return Err(Error::AttributeValueInvalid);
    }
    entries
        .iter()
        .map(|entry| {
            // SAFETY: the caller guarantees `ulValueLen` readable bytes at each `pValue`.
            let value =
                unsafe { slice(entry.pValue.cast::<u8>(), entry.ulValueLen, Error::AttributeValueInvalid) }?;
            attributes::to_wire(entry.type_, value)
        })
        .collect()
}

/// Copies `text` into a blank-padded fixed field, cut at a character boundary if too long.
fn padded<const N: usize>(text: &str) -> [u8; N] {
    let mut field = [b' '; N];
    let mut end = text.len().min(N);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    for (slot, byte) in field.iter_mut().zip(text.as_bytes().iter().take(end)) {
        *slot = *byte;
    }
    field
}

/// The module's own version, as `CK_VERSION`.
fn library_version() -> CK_VERSION {
    let part = |text: &str| text.parse::<u8>().unwrap_or(0);
    CK_VERSION { major: part(env!("CARGO_PKG_VERSION_MAJOR")), minor: part(env!("CARGO_PKG_VERSION_MINOR")) }
}

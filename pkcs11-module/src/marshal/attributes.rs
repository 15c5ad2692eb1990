//! Attribute values between their C form (what the application's `pValue` holds) and their
//! canonical wire form (the proto header of `token.proto`).
//!
//! | attribute class | C (`pValue`)                         | wire                         |
//! |-----------------|--------------------------------------|------------------------------|
//! | CK_ULONG        | one native `CK_ULONG`                | 8 bytes little-endian        |
//! | CK_ULONG array  | native `CK_ULONG`s (CKA_ALLOWED_MECHANISMS) | 8-byte LE each        |
//! | CK_BBOOL        | one byte                             | one byte, 0 or 1             |
//! | nested template | `CK_ATTRIBUTE` array                 | not supported                |
//! | anything else   | bytes                                | the same bytes               |

use arca_proto::v1::Attribute;
use cryptoki_sys::*;

use crate::error::Error;

/// The size of a `CK_ULONG`, which is also the size of a wire value (`lib.rs` asserts it).
const ULONG: usize = size_of::<CK_ULONG>();

pub use arca_proto::attributes::{Class, class};

/// One template entry (type and the bytes at `pValue`) in wire form.
pub fn to_wire(kind: CK_ATTRIBUTE_TYPE, value: &[u8]) -> Result<Attribute, Error> {
    let value = match class(kind) {
        Class::Ulong if value.len() == ULONG => ulongs_to_wire(value),
        Class::UlongArray if value.len().is_multiple_of(ULONG) => ulongs_to_wire(value),
        Class::Ulong | Class::UlongArray => return Err(Error::AttributeValueInvalid),
        Class::Bool => match value {
            [byte] => vec![u8::from(*byte != CK_FALSE)],
            _ => return Err(Error::AttributeValueInvalid),
        },
        Class::Nested => return Err(Error::AttributeTypeInvalid),
        Class::Bytes => value.to_vec(),
    };
    Ok(Attribute { r#type: kind, value })
}

/// A value read from the daemon, in the form the application expects at `pValue`.
pub fn from_wire(kind: CK_ATTRIBUTE_TYPE, value: Vec<u8>) -> Result<Vec<u8>, Error> {
    match class(kind) {
        Class::Ulong if value.len() == ULONG => Ok(ulongs_from_wire(&value)),
        Class::UlongArray if value.len().is_multiple_of(ULONG) => Ok(ulongs_from_wire(&value)),
        Class::Ulong | Class::UlongArray => Err(Error::Protocol),
        Class::Bool if value.len() == 1 => Ok(value),
        Class::Bool => Err(Error::Protocol),
        // The daemon never answers these; if it did, the bytes could not be a CK_ATTRIBUTE array.
        Class::Nested => Err(Error::AttributeTypeInvalid),
        Class::Bytes => Ok(value),
    }
}

/// Native `CK_ULONG`s to 8-byte little-endian values.
fn ulongs_to_wire(native: &[u8]) -> Vec<u8> {
    native
        .chunks_exact(ULONG)
        .filter_map(|chunk| <[u8; ULONG]>::try_from(chunk).ok())
        .flat_map(|bytes| CK_ULONG::from_ne_bytes(bytes).to_le_bytes())
        .collect()
}

/// 8-byte little-endian values to native `CK_ULONG`s.
fn ulongs_from_wire(wire: &[u8]) -> Vec<u8> {
    wire.chunks_exact(ULONG)
        .filter_map(|chunk| <[u8; ULONG]>::try_from(chunk).ok())
        .flat_map(|bytes| CK_ULONG::from_le_bytes(bytes).to_ne_bytes())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn native(values: &[CK_ULONG]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_ne_bytes()).collect()
    }

    #[test]
    fn ulong_attributes_become_8_byte_little_endian() {
        let wire = to_wire(CKA_CLASS, &native(&[CKO_SECRET_KEY])).unwrap();
        assert_eq!(wire.r#type, CKA_CLASS);
        assert_eq!(wire.value, 4u64.to_le_bytes());
        let wire = to_wire(CKA_VALUE_LEN, &native(&[0x0102_0304])).unwrap();
        assert_eq!(wire.value, [4, 3, 2, 1, 0, 0, 0, 0]);
        for kind in [CKA_KEY_TYPE, CKA_MODULUS_BITS, CKA_KEY_GEN_MECHANISM, CKA_CERTIFICATE_CATEGORY] {
            assert_eq!(class(kind), Class::Ulong);
        }
    }

    #[test]
    fn ulong_attribute_of_the_wrong_size_is_value_invalid() {
        assert_eq!(to_wire(CKA_CLASS, &[1, 2, 3, 4]), Err(Error::AttributeValueInvalid));
        assert_eq!(to_wire(CKA_KEY_TYPE, &[]), Err(Error::AttributeValueInvalid));
        assert_eq!(to_wire(CKA_ALLOWED_MECHANISMS, &[0; 12]), Err(Error::AttributeValueInvalid));
    }

    #[test]
    fn allowed_mechanisms_is_a_sequence() {
        let mechanisms = [CKM_AES_GCM, CKM_SHA256_RSA_PKCS_PSS];
        let wire = to_wire(CKA_ALLOWED_MECHANISMS, &native(&mechanisms)).unwrap();
        let mut expected = CKM_AES_GCM.to_le_bytes().to_vec();
        expected.extend_from_slice(&CKM_SHA256_RSA_PKCS_PSS.to_le_bytes());
        assert_eq!(wire.value, expected);
        assert_eq!(from_wire(CKA_ALLOWED_MECHANISMS, wire.value).unwrap(), native(&mechanisms));
        assert_eq!(to_wire(CKA_ALLOWED_MECHANISMS, &[]).unwrap().value, Vec::<u8>::new());
    }

    #[test]
    fn booleans_are_one_byte_normalised() {
        assert_eq!(to_wire(CKA_TOKEN, &[CK_TRUE]).unwrap().value, [1]);
        assert_eq!(to_wire(CKA_SENSITIVE, &[0]).unwrap().value, [0]);
        assert_eq!(to_wire(CKA_EXTRACTABLE, &[0xff]).unwrap().value, [1]);
        assert_eq!(to_wire(CKA_SIGN, &[1, 0]), Err(Error::AttributeValueInvalid));
        assert_eq!(to_wire(CKA_SIGN, &[]), Err(Error::AttributeValueInvalid));
    }

    #[test]
    fn bytes_pass_through() {
        assert_eq!(to_wire(CKA_LABEL, b"my key").unwrap().value, b"my key");
        assert_eq!(to_wire(CKA_ID, &[]).unwrap().value, Vec::<u8>::new());
        assert_eq!(from_wire(CKA_MODULUS, vec![1, 2, 3]).unwrap(), [1, 2, 3]);
    }

    #[test]
    fn nested_templates_are_refused() {
        for kind in [CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE] {
            assert_eq!(to_wire(kind, &[]), Err(Error::AttributeTypeInvalid));
            assert_eq!(from_wire(kind, vec![]), Err(Error::AttributeTypeInvalid));
        }
    }

    #[test]
    fn wire_values_come_back_native() {
        assert_eq!(from_wire(CKA_KEY_TYPE, 0x1fu64.to_le_bytes().to_vec()).unwrap(), native(&[CKK_AES]));
        assert_eq!(from_wire(CKA_KEY_TYPE, vec![0x1f]), Err(Error::Protocol));
        assert_eq!(from_wire(CKA_TOKEN, vec![1]).unwrap(), [1]);
        assert_eq!(from_wire(CKA_TOKEN, vec![1, 1]), Err(Error::Protocol));
    }
}

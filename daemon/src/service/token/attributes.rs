//! PKCS#11 attributes in their canonical wire encoding (see `token.proto`): CK_ULONG values as
//! 8-byte little-endian, CK_BBOOL as one byte, everything else as PKCS#11 byte strings.

use std::collections::BTreeMap;

use arca_proto::attributes::{Class, class};
use cryptoki_sys::*;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};

/// Attributes by CKA_* type, canonical encoding.
pub type AttributeMap = BTreeMap<CK_ATTRIBUTE_TYPE, Vec<u8>>;

pub fn ulong(value: u64) -> Vec<u8> {
    value.to_le_bytes().to_vec()
}

pub fn boolean(value: bool) -> Vec<u8> {
    vec![u8::from(value)]
}

/// Attribute types whose value is a CK_ULONG.
pub fn is_ulong(kind: CK_ATTRIBUTE_TYPE) -> bool {
    class(kind) == Class::Ulong
}

/// Attribute types whose value is a CK_BBOOL.
pub fn is_bool(kind: CK_ATTRIBUTE_TYPE) -> bool {
    class(kind) == Class::Bool
}

fn invalid_value(kind: CK_ATTRIBUTE_TYPE, what: &str) -> Error {
    Error::p11(CKR_ATTRIBUTE_VALUE_INVALID, format!("attribute 0x{kind:08X}: {what}"))
}

/// Checks the encoding of a value an application supplied.
pub fn check_encoding(kind: CK_ATTRIBUTE_TYPE, value: &[u8]) -> Result<()> {
    if is_ulong(kind) && value.len() != 8 {
        return Err(invalid_value(kind, "a CK_ULONG must be 8 bytes"));
    }
    if is_bool(kind) && (value.len() != 1 || value.first().is_some_and(|b| *b > 1)) {
        return Err(invalid_value(kind, "a CK_BBOOL must be one byte, 0 or 1"));
    }
    if class(kind) == Class::UlongArray && !value.len().is_multiple_of(8) {
        return Err(invalid_value(kind, "a mechanism list is a sequence of 8-byte values"));
    }
    if class(kind) == Class::Nested {
        return Err(Error::p11(
            CKR_ATTRIBUTE_TYPE_INVALID,
            "attribute templates inside attributes are not supported",
        ));
    }
    Ok(())
}

pub fn decode_ulong(value: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(value).ok().map(u64::from_le_bytes)
}

pub fn decode_bool(value: &[u8]) -> Option<bool> {
    match value {
        [0] => Some(false),
        [1] => Some(true),
        _ => None,
    }
}

pub fn decode_ulong_array(value: &[u8]) -> Vec<u64> {
    value.chunks_exact(8).filter_map(decode_ulong).collect()
}

/// A template an application supplied: each type at most once, each value well encoded.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Template {
    values: AttributeMap,
}

/// Names the attribute types only: a template may carry key material (CKA_VALUE …).
impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<String> = self.values.keys().map(|k| format!("0x{k:X}")).collect();
        write!(f, "Template({} [REDACTED])", kinds.join(", "))
    }
}

/// A template may carry key material (CKA_VALUE, private-key components): wiped when dropped.
impl Drop for Template {
    fn drop(&mut self) {
        for value in self.values.values_mut() {
            value.zeroize();
        }
    }
}

impl Template {
    pub fn parse(attributes: impl IntoIterator<Item = (CK_ATTRIBUTE_TYPE, Vec<u8>)>) -> Result<Self> {
        let mut template = Self::default();
        for (kind, value) in attributes {
            let mut value = Zeroizing::new(value);
            check_encoding(kind, &value)?;
            match template.values.get(&kind) {
                Some(previous) if *previous != *value => {
                    return Err(Error::p11(
                        CKR_TEMPLATE_INCONSISTENT,
                        format!("attribute 0x{kind:08X} appears twice with different values"),
                    ));
                }
                Some(_) => {}
                None => {
                    template.values.insert(kind, std::mem::take(&mut *value));
                }
            }
        }
        Ok(template)
    }

    pub fn get(&self, kind: CK_ATTRIBUTE_TYPE) -> Option<&[u8]> {
        self.values.get(&kind).map(Vec::as_slice)
    }

    pub fn bool(&self, kind: CK_ATTRIBUTE_TYPE) -> Option<bool> {
        self.get(kind).and_then(decode_bool)
    }

    pub fn ulong(&self, kind: CK_ATTRIBUTE_TYPE) -> Option<u64> {
        self.get(kind).and_then(decode_ulong)
    }

    pub fn contains(&self, kind: CK_ATTRIBUTE_TYPE) -> bool {
        self.values.contains_key(&kind)
    }

    pub fn iter(&self) -> impl Iterator<Item = (CK_ATTRIBUTE_TYPE, &[u8])> {
        self.values.iter().map(|(k, v)| (*k, v.as_slice()))
    }

    /// The template with `kind` set when the application did not set it.
    pub fn with_default(mut self, kind: CK_ATTRIBUTE_TYPE, value: Vec<u8>) -> Self {
        self.values.entry(kind).or_insert(value);
        self
    }

    /// Fails with CKR_TEMPLATE_INCONSISTENT when `kind` is given with another value.
    pub fn require(&self, kind: CK_ATTRIBUTE_TYPE, value: &[u8], what: &str) -> Result<()> {
        match self.get(kind) {
            Some(given) if given != value => Err(Error::p11(CKR_TEMPLATE_INCONSISTENT, what.to_owned())),
            _ => Ok(()),
        }
    }
}

pub(super) fn incomplete(what: &str) -> Error {
    Error::p11(CKR_TEMPLATE_INCOMPLETE, what.to_owned())
}

pub(super) fn inconsistent(what: &str) -> Error {
    Error::p11(CKR_TEMPLATE_INCONSISTENT, what.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_check_encodings_and_duplicates() {
        assert!(Template::parse([(CKA_TOKEN, vec![1]), (CKA_LABEL, b"x".to_vec())]).is_ok());
        let bad_bool = Template::parse([(CKA_TOKEN, vec![2])]).unwrap_err();
        assert!(matches!(bad_bool, Error::Pkcs11 { rv: CKR_ATTRIBUTE_VALUE_INVALID, .. }));
        let bad_ulong = Template::parse([(CKA_VALUE_LEN, vec![1, 2, 3, 4])]).unwrap_err();
        assert!(matches!(bad_ulong, Error::Pkcs11 { rv: CKR_ATTRIBUTE_VALUE_INVALID, .. }));
        let twice = Template::parse([(CKA_TOKEN, vec![1]), (CKA_TOKEN, vec![0])]).unwrap_err();
        assert!(matches!(twice, Error::Pkcs11 { rv: CKR_TEMPLATE_INCONSISTENT, .. }));
        let repeated = Template::parse([(CKA_TOKEN, vec![1]), (CKA_TOKEN, vec![1])]).unwrap();
        assert_eq!(repeated.bool(CKA_TOKEN), Some(true));
        let template = Template::parse([(CKA_VALUE_LEN, ulong(32))]).unwrap();
        assert_eq!(template.ulong(CKA_VALUE_LEN), Some(32));
        let secret = Template::parse([(CKA_VALUE, vec![0x5A; 32])]).unwrap();
        let shown = format!("{secret:?}");
        assert!(shown.contains("0x11") && shown.contains("REDACTED") && !shown.contains("90"), "{shown}");
    }
}

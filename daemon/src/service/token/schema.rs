//! Which attributes each kind of object has, which of them are secret, and which an application
//! may change: the rules of PKCS#11 v3.0 chapter 4 for the object classes Arca stores.

use cryptoki_sys::*;

use crate::keys::KeySpec;

const STORAGE: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_CLASS,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_MODIFIABLE,
    CKA_LABEL,
    CKA_COPYABLE,
    CKA_DESTROYABLE,
    CKA_UNIQUE_ID,
];

const KEY: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_KEY_TYPE,
    CKA_ID,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_DERIVE,
    CKA_LOCAL,
    CKA_KEY_GEN_MECHANISM,
    CKA_ALLOWED_MECHANISMS,
];

const SECRET: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_SENSITIVE,
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_SIGN,
    CKA_VERIFY,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_EXTRACTABLE,
    CKA_ALWAYS_SENSITIVE,
    CKA_NEVER_EXTRACTABLE,
    CKA_WRAP_WITH_TRUSTED,
    CKA_TRUSTED,
    CKA_VALUE,
    CKA_VALUE_LEN,
];

const PRIVATE: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_SUBJECT,
    CKA_SENSITIVE,
    CKA_DECRYPT,
    CKA_SIGN,
    CKA_SIGN_RECOVER,
    CKA_UNWRAP,
    CKA_EXTRACTABLE,
    CKA_ALWAYS_SENSITIVE,
    CKA_NEVER_EXTRACTABLE,
    CKA_WRAP_WITH_TRUSTED,
    CKA_ALWAYS_AUTHENTICATE,
    CKA_PUBLIC_KEY_INFO,
];

const RSA_PRIVATE: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_MODULUS,
    CKA_PUBLIC_EXPONENT,
    CKA_PRIVATE_EXPONENT,
    CKA_PRIME_1,
    CKA_PRIME_2,
    CKA_EXPONENT_1,
    CKA_EXPONENT_2,
    CKA_COEFFICIENT,
];

const EC_PRIVATE: &[CK_ATTRIBUTE_TYPE] = &[CKA_EC_PARAMS, CKA_VALUE];

const PUBLIC: &[CK_ATTRIBUTE_TYPE] =
    &[CKA_SUBJECT, CKA_ENCRYPT, CKA_VERIFY, CKA_VERIFY_RECOVER, CKA_WRAP, CKA_TRUSTED, CKA_PUBLIC_KEY_INFO];

const RSA_PUBLIC: &[CK_ATTRIBUTE_TYPE] = &[CKA_MODULUS, CKA_MODULUS_BITS, CKA_PUBLIC_EXPONENT];

const EC_PUBLIC: &[CK_ATTRIBUTE_TYPE] = &[CKA_EC_PARAMS, CKA_EC_POINT];

const CERTIFICATE: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_CERTIFICATE_TYPE,
    CKA_TRUSTED,
    CKA_CERTIFICATE_CATEGORY,
    CKA_CHECK_VALUE,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_PUBLIC_KEY_INFO,
    CKA_SUBJECT,
    CKA_ID,
    CKA_ISSUER,
    CKA_SERIAL_NUMBER,
    CKA_VALUE,
    CKA_URL,
    CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
    CKA_HASH_OF_ISSUER_PUBLIC_KEY,
    CKA_JAVA_MIDP_SECURITY_DOMAIN,
    CKA_NAME_HASH_ALGORITHM,
];

const DATA: &[CK_ATTRIBUTE_TYPE] = &[CKA_APPLICATION, CKA_OBJECT_ID, CKA_VALUE];

/// The kinds of object Arca stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Secret,
    Private(KeyKind),
    Public(KeyKind),
    Certificate,
    Data,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    Ec,
}

impl Kind {
    pub fn of_key(spec: KeySpec, public: bool) -> Self {
        let pair = if spec.is_rsa() {
            Some(KeyKind::Rsa)
        } else if spec.is_ecc() {
            Some(KeyKind::Ec)
        } else {
            None
        };
        match (pair, public) {
            (None, _) => Self::Secret,
            (Some(kind), false) => Self::Private(kind),
            (Some(kind), true) => Self::Public(kind),
        }
    }

    pub fn class(self) -> CK_OBJECT_CLASS {
        match self {
            Self::Secret => CKO_SECRET_KEY,
            Self::Private(_) => CKO_PRIVATE_KEY,
            Self::Public(_) => CKO_PUBLIC_KEY,
            Self::Certificate => CKO_CERTIFICATE,
            Self::Data => CKO_DATA,
        }
    }

    /// Whether objects of this kind have attribute `kind`.
    pub fn has(self, attribute: CK_ATTRIBUTE_TYPE) -> bool {
        self.lists().iter().any(|list| list.contains(&attribute))
    }

    fn lists(self) -> &'static [&'static [CK_ATTRIBUTE_TYPE]] {
        match self {
            Self::Secret => &[STORAGE, KEY, SECRET],
            Self::Private(KeyKind::Rsa) => &[STORAGE, KEY, PRIVATE, RSA_PRIVATE],
            Self::Private(KeyKind::Ec) => &[STORAGE, KEY, PRIVATE, EC_PRIVATE],
            Self::Public(KeyKind::Rsa) => &[STORAGE, KEY, PUBLIC, RSA_PUBLIC],
            Self::Public(KeyKind::Ec) => &[STORAGE, KEY, PUBLIC, EC_PUBLIC],
            Self::Certificate => &[STORAGE, CERTIFICATE],
            Self::Data => &[STORAGE, DATA],
        }
    }

    pub fn is_key(self) -> bool {
        matches!(self, Self::Secret | Self::Private(_) | Self::Public(_))
    }
}

/// Every attribute objects of a kind have.
pub(super) fn all_attributes(kind: Kind) -> impl Iterator<Item = CK_ATTRIBUTE_TYPE> {
    kind.lists().iter().flat_map(|list| list.iter().copied())
}

/// Attributes whose value is secret when the object is sensitive or not extractable.
pub(super) fn is_secret_value(kind: Kind, attribute: CK_ATTRIBUTE_TYPE) -> bool {
    match kind {
        Kind::Secret => attribute == CKA_VALUE,
        Kind::Private(KeyKind::Ec) => attribute == CKA_VALUE,
        Kind::Private(KeyKind::Rsa) => matches!(
            attribute,
            CKA_PRIVATE_EXPONENT
                | CKA_PRIME_1
                | CKA_PRIME_2
                | CKA_EXPONENT_1
                | CKA_EXPONENT_2
                | CKA_COEFFICIENT
        ),
        _ => false,
    }
}

/// How an application may change an attribute after the object exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    /// Any value (label, id, capability flags …).
    Free,
    /// Only from false to true (CKA_SENSITIVE, CKA_WRAP_WITH_TRUSTED).
    OnlyToTrue,
    /// Only from true to false (CKA_EXTRACTABLE, CKA_COPYABLE, CKA_MODIFIABLE on copy).
    OnlyToFalse,
    /// Only in C_CopyObject (CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE, CKA_DESTROYABLE).
    OnCopy,
    /// Never (class, key type, value, computed attributes).
    Never,
}

pub(super) fn change_rule(attribute: CK_ATTRIBUTE_TYPE) -> Change {
    match attribute {
        CKA_LABEL
        | CKA_ID
        | CKA_SUBJECT
        | CKA_START_DATE
        | CKA_END_DATE
        | CKA_DERIVE
        | CKA_ENCRYPT
        | CKA_DECRYPT
        | CKA_SIGN
        | CKA_VERIFY
        | CKA_WRAP
        | CKA_UNWRAP
        | CKA_SIGN_RECOVER
        | CKA_VERIFY_RECOVER
        | CKA_ALLOWED_MECHANISMS
        | CKA_APPLICATION
        | CKA_OBJECT_ID
        | CKA_ISSUER
        | CKA_SERIAL_NUMBER
        | CKA_URL
        | CKA_CERTIFICATE_CATEGORY
        | CKA_TRUSTED => Change::Free,
        CKA_SENSITIVE | CKA_WRAP_WITH_TRUSTED | CKA_ALWAYS_AUTHENTICATE => Change::OnlyToTrue,
        CKA_EXTRACTABLE | CKA_COPYABLE => Change::OnlyToFalse,
        CKA_TOKEN | CKA_PRIVATE | CKA_MODIFIABLE | CKA_DESTROYABLE => Change::OnCopy,
        _ => Change::Never,
    }
}

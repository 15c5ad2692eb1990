//! How PKCS#11 attribute values travel on the wire (see the header of `token.proto`): the class
//! of each attribute type, shared by the daemon and the PKCS#11 module so both read the canonical
//! encoding the same way.

use cryptoki_sys::*;

/// How an attribute's value is represented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Ulong,
    UlongArray,
    Bool,
    /// CKA_WRAP_TEMPLATE and friends: arrays of CK_ATTRIBUTE, which Arca does not carry.
    Nested,
    Bytes,
}

/// The representation of an attribute type.
pub fn class(kind: CK_ATTRIBUTE_TYPE) -> Class {
    match kind {
        CKA_CLASS
        | CKA_KEY_TYPE
        | CKA_CERTIFICATE_TYPE
        | CKA_CERTIFICATE_CATEGORY
        | CKA_JAVA_MIDP_SECURITY_DOMAIN
        | CKA_NAME_HASH_ALGORITHM
        | CKA_VALUE_LEN
        | CKA_VALUE_BITS
        | CKA_MODULUS_BITS
        | CKA_PRIME_BITS
        | CKA_SUBPRIME_BITS
        | CKA_KEY_GEN_MECHANISM
        | CKA_MECHANISM_TYPE
        | CKA_HW_FEATURE_TYPE
        | CKA_PROFILE_ID
        | CKA_PIXEL_X
        | CKA_PIXEL_Y
        | CKA_RESOLUTION
        | CKA_CHAR_ROWS
        | CKA_CHAR_COLUMNS
        | CKA_BITS_PER_PIXEL
        | CKA_AUTH_PIN_FLAGS
        | CKA_OTP_FORMAT
        | CKA_OTP_LENGTH
        | CKA_OTP_TIME_INTERVAL
        | CKA_OTP_CHALLENGE_REQUIREMENT
        | CKA_OTP_TIME_REQUIREMENT
        | CKA_OTP_COUNTER_REQUIREMENT
        | CKA_OTP_PIN_REQUIREMENT
        | CKA_PARAMETER_SET
        | CKA_HSS_LEVELS
        | CKA_HSS_LMS_TYPE
        | CKA_HSS_LMOTS_TYPE
        | CKA_HSS_KEYS_REMAINING
        | CKA_OBJECT_VALIDATION_FLAGS
        | CKA_VALIDATION_TYPE
        | CKA_VALIDATION_LEVEL
        | CKA_VALIDATION_FLAG
        | CKA_VALIDATION_AUTHORITY_TYPE
        | CKA_TRUST_SERVER_AUTH
        | CKA_TRUST_CLIENT_AUTH
        | CKA_TRUST_CODE_SIGNING
        | CKA_TRUST_EMAIL_PROTECTION
        | CKA_TRUST_IPSEC_IKE
        | CKA_TRUST_TIME_STAMPING
        | CKA_TRUST_OCSP_SIGNING => Class::Ulong,
        CKA_ALLOWED_MECHANISMS | CKA_HSS_LMS_TYPES | CKA_HSS_LMOTS_TYPES => Class::UlongArray,
        CKA_TOKEN
        | CKA_PRIVATE
        | CKA_TRUSTED
        | CKA_SENSITIVE
        | CKA_ENCRYPT
        | CKA_DECRYPT
        | CKA_WRAP
        | CKA_UNWRAP
        | CKA_SIGN
        | CKA_SIGN_RECOVER
        | CKA_VERIFY
        | CKA_VERIFY_RECOVER
        | CKA_DERIVE
        | CKA_EXTRACTABLE
        | CKA_LOCAL
        | CKA_NEVER_EXTRACTABLE
        | CKA_ALWAYS_SENSITIVE
        | CKA_MODIFIABLE
        | CKA_COPYABLE
        | CKA_DESTROYABLE
        | CKA_ALWAYS_AUTHENTICATE
        | CKA_WRAP_WITH_TRUSTED
        | CKA_RESET_ON_INIT
        | CKA_HAS_RESET
        | CKA_COLOR
        | CKA_OTP_USER_FRIENDLY_MODE
        | CKA_SECONDARY_AUTH
        | CKA_ENCAPSULATE
        | CKA_DECAPSULATE
        | CKA_X2RATCHET_ISALICE => Class::Bool,
        CKA_WRAP_TEMPLATE
        | CKA_UNWRAP_TEMPLATE
        | CKA_DERIVE_TEMPLATE
        | CKA_ENCAPSULATE_TEMPLATE
        | CKA_DECAPSULATE_TEMPLATE => Class::Nested,
        _ => Class::Bytes,
    }
}

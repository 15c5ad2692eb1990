//! The sizes the Token service accepts, shared by the daemon (which enforces them) and the
//! PKCS#11 module (which checks them before anything goes over the wire, so an oversized input
//! gets its precise `CKR_*` instead of a refused request). `docs/pkcs11.md` documents them.

/// The input of one PKCS#11 data call (`C_Encrypt`, `C_Sign`, `C_DigestUpdate` …). Larger input
/// is `CKR_DATA_LEN_RANGE` (`CKR_ENCRYPTED_DATA_LEN_RANGE` for decryption); more data goes
/// through several `C_*Update` calls.
pub const MAX_OPERATION_DATA_BYTES: usize = 16 << 20;

/// The longest PIN (the token's `ulMaxPinLen`); a longer one is `CKR_PIN_LEN_RANGE`.
pub const MAX_PIN_BYTES: usize = 255;

/// The most attributes in one template. Every object kind has fewer attributes than this, so a
/// longer template repeats one or names one the object cannot have: `CKR_TEMPLATE_INCONSISTENT`.
pub const MAX_TEMPLATE_ATTRIBUTES: usize = 256;

/// All the values of one template together; beyond: `CKR_ATTRIBUTE_VALUE_INVALID` (the template
/// must fit in one request of the default 64 KiB).
pub const MAX_TEMPLATE_VALUE_BYTES: usize = 48 << 10;

/// The longest `CKA_LABEL` (a token key's label is its KMS description, at most 8192
/// characters); longer is `CKR_ATTRIBUTE_VALUE_INVALID`.
pub const MAX_LABEL_BYTES: usize = 8192;

/// The most data parameters, and the most additional derived keys, one SP 800-108 derivation
/// takes (no layout needs more); the module refuses more before a round trip, the daemon too.
pub const MAX_SP800_108_ENTRIES: usize = 32;

/// What the fields of an operation request other than its input may take at most (session,
/// kind, output space, a signature of up to 1 KiB, protobuf framing): input pieces are cut this
/// much below the daemon's request cap.
pub const PIECE_OVERHEAD_BYTES: usize = 2048;

//! Every call a front offers, as one enum with its properties: the name it is logged, measured
//! and audited under, whether its effect must be durable before it is answered, the quota it
//! draws on, and the face that offers it. Audit, quotas, metrics and the request layer read these
//! properties; none of them keeps a list of names of its own.
//!
//! Adding an operation is one line in the table below (and the service function it calls): a
//! line without every property does not compile.

use std::fmt;

/// The front a call comes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// `arca.v1.Kms`: the key management API.
    Kms,
    /// `arca.v1.Admin`: sealing, backups, the audit log.
    Admin,
    /// `arca.v1.Token`: the PKCS#11 module's calls.
    Pkcs11,
    /// The external key store (XKS proxy) API that AWS KMS calls.
    Xks,
}

impl Face {
    /// How the audit record's `source` names the face (`grpc/unix`, `pkcs11/tls`).
    pub fn source_name(self) -> &'static str {
        match self {
            Self::Kms | Self::Admin => "grpc",
            Self::Pkcs11 => "pkcs11",
            Self::Xks => "xks",
        }
    }
}

/// The per-caller quota a call draws on (see `quota.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaClass {
    /// Calls that process data: encryption, signatures, MACs, random bytes.
    Crypto,
    /// Calls that generate a key pair on demand.
    KeyPair,
    /// Management and reads: no quota beyond the one on refusals.
    Unmetered,
}

/// What a call does to the daemon's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Reads or computes; its audit record may be buffered.
    Reads,
    /// Changes keys, tokens, policies or the audit log: its audit record is synced before the
    /// caller hears back.
    Changes,
}

#[derive(Debug, Clone, Copy)]
struct Properties {
    name: &'static str,
    face: Face,
    quota: QuotaClass,
    effect: Effect,
}

macro_rules! operations {
    ($($variant:ident => $name:literal, $face:ident, $quota:ident, $effect:ident;)*) => {
        /// A call of one of the fronts.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Operation {
            $(#[doc = $name] $variant,)*
        }

        impl Operation {
            /// Every operation, in table order.
            pub const ALL: &[Operation] = &[$(Self::$variant,)*];

            const fn properties(self) -> Properties {
                match self {
                    $(Self::$variant => Properties {
                        name: $name,
                        face: Face::$face,
                        quota: QuotaClass::$quota,
                        effect: Effect::$effect,
                    },)*
                }
            }
        }
    };
}

operations! {
    // arca.v1.Admin
    Status => "Status", Admin, Unmetered, Reads;
    Initialize => "Initialize", Admin, Unmetered, Changes;
    Unseal => "Unseal", Admin, Unmetered, Changes;
    Backup => "Backup", Admin, Unmetered, Reads;
    VerifyAudit => "VerifyAudit", Admin, Unmetered, Reads;
    ReadAudit => "ReadAudit", Admin, Unmetered, Reads;
    RotateAudit => "RotateAudit", Admin, Unmetered, Changes;
    AdvanceClock => "AdvanceClock", Admin, Unmetered, Changes;
    CreateAccessKey => "CreateAccessKey", Admin, Unmetered, Changes;
    ListAccessKeys => "ListAccessKeys", Admin, Unmetered, Reads;
    DeleteAccessKey => "DeleteAccessKey", Admin, Unmetered, Changes;
    // arca.v1.Kms: keys and their life cycle
    CreateKey => "CreateKey", Kms, Unmetered, Changes;
    DescribeKey => "DescribeKey", Kms, Unmetered, Reads;
    ListKeys => "ListKeys", Kms, Unmetered, Reads;
    EnableKey => "EnableKey", Kms, Unmetered, Changes;
    DisableKey => "DisableKey", Kms, Unmetered, Changes;
    CreateAlias => "CreateAlias", Kms, Unmetered, Changes;
    UpdateAlias => "UpdateAlias", Kms, Unmetered, Changes;
    DeleteAlias => "DeleteAlias", Kms, Unmetered, Changes;
    ListAliases => "ListAliases", Kms, Unmetered, Reads;
    RotateKeyOnDemand => "RotateKeyOnDemand", Kms, Unmetered, Changes;
    EnableKeyRotation => "EnableKeyRotation", Kms, Unmetered, Changes;
    DisableKeyRotation => "DisableKeyRotation", Kms, Unmetered, Changes;
    GetKeyRotationStatus => "GetKeyRotationStatus", Kms, Unmetered, Reads;
    ListKeyRotations => "ListKeyRotations", Kms, Unmetered, Reads;
    ScheduleKeyDeletion => "ScheduleKeyDeletion", Kms, Unmetered, Changes;
    CancelKeyDeletion => "CancelKeyDeletion", Kms, Unmetered, Changes;
    PutKeyPolicy => "PutKeyPolicy", Kms, Unmetered, Changes;
    GetKeyPolicy => "GetKeyPolicy", Kms, Unmetered, Reads;
    ListKeyPolicies => "ListKeyPolicies", Kms, Unmetered, Reads;
    CreateGrant => "CreateGrant", Kms, Unmetered, Changes;
    ListGrants => "ListGrants", Kms, Unmetered, Reads;
    ListRetirableGrants => "ListRetirableGrants", Kms, Unmetered, Reads;
    RetireGrant => "RetireGrant", Kms, Unmetered, Changes;
    RevokeGrant => "RevokeGrant", Kms, Unmetered, Changes;
    GetParametersForImport => "GetParametersForImport", Kms, Unmetered, Reads;
    ImportKeyMaterial => "ImportKeyMaterial", Kms, Unmetered, Changes;
    DeleteImportedKeyMaterial => "DeleteImportedKeyMaterial", Kms, Unmetered, Changes;
    TagResource => "TagResource", Kms, Unmetered, Changes;
    UntagResource => "UntagResource", Kms, Unmetered, Changes;
    ListResourceTags => "ListResourceTags", Kms, Unmetered, Reads;
    UpdateKeyDescription => "UpdateKeyDescription", Kms, Unmetered, Changes;
    // arca.v1.Kms: cryptography
    Encrypt => "Encrypt", Kms, Crypto, Reads;
    Decrypt => "Decrypt", Kms, Crypto, Reads;
    ReEncrypt => "ReEncrypt", Kms, Crypto, Reads;
    GenerateDataKey => "GenerateDataKey", Kms, Crypto, Reads;
    GenerateDataKeyWithoutPlaintext => "GenerateDataKeyWithoutPlaintext", Kms, Crypto, Reads;
    GenerateDataKeyPair => "GenerateDataKeyPair", Kms, KeyPair, Reads;
    GenerateDataKeyPairWithoutPlaintext => "GenerateDataKeyPairWithoutPlaintext", Kms, KeyPair, Reads;
    GenerateRandom => "GenerateRandom", Kms, Crypto, Reads;
    Sign => "Sign", Kms, Crypto, Reads;
    Verify => "Verify", Kms, Crypto, Reads;
    GetPublicKey => "GetPublicKey", Kms, Unmetered, Reads;
    GenerateMac => "GenerateMac", Kms, Crypto, Reads;
    VerifyMac => "VerifyMac", Kms, Crypto, Reads;
    DeriveSharedSecret => "DeriveSharedSecret", Kms, Crypto, Reads;
    // A KMS operation this daemon does not offer: refused as UnsupportedOperationException.
    UnsupportedKms => "UnsupportedOperation", Kms, Unmetered, Reads;
    // The external key store API
    XksGetKeyMetadata => "XksGetKeyMetadata", Xks, Unmetered, Reads;
    XksEncrypt => "XksEncrypt", Xks, Crypto, Reads;
    XksDecrypt => "XksDecrypt", Xks, Crypto, Reads;
    XksGetHealthStatus => "XksGetHealthStatus", Xks, Unmetered, Reads;
    // arca.v1.Token: the application, the token, PINs
    Attach => "Attach", Pkcs11, Unmetered, Reads;
    UnlockSoPin => "UnlockSoPin", Pkcs11, Unmetered, Changes;
    GetTokenInfo => "C_GetTokenInfo", Pkcs11, Unmetered, Reads;
    GetMechanismList => "C_GetMechanismList", Pkcs11, Unmetered, Reads;
    GetMechanismInfo => "C_GetMechanismInfo", Pkcs11, Unmetered, Reads;
    InitToken => "C_InitToken", Pkcs11, Unmetered, Changes;
    InitPin => "C_InitPIN", Pkcs11, Unmetered, Changes;
    SetPin => "C_SetPIN", Pkcs11, Unmetered, Changes;
    Login => "C_Login", Pkcs11, Unmetered, Changes;
    Logout => "C_Logout", Pkcs11, Unmetered, Reads;
    // arca.v1.Token: sessions and objects
    OpenSession => "C_OpenSession", Pkcs11, Unmetered, Reads;
    CloseSession => "C_CloseSession", Pkcs11, Unmetered, Reads;
    CloseAllSessions => "C_CloseAllSessions", Pkcs11, Unmetered, Reads;
    GetSessionInfo => "C_GetSessionInfo", Pkcs11, Unmetered, Reads;
    CreateObject => "C_CreateObject", Pkcs11, Unmetered, Changes;
    CopyObject => "C_CopyObject", Pkcs11, Unmetered, Changes;
    DestroyObject => "C_DestroyObject", Pkcs11, Unmetered, Changes;
    GetObjectSize => "C_GetObjectSize", Pkcs11, Unmetered, Reads;
    GetAttributeValue => "C_GetAttributeValue", Pkcs11, Unmetered, Reads;
    SetAttributeValue => "C_SetAttributeValue", Pkcs11, Unmetered, Changes;
    FindObjectsInit => "C_FindObjectsInit", Pkcs11, Unmetered, Reads;
    FindObjects => "C_FindObjects", Pkcs11, Unmetered, Reads;
    FindObjectsFinal => "C_FindObjectsFinal", Pkcs11, Unmetered, Reads;
    // arca.v1.Token: keys and cryptography
    GenerateKey => "C_GenerateKey", Pkcs11, Unmetered, Changes;
    GenerateKeyPair => "C_GenerateKeyPair", Pkcs11, KeyPair, Changes;
    WrapKey => "C_WrapKey", Pkcs11, Crypto, Reads;
    UnwrapKey => "C_UnwrapKey", Pkcs11, Crypto, Changes;
    DeriveKey => "C_DeriveKey", Pkcs11, Crypto, Changes;
    TokenGenerateRandom => "C_GenerateRandom", Pkcs11, Crypto, Reads;
    DigestKey => "C_DigestKey", Pkcs11, Unmetered, Reads;
    // arca.v1.Token: multi-part operations (C_*Init only prepares: no quota)
    EncryptInit => "C_EncryptInit", Pkcs11, Unmetered, Reads;
    TokenEncrypt => "C_Encrypt", Pkcs11, Crypto, Reads;
    EncryptUpdate => "C_EncryptUpdate", Pkcs11, Crypto, Reads;
    EncryptFinal => "C_EncryptFinal", Pkcs11, Crypto, Reads;
    DecryptInit => "C_DecryptInit", Pkcs11, Unmetered, Reads;
    TokenDecrypt => "C_Decrypt", Pkcs11, Crypto, Reads;
    DecryptUpdate => "C_DecryptUpdate", Pkcs11, Crypto, Reads;
    DecryptFinal => "C_DecryptFinal", Pkcs11, Crypto, Reads;
    SignInit => "C_SignInit", Pkcs11, Unmetered, Reads;
    TokenSign => "C_Sign", Pkcs11, Crypto, Reads;
    SignUpdate => "C_SignUpdate", Pkcs11, Crypto, Reads;
    SignFinal => "C_SignFinal", Pkcs11, Crypto, Reads;
    VerifyInit => "C_VerifyInit", Pkcs11, Unmetered, Reads;
    TokenVerify => "C_Verify", Pkcs11, Crypto, Reads;
    VerifyUpdate => "C_VerifyUpdate", Pkcs11, Crypto, Reads;
    VerifyFinal => "C_VerifyFinal", Pkcs11, Crypto, Reads;
    DigestInit => "C_DigestInit", Pkcs11, Unmetered, Reads;
    Digest => "C_Digest", Pkcs11, Unmetered, Reads;
    DigestUpdate => "C_DigestUpdate", Pkcs11, Unmetered, Reads;
    DigestFinal => "C_DigestFinal", Pkcs11, Unmetered, Reads;
    // An operation kind this daemon does not know: the call is refused, under these names.
    UnknownInit => "C_OperationInit", Pkcs11, Unmetered, Reads;
    UnknownStep => "C_Operation", Pkcs11, Unmetered, Reads;
}

impl Operation {
    /// The name the call is logged, measured and audited under (the PKCS#11 function's name on
    /// the PKCS#11 face).
    pub const fn name(self) -> &'static str {
        self.properties().name
    }

    pub const fn face(self) -> Face {
        self.properties().face
    }

    pub const fn quota_class(self) -> QuotaClass {
        self.properties().quota
    }

    /// Whether the call changes state, so that its audit record must be durable first.
    pub const fn changes_state(self) -> bool {
        matches!(self.properties().effect, Effect::Changes)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_operation_has_its_own_name() {
        let names: BTreeSet<_> = Operation::ALL.iter().map(|op| op.name()).collect();
        assert_eq!(names.len(), Operation::ALL.len(), "two operations share a name");
    }

    #[test]
    fn the_pkcs11_face_names_its_calls_after_the_pkcs11_functions() {
        for op in Operation::ALL {
            let is_function = op.name().starts_with("C_");
            let expected = is_function || matches!(op, Operation::Attach | Operation::UnlockSoPin);
            assert_eq!(op.face() == Face::Pkcs11, expected, "{op}");
        }
    }

    #[test]
    fn data_calls_draw_on_the_crypto_quota_and_key_pairs_on_their_own() {
        assert_eq!(Operation::Encrypt.quota_class(), QuotaClass::Crypto);
        assert_eq!(Operation::TokenSign.quota_class(), QuotaClass::Crypto);
        assert_eq!(Operation::SignInit.quota_class(), QuotaClass::Unmetered);
        assert_eq!(Operation::GenerateDataKeyPair.quota_class(), QuotaClass::KeyPair);
        assert_eq!(Operation::GenerateKeyPair.quota_class(), QuotaClass::KeyPair);
        assert!(Operation::GenerateKeyPair.changes_state() && !Operation::Encrypt.changes_state());
    }
}

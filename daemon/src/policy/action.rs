//! The actions a key policy or a grant allows (`arca:<Action>` in a policy document). An action
//! is what a call does to one key; most are named after the KMS call that does it, and the
//! PKCS#11 face checks the same actions (C_SignInit with an RSA key is `arca:Sign`, with an HMAC
//! key `arca:GenerateMac`), plus a few of its own (`arca:WrapKey`, `arca:CopyKey`, …).

use std::fmt;

macro_rules! actions {
    ($($variant:ident, $grantable:literal;)*) => {
        /// One action on a key.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $($variant,)*
        }

        impl Action {
            /// Every action, in table order.
            pub const ALL: &[Action] = &[$(Self::$variant,)*];

            /// The action's name without the `arca:` prefix, as grants store it.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($variant),)*
                }
            }

            /// Whether CreateGrant may give it (the KMS set of grant operations).
            pub const fn grantable(self) -> bool {
                match self {
                    $(Self::$variant => $grantable,)*
                }
            }
        }
    };
}

actions! {
    // Cryptography
    Encrypt, true;
    Decrypt, true;
    ReEncrypt, true;
    GenerateDataKey, true;
    GenerateDataKeyWithoutPlaintext, true;
    GenerateDataKeyPair, true;
    GenerateDataKeyPairWithoutPlaintext, true;
    Sign, true;
    Verify, true;
    GetPublicKey, true;
    GenerateMac, true;
    VerifyMac, true;
    DeriveSharedSecret, true;
    // Reading and managing the key
    DescribeKey, true;
    CreateGrant, true;
    RetireGrant, true;
    ListGrants, false;
    RevokeGrant, false;
    TagResource, false;
    UntagResource, false;
    ListResourceTags, false;
    UpdateKeyDescription, false;
    CreateAlias, false;
    UpdateAlias, false;
    DeleteAlias, false;
    EnableKey, false;
    DisableKey, false;
    RotateKeyOnDemand, false;
    EnableKeyRotation, false;
    DisableKeyRotation, false;
    GetKeyRotationStatus, false;
    ListKeyRotations, false;
    ScheduleKeyDeletion, false;
    CancelKeyDeletion, false;
    PutKeyPolicy, false;
    GetKeyPolicy, false;
    GetParametersForImport, false;
    ImportKeyMaterial, false;
    DeleteImportedKeyMaterial, false;
    // The PKCS#11 face's own (C_SetAttributeValue checks UpdateKeyDescription above)
    CopyKey, false;
    WrapKey, false;
    UnwrapKey, false;
    DeriveKey, false;
    Digest, false;
}

impl Action {
    /// The grantable action named `name` (as CreateGrant names it).
    pub fn grantable_named(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|action| action.grantable() && action.name() == name)
    }

    /// The grantable actions' names, for an error message.
    pub fn grantable_names() -> String {
        let names: Vec<_> = Self::ALL.iter().filter(|a| a.grantable()).map(|a| a.name()).collect();
        names.join(", ")
    }
}

impl fmt::Display for Action {
    /// As a policy document writes it: `arca:Encrypt`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "arca:{}", self.name())
    }
}

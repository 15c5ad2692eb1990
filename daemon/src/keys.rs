//! The key model: what a key is, independent of how it is stored or served.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::crypto::keypair::KeyHandle;
use crate::error::{Error, Result};
use crate::secure_mem::SecretBuf;

/// A key's identity: a random UUID, shown in its hyphenated form.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(uuid::Uuid);

impl KeyId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(uuid::Uuid::from_bytes(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl FromStr for KeyId {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        uuid::Uuid::try_parse(text).map(Self).map_err(|_| Error::InvalidKeyId(text.to_owned()))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// What kind of key material a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    Aes256,
    /// AES keys of other sizes, made through PKCS#11.
    Aes128,
    Aes192,
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EccNistP256,
    EccNistP384,
    Hmac256,
    Hmac384,
    Hmac512,
    /// A PKCS#11 generic secret (CKK_GENERIC_SECRET) of any length, used for HMAC and derivation.
    GenericSecret,
}

impl KeySpec {
    pub const ALL: [Self; 12] = [
        Self::Aes256,
        Self::Aes128,
        Self::Aes192,
        Self::Rsa2048,
        Self::Rsa3072,
        Self::Rsa4096,
        Self::EccNistP256,
        Self::EccNistP384,
        Self::Hmac256,
        Self::Hmac384,
        Self::Hmac512,
        Self::GenericSecret,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Aes256 => "AES_256",
            Self::Aes128 => "AES_128",
            Self::Aes192 => "AES_192",
            Self::Rsa2048 => "RSA_2048",
            Self::Rsa3072 => "RSA_3072",
            Self::Rsa4096 => "RSA_4096",
            Self::EccNistP256 => "ECC_NIST_P256",
            Self::EccNistP384 => "ECC_NIST_P384",
            Self::Hmac256 => "HMAC_256",
            Self::Hmac384 => "HMAC_384",
            Self::Hmac512 => "HMAC_512",
            Self::GenericSecret => "GENERIC_SECRET",
        }
    }

    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|spec| spec.name() == name)
            .ok_or_else(|| Error::Integrity(format!("unknown key spec {name:?} in the store")))
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096)
    }

    pub fn is_ecc(self) -> bool {
        matches!(self, Self::EccNistP256 | Self::EccNistP384)
    }

    pub fn is_hmac(self) -> bool {
        matches!(self, Self::Hmac256 | Self::Hmac384 | Self::Hmac512)
    }

    pub fn is_aes(self) -> bool {
        matches!(self, Self::Aes128 | Self::Aes192 | Self::Aes256)
    }

    /// Keys with no public half: AES, HMAC and generic secrets.
    pub fn is_secret(self) -> bool {
        !(self.is_rsa() || self.is_ecc())
    }

    /// The usages a key of this spec may have; the first is the default.
    pub fn usages(self) -> &'static [KeyUsage] {
        match self {
            Self::Aes256 | Self::Aes128 | Self::Aes192 => &[KeyUsage::EncryptDecrypt],
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => {
                &[KeyUsage::EncryptDecrypt, KeyUsage::SignVerify]
            }
            Self::EccNistP256 | Self::EccNistP384 => &[KeyUsage::SignVerify],
            Self::Hmac256 | Self::Hmac384 | Self::Hmac512 | Self::GenericSecret => {
                &[KeyUsage::GenerateVerifyMac]
            }
        }
    }
}

/// What a key may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUsage {
    EncryptDecrypt,
    SignVerify,
    GenerateVerifyMac,
}

impl KeyUsage {
    pub fn name(self) -> &'static str {
        match self {
            Self::EncryptDecrypt => "ENCRYPT_DECRYPT",
            Self::SignVerify => "SIGN_VERIFY",
            Self::GenerateVerifyMac => "GENERATE_VERIFY_MAC",
        }
    }

    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "ENCRYPT_DECRYPT" => Ok(Self::EncryptDecrypt),
            "SIGN_VERIFY" => Ok(Self::SignVerify),
            "GENERATE_VERIFY_MAC" => Ok(Self::GenerateVerifyMac),
            other => Err(Error::Integrity(format!("unknown key usage {other:?} in the store"))),
        }
    }
}

/// Where a key's material came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    Arca,
    External,
}

/// A key's life-cycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Enabled,
    Disabled,
    /// Deletion is scheduled for this time (seconds since the Unix epoch).
    PendingDeletion {
        at: i64,
    },
    PendingImport,
}

impl KeyState {
    pub fn name(self) -> &'static str {
        match self {
            Self::Enabled => "ENABLED",
            Self::Disabled => "DISABLED",
            Self::PendingDeletion { .. } => "PENDING_DELETION",
            Self::PendingImport => "PENDING_IMPORT",
        }
    }
}

/// Everything about a key except its material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMetadata {
    pub id: KeyId,
    pub description: String,
    pub spec: KeySpec,
    pub usage: KeyUsage,
    pub origin: KeyOrigin,
    pub state: KeyState,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    pub tags: BTreeMap<String, String>,
    /// Automatic rotation, when enabled.
    pub rotation: Option<Rotation>,
    /// Who may do what with the key.
    pub policy: crate::policy::Policy,
    /// For keys of origin EXTERNAL: what was imported.
    pub imported: Option<Imported>,
    /// What PKCS#11 shows of the key besides what its spec and material determine.
    pub token: TokenAttributes,
}

/// The stored PKCS#11 attributes of a key (label, id, capability flags …), by CKA_* type, in
/// their canonical encoding (see `proto/arca/v1/token.proto`). Attributes that follow from the
/// spec and the material (class, key type, modulus, value length …) are not stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenAttributes {
    /// The secret key, or the private half of a key pair.
    pub object: BTreeMap<u64, Vec<u8>>,
    /// The public half of a key pair.
    pub public: BTreeMap<u64, Vec<u8>>,
    /// The public half was destroyed (C_DestroyObject) while the private half lives on.
    pub public_destroyed: bool,
}

/// Imported key material: a digest to recognise it on re-import, and when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// SHA-256 of the material (only the same material may be imported again).
    pub digest: Vec<u8>,
    /// Seconds since the Unix epoch; `None` means it does not expire.
    pub expires_at: Option<i64>,
}

/// An automatic rotation schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub period_days: u32,
    /// When the next rotation is due (seconds since the Unix epoch).
    pub next_at: i64,
}

/// One generation of a key's material; versions count up from 1.
#[derive(Debug)]
pub struct KeyVersion {
    pub version: u32,
    /// When this version was made (seconds since the Unix epoch).
    pub created_at: i64,
    /// As stored: PKCS#8 DER for key pairs, raw bytes for AES and HMAC.
    pub material: SecretBuf,
    /// The material parsed for use.
    pub handle: KeyHandle,
    /// The material parsed for PKCS#11 mechanisms, on first use.
    pub token_handle: std::sync::OnceLock<crate::crypto::token_handle::TokenHandle>,
}

impl KeyVersion {
    pub fn new(
        spec: KeySpec,
        usage: KeyUsage,
        version: u32,
        created_at: i64,
        material: SecretBuf,
    ) -> Result<Self> {
        let handle = crate::crypto::keypair::load(spec, usage, &material)?;
        Ok(Self { version, created_at, material, handle, token_handle: std::sync::OnceLock::new() })
    }
}

/// A usable key: metadata and every retained version, newest last.
#[derive(Debug)]
pub struct Key {
    pub metadata: KeyMetadata,
    pub versions: Vec<KeyVersion>,
}

impl Key {
    /// The version used for new work.
    pub fn current(&self) -> Option<&KeyVersion> {
        self.versions.last()
    }

    pub fn current_version(&self) -> u32 {
        self.current().map_or(0, |v| v.version)
    }

    pub fn version(&self, version: u32) -> Option<&KeyVersion> {
        self.versions.iter().find(|v| v.version == version)
    }

    /// The same key with other metadata (material copied and parsed again; an admin operation).
    pub fn with_metadata(&self, metadata: KeyMetadata) -> Result<Self> {
        let versions = self
            .versions
            .iter()
            .map(|v| {
                let material = SecretBuf::copy_from(v.material.as_slice())?;
                KeyVersion::new(metadata.spec, metadata.usage, v.version, v.created_at, material)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { metadata, versions })
    }

    /// The same key in another state.
    pub fn with_state(&self, state: KeyState) -> Result<Self> {
        self.with_metadata(KeyMetadata { state, ..self.metadata.clone() })
    }

    /// The same key with one more version, which becomes current.
    pub fn with_new_version(
        &self,
        material: SecretBuf,
        created_at: i64,
        rotation: Option<Rotation>,
    ) -> Result<Self> {
        let mut key = self.with_metadata(KeyMetadata { rotation, ..self.metadata.clone() })?;
        let next = self.versions.iter().map(|v| v.version).max().unwrap_or(0) + 1;
        let version = KeyVersion::new(key.metadata.spec, key.metadata.usage, next, created_at, material)?;
        key.versions.push(version);
        Ok(key)
    }
}

//! The key model: what a key is, independent of how it is stored or served.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::crypto::{HashAlg, PairSpec, PrivateKey, generate_pkcs8};
use crate::error::{Error, Result};
use crate::secure_mem::SecretBuf;

pub use crate::key_id::KeyId;

impl FromStr for KeyId {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text).ok_or_else(|| Error::InvalidKeyId(text.to_owned()))
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
    /// A PKCS#11 RSA key of another size (1024 to 4096 bits; see `PairSpec::RsaOther`).
    RsaOther,
    EccNistP256,
    EccNistP384,
    EccNistP521,
    EccSecgP256k1,
    /// Ed25519 (PKCS#11 CKK_EC_EDWARDS) and X25519 (CKK_EC_MONTGOMERY) key pairs.
    Ed25519,
    X25519,
    Hmac224,
    Hmac256,
    Hmac384,
    Hmac512,
    /// A PKCS#11 generic secret (CKK_GENERIC_SECRET) of any length, used for HMAC and derivation.
    GenericSecret,
}

impl KeySpec {
    pub const ALL: [Self; 18] = [
        Self::Aes256,
        Self::Aes128,
        Self::Aes192,
        Self::Rsa2048,
        Self::Rsa3072,
        Self::Rsa4096,
        Self::RsaOther,
        Self::EccNistP256,
        Self::EccNistP384,
        Self::EccNistP521,
        Self::EccSecgP256k1,
        Self::Ed25519,
        Self::X25519,
        Self::Hmac224,
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
            Self::RsaOther => "RSA_OTHER",
            Self::EccNistP256 => "ECC_NIST_P256",
            Self::EccNistP384 => "ECC_NIST_P384",
            Self::EccNistP521 => "ECC_NIST_P521",
            Self::EccSecgP256k1 => "ECC_SECG_P256K1",
            Self::Ed25519 => "ECC_NIST_EDWARDS25519",
            Self::X25519 => "ECC_X25519",
            Self::Hmac224 => "HMAC_224",
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
        matches!(self, Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 | Self::RsaOther)
    }

    /// Elliptic-curve key pairs, Weierstrass, Edwards or Montgomery.
    pub fn is_ecc(self) -> bool {
        matches!(
            self,
            Self::EccNistP256
                | Self::EccNistP384
                | Self::EccNistP521
                | Self::EccSecgP256k1
                | Self::Ed25519
                | Self::X25519
        )
    }

    pub fn is_hmac(self) -> bool {
        matches!(self, Self::Hmac224 | Self::Hmac256 | Self::Hmac384 | Self::Hmac512)
    }

    pub fn is_aes(self) -> bool {
        matches!(self, Self::Aes128 | Self::Aes192 | Self::Aes256)
    }

    /// The crypto layer's spec of a key pair spec.
    pub fn pair(self) -> Option<PairSpec> {
        match self {
            Self::Rsa2048 => Some(PairSpec::Rsa2048),
            Self::Rsa3072 => Some(PairSpec::Rsa3072),
            Self::Rsa4096 => Some(PairSpec::Rsa4096),
            Self::RsaOther => Some(PairSpec::RsaOther),
            Self::EccNistP256 => Some(PairSpec::EccNistP256),
            Self::EccNistP384 => Some(PairSpec::EccNistP384),
            Self::EccNistP521 => Some(PairSpec::EccNistP521),
            Self::EccSecgP256k1 => Some(PairSpec::EccSecgP256k1),
            Self::Ed25519 => Some(PairSpec::Ed25519),
            Self::X25519 => Some(PairSpec::X25519),
            _ => None,
        }
    }

    /// The hash and key length of an HMAC spec.
    fn hmac(self) -> Option<(HashAlg, usize)> {
        match self {
            Self::Hmac224 => Some((HashAlg::Sha224, 28)),
            Self::Hmac256 => Some((HashAlg::Sha256, 32)),
            Self::Hmac384 => Some((HashAlg::Sha384, 48)),
            Self::Hmac512 => Some((HashAlg::Sha512, 64)),
            _ => None,
        }
    }

    /// The material length of AES specs, and the default length of a generic secret.
    pub fn secret_len(self) -> Option<usize> {
        match self {
            Self::Aes128 => Some(16),
            Self::Aes192 => Some(24),
            Self::Aes256 | Self::GenericSecret => Some(32),
            _ => None,
        }
    }

    /// New key material: PKCS#8 for key pairs, random bytes otherwise. RSA generation takes from
    /// milliseconds to seconds: callers run it off the async reactor.
    pub fn generate(self) -> Result<SecretBuf> {
        if let Some(pair) = self.pair() {
            return generate_pkcs8(pair).map_err(Error::from_crypto);
        }
        let len = self.hmac().map(|(_, len)| len).or(self.secret_len()).unwrap_or(32);
        Ok(SecretBuf::random(len)?)
    }

    /// Parses stored material once into the key both faces use.
    pub fn parse(self, material: &SecretBuf) -> Result<PrivateKey> {
        let bytes = material.as_slice();
        let wrong_length =
            || Error::Integrity(format!("stored {} material has the wrong length", self.name()));
        if let Some(pair) = self.pair() {
            return PrivateKey::from_pkcs8(pair, bytes)
                .map_err(|_| Error::Integrity(format!("stored {} material does not parse", self.name())));
        }
        if let Some((hash, len)) = self.hmac() {
            return PrivateKey::hmac(hash, len, bytes).map_err(|_| wrong_length());
        }
        let fits = match self {
            Self::GenericSecret => (1..=MAX_GENERIC_SECRET_BYTES).contains(&bytes.len()),
            _ => Some(bytes.len()) == self.secret_len(),
        };
        if fits { Ok(PrivateKey::Secret) } else { Err(wrong_length()) }
    }

    /// Keys with no public half: AES, HMAC and generic secrets.
    pub fn is_secret(self) -> bool {
        !(self.is_rsa() || self.is_ecc())
    }

    /// The usages a key of this spec may have; the first is the default.
    pub fn usages(self) -> &'static [KeyUsage] {
        match self {
            Self::Aes256 | Self::Aes128 | Self::Aes192 => &[KeyUsage::EncryptDecrypt],
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 | Self::RsaOther => {
                &[KeyUsage::EncryptDecrypt, KeyUsage::SignVerify]
            }
            Self::EccNistP256 | Self::EccNistP384 | Self::EccNistP521 => {
                &[KeyUsage::SignVerify, KeyUsage::KeyAgreement]
            }
            // AWS-LC has no ECDH on secp256k1 (and KMS offers it for signing only).
            Self::EccSecgP256k1 | Self::Ed25519 => &[KeyUsage::SignVerify],
            Self::X25519 => &[KeyUsage::KeyAgreement],
            Self::Hmac224 | Self::Hmac256 | Self::Hmac384 | Self::Hmac512 | Self::GenericSecret => {
                &[KeyUsage::GenerateVerifyMac]
            }
        }
    }
}

impl From<PairSpec> for KeySpec {
    fn from(spec: PairSpec) -> Self {
        match spec {
            PairSpec::Rsa2048 => Self::Rsa2048,
            PairSpec::Rsa3072 => Self::Rsa3072,
            PairSpec::Rsa4096 => Self::Rsa4096,
            PairSpec::RsaOther => Self::RsaOther,
            PairSpec::EccNistP256 => Self::EccNistP256,
            PairSpec::EccNistP384 => Self::EccNistP384,
            PairSpec::EccNistP521 => Self::EccNistP521,
            PairSpec::EccSecgP256k1 => Self::EccSecgP256k1,
            PairSpec::Ed25519 => Self::Ed25519,
            PairSpec::X25519 => Self::X25519,
        }
    }
}

/// Longest generic secret (PKCS#11 CKA_VALUE_LEN), in bytes.
pub const MAX_GENERIC_SECRET_BYTES: usize = 512;

/// What a key may be used for. The store keeps a usage by its name (`ENCRYPT_DECRYPT` …), so
/// a new usage is a new name and every stored record keeps reading as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUsage {
    EncryptDecrypt,
    SignVerify,
    GenerateVerifyMac,
    /// ECDH (DeriveSharedSecret, CKM_ECDH1_DERIVE) with an EC key pair.
    KeyAgreement,
}

impl KeyUsage {
    pub fn name(self) -> &'static str {
        match self {
            Self::EncryptDecrypt => "ENCRYPT_DECRYPT",
            Self::SignVerify => "SIGN_VERIFY",
            Self::GenerateVerifyMac => "GENERATE_VERIFY_MAC",
            Self::KeyAgreement => "KEY_AGREEMENT",
        }
    }

    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "ENCRYPT_DECRYPT" => Ok(Self::EncryptDecrypt),
            "SIGN_VERIFY" => Ok(Self::SignVerify),
            "GENERATE_VERIFY_MAC" => Ok(Self::GenerateVerifyMac),
            "KEY_AGREEMENT" => Ok(Self::KeyAgreement),
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
    /// The material parsed once, for every use through either face.
    pub key: PrivateKey,
}

impl KeyVersion {
    pub fn new(spec: KeySpec, version: u32, created_at: i64, material: SecretBuf) -> Result<Self> {
        let key = spec.parse(&material)?;
        Ok(Self { version, created_at, material, key })
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
                KeyVersion::new(metadata.spec, v.version, v.created_at, material)
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
        let version = KeyVersion::new(key.metadata.spec, next, created_at, material)?;
        key.versions.push(version);
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The store keeps usages by these names: a record of an earlier release reads as it did.
    #[test]
    fn usages_keep_their_stored_names() {
        for (usage, name) in [
            (KeyUsage::EncryptDecrypt, "ENCRYPT_DECRYPT"),
            (KeyUsage::SignVerify, "SIGN_VERIFY"),
            (KeyUsage::GenerateVerifyMac, "GENERATE_VERIFY_MAC"),
            (KeyUsage::KeyAgreement, "KEY_AGREEMENT"),
        ] {
            assert_eq!(usage.name(), name);
            assert_eq!(KeyUsage::from_name(name).unwrap(), usage);
        }
        assert!(matches!(KeyUsage::from_name("KEY_AGREEMENTS"), Err(Error::Integrity(_))));
    }

    #[test]
    fn only_ec_keys_with_ecdh_agree_and_they_sign_by_default() {
        let agreeing = [KeySpec::EccNistP256, KeySpec::EccNistP384, KeySpec::EccNistP521, KeySpec::X25519];
        for spec in KeySpec::ALL {
            let agrees = spec.usages().contains(&KeyUsage::KeyAgreement);
            assert_eq!(agrees, agreeing.contains(&spec), "{}", spec.name());
        }
        assert_eq!(KeySpec::EccNistP384.usages().first(), Some(&KeyUsage::SignVerify));
        assert_eq!(KeySpec::EccSecgP256k1.usages(), [KeyUsage::SignVerify]);
        assert_eq!(KeySpec::Ed25519.usages(), [KeyUsage::SignVerify]);
        assert_eq!(KeySpec::X25519.usages(), [KeyUsage::KeyAgreement]);
        for spec in KeySpec::ALL {
            assert_eq!(KeySpec::from_name(spec.name()).unwrap(), spec);
        }
    }
}

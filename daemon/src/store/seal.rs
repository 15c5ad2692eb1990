//! The master key and how it is sealed at rest: under a key derived from a passphrase with
//! Argon2id (parameters stored beside it), or under a 32-byte key file.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::crypto::{aead, random_vec};
use crate::error::{Error, Result};
use crate::secure_mem::SecretBuf;

const SEAL_FORMAT: u32 = 1;
const SALT_LEN: usize = 16;

/// How the master key is sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealMode {
    Passphrase,
    KeyFile(PathBuf),
}

/// Seal settings from the configuration.
#[derive(Debug, Clone)]
pub struct SealConfig {
    pub mode: SealMode,
    /// Argon2id cost for new passphrase seals (existing seals keep their stored parameters).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
}

/// The stored, sealed master key.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SealRecord {
    #[prost(uint32, tag = "1")]
    pub format: u32,
    /// "passphrase" or "key_file".
    #[prost(string, tag = "2")]
    pub mode: String,
    #[prost(bytes = "vec", tag = "3")]
    pub salt: Vec<u8>,
    #[prost(uint32, tag = "4")]
    pub argon2_memory_kib: u32,
    #[prost(uint32, tag = "5")]
    pub argon2_iterations: u32,
    #[prost(uint32, tag = "6")]
    pub argon2_parallelism: u32,
    /// `nonce || ciphertext || tag` of the master key.
    #[prost(bytes = "vec", tag = "7")]
    pub sealed_master_key: Vec<u8>,
}

/// The unsealed master key and the keys derived from it, all in locked memory.
#[derive(Debug)]
pub struct MasterKey {
    /// Seals key material (AES-256-GCM).
    pub material_key: SecretBuf,
    /// Authenticates whole key records (HMAC-SHA-256).
    pub record_mac_key: SecretBuf,
    /// Authenticates the audit log's hash chain (HMAC-SHA-256).
    pub audit_mac_key: SecretBuf,
}

impl MasterKey {
    /// A fresh random master key (tests of what is sealed under one).
    #[cfg(test)]
    pub fn random() -> Self {
        Self::from_root(SecretBuf::random(aead::KEY_LEN).expect("random key")).expect("derived keys")
    }

    fn from_root(root: SecretBuf) -> Result<Self> {
        let derive = |label: &[u8]| -> Result<SecretBuf> {
            let mut key = SecretBuf::zeroed(32)?;
            hkdf::Hkdf::<sha2::Sha256>::new(None, root.as_slice())
                .expand(label, key.as_mut_slice())
                .map_err(|_| Error::Integrity("HKDF expansion failed".into()))?;
            Ok(key)
        };
        Ok(Self {
            record_mac_key: derive(b"arca.v1 record mac")?,
            audit_mac_key: derive(b"arca.v1 audit mac")?,
            material_key: root,
        })
    }
}

fn mode_name(mode: &SealMode) -> &'static str {
    match mode {
        SealMode::Passphrase => "passphrase",
        SealMode::KeyFile(_) => "key_file",
    }
}

fn seal_aad(mode: &str) -> Vec<u8> {
    [b"arca.v1 master key ".as_slice(), mode.as_bytes()].concat()
}

impl SealRecord {
    /// Makes a new random master key and seals it.
    pub fn create(config: &SealConfig, passphrase: Option<&str>) -> Result<(Self, MasterKey)> {
        let mut record = Self {
            format: SEAL_FORMAT,
            mode: mode_name(&config.mode).to_owned(),
            salt: Vec::new(),
            argon2_memory_kib: 0,
            argon2_iterations: 0,
            argon2_parallelism: 0,
            sealed_master_key: Vec::new(),
        };
        if config.mode == SealMode::Passphrase {
            record.salt = random_vec(SALT_LEN).map_err(Error::from_crypto)?;
            record.argon2_memory_kib = config.argon2_memory_kib;
            record.argon2_iterations = config.argon2_iterations;
            record.argon2_parallelism = config.argon2_parallelism;
        }
        let kek = record.key_encryption_key(&config.mode, passphrase)?;
        let root = SecretBuf::random(aead::KEY_LEN)?;
        record.sealed_master_key =
            aead::seal(kek.as_slice(), &seal_aad(&record.mode), root.as_slice()).map_err(sealing_error)?;
        Ok((record, MasterKey::from_root(root)?))
    }

    /// Unseals the master key; a wrong passphrase or key file is `WrongPassphrase`.
    pub fn unseal(&self, mode: &SealMode, passphrase: Option<&str>) -> Result<MasterKey> {
        if self.format != SEAL_FORMAT {
            return Err(Error::Integrity(format!("unknown seal format {}", self.format)));
        }
        if self.mode != mode_name(mode) {
            return Err(Error::Config(format!(
                "the store is sealed with mode {:?} but the configuration says {:?}",
                self.mode,
                mode_name(mode)
            )));
        }
        let kek = self.key_encryption_key(mode, passphrase)?;
        let root = aead::open(kek.as_slice(), &seal_aad(&self.mode), &self.sealed_master_key)
            .map_err(|_| Error::WrongPassphrase)?;
        if root.len() != aead::KEY_LEN {
            return Err(Error::Integrity("the sealed master key has the wrong length".into()));
        }
        MasterKey::from_root(root)
    }

    pub fn seal_mode_is_passphrase(&self) -> bool {
        self.mode == "passphrase"
    }

    fn key_encryption_key(&self, mode: &SealMode, passphrase: Option<&str>) -> Result<SecretBuf> {
        match mode {
            SealMode::KeyFile(path) => read_key_file(path),
            SealMode::Passphrase => {
                let passphrase = passphrase.ok_or_else(|| Error::invalid("a passphrase is required"))?;
                if passphrase.is_empty() {
                    return Err(Error::invalid("the passphrase is empty"));
                }
                self.derive_from_passphrase(passphrase)
            }
        }
    }

    fn derive_from_passphrase(&self, passphrase: &str) -> Result<SecretBuf> {
        let params = argon2::Params::new(
            self.argon2_memory_kib,
            self.argon2_iterations,
            self.argon2_parallelism,
            Some(aead::KEY_LEN),
        )
        .map_err(|e| Error::Config(format!("invalid Argon2id parameters: {e}")))?;
        let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut kek = SecretBuf::zeroed(aead::KEY_LEN)?;
        argon
            .hash_password_into(passphrase.as_bytes(), &self.salt, kek.as_mut_slice())
            .map_err(|e| Error::Config(format!("Argon2id failed: {e}")))?;
        Ok(kek)
    }
}

/// Reads a key file of exactly 32 bytes into locked memory.
pub fn read_key_file(path: &Path) -> Result<SecretBuf> {
    let bytes = Zeroizing::new(
        std::fs::read(path).map_err(Error::io(format!("cannot read key file {}", path.display())))?,
    );
    if bytes.len() != aead::KEY_LEN {
        return Err(Error::Config(format!(
            "key file {} holds {} bytes; a key file holds exactly {} random bytes",
            path.display(),
            bytes.len(),
            aead::KEY_LEN
        )));
    }
    Ok(SecretBuf::copy_from(&bytes)?)
}

/// The store's sealing AEAD refuses a key of the wrong length only when stored data is damaged.
pub(super) fn sealing_error(error: crate::crypto::Error) -> Error {
    match error {
        crate::crypto::Error::KeySize(message) => Error::Integrity(message),
        other => Error::from_crypto(other),
    }
}

/// Writes a new random key file readable by its owner only; refuses to overwrite one.
pub fn create_key_file(path: &Path) -> Result<()> {
    let key = SecretBuf::random(aead::KEY_LEN)?;
    write_new_secret_file(path, key.as_slice(), &format!("cannot create key file {}", path.display()))
}

/// Writes `secret` to a new file at `path`, created readable by its owner only (never chmod-ed
/// after) and synced; refuses to overwrite a file. `context` names it in an error.
pub fn write_new_secret_file(path: &Path, secret: &[u8], context: &str) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(Error::io(context))?;
    file.write_all(secret).map_err(Error::io(context))?;
    file.sync_all().map_err(Error::io(context))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passphrase_config() -> SealConfig {
        SealConfig {
            mode: SealMode::Passphrase,
            argon2_memory_kib: 1024,
            argon2_iterations: 1,
            argon2_parallelism: 1,
        }
    }

    #[test]
    fn passphrase_seal_round_trip_and_wrong_passphrase() {
        let config = passphrase_config();
        let (record, master) = SealRecord::create(&config, Some("correct horse")).unwrap();
        let again = record.unseal(&config.mode, Some("correct horse")).unwrap();
        assert_eq!(master.material_key, again.material_key);
        assert_eq!(master.record_mac_key, again.record_mac_key);
        assert!(matches!(record.unseal(&config.mode, Some("wrong")), Err(Error::WrongPassphrase)));
    }

    #[test]
    fn key_file_seal_round_trip_and_wrong_file() {
        let dir = tempfile::tempdir().unwrap();
        let (good, bad) = (dir.path().join("good"), dir.path().join("bad"));
        create_key_file(&good).unwrap();
        create_key_file(&bad).unwrap();
        assert!(create_key_file(&good).is_err(), "an existing key file must not be overwritten");
        let config = SealConfig { mode: SealMode::KeyFile(good.clone()), ..passphrase_config() };
        let (record, master) = SealRecord::create(&config, None).unwrap();
        let again = record.unseal(&SealMode::KeyFile(good), None).unwrap();
        assert_eq!(master.material_key, again.material_key);
        assert!(matches!(record.unseal(&SealMode::KeyFile(bad), None), Err(Error::WrongPassphrase)));
    }
}

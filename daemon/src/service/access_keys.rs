//! Access keys: the AWS-style credentials (`AKIA…` id, 44-character secret) that callers of the
//! AWS KMS front sign their requests with, each bound to an Arca principal (`uid:N`,
//! `cert:SUBJECT`) whose permissions the signed request then has.
//!
//! The administrators create, list and delete them. The secret is shown once, when it is made;
//! afterwards it lives only sealed in the store ([`crate::store::seal_access_key`]) and, while a
//! request is verified, unsealed in locked memory. Nothing is cached: [`AccessKeyService::credential`]
//! reads the store each time, so a deleted key is refused from the next request on.

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;

use super::limits::{MAX_DESCRIPTION_CHARS, check_printable};
use super::{Call, Keystore, parse_principal, threads};
use crate::error::{Echo, Error, Result};
use crate::operation::Operation;
use crate::secure_mem::SecretBuf;
use crate::store::{AccessKeyEntry, StoreBackend, Table, Write, open_access_key, seal_access_key};

/// `AKIA` and 16 characters of base32: AWS's shape of a long-term access key id.
const ID_PREFIX: &str = "AKIA";
const ID_LEN: usize = 20;
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// 32 random bytes (256 bits, as the external key store specification asks of its secrets) make
/// 44 characters of base64: within the 43 to 64 AWS KMS takes for an XKS proxy's credential, and
/// any length suits SigV4 clients.
const SECRET_RANDOM_BYTES: usize = 32;
const SECRET_LEN: usize = 44;
/// Attempts at a fresh id before giving up (80 random bits: a collision is for show).
const ID_ATTEMPTS: usize = 3;

/// The AWS shared credentials file `--dev` writes in the data directory.
pub const DEV_CREDENTIALS_FILE: &str = "aws-credentials";
/// The description of the access key `--dev` makes for the daemon's own user.
const DEV_DESCRIPTION: &str = "dev";

/// An access key as it is made: the only time its secret leaves the daemon.
#[derive(Debug)]
pub struct NewAccessKey {
    pub entry: AccessKeyEntry,
    /// The secret access key (44 ASCII characters).
    pub secret: SecretBuf,
}

/// What a request signed with an access key is checked against.
#[derive(Debug)]
pub struct Credential {
    /// The principal the access key is bound to.
    pub principal: String,
    /// The secret access key (44 ASCII characters), unsealed.
    pub secret: SecretBuf,
}

/// Creates, lists and deletes access keys, and finds one for the signature check.
#[derive(Debug)]
pub struct AccessKeyService {
    keystore: Arc<Keystore>,
}

/// Whether `text` has the shape of an access key id this daemon makes.
pub fn is_access_key_id(text: &str) -> bool {
    text.len() == ID_LEN
        && text.starts_with(ID_PREFIX)
        && text.bytes().skip(ID_PREFIX.len()).all(|b| BASE32.contains(&b))
}

fn new_access_key_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    crate::secure_mem::fill_random(bytes.get_mut(6..).unwrap_or_default())?;
    let value = u128::from_be_bytes(bytes);
    let mut id = String::from(ID_PREFIX);
    for index in (0..16).rev() {
        let digit = ((value >> (5 * index)) & 31) as usize;
        id.push(char::from(*BASE32.get(digit).ok_or_else(|| Error::Random("base32 digit".into()))?));
    }
    Ok(id)
}

fn new_secret() -> Result<SecretBuf> {
    let random = SecretBuf::random(SECRET_RANDOM_BYTES)?;
    let mut secret = SecretBuf::zeroed(SECRET_LEN)?;
    base64::engine::general_purpose::STANDARD
        .encode_slice(random.as_slice(), secret.as_mut_slice())
        .map_err(|_| Error::Random("cannot encode a secret access key".into()))?;
    Ok(secret)
}

fn not_found(access_key_id: &str) -> Error {
    Error::KeyNotFound(format!("access key {}", Echo(access_key_id)))
}

impl AccessKeyService {
    pub fn new(keystore: Arc<Keystore>) -> Self {
        Self { keystore }
    }

    /// Makes an access key bound to `principal`; its secret is in the answer and nowhere else.
    pub async fn create(&self, call: &Call, principal: &str, description: &str) -> Result<NewAccessKey> {
        self.keystore.require_administrator(call, Operation::CreateAccessKey)?;
        let principal = parse_principal(principal)?;
        check_printable("description", description)?;
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(Error::invalid(format!("description exceeds {MAX_DESCRIPTION_CHARS} characters")));
        }
        let made = self.make(principal, description.to_owned()).await?;
        call.use_access_key(&made.entry.access_key_id);
        Ok(made)
    }

    /// Every access key, in id order, without secrets. A record that fails its integrity check
    /// is left out (and logged): it cannot sign anything.
    pub fn list(&self, call: &Call) -> Result<Vec<AccessKeyEntry>> {
        self.keystore.require_administrator(call, Operation::ListAccessKeys)?;
        let master = self.keystore.keyring()?.master_key();
        let mut entries = Vec::new();
        for (raw_id, stored) in self.keystore.backend.scan(Table::AccessKeys)? {
            let id = String::from_utf8_lossy(&raw_id);
            match open_access_key(&master, &id, &stored) {
                Ok((entry, _secret)) => entries.push(entry),
                Err(error) => tracing::error!(%error, "access key record skipped"),
            }
        }
        Ok(entries)
    }

    /// Deletes an access key: requests signed with it are refused from now on.
    pub async fn delete(&self, call: &Call, access_key_id: &str) -> Result<()> {
        self.keystore.require_administrator(call, Operation::DeleteAccessKey)?;
        if !is_access_key_id(access_key_id) {
            return Err(Error::invalid(format!(
                "access key id {:?} is malformed: expected AKIA and 16 characters of base32",
                Echo(access_key_id)
            )));
        }
        self.keystore.keyring()?;
        if self.keystore.backend.get(Table::AccessKeys, access_key_id.as_bytes())?.is_none() {
            return Err(not_found(access_key_id));
        }
        remove(Arc::clone(&self.keystore.backend), access_key_id.to_owned()).await
    }

    /// The principal and unsealed secret of an access key; `None` when there is no such key.
    /// Not a call: the signature check of the KMS front asks before it knows who is calling.
    /// A sealed store is [`Error::Sealed`].
    pub fn credential(&self, access_key_id: &str) -> Result<Option<Credential>> {
        let master = self.keystore.keyring()?.master_key();
        if !is_access_key_id(access_key_id) {
            return Ok(None);
        }
        let Some(stored) = self.keystore.backend.get(Table::AccessKeys, access_key_id.as_bytes())? else {
            return Ok(None);
        };
        let (entry, secret) = open_access_key(&master, access_key_id, &stored)?;
        Ok(Some(Credential { principal: entry.principal, secret }))
    }

    /// `--dev`: unless `path` exists, makes an access key bound to `principal` and writes it to
    /// `path` (mode 0600 from creation) as an AWS shared credentials file with the profile
    /// `arca-dev`. Returns the new access key id, or `None` when the file was already there.
    pub async fn ensure_dev_credentials(&self, path: &Path, principal: &str) -> Result<Option<String>> {
        if std::fs::symlink_metadata(path).is_ok() {
            return Ok(None);
        }
        let made = self.make(parse_principal(principal)?, DEV_DESCRIPTION.to_owned()).await?;
        let id = made.entry.access_key_id.clone();
        if let Err(error) = write_credentials_file(path, &made) {
            remove(Arc::clone(&self.keystore.backend), id).await?;
            return Err(error);
        }
        tracing::info!(path = %path.display(), access_key_id = %id, principal, "wrote dev AWS credentials");
        Ok(Some(id))
    }

    /// Makes and stores a new access key (durable on return).
    async fn make(&self, principal: String, description: String) -> Result<NewAccessKey> {
        let master = self.keystore.keyring()?.master_key();
        let created_at = self.keystore.now();
        let backend = Arc::clone(&self.keystore.backend);
        threads::blocking(move || {
            let secret = new_secret()?;
            for _ in 0..ID_ATTEMPTS {
                let entry = AccessKeyEntry {
                    access_key_id: new_access_key_id()?,
                    principal: principal.clone(),
                    description: description.clone(),
                    created_at,
                };
                let stored = seal_access_key(&master, &entry, &secret)?;
                if backend.insert_new(Table::AccessKeys, entry.access_key_id.as_bytes(), &stored)? {
                    return Ok(NewAccessKey { entry, secret });
                }
            }
            Err(Error::Random("no fresh access key id after several attempts".into()))
        })
        .await
    }
}

async fn remove(backend: Arc<dyn StoreBackend>, access_key_id: String) -> Result<()> {
    let write = Write::delete(Table::AccessKeys, access_key_id.into_bytes());
    threads::blocking(move || backend.commit(vec![write])).await
}

/// The shared credentials file, assembled in locked memory and created owner-only.
fn write_credentials_file(path: &Path, made: &NewAccessKey) -> Result<()> {
    let parts: [&[u8]; 5] = [
        b"[arca-dev]\naws_access_key_id = ",
        made.entry.access_key_id.as_bytes(),
        b"\naws_secret_access_key = ",
        made.secret.as_slice(),
        b"\n",
    ];
    let mut text = SecretBuf::zeroed(parts.iter().map(|part| part.len()).sum())?;
    let mut at = 0;
    for part in parts {
        let end = at + part.len();
        text.as_mut_slice().get_mut(at..end).unwrap_or_default().copy_from_slice(part);
        at = end;
    }
    let context = format!("cannot write the credentials file {}", path.display());
    crate::store::write_new_secret_file(path, text.as_slice(), &context)
}

impl crate::auth::sigv4::CredentialSource for AccessKeyService {
    fn credential(&self, access_key_id: &str) -> Result<Option<Credential>> {
        AccessKeyService::credential(self, access_key_id)
    }
}

#[cfg(test)]
#[path = "access_keys_tests.rs"]
mod tests;

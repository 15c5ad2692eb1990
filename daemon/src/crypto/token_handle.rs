//! Private keys parsed for PKCS#11 mechanisms: one parse per key version, kept beside the KMS
//! handle, since an RSA key made through PKCS#11 may both sign and decrypt.

use std::fmt;

use super::ec::EcPrivateKey;
use super::rsa::RsaPrivateKey;
use crate::error::{Error, Result};
use crate::keys::KeySpec;

pub enum TokenHandle {
    Rsa(RsaPrivateKey),
    Ec(EcPrivateKey),
}

impl fmt::Debug for TokenHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa(_) => f.write_str("TokenHandle::Rsa([REDACTED])"),
            Self::Ec(_) => f.write_str("TokenHandle::Ec([REDACTED])"),
        }
    }
}

impl TokenHandle {
    /// Parses stored PKCS#8 material of a key pair spec.
    pub fn load(spec: KeySpec, pkcs8: &[u8]) -> Result<Self> {
        if spec.is_rsa() {
            return RsaPrivateKey::from_pkcs8(pkcs8).map(Self::Rsa);
        }
        if spec.is_ecc() {
            return EcPrivateKey::from_pkcs8(pkcs8).map(Self::Ec);
        }
        Err(Error::Integrity(format!("{} keys have no private-key handle", spec.name())))
    }
}

//! Objects as PKCS#11 sees them: a key of the keyring or of a session (a secret key, or one half
//! of a key pair), or a plain object (public key, certificate, data) whose attributes are all
//! stored. Attributes that follow from the key's spec and material are computed, never stored.

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::attributes::{AttributeMap, Template, boolean, decode_bool, decode_ulong, ulong};
use super::defaults;
use super::schema::{KeyKind, Kind, is_secret_value};
use crate::crypto::der;
use crate::crypto::digest::constant_time_eq;
use crate::error::{Error, Result};
use crate::keys::{Key, KeySpec};

/// What an attribute query finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Value(Vec<u8>),
    /// The value exists but may not leave the daemon.
    Sensitive,
    /// The object has no such attribute.
    Invalid,
}

#[derive(Debug, Clone)]
pub enum Body {
    Key { key: Arc<Key>, public: bool },
    Plain(Arc<AttributeMap>),
}

/// An object and where it lives.
#[derive(Debug, Clone)]
pub struct Object {
    pub body: Body,
    pub token: bool,
}

pub(super) fn key_type(spec: KeySpec) -> CK_KEY_TYPE {
    match spec {
        KeySpec::Aes128 | KeySpec::Aes192 | KeySpec::Aes256 => CKK_AES,
        KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 | KeySpec::RsaOther => CKK_RSA,
        KeySpec::EccNistP256 | KeySpec::EccNistP384 | KeySpec::EccNistP521 | KeySpec::EccSecgP256k1 => CKK_EC,
        KeySpec::Ed25519 => CKK_EC_EDWARDS,
        KeySpec::X25519 => CKK_EC_MONTGOMERY,
        KeySpec::Hmac224 => CKK_SHA224_HMAC,
        KeySpec::Hmac256 => CKK_SHA256_HMAC,
        KeySpec::Hmac384 => CKK_SHA384_HMAC,
        KeySpec::Hmac512 => CKK_SHA512_HMAC,
        KeySpec::GenericSecret => CKK_GENERIC_SECRET,
    }
}

impl Object {
    pub fn kind(&self) -> Kind {
        match &self.body {
            Body::Key { key, public } => Kind::of_key(key.metadata.spec, *public),
            Body::Plain(attributes) => plain_kind(attributes),
        }
    }

    pub fn key(&self) -> Option<&Arc<Key>> {
        match &self.body {
            Body::Key { key, .. } => Some(key),
            Body::Plain(_) => None,
        }
    }

    /// The stored attributes of a key half (defaults for keys made through the KMS API).
    fn stored(key: &Key, public: bool) -> std::borrow::Cow<'_, AttributeMap> {
        let map = if public { &key.metadata.token.public } else { &key.metadata.token.object };
        if map.is_empty() {
            std::borrow::Cow::Owned(defaults::for_kms_key(&key.metadata, public))
        } else {
            std::borrow::Cow::Borrowed(map)
        }
    }

    pub fn attribute(&self, attribute: CK_ATTRIBUTE_TYPE) -> Lookup {
        match &self.body {
            Body::Plain(map) => match attribute {
                CKA_TOKEN => Lookup::Value(boolean(self.token)),
                _ => map.get(&attribute).cloned().map_or(Lookup::Invalid, Lookup::Value),
            },
            Body::Key { key, public } => self.key_attribute(key, *public, attribute),
        }
    }

    fn key_attribute(&self, key: &Key, public: bool, attribute: CK_ATTRIBUTE_TYPE) -> Lookup {
        let kind = Kind::of_key(key.metadata.spec, public);
        if !kind.has(attribute) {
            return Lookup::Invalid;
        }
        if is_secret_value(kind, attribute) {
            let stored = Self::stored(key, public);
            let sensitive = stored.get(&CKA_SENSITIVE).and_then(|v| decode_bool(v)).unwrap_or(true);
            let extractable = stored.get(&CKA_EXTRACTABLE).and_then(|v| decode_bool(v)).unwrap_or(false);
            if sensitive || !extractable || kind != Kind::Secret {
                // Private-key components are never read back out (documented in docs/pkcs11.md).
                return Lookup::Sensitive;
            }
            return key.current().map_or(Lookup::Invalid, |v| Lookup::Value(v.material.as_slice().to_vec()));
        }
        if let Some(value) = computed(key, kind, self.token, public, attribute) {
            return value;
        }
        // A search by label or id over keys made through the KMS API (no stored attributes)
        // should not build each key's whole default set.
        let map = if public { &key.metadata.token.public } else { &key.metadata.token.object };
        match (map.is_empty(), attribute) {
            (true, CKA_LABEL) => return Lookup::Value(key.metadata.description.as_bytes().to_vec()),
            (true, CKA_ID) => return Lookup::Value(key.metadata.id.as_bytes().to_vec()),
            _ => {}
        }
        let stored = Self::stored(key, public);
        match stored.get(&attribute) {
            Some(value) => Lookup::Value(value.clone()),
            None => Lookup::Value(defaults::absent_value(attribute)),
        }
    }

    /// A CK_BBOOL attribute; false when absent.
    pub fn flag(&self, attribute: CK_ATTRIBUTE_TYPE) -> bool {
        matches!(self.attribute(attribute), Lookup::Value(v) if decode_bool(&v) == Some(true))
    }

    pub fn ulong(&self, attribute: CK_ATTRIBUTE_TYPE) -> Option<u64> {
        match self.attribute(attribute) {
            Lookup::Value(v) => decode_ulong(&v),
            _ => None,
        }
    }

    pub fn is_private(&self) -> bool {
        self.flag(CKA_PRIVATE)
    }

    /// Whether every attribute of `template` has the given value. A searched CKA_VALUE may be key
    /// material: compared in constant time, and the copy wiped.
    pub fn matches(&self, template: &Template) -> bool {
        template.iter().all(|(kind, wanted)| match self.attribute(kind) {
            Lookup::Value(value) => constant_time_eq(&Zeroizing::new(value), wanted),
            Lookup::Sensitive | Lookup::Invalid => false,
        })
    }

    /// The SubjectPublicKeyInfo of a key pair half or a stored public key.
    pub fn public_key_der(&self) -> Result<Vec<u8>> {
        match &self.body {
            Body::Key { key, .. } => spki_of(key)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| Error::p11(CKR_KEY_TYPE_INCONSISTENT, "the key has no public key")),
            Body::Plain(map) => match map.get(&CKA_PUBLIC_KEY_INFO) {
                Some(spki) if !spki.is_empty() => Ok(spki.clone()),
                _ => Err(Error::p11(CKR_KEY_TYPE_INCONSISTENT, "the object is not a public key")),
            },
        }
    }

    /// The spec of a key or a stored public key.
    pub fn spec(&self) -> Option<KeySpec> {
        match &self.body {
            Body::Key { key, .. } => Some(key.metadata.spec),
            Body::Plain(_) => {
                self.public_key_der().ok().and_then(|spki| der::spki_spec(&spki).ok()).map(Into::into)
            }
        }
    }

    /// An estimate of the stored size (C_GetObjectSize).
    pub fn size(&self) -> u64 {
        match &self.body {
            Body::Key { key, public } => {
                let stored: usize = Self::stored(key, *public).values().map(|v| v.len() + 16).sum();
                let material: usize = key.versions.iter().map(|v| v.material.len()).sum();
                (stored + material + 64) as u64
            }
            Body::Plain(map) => map.values().map(|v| v.len() as u64 + 16).sum::<u64>() + 32,
        }
    }
}

fn plain_kind(attributes: &AttributeMap) -> Kind {
    let class = attributes.get(&CKA_CLASS).and_then(|v| decode_ulong(v));
    let key_type = attributes.get(&CKA_KEY_TYPE).and_then(|v| decode_ulong(v));
    match (class, key_type) {
        (Some(CKO_PUBLIC_KEY), Some(CKK_RSA)) => Kind::Public(KeyKind::Rsa),
        (Some(CKO_PUBLIC_KEY), _) => Kind::Public(KeyKind::Ec),
        (Some(CKO_CERTIFICATE), _) => Kind::Certificate,
        _ => Kind::Data,
    }
}

fn spki_of(key: &Key) -> Option<&[u8]> {
    key.current().and_then(|v| v.key.public_key_der())
}

/// Attributes that follow from the key itself.
fn computed(
    key: &Key,
    kind: Kind,
    token: bool,
    public: bool,
    attribute: CK_ATTRIBUTE_TYPE,
) -> Option<Lookup> {
    let spec = key.metadata.spec;
    let value = match attribute {
        CKA_CLASS => ulong(kind.class()),
        CKA_TOKEN => boolean(token),
        CKA_KEY_TYPE => match key.metadata.token.object.get(&CKA_KEY_TYPE) {
            // A generic secret made as an HMAC key (see `defaults::names_hmac_type`).
            Some(declared) if spec == KeySpec::GenericSecret => declared.clone(),
            _ => ulong(key_type(spec)),
        },
        CKA_UNIQUE_ID => {
            let suffix = if public { ".public" } else { "" };
            format!("{}{suffix}", key.metadata.id).into_bytes()
        }
        CKA_VALUE_LEN => ulong(key.current().map_or(0, |v| v.material.len() as u64)),
        CKA_PUBLIC_KEY_INFO => spki_of(key)?.to_vec(),
        CKA_MODULUS | CKA_PUBLIC_EXPONENT | CKA_MODULUS_BITS => {
            let (modulus, exponent) = der::rsa_public_components(spki_of(key)?).ok()?;
            match attribute {
                CKA_MODULUS => modulus,
                CKA_PUBLIC_EXPONENT => exponent,
                _ => ulong(modulus_bits(&modulus)),
            }
        }
        CKA_EC_PARAMS => der::ec_params(spec.pair()?)?.to_vec(),
        CKA_EC_POINT => der::ec_point_from_spki(spki_of(key)?).ok()?,
        _ => return None,
    };
    Some(Lookup::Value(value))
}

pub(super) fn modulus_bits(modulus: &[u8]) -> u64 {
    let Some((first, rest)) = modulus.split_first() else { return 0 };
    (rest.len() as u64) * 8 + u64::from(8 - first.leading_zeros().min(8))
}

/// Every attribute of a plain object, or of a key half as a plain public key.
pub(super) fn public_plain_attributes(object: &Object) -> AttributeMap {
    super::schema::all_attributes(object.kind())
        .filter(|a| *a != CKA_TOKEN && *a != CKA_UNIQUE_ID)
        .filter_map(|a| match object.attribute(a) {
            Lookup::Value(v) => Some((a, v)),
            _ => None,
        })
        .collect()
}

/// The public half of a key pair as a stored public key (when its private half goes).
pub(super) fn public_key_attributes(public: &Object) -> Result<AttributeMap> {
    let mut map = public_plain_attributes(public);
    map.insert(CKA_LOCAL, boolean(false));
    let spki = public.public_key_der()?;
    map.insert(CKA_PUBLIC_KEY_INFO, spki);
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulus_bits_counts_from_the_top_bit() {
        assert_eq!(modulus_bits(&[0x80, 0, 0]), 24);
        assert_eq!(modulus_bits(&[0x01, 0]), 9);
        assert_eq!(modulus_bits(&[]), 0);
    }
}

//! The stored attributes of a new object: the template the application gave, checked against
//! the object's kind, over Arca's defaults (keys are private, sensitive and not extractable;
//! capability flags are on where the key type supports them, CKA_DERIVE is off).

use cryptoki_sys::*;

use super::attributes::{AttributeMap, Template, boolean, decode_ulong, ulong};
use super::schema::{Change, KeyKind, Kind, change_rule};
use crate::error::{Error, Result};
use crate::keys::{KeyMetadata, KeyOrigin, KeySpec, KeyUsage};

/// Attributes that come from the key itself and are never stored.
pub(super) fn is_computed(attribute: CK_ATTRIBUTE_TYPE) -> bool {
    matches!(
        attribute,
        CKA_CLASS
            | CKA_TOKEN
            | CKA_KEY_TYPE
            | CKA_UNIQUE_ID
            | CKA_VALUE_LEN
            | CKA_VALUE
            | CKA_PUBLIC_KEY_INFO
            | CKA_MODULUS
            | CKA_MODULUS_BITS
            | CKA_PUBLIC_EXPONENT
            | CKA_PRIVATE_EXPONENT
            | CKA_PRIME_1
            | CKA_PRIME_2
            | CKA_EXPONENT_1
            | CKA_EXPONENT_2
            | CKA_COEFFICIENT
            | CKA_EC_PARAMS
            | CKA_EC_POINT
    )
}

/// The value an attribute of the object's schema has when nothing set it.
pub(super) fn absent_value(attribute: CK_ATTRIBUTE_TYPE) -> Vec<u8> {
    if super::attributes::is_bool(attribute) {
        boolean(false)
    } else if attribute == CKA_KEY_GEN_MECHANISM {
        ulong(CK_UNAVAILABLE_INFORMATION)
    } else {
        Vec::new()
    }
}

/// The capability flags a kind of key supports, each on by default.
fn capabilities(kind: Kind, spec: Option<KeySpec>) -> &'static [CK_ATTRIBUTE_TYPE] {
    match kind {
        Kind::Secret if spec.is_some_and(KeySpec::is_aes) => {
            &[CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP]
        }
        Kind::Secret => &[CKA_SIGN, CKA_VERIFY],
        Kind::Private(KeyKind::Rsa) => &[CKA_DECRYPT, CKA_SIGN, CKA_UNWRAP],
        Kind::Private(KeyKind::Ec) => &[CKA_SIGN],
        Kind::Public(KeyKind::Rsa) => &[CKA_ENCRYPT, CKA_VERIFY, CKA_WRAP],
        Kind::Public(KeyKind::Ec) => &[CKA_VERIFY],
        Kind::Certificate | Kind::Data => &[],
    }
}

/// How a key came to be, for CKA_LOCAL, CKA_KEY_GEN_MECHANISM, CKA_ALWAYS_SENSITIVE and
/// CKA_NEVER_EXTRACTABLE.
#[derive(Debug, Clone, Copy)]
pub(super) enum Provenance {
    Generated(CK_MECHANISM_TYPE),
    /// Imported in the clear, unwrapped or derived.
    Supplied,
}

/// The stored attributes of a new key half or plain object, from a template.
pub(super) fn from_template(
    kind: Kind,
    spec: Option<KeySpec>,
    template: &Template,
    default_id: &[u8],
    provenance: Provenance,
) -> Result<AttributeMap> {
    let mut map = AttributeMap::new();
    let is_key = kind.is_key();
    let private = !matches!(kind, Kind::Public(_) | Kind::Certificate | Kind::Data);
    map.insert(CKA_PRIVATE, boolean(private));
    for attribute in [CKA_MODIFIABLE, CKA_COPYABLE, CKA_DESTROYABLE] {
        map.insert(attribute, boolean(true));
    }
    map.insert(CKA_LABEL, Vec::new());
    if is_key {
        map.insert(CKA_ID, default_id.to_vec());
        map.insert(CKA_DERIVE, boolean(false));
        for attribute in capabilities(kind, spec) {
            map.insert(*attribute, boolean(true));
        }
    }
    if matches!(kind, Kind::Secret | Kind::Private(_)) {
        map.insert(CKA_SENSITIVE, boolean(true));
        map.insert(CKA_EXTRACTABLE, boolean(false));
    }
    for (attribute, value) in template.iter() {
        accept(kind, attribute, value)?;
        // A key's computed attributes come from its material; a plain object stores them all.
        if (!(is_key && is_computed(attribute)) || names_hmac_type(spec, attribute, value))
            && attribute != CKA_TOKEN
        {
            map.insert(attribute, value.to_vec());
        }
    }
    if is_key {
        finish_key(&mut map, kind, provenance);
    }
    Ok(map)
}

/// A generic secret made as an HMAC key (CKK_SHA256_HMAC …) keeps the type it was given: its
/// CKA_KEY_TYPE is stored, where every other key's follows from its spec.
fn names_hmac_type(spec: Option<KeySpec>, attribute: CK_ATTRIBUTE_TYPE, value: &[u8]) -> bool {
    spec == Some(KeySpec::GenericSecret)
        && attribute == CKA_KEY_TYPE
        && decode_ulong(value).is_some_and(|key_type| {
            matches!(
                key_type,
                CKK_SHA_1_HMAC | CKK_SHA224_HMAC | CKK_SHA256_HMAC | CKK_SHA384_HMAC | CKK_SHA512_HMAC
            )
        })
}

/// Checks one template attribute of a new object.
fn accept(kind: Kind, attribute: CK_ATTRIBUTE_TYPE, value: &[u8]) -> Result<()> {
    if matches!(attribute, CKA_TOKEN | CKA_CLASS | CKA_KEY_TYPE) {
        return Ok(());
    }
    if !kind.has(attribute) {
        return Err(Error::p11(
            CKR_ATTRIBUTE_TYPE_INVALID,
            format!("attribute 0x{attribute:08X} does not belong to this kind of object"),
        ));
    }
    // PKCS#11 3.0 §4.4.1: the token assigns CKA_UNIQUE_ID; a template may not name it.
    if attribute == CKA_UNIQUE_ID {
        return Err(Error::p11(CKR_ATTRIBUTE_READ_ONLY, "CKA_UNIQUE_ID is assigned by the token"));
    }
    let creation_parameter = is_computed(attribute)
        || matches!(attribute, CKA_CERTIFICATE_TYPE | CKA_SUBJECT | CKA_ISSUER | CKA_SERIAL_NUMBER)
        || matches!(kind, Kind::Certificate | Kind::Data);
    if change_rule(attribute) == Change::Never && !creation_parameter {
        return Err(Error::p11(
            CKR_ATTRIBUTE_READ_ONLY,
            format!("attribute 0x{attribute:08X} is set by the token, not by the application"),
        ));
    }
    if attribute == CKA_TRUSTED && value == [1] {
        return Err(Error::p11(CKR_ATTRIBUTE_READ_ONLY, "only the SO may mark an object trusted"));
    }
    Ok(())
}

fn finish_key(map: &mut AttributeMap, kind: Kind, provenance: Provenance) {
    let (local, mechanism) = match provenance {
        Provenance::Generated(mechanism) => (true, mechanism),
        Provenance::Supplied => (false, CK_UNAVAILABLE_INFORMATION),
    };
    map.insert(CKA_LOCAL, boolean(local));
    map.insert(CKA_KEY_GEN_MECHANISM, ulong(mechanism));
    if matches!(kind, Kind::Secret | Kind::Private(_)) {
        let sensitive = map.get(&CKA_SENSITIVE).is_some_and(|v| v == &[1]);
        let extractable = map.get(&CKA_EXTRACTABLE).is_some_and(|v| v == &[1]);
        map.insert(CKA_ALWAYS_SENSITIVE, boolean(local && sensitive));
        map.insert(CKA_NEVER_EXTRACTABLE, boolean(local && !extractable));
    }
}

/// What a key made through the KMS API looks like through PKCS#11: CKA_ID is its UUID, the
/// label its description, the capability flags follow its usage, and it never leaves the daemon.
pub(super) fn for_kms_key(metadata: &KeyMetadata, public: bool) -> AttributeMap {
    let kind = Kind::of_key(metadata.spec, public);
    let mut map = AttributeMap::new();
    map.insert(CKA_PRIVATE, boolean(!public));
    for attribute in [CKA_MODIFIABLE, CKA_COPYABLE, CKA_DESTROYABLE] {
        map.insert(attribute, boolean(true));
    }
    map.insert(CKA_LABEL, metadata.description.as_bytes().to_vec());
    map.insert(CKA_ID, metadata.id.as_bytes().to_vec());
    map.insert(CKA_DERIVE, boolean(false));
    let allowed: &[CK_ATTRIBUTE_TYPE] = match (metadata.usage, kind) {
        (KeyUsage::EncryptDecrypt, Kind::Secret) => &[CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP],
        (KeyUsage::EncryptDecrypt, Kind::Private(_)) => &[CKA_DECRYPT, CKA_UNWRAP],
        (KeyUsage::EncryptDecrypt, _) => &[CKA_ENCRYPT, CKA_WRAP],
        (KeyUsage::SignVerify, Kind::Private(_)) => &[CKA_SIGN],
        (KeyUsage::SignVerify, _) => &[CKA_VERIFY],
        (KeyUsage::GenerateVerifyMac, _) => &[CKA_SIGN, CKA_VERIFY],
        (KeyUsage::KeyAgreement, Kind::Private(_)) => &[CKA_DERIVE],
        (KeyUsage::KeyAgreement, _) => &[],
    };
    for attribute in capabilities(kind, Some(metadata.spec)) {
        map.insert(*attribute, boolean(allowed.contains(attribute)));
    }
    for attribute in allowed {
        map.insert(*attribute, boolean(true));
    }
    if !public {
        map.insert(CKA_SENSITIVE, boolean(true));
        map.insert(CKA_EXTRACTABLE, boolean(false));
    }
    let provenance = match metadata.origin {
        KeyOrigin::Arca => Provenance::Generated(generation_mechanism(metadata.spec)),
        KeyOrigin::External => Provenance::Supplied,
    };
    finish_key(&mut map, kind, provenance);
    map
}

/// The mechanism that makes keys of a spec.
pub(super) fn generation_mechanism(spec: KeySpec) -> CK_MECHANISM_TYPE {
    match spec {
        KeySpec::Aes128 | KeySpec::Aes192 | KeySpec::Aes256 => CKM_AES_KEY_GEN,
        KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 | KeySpec::RsaOther => {
            CKM_RSA_PKCS_KEY_PAIR_GEN
        }
        KeySpec::EccNistP256 | KeySpec::EccNistP384 | KeySpec::EccNistP521 | KeySpec::EccSecgP256k1 => {
            CKM_EC_KEY_PAIR_GEN
        }
        KeySpec::Ed25519 => CKM_EC_EDWARDS_KEY_PAIR_GEN,
        KeySpec::X25519 => CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
        KeySpec::Hmac224
        | KeySpec::Hmac256
        | KeySpec::Hmac384
        | KeySpec::Hmac512
        | KeySpec::GenericSecret => CKM_GENERIC_SECRET_KEY_GEN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::token::attributes::Template;

    #[test]
    fn new_keys_are_sensitive_private_and_unextractable_by_default() {
        let template = Template::parse([(CKA_LABEL, b"k".to_vec())]).unwrap();
        let map = from_template(
            Kind::Secret,
            Some(KeySpec::Aes256),
            &template,
            b"id",
            Provenance::Generated(CKM_AES_KEY_GEN),
        )
        .unwrap();
        assert_eq!(map[&CKA_SENSITIVE], [1]);
        assert_eq!(map[&CKA_EXTRACTABLE], [0]);
        assert_eq!(map[&CKA_PRIVATE], [1]);
        assert_eq!(map[&CKA_ENCRYPT], [1]);
        assert_eq!(map[&CKA_DERIVE], [0]);
        assert_eq!(map[&CKA_ALWAYS_SENSITIVE], [1]);
        assert_eq!(map[&CKA_LABEL], b"k");
        assert_eq!(map[&CKA_ID], b"id");
    }

    #[test]
    fn templates_may_not_set_what_the_token_decides() {
        let template = Template::parse([(CKA_LOCAL, vec![1])]).unwrap();
        let error = from_template(Kind::Secret, None, &template, b"", Provenance::Supplied).unwrap_err();
        assert!(matches!(error, Error::Pkcs11 { rv: CKR_ATTRIBUTE_READ_ONLY, .. }));
        let template = Template::parse([(CKA_MODULUS_BITS, ulong(2048))]).unwrap();
        let error = from_template(Kind::Secret, None, &template, b"", Provenance::Supplied).unwrap_err();
        assert!(matches!(error, Error::Pkcs11 { rv: CKR_ATTRIBUTE_TYPE_INVALID, .. }));
    }
}

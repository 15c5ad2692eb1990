//! DER as C_CreateObject, C_UnwrapKey and ImportKeyMaterial receive it. The first byte picks the
//! document:
//!
//! - 0: a SubjectPublicKeyInfo. An accepted one yields its components, and components the
//!   encoders accept re-encode to a document of the same spec with the same components.
//! - 1: a PKCS#8 private key. One whose spec is known loads (or is refused) by every reader of
//!   stored material; what `key_pair_material` accepts it re-encodes to a PKCS#8 that the same
//!   function accepts with the same public key, and the keyring loads.
//! - 2: an X.509 certificate, as the CKA_VALUE of a CKO_CERTIFICATE template.
//! - 3: CKA_EC_PARAMS. Only the canonical encoding of a supported curve is accepted (Ed25519 and
//!   X25519 also by name and by the older OIDs).

use arca_daemon::crypto::der;
use arca_daemon::crypto::import::key_pair_material;
use arca_daemon::crypto::rsa::rsa_modulus_bytes;
use arca_daemon::crypto::PrivateKey;
use arca_daemon::fuzzing::{Template, new_object_attributes};
use arca_daemon::keys::KeySpec;
use arca_daemon::secure_mem::SecretBuf;
use cryptoki_sys::*;

pub fn check(data: &[u8]) {
    crate::setup();
    let Some((selector, der)) = crate::selector(data) else { return };
    match selector % 4 {
        0 => public_key(der),
        1 => private_key(der),
        2 => certificate(der),
        _ => ec_params(der),
    }
}

fn public_key(spki: &[u8]) {
    let Ok(spec) = der::spki_spec(spki) else { return };
    if spec.is_rsa() {
        let (modulus, exponent) = der::rsa_public_components(spki).expect("components of an accepted key");
        let _ = rsa_modulus_bytes(spki);
        if let Ok(again) = der::rsa_spki(&modulus, &exponent) {
            assert_eq!(der::spki_spec(&again).ok(), Some(spec));
            assert_eq!(der::rsa_public_components(&again).ok(), Some((modulus, exponent)));
        }
    } else {
        // `spki_spec` names the curve without checking the point (every path that stores a
        // public key builds it with `ec_spki`, which does): a point on the curve round-trips.
        let point = der::ec_point_from_spki(spki).expect("the point of an accepted key");
        if let Ok(again) = der::ec_spki(spec, &point) {
            assert_eq!(der::spki_spec(&again).ok(), Some(spec));
            assert_eq!(der::ec_point_from_spki(&again).ok(), Some(point));
        }
    }
}

fn private_key(pkcs8: &[u8]) {
    let Ok(spec) = der::pkcs8_spec(pkcs8) else { return };
    let Ok(material) = SecretBuf::copy_from(pkcs8) else { return };
    if let Ok(key) = PrivateKey::from_pkcs8(spec, pkcs8)
        && let Some(public) = key.public_key_der()
    {
        assert_eq!(der::spki_spec(public).ok(), Some(spec), "the public half has another spec");
    }
    let _ = KeySpec::from(spec).parse(&material);
    let Ok(imported) = key_pair_material(spec, &material) else { return };
    assert_eq!(der::spki_spec(&imported.public_key_der).ok(), Some(spec));
    let again = key_pair_material(spec, &imported.private_pkcs8).expect("re-encoded material is refused");
    assert_eq!(again.public_key_der, imported.public_key_der, "re-encoding changed the key");
    assert!(KeySpec::from(spec).parse(&imported.private_pkcs8).is_ok(), "stored form does not load");
}

fn certificate(value: &[u8]) {
    let ulong = |v: u64| v.to_le_bytes().to_vec();
    let template = [(CKA_CLASS, ulong(CKO_CERTIFICATE)), (CKA_VALUE, value.to_vec())];
    let Ok(template) = Template::parse(template) else { return };
    let Ok(stored) = new_object_attributes(&template) else { return };
    for attribute in [CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER, CKA_PUBLIC_KEY_INFO] {
        assert!(stored.contains_key(&attribute), "certificate attribute 0x{attribute:X} missing");
    }
}

fn ec_params(params: &[u8]) {
    let Ok(spec) = der::ec_spec_from_params(params) else { return };
    // Ed25519 and X25519 are also accepted by name and by older OIDs; the others only canonically.
    if !spec.is_curve25519() {
        assert_eq!(der::ec_params(spec), Some(params), "a non-canonical CKA_EC_PARAMS was accepted");
    }
    assert!(der::ec_params(spec).is_some(), "{spec:?} has no CKA_EC_PARAMS");
}

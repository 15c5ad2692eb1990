//! Tests of `ec`: signatures and their normalisation, ECDH, and interoperability with `openssl`.

use super::*;
use crate::crypto::der::ec_point_from_spki;
use crate::crypto::der::io::{SEQUENCE, encode, tlv_len, uint_content_len};
use crate::crypto::digest::{HashAlg, Hasher};
use crate::crypto::test_util::{Openssl, err};

const SPECS: [PairSpec; 4] =
    [PairSpec::EccNistP256, PairSpec::EccNistP384, PairSpec::EccNistP521, PairSpec::EccSecgP256k1];
/// The curves with ECDH.
const AGREEING: [PairSpec; 3] = [PairSpec::EccNistP256, PairSpec::EccNistP384, PairSpec::EccNistP521];

fn digest(hash: HashAlg, message: &[u8]) -> Vec<u8> {
    let mut hasher = Hasher::new(hash);
    hasher.update(message);
    hasher.finish()
}

fn new_key(spec: PairSpec) -> EcPrivateKey {
    EcPrivateKey::from_pkcs8(ec_generate(spec).unwrap().as_slice()).unwrap()
}

/// `r || s` as a DER ECDSA-Sig-Value, for OpenSSL.
fn to_der(signature: &[u8]) -> Vec<u8> {
    let (r, s) = signature.split_at(signature.len() / 2);
    let content = tlv_len(uint_content_len(r)) + tlv_len(uint_content_len(s));
    encode(tlv_len(content), |w| {
        w.header(SEQUENCE, content)?;
        w.uint(r)?;
        w.uint(s)
    })
    .unwrap()
}

#[test]
fn signatures_round_trip_and_fail_when_altered() {
    for (spec, hash) in
        SPECS.into_iter().zip([HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512, HashAlg::Sha256])
    {
        let key = new_key(spec);
        assert_eq!(key.spec(), spec);
        let spki = key.public_key_der().unwrap();
        let d = digest(hash, b"message");
        let signature = key.sign_prehashed(&d).unwrap();
        assert_eq!(signature.len(), ec_signature_len(spec));
        ecdsa_verify_prehashed(&spki, &d, &signature).unwrap();
        let mut bad = signature.clone();
        bad[3] ^= 1;
        assert!(matches!(err(ecdsa_verify_prehashed(&spki, &d, &bad)), Error::SignatureInvalid(_)));
        assert!(matches!(
            err(ecdsa_verify_prehashed(&spki, &digest(hash, b"other"), &signature)),
            Error::SignatureInvalid(_)
        ));
        assert!(matches!(err(ecdsa_verify_prehashed(&spki, &d, &signature[1..])), Error::SignatureLength(_)));
        assert!(matches!(
            err(ecdsa_verify_prehashed(&spki, &d, &to_der(&signature))),
            Error::SignatureLength(_)
        ));
        assert!(matches!(err(key.sign_prehashed(&[])), Error::DataLength(_)));
        assert!(matches!(err(ecdsa_verify_prehashed(&spki, &[], &signature)), Error::DataLength(_)));
    }
    assert_eq!(ec_signature_len(PairSpec::Rsa3072), 0);
}

#[test]
fn hashes_of_any_length_are_normalised_like_bits2int() {
    let key = new_key(PairSpec::EccNistP256);
    let spki = key.public_key_der().unwrap();
    // Longer than the order: the leftmost 32 bytes count.
    let long = digest(HashAlg::Sha512, b"m");
    let signature = key.sign_prehashed(&long).unwrap();
    ecdsa_verify_prehashed(&spki, &long[..32], &signature).unwrap();
    let signature = key.sign_prehashed(&long[..32]).unwrap();
    ecdsa_verify_prehashed(&spki, &long, &signature).unwrap();
    let mut changed_tail = long.clone();
    changed_tail[40] ^= 0xff;
    ecdsa_verify_prehashed(&spki, &changed_tail, &signature).unwrap();
    // Shorter: left-padded with zeros.
    let short = digest(HashAlg::Sha1, b"m");
    let signature = key.sign_prehashed(&short).unwrap();
    let padded = [&[0u8; 12][..], &short].concat();
    ecdsa_verify_prehashed(&spki, &padded, &signature).unwrap();
    assert!(matches!(
        err(ecdsa_verify_prehashed(&spki, &[&short[..], &[0; 12]].concat(), &signature)),
        Error::SignatureInvalid(_)
    ));
}

#[test]
fn openssl_verifies_raw_signatures_after_der_conversion() {
    let ssl = Openssl::new();
    for (spec, hash) in [
        (PairSpec::EccNistP256, HashAlg::Sha256),
        (PairSpec::EccNistP256, HashAlg::Sha512),
        (PairSpec::EccNistP256, HashAlg::Sha1),
        (PairSpec::EccNistP384, HashAlg::Sha384),
        (PairSpec::EccNistP384, HashAlg::Sha256),
        (PairSpec::EccNistP521, HashAlg::Sha512),
        (PairSpec::EccNistP521, HashAlg::Sha256),
        (PairSpec::EccNistP521, HashAlg::Sha1),
        (PairSpec::EccSecgP256k1, HashAlg::Sha256),
        (PairSpec::EccSecgP256k1, HashAlg::Sha384),
    ] {
        let key = new_key(spec);
        ssl.write("pub.der", &key.public_key_der().unwrap());
        let d = digest(hash, b"interop");
        ssl.write("digest", &d);
        ssl.write("sig", &to_der(&key.sign_prehashed(&d).unwrap()));
        let args = [
            "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", "pub.der", "-in", "digest",
            "-sigfile", "sig",
        ];
        ssl.run(&args);
        // And a signature with the wrong digest is refused by OpenSSL too (the check can fail).
        ssl.write("digest", &digest(hash, b"other"));
        assert!(!ssl.try_run(&args).0, "{spec:?} {hash:?}");
    }
}

/// P-521's order has 521 bits: hashes up to 64 bytes keep their value (zero-padded on the left),
/// longer input is refused rather than cut at a byte boundary bits2int does not have.
#[test]
fn p521_takes_hashes_up_to_64_bytes() {
    let key = new_key(PairSpec::EccNistP521);
    let spki = key.public_key_der().unwrap();
    let short = digest(HashAlg::Sha256, b"m");
    let signature = key.sign_prehashed(&short).unwrap();
    assert_eq!(signature.len(), 132);
    ecdsa_verify_prehashed(&spki, &[&[0u8; 32][..], &short].concat(), &signature).unwrap();
    assert!(matches!(err(key.sign_prehashed(&[1; 65])), Error::DataLength(_)));
    assert!(matches!(err(ecdsa_verify_prehashed(&spki, &[1; 66], &signature)), Error::DataLength(_)));
    let k1 = new_key(PairSpec::EccSecgP256k1);
    let point = ec_point_from_spki(&k1.public_key_der().unwrap()).unwrap();
    assert!(matches!(err(k1.derive(&point)), Error::CurveUnsupported(_)));
}

#[test]
fn ecdh_agrees_both_ways_and_with_openssl() {
    for spec in AGREEING {
        let (a, b) = (new_key(spec), new_key(spec));
        let a_point = ec_point_from_spki(&a.public_key_der().unwrap()).unwrap();
        let b_point = ec_point_from_spki(&b.public_key_der().unwrap()).unwrap();
        let ab = a.derive(&b_point).unwrap();
        // The bare point too: after the OCTET STRING's header (a long-form length on P-521).
        let bare = &a_point[a_point.len() - (1 + 2 * spec.coordinate_len().unwrap())..];
        let ba = b.derive(bare).unwrap();
        assert_eq!(ab.as_slice(), ba.as_slice());
        assert_eq!(ab.len(), ec_signature_len(spec) / 2);
    }
    let ssl = Openssl::new();
    for (curve, spec) in [("P-384", PairSpec::EccNistP384), ("P-521", PairSpec::EccNistP521)] {
        let paramgen = format!("ec_paramgen_curve:{curve}");
        ssl.run(&["genpkey", "-algorithm", "EC", "-pkeyopt", &paramgen, "-out", "a.pem"]);
        ssl.run(&["pkcs8", "-topk8", "-nocrypt", "-in", "a.pem", "-outform", "DER", "-out", "a.der"]);
        let ours = new_key(spec);
        ssl.write("b.der", &ours.public_key_der().unwrap());
        ssl.run(&["pkey", "-pubin", "-inform", "DER", "-in", "b.der", "-out", "b.pem"]);
        ssl.run(&["pkeyutl", "-derive", "-inkey", "a.pem", "-peerkey", "b.pem", "-out", "secret"]);
        let theirs = EcPrivateKey::from_pkcs8(&ssl.read("a.der")).unwrap();
        let their_point = ec_point_from_spki(&theirs.public_key_der().unwrap()).unwrap();
        let secret = ours.derive(&their_point).unwrap();
        assert_eq!(secret.as_slice(), ssl.read("secret").as_slice(), "{curve}");
        assert_eq!(secret.len(), spec.coordinate_len().unwrap());
    }
}

#[test]
fn bad_peer_points_are_parameter_errors() {
    let key = new_key(PairSpec::EccNistP256);
    let good = ec_point_from_spki(&new_key(PairSpec::EccNistP256).public_key_der().unwrap()).unwrap();
    let raw = &good[2..];
    let mut off_curve = raw.to_vec();
    off_curve[64] ^= 1;
    let mut compressed = raw[..33].to_vec();
    compressed[0] = 0x02;
    let p384 = ec_point_from_spki(&new_key(PairSpec::EccNistP384).public_key_der().unwrap()).unwrap();
    let mut infinity = vec![0u8; 65];
    infinity[0] = 4;
    for bad in [
        &[][..],
        &raw[..64],
        &off_curve,
        &compressed,
        &p384,
        &p384[2..],
        &infinity,
        &[0x04, 0x41],
        &good[1..],
    ] {
        assert!(matches!(err(key.derive(bad)), Error::ParameterInvalid(_)), "{bad:02x?}");
    }
}

#[test]
fn keys_load_from_openssl_and_wrong_keys_are_refused() {
    let ssl = Openssl::new();
    ssl.run(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "k.pem"]);
    ssl.run(&["pkcs8", "-topk8", "-nocrypt", "-in", "k.pem", "-outform", "DER", "-out", "k.der"]);
    ssl.run(&["pkey", "-in", "k.pem", "-pubout", "-outform", "DER", "-out", "pub.der"]);
    let key = EcPrivateKey::from_pkcs8(&ssl.read("k.der")).unwrap();
    assert_eq!(key.spec(), PairSpec::EccNistP256);
    assert_eq!(key.public_key_der().unwrap(), ssl.read("pub.der"));
    let shown = format!("{key:?}");
    assert!(shown.contains("REDACTED") && shown.contains("P256"), "{shown}");

    ssl.run(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-224", "-out", "big.pem"]);
    ssl.run(&["pkcs8", "-topk8", "-nocrypt", "-in", "big.pem", "-outform", "DER", "-out", "big.der"]);
    assert!(matches!(err(EcPrivateKey::from_pkcs8(&ssl.read("big.der"))), Error::CurveUnsupported(_)));
    ssl.run(&["genpkey", "-algorithm", "ED25519", "-outform", "DER", "-out", "ed.der"]);
    assert!(matches!(err(EcPrivateKey::from_pkcs8(&ssl.read("ed.der"))), Error::KeyType(_)));
    let rsa = crate::crypto::rsa::rsa_generate(2048).unwrap();
    assert!(matches!(err(EcPrivateKey::from_pkcs8(rsa.as_slice())), Error::KeyType(_)));
    let rsa_pub =
        crate::crypto::rsa::RsaPrivateKey::from_pkcs8(rsa.as_slice()).unwrap().public_key_der().unwrap();
    assert!(matches!(err(ecdsa_verify_prehashed(&rsa_pub, &[1; 32], &[0; 64])), Error::KeyType(_)));
    for spec in [PairSpec::Rsa3072, PairSpec::Rsa2048, PairSpec::Rsa4096] {
        assert!(matches!(err(ec_generate(spec)), Error::CurveUnsupported(_)));
    }
    let der = ssl.read("k.der");
    for cut in [0, 1, 10, der.len() / 2, der.len() - 1] {
        assert!(EcPrivateKey::from_pkcs8(&der[..cut]).is_err());
    }
    assert!(matches!(err(EcPrivateKey::from_pkcs8(&[0x30, 0x03, 0x02, 0x01, 0x00])), Error::Encoding(_)));
}

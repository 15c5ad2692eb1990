//! RSA: PKCS#1 v1.5 and OAEP encryption, PKCS#1 v1.5 and PSS signatures, checked by OpenSSL.

use cryptoki::error::RvError;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;

use crate::der;
use crate::digest::sha;
use crate::keys;
use crate::openssl::{self, SigOpts};
use crate::suite::{
    At, Ctx, Fail, Outcome, SoftHsm, ensure, expect_rv, expect_spec, message, odd_chunks, skip,
};

fn hash_of(bits: u32) -> (MechanismType, PkcsMgfType) {
    match bits {
        1 => (MechanismType::SHA1, PkcsMgfType::MGF1_SHA1),
        384 => (MechanismType::SHA384, PkcsMgfType::MGF1_SHA384),
        512 => (MechanismType::SHA512, PkcsMgfType::MGF1_SHA512),
        _ => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
    }
}

/// OAEP with SHA-1 (`bits` 1) or SHA-2, MGF1 with the same hash, no label.
pub fn oaep(bits: u32) -> PkcsOaepParams<'static> {
    let (hash, mgf) = hash_of(bits);
    PkcsOaepParams::new(hash, mgf, PkcsOaepSource::empty())
}

/// PSS with the hash of `bits` and a salt as long as the hash.
pub fn pss(bits: u32) -> PkcsPssParams {
    let (hash_alg, mgf) = hash_of(bits);
    PkcsPssParams { hash_alg, mgf, s_len: (u64::from(bits) / 8).into() }
}

fn hashed_pkcs(bits: u32) -> Mechanism<'static> {
    match bits {
        384 => Mechanism::Sha384RsaPkcs,
        512 => Mechanism::Sha512RsaPkcs,
        _ => Mechanism::Sha256RsaPkcs,
    }
}

fn hashed_pss(bits: u32) -> Mechanism<'static> {
    match bits {
        384 => Mechanism::Sha384RsaPkcsPss(pss(384)),
        512 => Mechanism::Sha512RsaPkcsPss(pss(512)),
        _ => Mechanism::Sha256RsaPkcsPss(pss(256)),
    }
}

pub fn sign_multi(
    s: &Session,
    mechanism: &Mechanism,
    key: ObjectHandle,
    data: &[u8],
) -> Result<Vec<u8>, Fail> {
    s.sign_init(mechanism, key).at("C_SignInit")?;
    for chunk in odd_chunks(data) {
        s.sign_update(chunk).at("C_SignUpdate")?;
    }
    s.sign_final().at("C_SignFinal")
}

pub fn verify_multi(
    s: &Session,
    mechanism: &Mechanism,
    key: ObjectHandle,
    data: &[u8],
    signature: &[u8],
) -> Outcome {
    s.verify_init(mechanism, key).at("C_VerifyInit")?;
    for chunk in odd_chunks(data) {
        s.verify_update(chunk).at("C_VerifyUpdate")?;
    }
    s.verify_final(signature).at("C_VerifyFinal")
}

pub fn rsa_pkcs_sign(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let pair = ctx.rsa()?;
    let msg = message(200);
    let digest = sha(256, &msg)?;
    let info = der::digest_info(256, &digest);
    let raw = s.sign(&Mechanism::RsaPkcs, pair.private, &info).at("C_Sign(CKM_RSA_PKCS)")?;
    ensure!(raw.len() == 256, "signature of {} bytes", raw.len());
    let hashed = s.sign(&Mechanism::Sha256RsaPkcs, pair.private, &msg).at("C_Sign(CKM_SHA256_RSA_PKCS)")?;
    ensure!(raw == hashed, "CKM_RSA_PKCS over the DigestInfo differs from CKM_SHA256_RSA_PKCS");
    openssl::verify_digest(
        &keys::rsa_spki(&s, pair.public)?,
        SigOpts { bits: 256, pss: false },
        &digest,
        &raw,
    )?;
    s.verify(&Mechanism::RsaPkcs, pair.public, &info, &raw).at("C_Verify(CKM_RSA_PKCS)")?;
    Ok(())
}

pub fn rsa_pkcs_encrypt(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let pair = ctx.rsa()?;
    let plain = message(245);
    let sealed = s.encrypt(&Mechanism::RsaPkcs, pair.public, &plain).at("C_Encrypt(CKM_RSA_PKCS)")?;
    ensure!(sealed.len() == 256, "ciphertext of {} bytes", sealed.len());
    let again = s.encrypt(&Mechanism::RsaPkcs, pair.public, &plain).at("C_Encrypt(CKM_RSA_PKCS)")?;
    ensure!(again != sealed, "PKCS#1 v1.5 encryption is not randomised");
    ensure!(
        s.decrypt(&Mechanism::RsaPkcs, pair.private, &sealed).at("C_Decrypt(CKM_RSA_PKCS)")? == plain,
        "decryption is wrong"
    );
    let from_openssl = openssl::rsa_encrypt(&keys::rsa_spki(&s, pair.public)?, None, b"from openssl")?;
    let opened = s
        .decrypt(&Mechanism::RsaPkcs, pair.private, &from_openssl)
        .at("C_Decrypt of OpenSSL's ciphertext")?;
    ensure!(opened == b"from openssl", "OpenSSL's ciphertext decrypts wrongly");
    let long = s.encrypt(&Mechanism::RsaPkcs, pair.public, &message(246));
    let deviation = SoftHsm::Gives(RvError::GeneralError);
    expect_spec(ctx, long, RvError::DataLenRange, deviation, "C_Encrypt(CKM_RSA_PKCS, 246 bytes)")?;
    Ok(())
}

fn rsa_oaep(ctx: &Ctx, bits: u32, limit: usize) -> Outcome {
    let s = ctx.s();
    let pair = ctx.rsa()?;
    let mechanism = Mechanism::RsaPkcsOaep(oaep(bits));
    let plain = message(limit);
    let sealed = s.encrypt(&mechanism, pair.public, &plain).at("C_Encrypt(CKM_RSA_PKCS_OAEP)")?;
    ensure!(s.decrypt(&mechanism, pair.private, &sealed).at("C_Decrypt(OAEP)")? == plain, "OAEP round trip");
    let from_openssl = openssl::rsa_encrypt(&keys::rsa_spki(&s, pair.public)?, Some(bits), &plain)?;
    let opened =
        s.decrypt(&mechanism, pair.private, &from_openssl).at("C_Decrypt(OAEP) of OpenSSL's ciphertext")?;
    ensure!(opened == plain, "OpenSSL's OAEP ciphertext decrypts wrongly");
    let long = s.encrypt(&mechanism, pair.public, &message(limit + 1));
    let deviation = SoftHsm::Gives(RvError::GeneralError);
    expect_spec(
        ctx,
        long,
        RvError::DataLenRange,
        deviation,
        &format!("C_Encrypt(OAEP, {} bytes)", limit + 1),
    )?;
    // (SoftHSM refuses the SHA-256 parameters themselves; see rsa_oaep_sha256.)
    if ctx.arca() {
        let wrong_hash = Mechanism::RsaPkcsOaep(oaep(if bits == 1 { 256 } else { 1 }));
        let mismatch = s.decrypt(&wrong_hash, pair.private, &sealed);
        expect_rv(mismatch, &[RvError::EncryptedDataInvalid], "C_Decrypt(OAEP) with the other hash")?;
    }
    Ok(())
}

pub fn rsa_oaep_sha1(ctx: &Ctx) -> Outcome {
    rsa_oaep(ctx, 1, 214)
}

pub fn rsa_oaep_sha256(ctx: &Ctx) -> Outcome {
    if !ctx.arca() {
        // SoftHSM 2.6.1 implements OAEP with SHA-1 and MGF1-SHA-1 only (anything else is
        // CKR_ARGUMENTS_BAD at C_EncryptInit/C_DecryptInit).
        return skip("SoftHSM 2.6.1 implements CKM_RSA_PKCS_OAEP with SHA-1 only");
    }
    rsa_oaep(ctx, 256, 190)
}

pub fn rsa_pss(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let pair = ctx.rsa()?;
    let msg = message(99);
    let digest = sha(256, &msg)?;
    let mechanism = Mechanism::RsaPkcsPss(pss(256));
    let signature = s.sign(&mechanism, pair.private, &digest).at("C_Sign(CKM_RSA_PKCS_PSS)")?;
    let second = s.sign(&mechanism, pair.private, &digest).at("C_Sign(CKM_RSA_PKCS_PSS)")?;
    ensure!(signature != second, "PSS signatures with a 32-byte salt are identical");
    openssl::verify_digest(
        &keys::rsa_spki(&s, pair.public)?,
        SigOpts { bits: 256, pss: true },
        &digest,
        &signature,
    )?;
    s.verify(&mechanism, pair.public, &digest, &signature).at("C_Verify(CKM_RSA_PKCS_PSS)")?;
    Ok(())
}

pub fn sha_rsa_pkcs(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let pair = ctx.rsa()?;
    let spki = keys::rsa_spki(&s, pair.public)?;
    let msg = message(517);
    for bits in [256, 384, 512] {
        let mechanism = hashed_pkcs(bits);
        let single = s.sign(&mechanism, pair.private, &msg).at(&format!("C_Sign(SHA{bits}_RSA_PKCS)"))?;
        let multi = sign_multi(&s, &mechanism, pair.private, &msg)?;
        ensure!(single == multi, "SHA{bits}_RSA_PKCS single- and multi-part signatures differ");
        openssl::verify_message(&spki, SigOpts { bits, pss: false }, &msg, &single)?;
        s.verify(&mechanism, pair.public, &msg, &single).at("C_Verify")?;
        verify_multi(&s, &mechanism, pair.public, &msg, &single)?;
    }
    Ok(())
}

pub fn sha_rsa_pss(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let pair = ctx.rsa()?;
    let spki = keys::rsa_spki(&s, pair.public)?;
    let msg = message(411);
    for bits in [256, 384, 512] {
        let mechanism = hashed_pss(bits);
        let single = s.sign(&mechanism, pair.private, &msg).at(&format!("C_Sign(SHA{bits}_RSA_PKCS_PSS)"))?;
        let multi = sign_multi(&s, &mechanism, pair.private, &msg)?;
        for signature in [&single, &multi] {
            openssl::verify_message(&spki, SigOpts { bits, pss: true }, &msg, signature)?;
            verify_multi(&s, &mechanism, pair.public, &msg, signature)?;
        }
        s.verify(&mechanism, pair.public, &msg, &multi).at("C_Verify")?;
    }
    Ok(())
}

/// A PSS salt length other than the hash length (PKCS#11 allows any that fits): signatures with
/// a 20-byte salt under SHA-256, which OpenSSL verifies with exactly that salt length.
pub fn rsa_pss_salt_length(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let pair = ctx.rsa()?;
    let spki = keys::rsa_spki(&s, pair.public)?;
    let (hash_alg, mgf) = hash_of(256);
    let params = PkcsPssParams { hash_alg, mgf, s_len: 20.into() };
    let digest = sha(256, b"salt")?;
    for (mechanism, data) in [
        (Mechanism::Sha256RsaPkcsPss(params), b"salt".to_vec()),
        (Mechanism::RsaPkcsPss(params), digest.clone()),
    ] {
        let name = mechanism.mechanism_type();
        let signature = s.sign(&mechanism, pair.private, &data).at(&format!("C_Sign({name}, salt 20)"))?;
        openssl::verify_digest_pss(&spki, 256, 20, &digest, &signature)?;
        s.verify(&mechanism, pair.public, &data, &signature).at(&format!("C_Verify({name}, salt 20)"))?;
    }
    Ok(())
}

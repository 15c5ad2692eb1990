//! RSASSA-PSS through the raw operation (RFC 8017 section 9.1), for what AWS-LC does not sign or
//! verify: SHA-1 and SHA-224, salts other than the hash length, and keys below 2048 bits. MGF1
//! (appendix B.2.1), also used by `oaep`, lives here.

use zeroize::Zeroizing;

use super::raw::{RawPublic, RawRsaKey};
use crate::crypto::digest::{HashAlg, Hasher};
use crate::crypto::{Error, Result, failed};
use crate::secure_mem::SecretBuf;

/// MGF1 of `seed`: `len` bytes of Hash(seed || counter) for counter = 0, 1, ….
pub(super) fn mgf1(hash: HashAlg, seed: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut mask = Zeroizing::new(Vec::with_capacity(len + hash.output_len()));
    let mut counter: u32 = 0;
    while mask.len() < len {
        let mut hasher = Hasher::new(hash);
        hasher.update(seed);
        hasher.update(&counter.to_be_bytes());
        mask.extend_from_slice(&Zeroizing::new(hasher.finish()));
        counter = counter.wrapping_add(1);
    }
    mask.truncate(len);
    mask
}

/// The largest salt a key of `modulus_bits` takes with `hash`: emLen − hLen − 2, where emLen
/// is ⌈(modBits − 1)/8⌉ (RFC 8017 section 9.1.1 step 3).
pub fn max_salt_len(hash: HashAlg, modulus_bits: usize) -> usize {
    em_len(modulus_bits).saturating_sub(hash.output_len() + 2)
}

fn em_len(modulus_bits: usize) -> usize {
    modulus_bits.saturating_sub(1).div_ceil(8)
}

fn salt_too_long(hash: HashAlg, salt_len: usize, modulus_bits: usize) -> Error {
    Error::ParameterInvalid(format!(
        "a PSS salt with {} and a {modulus_bits}-bit key is at most {} bytes, not {salt_len}",
        hash.name(),
        max_salt_len(hash, modulus_bits)
    ))
}

/// H = Hash(0x00 × 8 || mHash || salt).
fn h_of(hash: HashAlg, m_hash: &[u8], salt: &[u8]) -> Vec<u8> {
    let mut hasher = Hasher::new(hash);
    hasher.update(&[0; 8]);
    hasher.update(m_hash);
    hasher.update(salt);
    hasher.finish()
}

/// The lengths of DB and of PS for a salt, if the key has room for it: emLen − hLen − 1 and
/// emLen − sLen − hLen − 2.
fn db_layout(hash: HashAlg, salt_len: usize, modulus_bits: usize) -> Option<(usize, usize)> {
    let db_len = em_len(modulus_bits).checked_sub(hash.output_len() + 1)?;
    Some((db_len, db_len.checked_sub(salt_len + 1)?))
}

/// The mask clearing the 8·emLen − emBits leftmost bits of EM.
fn top_mask(modulus_bits: usize) -> u8 {
    let unused = (8 * em_len(modulus_bits) + 1).saturating_sub(modulus_bits).min(8);
    (0xffu16 >> unused) as u8
}

/// EMSA-PSS-ENCODE (section 9.1.1) of a digest, as k bytes (zeros on the left when emLen < k).
fn encode(hash: HashAlg, m_hash: &[u8], salt_len: usize, modulus_bits: usize, k: usize) -> Result<Vec<u8>> {
    hash.import_digest(m_hash)?;
    let (db_len, ps_len) =
        db_layout(hash, salt_len, modulus_bits).ok_or_else(|| salt_too_long(hash, salt_len, modulus_bits))?;
    let salt = SecretBuf::random(salt_len)?;
    let h = h_of(hash, m_hash, salt.as_slice());
    let mut db = vec![0; ps_len];
    db.push(0x01);
    db.extend_from_slice(salt.as_slice());
    for (byte, mask) in db.iter_mut().zip(mgf1(hash, &h, db_len).iter()) {
        *byte ^= mask;
    }
    if let Some(top) = db.first_mut() {
        *top &= top_mask(modulus_bits);
    }
    let mut em = vec![0; k.checked_sub(em_len(modulus_bits)).ok_or_else(|| failed("PSS encoding"))?];
    em.extend_from_slice(&db);
    em.extend_from_slice(&h);
    em.push(0xbc);
    Ok(em)
}

/// EMSA-PSS-VERIFY (section 9.1.2) of k bytes recovered from a signature.
fn verified(hash: HashAlg, m_hash: &[u8], salt_len: usize, modulus_bits: usize, recovered: &[u8]) -> bool {
    let Some((db_len, ps_len)) = db_layout(hash, salt_len, modulus_bits) else { return false };
    let Some((zeros, em)) = recovered.split_at_checked(recovered.len().saturating_sub(em_len(modulus_bits)))
    else {
        return false;
    };
    let Some((masked_db, rest)) = em.split_at_checked(db_len) else { return false };
    let Some((h, trailer)) = rest.split_at_checked(hash.output_len()) else { return false };
    let mask = top_mask(modulus_bits);
    if zeros.iter().any(|b| *b != 0) || trailer != [0xbc] || masked_db.first().is_some_and(|t| t & !mask != 0)
    {
        return false;
    }
    let mut db: Vec<u8> = masked_db.iter().zip(mgf1(hash, h, db_len).iter()).map(|(a, b)| a ^ b).collect();
    if let Some(top) = db.first_mut() {
        *top &= mask;
    }
    let Some((ps_and_one, salt)) = db.split_at_checked(ps_len + 1) else { return false };
    let (ps, one) = ps_and_one.split_at(ps_len);
    ps.iter().all(|b| *b == 0) && one == [0x01] && h_of(hash, m_hash, salt) == h
}

/// An RSASSA-PSS signature of a digest through the raw operation.
pub(super) fn sign(key: &RawRsaKey, hash: HashAlg, digest: &[u8], salt_len: usize) -> Result<Vec<u8>> {
    let public = key.public();
    let em = encode(hash, digest, salt_len, public.bits(), public.modulus_len())?;
    Ok(key.private(&em)?.as_slice().to_vec())
}

/// Checks an RSASSA-PSS signature (k bytes, the caller checked) of a digest.
pub(super) fn verify(
    key: &RawPublic,
    hash: HashAlg,
    digest: &[u8],
    salt_len: usize,
    signature: &[u8],
) -> Result<()> {
    hash.import_digest(digest)?;
    if db_layout(hash, salt_len, key.bits()).is_none() {
        return Err(salt_too_long(hash, salt_len, key.bits()));
    }
    match key.apply(signature)? {
        Some(recovered) if verified(hash, digest, salt_len, key.bits(), &recovered) => Ok(()),
        _ => Err(Error::SignatureInvalid("RSA signature does not match")),
    }
}

//! CKM_RSA_PKCS over inputs AWS-LC cannot sign: EMSA-PKCS1-v1_5 type-1 padding of any input of up
//! to k − 11 bytes (a SHA-1 or SHA-224 DigestInfo, TLS 1.0/1.1's bare MD5 || SHA-1, arbitrary data),
//! then the raw RSA operation, in safe Rust with `crypto-bigint`.
//!
//! The private operation is `c^d mod n` with constant-time Montgomery arithmetic, blinded by a
//! random r coprime to n (c' = c·r^e, s = s'·r⁻¹), and checked with the public exponent before
//! the signature leaves (a mismatch is a failure). It does not use the CRT on purpose:
//! Montgomery parameters of p and q would be copies of the primes that crypto-bigint keeps
//! behind an `Arc` it never wipes, in unlocked memory. Modulo n, the parameters are public, the
//! exponentiation's tables hold powers of the blinded message, and d lives in a `SecretBuf`
//! (the one working copy is zeroized on drop). This costs about four times a CRT signature; the
//! path serves only what AWS-LC cannot sign.
//!
//! The public operation (verification) involves nothing secret and may run in variable time.

use std::fmt;

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, CtEq as _, Odd};
use zeroize::Zeroizing;

use crate::crypto::der::io::{INTEGER, OCTET_STRING, Reader, SEQUENCE};
use crate::crypto::failed;
use crate::crypto::{Error, Result};
use crate::secure_mem::SecretBuf;

/// PKCS#1 v1.5 padding takes at least 11 bytes of the modulus.
const PKCS1_OVERHEAD: usize = 11;
/// Random blinding factors drawn before giving up (one fails only if it shares a factor with n).
const BLINDING_ATTEMPTS: usize = 4;
/// Extra random bytes for the blinding factor, so that reducing it modulo n is unbiased.
const BLINDING_EXTRA: usize = 16;
/// The PKCS#1 RSAPrivateKey version of a two-prime key.
const TWO_PRIME: &[u8] = &[];

fn too_long(len: usize, limit: usize) -> Error {
    Error::DataLength(format!("CKM_RSA_PKCS input is {len} bytes; this key takes at most {limit}"))
}

/// Refuses CKM_RSA_PKCS input longer than k − 11 bytes.
pub(super) fn check_input_len(input: &[u8], modulus_len: usize) -> Result<()> {
    let limit = modulus_len.saturating_sub(PKCS1_OVERHEAD);
    if input.len() > limit {
        return Err(too_long(input.len(), limit));
    }
    Ok(())
}

/// EMSA-PKCS1-v1_5 type 1 (RFC 8017 section 9.2 steps 3-5): `00 01 FF…FF 00 || input`, k bytes.
pub(super) fn type1_block(input: &[u8], modulus_len: usize) -> Result<Vec<u8>> {
    check_input_len(input, modulus_len)?;
    let padding = modulus_len
        .checked_sub(input.len() + 3)
        .filter(|len| *len >= 8)
        .ok_or_else(|| too_long(input.len(), modulus_len.saturating_sub(PKCS1_OVERHEAD)))?;
    let mut block = Vec::with_capacity(modulus_len);
    block.extend_from_slice(&[0x00, 0x01]);
    block.resize(2 + padding, 0xff);
    block.push(0x00);
    block.extend_from_slice(input);
    Ok(block)
}

/// Bits of precision for a big-endian value of `len` bytes.
fn precision(len: usize) -> Result<u32> {
    len.checked_mul(8).and_then(|bits| u32::try_from(bits).ok()).ok_or_else(|| failed("RSA size"))
}

fn uint(bytes: &[u8], bits: u32) -> Result<BoxedUint> {
    BoxedUint::from_be_slice(bytes, bits).map_err(|_| failed("RSA key component decoding"))
}

/// The parts of a PKCS#1 RSAPrivateKey the raw operation uses. Debug is redacted.
pub(super) struct RawRsaKey {
    modulus_len: usize,
    /// Public: Montgomery parameters of n, and e.
    n: BoxedMontyParams,
    e: BoxedUint,
    d: SecretBuf,
}

impl fmt::Debug for RawRsaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawRsaKey({} bytes, [REDACTED])", self.modulus_len)
    }
}

/// The RSAPrivateKey inside a PKCS#8 document (which AWS-LC has already checked to be RSA).
fn rsa_private_key(pkcs8: &[u8]) -> Option<&[u8]> {
    let mut reader = Reader::new(Reader::single(pkcs8, SEQUENCE)?);
    reader.expect(INTEGER)?;
    reader.expect(SEQUENCE)?;
    reader.expect(OCTET_STRING)
}

impl RawRsaKey {
    /// Parses a PKCS#8 RSA key: (version, n, e, d, p, q, dp, dq, qinv); only n, e and d are kept.
    pub(super) fn from_pkcs8(pkcs8: &[u8]) -> Result<Self> {
        let malformed = || failed("RSA private key parsing");
        let key = rsa_private_key(pkcs8).ok_or_else(malformed)?;
        let mut reader = Reader::new(Reader::single(key, SEQUENCE).ok_or_else(malformed)?);
        let mut next = || reader.unsigned().ok_or_else(malformed);
        if next()? != TWO_PRIME {
            return Err(malformed());
        }
        let (n, e, d) = (next()?, next()?, next()?);
        for _crt_component in 0..5 {
            next()?;
        }
        if !reader.is_empty() {
            return Err(malformed());
        }
        let modulus = Odd::new(uint(n, precision(n.len())?)?).into_option().ok_or_else(malformed)?;
        Ok(Self {
            modulus_len: n.len(),
            n: BoxedMontyParams::new(modulus),
            e: uint(e, precision(e.len())?)?,
            d: SecretBuf::copy_from(d)?,
        })
    }

    /// A CKM_RSA_PKCS signature: type-1 padding of `input`, then the private operation.
    pub(super) fn sign_pkcs1(&self, input: &[u8]) -> Result<Vec<u8>> {
        let block = type1_block(input, self.modulus_len)?;
        let message = BoxedMontyForm::new(uint(&block, self.n.bits_precision())?, &self.n);
        let signature = self.private_operation(&message)?;
        if !signature.pow(&self.e).ct_eq(&message).to_bool() {
            return Err(failed("RSA signature self-check"));
        }
        let bytes = signature.retrieve().to_be_bytes();
        let start = bytes.len().checked_sub(self.modulus_len).ok_or_else(|| failed("RSA signing"))?;
        bytes.get(start..).map(<[u8]>::to_vec).ok_or_else(|| failed("RSA signing"))
    }

    /// A random r modulo n and its inverse, both in Montgomery form.
    fn blinding(&self) -> Result<(Zeroizing<BoxedMontyForm>, Zeroizing<BoxedMontyForm>)> {
        let len = self.modulus_len + BLINDING_EXTRA;
        for _ in 0..BLINDING_ATTEMPTS {
            let random = SecretBuf::random(len)?;
            let wide = Zeroizing::new(uint(random.as_slice(), precision(len)?)?);
            let r = Zeroizing::new(BoxedMontyForm::new(wide.rem(self.n.modulus().as_nz_ref()), &self.n));
            if let Some(inverse) = r.invert().into_option() {
                return Ok((r, Zeroizing::new(inverse)));
            }
        }
        Err(failed("RSA blinding"))
    }

    /// `c^d mod n`, blinded; `c` and the result in Montgomery form modulo n.
    fn private_operation(&self, c: &BoxedMontyForm) -> Result<Zeroizing<BoxedMontyForm>> {
        let (r, r_inv) = self.blinding()?;
        let blinded = Zeroizing::new(c.mul(&Zeroizing::new(r.pow(&self.e))));
        let d = Zeroizing::new(uint(self.d.as_slice(), self.n.bits_precision())?);
        let blinded_signature = Zeroizing::new(blinded.pow(&d));
        Ok(Zeroizing::new(blinded_signature.mul(&r_inv)))
    }
}

fn signature_invalid() -> Error {
    Error::SignatureInvalid("RSA signature does not match")
}

/// Checks a CKM_RSA_PKCS signature by the public operation: `signature^e mod n` must be the
/// type-1 block of `input`. `modulus` and `exponent` are big-endian without leading zeros;
/// the signature is k bytes (the caller checked).
pub(super) fn verify_pkcs1(modulus: &[u8], exponent: &[u8], input: &[u8], signature: &[u8]) -> Result<()> {
    let expected = type1_block(input, modulus.len())?;
    let bits = precision(modulus.len())?;
    let n = uint(modulus, bits)?;
    let e = uint(exponent, precision(exponent.len())?)?;
    // AWS-LC's bounds on e: odd, at least 3, at most 33 bits.
    let e_bits = e.bit_width_vartime();
    if exponent.last().is_none_or(|low| low & 1 == 0) || !(2..=33).contains(&e_bits) {
        return Err(Error::SignatureInvalid("the RSA public exponent is out of range"));
    }
    let s = BoxedUint::from_be_slice(signature, bits).map_err(|_| signature_invalid())?;
    if s.cmp_vartime(&n).is_ge() {
        return Err(signature_invalid());
    }
    let n = Odd::new(n).into_option().ok_or_else(|| failed("RSA public key"))?;
    let params = BoxedMontyParams::new_vartime(n);
    let recovered = BoxedMontyForm::new(s, &params).pow_bounded_exp(&e, e_bits).retrieve().to_be_bytes();
    let start = recovered.len().checked_sub(expected.len()).ok_or_else(|| failed("RSA verification"))?;
    match recovered.split_at_checked(start) {
        Some((high, low)) if high.iter().all(|b| *b == 0) && low == expected.as_slice() => Ok(()),
        _ => Err(signature_invalid()),
    }
}

#[cfg(test)]
#[path = "raw_tests.rs"]
mod tests;

//! The raw RSA operation in safe Rust with `crypto-bigint`, for what AWS-LC cannot do: keys below
//! 2048 bits, CKM_RSA_X_509, and the paddings AWS-LC lacks (`pkcs1`, `pss` and `oaep` lay them
//! out; this file only raises integers to powers).
//!
//! The private operation is `c^d mod n` with constant-time Montgomery arithmetic, blinded by a
//! random r coprime to n (c' = c·r^e, s = s'·r⁻¹), and checked with the public exponent before
//! the result leaves (a mismatch is a failure). It does not use the CRT on purpose:
//! Montgomery parameters of p and q would be copies of the primes that crypto-bigint keeps
//! behind an `Arc` it never wipes, in unlocked memory. Modulo n, the parameters are public, the
//! exponentiation's tables hold powers of the blinded message, and d lives in a `SecretBuf`
//! (the one working copy is zeroized on drop). This costs about four times a CRT signature; the
//! path serves only what AWS-LC cannot do.
//!
//! The public operation involves nothing secret and may run in variable time.

use std::fmt;

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, ConcatenatingMul as _, CtEq as _, NonZero, Odd};
use zeroize::Zeroizing;

use crate::crypto::der::io::{INTEGER, OCTET_STRING, Reader, SEQUENCE};
use crate::crypto::failed;
use crate::crypto::{Error, Result};
use crate::secure_mem::SecretBuf;

/// Random blinding factors drawn before giving up (one fails only if it shares a factor with n).
const BLINDING_ATTEMPTS: usize = 4;
/// Extra random bytes for the blinding factor, so that reducing it modulo n is unbiased.
const BLINDING_EXTRA: usize = 16;
/// The PKCS#1 RSAPrivateKey version of a two-prime key.
const TWO_PRIME: &[u8] = &[];

/// Bits of precision for a big-endian value of `len` bytes.
fn precision(len: usize) -> Result<u32> {
    len.checked_mul(8).and_then(|bits| u32::try_from(bits).ok()).ok_or_else(|| failed("RSA size"))
}

fn uint(bytes: &[u8], bits: u32) -> Result<BoxedUint> {
    BoxedUint::from_be_slice(bytes, bits).map_err(|_| failed("RSA key component decoding"))
}

fn strip(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// An RSA public key for the raw operation. The modulus is public: its Montgomery parameters
/// are made in constant time all the same, as the private operation shares them.
pub(super) struct RawPublic {
    modulus_len: usize,
    bits: usize,
    n: BoxedMontyParams,
    e: BoxedUint,
    e_bits: u32,
}

impl RawPublic {
    /// From a big-endian modulus and exponent; e must be odd, at least 3 and at most 33 bits
    /// (AWS-LC's bounds).
    pub(super) fn new(modulus: &[u8], exponent: &[u8]) -> Result<Self> {
        let (modulus, exponent) = (strip(modulus), strip(exponent));
        let e = uint(exponent, precision(exponent.len())?)?;
        let e_bits = e.bit_width_vartime();
        if exponent.last().is_none_or(|low| low & 1 == 0) || !(2..=33).contains(&e_bits) {
            return Err(Error::Encoding("the RSA public exponent is out of range".into()));
        }
        let n = uint(modulus, precision(modulus.len())?)?;
        let n = Odd::new(n).into_option().ok_or_else(|| Error::Encoding("the RSA modulus is even".into()))?;
        let bits = n.as_ref().bit_width_vartime() as usize;
        Ok(Self { modulus_len: modulus.len(), bits, n: BoxedMontyParams::new(n), e, e_bits })
    }

    /// k, the modulus length in bytes.
    pub(super) fn modulus_len(&self) -> usize {
        self.modulus_len
    }

    pub(super) fn bits(&self) -> usize {
        self.bits
    }

    /// The integer of `input` (at most k bytes, big-endian) if it is below n.
    fn residue(&self, input: &[u8]) -> Option<BoxedMontyForm> {
        if input.len() > self.modulus_len {
            return None;
        }
        let value = BoxedUint::from_be_slice(input, self.n.bits_precision()).ok()?;
        value.cmp_vartime(self.n.modulus().as_ref()).is_lt().then(|| BoxedMontyForm::new(value, &self.n))
    }

    /// The k big-endian bytes of a residue.
    fn bytes(&self, value: &BoxedMontyForm) -> Result<Zeroizing<Vec<u8>>> {
        let bytes = Zeroizing::new(value.retrieve().to_be_bytes());
        let start = bytes.len().checked_sub(self.modulus_len).ok_or_else(|| failed("RSA operation"))?;
        bytes.get(start..).map(|b| Zeroizing::new(b.to_vec())).ok_or_else(|| failed("RSA operation"))
    }

    /// `x^e mod n` as k bytes, for `input` of at most k bytes whose value is below n.
    pub(super) fn apply(&self, input: &[u8]) -> Result<Option<Vec<u8>>> {
        let Some(x) = self.residue(input) else { return Ok(None) };
        let y = x.pow_bounded_exp(&self.e, self.e_bits);
        Ok(Some(self.bytes(&y)?.to_vec()))
    }
}

/// The parts of a PKCS#1 RSAPrivateKey the raw operation uses. Debug is redacted.
pub(super) struct RawRsaKey {
    public: RawPublic,
    d: SecretBuf,
}

impl fmt::Debug for RawRsaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawRsaKey({} bits, [REDACTED])", self.public.bits)
    }
}

/// The RSAPrivateKey inside a PKCS#8 document.
fn rsa_private_key(pkcs8: &[u8]) -> Option<&[u8]> {
    let mut reader = Reader::new(Reader::single(pkcs8, SEQUENCE)?);
    reader.expect(INTEGER)?;
    reader.expect(SEQUENCE)?;
    reader.expect(OCTET_STRING)
}

/// The nine fields of a two-prime RSAPrivateKey: (n, e, d, p, q, dp, dq, qinv) after the version.
pub(super) fn components(pkcs8: &[u8]) -> Result<[&[u8]; 8]> {
    let malformed = || failed("RSA private key parsing");
    let key = rsa_private_key(pkcs8).ok_or_else(malformed)?;
    let mut reader = Reader::new(Reader::single(key, SEQUENCE).ok_or_else(malformed)?);
    if reader.unsigned().ok_or_else(malformed)? != TWO_PRIME {
        return Err(malformed());
    }
    let mut parts = [&[][..]; 8];
    for part in &mut parts {
        *part = reader.unsigned().ok_or_else(malformed)?;
    }
    if !reader.is_empty() {
        return Err(malformed());
    }
    Ok(parts)
}

/// The modulus and public exponent of a PKCS#8 RSA key.
pub(super) fn public_components(pkcs8: &[u8]) -> Result<(&[u8], &[u8])> {
    let [n, e, ..] = components(pkcs8)?;
    Ok((n, e))
}

/// Whether p·q = n and the CRT values belong to d, p and q (AWS-LC checks this for the keys it
/// takes; the raw path checks it for the others). Secret values are compared in constant time.
fn consistent(parts: &[&[u8]; 8]) -> Result<bool> {
    let [n, _, d, p, q, dp, dq, qinv] = *parts;
    let prime_bits = precision(p.len().max(q.len()))?;
    let secret = |bytes: &[u8], bits| uint(bytes, bits).map(Zeroizing::new);
    let (p, q) = (secret(p, prime_bits)?, secret(q, prime_bits)?);
    let product = p.concatenating_mul(&*q);
    if strip(&product.to_be_bytes()) != strip(n) {
        return Ok(false);
    }
    let d = secret(d, precision(d.len().max(1))?)?;
    let one = BoxedUint::one_with_precision(prime_bits);
    let mut ok = true;
    for (prime, exponent) in [(&p, dp), (&q, dq)] {
        let Some(minus_one) = NonZero::new(prime.wrapping_sub(&one)).into_option() else { return Ok(false) };
        let expected = Zeroizing::new(d.rem(&minus_one));
        ok &= expected.ct_eq(&*secret(exponent, prime_bits)?).to_bool();
    }
    let Some(p_nz) = NonZero::new((*p).clone()).into_option() else { return Ok(false) };
    let inverse_check = Zeroizing::new(q.concatenating_mul(&*secret(qinv, prime_bits)?).rem(&p_nz));
    Ok(ok && inverse_check.ct_eq(&one).to_bool())
}

impl RawRsaKey {
    /// Parses a PKCS#8 RSA key: (version, n, e, d, p, q, dp, dq, qinv); only n, e and d are kept.
    pub(super) fn from_pkcs8(pkcs8: &[u8]) -> Result<Self> {
        let [n, e, d, ..] = components(pkcs8)?;
        Ok(Self { public: RawPublic::new(n, e)?, d: SecretBuf::copy_from(d)? })
    }

    /// Like `from_pkcs8`, for a key no other library has checked: the components must agree,
    /// and one private operation on a random value must be undone by the public exponent.
    pub(super) fn from_pkcs8_checked(pkcs8: &[u8]) -> Result<Self> {
        let inconsistent =
            || Error::Encoding("RSA private key components do not form a consistent key".into());
        if !consistent(&components(pkcs8)?).map_err(|_| inconsistent())? {
            return Err(inconsistent());
        }
        let key = Self::from_pkcs8(pkcs8).map_err(|_| inconsistent())?;
        let mut probe = SecretBuf::random(key.public.modulus_len)?;
        if let Some(top) = probe.as_mut_slice().first_mut() {
            *top = 0;
        }
        key.private(probe.as_slice()).map_err(|_| inconsistent())?;
        Ok(key)
    }

    pub(super) fn public(&self) -> &RawPublic {
        &self.public
    }

    /// `c^d mod n` as k bytes in locked memory, for `input` of at most k bytes whose value is
    /// below n (otherwise `DataInvalid`, which callers name for their input).
    pub(super) fn private(&self, input: &[u8]) -> Result<SecretBuf> {
        let message = self
            .public
            .residue(input)
            .ok_or_else(|| Error::DataInvalid("the RSA input is not below the modulus".into()))?;
        let result = self.private_operation(&message)?;
        if !result.pow_bounded_exp(&self.public.e, self.public.e_bits).ct_eq(&message).to_bool() {
            return Err(failed("RSA private operation self-check"));
        }
        Ok(SecretBuf::copy_from(&self.public.bytes(&result)?)?)
    }

    /// A random r modulo n and its inverse, both in Montgomery form.
    fn blinding(&self) -> Result<(Zeroizing<BoxedMontyForm>, Zeroizing<BoxedMontyForm>)> {
        let n = &self.public.n;
        let len = self.public.modulus_len + BLINDING_EXTRA;
        for _ in 0..BLINDING_ATTEMPTS {
            let random = SecretBuf::random(len)?;
            let wide = Zeroizing::new(uint(random.as_slice(), precision(len)?)?);
            let r = Zeroizing::new(BoxedMontyForm::new(wide.rem(n.modulus().as_nz_ref()), n));
            if let Some(inverse) = r.invert().into_option() {
                return Ok((r, Zeroizing::new(inverse)));
            }
        }
        Err(failed("RSA blinding"))
    }

    /// `c^d mod n`, blinded; `c` and the result in Montgomery form modulo n.
    fn private_operation(&self, c: &BoxedMontyForm) -> Result<Zeroizing<BoxedMontyForm>> {
        let (r, r_inv) = self.blinding()?;
        let blinded =
            Zeroizing::new(c.mul(&Zeroizing::new(r.pow_bounded_exp(&self.public.e, self.public.e_bits))));
        let d = Zeroizing::new(uint(self.d.as_slice(), self.public.n.bits_precision())?);
        let blinded_result = Zeroizing::new(blinded.pow(&d));
        Ok(Zeroizing::new(blinded_result.mul(&r_inv)))
    }
}

#[cfg(test)]
#[path = "raw_tests.rs"]
mod tests;

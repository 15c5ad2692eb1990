//! RSA keys of the sizes AWS-LC does not generate (it makes 2048, 3072, 4096 and 8192 bits only):
//! the multiples of 8 from 1024 to 4096 bits, for the token (SoftHSM2 parity).
//!
//! Two primes of ⌈bits/2⌉ and ⌊bits/2⌋ bits with their top two bits set (so that n has exactly
//! `bits` bits) are found by an incremental search from a random odd start: trial division by
//! small primes, then `crypto-primes`' Baillie-PSW test (Miller-Rabin base 2 and a strong Lucas
//! test, the test OpenSSL and FIPS 186-5 accept for this use). e = 65537, d = e⁻¹ mod λ(n), and
//! the CRT values complete a PKCS#8 document in a `SecretBuf`, which `RsaPrivateKey::from_pkcs8`
//! then checks like any imported key. RustCrypto's `rsa` is not used: the daemon keeps it out of
//! its dependency graph (docs/decisions.md).
//!
//! Memory: the primes and the values derived from them are crypto-bigint integers in ordinary
//! heap memory while the key is made, each wiped on drop (`Zeroizing`), but temporaries inside
//! crypto-bigint's arithmetic and the primality tests are freed unwiped and nothing is locked
//! against swapping. The search runs in variable time. Both caveats are in docs/decisions.md;
//! the sizes AWS-LC makes do not take this path.

use crypto_bigint::{BoxedUint, ConcatenatingMul as _, Lcm as _, NonZero, Odd, Resize as _};
use crypto_primes::{Flavor, is_prime};
use zeroize::Zeroizing;

use super::RsaPrivateKey;
use crate::crypto::der::{RsaPrivateComponents, rsa_pkcs8_encode};
use crate::crypto::spec::RSA_TOKEN_BITS;
use crate::crypto::{Error, Result, failed};
use crate::secure_mem::SecretBuf;

/// Generated sizes step by a byte, so that a modulus fills its k bytes (SoftHSM2 and OpenSSL take
/// any size; PKCS#11 leaves it to the token).
const STEP_BITS: usize = 8;
const PUBLIC_EXPONENT: u64 = 65537;
/// Odd candidates tried from one random start before drawing another.
const SEARCH_WINDOW: usize = 8192;
/// Random starts tried before giving up (one window misses a prime with negligible probability).
const STARTS: usize = 16;
/// The odd primes below 256, for trial division before the expensive test.
const SMALL_PRIMES: [u32; 53] = [
    3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103,
    107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191, 193, 197, 199, 211, 223,
    227, 229, 233, 239, 241, 251,
];

type Secret = Zeroizing<BoxedUint>;

fn has_small_factor(candidate: &BoxedUint) -> bool {
    SMALL_PRIMES.iter().any(|p| {
        NonZero::new(crypto_bigint::Limb::from(*p))
            .into_option()
            .is_some_and(|p| candidate.rem_limb(p) == crypto_bigint::Limb::ZERO)
    })
}

/// A random odd integer of exactly `bits` bits with the top two set.
fn random_start(bits: u32) -> Result<Secret> {
    let len = bits.div_ceil(8) as usize;
    let random = SecretBuf::random(len)?;
    let wide = Zeroizing::new(
        BoxedUint::from_be_slice(random.as_slice(), bits).map_err(|_| failed("RSA key generation"))?,
    );
    let mut value = Zeroizing::new(wide.wrapping_shr_vartime(len as u32 * 8 - bits));
    let top_two = BoxedUint::from(3u64).resize(bits).wrapping_shl_vartime(bits - 2);
    *value = value.bitor(&top_two).bitor(&BoxedUint::one_with_precision(bits));
    Ok(value)
}

/// A prime of exactly `bits` bits, top two bits set, with gcd(p − 1, e) = 1.
fn random_prime(bits: u32) -> Result<Secret> {
    let two = BoxedUint::from(2u64).resize(bits);
    let e = NonZero::new(crypto_bigint::Limb::from(PUBLIC_EXPONENT as u32))
        .into_option()
        .ok_or_else(|| failed("RSA key generation"))?;
    for _ in 0..STARTS {
        let mut candidate = random_start(bits)?;
        for _ in 0..SEARCH_WINDOW {
            // e is prime, so gcd(p − 1, e) = 1 unless p ≡ 1 (mod e).
            let usable = candidate.rem_limb(e) != crypto_bigint::Limb::ONE;
            if usable && !has_small_factor(&candidate) && is_prime(Flavor::Any, &*candidate) {
                return Ok(candidate);
            }
            *candidate = candidate.wrapping_add(&two);
            if candidate.bit_width_vartime() != bits {
                break;
            }
        }
    }
    Err(failed("RSA key generation: no prime found"))
}

fn bytes(value: &BoxedUint) -> Zeroizing<Box<[u8]>> {
    Zeroizing::new(value.to_be_bytes_trimmed_vartime())
}

/// PKCS#8 of a new key of `bits` (a multiple of 8 from 1024 to 4096), checked by parsing it.
pub(super) fn other_size(bits: usize) -> Result<SecretBuf> {
    if !RSA_TOKEN_BITS.contains(&bits) || !bits.is_multiple_of(STEP_BITS) {
        return Err(Error::KeySize(format!(
            "RSA keys of {} to {} bits in steps of {STEP_BITS} are generated, not {bits}",
            RSA_TOKEN_BITS.start(),
            RSA_TOKEN_BITS.end()
        )));
    }
    let total = u32::try_from(bits).map_err(|_| failed("RSA size"))?;
    let (p, q) = loop {
        let (p, q) = (random_prime(total.div_ceil(2))?, random_prime(total / 2)?);
        // FIPS 186-5 A.1.3: |p − q| > 2^(bits/2 − 100), so that n cannot be factored from √n.
        let distance = if p.cmp_vartime(&*q).is_gt() { p.wrapping_sub(&*q) } else { q.wrapping_sub(&*p) };
        if distance.bit_width_vartime() > total / 2 - 100 {
            break (p, q);
        }
    };
    let der = encode(&p, &q)?;
    let parsed = RsaPrivateKey::from_pkcs8(der.as_slice())?;
    if parsed.modulus_bits() != bits {
        return Err(failed("RSA key generation: wrong modulus size"));
    }
    Ok(der)
}

/// The PKCS#8 document of the key with primes p > q or p < q (any order), e = 65537.
fn encode(p: &BoxedUint, q: &BoxedUint) -> Result<SecretBuf> {
    let precision = p.bits_precision().max(q.bits_precision());
    let (p, q): (Secret, Secret) =
        (Zeroizing::new(p.clone().resize(precision)), Zeroizing::new(q.clone().resize(precision)));
    let one = BoxedUint::one_with_precision(precision);
    let (p1, q1): (Secret, Secret) =
        (Zeroizing::new(p.wrapping_sub(&one)), Zeroizing::new(q.wrapping_sub(&one)));
    let lambda: Secret = Zeroizing::new(p1.lcm(&*q1));
    let lambda_nz =
        NonZero::new((*lambda).clone()).into_option().ok_or_else(|| failed("RSA key generation"))?;
    let e = BoxedUint::from(PUBLIC_EXPONENT).resize(lambda.bits_precision());
    let d: Secret =
        Zeroizing::new(e.invert_mod(&lambda_nz).into_option().ok_or_else(|| failed("RSA key generation"))?);
    let nz =
        |v: &Secret| NonZero::new((**v).clone()).into_option().ok_or_else(|| failed("RSA key generation"));
    let (dp, dq): (Secret, Secret) = (Zeroizing::new(d.rem(&nz(&p1)?)), Zeroizing::new(d.rem(&nz(&q1)?)));
    let p_odd = Odd::new((*p).clone()).into_option().ok_or_else(|| failed("RSA key generation"))?;
    let qinv: Secret =
        Zeroizing::new(q.invert_odd_mod(&p_odd).into_option().ok_or_else(|| failed("RSA key generation"))?);
    let n = p.concatenating_mul(&*q);
    let (n, e) = (bytes(&n), bytes(&e));
    let (d, p_bytes, q_bytes) = (bytes(&d), bytes(&p), bytes(&q));
    let (dp, dq, qinv) = (bytes(&dp), bytes(&dq), bytes(&qinv));
    rsa_pkcs8_encode(&RsaPrivateComponents {
        modulus: &n,
        public_exponent: &e,
        private_exponent: &d,
        prime_1: &p_bytes,
        prime_2: &q_bytes,
        exponent_1: &dp,
        exponent_2: &dq,
        coefficient: &qinv,
    })
}

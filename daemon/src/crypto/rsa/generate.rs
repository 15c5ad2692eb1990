//! RSA keys of the sizes AWS-LC does not generate (it makes 2048, 3072, 4096 and 8192 bits only):
//! the multiples of 8 from 1024 to 4096 bits, for the token (SoftHSM2 parity).
//!
//! RustCrypto's `rsa` makes them (two primes with their top two bits set from `crypto-primes`,
//! e = 65537, d = e⁻¹ mod λ(n)), and the PKCS#8 document goes straight into a `SecretBuf`. Its
//! numbers live in ordinary heap memory while the key is made: `rsa` zeroizes the key's
//! components and its CRT values when it drops them, but candidate primes and the temporaries
//! of the prime search are freed unwiped, and nothing is locked against swapping. The caveat is
//! recorded in docs/decisions.md; the sizes AWS-LC makes do not take this path.

use getrandom::SysRng;
use rsa::pkcs8::EncodePrivateKey as _;

use super::RsaPrivateKey;
use crate::crypto::spec::RSA_TOKEN_BITS;
use crate::crypto::{Error, Result, failed};
use crate::secure_mem::SecretBuf;

/// Generated sizes step by a byte, so that a modulus fills its k bytes (SoftHSM2 and OpenSSL take
/// any size; PKCS#11 leaves it to the token).
const STEP_BITS: usize = 8;

/// PKCS#8 of a new key of `bits` (a multiple of 8 from 1024 to 4096), checked by parsing it.
pub(super) fn other_size(bits: usize) -> Result<SecretBuf> {
    if !RSA_TOKEN_BITS.contains(&bits) || !bits.is_multiple_of(STEP_BITS) {
        return Err(Error::KeySize(format!(
            "RSA keys of {} to {} bits in steps of {STEP_BITS} are generated, not {bits}",
            RSA_TOKEN_BITS.start(),
            RSA_TOKEN_BITS.end()
        )));
    }
    let key = rsa::PrivateKey::new(&mut SysRng, bits).map_err(|_| failed("RSA key generation"))?;
    let document = key.to_pkcs8_der().map_err(|_| failed("PKCS#8 encoding"))?;
    drop(key);
    let der = SecretBuf::copy_from(document.as_bytes())?;
    drop(document);
    let parsed = RsaPrivateKey::from_pkcs8(der.as_slice())?;
    if parsed.modulus_bits() != bits {
        return Err(failed("RSA key generation"));
    }
    Ok(der)
}

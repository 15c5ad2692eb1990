//! Imported key material. The first byte picks the path:
//!
//! - 0, 1, 2: ImportKeyMaterial's unwrap (RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256,
//!   RSA_AES_KEY_WRAP_SHA_256) under a fixed wrapping key, then the PKCS#8 check of each key
//!   pair spec over what unwrapped. Anything but the material sealed for that key is refused.
//! - 3, 4: C_UnwrapKey's AES key wrap (RFC 3394, RFC 5649 with padding) under a fixed key
//!   encryption key. What unwraps wraps back to the same bytes.

use std::sync::OnceLock;

use arca_daemon::crypto::import::{WrappingAlgorithm, WrappingKey, WrappingKeySpec, key_pair_material};
use arca_daemon::crypto::aes::wrap::{aes_key_unwrap, aes_key_wrap};
use arca_daemon::crypto::PairSpec;
use arca_daemon::secure_mem::SecretBuf;

/// A fixed RSA-2048 wrapping key, so that seeds wrapped under its public half reach the steps
/// after RSA-OAEP (a test key made for fuzzing, guarding nothing).
const WRAPPING_KEY_PKCS8: &[u8] = include_bytes!("../keys/wrapping-rsa2048.p8.der");
/// The key encryption key of the seeds of the AES key wrap paths.
pub const KEK: [u8; 32] = [0x5c; 32];

pub fn check(data: &[u8]) {
    crate::setup();
    let Some((selector, wrapped)) = crate::selector(data) else { return };
    match selector % 5 {
        0 => import(WrappingAlgorithm::RsaesOaepSha1, wrapped),
        1 => import(WrappingAlgorithm::RsaesOaepSha256, wrapped),
        2 => import(WrappingAlgorithm::RsaAesKeyWrapSha256, wrapped),
        3 => key_unwrap(wrapped, false),
        _ => key_unwrap(wrapped, true),
    }
}

fn wrapping_key() -> Option<&'static WrappingKey> {
    static KEY: OnceLock<Option<WrappingKey>> = OnceLock::new();
    KEY.get_or_init(|| {
        let der = SecretBuf::copy_from(WRAPPING_KEY_PKCS8).ok()?;
        WrappingKey::from_pkcs8(WrappingKeySpec::Rsa2048, &der).ok()
    })
    .as_ref()
}

fn import(algorithm: WrappingAlgorithm, wrapped: &[u8]) {
    let key = wrapping_key().expect("the fixed wrapping key loads");
    let Ok(material) = key.unwrap(algorithm, wrapped) else { return };
    assert!(!material.is_empty(), "empty material unwrapped");
    for spec in [
        PairSpec::Rsa2048,
        PairSpec::Rsa3072,
        PairSpec::Rsa4096,
        PairSpec::EccNistP256,
        PairSpec::EccNistP384,
        PairSpec::EccNistP521,
        PairSpec::EccSecgP256k1,
    ] {
        let _ = key_pair_material(spec, &material);
    }
}

fn key_unwrap(wrapped: &[u8], pad: bool) {
    let Ok(material) = aes_key_unwrap(&KEK, wrapped, pad) else { return };
    let again = aes_key_wrap(&KEK, material.as_slice(), pad).expect("unwrapped material wraps again");
    assert_eq!(again, wrapped, "unwrap then wrap changed the bytes");
}

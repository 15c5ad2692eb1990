//! CKM_AES_KEY_WRAP (RFC 3394, default IV) and CKM_AES_KEY_WRAP_PAD (RFC 5649) over AWS-LC.
//!
//! AWS-LC's key-wrap interface takes AES-128 and AES-256 key-encryption keys only; a 24-byte
//! (AES-192) KEK is refused as a key-size error.

use aws_lc_rs::key_wrap::{AES_128, AES_256, AesBlockCipher, AesKek, KeyWrap, KeyWrapPadded};

use crate::crypto::failed;
use crate::crypto::{Error, Result};
use crate::secure_mem::SecretBuf;

/// The semiblock of both RFCs.
const SEMIBLOCK: usize = 8;
/// The longest key material wrapped (RFC 5649 allows 2^32 bytes; keys are far shorter).
pub const MAX_KEY_MATERIAL: usize = 1 << 16;

fn kek(key: &[u8]) -> Result<AesKek> {
    let cipher: &'static AesBlockCipher = match key.len() {
        16 => &AES_128,
        32 => &AES_256,
        24 => {
            return Err(Error::KeySize(
                "AES-192 key-encryption keys are not supported for AES key wrap (AES-128 and AES-256 are)"
                    .into(),
            ));
        }
        n => {
            return Err(Error::KeySize(format!("an AES key-encryption key is 16 or 32 bytes, not {n}")));
        }
    };
    AesKek::new(cipher, key).map_err(|_| failed("AES key-wrap key setup"))
}

/// The length of the wrapped form of `key_len` bytes.
pub fn wrapped_len(key_len: usize, pad: bool) -> usize {
    let body = if pad { key_len.div_ceil(SEMIBLOCK).max(1).saturating_mul(SEMIBLOCK) } else { key_len };
    body.saturating_add(SEMIBLOCK)
}

/// Wraps key material. RFC 3394 needs a multiple of 8 bytes, at least 16; RFC 5649 at least 1
/// byte (else a key-size error).
pub fn aes_key_wrap(kek_bytes: &[u8], key_material: &[u8], pad: bool) -> Result<Vec<u8>> {
    let kek = kek(kek_bytes)?;
    let len = key_material.len();
    if len > MAX_KEY_MATERIAL {
        return Err(Error::KeySize(format!("at most {MAX_KEY_MATERIAL} bytes are wrapped")));
    }
    if pad && len == 0 {
        return Err(Error::KeySize("AES key wrap with padding needs at least 1 byte".into()));
    }
    if !pad && (len < 2 * SEMIBLOCK || !len.is_multiple_of(SEMIBLOCK)) {
        return Err(Error::KeySize(format!(
            "AES key wrap (RFC 3394) takes a multiple of 8 bytes, at least 16, not {len}"
        )));
    }
    let mut output = vec![0; wrapped_len(len, pad)];
    let written = if pad {
        kek.wrap_with_padding(key_material, &mut output).map(|w| w.len())
    } else {
        kek.wrap(key_material, &mut output).map(|w| w.len())
    }
    .map_err(|_| failed("AES key wrap"))?;
    output.truncate(written);
    Ok(output)
}

/// Unwraps into locked memory: a length no wrap can have is `WrappedKeyLength`, a failed
/// integrity check `WrappedKeyInvalid`.
pub fn aes_key_unwrap(kek_bytes: &[u8], wrapped: &[u8], pad: bool) -> Result<SecretBuf> {
    let kek = kek(kek_bytes)?;
    let len = wrapped.len();
    let shortest = if pad { 2 * SEMIBLOCK } else { 3 * SEMIBLOCK };
    if len < shortest || !len.is_multiple_of(SEMIBLOCK) || len > wrapped_len(MAX_KEY_MATERIAL, pad) {
        return Err(Error::WrappedKeyLength(format!(
            "a wrapped key is a multiple of 8 bytes, at least {shortest}, not {len}"
        )));
    }
    let mut output = SecretBuf::zeroed(len - SEMIBLOCK)?;
    let written = if pad {
        kek.unwrap_with_padding(wrapped, output.as_mut_slice()).map(|w| w.len())
    } else {
        kek.unwrap(wrapped, output.as_mut_slice()).map(|w| w.len())
    }
    .map_err(|_| Error::WrappedKeyInvalid("AES key unwrap failed its integrity check"))?;
    if written == output.len() {
        return Ok(output);
    }
    Ok(SecretBuf::copy_from(output.as_slice().get(..written).unwrap_or_default())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_util::{Openssl, err, hex};

    /// RFC 3394 section 4: (KEK, key data, ciphertext).
    const RFC_3394: [(&str, &str, &str); 4] = [
        (
            "000102030405060708090A0B0C0D0E0F",
            "00112233445566778899AABBCCDDEEFF",
            "1FA68B0A8112B447 AEF34BD8FB5A7B82 9D3E862371D2CFE5",
        ),
        (
            "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
            "00112233445566778899AABBCCDDEEFF",
            "64E8C3F9CE0F5BA2 63E9777905818A2A 93C8191E7D6E8AE7",
        ),
        (
            "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
            "00112233445566778899AABBCCDDEEFF0001020304050607",
            "A8F9BC1612C68B3F F6E6F4FBE30E71E4 769C8B80A32CB895 8CD5D17D6B254DA1",
        ),
        (
            "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
            "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
            "28C9F404C4B810F4 CBCCB35CFB87F826 3F5786E2D80ED326 CBC7F0E71A99F43B FB988B9B7A02DD21",
        ),
    ];

    #[test]
    fn rfc_3394_vectors() {
        for (kek, key, wrapped) in RFC_3394 {
            let (kek, key, wrapped) = (hex(kek), hex(key), hex(wrapped));
            assert_eq!(aes_key_wrap(&kek, &key, false).unwrap(), wrapped);
            assert_eq!(wrapped_len(key.len(), false), wrapped.len());
            assert_eq!(aes_key_unwrap(&kek, &wrapped, false).unwrap().as_slice(), key.as_slice());
        }
    }

    /// RFC 5649 section 6. Its vectors use an AES-192 KEK, which is not offered here, so OpenSSL
    /// is first checked to reproduce them (`-id-aes192-wrap-pad`) and then serves as the oracle
    /// for the same inputs under an AES-256 KEK.
    #[test]
    fn rfc_5649_examples_match_openssl() {
        let kek_hex = "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8";
        let kek = hex(&format!("{kek_hex}0001020304050607"));
        let ssl = Openssl::new();
        let vectors = [
            (
                "c37b7e6492584340bed12207808941155068f738",
                "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a",
            ),
            ("466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"),
        ];
        for (key, rfc) in vectors {
            let key = hex(key);
            ssl.write("key", &key);
            ssl.run(&[
                "enc",
                "-id-aes192-wrap-pad",
                "-K",
                kek_hex,
                "-iv",
                "A65959A6",
                "-in",
                "key",
                "-out",
                "w",
            ]);
            assert_eq!(ssl.read("w"), hex(rfc), "OpenSSL does not reproduce RFC 5649");
            let kek_arg = format!("{kek_hex}0001020304050607");
            ssl.run(&[
                "enc",
                "-id-aes256-wrap-pad",
                "-K",
                &kek_arg,
                "-iv",
                "A65959A6",
                "-in",
                "key",
                "-out",
                "w",
            ]);
            let expected = ssl.read("w");
            assert_eq!(aes_key_wrap(&kek, &key, true).unwrap(), expected);
            assert_eq!(wrapped_len(key.len(), true), expected.len());
            assert_eq!(aes_key_unwrap(&kek, &expected, true).unwrap().as_slice(), key.as_slice());
        }
    }

    /// The RFC 5649 vectors themselves need an AES-192 KEK, which is refused by name.
    #[test]
    fn aes_192_keks_are_refused_clearly() {
        let kek = hex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8");
        let wrapped = hex("138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a");
        let refused = aes_key_unwrap(&kek, &wrapped, true).unwrap_err();
        assert!(refused.to_string().contains("AES-192"), "{refused}");
        assert!(matches!(err(aes_key_wrap(&kek, &[0; 16], false)), Error::KeySize(_)));
        for len in [0, 8, 15, 17, 33] {
            assert!(matches!(err(aes_key_wrap(&vec![0; len], &[0; 16], false)), Error::KeySize(_)));
            assert!(matches!(err(aes_key_unwrap(&vec![0; len], &[0; 24], true)), Error::KeySize(_)));
        }
    }

    #[test]
    fn lengths_are_checked() {
        let kek = [7u8; 16];
        for len in [0, 8, 15, 17, 23] {
            assert!(matches!(err(aes_key_wrap(&kek, &vec![1; len], false)), Error::KeySize(_)), "{len}");
        }
        assert!(matches!(err(aes_key_wrap(&kek, &[], true)), Error::KeySize(_)));
        for len in [1usize, 7, 8, 9, 31, 32, 33] {
            let wrapped = aes_key_wrap(&kek, &vec![2; len], true).unwrap();
            assert_eq!(wrapped.len(), wrapped_len(len, true), "{len}");
            assert_eq!(aes_key_unwrap(&kek, &wrapped, true).unwrap().as_slice(), vec![2; len].as_slice());
        }
        for len in [0, 8, 16, 25, 31] {
            assert!(
                matches!(err(aes_key_unwrap(&kek, &vec![0; len], false)), Error::WrappedKeyLength(_)),
                "{len}"
            );
        }
        for len in [0, 8, 15, 17] {
            assert!(
                matches!(err(aes_key_unwrap(&kek, &vec![0; len], true)), Error::WrappedKeyLength(_)),
                "{len}"
            );
        }
    }

    #[test]
    fn integrity_failures_are_wrapped_key_invalid() {
        let kek = [9u8; 32];
        for pad in [false, true] {
            let wrapped = aes_key_wrap(&kek, &[0x33; 32], pad).unwrap();
            let mut tampered = wrapped.clone();
            tampered[5] ^= 0x80;
            assert!(matches!(err(aes_key_unwrap(&kek, &tampered, pad)), Error::WrappedKeyInvalid(_)));
            assert!(matches!(err(aes_key_unwrap(&[8u8; 32], &wrapped, pad)), Error::WrappedKeyInvalid(_)));
            // A KW blob is not a KWP blob and vice versa.
            assert!(matches!(err(aes_key_unwrap(&kek, &wrapped, !pad)), Error::WrappedKeyInvalid(_)));
        }
    }
}

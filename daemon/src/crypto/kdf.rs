//! The ANSI X9.63 key derivation function (SEC 1 §3.6.1): PKCS#11's `CKD_SHA*_KDF` for
//! CKM_ECDH1_DERIVE. Block i of the output is Hash(Z || i as 32-bit big-endian || shared info),
//! i from 1, the blocks concatenated and cut to the length asked for.

use super::digest::{HashAlg, Hasher};
use crate::crypto::{Error, Result, failed};
use crate::secure_mem::SecretBuf;

/// The longest output one derivation gives (a key of 8192 bits; PKCS#11 keys are shorter).
pub const MAX_X963_OUTPUT: usize = 1024;

/// `len` bytes derived from the shared secret `z` and `shared_info`.
pub fn x963_kdf(hash: HashAlg, z: &[u8], shared_info: &[u8], len: usize) -> Result<SecretBuf> {
    if len == 0 || len > MAX_X963_OUTPUT {
        return Err(Error::ParameterInvalid(format!(
            "the X9.63 KDF derives 1 to {MAX_X963_OUTPUT} bytes, not {len}"
        )));
    }
    let mut output = SecretBuf::zeroed(len)?;
    for (index, chunk) in output.as_mut_slice().chunks_mut(hash.output_len()).enumerate() {
        let counter = u32::try_from(index + 1).map_err(|_| failed("X9.63 KDF counter"))?;
        let mut hasher = Hasher::new(hash);
        hasher.update(z);
        hasher.update(&counter.to_be_bytes());
        hasher.update(shared_info);
        let block = hasher.finish();
        chunk.copy_from_slice(block.get(..chunk.len()).ok_or_else(|| failed("X9.63 KDF block"))?);
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_util::Openssl;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// OpenSSL's X963KDF gives the same bytes, for every hash and across block boundaries.
    #[test]
    fn agrees_with_openssl_x963kdf() {
        let ssl = Openssl::new();
        let (z, info) = ([0x5au8; 32], b"arca shared info");
        for (hash, name) in [
            (HashAlg::Sha1, "SHA1"),
            (HashAlg::Sha224, "SHA224"),
            (HashAlg::Sha256, "SHA256"),
            (HashAlg::Sha384, "SHA384"),
            (HashAlg::Sha512, "SHA512"),
        ] {
            for len in [16, 32, 65] {
                let ours = x963_kdf(hash, &z, info, len).unwrap();
                let (keylen, digest) = (format!("-keylen={len}"), format!("digest:{name}"));
                let (key, info) = (format!("hexkey:{}", hex(&z)), format!("hexinfo:{}", hex(info)));
                let out = ssl
                    .run(&["kdf", &keylen, "-kdfopt", &digest, "-kdfopt", &key, "-kdfopt", &info, "X963KDF"]);
                assert_eq!(out.trim().replace(':', "").to_lowercase(), hex(ours.as_slice()), "{name} {len}");
            }
        }
    }

    #[test]
    fn lengths_are_bounded() {
        assert!(x963_kdf(HashAlg::Sha256, b"z", b"", MAX_X963_OUTPUT).is_ok());
        for len in [0, MAX_X963_OUTPUT + 1] {
            assert!(matches!(x963_kdf(HashAlg::Sha256, b"z", b"", len), Err(Error::ParameterInvalid(_))));
        }
    }
}

//! Feeding data to an operation and finishing it: the output lengths the two-call convention
//! needs, and the work itself.

use cryptoki_sys::*;

use super::p11;
use super::{Finisher, Operation, State};
use crate::crypto::PrivateKey;
use crate::crypto::digest::constant_time_eq;
use crate::crypto::rsa::rsa_encrypt;
use crate::error::{Error, Result};

fn single_part_only() -> Error {
    Error::p11(CKR_FUNCTION_NOT_SUPPORTED, "this mechanism is single-part only (use C_Encrypt, C_Sign …)")
}

impl Operation {
    /// Whether the operation checks a signature (and so produces no output).
    pub fn verifies(&self) -> bool {
        matches!(
            &self.state,
            State::Mac { verify: true, .. }
                | State::Hashed { finisher: Finisher::RsaVerify { .. } | Finisher::EcVerify { .. }, .. }
                | State::Raw {
                    finisher: Finisher::RsaVerify { .. }
                        | Finisher::EcVerify { .. }
                        | Finisher::EdVerify { .. }
                }
        )
    }

    pub fn was_updated(&self) -> bool {
        self.updated
    }

    /// Upper bound of what `update` returns for `input_len` bytes.
    pub fn update_len(&self, input_len: usize) -> usize {
        match &self.state {
            State::Aes(cipher) => cipher.update_len(input_len),
            _ => 0,
        }
    }

    pub fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        self.updated = true;
        match &mut self.state {
            State::Aes(cipher) => cipher.update(data).map_err(p11),
            State::Hashed { hasher, .. } | State::Digest(hasher) => {
                hasher.update(data);
                Ok(Vec::new())
            }
            State::Mac { context, .. } => {
                context.update(data).map_err(p11)?;
                Ok(Vec::new())
            }
            State::RsaEncrypt { .. } | State::RsaDecrypt { .. } | State::Raw { .. } => {
                Err(single_part_only())
            }
        }
    }

    /// Upper bound of what `finish` returns.
    pub fn final_len(&self) -> usize {
        match &self.state {
            State::Aes(cipher) => cipher.final_len(),
            _ if self.verifies() => 0,
            _ => self.fixed_len,
        }
    }

    /// What `one_shot` outputs at most: (bytes, plus the input's length).
    pub fn length_rule(&self) -> (usize, bool) {
        match &self.state {
            State::Aes(cipher) => (cipher.one_shot_len(0), true),
            _ => (self.one_shot_len(0), false),
        }
    }

    /// Upper bound of what `one_shot` returns for `input_len` bytes.
    pub fn one_shot_len(&self, input_len: usize) -> usize {
        match &self.state {
            State::Aes(cipher) => cipher.one_shot_len(input_len),
            _ if self.verifies() => 0,
            _ => self.fixed_len,
        }
    }

    /// C_*Final: the output, or for a verification the check of `signature`.
    pub fn finish(self, signature: Option<&[u8]>) -> Result<Vec<u8>> {
        match self.state {
            State::Aes(cipher) => cipher.finish().map_err(p11),
            State::Hashed { hasher, finisher } => finisher.run(&hasher.finish(), signature),
            State::Digest(hasher) => Ok(hasher.finish()),
            State::Mac { context, len, verify } => {
                let mut mac = context.finish().map_err(p11)?;
                mac.truncate(len);
                if !verify {
                    return Ok(mac);
                }
                check_mac(&mac, signature.unwrap_or_default())
            }
            State::RsaEncrypt { .. } | State::RsaDecrypt { .. } | State::Raw { .. } => {
                Err(single_part_only())
            }
        }
    }

    /// C_Encrypt, C_Decrypt, C_Sign, C_Verify, C_Digest.
    pub fn one_shot(mut self, data: &[u8], signature: Option<&[u8]>) -> Result<Vec<u8>> {
        if self.updated {
            return Err(Error::p11(
                CKR_OPERATION_ACTIVE,
                "a multi-part operation is in progress: finish it with C_*Final",
            ));
        }
        match self.state {
            State::Aes(cipher) => cipher.one_shot(data).map_err(p11),
            State::RsaEncrypt { spki, scheme } => rsa_encrypt(&spki, &scheme, data).map_err(p11),
            State::RsaDecrypt { key, scheme } => match super::private_key(&key)? {
                PrivateKey::Rsa(rsa) => {
                    // Handed out on purpose: the application asked for its plaintext.
                    rsa.decrypt(&scheme, data).map(|plain| plain.as_slice().to_vec()).map_err(p11)
                }
                _ => Err(Error::p11(CKR_KEY_TYPE_INCONSISTENT, "not an RSA key")),
            },
            State::Raw { finisher } => finisher.run(data, signature),
            _ => {
                self.update(data)?;
                self.updated = false;
                self.finish(signature)
            }
        }
    }
}

fn check_mac(mac: &[u8], signature: &[u8]) -> Result<Vec<u8>> {
    if signature.len() != mac.len() {
        return Err(Error::p11(
            CKR_SIGNATURE_LEN_RANGE,
            format!("the MAC is {} bytes, not {}", mac.len(), signature.len()),
        ));
    }
    if !constant_time_eq(mac, signature) {
        return Err(Error::p11(CKR_SIGNATURE_INVALID, "the MAC does not match"));
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use crate::crypto::aes::{AesCipher, AesMode};

    /// The module answers length queries from `length_rule`: it must bound every real output.
    #[test]
    fn the_single_part_length_rule_bounds_every_aes_output() {
        let modes = [
            AesMode::Ecb,
            AesMode::Cbc { iv: [1; 16] },
            AesMode::CbcPad { iv: [2; 16] },
            AesMode::Ctr { counter_block: [3; 16], counter_bits: 64 },
            AesMode::Gcm { iv: vec![4; 12], aad: Vec::new(), tag_len: 16 },
        ];
        for mode in modes {
            for encrypt in [true, false] {
                let cipher = AesCipher::new(&[9; 32], mode.clone(), encrypt).unwrap();
                let base = cipher.one_shot_len(0);
                for n in 0..80 {
                    assert!(cipher.one_shot_len(n) <= n + base, "{mode:?} encrypt={encrypt} n={n}");
                }
            }
        }
    }
}

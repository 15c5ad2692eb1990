//! Incremental MACs of the token: HMAC over any secret (see `hmac`) and AES-CMAC (NIST SP 800-38B,
//! PKCS#11 CKM_AES_CMAC) over an AES key, behind one type so that an operation holds either.

use std::fmt;

use aws_lc_rs::cmac;

use super::digest::HashAlg;
use super::error::{Error, Result, failed};
use super::hmac::HmacContext;

/// The length of an AES-CMAC tag: one AES block.
pub const CMAC_LEN: usize = 16;

/// An incremental HMAC or AES-CMAC. Debug is redacted (the contexts hold key schedules).
#[derive(Clone)]
pub enum MacContext {
    /// Boxed: AWS-LC's HMAC context is over a kilobyte.
    Hmac(Box<HmacContext>),
    Cmac(CmacContext),
}

impl MacContext {
    pub fn hmac(hash: HashAlg, key: &[u8]) -> Result<Self> {
        HmacContext::new(hash, key).map(|context| Self::Hmac(Box::new(context)))
    }

    pub fn aes_cmac(key: &[u8]) -> Result<Self> {
        CmacContext::new(key).map(Self::Cmac)
    }

    /// The length of the untruncated MAC.
    pub fn output_len(&self) -> usize {
        match self {
            Self::Hmac(context) => context.alg().output_len(),
            Self::Cmac(_) => CMAC_LEN,
        }
    }

    pub fn update(&mut self, data: &[u8]) -> Result<()> {
        match self {
            Self::Hmac(context) => {
                context.update(data);
                Ok(())
            }
            Self::Cmac(context) => context.update(data),
        }
    }

    /// The untruncated MAC.
    pub fn finish(self) -> Result<Vec<u8>> {
        match self {
            Self::Hmac(context) => Ok(context.finish()),
            Self::Cmac(context) => context.finish(),
        }
    }
}

impl fmt::Debug for MacContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hmac(context) => context.fmt(f),
            Self::Cmac(context) => context.fmt(f),
        }
    }
}

/// Incremental AES-CMAC with a 128-, 192- or 256-bit key, in AWS-LC.
#[derive(Clone)]
pub struct CmacContext {
    context: cmac::Context,
}

impl CmacContext {
    pub fn new(key: &[u8]) -> Result<Self> {
        let algorithm = match key.len() {
            16 => cmac::AES_128,
            24 => cmac::AES_192,
            32 => cmac::AES_256,
            other => {
                return Err(Error::KeySize(format!("an AES-CMAC key is 16, 24 or 32 bytes, not {other}")));
            }
        };
        let key = cmac::Key::new(algorithm, key).map_err(|_| failed("AES-CMAC key schedule"))?;
        Ok(Self { context: cmac::Context::with_key(&key) })
    }

    pub fn update(&mut self, data: &[u8]) -> Result<()> {
        self.context.update(data).map_err(|_| failed("AES-CMAC"))
    }

    pub fn finish(self) -> Result<Vec<u8>> {
        self.context.sign().map(|tag| tag.as_ref().to_vec()).map_err(|_| failed("AES-CMAC"))
    }
}

impl fmt::Debug for CmacContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CmacContext([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// NIST SP 800-38B, appendix D.1 (AES-128), examples 1 to 4, fed in uneven pieces.
    #[test]
    fn aes_cmac_matches_the_sp800_38b_examples_in_pieces() {
        let key = hex("2b7e151628aed2a6abf7158809cf4f3c");
        let message = hex(concat!(
            "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51",
            "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
        ));
        let cases = [
            (0, "bb1d6929e95937287fa37d129b756746"),
            (16, "070a16b46b4d4144f79bdd9dd04a287c"),
            (40, "dfa66747de9ae63030ca32611497c827"),
            (64, "51f0bebf7e3b9d92fc49741779363cfe"),
        ];
        for (len, expected) in cases {
            let mut context = MacContext::aes_cmac(&key).unwrap();
            for piece in message[..len].chunks(7) {
                context.update(piece).unwrap();
            }
            assert_eq!(context.finish().unwrap(), hex(expected), "{len} bytes");
        }
    }

    #[test]
    fn aes_cmac_takes_aes_key_sizes_only() {
        for len in [0, 8, 15, 17, 31, 33] {
            assert!(matches!(MacContext::aes_cmac(&vec![1; len]), Err(Error::KeySize(_))), "{len}");
        }
        assert_eq!(MacContext::aes_cmac(&[1; 24]).unwrap().output_len(), CMAC_LEN);
    }
}

//! The key-pair specs the crypto layer knows: RSA of the three KMS sizes and of the token's
//! other sizes, ECDSA (and ECDH where AWS-LC has it) on four Weierstrass curves, Ed25519 and
//! X25519. The key model (`keys::KeySpec`) maps its asymmetric specs onto these; the DER parsers
//! name them.

use std::ops::RangeInclusive;

/// The RSA modulus sizes a token key may have (SoftHSM2 parity; below 2048 bits is legacy). The
/// KMS face makes and takes RSA_2048, RSA_3072 and RSA_4096 only.
pub const RSA_TOKEN_BITS: RangeInclusive<usize> = 1024..=4096;

/// The key pairs Arca makes and parses: RSA of three sizes, ECDSA on P-256, P-384, P-521 and
/// secp256k1 (ECDH on the three NIST curves), Ed25519 signatures, X25519 key agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairSpec {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    /// An RSA token key of another size in `RSA_TOKEN_BITS`: its modulus tells the size. Stored
    /// by the name RSA_OTHER, which no earlier release wrote, so stored keys read as before.
    RsaOther,
    EccNistP256,
    EccNistP384,
    EccNistP521,
    EccSecgP256k1,
    Ed25519,
    X25519,
}

impl PairSpec {
    pub fn name(self) -> &'static str {
        match self {
            Self::Rsa2048 => "RSA_2048",
            Self::Rsa3072 => "RSA_3072",
            Self::Rsa4096 => "RSA_4096",
            Self::RsaOther => "RSA_OTHER",
            Self::EccNistP256 => "ECC_NIST_P256",
            Self::EccNistP384 => "ECC_NIST_P384",
            Self::EccNistP521 => "ECC_NIST_P521",
            Self::EccSecgP256k1 => "ECC_SECG_P256K1",
            Self::Ed25519 => "ECC_NIST_EDWARDS25519",
            Self::X25519 => "ECC_X25519",
        }
    }

    /// The modulus size of an RSA spec of fixed size.
    pub fn rsa_bits(self) -> Option<usize> {
        match self {
            Self::Rsa2048 => Some(2048),
            Self::Rsa3072 => Some(3072),
            Self::Rsa4096 => Some(4096),
            Self::RsaOther
            | Self::EccNistP256
            | Self::EccNistP384
            | Self::EccNistP521
            | Self::EccSecgP256k1
            | Self::Ed25519
            | Self::X25519 => None,
        }
    }

    /// The spec of an RSA key of `bits`, if the token takes that size.
    pub fn rsa(bits: usize) -> Option<Self> {
        match bits {
            2048 => Some(Self::Rsa2048),
            3072 => Some(Self::Rsa3072),
            4096 => Some(Self::Rsa4096),
            other if RSA_TOKEN_BITS.contains(&other) => Some(Self::RsaOther),
            _ => None,
        }
    }

    pub fn is_rsa(self) -> bool {
        self.rsa_bits().is_some() || self == Self::RsaOther
    }

    pub fn is_ecc(self) -> bool {
        !self.is_rsa()
    }

    /// Ed25519 or X25519: keys of 32 bytes on Curve25519, in its Edwards or Montgomery form.
    pub fn is_curve25519(self) -> bool {
        matches!(self, Self::Ed25519 | Self::X25519)
    }

    /// The byte length of a coordinate (and of the scalar) of a Weierstrass EC spec.
    pub fn coordinate_len(self) -> Option<usize> {
        match self {
            Self::EccNistP256 | Self::EccSecgP256k1 => Some(32),
            Self::EccNistP384 => Some(48),
            Self::EccNistP521 => Some(66),
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 | Self::RsaOther | Self::Ed25519 | Self::X25519 => {
                None
            }
        }
    }

    /// The bit length of the group order of a Weierstrass EC spec.
    pub fn order_bits(self) -> Option<usize> {
        match self {
            Self::EccNistP521 => Some(521),
            other => other.coordinate_len().map(|len| 8 * len),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::signing::SigningAlgorithm;
    use crate::keys::{KeySpec, KeyUsage};

    #[test]
    fn rsa_sizes_map_to_the_kms_specs_or_rsa_other() {
        assert_eq!(PairSpec::rsa(2048), Some(PairSpec::Rsa2048));
        assert_eq!(PairSpec::rsa(3072), Some(PairSpec::Rsa3072));
        assert_eq!(PairSpec::rsa(4096), Some(PairSpec::Rsa4096));
        for bits in [1024, 1025, 1536, 2056, 4088] {
            assert_eq!(PairSpec::rsa(bits), Some(PairSpec::RsaOther), "{bits}");
        }
        for bits in [0, 512, 1023, 4097, 8192] {
            assert_eq!(PairSpec::rsa(bits), None, "{bits}");
        }
        assert!(PairSpec::RsaOther.is_rsa() && !PairSpec::RsaOther.is_ecc());
        assert_eq!((PairSpec::RsaOther.rsa_bits(), PairSpec::RsaOther.name()), (None, "RSA_OTHER"));
        // The KMS face keeps its three sizes: a token key of another size signs nothing there.
        assert!(SigningAlgorithm::for_spec(PairSpec::RsaOther).is_empty());
        assert!(!SigningAlgorithm::for_spec(PairSpec::Rsa2048).is_empty());
        for usage in [KeyUsage::EncryptDecrypt, KeyUsage::SignVerify] {
            let served = crate::service::key_algorithms(KeySpec::RsaOther, usage);
            assert!(served.encryption.is_empty() && served.signing.is_empty(), "{usage:?}");
            let rsa_2048 = crate::service::key_algorithms(KeySpec::Rsa2048, usage);
            assert!(!(rsa_2048.encryption.is_empty() && rsa_2048.signing.is_empty()), "{usage:?}");
        }
    }
}

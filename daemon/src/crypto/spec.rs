//! The key-pair specs the crypto layer knows: RSA of three sizes, ECDSA/ECDH on two curves. The
//! key model (`keys::KeySpec`) maps its asymmetric specs onto these; the DER parsers name them.

/// The key pairs Arca makes and parses: RSA of three sizes, ECDSA/ECDH on two curves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairSpec {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EccNistP256,
    EccNistP384,
}

impl PairSpec {
    pub fn name(self) -> &'static str {
        match self {
            Self::Rsa2048 => "RSA_2048",
            Self::Rsa3072 => "RSA_3072",
            Self::Rsa4096 => "RSA_4096",
            Self::EccNistP256 => "ECC_NIST_P256",
            Self::EccNistP384 => "ECC_NIST_P384",
        }
    }

    /// The modulus size of an RSA spec.
    pub fn rsa_bits(self) -> Option<usize> {
        match self {
            Self::Rsa2048 => Some(2048),
            Self::Rsa3072 => Some(3072),
            Self::Rsa4096 => Some(4096),
            Self::EccNistP256 | Self::EccNistP384 => None,
        }
    }

    pub fn is_rsa(self) -> bool {
        self.rsa_bits().is_some()
    }

    pub fn is_ecc(self) -> bool {
        !self.is_rsa()
    }

    /// The byte length of a coordinate (and of the scalar) of an EC spec.
    pub fn coordinate_len(self) -> Option<usize> {
        match self {
            Self::EccNistP256 => Some(32),
            Self::EccNistP384 => Some(48),
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => None,
        }
    }
}

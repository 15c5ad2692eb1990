//! The key-pair specs the crypto layer knows: RSA of three sizes, ECDSA (and ECDH where AWS-LC has
//! it) on four Weierstrass curves, Ed25519 and X25519. The key model (`keys::KeySpec`) maps its
//! asymmetric specs onto these; the DER parsers name them.

/// The key pairs Arca makes and parses: RSA of three sizes, ECDSA on P-256, P-384, P-521 and
/// secp256k1 (ECDH on the three NIST curves), Ed25519 signatures, X25519 key agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairSpec {
    Rsa2048,
    Rsa3072,
    Rsa4096,
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
            Self::EccNistP256 => "ECC_NIST_P256",
            Self::EccNistP384 => "ECC_NIST_P384",
            Self::EccNistP521 => "ECC_NIST_P521",
            Self::EccSecgP256k1 => "ECC_SECG_P256K1",
            Self::Ed25519 => "ECC_NIST_EDWARDS25519",
            Self::X25519 => "ECC_X25519",
        }
    }

    /// The modulus size of an RSA spec.
    pub fn rsa_bits(self) -> Option<usize> {
        match self {
            Self::Rsa2048 => Some(2048),
            Self::Rsa3072 => Some(3072),
            Self::Rsa4096 => Some(4096),
            Self::EccNistP256
            | Self::EccNistP384
            | Self::EccNistP521
            | Self::EccSecgP256k1
            | Self::Ed25519
            | Self::X25519 => None,
        }
    }

    pub fn is_rsa(self) -> bool {
        self.rsa_bits().is_some()
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
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 | Self::Ed25519 | Self::X25519 => None,
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

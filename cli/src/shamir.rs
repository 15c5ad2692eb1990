//! Shamir's secret sharing over GF(2^8), the AES field (x^8 + x^4 + x^3 + x + 1), byte by byte:
//! each secret byte is the constant term of its own random polynomial of degree `threshold - 1`,
//! and the share at `x` (1..=255) holds every polynomial's value at `x`. Any `threshold` shares
//! give the secret back by Lagrange interpolation at 0; fewer say nothing about it.
//!
//! The arithmetic is constant-time: multiplication is carry-less, by shifts and masks, and
//! inversion a fixed chain of multiplications. No table is indexed by a secret byte and no branch
//! depends on one (the share numbers `x` are public). Every buffer holding a secret, a coefficient
//! or a share is wiped when dropped.

use zeroize::Zeroizing;

/// The field polynomial without its x^8 term: what a carry out of the top bit folds back in.
const REDUCTION: u8 = 0x1b;

/// One share: the polynomials' values at `x`.
pub(crate) struct RawShare {
    pub x: u8,
    pub y: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for RawShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawShare").field("x", &self.x).field("y", &"<redacted>").finish()
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ShamirError {
    #[error("the threshold must be at least 2 and at most the number of shares (2 to 255)")]
    Bounds,
    #[error("the secret is empty")]
    Empty,
    #[error("the OS random number generator failed: {0}")]
    Random(String),
    #[error("no shares, shares of different lengths, or two shares with the same number")]
    Inconsistent,
}

/// The product of `a` and `b` in GF(2^8), in constant time.
pub(crate) fn mul(a: u8, b: u8) -> u8 {
    let (mut a, mut b, mut product) = (a, b, 0u8);
    for _ in 0..8 {
        product ^= a & (b & 1).wrapping_neg();
        let carry = (a >> 7).wrapping_neg();
        a = (a << 1) ^ (REDUCTION & carry);
        b >>= 1;
    }
    product
}

/// `a`^254, which is `a`^-1 for `a` ≠ 0 (and 0 for 0), in constant time.
pub(crate) fn inverse(a: u8) -> u8 {
    let mut power = a;
    for _ in 0..6 {
        power = mul(mul(power, power), a);
    }
    mul(power, power)
}

/// Splits `secret` into `count` shares numbered 1..=count, any `threshold` of which rebuild it.
/// The coefficients are drawn uniformly from the whole field (zero included, also the highest).
pub(crate) fn split(secret: &[u8], threshold: u8, count: u8) -> Result<Vec<RawShare>, ShamirError> {
    check_bounds(threshold, count)?;
    if secret.is_empty() {
        return Err(ShamirError::Empty);
    }
    let per_byte = usize::from(threshold - 1);
    let mut coefficients = Zeroizing::new(vec![0u8; secret.len() * per_byte]);
    getrandom::fill(coefficients.as_mut_slice()).map_err(|e| ShamirError::Random(e.to_string()))?;
    Ok(split_with(secret, count, &coefficients, per_byte))
}

/// 2 ≤ `threshold` ≤ `count` (≤ 255 as a `u8`).
pub(crate) fn check_bounds(threshold: u8, count: u8) -> Result<(), ShamirError> {
    if threshold < 2 || threshold > count {
        return Err(ShamirError::Bounds);
    }
    Ok(())
}

/// The shares of `secret` under the given coefficients: `per_byte` of them for each secret byte,
/// lowest degree first.
fn split_with(secret: &[u8], count: u8, coefficients: &[u8], per_byte: usize) -> Vec<RawShare> {
    (1..=count)
        .map(|x| {
            let mut y = Zeroizing::new(Vec::with_capacity(secret.len()));
            for (byte, own) in secret.iter().zip(coefficients.chunks_exact(per_byte)) {
                let higher = own.iter().rev().fold(0u8, |acc, c| mul(acc, x) ^ c);
                y.push(mul(higher, x) ^ byte);
            }
            RawShare { x, y }
        })
        .collect()
}

/// The secret behind `shares` (which must number at least the threshold they were made with:
/// fewer give a wrong secret, not an error). Refuses no shares, shares of different lengths and
/// repeated or zero share numbers.
pub(crate) fn combine(shares: &[RawShare]) -> Result<Zeroizing<Vec<u8>>, ShamirError> {
    let Some(first) = shares.first() else {
        return Err(ShamirError::Inconsistent);
    };
    let length = first.y.len();
    let distinct = shares.iter().enumerate().all(|(i, share)| {
        share.x != 0 && share.y.len() == length && shares.iter().skip(i + 1).all(|other| other.x != share.x)
    });
    if !distinct {
        return Err(ShamirError::Inconsistent);
    }
    let mut secret = Zeroizing::new(vec![0u8; length]);
    for share in shares {
        let weight = lagrange_weight(share.x, shares);
        for (out, y) in secret.iter_mut().zip(share.y.iter()) {
            *out ^= mul(weight, *y);
        }
    }
    Ok(secret)
}

/// The Lagrange basis polynomial of share `x` evaluated at 0: the product over the other shares'
/// `x_k` of `x_k / (x_k - x)` (subtraction is XOR).
fn lagrange_weight(x: u8, shares: &[RawShare]) -> u8 {
    let (numerator, denominator) = shares
        .iter()
        .filter(|other| other.x != x)
        .fold((1u8, 1u8), |(num, den), other| (mul(num, other.x), mul(den, other.x ^ x)));
    mul(numerator, inverse(denominator))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Schoolbook multiplication with reduction by the full polynomial, written independently.
    fn reference_mul(a: u8, b: u8) -> u8 {
        let mut product = 0u16;
        for bit in 0..8 {
            if b >> bit & 1 == 1 {
                product ^= u16::from(a) << bit;
            }
        }
        for bit in (8..16).rev() {
            if product >> bit & 1 == 1 {
                product ^= 0x11b << (bit - 8);
            }
        }
        u8::try_from(product).unwrap()
    }

    #[test]
    fn multiplication_matches_fips_197_and_a_reference_on_every_pair() {
        // FIPS-197 §4.2 and §4.2.1.
        assert_eq!(mul(0x57, 0x83), 0xc1);
        assert_eq!(mul(0x57, 0x13), 0xfe);
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(mul(a, b), reference_mul(a, b), "{a:#x} * {b:#x}");
            }
        }
    }

    #[test]
    fn every_non_zero_element_has_its_inverse() {
        // The inverse of {53} is {ca} (FIPS-197 §5.1.1's S-box example, S({53}) = {ed}).
        assert_eq!(inverse(0x53), 0xca);
        assert_eq!(inverse(0), 0);
        assert_eq!(inverse(1), 1);
        for a in 1..=255u8 {
            assert_eq!(mul(a, inverse(a)), 1, "{a:#x}");
        }
    }

    /// Computed with an independent script: f(x) = 0x53 + 0x57x + 0x83x² and 0xca + 0x13x.
    #[test]
    fn shares_match_a_known_vector() {
        let shares = split_with(&[0x53, 0xca], 4, &[0x57, 0x83, 0x13, 0x00], 2);
        let values: Vec<(u8, Vec<u8>)> = shares.iter().map(|s| (s.x, s.y.to_vec())).collect();
        let expected =
            vec![(1, vec![0x87, 0xd9]), (2, vec![0xc7, 0xec]), (3, vec![0x13, 0xff]), (4, vec![0xfc, 0x86])];
        assert_eq!(values, expected);
        assert_eq!(*combine(&shares[1..]).unwrap(), [0x53, 0xca]);
    }

    fn pick(shares: &[RawShare], xs: &[u8]) -> Vec<RawShare> {
        xs.iter()
            .map(|x| {
                let share = shares.iter().find(|s| s.x == *x).unwrap();
                RawShare { x: share.x, y: share.y.clone() }
            })
            .collect()
    }

    #[test]
    fn any_threshold_of_the_shares_rebuild_the_secret_and_fewer_do_not() {
        let secret = b"k7wq2-abcde-fghjk-mnpqr-stuvw-xyz23";
        let shares = split(secret, 3, 5).unwrap();
        assert_eq!(shares.len(), 5);
        for a in 1..=5u8 {
            for b in a + 1..=5 {
                for c in b + 1..=5 {
                    assert_eq!(combine(&pick(&shares, &[c, a, b])).unwrap().as_slice(), secret);
                    assert_ne!(combine(&pick(&shares, &[a, b])).unwrap().as_slice(), secret);
                }
            }
        }
        assert_eq!(combine(&shares).unwrap().as_slice(), secret, "more than the threshold agree");
    }

    #[test]
    fn two_splits_of_one_secret_differ() {
        let first = split(b"same secret", 2, 2).unwrap();
        let second = split(b"same secret", 2, 2).unwrap();
        assert_ne!(first[0].y, second[0].y);
    }

    #[test]
    fn the_largest_split_works() {
        let shares = split(b"x", 255, 255).unwrap();
        assert_eq!(shares.last().map(|s| s.x), Some(255));
        assert_eq!(combine(&shares).unwrap().as_slice(), b"x");
    }

    #[test]
    fn bounds_and_inconsistent_shares_are_refused() {
        assert_eq!(split(b"s", 1, 5).unwrap_err(), ShamirError::Bounds);
        assert_eq!(split(b"s", 0, 5).unwrap_err(), ShamirError::Bounds);
        assert_eq!(split(b"s", 4, 3).unwrap_err(), ShamirError::Bounds);
        assert_eq!(split(b"", 2, 3).unwrap_err(), ShamirError::Empty);
        assert!(split(b"s", 2, 2).is_ok() && split(b"s", 255, 255).is_ok());
        let shares = split(b"secret", 2, 3).unwrap();
        assert_eq!(combine(&[]).unwrap_err(), ShamirError::Inconsistent);
        assert_eq!(combine(&pick(&shares, &[2, 2])).unwrap_err(), ShamirError::Inconsistent);
        let short = RawShare { x: 3, y: Zeroizing::new(vec![1]) };
        assert_eq!(combine(&[pick(&shares, &[1]).remove(0), short]).unwrap_err(), ShamirError::Inconsistent);
        let zero = RawShare { x: 0, y: Zeroizing::new(vec![0; 6]) };
        assert_eq!(combine(&[pick(&shares, &[1]).remove(0), zero]).unwrap_err(), ShamirError::Inconsistent);
    }
}

//! The daemon's one source of random bytes: AWS-LC's generator, a CTR-DRBG per thread, seeded
//! and reseeded from the kernel, reseeded after a fork or a VM snapshot is detected, with its
//! state in the locked memory AWS-LC allocates from ([`super::route_crypto_library_allocations`])
//! and wiped at exit. It answers in user space: drawing from the kernel with `getrandom(2)` cost
//! a system call per draw, two per data key (docs/decisions.md, "Randomness").

use super::MemoryError;

/// Fills `bytes` with random bytes.
pub fn fill_random(bytes: &mut [u8]) -> Result<(), MemoryError> {
    aws_lc_rs::rand::fill(bytes).map_err(|_| MemoryError::Random("AWS-LC's generator failed".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_differ_and_cover_the_buffer() {
        let (mut first, mut second) = ([0u8; 64], [0u8; 64]);
        fill_random(&mut first).unwrap();
        fill_random(&mut second).unwrap();
        assert_ne!(first, second);
        // 64 bytes all zero from a working generator: probability 2^-512.
        assert!(first.iter().any(|&b| b != 0) && second.iter().any(|&b| b != 0));
        fill_random(&mut []).unwrap();
    }
}

//! Conversions between PKCS#11 values and their `arca.v1` wire form.
//!
//! Everything here is safe code over bytes the C ABI has already copied out of the
//! application's memory; `crate::abi` does the pointer work.

pub mod attributes;
pub mod mechanism;

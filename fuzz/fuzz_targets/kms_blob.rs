//! Fuzz target `kms_blob`: see `arca_fuzz::blob`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arca_fuzz::blob::check(data));

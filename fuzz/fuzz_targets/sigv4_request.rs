//! Fuzz target `sigv4_request`: see `arca_fuzz::sigv4`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arca_fuzz::sigv4::check(data));

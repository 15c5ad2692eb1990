//! Fuzz target `der`: see `arca_fuzz::der`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arca_fuzz::der::check(data));

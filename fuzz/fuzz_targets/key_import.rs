//! Fuzz target `key_import`: see `arca_fuzz::import`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arca_fuzz::import::check(data));

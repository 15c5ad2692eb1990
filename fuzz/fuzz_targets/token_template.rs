//! Fuzz target `token_template`: see `arca_fuzz::template`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arca_fuzz::template::check(data));

//! Fuzz target `token_mechanism`: see `arca_fuzz::mechanism`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arca_fuzz::mechanism::check(data));

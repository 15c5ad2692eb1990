//! Fuzz target `token_wire`: see `arca_fuzz::wire`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arca_fuzz::wire::check(data));

//! Fuzz target `config_toml`: see `arca_fuzz::config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arca_fuzz::config::check(data));

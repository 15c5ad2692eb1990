//! Fuzz target `policy_json`: see `arca_fuzz::policy`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arca_fuzz::policy::check(data));

//! Fuzz target `audit_log`: see `arca_fuzz::audit`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arca_fuzz::audit::check(data));

//! Fuzz target `module_marshal`: see `arca_fuzz::marshal`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arca_fuzz::marshal::check(data));

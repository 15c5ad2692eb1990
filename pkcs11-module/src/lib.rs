//! The PKCS#11 front end of Arca. The C ABI is not exported yet: this crate reserves the
//! `libarca_pkcs11.so` artefact in the workspace so packaging and CI build it from the start.
#![deny(unsafe_code)]

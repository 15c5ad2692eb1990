//! The PKCS#11 module's marshalling, against the daemon's reading of the same wire form. The
//! first byte picks:
//!
//! - even: an attribute (8-byte type, then the value at `pValue`). What the module sends, the
//!   daemon accepts as well encoded, and it reads back to the application's value (a CK_BBOOL
//!   normalised to 0 or 1).
//! - odd: a mechanism parameter held in plain bytes (8-byte mechanism, then `pParameter`).
//!   What the module sends, the daemon reads into a mechanism.

use arca_daemon::fuzzing::token_mechanism;
use arca_daemon::service::token::attributes::check_encoding;
use arca_pkcs11::marshal::attributes::{Class, class, from_wire, to_wire};
use arca_pkcs11::marshal::mechanism::{Kind, from_bytes, kind, mechanism};

pub fn check(data: &[u8]) {
    let Some((selector, rest)) = crate::selector(data) else { return };
    let Some((head, value)) = rest.split_first_chunk::<8>() else { return };
    let code = u64::from_le_bytes(*head);
    if selector % 2 == 0 {
        attribute(code, value);
    } else {
        parameter(code, value);
    }
}

fn attribute(kind: u64, value: &[u8]) {
    let Ok(wire) = to_wire(kind, value) else { return };
    assert_eq!(wire.r#type, kind);
    assert!(check_encoding(kind, &wire.value).is_ok(), "the daemon refuses the module's 0x{kind:X}");
    let back = from_wire(kind, wire.value).expect("the module reads its own wire form");
    match class(kind) {
        Class::Bool => assert_eq!(back, [u8::from(value != [0])]),
        _ => assert_eq!(back, value),
    }
}

fn parameter(code: u64, bytes: &[u8]) {
    let how = kind(code);
    let Ok(parameter) = from_bytes(how, bytes) else { return };
    assert!(!matches!(how, Kind::Gcm | Kind::Oaep | Kind::Ecdh1), "pointer structures are not bytes");
    let read = token_mechanism(Some(mechanism(code, parameter)));
    assert!(read.is_ok(), "the daemon refuses the module's mechanism 0x{code:X}");
}

//! PKCS#11 templates as the Token service receives them: the protobuf decode of a
//! `CreateObjectRequest`, the conversion to a `Template`, then everything C_CreateObject checks
//! and builds before it reaches a session (secret keys, PKCS#8 from private components, SPKI
//! from public components, certificates, data objects). Every value of an accepted template and
//! of the object built from it is well encoded for its attribute type, and a public key's
//! stored SubjectPublicKeyInfo is one the daemon reads back as the same key.

use arca_daemon::crypto::der;
use arca_daemon::fuzzing::{Template, new_object_attributes, token_template};
use arca_daemon::service::token::attributes::{check_encoding, decode_ulong};
use arca_proto::v1 as pb;
use cryptoki_sys::*;
use prost::Message;

pub fn check(data: &[u8]) {
    crate::setup();
    let Ok(request) = pb::CreateObjectRequest::decode(data) else { return };
    let Ok(template) = token_template(request.template) else { return };
    for (kind, value) in template.iter() {
        assert!(check_encoding(kind, value).is_ok(), "accepted template holds a bad 0x{kind:X}");
    }
    let Ok(object) = new_object_attributes(&template) else { return };
    for (kind, value) in &object {
        assert!(check_encoding(*kind, value).is_ok(), "stored object holds a bad 0x{kind:X}");
    }
    let stored = Template::parse(object.iter().map(|(k, v)| (*k, v.clone())));
    assert!(stored.is_ok(), "the stored attributes do not form a template");
    let class = object.get(&CKA_CLASS).and_then(|v| decode_ulong(v));
    if class == Some(CKO_PUBLIC_KEY) {
        let spki = object.get(&CKA_PUBLIC_KEY_INFO).expect("a public key has CKA_PUBLIC_KEY_INFO");
        assert!(der::spki_spec(spki).is_ok(), "the stored SubjectPublicKeyInfo does not read back");
    }
}

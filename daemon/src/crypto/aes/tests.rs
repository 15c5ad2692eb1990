//! Tests of `aes`: NIST SP 800-38A known answers, multi-part against single-part for every mode,
//! PKCS#7 padding and its errors, length bounds and bad input.

use super::*;
use crate::crypto::test_util::{Openssl, err, hex};

const PLAINTEXT: &str = "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
                         30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";
const KEY_128: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const KEY_192: &str = "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b";
const KEY_256: &str = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
const CBC_IV: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const CTR_BLOCK: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

/// SP 800-38A appendix F: (section, key, mode, ciphertext).
fn sp800_38a() -> Vec<(&'static str, Vec<u8>, AesMode, Vec<u8>)> {
    let ctr = AesMode::Ctr { counter_block: hex(CTR_BLOCK).try_into().unwrap(), counter_bits: 128 };
    let cbc = AesMode::Cbc { iv: CBC_IV };
    vec![
        (
            "F.1.1 ECB-AES128",
            hex(KEY_128),
            AesMode::Ecb,
            hex(
                "3ad77bb40d7a3660a89ecaf32466ef97 f5d3d58503b9699de785895a96fdbaaf 43b1cd7f598ece23881b00e3ed030688 7b0c785e27e8ad3f8223207104725dd4",
            ),
        ),
        (
            "F.1.3 ECB-AES192",
            hex(KEY_192),
            AesMode::Ecb,
            hex(
                "bd334f1d6e45f25ff712a214571fa5cc 974104846d0ad3ad7734ecb3ecee4eef ef7afd2270e2e60adce0ba2face6444e 9a4b41ba738d6c72fb16691603c18e0e",
            ),
        ),
        (
            "F.1.5 ECB-AES256",
            hex(KEY_256),
            AesMode::Ecb,
            hex(
                "f3eed1bdb5d2a03c064b5a7e3db181f8 591ccb10d410ed26dc5ba74a31362870 b6ed21b99ca6f4f9f153e7b1beafed1d 23304b7a39f9f3ff067d8d8f9e24ecc7",
            ),
        ),
        (
            "F.2.1 CBC-AES128",
            hex(KEY_128),
            cbc.clone(),
            hex(
                "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2 73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7",
            ),
        ),
        (
            "F.2.3 CBC-AES192",
            hex(KEY_192),
            cbc.clone(),
            hex(
                "4f021db243bc633d7178183a9fa071e8 b4d9ada9ad7dedf4e5e738763f69145a 571b242012fb7ae07fa9baac3df102e0 08b0e27988598881d920a9e64f5615cd",
            ),
        ),
        (
            "F.2.5 CBC-AES256",
            hex(KEY_256),
            cbc,
            hex(
                "f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d 39f23369a9d9bacfa530e26304231461 b2eb05e2c39be9fcda6c19078c6a9d1b",
            ),
        ),
        (
            "F.5.1 CTR-AES128",
            hex(KEY_128),
            ctr.clone(),
            hex(
                "874d6191b620e3261bef6864990db6ce 9806f66b7970fdff8617187bb9fffdff 5ae4df3edbd5d35e5b4f09020db03eab 1e031dda2fbe03d1792170a0f3009cee",
            ),
        ),
        (
            "F.5.3 CTR-AES192",
            hex(KEY_192),
            ctr.clone(),
            hex(
                "1abc932417521ca24f2b0459fe7e6e0b 090339ec0aa6faefd5ccc2c6f4ce8e94 1e36b26bd1ebc670d1bd1d665620abf7 4f78a7f6d29809585a97daec58c6b050",
            ),
        ),
        (
            "F.5.5 CTR-AES256",
            hex(KEY_256),
            ctr,
            hex(
                "601ec313775789a5b7a7f504bbf3d228 f443e3ca4d62b59aca84e990cacaf5c5 2b0930daa23de94ce87017ba2d84988d dfc9c58db67aada613c2dd08457941a6",
            ),
        ),
    ]
}

#[test]
fn sp800_38a_known_answers_single_and_multi_part() {
    let plaintext = hex(PLAINTEXT);
    for (name, key, mode, ciphertext) in sp800_38a() {
        let enc = AesCipher::new(&key, mode.clone(), true).unwrap();
        assert_eq!(enc.one_shot(&plaintext).unwrap(), ciphertext, "{name} encrypt");
        let dec = AesCipher::new(&key, mode.clone(), false).unwrap();
        assert_eq!(dec.one_shot(&ciphertext).unwrap(), plaintext, "{name} decrypt");
        for chunk in [1, 5, 16, 17, 33] {
            assert_eq!(multi_part(&key, &mode, true, &plaintext, chunk), ciphertext, "{name} /{chunk}");
            assert_eq!(multi_part(&key, &mode, false, &ciphertext, chunk), plaintext, "{name} /{chunk}");
        }
    }
}

/// Runs `input` through update calls of `chunk` bytes (the last one shorter), checking each
/// output against the announced bounds.
fn multi_part(key: &[u8], mode: &AesMode, encrypt: bool, input: &[u8], chunk: usize) -> Vec<u8> {
    let mut cipher = AesCipher::new(key, mode.clone(), encrypt).unwrap();
    let bound = cipher.one_shot_len(input.len());
    let mut output = Vec::new();
    for part in input.chunks(chunk) {
        let announced = cipher.update_len(part.len());
        let out = cipher.update(part).unwrap();
        assert!(out.len() <= announced, "{mode:?}: update gave {} > {announced}", out.len());
        output.extend(out);
    }
    let announced = cipher.final_len();
    let out = cipher.finish().unwrap();
    assert!(out.len() <= announced, "{mode:?}: finish gave {} > {announced}", out.len());
    output.extend(out);
    assert!(output.len() <= bound, "{mode:?}: {} > one_shot_len {bound}", output.len());
    output
}

fn all_modes() -> Vec<AesMode> {
    let iv = [0xa5; 16];
    vec![
        AesMode::Ecb,
        AesMode::Cbc { iv },
        AesMode::CbcPad { iv },
        AesMode::Ctr { counter_block: [0xfe; 16], counter_bits: 64 },
        AesMode::Gcm { iv: vec![7; 12], aad: b"header".to_vec(), tag_len: 16 },
        AesMode::Gcm { iv: vec![7; 12], aad: Vec::new(), tag_len: 12 },
    ]
}

#[test]
fn multi_part_equals_single_part_for_every_mode_and_chunking() {
    let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    for key in [vec![1u8; 16], vec![2u8; 24], vec![3u8; 32]] {
        for mode in all_modes() {
            let block_only = matches!(mode, AesMode::Ecb | AesMode::Cbc { .. });
            for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 100, 112, 1000] {
                if block_only && len % 16 != 0 {
                    continue;
                }
                let input = &data[..len];
                let single = AesCipher::new(&key, mode.clone(), true).unwrap().one_shot(input).unwrap();
                for chunk in [1, 7, 16, 33, 64] {
                    let multi = multi_part(&key, &mode, true, input, chunk);
                    assert_eq!(multi, single, "{mode:?} len {len} chunk {chunk}");
                    let back = multi_part(&key, &mode, false, &single, chunk);
                    assert_eq!(back, input, "{mode:?} len {len} chunk {chunk} decrypt");
                }
            }
        }
    }
}

#[test]
fn streaming_modes_release_output_as_they_go() {
    let key = [4u8; 16];
    let mut ctr =
        AesCipher::new(&key, AesMode::Ctr { counter_block: [0; 16], counter_bits: 32 }, true).unwrap();
    assert_eq!(ctr.update(&[0; 5]).unwrap().len(), 5);
    let mut cbc = AesCipher::new(&key, AesMode::Cbc { iv: [0; 16] }, true).unwrap();
    assert_eq!(cbc.update_len(20), 16);
    assert_eq!(cbc.update(&[0; 20]).unwrap().len(), 16);
    assert_eq!(cbc.update_len(12), 16);
    // CBC_PAD decryption holds back the last whole block until finish.
    let mut pad = AesCipher::new(&key, AesMode::CbcPad { iv: [0; 16] }, false).unwrap();
    assert_eq!(pad.update_len(32), 16);
    assert_eq!(pad.update(&[0; 32]).unwrap().len(), 16);
    assert_eq!(pad.final_len(), 15);
}

#[test]
fn cbc_pad_matches_openssl_and_pads_whole_blocks() {
    let key = hex(KEY_128);
    let ssl = Openssl::new();
    for len in [0usize, 1, 15, 16, 37] {
        let plaintext: Vec<u8> = (0..len as u8).collect();
        ssl.write("p", &plaintext);
        ssl.run(&[
            "enc",
            "-aes-128-cbc",
            "-K",
            KEY_128,
            "-iv",
            "000102030405060708090a0b0c0d0e0f",
            "-in",
            "p",
            "-out",
            "c",
        ]);
        let ours =
            AesCipher::new(&key, AesMode::CbcPad { iv: CBC_IV }, true).unwrap().one_shot(&plaintext).unwrap();
        assert_eq!(ours, ssl.read("c"), "length {len}");
        assert_eq!(ours.len(), (len / 16 + 1) * 16);
    }
}

/// Ciphertext whose last plaintext block is `last`, made with unpadded CBC.
fn cbc_of(key: &[u8], last: &[u8; 16]) -> Vec<u8> {
    let mut plaintext = vec![0x11; 16];
    plaintext.extend_from_slice(last);
    AesCipher::new(key, AesMode::Cbc { iv: CBC_IV }, true).unwrap().one_shot(&plaintext).unwrap()
}

#[test]
fn cbc_pad_rejects_bad_padding_and_lengths() {
    let key = [5u8; 32];
    let decrypt =
        |ct: &[u8]| AesCipher::new(&key, AesMode::CbcPad { iv: CBC_IV }, false).unwrap().one_shot(ct);
    let mut valid = [0x41; 16];
    valid[14..].copy_from_slice(&[2, 2]);
    assert_eq!(decrypt(&cbc_of(&key, &valid)).unwrap().len(), 30);
    let full = [16u8; 16];
    assert_eq!(decrypt(&cbc_of(&key, &full)).unwrap(), vec![0x11; 16]);
    let mut zero = valid;
    zero[15] = 0;
    let mut too_big = valid;
    too_big[15] = 17;
    let mut mismatch = valid;
    mismatch[14] = 1;
    let mut inconsistent = [3u8; 16];
    inconsistent[13] = 4;
    for bad in [zero, too_big, mismatch, inconsistent] {
        assert!(matches!(err(decrypt(&cbc_of(&key, &bad))), Error::CiphertextInvalid(_)), "{bad:?}");
    }
    for len in [0, 1, 15, 17, 31] {
        assert!(matches!(err(decrypt(&vec![0; len])), Error::CiphertextLength(_)), "length {len}");
    }
}

#[test]
fn partial_blocks_are_length_errors_in_ecb_and_cbc() {
    for mode in [AesMode::Ecb, AesMode::Cbc { iv: [0; 16] }] {
        let enc = AesCipher::new(&[0; 16], mode.clone(), true).unwrap();
        assert!(matches!(err(enc.one_shot(&[0; 17])), Error::DataLength(_)));
        let dec = AesCipher::new(&[0; 16], mode.clone(), false).unwrap();
        assert!(matches!(err(dec.one_shot(&[0; 31])), Error::CiphertextLength(_)));
        let mut dec = AesCipher::new(&[0; 16], mode, false).unwrap();
        assert_eq!(dec.update(&[0; 8]).unwrap(), Vec::<u8>::new());
        assert!(matches!(err(dec.finish()), Error::CiphertextLength(_)));
    }
}

#[test]
fn bad_keys_and_parameters_are_refused() {
    for len in [0, 1, 15, 17, 31, 33, 64] {
        for mode in all_modes() {
            assert!(matches!(err(AesCipher::new(&vec![0; len], mode, true)), Error::KeySize(_)), "{len}");
        }
    }
    // GCM takes IVs of 1 to 1024 bytes and tags of 4 to 16 (gcm_tests.rs tests the lengths inside).
    for (iv_len, tag_len) in [(0, 16), (1025, 16), (12, 3), (12, 17), (12, 0)] {
        let mode = AesMode::Gcm { iv: vec![0; iv_len], aad: Vec::new(), tag_len };
        assert!(
            matches!(err(AesCipher::new(&[0; 16], mode, true)), Error::ParameterInvalid(_)),
            "{iv_len} {tag_len}"
        );
    }
}

#[test]
fn debug_is_redacted() {
    let cipher = AesCipher::new(&[0x42; 16], AesMode::CbcPad { iv: [0; 16] }, true).unwrap();
    let shown = format!("{cipher:?}");
    assert!(shown.contains("REDACTED") && shown.contains("CbcPad") && !shown.contains("42"), "{shown}");
}

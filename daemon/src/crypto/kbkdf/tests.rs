use super::*;
use crate::crypto::test_util::{Openssl, err, hex};

const KEY: &str = "000102030405060708090a0b0c0d0e0f";
const LABEL: &[u8] = b"label";
const CONTEXT: &[u8] = b"context";
const BE32: IntegerFormat = IntegerFormat { little_endian: false, width_bits: 32 };

/// OpenSSL's fixed layout: [i]32 || label || 00 || context || [L]32 (feedback mode: K(i-1) first).
fn openssl_layout(feedback: bool) -> Vec<Field> {
    let mut fields = vec![if feedback { Field::Iteration(None) } else { Field::Iteration(Some(BE32)) }];
    if feedback {
        fields.push(Field::Counter(BE32));
    }
    fields.extend([
        Field::Bytes(LABEL.to_vec()),
        Field::Bytes(vec![0]),
        Field::Bytes(CONTEXT.to_vec()),
        Field::Length(LengthOf::Keys, BE32),
    ]);
    fields
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// OpenSSL's KBKDF gives the same bytes in both modes, with HMAC over every hash and AES-CMAC, across
/// block boundaries.
#[test]
fn agrees_with_openssl_kbkdf() {
    let ssl = Openssl::new();
    let key = hex(KEY);
    let prfs = [
        (Prf::Hmac(HashAlg::Sha1), "mac:HMAC", "digest:SHA1"),
        (Prf::Hmac(HashAlg::Sha224), "mac:HMAC", "digest:SHA224"),
        (Prf::Hmac(HashAlg::Sha256), "mac:HMAC", "digest:SHA256"),
        (Prf::Hmac(HashAlg::Sha384), "mac:HMAC", "digest:SHA384"),
        (Prf::Hmac(HashAlg::Sha512), "mac:HMAC", "digest:SHA512"),
        (Prf::AesCmac, "mac:CMAC", "cipher:AES-128-CBC"),
    ];
    for (prf, mac, with) in prfs {
        // OpenSSL takes a feedback IV of the PRF's block length only.
        let iv: Vec<u8> = (0..prf_len(prf) as u8).collect();
        for feedback in [false, true] {
            let mode = if feedback { Mode::Feedback { iv: iv.clone() } } else { Mode::Counter };
            let ours = kbkdf(prf, &key, &mode, &openssl_layout(feedback), 70).unwrap();
            let (key_opt, salt, info, seed) = (
                format!("hexkey:{KEY}"),
                format!("hexsalt:{}", to_hex(LABEL)),
                format!("hexinfo:{}", to_hex(CONTEXT)),
                format!("hexseed:{}", to_hex(&iv)),
            );
            let mut args = vec!["kdf", "-keylen", "70", "-kdfopt", mac, "-kdfopt", with, "-kdfopt", &key_opt];
            args.extend(["-kdfopt", &salt, "-kdfopt", &info]);
            if feedback {
                args.extend(["-kdfopt", "mode:FEEDBACK", "-kdfopt", &seed]);
            }
            args.push("KBKDF");
            let out = ssl.run(&args);
            assert_eq!(
                out.trim().replace(':', "").to_lowercase(),
                to_hex(ours.as_slice()),
                "{prf:?} {feedback}"
            );
        }
    }
}

/// Little-endian integers, the length of the segments rather than the keys, and no separator:
/// checked against the definition, block by block.
#[test]
fn other_layouts_follow_the_definition() {
    let key = hex(KEY);
    let le16 = IntegerFormat { little_endian: true, width_bits: 16 };
    let fields = vec![
        Field::Bytes(b"L".to_vec()),
        Field::Iteration(Some(le16)),
        Field::Length(LengthOf::Segments, le16),
    ];
    let ours = kbkdf(Prf::Hmac(HashAlg::Sha256), &key, &Mode::Counter, &fields, 40).unwrap();
    let block = |i: u8| {
        let mut input = b"L".to_vec();
        input.extend([i, 0, 0x00, 0x02]); // counter i (LE16), then 512 bits (LE16: 00 02)
        super::block(Prf::Hmac(HashAlg::Sha256), &key, &input).unwrap()
    };
    let expected = [block(1), block(2)].concat();
    assert_eq!(ours.as_slice(), &expected[..40]);
}

#[test]
fn malformed_field_lists_are_refused() {
    let key = hex(KEY);
    let prf = Prf::Hmac(HashAlg::Sha256);
    let cases: Vec<(Mode, Vec<Field>)> = vec![
        (Mode::Counter, vec![Field::Bytes(vec![1])]),
        (Mode::Counter, vec![Field::Iteration(None)]),
        (Mode::Counter, vec![Field::Iteration(Some(BE32)), Field::Iteration(Some(BE32))]),
        (Mode::Counter, vec![Field::Iteration(Some(BE32)), Field::Counter(BE32)]),
        (Mode::Feedback { iv: vec![] }, vec![Field::Iteration(Some(BE32))]),
        (Mode::Counter, vec![Field::Iteration(Some(IntegerFormat { little_endian: false, width_bits: 12 }))]),
    ];
    for (mode, fields) in cases {
        assert!(
            matches!(err(kbkdf(prf, &key, &mode, &fields, 32)), Error::ParameterInvalid(_)),
            "{fields:?}"
        );
    }
    // An 8-bit counter cannot count 256 blocks of AES-CMAC.
    let narrow = vec![Field::Iteration(Some(IntegerFormat { little_endian: false, width_bits: 8 }))];
    assert!(kbkdf(Prf::AesCmac, &key, &Mode::Counter, &narrow, 255 * 16).is_ok());
    let too_many = kbkdf(Prf::AesCmac, &key, &Mode::Counter, &narrow, 256 * 16);
    assert!(matches!(err(too_many), Error::ParameterInvalid(_)));
    assert!(matches!(
        err(kbkdf(prf, &key, &Mode::Counter, &openssl_layout(false), 0)),
        Error::ParameterInvalid(_)
    ));
    // The output cap: 4096 bytes derive, 4097 do not.
    assert_eq!(
        kbkdf(prf, &key, &Mode::Counter, &openssl_layout(false), MAX_KBKDF_OUTPUT).unwrap().len(),
        4096
    );
    let past = kbkdf(prf, &key, &Mode::Counter, &openssl_layout(false), MAX_KBKDF_OUTPUT + 1);
    assert!(matches!(err(past), Error::ParameterInvalid(_)));
}

use super::*;
use crate::crypto::test_util::{Openssl, err, hex};

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn concatenation_and_xor_follow_their_definitions() {
    assert_eq!(concatenate(&[1, 2], &[3]).unwrap().as_slice(), [1, 2, 3]);
    assert_eq!(xor(&[0xff, 0x0f, 0xaa], &[0x0f, 0xff]).unwrap().as_slice(), [0xf0, 0xf0]);
    assert!(matches!(err(xor(&[1], &[])), Error::ParameterInvalid(_)));
    assert!(matches!(err(concatenate(&[0; 300], &[0; 300])), Error::ParameterInvalid(_)));
}

/// Extraction agrees with a rotation of the key as one big-endian integer, for every start bit.
#[test]
fn extraction_is_a_rotation_of_the_key_bits() {
    let key = 0x329f_84a9_u32;
    for first_bit in 0..32 {
        let rotated = key.rotate_left(first_bit).to_be_bytes();
        let extracted = extract(&key.to_be_bytes(), u64::from(first_bit), 2).unwrap();
        assert_eq!(extracted.as_slice(), &rotated[..2], "from bit {first_bit}");
    }
    assert!(matches!(err(extract(&[1, 2], 16, 1)), Error::ParameterInvalid(_)));
    assert!(matches!(err(extract(&[1, 2], 0, 3)), Error::ParameterInvalid(_)));
}

/// OpenSSL's AES-ECB and AES-CBC without padding give the same bytes, for every key size.
#[test]
fn aes_encrypt_data_agrees_with_openssl() {
    let ssl = Openssl::new();
    let data: Vec<u8> = (0u8..48).collect();
    ssl.write("data", &data);
    let iv = [0x24u8; 16];
    for key_len in [16, 24, 32] {
        let key: Vec<u8> = (0..key_len as u8).map(|b| b.wrapping_mul(7)).collect();
        let cipher = |mode: &str| format!("-aes-{}-{mode}", key_len * 8);
        let (key_hex, iv_hex) = (to_hex(&key), to_hex(&iv));
        ssl.run(&["enc", &cipher("ecb"), "-nopad", "-K", &key_hex, "-in", "data", "-out", "ecb"]);
        ssl.run(&[
            "enc",
            &cipher("cbc"),
            "-nopad",
            "-K",
            &key_hex,
            "-iv",
            &iv_hex,
            "-in",
            "data",
            "-out",
            "cbc",
        ]);
        assert_eq!(aes_encrypt_data(&key, None, &data).unwrap().as_slice(), ssl.read("ecb"), "ECB {key_len}");
        assert_eq!(
            aes_encrypt_data(&key, Some(iv), &data).unwrap().as_slice(),
            ssl.read("cbc"),
            "CBC {key_len}"
        );
    }
    assert!(matches!(err(aes_encrypt_data(&[0; 16], None, &[0; 15])), Error::ParameterInvalid(_)));
    assert!(matches!(err(aes_encrypt_data(&[0; 16], None, &[])), Error::ParameterInvalid(_)));
    assert!(matches!(err(aes_encrypt_data(&[0; 20], None, &[0; 16])), Error::KeySize(_)));
}

/// RFC 5869 appendix A.1 (SHA-256) and A.4 (SHA-1), as one step and as extract then expand.
#[test]
fn hkdf_matches_rfc_5869() {
    let cases = [
        (
            HashAlg::Sha256,
            "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
            "000102030405060708090a0b0c",
            "f0f1f2f3f4f5f6f7f8f9",
            "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        ),
        (
            HashAlg::Sha1,
            "0b0b0b0b0b0b0b0b0b0b0b",
            "000102030405060708090a0b0c",
            "f0f1f2f3f4f5f6f7f8f9",
            "9b6c18c432a7bf8f0e71c8eb88f4b30baa2ba243",
            "085a01ea1b10f36933068b56efa5ad81a4f14b822f5b091568a9cdd4f155fda2c22e422478d305f3f896",
        ),
    ];
    for (hash, ikm, salt, info, prk, okm) in cases {
        let (ikm, salt, info) = (hex(ikm), hex(salt), hex(info));
        let both = hkdf(hash, HkdfSteps::ExtractAndExpand, Some(&salt), &ikm, &info, 42).unwrap();
        assert_eq!(both.as_slice(), hex(okm), "{hash:?}");
        let extracted = hkdf(hash, HkdfSteps::Extract, Some(&salt), &ikm, &[], 0).unwrap();
        assert_eq!(extracted.as_slice(), hex(prk), "{hash:?}");
        let expanded = hkdf(hash, HkdfSteps::Expand, None, extracted.as_slice(), &info, 42).unwrap();
        assert_eq!(expanded.as_slice(), hex(okm), "{hash:?}");
    }
}

/// OpenSSL's HKDF agrees for the hashes the RFC has no vector for, without a salt too.
#[test]
fn hkdf_agrees_with_openssl() {
    let ssl = Openssl::new();
    let (ikm, salt, info) = ([0x42u8; 24], [7u8; 10], b"arca hkdf");
    for (hash, name) in
        [(HashAlg::Sha224, "SHA224"), (HashAlg::Sha384, "SHA384"), (HashAlg::Sha512, "SHA512")]
    {
        for with_salt in [true, false] {
            let ours =
                hkdf(hash, HkdfSteps::ExtractAndExpand, with_salt.then_some(&salt[..]), &ikm, info, 70)
                    .unwrap();
            let mut args = vec![
                "kdf".to_owned(),
                "-keylen".to_owned(),
                "70".to_owned(),
                "-kdfopt".to_owned(),
                format!("digest:{name}"),
                "-kdfopt".to_owned(),
                format!("hexkey:{}", to_hex(&ikm)),
                "-kdfopt".to_owned(),
                format!("hexinfo:{}", to_hex(info)),
            ];
            if with_salt {
                args.extend(["-kdfopt".to_owned(), format!("hexsalt:{}", to_hex(&salt))]);
            }
            args.push("HKDF".to_owned());
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = ssl.run(&args);
            assert_eq!(
                out.trim().replace(':', "").to_lowercase(),
                to_hex(ours.as_slice()),
                "{name} {with_salt}"
            );
        }
    }
    assert!(matches!(
        err(hkdf(HashAlg::Sha256, HkdfSteps::Expand, None, &[1; 16], &[], 32)),
        Error::ParameterInvalid(_)
    ));
    assert!(matches!(
        err(hkdf(HashAlg::Sha256, HkdfSteps::ExtractAndExpand, None, &[1; 16], &[], 0)),
        Error::ParameterInvalid(_)
    ));
}

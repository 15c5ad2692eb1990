//! The raw paths against the `openssl` command line, in both directions: keys of 1024 bits
//! (everything goes through `raw`) and 2048 bits (PSS with SHA-1/SHA-224 and other salts, OAEP
//! with SHA-224 and labels, CKM_RSA_X_509); keys of other sizes made by `rsa_generate`; and the
//! precise errors of bad input.

use super::*;
use crate::crypto::digest::{HashAlg, Hasher};
use crate::crypto::test_util::{Openssl, err};

fn digest(hash: HashAlg, message: &[u8]) -> Vec<u8> {
    let mut hasher = Hasher::new(hash);
    hasher.update(message);
    hasher.finish()
}

fn openssl_name(hash: HashAlg) -> &'static str {
    match hash {
        HashAlg::Sha1 => "sha1",
        HashAlg::Sha224 => "sha224",
        HashAlg::Sha256 => "sha256",
        HashAlg::Sha384 => "sha384",
        HashAlg::Sha512 => "sha512",
    }
}

/// An OpenSSL key of `bits`: (scratch dir with k.pem and pub.der, our parsed key, SPKI).
fn openssl_key(bits: usize) -> (Openssl, RsaPrivateKey, Vec<u8>) {
    let ssl = Openssl::new();
    let keygen = format!("rsa_keygen_bits:{bits}");
    ssl.run(&["genpkey", "-algorithm", "RSA", "-pkeyopt", &keygen, "-out", "k.pem"]);
    ssl.run(&["pkcs8", "-topk8", "-nocrypt", "-in", "k.pem", "-outform", "DER", "-out", "k.der"]);
    ssl.run(&["pkey", "-in", "k.pem", "-pubout", "-outform", "DER", "-out", "pub.der"]);
    let key = RsaPrivateKey::from_pkcs8(&ssl.read("k.der")).unwrap();
    let spki = ssl.read("pub.der");
    assert_eq!(key.public_der(), spki.as_slice());
    assert_eq!(key.modulus_bits(), bits);
    (ssl, key, spki)
}

fn pkeyutl(
    ssl: &Openssl,
    verb: &str,
    public: bool,
    input: &str,
    out: &[&str],
    options: &[String],
) -> (bool, String) {
    let key: &[&str] =
        if public { &["-pubin", "-keyform", "DER", "-inkey", "pub.der"] } else { &["-inkey", "k.pem"] };
    let mut args = vec!["pkeyutl", verb, "-in", input];
    args.extend_from_slice(key);
    args.extend_from_slice(out);
    for option in options {
        args.extend_from_slice(&["-pkeyopt", option]);
    }
    ssl.try_run(&args)
}

fn pss_options(hash: HashAlg, salt_len: usize) -> Vec<String> {
    let name = openssl_name(hash);
    vec![
        "rsa_padding_mode:pss".into(),
        format!("digest:{name}"),
        format!("rsa_mgf1_md:{name}"),
        format!("rsa_pss_saltlen:{salt_len}"),
    ]
}

fn pss_both_ways(ssl: &Openssl, key: &RsaPrivateKey, spki: &[u8]) {
    let bits = key.modulus_bits();
    for hash in [HashAlg::Sha1, HashAlg::Sha224, HashAlg::Sha256] {
        let d = digest(hash, b"pss interop");
        ssl.write("digest", &d);
        for salt_len in [0, 17, hash.output_len(), max_salt_len(hash, bits)] {
            let scheme = RsaSignScheme::Pss { hash, salt_len };
            let options = pss_options(hash, salt_len);
            ssl.write("sig", &key.sign(scheme, &d).unwrap());
            let (ok, text) = pkeyutl(ssl, "-verify", true, "digest", &["-sigfile", "sig"], &options);
            assert!(ok, "{bits} {hash:?} salt {salt_len}: OpenSSL refuses ours: {text}");
            let (ok, text) = pkeyutl(ssl, "-sign", false, "digest", &["-out", "osig"], &options);
            assert!(ok, "{text}");
            rsa_verify(spki, scheme, &d, &ssl.read("osig")).unwrap();
            let wrong_salt = RsaSignScheme::Pss { hash, salt_len: salt_len.checked_sub(1).unwrap_or(1) };
            assert!(rsa_verify(spki, wrong_salt, &d, &ssl.read("osig")).is_err());
        }
    }
}

fn oaep_both_ways(ssl: &Openssl, key: &RsaPrivateKey, spki: &[u8]) {
    ssl.write("plain", b"a wrapped key, say");
    for hash in [HashAlg::Sha1, HashAlg::Sha224, HashAlg::Sha256] {
        for label in [&b""[..], b"label", &[0xa5; 40]] {
            let name = openssl_name(hash);
            let mut options = vec![
                "rsa_padding_mode:oaep".to_owned(),
                format!("rsa_oaep_md:{name}"),
                format!("rsa_mgf1_md:{name}"),
            ];
            if !label.is_empty() {
                let hex: String = label.iter().map(|b| format!("{b:02x}")).collect();
                options.push(format!("rsa_oaep_label:{hex}"));
            }
            let scheme = RsaCryptScheme::Oaep { hash, label: label.to_vec() };
            assert!(pkeyutl(ssl, "-encrypt", true, "plain", &["-out", "ct"], &options).0);
            let plaintext = key.decrypt(&scheme, &ssl.read("ct")).unwrap();
            assert_eq!(plaintext.as_slice(), b"a wrapped key, say", "{hash:?} {label:?}");
            let other = RsaCryptScheme::Oaep { hash, label: b"other".to_vec() };
            assert!(matches!(err(key.decrypt(&other, &ssl.read("ct"))), Error::CiphertextInvalid(_)));
            ssl.write("ct", &rsa_encrypt(spki, &scheme, b"from arca").unwrap());
            assert!(pkeyutl(ssl, "-decrypt", false, "ct", &["-out", "back"], &options).0);
            assert_eq!(ssl.read("back"), b"from arca");
        }
    }
}

fn pkcs1_and_x509_both_ways(ssl: &Openssl, key: &RsaPrivateKey, spki: &[u8]) {
    let k = key.modulus_bits() / 8;
    let pkcs1 = ["rsa_padding_mode:pkcs1".to_owned()];
    ssl.write("plain", b"pkcs1 v1.5");
    assert!(pkeyutl(ssl, "-encrypt", true, "plain", &["-out", "ct"], &pkcs1).0);
    assert_eq!(key.decrypt(&RsaCryptScheme::Pkcs1, &ssl.read("ct")).unwrap().as_slice(), b"pkcs1 v1.5");
    ssl.write("ct", &rsa_encrypt(spki, &RsaCryptScheme::Pkcs1, b"from arca").unwrap());
    assert!(pkeyutl(ssl, "-decrypt", false, "ct", &["-out", "back"], &pkcs1).0);
    assert_eq!(ssl.read("back"), b"from arca");
    for hash in [HashAlg::Sha1, HashAlg::Sha256] {
        let d = digest(hash, b"pkcs1 signature");
        ssl.write("digest", &d);
        ssl.write("sig", &key.sign(RsaSignScheme::Pkcs1(hash), &d).unwrap());
        let md = [format!("digest:{}", openssl_name(hash))];
        assert!(pkeyutl(ssl, "-verify", true, "digest", &["-sigfile", "sig"], &md).0, "{hash:?}");
    }
    // CKM_RSA_X_509: OpenSSL's unpadded encryption of k bytes decrypts to the same k bytes, and
    // our raw "signature" of a short input is what OpenSSL recovers, zeros on the left.
    let none = ["rsa_padding_mode:none".to_owned()];
    let mut block = vec![0u8; k];
    block[1..].iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
    ssl.write("plain", &block);
    assert!(pkeyutl(ssl, "-encrypt", true, "plain", &["-out", "ct"], &none).0);
    assert_eq!(key.decrypt(&RsaCryptScheme::Raw, &ssl.read("ct")).unwrap().as_slice(), block.as_slice());
    assert_eq!(rsa_encrypt(spki, &RsaCryptScheme::Raw, &block).unwrap(), ssl.read("ct"));
    let signature = key.sign(RsaSignScheme::Raw, b"short").unwrap();
    assert_eq!(signature.len(), k);
    ssl.write("sig", &signature);
    assert!(pkeyutl(ssl, "-verifyrecover", true, "sig", &["-out", "back"], &none).0);
    let mut padded = vec![0; k - 5];
    padded.extend_from_slice(b"short");
    assert_eq!(ssl.read("back"), padded);
    rsa_verify(spki, RsaSignScheme::Raw, b"short", &signature).unwrap();
    rsa_verify(spki, RsaSignScheme::Raw, &padded, &signature).unwrap();
    assert!(matches!(
        err(rsa_verify(spki, RsaSignScheme::Raw, b"shorT", &signature)),
        Error::SignatureInvalid(_)
    ));
}

#[test]
fn legacy_1024_bit_keys_do_every_scheme_as_openssl_does() {
    let (ssl, key, spki) = openssl_key(1024);
    assert!(key.aws_lc.is_none() && key.raw_key_is_parsed());
    pss_both_ways(&ssl, &key, &spki);
    oaep_both_ways(&ssl, &key, &spki);
    pkcs1_and_x509_both_ways(&ssl, &key, &spki);
}

#[test]
fn aws_lc_keys_take_the_raw_path_for_what_aws_lc_lacks() {
    let (ssl, key, spki) = openssl_key(2048);
    assert!(key.aws_lc.is_some());
    pss_both_ways(&ssl, &key, &spki);
    oaep_both_ways(&ssl, &key, &spki);
    pkcs1_and_x509_both_ways(&ssl, &key, &spki);
}

/// Imported moduli that do not fill their last byte (1025 bits: emLen < k for PSS; 1031 bits: the
/// top byte holds 7 bits) sign and decrypt as OpenSSL does.
#[test]
fn moduli_of_odd_bit_lengths_work_both_ways() {
    for bits in [1025, 1031] {
        let (ssl, key, spki) = openssl_key(bits);
        assert_eq!(rsa_modulus_bytes(&spki).unwrap(), 129);
        pss_both_ways(&ssl, &key, &spki);
        oaep_both_ways(&ssl, &key, &spki);
    }
}

#[test]
fn generated_keys_of_other_sizes_are_exact_and_valid_for_openssl() {
    for bits in [1024, 1032, 1536, 2056] {
        let der = rsa_generate(bits).unwrap();
        let key = RsaPrivateKey::from_pkcs8(der.as_slice()).unwrap();
        assert_eq!(key.modulus_bits(), bits);
        let ssl = Openssl::new();
        ssl.write("k.der", der.as_slice());
        let text = ssl.run(&["pkey", "-inform", "DER", "-in", "k.der", "-check", "-noout", "-text"]);
        assert!(text.contains("valid") && text.contains(&format!("({bits} bit")), "{text}");
        assert!(text.contains("publicExponent: 65537"), "{text}");
        let d = digest(HashAlg::Sha256, b"generated");
        let signature = key.sign(RsaSignScheme::Pkcs1(HashAlg::Sha256), &d).unwrap();
        rsa_verify(key.public_der(), RsaSignScheme::Pkcs1(HashAlg::Sha256), &d, &signature).unwrap();
    }
}

#[test]
fn bad_raw_input_gets_precise_errors() {
    let (_ssl, key, spki) = openssl_key(1024);
    let (modulus, _) = rsa_public_components(&spki).unwrap();
    assert_eq!(modulus.len(), 128);
    // Longer than k: a length error; k bytes at or above n: invalid data.
    assert!(matches!(err(key.sign(RsaSignScheme::Raw, &[1; 129])), Error::DataLength(_)));
    assert!(matches!(err(rsa_encrypt(&spki, &RsaCryptScheme::Raw, &[1; 129])), Error::DataLength(_)));
    assert!(matches!(err(key.sign(RsaSignScheme::Raw, &modulus)), Error::DataInvalid(_)));
    assert!(matches!(err(rsa_encrypt(&spki, &RsaCryptScheme::Raw, &[0xff; 128])), Error::DataInvalid(_)));
    assert!(matches!(err(key.decrypt(&RsaCryptScheme::Raw, &modulus)), Error::CiphertextInvalid(_)));
    assert!(matches!(err(key.decrypt(&RsaCryptScheme::Raw, &[1; 127])), Error::CiphertextLength(_)));
    assert!(matches!(err(rsa_verify(&spki, RsaSignScheme::Raw, b"x", &modulus)), Error::SignatureInvalid(_)));
    // A PSS salt the key has no room for, either way.
    let d = digest(HashAlg::Sha256, b"");
    let too_long = RsaSignScheme::Pss { hash: HashAlg::Sha256, salt_len: 128 - 32 - 1 };
    assert!(matches!(err(key.sign(too_long, &d)), Error::ParameterInvalid(_)));
    assert!(matches!(err(rsa_verify(&spki, too_long, &d, &[0; 128])), Error::ParameterInvalid(_)));
    // OAEP in 1024 bits: SHA-384 leaves 128 - 98 = 30 bytes, SHA-512 none at all.
    let sha384 = RsaCryptScheme::oaep(HashAlg::Sha384);
    assert!(matches!(err(rsa_encrypt(&spki, &sha384, &[0; 31])), Error::DataLength(_)));
    let sealed = rsa_encrypt(&spki, &sha384, &[0; 30]).unwrap();
    assert_eq!(key.decrypt(&sha384, &sealed).unwrap().as_slice(), &[0; 30]);
    let sha512 = RsaCryptScheme::oaep(HashAlg::Sha512);
    assert!(matches!(err(rsa_encrypt(&spki, &sha512, &[])), Error::DataLength(_)));
    assert!(matches!(err(key.decrypt(&sha512, &sealed)), Error::CiphertextInvalid(_)));
}

#[test]
fn inconsistent_legacy_components_are_refused() {
    let (ssl, _, _) = openssl_key(1024);
    let text = ssl.run(&["rsa", "-in", "k.pem", "-text", "-noout"]);
    assert!(text.contains("1024 bit"), "{text}");
    let der = ssl.read("k.der");
    // Flip a bit of the last CRT coefficient (qinv, the document's final bytes).
    let mut bad = der.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    assert!(RsaPrivateKey::from_pkcs8(&bad).is_err());
    assert!(matches!(err(raw::RawRsaKey::from_pkcs8_checked(&bad)), Error::Encoding(_)));
    raw::RawRsaKey::from_pkcs8_checked(&der).unwrap();
    // Through the C_CreateObject path: components that agree make a key, a wrong d does not.
    let [n, e, d, p, q, dp, dq, qinv] = raw::components(&der).unwrap();
    let parts = |private_exponent| RsaPrivateComponents {
        modulus: n,
        public_exponent: e,
        private_exponent,
        prime_1: p,
        prime_2: q,
        exponent_1: dp,
        exponent_2: dq,
        coefficient: qinv,
    };
    let made = rsa_pkcs8_from_components(&parts(d)).unwrap();
    assert_eq!(RsaPrivateKey::from_pkcs8(made.as_slice()).unwrap().modulus_bits(), 1024);
    let mut wrong_d = d.to_vec();
    wrong_d[60] ^= 0x10;
    assert!(matches!(err(rsa_pkcs8_from_components(&parts(&wrong_d))), Error::Encoding(_)));
    // The good document's public half is the SPKI OpenSSL writes.
    let key = RsaPrivateKey::from_pkcs8(&der).unwrap();
    let (n, e) = raw::public_components(&der).unwrap();
    assert_eq!(rsa_spki(n, e).unwrap(), key.public_der());
}

/// `cargo test -p arca-daemon --lib rsa::interop_tests::time -- --ignored --nocapture`
#[test]
#[ignore = "timing, not a check"]
fn time_generation_of_other_sizes() {
    for bits in [1024, 2056, 3064, 4088] {
        let start = std::time::Instant::now();
        for _ in 0..3 {
            rsa_generate(bits).unwrap();
        }
        println!("RSA-{bits}: {:?} per key", start.elapsed() / 3);
    }
}

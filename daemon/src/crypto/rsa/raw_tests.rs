//! Tests of `rsa::raw`: the crypto-bigint CKM_RSA_PKCS signature is the one AWS-LC and OpenSSL
//! make, over any input up to k − 11 bytes; OpenSSL verifies it; the fault check, blinding and
//! the verifier's bounds; and the lazy parse.

use std::sync::OnceLock;
use std::time::Instant;

use super::*;
use crate::crypto::der::rsa_public_components;
use crate::crypto::digest::{HashAlg, Hasher};
use crate::crypto::rsa::pkcs1::type1_block;
use crate::crypto::rsa::{RsaPrivateKey, RsaSignScheme, rsa_verify};
use crate::crypto::test_util::{Openssl, err, hex};

const RAW: RsaSignScheme = RsaSignScheme::Pkcs1DigestInfo;

fn sign_pkcs1(key: &RawRsaKey, input: &[u8]) -> Result<Vec<u8>> {
    crate::crypto::rsa::pkcs1::sign(key, input)
}

/// The raw PKCS#1 v1.5 verifier over a bare modulus and exponent (a key out of range is a
/// signature that does not verify, as `rsa_verify` reports it).
fn verify_pkcs1(modulus: &[u8], exponent: &[u8], input: &[u8], signature: &[u8]) -> Result<()> {
    let key = RawPublic::new(modulus, exponent).map_err(|_| Error::SignatureInvalid("out of range"))?;
    crate::crypto::rsa::pkcs1::verify(&key, input, signature)
}

/// An OpenSSL-generated key: its PEM, PKCS#8 DER and public PEM and DER.
struct KeyFiles {
    pem: Vec<u8>,
    der: Vec<u8>,
    public_pem: Vec<u8>,
    spki: Vec<u8>,
}

fn generate(bits: usize) -> KeyFiles {
    let ssl = Openssl::new();
    let bits = format!("rsa_keygen_bits:{bits}");
    ssl.run(&["genpkey", "-algorithm", "RSA", "-pkeyopt", &bits, "-out", "k.pem"]);
    ssl.run(&["pkcs8", "-topk8", "-nocrypt", "-in", "k.pem", "-outform", "DER", "-out", "k.der"]);
    ssl.run(&["pkey", "-in", "k.pem", "-pubout", "-out", "pub.pem"]);
    ssl.run(&["pkey", "-in", "k.pem", "-pubout", "-outform", "DER", "-out", "pub.der"]);
    KeyFiles {
        pem: ssl.read("k.pem"),
        der: ssl.read("k.der"),
        public_pem: ssl.read("pub.pem"),
        spki: ssl.read("pub.der"),
    }
}

/// One RSA-2048 key shared by the tests.
fn files() -> &'static KeyFiles {
    static FILES: OnceLock<KeyFiles> = OnceLock::new();
    FILES.get_or_init(|| generate(2048))
}

/// A scratch directory holding k.pem and pub.pem of `files`.
fn scratch(files: &KeyFiles) -> Openssl {
    let ssl = Openssl::new();
    ssl.write("k.pem", &files.pem);
    ssl.write("pub.pem", &files.public_pem);
    ssl
}

fn digest(hash: HashAlg, message: &[u8]) -> Vec<u8> {
    let mut hasher = Hasher::new(hash);
    hasher.update(message);
    hasher.finish()
}

const SHA1_PREFIX: &str = "3021300906052b0e03021a05000414";
const SHA224_PREFIX: &str = "302d300d06096086480165030402040500041c";
const SHA256_PREFIX: &str = "3031300d060960864801650304020105000420";
/// MD5("abc"), for the TLS 1.0/1.1 MD5 || SHA-1 input.
const MD5_ABC: &str = "900150983cd24fb0d6963f7d28e17f72";

/// Inputs AWS-LC cannot sign, with names for messages.
fn raw_inputs(modulus_len: usize) -> Vec<(&'static str, Vec<u8>)> {
    let tls = [hex(MD5_ABC), digest(HashAlg::Sha1, b"abc")].concat();
    assert_eq!(tls.len(), 36);
    vec![
        ("SHA-1 DigestInfo", [hex(SHA1_PREFIX), digest(HashAlg::Sha1, b"abc")].concat()),
        ("SHA-224 DigestInfo", [hex(SHA224_PREFIX), digest(HashAlg::Sha224, b"abc")].concat()),
        ("MD5 || SHA-1", tls),
        ("empty", vec![]),
        ("one byte", vec![0]),
        ("k - 11 bytes", (0..modulus_len - 11).map(|i| i as u8).collect()),
    ]
}

fn flip_bit(bytes: &[u8], index: usize) -> Vec<u8> {
    let mut flipped = bytes.to_vec();
    flipped[index] ^= 0x10;
    flipped
}

#[test]
fn type1_block_is_laid_out_as_rfc_8017_says() {
    let block = type1_block(b"ab", 16).unwrap();
    assert_eq!(block, hex("0001 ffffffffffffffffffffff 00 6162"));
    assert_eq!(type1_block(&[], 11).unwrap(), hex("0001 ffffffffffffffff 00"));
    assert!(matches!(err(type1_block(&[1], 11)), Error::DataLength(_)));
    assert!(matches!(err(type1_block(&[], 10)), Error::DataLength(_)));
    let full = type1_block(&[7; 245], 256).unwrap();
    assert_eq!((full.len(), &full[..11]), (256, &hex("0001 ffffffffffffffff 00")[..]));
    assert!(matches!(err(type1_block(&[7; 246], 256)), Error::DataLength(_)));
}

#[test]
fn raw_path_matches_aws_lc_for_sha2_digest_infos() {
    let files = files();
    let key = RsaPrivateKey::from_pkcs8(&files.der).unwrap();
    let d = digest(HashAlg::Sha256, b"same bytes either way");
    let info = [hex(SHA256_PREFIX), d.clone()].concat();
    let by_aws_lc = key.sign(RAW, &info).unwrap();
    assert_eq!(by_aws_lc, key.sign(RsaSignScheme::Pkcs1(HashAlg::Sha256), &d).unwrap());
    assert!(!key.raw_key_is_parsed(), "a SHA-256 DigestInfo must not take the raw path");
    let by_crypto_bigint = sign_pkcs1(key.raw_key().unwrap(), &info).unwrap();
    assert!(key.raw_key_is_parsed());
    assert_eq!(by_crypto_bigint, by_aws_lc);
    // And the raw verifier accepts AWS-LC's signature.
    let (n, e) = rsa_public_components(&files.spki).unwrap();
    verify_pkcs1(&n, &e, &info, &by_aws_lc).unwrap();
    assert!(matches!(err(verify_pkcs1(&n, &e, &info, &flip_bit(&by_aws_lc, 3))), Error::SignatureInvalid(_)));
}

#[test]
fn raw_signatures_equal_openssl_ones_and_openssl_verifies_them() {
    let files = files();
    let ssl = scratch(files);
    let key = RsaPrivateKey::from_pkcs8(&files.der).unwrap();
    for (name, input) in raw_inputs(256) {
        let signature = key.sign(RAW, &input).unwrap();
        assert_eq!(signature.len(), 256, "{name}");
        assert_eq!(key.sign(RAW, &input).unwrap(), signature, "{name}: blinding changed the result");
        ssl.write("data", &input);
        ssl.write("sig", &signature);
        // OpenSSL 3's pkeyutl takes 1 to 64 bytes for -sign and -verify without a digest (and
        // none for -verify, even under its own signature); rsautl and -verifyrecover take any.
        let pkcs1 = ["-pkeyopt", "rsa_padding_mode:pkcs1"];
        let recover =
            ["pkeyutl", "-verifyrecover", "-pubin", "-inkey", "pub.pem", "-in", "sig", "-out", "back"];
        ssl.run(&[&recover[..], &pkcs1[..]].concat());
        assert_eq!(ssl.read("back"), input, "{name}: OpenSSL recovers other data");
        if input.len() <= 64 {
            let sign = ["pkeyutl", "-sign", "-inkey", "k.pem", "-in", "data", "-out", "osig"];
            ssl.run(&[&sign[..], &pkcs1[..]].concat());
        } else {
            ssl.run(&["rsautl", "-sign", "-inkey", "k.pem", "-in", "data", "-out", "osig"]);
        }
        assert_eq!(ssl.read("osig"), signature, "{name}: OpenSSL signs differently");
        if (1..=64).contains(&input.len()) {
            let verify =
                ["pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-in", "data", "-sigfile", "sig"];
            ssl.run(&[&verify[..], &pkcs1[..]].concat());
        }
        let bad = flip_bit(&signature, 100);
        ssl.write("sig", &bad);
        assert!(!ssl.try_run(&[&recover[..], &pkcs1[..]].concat()).0, "{name}: OpenSSL took a bad signature");
        rsa_verify(&files.spki, RAW, &input, &signature).unwrap();
        assert!(
            matches!(err(rsa_verify(&files.spki, RAW, &input, &bad)), Error::SignatureInvalid(_)),
            "{name}"
        );
        let other = if input.is_empty() { vec![0] } else { flip_bit(&input, 0) };
        assert!(
            matches!(err(rsa_verify(&files.spki, RAW, &other, &signature)), Error::SignatureInvalid(_)),
            "{name}"
        );
    }
}

#[test]
fn inputs_over_k_minus_11_bytes_are_refused() {
    let files = files();
    let key = RsaPrivateKey::from_pkcs8(&files.der).unwrap();
    assert!(matches!(err(key.sign(RAW, &[1; 246])), Error::DataLength(_)));
    assert!(matches!(err(sign_pkcs1(key.raw_key().unwrap(), &[1; 246])), Error::DataLength(_)));
    assert!(matches!(err(rsa_verify(&files.spki, RAW, &[1; 246], &[1; 256])), Error::DataLength(_)));
    let signature = key.sign(RAW, &[1; 245]).unwrap();
    rsa_verify(&files.spki, RAW, &[1; 245], &signature).unwrap();
    assert!(matches!(
        err(rsa_verify(&files.spki, RAW, &[1; 245], &signature[1..])),
        Error::SignatureLength(_)
    ));
}

#[test]
fn a_faulty_private_operation_is_caught_by_the_public_exponent() {
    let files = files();
    let key = RsaPrivateKey::from_pkcs8(&files.der).unwrap();
    let input = hex("00112233");
    let good = sign_pkcs1(key.raw_key().unwrap(), &input).unwrap();
    let tampers: [fn(&mut RawRsaKey) -> &mut SecretBuf; 1] = [|k| &mut k.d];
    for tamper in tampers {
        let mut raw = RawRsaKey::from_pkcs8(&files.der).unwrap();
        assert_eq!(sign_pkcs1(&raw, &input).unwrap(), good);
        let component = tamper(&mut raw).as_mut_slice();
        let last = component.len() - 1;
        component[last] ^= 0x04;
        assert!(matches!(err(sign_pkcs1(&raw, &input)), Error::Failed(_)));
    }
}

#[test]
fn the_verifier_refuses_out_of_range_values() {
    let files = files();
    let (n, e) = rsa_public_components(&files.spki).unwrap();
    let input = b"x";
    // With e = 1 the encoded block would be its own signature.
    let block = type1_block(input, n.len()).unwrap();
    assert!(matches!(err(verify_pkcs1(&n, &[1], input, &block)), Error::SignatureInvalid(_)));
    assert!(matches!(err(verify_pkcs1(&n, &[4, 0, 0], input, &block)), Error::SignatureInvalid(_)));
    assert!(matches!(err(verify_pkcs1(&n, &[3, 0, 0, 0, 1], input, &block)), Error::SignatureInvalid(_)));
    // Signatures at or above n.
    assert!(matches!(err(verify_pkcs1(&n, &e, input, &n)), Error::SignatureInvalid(_)));
    assert!(matches!(err(verify_pkcs1(&n, &e, input, &[0xff; 256])), Error::SignatureInvalid(_)));
    assert!(matches!(err(verify_pkcs1(&n, &e, input, &[0; 256])), Error::SignatureInvalid(_)));
}

#[test]
fn concurrent_first_use_parses_once_and_agrees() {
    let files = files();
    let key = RsaPrivateKey::from_pkcs8(&files.der).unwrap();
    let input = [hex(SHA1_PREFIX), digest(HashAlg::Sha1, b"threads")].concat();
    let signatures: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4).map(|_| scope.spawn(|| key.sign(RAW, &input).unwrap())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(signatures.windows(2).all(|pair| pair[0] == pair[1]));
    rsa_verify(&files.spki, RAW, &input, &signatures[0]).unwrap();
}

#[test]
fn parsed_components_are_redacted() {
    let files = files();
    let key = RsaPrivateKey::from_pkcs8(&files.der).unwrap();
    let raw = key.raw_key().unwrap();
    let shown = format!("{raw:?} {key:?}");
    assert!(shown.contains("REDACTED") && !shown.contains("BoxedUint"), "{shown}");
    let d: String = raw.d.as_slice()[..8].iter().map(|b| format!("{b:02x}")).collect();
    assert!(!shown.to_lowercase().contains(&d), "{shown}");
}

#[test]
fn rsa_3072_raw_signature_equals_openssl() {
    let files = generate(3072);
    let ssl = scratch(&files);
    let key = RsaPrivateKey::from_pkcs8(&files.der).unwrap();
    let input = [hex(SHA1_PREFIX), digest(HashAlg::Sha1, b"3072")].concat();
    let signature = key.sign(RAW, &input).unwrap();
    assert_eq!(signature.len(), 384);
    ssl.write("data", &input);
    ssl.run(&[
        "pkeyutl",
        "-sign",
        "-inkey",
        "k.pem",
        "-in",
        "data",
        "-out",
        "osig",
        "-pkeyopt",
        "rsa_padding_mode:pkcs1",
    ]);
    assert_eq!(ssl.read("osig"), signature);
    rsa_verify(&files.spki, RAW, &input, &signature).unwrap();
    assert!(matches!(err(key.sign(RAW, &[0; 374])), Error::DataLength(_)));
    key.sign(RAW, &[0; 373]).unwrap();
}

/// `cargo test --release -p arca-daemon --lib rsa::raw -- --ignored --nocapture`
#[test]
#[ignore = "timing, not a check"]
fn time_raw_and_aws_lc_signatures() {
    let key = RsaPrivateKey::from_pkcs8(&files().der).unwrap();
    let sha1_info = [hex(SHA1_PREFIX), digest(HashAlg::Sha1, b"t")].concat();
    let sha256_info = [hex(SHA256_PREFIX), digest(HashAlg::Sha256, b"t")].concat();
    key.sign(RAW, &sha1_info).unwrap();
    let rounds = 50;
    for (name, input) in
        [("crypto-bigint (SHA-1 DigestInfo)", &sha1_info), ("AWS-LC (SHA-256 DigestInfo)", &sha256_info)]
    {
        let start = Instant::now();
        for _ in 0..rounds {
            key.sign(RAW, input).unwrap();
        }
        println!("RSA-2048 {name}: {:?} per signature", start.elapsed() / rounds);
    }
}

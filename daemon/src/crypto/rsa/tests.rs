//! Tests of `rsa`: round trips of every scheme, DigestInfo handling, length and padding errors,
//! and interoperability with the `openssl` command line in both directions.

use std::sync::OnceLock;

use super::sign::{DIGEST_INFO_PREFIXES, encoded_digest_info};
use super::*;
use crate::crypto::PairSpec;
use crate::crypto::digest::HashAlg;
use crate::crypto::digest::Hasher;
use crate::crypto::test_util::{Openssl, err};

/// One RSA-2048 key (generation is slow) shared by the tests, as PKCS#8.
fn key_der() -> &'static [u8] {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(|| rsa_generate(2048).unwrap().as_slice().to_vec())
}

fn key() -> RsaPrivateKey {
    RsaPrivateKey::from_pkcs8(key_der()).unwrap()
}

fn digest(hash: HashAlg, message: &[u8]) -> Vec<u8> {
    let mut hasher = Hasher::new(hash);
    hasher.update(message);
    hasher.finish()
}

fn digest_info_of(hash: HashAlg, digest: &[u8]) -> Vec<u8> {
    let prefix = DIGEST_INFO_PREFIXES.iter().find(|(h, _)| *h == hash).unwrap().1;
    [prefix, digest].concat()
}

const SIGNING_HASHES: [HashAlg; 3] = [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];

#[test]
fn every_supported_scheme_signs_and_verifies() {
    let key = key();
    assert_eq!(key.modulus_bits(), 2048);
    let spki = key.public_key_der().unwrap();
    assert_eq!(rsa_modulus_bytes(&spki).unwrap(), 256);
    for hash in SIGNING_HASHES {
        let d = digest(hash, b"message");
        let info = digest_info_of(hash, &d);
        let schemes = [
            (RsaSignScheme::Pkcs1(hash), &d),
            (RsaSignScheme::Pss { hash, salt_len: hash.output_len() }, &d),
            (RsaSignScheme::Pkcs1DigestInfo, &info),
        ];
        for (scheme, input) in schemes {
            let signature = key.sign(scheme, input).unwrap();
            assert_eq!(signature.len(), 256);
            rsa_verify(&spki, scheme, input, &signature).unwrap();
            let mut bad = signature.clone();
            bad[17] ^= 4;
            assert!(
                matches!(err(rsa_verify(&spki, scheme, input, &bad)), Error::SignatureInvalid(_)),
                "{scheme:?}"
            );
            let other = digest(hash, b"other");
            let other =
                if scheme == RsaSignScheme::Pkcs1DigestInfo { digest_info_of(hash, &other) } else { other };
            assert!(matches!(err(rsa_verify(&spki, scheme, &other, &signature)), Error::SignatureInvalid(_)));
            assert!(matches!(
                err(rsa_verify(&spki, scheme, input, &signature[1..])),
                Error::SignatureLength(_)
            ));
            assert!(matches!(err(rsa_verify(&spki, scheme, input, &[])), Error::SignatureLength(_)));
        }
    }
}

#[test]
fn digest_info_signature_equals_hash_scheme_signature() {
    let key = key();
    for hash in SIGNING_HASHES {
        let d = digest(hash, b"abc");
        let by_hash = key.sign(RsaSignScheme::Pkcs1(hash), &d).unwrap();
        let by_info = key.sign(RsaSignScheme::Pkcs1DigestInfo, &digest_info_of(hash, &d)).unwrap();
        assert_eq!(by_hash, by_info, "{hash:?}");
        let spki = key.public_key_der().unwrap();
        rsa_verify(&spki, RsaSignScheme::Pkcs1DigestInfo, &digest_info_of(hash, &d), &by_hash).unwrap();
    }
}

#[test]
fn inputs_other_than_a_sha2_digest_info_are_signed_too() {
    // CKM_RSA_PKCS signs any input up to k - 11 bytes; these take the `raw` path.
    let key = key();
    let spki = key.public_key_der().unwrap();
    let d = digest(HashAlg::Sha256, b"x");
    let info = digest_info_of(HashAlg::Sha256, &d);
    let mut no_null = info.clone();
    no_null.drain(15..17);
    no_null[1] -= 2;
    no_null[3] -= 2;
    let mut inputs = vec![
        vec![],
        d.clone(),
        info[..info.len() - 1].to_vec(),
        [&info[..], &[0]].concat(),
        no_null,
        vec![0x30; 50],
        vec![0; 245],
    ];
    for hash in [HashAlg::Sha1, HashAlg::Sha224] {
        inputs.push(digest_info_of(hash, &digest(hash, b"x")));
    }
    for input in inputs {
        let signature = key.sign(RsaSignScheme::Pkcs1DigestInfo, &input).unwrap();
        rsa_verify(&spki, RsaSignScheme::Pkcs1DigestInfo, &input, &signature).unwrap();
    }
    assert!(matches!(err(key.sign(RsaSignScheme::Pkcs1DigestInfo, &[0; 246])), Error::DataLength(_)));
}

#[test]
fn digest_lengths_and_salts_over_the_limit_are_refused() {
    let key = key();
    let spki = key.public_key_der().unwrap();
    for hash in HashAlg::ALL {
        for len in [0, hash.output_len() - 1, hash.output_len() + 1] {
            assert!(matches!(err(key.sign(RsaSignScheme::Pkcs1(hash), &vec![1; len])), Error::DataLength(_)));
            let pss = RsaSignScheme::Pss { hash, salt_len: hash.output_len() };
            assert!(matches!(err(key.sign(pss, &vec![1; len])), Error::DataLength(_)));
        }
        // Any salt from 0 to emLen - hLen - 2 (a 2048-bit key: 256 - hLen - 2), none longer.
        let limit = 256 - hash.output_len() - 2;
        assert_eq!(max_salt_len(hash, 2048), limit);
        let d = digest(hash, b"salted");
        for salt_len in [0, 20, hash.output_len() + 1, limit] {
            let pss = RsaSignScheme::Pss { hash, salt_len };
            let signature = key.sign(pss, &d).unwrap();
            rsa_verify(&spki, pss, &d, &signature).unwrap();
            let other = RsaSignScheme::Pss { hash, salt_len: salt_len + 1 };
            assert!(rsa_verify(&spki, other, &d, &signature).is_err(), "{hash:?} {salt_len}");
        }
        let too_long = RsaSignScheme::Pss { hash, salt_len: limit + 1 };
        assert!(matches!(err(key.sign(too_long, &d)), Error::ParameterInvalid(_)));
        assert!(matches!(err(rsa_verify(&spki, too_long, &d, &[0; 256])), Error::ParameterInvalid(_)));
    }
}

/// PKCS#1 v1.5 with SHA-1 and SHA-224 (CKM_SHA1_RSA_PKCS, CKM_SHA224_RSA_PKCS): the signature is
/// CKM_RSA_PKCS over the hash's DigestInfo; OpenSSL verifies ours and we verify its.
#[test]
fn sha1_and_sha224_pkcs1_signatures_agree_with_openssl() {
    let (ssl, der) = openssl_key();
    let key = RsaPrivateKey::from_pkcs8(&der).unwrap();
    let spki = ssl.read("pub.der");
    for (hash, name) in [(HashAlg::Sha1, "sha1"), (HashAlg::Sha224, "sha224")] {
        let scheme = RsaSignScheme::Pkcs1(hash);
        let prehash = digest(hash, b"legacy");
        let signature = key.sign(scheme, &prehash).unwrap();
        let info = encoded_digest_info(hash, &prehash).unwrap();
        assert_eq!(signature, key.sign(RsaSignScheme::Pkcs1DigestInfo, &info).unwrap(), "{name}");
        ssl.write("digest", &prehash);
        ssl.write("sig", &signature);
        let md = format!("digest:{name}");
        ssl.run(&[
            "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", "pub.der", "-in", "digest",
            "-sigfile", "sig", "-pkeyopt", &md,
        ]);
        ssl.run(&["pkeyutl", "-sign", "-inkey", "k.pem", "-in", "digest", "-out", "osig", "-pkeyopt", &md]);
        rsa_verify(&spki, scheme, &prehash, &ssl.read("osig")).unwrap();
        let mut other = prehash.clone();
        other[0] ^= 1;
        assert!(matches!(err(rsa_verify(&spki, scheme, &other, &signature)), Error::SignatureInvalid(_)));
    }
}

#[test]
fn encryption_round_trips_with_limits() {
    let key = key();
    let spki = key.public_key_der().unwrap();
    let schemes = [
        (RsaCryptScheme::Pkcs1, 245),
        (RsaCryptScheme::oaep(HashAlg::Sha1), 214),
        (RsaCryptScheme::oaep(HashAlg::Sha256), 190),
        (RsaCryptScheme::oaep(HashAlg::Sha512), 126),
        // SHA-224 and labels through the raw operation or AWS-LC.
        (RsaCryptScheme::oaep(HashAlg::Sha224), 198),
        (RsaCryptScheme::Oaep { hash: HashAlg::Sha224, label: b"label".to_vec() }, 198),
        (RsaCryptScheme::Oaep { hash: HashAlg::Sha256, label: b"label".to_vec() }, 190),
    ];
    for (scheme, limit) in schemes {
        for len in [0, 1, limit] {
            let plaintext = vec![0x5c; len];
            let ciphertext = rsa_encrypt(&spki, &scheme, &plaintext).unwrap();
            assert_eq!(ciphertext.len(), 256);
            assert_eq!(key.decrypt(&scheme, &ciphertext).unwrap().as_slice(), plaintext.as_slice());
        }
        assert!(
            matches!(err(rsa_encrypt(&spki, &scheme, &vec![0; limit + 1])), Error::DataLength(_)),
            "{scheme:?}"
        );
        let ciphertext = rsa_encrypt(&spki, &scheme, b"secret").unwrap();
        assert!(matches!(err(key.decrypt(&scheme, &ciphertext[1..])), Error::CiphertextLength(_)));
        assert!(matches!(err(key.decrypt(&scheme, &[])), Error::CiphertextLength(_)));
        let mut tampered = ciphertext.clone();
        tampered[0] ^= 0x01;
        tampered[100] ^= 0x40;
        assert!(matches!(err(key.decrypt(&scheme, &tampered)), Error::CiphertextInvalid(_)), "{scheme:?}");
        // A value above the modulus.
        assert!(matches!(err(key.decrypt(&scheme, &[0xff; 256])), Error::CiphertextInvalid(_)));
    }
    // The wrong scheme fails as invalid data, not with a panic.
    let ciphertext = rsa_encrypt(&spki, &RsaCryptScheme::Pkcs1, b"secret").unwrap();
    assert!(matches!(
        err(key.decrypt(&RsaCryptScheme::oaep(HashAlg::Sha1), &ciphertext)),
        Error::CiphertextInvalid(_)
    ));
}

/// An OpenSSL-generated RSA-2048 key: (scratch dir holding k.pem, pub.der; PKCS#8 DER).
fn openssl_key() -> (Openssl, Vec<u8>) {
    let ssl = Openssl::new();
    ssl.run(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "k.pem"]);
    ssl.run(&["pkcs8", "-topk8", "-nocrypt", "-in", "k.pem", "-outform", "DER", "-out", "k.der"]);
    ssl.run(&["pkey", "-in", "k.pem", "-pubout", "-outform", "DER", "-out", "pub.der"]);
    let der = ssl.read("k.der");
    (ssl, der)
}

#[test]
fn openssl_verifies_our_signatures_and_we_verify_its() {
    let (ssl, der) = openssl_key();
    let key = RsaPrivateKey::from_pkcs8(&der).unwrap();
    let spki = ssl.read("pub.der");
    assert_eq!(key.public_key_der().unwrap(), spki);
    for (hash, name) in [(HashAlg::Sha256, "sha256"), (HashAlg::Sha512, "sha512")] {
        let d = digest(hash, b"interop");
        ssl.write("digest", &d);
        let md = format!("digest:{name}");
        let pkcs1 = key.sign(RsaSignScheme::Pkcs1(hash), &d).unwrap();
        ssl.write("sig", &pkcs1);
        let verify =
            ["pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", "pub.der", "-in", "digest"];
        ssl.run(&[&verify[..], &["-sigfile", "sig", "-pkeyopt", &md]].concat());
        let pss_opts = ["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:digest"];
        let pss = key.sign(RsaSignScheme::Pss { hash, salt_len: hash.output_len() }, &d).unwrap();
        ssl.write("sig", &pss);
        ssl.run(&[&verify[..], &["-sigfile", "sig", "-pkeyopt", &md], &pss_opts[..]].concat());
        // And the other way: OpenSSL's PSS signature verifies here.
        ssl.run(&[&["pkeyutl", "-sign", "-inkey", "k.pem", "-in", "digest", "-out", "osig", "-pkeyopt", &md][..], &pss_opts[..]].concat());
        let scheme = RsaSignScheme::Pss { hash, salt_len: hash.output_len() };
        rsa_verify(&spki, scheme, &d, &ssl.read("osig")).unwrap();
    }
    // A legacy SHA-1 PKCS#1 signature from OpenSSL verifies, under both schemes.
    let d = digest(HashAlg::Sha1, b"legacy");
    ssl.write("digest", &d);
    ssl.run(&[
        "pkeyutl",
        "-sign",
        "-inkey",
        "k.pem",
        "-in",
        "digest",
        "-out",
        "osig",
        "-pkeyopt",
        "digest:sha1",
    ]);
    let signature = ssl.read("osig");
    rsa_verify(&spki, RsaSignScheme::Pkcs1(HashAlg::Sha1), &d, &signature).unwrap();
    let info = digest_info_of(HashAlg::Sha1, &d);
    rsa_verify(&spki, RsaSignScheme::Pkcs1DigestInfo, &info, &signature).unwrap();
}

#[test]
fn openssl_ciphertexts_decrypt_here() {
    let (ssl, der) = openssl_key();
    let key = RsaPrivateKey::from_pkcs8(&der).unwrap();
    ssl.write("plain", b"a 32-byte AES key, more or less!");
    let cases = [
        (RsaCryptScheme::Pkcs1, vec!["-pkeyopt", "rsa_padding_mode:pkcs1"]),
        (
            RsaCryptScheme::oaep(HashAlg::Sha256),
            vec![
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                "rsa_oaep_md:sha256",
                "-pkeyopt",
                "rsa_mgf1_md:sha256",
            ],
        ),
        (RsaCryptScheme::oaep(HashAlg::Sha1), vec!["-pkeyopt", "rsa_padding_mode:oaep"]),
    ];
    for (scheme, options) in cases {
        let encrypt = [
            "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", "pub.der", "-in", "plain", "-out",
            "ct",
        ];
        ssl.run(&[&encrypt[..], &options[..]].concat());
        let plaintext = key.decrypt(&scheme, &ssl.read("ct")).unwrap();
        assert_eq!(plaintext.as_slice(), b"a 32-byte AES key, more or less!", "{scheme:?}");
        // And OpenSSL decrypts ours.
        let ours = rsa_encrypt(&ssl.read("pub.der"), &scheme, b"from arca").unwrap();
        ssl.write("ct", &ours);
        let decrypt = ["pkeyutl", "-decrypt", "-inkey", "k.pem", "-in", "ct", "-out", "back"];
        ssl.run(&[&decrypt[..], &options[..]].concat());
        assert_eq!(ssl.read("back"), b"from arca");
    }
}

#[test]
fn keys_of_other_types_and_sizes_are_refused() {
    let ssl = Openssl::new();
    ssl.run(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1016", "-out", "small.pem"]);
    ssl.run(&["pkcs8", "-topk8", "-nocrypt", "-in", "small.pem", "-outform", "DER", "-out", "small.der"]);
    ssl.run(&["pkey", "-in", "small.pem", "-pubout", "-outform", "DER", "-out", "small.pub"]);
    assert!(matches!(err(RsaPrivateKey::from_pkcs8(&ssl.read("small.der"))), Error::KeySize(_)));
    let small_pub = ssl.read("small.pub");
    assert!(matches!(err(rsa_modulus_bytes(&small_pub)), Error::KeySize(_)));
    assert!(matches!(err(rsa_encrypt(&small_pub, &RsaCryptScheme::Pkcs1, b"x")), Error::KeySize(_)));
    let ec = crate::crypto::ec::ec_generate(PairSpec::EccNistP256).unwrap();
    assert!(matches!(err(RsaPrivateKey::from_pkcs8(ec.as_slice())), Error::KeyType(_)));
    let ec_pub =
        crate::crypto::ec::EcPrivateKey::from_pkcs8(ec.as_slice()).unwrap().public_key_der().unwrap();
    let d = digest(HashAlg::Sha256, b"");
    assert!(matches!(
        err(rsa_verify(&ec_pub, RsaSignScheme::Pkcs1(HashAlg::Sha256), &d, &[0; 256])),
        Error::KeyType(_)
    ));
    for garbage in [&[][..], &[0x30, 0x00], &[0xff; 40], &key_der()[..100]] {
        assert!(RsaPrivateKey::from_pkcs8(garbage).is_err());
        assert!(rsa_verify(garbage, RsaSignScheme::Pkcs1DigestInfo, &[], &[]).is_err());
        assert!(rsa_encrypt(garbage, &RsaCryptScheme::Pkcs1, b"").is_err());
        assert!(rsa_modulus_bytes(garbage).is_err());
    }
    for bits in [0, 1000, 1016, 1025, 2047, 2049, 4104, 5000, 8192] {
        assert!(matches!(err(rsa_generate(bits)), Error::KeySize(_)), "{bits}");
    }
    let shown = format!("{:?}", key());
    assert!(shown.contains("REDACTED") && shown.contains("2048"), "{shown}");
}

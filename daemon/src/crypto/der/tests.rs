//! Tests of `der`: round trips between attribute forms and DER, keys rebuilt from OpenSSL's
//! components, spec detection, and garbage that must fail without panicking.

use std::collections::BTreeMap;

use super::*;
use crate::crypto::digest::{HashAlg, Hasher};
use crate::crypto::ec::{EcPrivateKey, ec_generate, ec_pkcs8_from_scalar};
use crate::crypto::rsa::{RsaPrivateKey, RsaSignScheme, rsa_generate, rsa_pkcs8_from_components, rsa_verify};
use crate::crypto::test_util::{Openssl, err, hex};

fn rsa_spki_of(pkcs8: &[u8]) -> Vec<u8> {
    RsaPrivateKey::from_pkcs8(pkcs8).unwrap().public_key_der().unwrap()
}

fn ec_spki_of(pkcs8: &[u8]) -> Vec<u8> {
    EcPrivateKey::from_pkcs8(pkcs8).unwrap().public_key_der().unwrap()
}

/// The labelled hex blocks of `openssl rsa|ec -text -noout` (inline values such as
/// "publicExponent: 65537 (0x10001)" are taken from their hex form).
fn openssl_text_fields(text: &str) -> BTreeMap<String, Vec<u8>> {
    let mut fields = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.starts_with(' ') {
            fields.entry(current.clone()).or_insert_with(Vec::new).extend(hex(line.trim()));
        } else if let Some((label, value)) = line.split_once(':') {
            current = label.trim().to_owned();
            if let Some(inline) = value.split_once("(0x").map(|(_, h)| h.trim_end_matches(')')) {
                let inline = if inline.len() % 2 == 1 { format!("0{inline}") } else { inline.to_owned() };
                fields.insert(current.clone(), hex(&inline));
            }
        }
    }
    fields
}

#[test]
fn rsa_public_components_round_trip() {
    let der = rsa_generate(2048).unwrap();
    let spki = rsa_spki_of(der.as_slice());
    let (modulus, exponent) = rsa_public_components(&spki).unwrap();
    assert_eq!(modulus.len(), 256);
    assert_ne!(modulus[0], 0);
    assert_eq!(exponent, vec![1, 0, 1]);
    assert_eq!(rsa_spki(&modulus, &exponent).unwrap(), spki);
    // Leading zeros in the attributes are ignored.
    assert_eq!(rsa_spki(&[&[0, 0][..], &modulus].concat(), &[0, 1, 0, 1]).unwrap(), spki);
    assert_eq!(spki_spec(&spki).unwrap(), PairSpec::Rsa2048);
    assert_eq!(pkcs8_spec(der.as_slice()).unwrap(), PairSpec::Rsa2048);
    let mut even = modulus.clone();
    *even.last_mut().unwrap() &= 0xfe;
    for (n, e) in [
        (&even[..], &[1, 0, 1][..]),
        (&modulus, &[]),
        (&modulus, &[1]),
        (&modulus, &[2]),
        (&[], &[3]),
        (&[3], &[3]),
    ] {
        assert!(matches!(err(rsa_spki(n, e)), Error::Encoding(_)));
    }
}

#[test]
fn ec_points_round_trip_and_are_validated() {
    let specs = [
        (PairSpec::EccNistP256, P256_PARAMS),
        (PairSpec::EccNistP384, P384_PARAMS),
        (PairSpec::EccNistP521, P521_PARAMS),
        (PairSpec::EccSecgP256k1, K256_PARAMS),
    ];
    for (spec, params) in specs {
        assert_eq!(ec_params(spec), Some(params));
        assert_eq!(ec_spec_from_params(params).unwrap(), spec);
        let der = ec_generate(spec).unwrap();
        let spki = ec_spki_of(der.as_slice());
        let point = ec_point_from_spki(&spki).unwrap();
        let bare = &point[point.len() - (1 + 2 * spec.coordinate_len().unwrap())..];
        assert_eq!(point[0], 0x04);
        assert_eq!(bare[0], 0x04);
        assert_eq!(ec_spki(spec, &point).unwrap(), spki);
        assert_eq!(ec_spki(spec, bare).unwrap(), spki);
        assert_eq!(spki_spec(&spki).unwrap(), spec);
        assert_eq!(pkcs8_spec(der.as_slice()).unwrap(), spec);
        let mut off_curve = point.clone();
        *off_curve.last_mut().unwrap() ^= 1;
        let other = if spec == PairSpec::EccNistP256 { PairSpec::EccNistP384 } else { PairSpec::EccNistP256 };
        for bad in [&off_curve[..], &point[1..], &point[..point.len() - 1], &[], &[0x04, 0x00]] {
            assert!(matches!(err(ec_spki(spec, bad)), Error::Encoding(_)));
        }
        assert!(matches!(err(ec_spki(other, &point)), Error::Encoding(_)));
    }
    assert_eq!(ec_params(PairSpec::Rsa2048), None);
    assert!(matches!(err(ec_spki(PairSpec::Rsa3072, &[4; 65])), Error::CurveUnsupported(_)));
    // P-224, Ed448 and X448 (by OID and by name) are not offered.
    for params in ["06052b81040021", "06032b6571", "06032b656f", "130a65647761726473343438"] {
        assert!(matches!(err(ec_spec_from_params(&hex(params))), Error::CurveUnsupported(_)), "{params}");
    }
    for (params, spec) in [
        ("06032b6570", PairSpec::Ed25519),
        ("130c656477617264733235353139", PairSpec::Ed25519),
        ("06092b06010401da470f01", PairSpec::Ed25519),
        ("06032b656e", PairSpec::X25519),
        ("130a63757276653235353139", PairSpec::X25519),
    ] {
        assert_eq!(ec_spec_from_params(&hex(params)).unwrap(), spec, "{params}");
    }
    assert!(matches!(err(ec_spec_from_params(&[0x05, 0x00])), Error::CurveUnsupported(_)));
    for bad in [&[][..], &[0x06], &[0x06, 0x08, 0x2a], &[P256_PARAMS, &[0][..]].concat()] {
        assert!(matches!(err(ec_spec_from_params(bad)), Error::Encoding(_)), "{bad:02x?}");
    }
}

#[test]
fn rsa_key_rebuilt_from_openssl_components_signs_verifiably() {
    let ssl = Openssl::new();
    ssl.run(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "k.pem"]);
    ssl.run(&["pkcs8", "-topk8", "-nocrypt", "-in", "k.pem", "-outform", "DER", "-out", "k.der"]);
    ssl.run(&["pkey", "-in", "k.pem", "-pubout", "-outform", "DER", "-out", "pub.der"]);
    let f = openssl_text_fields(&ssl.run(&["rsa", "-in", "k.pem", "-text", "-noout"]));
    let field = |name: &str| f.get(name).unwrap_or_else(|| panic!("no {name} in {f:?}")).as_slice();
    let parts = RsaPrivateComponents {
        modulus: field("modulus"),
        public_exponent: field("publicExponent"),
        private_exponent: field("privateExponent"),
        prime_1: field("prime1"),
        prime_2: field("prime2"),
        exponent_1: field("exponent1"),
        exponent_2: field("exponent2"),
        coefficient: field("coefficient"),
    };
    assert_eq!(format!("{parts:?}"), "RsaPrivateComponents([REDACTED])");
    let pkcs8 = rsa_pkcs8_from_components(&parts).unwrap();
    assert_eq!(pkcs8.as_slice(), ssl.read("k.der").as_slice(), "the same PKCS#8 as OpenSSL's");
    let key = RsaPrivateKey::from_pkcs8(pkcs8.as_slice()).unwrap();
    let mut hasher = Hasher::new(HashAlg::Sha256);
    hasher.update(b"rebuilt");
    let digest = hasher.finish();
    let signature = key.sign(RsaSignScheme::Pkcs1(HashAlg::Sha256), &digest).unwrap();
    rsa_verify(&ssl.read("pub.der"), RsaSignScheme::Pkcs1(HashAlg::Sha256), &digest, &signature).unwrap();
    ssl.write("digest", &digest);
    ssl.write("sig", &signature);
    ssl.run(&[
        "pkeyutl",
        "-verify",
        "-inkey",
        "k.pem",
        "-in",
        "digest",
        "-sigfile",
        "sig",
        "-pkeyopt",
        "digest:sha256",
    ]);

    // Inconsistent or missing components are refused.
    let mut coefficient = parts.coefficient.to_vec();
    coefficient[10] ^= 1;
    let mut prime = parts.prime_1.to_vec();
    *prime.last_mut().unwrap() ^= 2;
    let mut modulus = parts.modulus.to_vec();
    modulus[1] ^= 0x10;
    let bad = [
        RsaPrivateComponents { coefficient: &coefficient, ..parts },
        RsaPrivateComponents { prime_1: &prime, ..parts },
        RsaPrivateComponents { modulus: &modulus, ..parts },
        RsaPrivateComponents { exponent_2: &[], ..parts },
        RsaPrivateComponents { public_exponent: &[3], ..parts },
    ];
    for parts in bad {
        assert!(matches!(err(rsa_pkcs8_from_components(&parts)), Error::Encoding(_)));
    }
}

#[test]
fn ec_key_rebuilt_from_an_openssl_scalar_has_openssls_public_key() {
    let ssl = Openssl::new();
    for (curve, spec) in [("P-256", PairSpec::EccNistP256), ("P-384", PairSpec::EccNistP384)] {
        ssl.run(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            &format!("ec_paramgen_curve:{curve}"),
            "-out",
            "k.pem",
        ]);
        ssl.run(&["pkey", "-in", "k.pem", "-pubout", "-outform", "DER", "-out", "pub.der"]);
        let f = openssl_text_fields(&ssl.run(&["ec", "-in", "k.pem", "-text", "-noout"]));
        let pkcs8 = ec_pkcs8_from_scalar(spec, &f["priv"]).unwrap();
        assert_eq!(ec_spki_of(pkcs8.as_slice()), ssl.read("pub.der"));
        assert_eq!(pkcs8_spec(pkcs8.as_slice()).unwrap(), spec);
    }
    // Scalar 1 (short, left-padded) gives the generator; 0, the order and over-long values fail.
    let one = ec_pkcs8_from_scalar(PairSpec::EccNistP256, &[1]).unwrap();
    let generator = "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296\
                     4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
    assert_eq!(ec_point_from_spki(&ec_spki_of(one.as_slice())).unwrap()[2..], hex(generator)[..]);
    let order = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    for bad in [&[][..], &[0; 32], &order, &[1; 33]] {
        assert!(matches!(err(ec_pkcs8_from_scalar(PairSpec::EccNistP256, bad)), Error::Encoding(_)));
    }
    assert!(ec_pkcs8_from_scalar(PairSpec::EccNistP256, &[&[0][..], &[7; 32]].concat()).is_ok());
    assert!(matches!(err(ec_pkcs8_from_scalar(PairSpec::Rsa2048, &[1])), Error::CurveUnsupported(_)));
}

#[test]
fn specs_of_other_algorithms_and_sizes_are_refused() {
    let ssl = Openssl::new();
    // Below the token's 1024 bits; 1024 itself and other sizes up to 4096 are RSA_OTHER.
    for (bits, spec) in [(1016, None), (1024, Some(PairSpec::RsaOther)), (1032, Some(PairSpec::RsaOther))] {
        let keygen = format!("rsa_keygen_bits:{bits}");
        ssl.run(&["genpkey", "-algorithm", "RSA", "-pkeyopt", &keygen, "-out", "r.pem"]);
        ssl.run(&["pkcs8", "-topk8", "-nocrypt", "-in", "r.pem", "-outform", "DER", "-out", "r.der"]);
        ssl.run(&["pkey", "-in", "r.pem", "-pubout", "-outform", "DER", "-out", "r.pub"]);
        match spec {
            None => {
                assert!(matches!(err(pkcs8_spec(&ssl.read("r.der"))), Error::KeySize(_)));
                assert!(matches!(err(spki_spec(&ssl.read("r.pub"))), Error::KeySize(_)));
            }
            Some(spec) => {
                assert_eq!(pkcs8_spec(&ssl.read("r.der")).unwrap(), spec);
                assert_eq!(spki_spec(&ssl.read("r.pub")).unwrap(), spec);
            }
        }
    }
    ssl.run(&["genpkey", "-algorithm", "ED448", "-out", "e.pem"]);
    ssl.run(&["pkcs8", "-topk8", "-nocrypt", "-in", "e.pem", "-outform", "DER", "-out", "e.der"]);
    ssl.run(&["pkey", "-in", "e.pem", "-pubout", "-outform", "DER", "-out", "e.pub"]);
    assert!(matches!(err(pkcs8_spec(&ssl.read("e.der"))), Error::KeyType(_)));
    assert!(matches!(err(spki_spec(&ssl.read("e.pub"))), Error::KeyType(_)));
    assert!(matches!(err(rsa_public_components(&ssl.read("e.pub"))), Error::KeyType(_)));
    assert!(matches!(err(ec_point_from_spki(&ssl.read("e.pub"))), Error::KeyType(_)));
    ssl.run(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-224", "-out", "p224.pem"]);
    ssl.run(&["pkey", "-in", "p224.pem", "-pubout", "-outform", "DER", "-out", "p224.pub"]);
    assert!(matches!(err(spki_spec(&ssl.read("p224.pub"))), Error::CurveUnsupported(_)));
    // Ed25519 and X25519 documents are named by their RFC 8410 OIDs.
    for (algorithm, spec) in [("ED25519", PairSpec::Ed25519), ("X25519", PairSpec::X25519)] {
        ssl.run(&["genpkey", "-algorithm", algorithm, "-outform", "DER", "-out", "c.der"]);
        ssl.run(&["pkey", "-inform", "DER", "-in", "c.der", "-pubout", "-outform", "DER", "-out", "c.pub"]);
        assert_eq!(pkcs8_spec(&ssl.read("c.der")).unwrap(), spec);
        assert_eq!(spki_spec(&ssl.read("c.pub")).unwrap(), spec);
        assert_eq!(ec_point_from_spki(&ssl.read("c.pub")).unwrap()[..2], [0x04, 0x20]);
    }
}

/// Truncations and bit flips of valid documents: every parser returns, none panics, and a
/// truncated document is never accepted.
#[test]
fn garbage_never_panics() {
    let rsa = rsa_generate(2048).unwrap().as_slice().to_vec();
    let ec = ec_generate(PairSpec::EccNistP384).unwrap().as_slice().to_vec();
    let docs = [rsa_spki_of(&rsa), ec_spki_of(&ec), rsa, ec];
    for doc in &docs {
        for cut in 0..doc.len() {
            let piece = &doc[..cut];
            assert!(pkcs8_spec(piece).is_err() && spki_spec(piece).is_err());
            assert!(rsa_public_components(piece).is_err() && ec_point_from_spki(piece).is_err());
            let _ = ec_spec_from_params(piece);
            let _ = ec_spki(PairSpec::EccNistP256, piece);
        }
        for i in (0..doc.len()).step_by(3) {
            let mut flipped = doc.clone();
            flipped[i] ^= 0x81;
            let _ = (pkcs8_spec(&flipped), spki_spec(&flipped), rsa_public_components(&flipped));
            let _ = (ec_point_from_spki(&flipped), ec_spki(PairSpec::EccNistP384, &flipped));
        }
    }
    for junk in [&[][..], &[0], &[0x30], &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff], &[0x30, 0x80, 0x00, 0x00]] {
        assert!(
            pkcs8_spec(junk).is_err() && spki_spec(junk).is_err() && rsa_public_components(junk).is_err()
        );
    }
}

//! pkcs11-tool on the curves beyond P-256, a part of `pkcs11_tool.rs`'s scenario.

use std::process::Command;

use super::{Tool, find, listed};

/// P-521 and secp256k1 by pkcs11-tool's curve names, their signatures checked by OpenSSL; on Arca
/// also Ed25519 (`EC:edwards25519`, which pkcs11-tool 0.23 names by GnuPG's OID, unknown to
/// SoftHSM 2.6.1) with `-m EDDSA`.
pub(super) fn curves(tool: &Tool) {
    for (curve, id, hash, len) in [("secp521r1", "21", "sha512", 132), ("secp256k1", "22", "sha256", 64)] {
        let out = tool.user(&format!("--keypairgen --key-type EC:{curve} --label {curve} --id {id}"));
        assert!(out.contains("Key pair generated"), "{curve}: {out}");
        tool.openssl(&format!("dgst -{hash} -binary -out msg.{hash} msg.txt"));
        tool.user(&format!("--sign --id {id} -m ECDSA -i msg.{hash} -o {curve}.sig"));
        assert_eq!(tool.read(&format!("{curve}.sig")).len(), len, "{curve}: r||s");
        let ok =
            tool.user(&format!("--verify --id {id} -m ECDSA -i msg.{hash} --signature-file {curve}.sig"));
        assert!(ok.contains("Signature is valid"), "{curve}: {ok}");
        tool.user(&format!(
            "--sign --id {id} -m ECDSA --signature-format openssl -i msg.{hash} -o {curve}.der"
        ));
        tool.user(&format!("--read-object --type pubkey --id {id} -o {curve}.pub.der"));
        let line =
            format!("dgst -{hash} -keyform DER -verify {curve}.pub.der -signature {curve}.der msg.txt");
        assert!(tool.openssl(&line).contains("Verified OK"), "{curve}");
        let bad = format!("dgst -{hash} -keyform DER -verify {curve}.pub.der -signature {curve}.der bad.txt");
        let refused =
            Command::new("openssl").args(bad.split_whitespace()).current_dir(&tool.dir).output().unwrap();
        assert!(!refused.status.success(), "{curve}: OpenSSL verified the wrong message");
    }
    if !tool.arca() {
        return;
    }
    let out = tool.user("--keypairgen --key-type EC:edwards25519 --label ed1 --id 23");
    assert!(out.contains("Key pair generated"), "{out}");
    tool.user("--sign --id 23 -m EDDSA -i msg.txt -o ed.sig");
    assert_eq!(tool.read("ed.sig").len(), 64);
    let ok = tool.user("--verify --id 23 -m EDDSA -i msg.txt --signature-file ed.sig");
    assert!(ok.contains("Signature is valid"), "{ok}");
    let (_, bad) = tool.user_any("--verify --id 23 -m EDDSA -i bad.txt --signature-file ed.sig");
    assert!(!bad.contains("Signature is valid"), "{bad}");
    // OpenSSL checks the signature with the SubjectPublicKeyInfo made from CKA_EC_POINT.
    let objects = listed(&tool.user("-O"));
    let public = find(&objects, "Public Key Object", "ed1");
    let point = public.field("EC_POINT");
    let key = point.get(point.len().saturating_sub(64)..).unwrap_or_default();
    let spki: Vec<u8> =
        [&[0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00][..], &hex(key)].concat();
    std::fs::write(tool.dir.join("ed.pub.der"), spki).unwrap();
    let line = "pkeyutl -verify -rawin -pubin -keyform DER -inkey ed.pub.der -in msg.txt -sigfile ed.sig";
    assert!(tool.openssl(line).contains("Signature Verified Successfully"));
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len() / 2).filter_map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()).collect()
}

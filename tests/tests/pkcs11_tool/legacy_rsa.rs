//! pkcs11-tool with a legacy 1024-bit RSA key pair, on Arca and SoftHSM2 alike (part of the
//! `pkcs11_tool` scenario).

use super::{MESSAGE, Tool};

/// A 1024-bit key pair (SoftHSM2's default test size): PKCS#1 v1.5 and PSS with SHA-1 and
/// SHA-224 and a salt of 10 bytes, CKM_RSA_X_509, OAEP with SHA-224 (Arca), checked by OpenSSL.
/// The key stays on the token for `--test`.
pub(super) fn legacy_rsa(tool: &Tool) {
    let rsa = tool.user("--keypairgen --key-type RSA:1024 --label rsa1024 --id 05");
    assert!(rsa.contains("Key pair generated") && rsa.contains("RSA 1024 bits"), "{rsa}");
    tool.user("--read-object --type pubkey --id 05 -o rsa1024.pub.der");
    let sign_verify = |key: &str, input: &str, sig: &str| {
        tool.user(&format!("--sign {key} -i {input} -o {sig}"));
        let ok = tool.user(&format!("--verify {key} -i {input} --signature-file {sig}"));
        assert!(ok.contains("Signature is valid"), "{key}: {ok}");
        assert_eq!(tool.read(sig).len(), 128, "{key}");
    };
    let verify = |hash: &str, options: &str, sig: &str| {
        let line =
            format!("dgst -{hash} -keyform DER -verify rsa1024.pub.der {options} -signature {sig} msg.txt");
        assert!(tool.openssl(&line).contains("Verified OK"), "{sig}");
    };
    sign_verify("--id 05 -m SHA256-RSA-PKCS", "msg.txt", "l-pkcs.sig");
    verify("sha256", "", "l-pkcs.sig");
    let pss = "-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:10";
    for (mechanism, hash, mgf) in
        [("SHA1-RSA-PKCS-PSS", "sha1", "SHA1"), ("SHA224-RSA-PKCS-PSS", "sha224", "SHA224")]
    {
        let key = format!("--id 05 -m {mechanism} --mgf MGF1-{mgf} --salt-len 10");
        sign_verify(&key, "msg.txt", &format!("l-{hash}.sig"));
        verify(hash, pss, &format!("l-{hash}.sig"));
    }
    // CKM_RSA_X_509 of a k-byte block: OpenSSL recovers it unpadded.
    let mut block = vec![0u8; 128];
    block[1..].iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
    std::fs::write(tool.dir.join("block.bin"), &block).unwrap();
    tool.user("--sign --id 05 -m RSA-X-509 -i block.bin -o x509.sig");
    tool.openssl(
        "pkeyutl -verifyrecover -pubin -keyform DER -inkey rsa1024.pub.der -pkeyopt rsa_padding_mode:none \
         -in x509.sig -out x509.out",
    );
    assert_eq!(tool.read("x509.out"), block);
    if tool.arca() {
        // SoftHSM 2.6 takes OAEP with SHA-1 only.
        tool.openssl(
            "pkeyutl -encrypt -pubin -keyform DER -inkey rsa1024.pub.der -pkeyopt rsa_padding_mode:oaep \
             -pkeyopt rsa_oaep_md:sha224 -pkeyopt rsa_mgf1_md:sha224 -in msg.txt -out l-oaep.bin",
        );
        let oaep = "-m RSA-PKCS-OAEP --hash-algorithm SHA224 --mgf MGF1-SHA224";
        tool.user(&format!("--decrypt --id 05 {oaep} -i l-oaep.bin -o l-oaep.out"));
        assert_eq!(tool.read("l-oaep.out"), MESSAGE.as_bytes());
    }
}

//! arcactl's key pair and MAC commands against a real daemon, with OpenSSL as the outside judge:
//! it verifies arcactl's signatures, encrypts what arcactl decrypts and reads the keys it returns.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arca_tests::{Daemon, binary};
use serde_json::Value;

/// The exit status of verify and verify-mac when the signature or MAC is not valid.
const NOT_VALID: i32 = 3;

struct Cli<'a> {
    daemon: &'a Daemon,
    dir: &'a Path,
}

impl Cli<'_> {
    /// arcactl in table mode, as a person runs it.
    fn raw(&self, args: &[&str]) -> Output {
        Command::new(binary("arcactl")).arg("--socket").arg(&self.daemon.socket).args(args).output().unwrap()
    }

    fn json(&self, args: &[&str]) -> Output {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        self.raw(&all)
    }

    /// Runs arcactl with JSON output, expecting exit status 0, and parses what it printed.
    fn ok(&self, args: &[&str]) -> Value {
        let output = self.json(args);
        assert!(output.status.success(), "arcactl {args:?}: {}", describe(&output));
        let text = String::from_utf8(output.stdout).unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    /// Runs arcactl with JSON output; returns the exit status and what it printed.
    fn status(&self, args: &[&str]) -> (i32, Value) {
        let output = self.json(args);
        let code = output.status.code().unwrap_or(-1);
        (code, serde_json::from_slice(&output.stdout).unwrap_or(Value::Null))
    }

    fn create_key(&self, spec: &str, usage: &str) -> String {
        let created = self.ok(&["create-key", "--key-spec", spec, "--key-usage", usage]);
        assert_eq!(created["key_metadata"]["key_spec"], spec, "{created}");
        assert_eq!(created["key_metadata"]["key_usage"], usage, "{created}");
        text(&created["key_metadata"], "key_id")
    }

    /// `get-public-key KEY --pem > pub-KEY.pem`, as a shell user would save it.
    fn save_pem(&self, key: &str) -> PathBuf {
        let output = self.raw(&["get-public-key", key, "--pem"]);
        assert!(output.status.success(), "get-public-key: {}", describe(&output));
        let text = String::from_utf8(output.stdout.clone()).unwrap();
        assert!(text.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{text}");
        assert!(text.ends_with("-----END PUBLIC KEY-----\n"), "{text}");
        assert!(text.lines().all(|line| line.len() <= 64), "{text}");
        let path = self.dir.join(format!("pub-{key}.pem"));
        std::fs::write(&path, &output.stdout).unwrap();
        path
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_owned()
    }
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}; stdout {}; stderr {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_else(|| panic!("{field} missing in {value}")).to_owned()
}

/// Runs openssl, expecting success; returns its stdout.
fn openssl(args: &[&str]) -> Vec<u8> {
    let output = Command::new("openssl").args(args).output().expect("run openssl");
    assert!(output.status.success(), "openssl {args:?}: {}", describe(&output));
    output.stdout
}

/// Standard-alphabet base64 (the tests crate has no base64 dependency).
fn unbase64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bytes = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for symbol in text.bytes().filter(|b| *b != b'=') {
        let value =
            ALPHABET.iter().position(|a| *a == symbol).unwrap_or_else(|| panic!("not base64: {text}"));
        buffer = (buffer << 6) | u32::try_from(value).unwrap();
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push(u8::try_from((buffer >> bits) & 0xff).unwrap());
        }
    }
    bytes
}

/// Signs `msg.txt` with arcactl and checks the signature with `openssl dgst` and with arcactl verify.
fn sign_and_check(cli: &Cli<'_>, key: &str, algorithm: &str, sigopts: &[&str]) {
    let (message, signature) = (cli.path("msg.txt"), cli.path(&format!("sig-{algorithm}.bin")));
    std::fs::write(&message, "pay 100 to alice\n").unwrap();
    let signed = cli.ok(&[
        "sign",
        "--key-id",
        key,
        "--signing-algorithm",
        algorithm,
        "--message-file",
        &message,
        "--out",
        &signature,
    ]);
    assert_eq!(text(&signed, "key_id"), key);
    assert_eq!(text(&signed, "signing_algorithm"), algorithm);
    assert!(signed.get("signature").is_none(), "--out keeps the signature off stdout: {signed}");
    let mode = std::fs::metadata(&signature).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let pem = cli.save_pem(key);
    let mut args = vec!["dgst", "-sha256"];
    for option in sigopts {
        args.extend(["-sigopt", option]);
    }
    let pem = pem.to_str().unwrap();
    args.extend(["-verify", pem, "-signature", &signature, &message]);
    assert!(String::from_utf8(openssl(&args)).unwrap().contains("Verified OK"));

    let verify = |message: &[&str]| {
        let mut args = vec!["verify", "--key-id", key, "--signing-algorithm", algorithm];
        args.extend_from_slice(message);
        args.extend(["--signature-file", &signature]);
        cli.status(&args)
    };
    let (code, verified) = verify(&["--message-file", &message]);
    assert_eq!((code, verified["signature_valid"].as_bool()), (0, Some(true)), "{verified}");
    let (code, tampered) = verify(&["--message", "pay 900 to alice\n"]);
    assert_eq!((code, tampered["signature_valid"].as_bool()), (NOT_VALID, Some(false)), "{tampered}");

    // A signature over the digest, checked by OpenSSL against the message itself.
    let digest = openssl(&["dgst", "-sha256", "-binary", &message]);
    let digest_file = cli.path("digest.bin");
    std::fs::write(&digest_file, digest).unwrap();
    let over_digest = cli.ok(&[
        "sign",
        "--key-id",
        key,
        "--signing-algorithm",
        algorithm,
        "--message-file",
        &digest_file,
        "--message-type",
        "DIGEST",
    ]);
    std::fs::write(&signature, unbase64(&text(&over_digest, "signature"))).unwrap();
    assert!(String::from_utf8(openssl(&args)).unwrap().contains("Verified OK"));
}

#[test]
fn signatures_verify_with_openssl() {
    let (daemon, dir) = Daemon::start_dev();
    let cli = Cli { daemon: &daemon, dir: dir.path() };
    let ecc = cli.create_key("ECC_NIST_P256", "SIGN_VERIFY");
    sign_and_check(&cli, &ecc, "ECDSA_SHA_256", &[]);
    let rsa = cli.create_key("RSA_2048", "SIGN_VERIFY");
    sign_and_check(&cli, &rsa, "RSASSA_PKCS1_V1_5_SHA_256", &[]);
    sign_and_check(&cli, &rsa, "RSASSA_PSS_SHA_256", &["rsa_padding_mode:pss", "rsa_pss_saltlen:-1"]);

    let public = cli.ok(&["get-public-key", &rsa]);
    assert_eq!(public["key_spec"], "RSA_2048");
    assert_eq!(public["signing_algorithms"].as_array().unwrap().len(), 6, "{public}");
    let pem = cli.ok(&["get-public-key", &rsa, "--pem"]);
    let saved = std::fs::read_to_string(cli.save_pem(&rsa)).unwrap();
    assert_eq!(text(&pem, "public_key_pem"), saved);
    let der = cli.path("pub.der");
    assert!(cli.ok(&["get-public-key", &rsa, "--out", &der]).get("public_key").is_none());
    assert_eq!(std::fs::read(&der).unwrap(), unbase64(&text(&public, "public_key")));

    // In table mode too, a signature that does not match is exit 3; a wrong algorithm is an error.
    let (message, signature) = (cli.path("msg.txt"), cli.path("sig-ECDSA_SHA_256.bin"));
    let output = cli.raw(&[
        "verify",
        "--key-id",
        &ecc,
        "--signing-algorithm",
        "ECDSA_SHA_256",
        "--message",
        "pay 900 to alice\n",
        "--signature-file",
        &signature,
    ]);
    assert_eq!(output.status.code(), Some(NOT_VALID), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .any(|line| line.split_whitespace().eq(["signature_valid", "false"])),
        "{}",
        describe(&output)
    );
    let output = cli.raw(&[
        "verify",
        "--key-id",
        &ecc,
        "--signing-algorithm",
        "ECDSA_SHA_256",
        "--message-file",
        &message,
        "--signature-file",
        &signature,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let (code, _) = cli.status(&[
        "sign",
        "--key-id",
        &ecc,
        "--signing-algorithm",
        "RSASSA_PSS_SHA_256",
        "--message",
        "x",
    ]);
    assert_eq!(code, 1);
}

#[test]
fn rsa_oaep_decrypts_what_openssl_encrypts() {
    let (daemon, dir) = Daemon::start_dev();
    let cli = Cli { daemon: &daemon, dir: dir.path() };
    let key = cli.create_key("RSA_2048", "ENCRYPT_DECRYPT");
    let pem = cli.save_pem(&key);
    let (plain, blob) = (cli.path("plain.txt"), cli.path("oaep.bin"));
    std::fs::write(&plain, "attack at dawn").unwrap();
    openssl(&[
        "pkeyutl",
        "-encrypt",
        "-pubin",
        "-inkey",
        pem.to_str().unwrap(),
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha256",
        "-pkeyopt",
        "rsa_mgf1_md:sha256",
        "-in",
        &plain,
        "-out",
        &blob,
    ]);
    let decrypt = [
        "decrypt",
        "--key-id",
        &key,
        "--encryption-algorithm",
        "RSAES_OAEP_SHA_256",
        "--ciphertext-file",
        &blob,
    ];
    let decrypted = cli.ok(&decrypt);
    assert_eq!(text(&decrypted, "plaintext"), "YXR0YWNrIGF0IGRhd24=", "{decrypted}");
    assert_eq!(text(&decrypted, "encryption_algorithm"), "RSAES_OAEP_SHA_256");

    // The wrong hash does not decrypt; nor does an RSA ciphertext without its key id.
    let (code, _) = cli.status(&[&decrypt[..4], &["RSAES_OAEP_SHA_1", "--ciphertext-file", &blob]].concat());
    assert_eq!(code, 1);
    let (code, _) =
        cli.status(&["decrypt", "--encryption-algorithm", "RSAES_OAEP_SHA_256", "--ciphertext-file", &blob]);
    assert_eq!(code, 1);

    // arcactl's own SHA-1 round trip.
    let encrypted = cli.ok(&[
        "encrypt",
        "--key-id",
        &key,
        "--encryption-algorithm",
        "RSAES_OAEP_SHA_1",
        "--plaintext",
        "hi",
    ]);
    assert_eq!(text(&encrypted, "encryption_algorithm"), "RSAES_OAEP_SHA_1");
    let blob = text(&encrypted, "ciphertext_blob");
    assert_eq!(unbase64(&blob).len(), 256);
    let again = cli.ok(&[
        "decrypt",
        "--key-id",
        &key,
        "--encryption-algorithm",
        "RSAES_OAEP_SHA_1",
        "--ciphertext-base64",
        &blob,
    ]);
    assert_eq!(text(&again, "plaintext"), "aGk=");
}

#[test]
fn macs_verify_and_mismatches_exit_3() {
    let (daemon, dir) = Daemon::start_dev();
    let cli = Cli { daemon: &daemon, dir: dir.path() };
    let key = cli.create_key("HMAC_256", "GENERATE_VERIFY_MAC");
    let mac =
        cli.ok(&["generate-mac", "--key-id", &key, "--mac-algorithm", "HMAC_SHA_256", "--message", "hello"]);
    assert_eq!(text(&mac, "mac_algorithm"), "HMAC_SHA_256");
    let tag = text(&mac, "mac");
    assert_eq!(unbase64(&tag).len(), 32);
    let tag_file = cli.path("mac.bin");
    cli.ok(&[
        "generate-mac",
        "--key-id",
        &key,
        "--mac-algorithm",
        "HMAC_SHA_256",
        "--message-base64",
        "aGVsbG8=",
        "--out",
        &tag_file,
    ]);
    assert_eq!(std::fs::read(&tag_file).unwrap(), unbase64(&tag), "the same message as text and base64");

    let verify = ["verify-mac", "--key-id", &key, "--mac-algorithm", "HMAC_SHA_256"];
    let (code, valid) = cli.status(&[&verify[..], &["--message", "hello", "--mac-base64", &tag]].concat());
    assert_eq!((code, valid["mac_valid"].as_bool()), (0, Some(true)), "{valid}");
    let (code, invalid) =
        cli.status(&[&verify[..], &["--message", "hellO", "--mac-file", &tag_file]].concat());
    assert_eq!((code, invalid["mac_valid"].as_bool()), (NOT_VALID, Some(false)), "{invalid}");
    let (code, _) =
        cli.status(&["generate-mac", "--key-id", &key, "--mac-algorithm", "HMAC_SHA_512", "--message", "x"]);
    assert_eq!(code, 1, "HMAC_SHA_512 does not fit an HMAC_256 key");
}

#[test]
fn data_key_pairs_are_pkcs8_and_decrypt_back() {
    let (daemon, dir) = Daemon::start_dev();
    let cli = Cli { daemon: &daemon, dir: dir.path() };
    let wrapping = cli.create_key("AES_256", "ENCRYPT_DECRYPT");
    let args = ["generate-data-key-pair", "--key-id", &wrapping, "--key-pair-spec", "ECC_NIST_P256"];
    let pair = cli.ok(&[&args[..], &["--context", "app=ledger"]].concat());
    assert_eq!(text(&pair, "key_pair_spec"), "ECC_NIST_P256");
    let private = unbase64(&text(&pair, "private_key_plaintext"));
    let private_file = cli.path("priv.der");
    std::fs::write(&private_file, &private).unwrap();
    let public = openssl(&["pkey", "-inform", "DER", "-in", &private_file, "-pubout", "-outform", "DER"]);
    assert_eq!(public, unbase64(&text(&pair, "public_key")), "the private key's public half");

    let blob = text(&pair, "private_key_ciphertext_blob");
    let opened = cli.ok(&["decrypt", "--ciphertext-base64", &blob, "--context", "app=ledger"]);
    assert_eq!(text(&opened, "plaintext"), text(&pair, "private_key_plaintext"));
    assert_eq!(text(&opened, "key_id"), wrapping);

    let out = cli.path("written.der");
    let written = cli.ok(&[&args[..], &["--private-key-out", &out]].concat());
    assert!(written.get("private_key_plaintext").is_none(), "{written}");
    assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
    let public = openssl(&["pkey", "-inform", "DER", "-in", &out, "-pubout", "-outform", "DER"]);
    assert_eq!(public, unbase64(&text(&written, "public_key")));

    let bare = cli.ok(&[
        "generate-data-key-pair-without-plaintext",
        "--key-id",
        &wrapping,
        "--key-pair-spec",
        "RSA_2048",
    ]);
    assert!(bare.get("private_key_plaintext").is_none(), "{bare}");
    assert_eq!(text(&bare, "key_pair_spec"), "RSA_2048");
    let opened = cli.ok(&[
        "decrypt",
        "--ciphertext-base64",
        &text(&bare, "private_key_ciphertext_blob"),
        "--out",
        &out,
    ]);
    assert!(opened.get("plaintext").is_none());
    let public = openssl(&["pkey", "-inform", "DER", "-in", &out, "-pubout", "-outform", "DER"]);
    assert_eq!(public, unbase64(&text(&bare, "public_key")));

    let (code, _) =
        cli.status(&["generate-data-key-pair", "--key-id", &wrapping, "--key-pair-spec", "HMAC_256"]);
    assert_eq!(code, 2, "clap refuses a spec that is not a key pair spec");
}

//! The curves beyond P-256 and P-384 through the gRPC API (arcactl): ECC_NIST_P521,
//! ECC_SECG_P256K1 and ECC_NIST_EDWARDS25519 keys sign, and OpenSSL verifies the signatures with
//! the public keys GetPublicKey returns.

use std::path::Path;
use std::process::{Command, Output};

use arca_tests::{Daemon, binary};
use serde_json::Value;

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}; stdout {}; stderr {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// arcactl with JSON output in `dir`: (exit status, what it printed).
fn arcactl(daemon: &Daemon, dir: &Path, args: &[&str]) -> (Output, Value) {
    let mut command = Command::new(binary("arcactl"));
    command.arg("--socket").arg(&daemon.socket).args(["--output", "json"]).args(args).current_dir(dir);
    let output = command.output().unwrap();
    let value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output, value)
}

#[track_caller]
fn ok(daemon: &Daemon, dir: &Path, args: &[&str]) -> Value {
    let (output, value) = arcactl(daemon, dir, args);
    assert!(output.status.success(), "arcactl {args:?}: {}", describe(&output));
    value
}

/// Runs openssl in `dir`: whether it succeeded.
fn openssl(dir: &Path, line: &str) -> bool {
    Command::new("openssl").args(line.split_whitespace()).current_dir(dir).output().unwrap().status.success()
}

#[test]
fn new_curves_sign_over_grpc_and_openssl_verifies() {
    let (daemon, _data) = Daemon::start_dev();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("msg.txt"), "pay 100 to alice\n").unwrap();
    std::fs::write(dir.join("bad.txt"), "pay 900 to alice\n").unwrap();
    let cases = [
        ("ECC_NIST_P521", "ECDSA_SHA_512", "dgst -sha512 -verify pub.pem -signature sig.bin"),
        ("ECC_SECG_P256K1", "ECDSA_SHA_256", "dgst -sha256 -verify pub.pem -signature sig.bin"),
        (
            "ECC_NIST_EDWARDS25519",
            "ED25519_SHA_512",
            "pkeyutl -verify -rawin -pubin -inkey pub.pem -sigfile sig.bin -in",
        ),
    ];
    for (spec, algorithm, verify) in cases {
        let created = ok(&daemon, dir, &["create-key", "--key-spec", spec, "--key-usage", "SIGN_VERIFY"]);
        assert_eq!(created["key_metadata"]["key_spec"], spec, "{created}");
        let key = created["key_metadata"]["key_id"].as_str().unwrap().to_owned();
        let sign = ["sign", "--key-id", &key, "--signing-algorithm", algorithm, "--message-file", "msg.txt"];
        ok(&daemon, dir, &[&sign[..], &["--out", "sig.bin"]].concat());
        let output = Command::new(binary("arcactl"))
            .arg("--socket")
            .arg(&daemon.socket)
            .args(["get-public-key", &key, "--pem"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", describe(&output));
        std::fs::write(dir.join("pub.pem"), &output.stdout).unwrap();
        assert!(openssl(dir, &format!("{verify} msg.txt")), "{spec}: OpenSSL refused the signature");
        assert!(!openssl(dir, &format!("{verify} bad.txt")), "{spec}: OpenSSL took the wrong message");
        let check =
            ["verify", "--key-id", &key, "--signing-algorithm", algorithm, "--signature-file", "sig.bin"];
        let verified = ok(&daemon, dir, &[&check[..], &["--message-file", "msg.txt"]].concat());
        assert_eq!(verified["signature_valid"], true, "{spec}: {verified}");
    }
    // secp256k1 keys sign only; X25519 keys are made through PKCS#11 only.
    let (refused, _) = arcactl(
        &daemon,
        dir,
        &["create-key", "--key-spec", "ECC_SECG_P256K1", "--key-usage", "KEY_AGREEMENT"],
    );
    assert!(!refused.status.success(), "{}", describe(&refused));
    assert_eq!(daemon.stop(), Some(0));
}

//! The admin CLI against a real daemon: every subcommand once, JSON parsed back.

use std::process::Command;

use arca_tests::{Daemon, binary};
use serde_json::Value;

struct Cli<'a> {
    daemon: &'a Daemon,
}

impl Cli<'_> {
    fn run(&self, args: &[&str]) -> Result<Value, (i32, String)> {
        let output = Command::new(binary("arcactl"))
            .arg("--socket")
            .arg(&self.daemon.socket)
            .args(["--output", "json"])
            .args(args)
            .output()
            .unwrap();
        if !output.status.success() {
            return Err((output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into()));
        }
        let text = String::from_utf8(output.stdout).unwrap();
        Ok(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")))
    }

    fn ok(&self, args: &[&str]) -> Value {
        self.run(args).unwrap_or_else(|(code, stderr)| panic!("arcactl {args:?} exited {code}: {stderr}"))
    }
}

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_else(|| panic!("{field} missing in {value}")).to_owned()
}

#[test]
fn every_subcommand_round_trips() {
    let (daemon, dir) = Daemon::start_dev();
    let cli = Cli { daemon: &daemon };
    let created = cli.ok(&["create-key", "--description", "cli", "--tag", "team=core"]);
    let key = text(&created["key_metadata"], "key_id");
    assert_eq!(created["key_metadata"]["key_spec"], "AES_256");
    assert_eq!(created["key_metadata"]["tags"]["team"], "core");
    let other = text(&cli.ok(&["create-key"])["key_metadata"], "key_id");
    assert_eq!(text(&cli.ok(&["describe-key", &key])["key_metadata"], "description"), "cli");
    let listed = cli.ok(&["list-keys", "--limit", "1", "--all"]);
    assert_eq!(listed["keys"].as_array().unwrap().len(), 2, "{listed}");

    let blob_file = dir.path().join("blob.bin");
    let blob_path = blob_file.to_str().unwrap();
    cli.ok(&[
        "encrypt",
        "--key-id",
        &key,
        "--plaintext",
        "attack at dawn",
        "--context",
        "order=17",
        "--out",
        blob_path,
    ]);
    let decrypted = cli.ok(&["decrypt", "--ciphertext-file", blob_path, "--context", "order=17"]);
    assert_eq!(text(&decrypted, "plaintext"), "YXR0YWNrIGF0IGRhd24=", "base64 of the plaintext");
    let (code, stderr) =
        cli.run(&["decrypt", "--ciphertext-file", blob_path, "--context", "order=18"]).unwrap_err();
    assert_eq!(code, 1);
    assert!(stderr.contains("INVALID_ARGUMENT") && stderr.contains("encryption context"), "{stderr}");

    let re = cli.ok(&[
        "re-encrypt",
        "--ciphertext-file",
        blob_path,
        "--source-context",
        "order=17",
        "--destination-key-id",
        &other,
    ]);
    assert_eq!(text(&re, "key_id"), other);
    let again = cli.ok(&["decrypt", "--ciphertext-base64", &text(&re, "ciphertext_blob")]);
    assert_eq!(text(&again, "plaintext"), "YXR0YWNrIGF0IGRhd24=");

    let data_key = cli.ok(&["generate-data-key", "--key-id", &key, "--key-spec", "AES_256"]);
    let opened = cli.ok(&["decrypt", "--ciphertext-base64", &text(&data_key, "ciphertext_blob")]);
    assert_eq!(text(&opened, "plaintext"), text(&data_key, "plaintext"));
    let bare = cli.ok(&["generate-data-key-without-plaintext", "--key-id", &key, "--number-of-bytes", "64"]);
    assert!(bare.get("plaintext").is_none(), "{bare}");
    assert_eq!(text(&cli.ok(&["generate-random", "--number-of-bytes", "12"]), "plaintext").len(), 16);

    let status = cli.ok(&["status"]);
    assert_eq!(status["key_count"], 2);
    assert_eq!(status["sealed"], false);
    let (code, stderr) = cli.run(&["describe-key", "00000000-0000-4000-8000-000000000000"]).unwrap_err();
    assert_eq!(code, 1);
    assert!(stderr.contains("NOT_FOUND"), "{stderr}");
}

//! Token setup through arcactl, checked through the PKCS#11 module with the real pkcs11-tool: the
//! label, the PINs and the lockout arcactl sets are what PKCS#11 clients see.

use std::process::{Command, Output};

use arca_tests::{Daemon, bin_dir, binary};
use serde_json::Value;

fn arcactl(daemon: &Daemon, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(binary("arcactl"))
        .arg("--socket")
        .arg(&daemon.socket)
        .args(["--output", "json"])
        .args(args)
        .env_remove("ARCA_SO_PIN")
        .env_remove("ARCA_PIN")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn ok(daemon: &Daemon, env: &[(&str, &str)], args: &[&str]) -> Value {
    let output = arcactl(daemon, env, args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "arcactl {args:?}: {stderr}");
    serde_json::from_slice(&output.stdout).unwrap()
}

fn pkcs11_tool(daemon: &Daemon, args: &str) -> (bool, String) {
    let output = Command::new("pkcs11-tool")
        .arg("--module")
        .arg(bin_dir().join("libarca_pkcs11.so"))
        .args(args.split_whitespace())
        .env("ARCA_SOCKET", &daemon.socket)
        .output()
        .expect("pkcs11-tool (Debian opensc) is installed by scripts/install-deps.sh");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn flags(info: &Value) -> Vec<String> {
    info["flags"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_owned()).collect()
}

#[test]
fn arcactl_sets_up_the_token_that_pkcs11_clients_use() {
    let (daemon, _dir) = Daemon::start_dev();
    let info = ok(&daemon, &[], &["token", "info"]);
    assert!(!flags(&info).contains(&"TOKEN_INITIALIZED".to_owned()), "{info}");

    ok(&daemon, &[("ARCA_SO_PIN", "87654321")], &["token", "init", "--label", "ops-token"]);
    ok(&daemon, &[("ARCA_SO_PIN", "87654321"), ("ARCA_PIN", "123456")], &["token", "init-pin"]);
    let info = ok(&daemon, &[], &["token", "info"]);
    assert_eq!(info["label"], "ops-token");
    for flag in ["TOKEN_INITIALIZED", "USER_PIN_INITIALIZED", "LOGIN_REQUIRED"] {
        assert!(flags(&info).contains(&flag.to_owned()), "{flag} missing: {info}");
    }

    let (listed, text) = pkcs11_tool(&daemon, "-L");
    assert!(listed && text.contains("ops-token"), "{text}");
    let (made, text) = pkcs11_tool(&daemon, "--login --pin 123456 --keygen --key-type AES:32 --label k1");
    assert!(made, "the user PIN set by arcactl logs pkcs11-tool in: {text}");

    // A wrong SO PIN is refused, and counts.
    let refused =
        arcactl(&daemon, &[("ARCA_SO_PIN", "00000000"), ("ARCA_PIN", "654321")], &["token", "init-pin"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("PIN is incorrect"));
    assert!(flags(&ok(&daemon, &[], &["token", "info"])).contains(&"SO_PIN_COUNT_LOW".to_owned()));

    let change = [("ARCA_PIN", "123456"), ("ARCA_NEW_PIN", "24681357")];
    ok(&daemon, &change, &["token", "set-pin"]);
    let (old, _) = pkcs11_tool(&daemon, "--login --pin 123456 -O");
    assert!(!old, "the old user PIN no longer logs in");
    let (new, text) = pkcs11_tool(&daemon, "--login --pin 24681357 -O");
    assert!(new && text.contains("k1"), "{text}");

    // Re-initialising needs the SO PIN. It takes no key's waiting period away: every key,
    // made through PKCS#11 or the KMS API, is pending deletion, and cancelling brings it back.
    let kms_key = ok(&daemon, &[], &["create-key", "--description", "kept"]);
    let kms_key = kms_key["key_metadata"]["key_id"].as_str().unwrap().to_owned();
    ok(&daemon, &[("ARCA_SO_PIN", "87654321")], &["token", "init", "--label", "fresh"]);
    let keys = ok(&daemon, &[], &["list-keys"]);
    let ids: Vec<&str> =
        keys["keys"].as_array().unwrap().iter().map(|k| k["key_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{keys}");
    for id in ids {
        let described = ok(&daemon, &[], &["describe-key", id]);
        assert_eq!(described["key_metadata"]["key_state"], "PENDING_DELETION", "{described}");
    }
    ok(&daemon, &[], &["cancel-key-deletion", &kms_key]);
    let described = ok(&daemon, &[], &["describe-key", &kms_key]);
    assert_eq!(described["key_metadata"]["key_state"], "DISABLED", "{described}");
}

//! The admin CLI's key governance and audit commands against a real daemon.

use std::process::{Command, Output};

use arca_tests::{Daemon, binary};
use serde_json::Value;

struct Cli<'a> {
    daemon: &'a Daemon,
}

impl Cli<'_> {
    fn raw(&self, format: &str, args: &[&str]) -> Output {
        Command::new(binary("arcactl"))
            .arg("--socket")
            .arg(&self.daemon.socket)
            .args(["--output", format])
            .args(args)
            .output()
            .unwrap()
    }

    fn run(&self, args: &[&str]) -> Result<Value, (i32, String)> {
        let output = self.raw("json", args);
        if !output.status.success() {
            return Err((output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into()));
        }
        let text = String::from_utf8(output.stdout).unwrap();
        Ok(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")))
    }

    fn ok(&self, args: &[&str]) -> Value {
        self.run(args).unwrap_or_else(|(code, stderr)| panic!("arcactl {args:?} exited {code}: {stderr}"))
    }

    /// Table output, which some commands print verbatim.
    fn table(&self, args: &[&str]) -> String {
        let output = self.raw("table", args);
        assert!(output.status.success(), "arcactl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    }
}

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_else(|| panic!("{field} missing in {value}")).to_owned()
}

#[test]
fn governance_and_audit_round_trip() {
    let (daemon, _dir) = Daemon::start_dev();
    let cli = Cli { daemon: &daemon };
    let key = text(&cli.ok(&["create-key", "--description", "governed"])["key_metadata"], "key_id");

    let created = cli.ok(&["create-alias", "alias/x", &key]);
    assert_eq!(text(&created, "target_key_id"), key);
    let sealed = cli.ok(&["encrypt", "--key-id", "alias/x", "--plaintext", "hello"]);
    assert_eq!(text(&sealed, "key_id"), key, "{sealed}");
    let listed = cli.ok(&["list-aliases", "--key-id", &key]);
    let aliases = listed["aliases"].as_array().unwrap();
    assert!(
        aliases.iter().any(|a| a["alias_name"] == "alias/x" && a["target_key_id"] == key.as_str()),
        "{listed}"
    );

    cli.ok(&["disable-key", &key]);
    let (code, stderr) = cli.run(&["encrypt", "--key-id", "alias/x", "--plaintext", "hello"]).unwrap_err();
    assert_eq!(code, 1);
    assert!(stderr.contains("FAILED_PRECONDITION"), "{stderr}");
    cli.ok(&["enable-key", &key]);
    cli.ok(&["encrypt", "--key-id", &key, "--plaintext", "hello"]);

    assert_eq!(cli.ok(&["rotate-key", &key])["key_version"], 2);
    assert_eq!(cli.ok(&["describe-key", &key])["key_metadata"]["current_version"], 2);
    let rotations = cli.ok(&["list-key-rotations", &key]);
    assert!(!rotations["rotations"].as_array().unwrap().is_empty(), "{rotations}");
    cli.ok(&["get-key-rotation-status", &key]);

    let policy = cli.table(&["get-key-policy", &key]);
    assert!(policy.contains("\"Statement\""), "{policy}");
    serde_json::from_str::<Value>(&policy).unwrap_or_else(|e| panic!("{e}: {policy}"));
    assert!(text(&cli.ok(&["get-key-policy", &key]), "policy").contains("Statement"));

    let scheduled = cli.ok(&["schedule-key-deletion", &key, "--pending-window-days", "7"]);
    assert!(scheduled["deletion_date"].as_i64().unwrap() > 0, "{scheduled}");
    assert_eq!(text(&cli.ok(&["cancel-key-deletion", &key]), "key_id"), key);

    let verified = cli.raw("table", &["audit", "verify"]);
    assert_eq!(verified.status.code(), Some(0), "{}", String::from_utf8_lossy(&verified.stdout));
    assert_eq!(cli.ok(&["audit", "verify"])["intact"], true);

    let tail = cli.table(&["audit", "tail", "--limit", "5"]);
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(lines.len(), 5, "{tail}");
    for line in lines {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
}

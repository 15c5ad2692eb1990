//! Access keys end to end: `arcactl access-key create/list/delete` against a real daemon, the
//! secret shown once and nowhere else (list output, audit log, the daemon's stderr), `--dev`'s
//! credentials file, and keys kept sealed across restarts and on a store of the previous release.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use arca_tests::arcactl::{Arcactl, describe};
use arca_tests::{Daemon, Launch};
use serde_json::Value;

/// A data directory written by the previous release (`arcad --dev`), before access keys.
const PREVIOUS_RELEASE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/previous-release");

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_else(|| panic!("{field} missing in {value}")).to_owned()
}

fn ids(listed: &Value) -> Vec<String> {
    listed["access_keys"].as_array().unwrap().iter().map(|key| text(key, "access_key_id")).collect()
}

/// The `[arca-dev]` profile's access key id and secret.
fn dev_credentials(data_dir: &Path) -> (String, String) {
    let file = std::fs::read_to_string(data_dir.join("aws-credentials")).unwrap();
    let value = |name: &str| {
        let prefix = format!("{name} = ");
        file.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("{file}"))
            .to_owned()
    };
    assert!(file.starts_with("[arca-dev]\n"), "{file}");
    (value("aws_access_key_id"), value("aws_secret_access_key"))
}

#[test]
fn administrators_create_list_and_delete_and_the_secret_is_shown_once() {
    let (mut daemon, _dir) = Daemon::start_dev();
    let cli = Arcactl::new(&daemon.socket);
    let created = cli.ok(&["access-key", "create", "--principal", "uid:1000", "--description", "ci runner"]);
    let (id, secret) = (text(&created, "access_key_id"), text(&created, "secret_access_key"));
    assert!(id.starts_with("AKIA") && id.len() == 20, "{created}");
    assert_eq!(secret.len(), 44, "{created}");
    assert_eq!(text(&created, "principal"), "uid:1000");
    assert_eq!(text(&created, "description"), "ci runner");

    let listed = cli.run(&["access-key", "list"]);
    assert!(listed.status.success(), "{}", describe(&listed));
    let listed_text = String::from_utf8(listed.stdout).unwrap();
    assert!(!listed_text.contains(&secret), "list shows the secret: {listed_text}");
    let listed: Value = serde_json::from_str(&listed_text).unwrap();
    let (dev_id, _) = dev_credentials(&daemon.data_dir);
    assert_eq!(ids(&listed), {
        let mut both = vec![id.clone(), dev_id];
        both.sort();
        both
    });
    let table = cli.command(&["--output", "table", "access-key", "list"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&table.stdout).contains(&secret));

    let deleted = cli.ok(&["access-key", "delete", &id]);
    assert_eq!(deleted["deleted"], true, "{deleted}");
    assert!(!ids(&cli.ok(&["access-key", "list"])).contains(&id));
    let again = cli.run(&["access-key", "delete", &id]);
    assert_eq!(again.status.code(), Some(1), "{}", describe(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("NOT_FOUND"), "{}", describe(&again));

    let audit = std::fs::read_to_string(daemon.data_dir.join("audit.log")).unwrap();
    assert!(!audit.contains(&secret), "the audit log holds the secret");
    for operation in ["CreateAccessKey", "ListAccessKeys", "DeleteAccessKey"] {
        assert!(audit.contains(operation), "{operation} is not audited");
    }
    assert!(audit.lines().any(|line| line.contains("DeleteAccessKey") && line.contains(&id)), "{audit}");
    // Its last line is written: every call above has been logged.
    assert!(daemon.stderr_shows("DeleteAccessKey", std::time::Duration::from_secs(10)));
    let stderr = daemon.stderr_text();
    assert!(!stderr.contains(&secret), "the daemon's stderr holds the secret");
}

#[test]
fn a_caller_who_is_not_an_administrator_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Launch::key_file_config(dir.path(), "administrators = [\"uid:4242\"]").start();
    let cli = Arcactl::new(&daemon.socket);
    for args in [
        vec!["access-key", "create", "--principal", "uid:1000"],
        vec!["access-key", "list"],
        vec!["access-key", "delete", "AKIAAAAAAAAAAAAAAAAA"],
    ] {
        let output = cli.run(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {}", describe(&output));
        assert!(stderr.contains("PERMISSION_DENIED"), "{args:?}: {stderr}");
    }
    assert!(!daemon.data_dir.join("aws-credentials").exists(), "only --dev writes credentials");
}

#[test]
fn dev_credentials_are_owner_only_and_kept_with_every_key_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::dev(dir.path());
    let mut daemon = launch.start();
    let path = dir.path().join("aws-credentials");
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let (dev_id, dev_secret) = dev_credentials(dir.path());
    assert_eq!(dev_secret.len(), 44);
    let cli = Arcactl::new(&daemon.socket);
    let listed = cli.ok(&["access-key", "list"]);
    let dev = &listed["access_keys"][0];
    assert_eq!(text(dev, "access_key_id"), dev_id, "{listed}");
    assert_eq!(text(dev, "principal"), format!("uid:{}", own_uid()), "{listed}");
    assert_eq!(text(dev, "description"), "dev");
    let other = text(&cli.ok(&["access-key", "create", "--principal", "cert:CN=app"]), "access_key_id");
    assert!(daemon.stderr_shows(&dev_id, std::time::Duration::from_secs(10)), "the file is announced by id");
    assert!(!daemon.stderr_text().contains(&dev_secret), "the daemon's stderr holds the dev secret");
    daemon.stop();

    let daemon = launch.start();
    assert_eq!(dev_credentials(dir.path()), (dev_id.clone(), dev_secret), "a second start keeps the file");
    let mut expected = vec![dev_id, other];
    expected.sort();
    assert_eq!(ids(&Arcactl::new(&daemon.socket).ok(&["access-key", "list"])), expected);
    daemon.stop();
}

#[test]
fn a_store_of_the_previous_release_opens_with_no_access_key_but_the_dev_one() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(PREVIOUS_RELEASE).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    std::fs::set_permissions(dir.path().join("master.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let daemon = Launch::dev_on_redb(dir.path()).start();
    let (dev_id, _) = dev_credentials(dir.path());
    let cli = Arcactl::new(&daemon.socket);
    assert_eq!(ids(&cli.ok(&["access-key", "list"])), vec![dev_id]);
    assert_eq!(cli.ok(&["list-keys"])["keys"].as_array().unwrap().len(), 1, "the old key is still there");
    daemon.stop();
}

/// The uid this test (and so the daemon it starts) runs as.
fn own_uid() -> u32 {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").unwrap().uid()
}

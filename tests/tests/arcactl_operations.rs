//! arcactl's operations commands against a real daemon: `backup` then an offline `arcad restore`,
//! and a passphrase store's life through `init` (generated or piped passphrase), restart, `unseal`.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arca_tests::arcactl::{Arcactl as Cli, assert_generated, describe, parse, passphrase_launch};
use arca_tests::{Launch, binary};
use serde_json::Value;

/// arcactl against one socket, with JSON output and no passphrase inherited from the test's
/// environment.
/// Expects exit status 1 with `needle` in the error message, and nothing on stdout.
#[track_caller]
fn assert_fails(output: &Output, needle: &str) {
    assert_eq!(output.status.code(), Some(1), "{}", describe(output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("arcactl: ") && stderr.contains(needle), "{}", describe(output));
    assert!(output.stdout.is_empty(), "a failure prints nothing on stdout: {}", describe(output));
}

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_else(|| panic!("{field} missing in {value}")).to_owned()
}

fn partial(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.partial", path.display()))
}

#[test]
fn backup_restores_offline_and_old_ciphertexts_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let daemon = Launch::dev(&source).start();
    let cli = Cli::new(&daemon.socket);
    let key = text(&cli.ok(&["create-key", "--description", "backed up"])["key_metadata"], "key_id");
    let blob = text(&cli.ok(&["encrypt", "--key-id", &key, "--plaintext", "old secret"]), "ciphertext_blob");

    let archive = dir.path().join("arca.bak");
    let args = ["backup", "--out", archive.to_str().unwrap()];
    let output = cli.run(&args);
    let saved = parse(&output, &args);
    assert!(output.stderr.is_empty(), "no progress when stderr is not a terminal: {}", describe(&output));
    assert_eq!(text(&saved, "path"), archive.display().to_string());
    let metadata = std::fs::metadata(&archive).unwrap();
    assert_eq!(saved["bytes"].as_u64(), Some(metadata.len()), "{saved}");
    assert!(metadata.len() > 0);
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    assert!(!partial(&archive).exists(), "the .partial file is renamed away");
    let bytes = std::fs::read(&archive).unwrap();
    assert!(!bytes.windows(10).any(|w| w == b"old secret"), "the archive holds only sealed records");

    // A backup that cannot be put in place (FILE is a directory) leaves neither FILE nor .partial.
    let occupied = dir.path().join("occupied");
    std::fs::create_dir(&occupied).unwrap();
    std::fs::write(occupied.join("keep"), b"x").unwrap();
    assert_fails(&cli.run(&["backup", "--out", occupied.to_str().unwrap()]), "cannot rename");
    assert!(occupied.join("keep").exists());
    assert!(!partial(&occupied).exists(), "a failed backup removes its .partial file");
    drop(daemon);

    let target = dir.path().join("restored");
    let restored = Command::new(binary("arcad"))
        .args(["restore", "--data-dir", target.to_str().unwrap(), archive.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(restored.status.success(), "{}", describe(&restored));
    std::fs::copy(source.join("master.key"), target.join("master.key")).unwrap();
    // Restored into the embedded store, whatever store the backup was taken from.
    let daemon = Launch::dev_on_redb(&target).start();
    let cli = Cli::new(&daemon.socket);
    let opened = cli.ok(&["decrypt", "--ciphertext-base64", &blob]);
    assert_eq!(text(&opened, "plaintext"), "b2xkIHNlY3JldA==", "base64 of \"old secret\"");
    assert_eq!(text(&opened, "key_id"), key);
}

/// A passphrase-sealed store with cheap Argon2 settings, as in tests/sealing.rs.
#[test]
fn init_generates_a_passphrase_that_unseals_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let launch = passphrase_launch(dir.path());
    let daemon = launch.start();
    let cli = Cli::new(&daemon.socket);
    let status = cli.ok(&["status"]);
    assert_eq!(status["initialized"], false, "{status}");

    let args = ["init", "--generate-passphrase"];
    let output = cli.run(&args);
    let created = parse(&output, &args);
    assert_eq!(created["initialized"], true, "{created}");
    let passphrase = text(&created, "passphrase");
    assert_generated(&passphrase);
    let warning = String::from_utf8_lossy(&output.stderr);
    assert!(warning.contains("WARNING") && warning.contains("only way to unseal"), "{warning}");
    assert!(!warning.contains(&passphrase), "the passphrase goes to stdout only");
    let status = cli.ok(&["status"]);
    assert_eq!((&status["initialized"], &status["sealed"]), (&Value::Bool(true), &Value::Bool(false)));
    let key = text(&cli.ok(&["create-key"])["key_metadata"], "key_id");
    let blob = text(&cli.ok(&["encrypt", "--key-id", &key, "--plaintext", "sealed"]), "ciphertext_blob");
    daemon.stop();

    let daemon = launch.start();
    let cli = Cli::new(&daemon.socket);
    assert_eq!(cli.ok(&["status"])["sealed"], true);
    let wrong = cli.command(&["unseal"]).env("ARCA_PASSPHRASE", "not it").output().unwrap();
    assert_fails(&wrong, "PERMISSION_DENIED");
    let unsealed = cli.command(&["unseal"]).env("ARCA_PASSPHRASE", &passphrase).output().unwrap();
    assert_eq!(parse(&unsealed, &["unseal"])["sealed"], false);
    let status = cli.ok(&["status"]);
    assert_eq!((&status["initialized"], &status["sealed"]), (&Value::Bool(true), &Value::Bool(false)));
    assert_eq!(text(&cli.ok(&["decrypt", "--ciphertext-base64", &blob]), "plaintext"), "c2VhbGVk");

    // A second init is refused, whichever way the passphrase would come, and prints no passphrase.
    assert_fails(&cli.run(&["init", "--generate-passphrase"]), "already initialized");
    let again = cli.command(&["initialize"]).env("ARCA_PASSPHRASE", "another").output().unwrap();
    assert_fails(&again, "FAILED_PRECONDITION: already initialized");
    assert!(String::from_utf8_lossy(&again.stderr).contains("arcactl unseal"), "{}", describe(&again));
}

#[test]
fn init_reads_one_line_of_piped_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let launch = passphrase_launch(dir.path());
    let daemon = launch.start();
    let cli = Cli::new(&daemon.socket);
    let output = cli.run_with_stdin(&["init"], "piped words\n");
    let created = parse(&output, &["init"]);
    assert_eq!(created["initialized"], true);
    assert!(created.get("passphrase").is_none(), "a passphrase the user chose is not echoed: {created}");
    assert!(output.stderr.is_empty(), "no prompt when stdin is not a terminal: {}", describe(&output));
    daemon.stop();

    let daemon = launch.start();
    let cli = Cli::new(&daemon.socket);
    let file = dir.path().join("passphrase.txt");
    std::fs::write(&file, "piped words\n").unwrap();
    let unsealed = cli.ok(&["unseal", "--passphrase-file", file.to_str().unwrap()]);
    assert_eq!(unsealed["sealed"], false);
}

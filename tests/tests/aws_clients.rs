//! arcad's AWS KMS front driven by the AWS tools themselves, from the project's venv: aws-cli
//! (`tests/aws/aws_cli.sh`), and boto3 with the AWS Encryption SDK (`tests/aws/test_*.py`,
//! pytest). Three daemons: `--dev` (plain HTTP on loopback, its dev access key), an HTTPS one with
//! a low crypto quota (throttling and the SDK's retries), and one whose store is not initialised.

use std::path::{Path, PathBuf};
use std::process::Command;

use arca_tests::pki::make_pki;
use arca_tests::{Daemon, Launch, binary};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn venv(tool: &str) -> PathBuf {
    repo().join(".venv/bin").join(tool)
}

/// An access key issued with arcactl, as an AWS credentials-file profile.
fn profile(daemon: &Daemon, name: &str, principal: &str) -> String {
    let output = Command::new(binary("arcactl"))
        .args(["--output", "json", "access-key", "create", "--principal", principal])
        .env("ARCA_SOCKET", &daemon.socket)
        .output()
        .expect("run arcactl");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let created: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    format!(
        "[{name}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        created["access_key_id"].as_str().expect("id"),
        created["secret_access_key"].as_str().expect("secret")
    )
}

fn tls_launch(dir: &Path, extra: &str) -> Launch {
    let pki = dir.display();
    Launch::key_file_config(
        dir,
        &format!(
            "{extra}\n[tls]\nlisten = \"127.0.0.1:0\"\ncert = \"{pki}/server.pem\"\nkey = \"{pki}/server.key\"\n\
             client_ca = \"{pki}/ca.pem\"\n[aws]\nlisten = \"127.0.0.1:0\"\n"
        ),
    )
}

/// A daemon whose passphrase-sealed store was never initialised: it has no access keys to check
/// a signature with, and no keys.
fn sealed_launch(dir: &Path, pki: &Path) -> Launch {
    let data = dir.join("data");
    let config = dir.join("arca.toml");
    let text = format!(
        "data_dir = \"{d}\"\nsocket = \"{d}/arca.sock\"\n[seal]\nmode = \"passphrase\"\n\
         [tls]\nlisten = \"127.0.0.1:0\"\ncert = \"{p}/server.pem\"\nkey = \"{p}/server.key\"\nclient_ca = \"{p}/ca.pem\"\n\
         [aws]\nlisten = \"127.0.0.1:0\"\n",
        d = data.display(),
        p = pki.display()
    );
    std::fs::write(&config, text).expect("write config");
    Launch::config(&config, &data, &data.join("arca.sock"))
}

#[test]
fn aws_cli_boto3_and_the_encryption_sdk_use_arca() {
    let dev_dir = tempfile::tempdir().expect("tempdir");
    let dev = Launch::dev(dev_dir.path()).start();
    let tls_dir = tempfile::tempdir().expect("tempdir");
    make_pki(tls_dir.path());
    let throttled = tls_launch(tls_dir.path(), "[quotas]\ncrypto_requests_per_second = 5").start();
    let sealed_dir = tempfile::tempdir().expect("tempdir");
    let sealed = sealed_launch(sealed_dir.path(), tls_dir.path()).start();

    let dev_credentials =
        std::fs::read_to_string(dev.data_dir.join("aws-credentials")).expect("dev credentials");
    let credentials = dev_dir.path().join("all-credentials");
    std::fs::write(&credentials, dev_credentials + &profile(&throttled, "arca-tls", "uid:0")).expect("write");

    let endpoint = dev.aws_endpoint().expect("the dev daemon serves the AWS protocol");
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
    let env = [
        ("ARCA_AWS_ENDPOINT", endpoint),
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.display().to_string()),
        ("AWS_PROFILE", "arca-dev".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_CONFIG_FILE", "/dev/null".into()),
        ("ARCACTL", binary("arcactl").display().to_string()),
        ("ARCA_SOCKET", dev.socket.display().to_string()),
        ("ARCA_AUDIT_LOG", dev.data_dir.join("audit.log").display().to_string()),
        ("ARCA_AWS_TLS_ENDPOINT", throttled.aws_endpoint().expect("https endpoint")),
        ("ARCA_AWS_TLS_PROFILE", "arca-tls".into()),
        ("ARCA_AWS_SEALED_ENDPOINT", sealed.aws_endpoint().expect("https endpoint")),
        ("ARCA_AWS_CA", tls_dir.path().join("ca.pem").display().to_string()),
        ("AWS", venv("aws").display().to_string()),
    ];

    let cli = Command::new("bash")
        .arg(repo().join("tests/aws/aws_cli.sh"))
        .envs(env.clone())
        .output()
        .expect("run aws-cli");
    let cli_out = format!("{}{}", String::from_utf8_lossy(&cli.stdout), String::from_utf8_lossy(&cli.stderr));
    assert!(cli.status.success(), "aws-cli script failed:\n{cli_out}");

    let pytest = Command::new(venv("python"))
        .args(["-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-x"])
        .arg(repo().join("tests/aws"))
        .current_dir(repo().join("tests/aws"))
        .envs(env)
        .output()
        .expect("run pytest");
    let out =
        format!("{}{}", String::from_utf8_lossy(&pytest.stdout), String::from_utf8_lossy(&pytest.stderr));
    println!("{cli_out}\n{out}");
    assert!(pytest.status.success(), "pytest failed:\n{out}");
    drop((dev, throttled, sealed));
}

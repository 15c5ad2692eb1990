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

/// `arcactl --output json ARGS` against `daemon`.
fn arcactl(daemon: &Daemon, args: &[&str]) -> serde_json::Value {
    let output = Command::new(binary("arcactl"))
        .args(["--output", "json"])
        .args(args)
        .env("ARCA_SOCKET", &daemon.socket)
        .output()
        .expect("run arcactl");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("json")
}

/// An access key issued with arcactl: (id, secret).
fn access_key(daemon: &Daemon, principal: &str) -> (String, String) {
    let created = arcactl(daemon, &["access-key", "create", "--principal", principal]);
    let field = |name: &str| created[name].as_str().expect("access key field").to_owned();
    (field("access_key_id"), field("secret_access_key"))
}

/// An access key as an AWS credentials-file profile.
fn profile(daemon: &Daemon, name: &str, principal: &str) -> String {
    let (id, secret) = access_key(daemon, principal);
    format!("[{name}]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n")
}

/// HTTPS for the AWS front, and XKS under `/tenant-a` with mutual TLS for the test PKI's client.
fn tls_launch(dir: &Path, extra: &str) -> Launch {
    let pki = dir.display();
    Launch::key_file_config(
        dir,
        &format!(
            "{extra}\n[tls]\nlisten = \"127.0.0.1:0\"\ncert = \"{pki}/server.pem\"\nkey = \"{pki}/server.key\"\n\
             client_ca = \"{pki}/ca.pem\"\n[aws]\nlisten = \"127.0.0.1:0\"\n[xks]\npath_prefix = \"/tenant-a\"\n\
             client_subject = \"{XKS_CLIENT}\"\nclient_ca = \"{pki}/ca.pem\"\n"
        ),
    )
}

/// The subject of the test PKI's client certificate, as the daemon reads it.
const XKS_CLIENT: &str = "CN=app-1,O=Payments";

/// A daemon whose passphrase-sealed store was never initialised: it has no access keys to check
/// a signature with, and no keys.
fn sealed_launch(dir: &Path, pki: &Path) -> Launch {
    let data = dir.join("data");
    let config = dir.join("arca.toml");
    let text = format!(
        "data_dir = \"{d}\"\nsocket = \"{d}/arca.sock\"\n[seal]\nmode = \"passphrase\"\n\
         [tls]\nlisten = \"127.0.0.1:0\"\ncert = \"{p}/server.pem\"\nkey = \"{p}/server.key\"\nclient_ca = \"{p}/ca.pem\"\n\
         [aws]\nlisten = \"127.0.0.1:0\"\n[xks]\n",
        d = data.display(),
        p = pki.display()
    );
    std::fs::write(&config, text).expect("write config");
    Launch::config(&config, &data, &data.join("arca.sock"))
}

#[test]
fn aws_cli_boto3_the_encryption_sdk_and_xks_use_arca() {
    let dev_dir = tempfile::tempdir().expect("tempdir");
    let dev = Launch::dev(dev_dir.path()).start();
    let tls_dir = tempfile::tempdir().expect("tempdir");
    make_pki(tls_dir.path());
    let throttled = tls_launch(tls_dir.path(), "[quotas]\ncrypto_requests_per_second = 5").start();
    let sealed_dir = tempfile::tempdir().expect("tempdir");
    let sealed = sealed_launch(sealed_dir.path(), tls_dir.path()).start();

    let dev_credentials =
        std::fs::read_to_string(dev.data_dir.join("aws-credentials")).expect("dev credentials");
    let (xks_id, xks_secret) = access_key(&throttled, "uid:0");
    let xks_key = arcactl(&throttled, &["create-key", "--description", "xks"]);
    let xks_key = xks_key["key_metadata"]["key_id"].as_str().expect("key id").to_owned();
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
        ("ARCA_XKS_TLS_CREDENTIALS", format!("{xks_id}:{xks_secret}")),
        ("ARCA_XKS_TLS_KEY", xks_key),
        ("ARCA_XKS_CLIENT_CERT", tls_dir.path().join("client.pem").display().to_string()),
        ("ARCA_XKS_CLIENT_KEY", tls_dir.path().join("client.key").display().to_string()),
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

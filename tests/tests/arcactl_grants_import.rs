//! The admin CLI's grant, key material import and list-keys filter commands against a real daemon.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arca_tests::{Daemon, binary};
use serde_json::Value;

struct Cli<'a> {
    daemon: &'a Daemon,
}

impl Cli<'_> {
    fn raw(&self, args: &[&str]) -> Output {
        Command::new(binary("arcactl"))
            .arg("--socket")
            .arg(&self.daemon.socket)
            .args(["--output", "json"])
            .args(args)
            .output()
            .unwrap()
    }

    fn run(&self, args: &[&str]) -> Result<Value, (i32, String)> {
        let output = self.raw(args);
        if !output.status.success() {
            return Err((output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into()));
        }
        let text = String::from_utf8(output.stdout).unwrap();
        Ok(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")))
    }

    fn ok(&self, args: &[&str]) -> Value {
        self.run(args).unwrap_or_else(|(code, stderr)| panic!("arcactl {args:?} exited {code}: {stderr}"))
    }

    /// Fails with `code`, and stderr mentions `needle`.
    fn fails(&self, args: &[&str], code: i32, needle: &str) {
        let (got, stderr) = self.run(args).map(|v| panic!("arcactl {args:?} succeeded: {v}")).unwrap_err();
        assert_eq!(got, code, "{stderr}");
        assert!(stderr.contains(needle), "{stderr:?} lacks {needle:?}");
    }

    fn key_ids(&self, args: &[&str]) -> Vec<String> {
        let listed = self.ok(&[&["list-keys", "--all"], args].concat());
        listed["keys"].as_array().unwrap().iter().map(|k| text(k, "key_id")).collect()
    }
}

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_else(|| panic!("{field} missing in {value}")).to_owned()
}

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl").current_dir(dir).args(args).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

#[test]
fn grants_round_trip_through_arcactl() {
    let (daemon, _dir) = Daemon::start_dev();
    let cli = Cli { daemon: &daemon };
    let key = text(&cli.ok(&["create-key"])["key_metadata"], "key_id");
    let created = cli.ok(&[
        "create-grant",
        &key,
        "--grantee-principal",
        "uid:4242",
        "--operation",
        "Encrypt,Decrypt",
        "--operation",
        "DescribeKey",
        "--retiring-principal",
        "uid:4343",
        "--name",
        "app",
        "--encryption-context-subset",
        "tenant=a",
    ]);
    let grant = text(&created, "grant_id");
    assert_eq!(text(&created, "grant_token"), grant);

    let listed = cli.ok(&["list-grants", &key]);
    let grants = listed["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 1, "{listed}");
    let entry = &grants[0];
    assert_eq!((text(entry, "grant_id"), text(entry, "key_id")), (grant.clone(), key.clone()));
    assert_eq!(text(entry, "grantee_principal"), "uid:4242");
    assert_eq!(entry["operations"], serde_json::json!(["Encrypt", "Decrypt", "DescribeKey"]));
    assert_eq!(entry["constraints"]["encryption_context_subset"], serde_json::json!({"tenant": "a"}));
    assert_eq!(text(entry, "name"), "app");
    assert!(entry["creation_date"].as_i64().unwrap() > 0);
    let retirable = cli.ok(&["list-retirable-grants", "--retiring-principal", "uid:4343"]);
    assert_eq!(text(&retirable["grants"][0], "grant_id"), grant);
    assert_eq!(cli.ok(&["revoke-grant", &key, &grant])["revoked"], true);
    assert_eq!(cli.ok(&["list-grants", &key])["grants"], serde_json::json!([]));
    cli.fails(&["revoke-grant", &key, &grant], 1, "NOT_FOUND");

    let second = cli.ok(&["create-grant", &key, "--grantee-principal", "uid:1", "--operation", "Sign"]);
    let second = text(&second, "grant_id");
    assert_eq!(cli.ok(&["retire-grant", &second])["retired"], true);
    assert_eq!(cli.ok(&["list-grants", &key])["grants"], serde_json::json!([]));

    cli.fails(
        &["create-grant", &key, "--grantee-principal", "uid:1", "--operation", "Fly"],
        1,
        "INVALID_ARGUMENT",
    );
    let both = [
        "create-grant",
        &key,
        "--grantee-principal",
        "uid:1",
        "--operation",
        "Decrypt",
        "--encryption-context-subset",
        "a=b",
        "--encryption-context-equals",
        "a=b",
    ];
    cli.fails(&both, 2, "cannot be used with");
    cli.fails(&["create-grant", &key, "--grantee-principal", "uid:1"], 2, "--operation");
}

#[test]
fn import_key_material_wraps_in_arcactl_and_list_keys_filters() {
    let (daemon, dir) = Daemon::start_dev();
    let dir: PathBuf = dir.path().to_path_buf();
    let cli = Cli { daemon: &daemon };
    let create = |spec: &str, tags: &[&str]| {
        let args = [&["create-key", "--key-spec", spec, "--origin", "EXTERNAL"], tags].concat();
        text(&cli.ok(&args)["key_metadata"], "key_id")
    };

    // An ECC key from a PEM PKCS#8 file, wrapped by arcactl with RSA_AES_KEY_WRAP_SHA_256.
    openssl(&dir, &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.pem"]);
    openssl(&dir, &["pkey", "-in", "ec.pem", "-pubout", "-out", "ec.pub.pem"]);
    let signer = create("ECC_NIST_P256", &["--tag", "team=a"]);
    let described = cli.ok(&["describe-key", &signer]);
    assert_eq!(text(&described["key_metadata"], "key_state"), "PENDING_IMPORT");
    let imported = cli.ok(&[
        "import-key-material",
        &signer,
        "--material-file",
        &path(&dir, "ec.pem"),
        "--valid-to",
        "2999-01-01",
    ]);
    assert_eq!(
        (imported["imported"].clone(), imported["valid_to"].as_i64()),
        (Value::Bool(true), Some(32_472_144_000))
    );
    assert_eq!(text(&cli.ok(&["describe-key", &signer])["key_metadata"], "key_state"), "ENABLED");
    let signature = path(&dir, "sig");
    cli.ok(&[
        "sign",
        "--key-id",
        &signer,
        "--signing-algorithm",
        "ECDSA_SHA_256",
        "--message",
        "byok",
        "--out",
        &signature,
    ]);
    std::fs::write(dir.join("message"), "byok").unwrap();
    let verified =
        openssl(&dir, &["dgst", "-sha256", "-verify", "ec.pub.pem", "-signature", &signature, "message"]);
    assert!(String::from_utf8_lossy(&verified).contains("Verified OK"));

    // RSA material with a bare OAEP algorithm: the daemon says which algorithm to use.
    openssl(&dir, &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem"]);
    let rsa = create("RSA_2048", &[]);
    let oaep = ["import-key-material", &rsa, "--material-file", &path(&dir, "rsa.pem")];
    cli.fails(
        &[&oaep[..], &["--wrapping-algorithm", "RSAES_OAEP_SHA_256"]].concat(),
        1,
        "RSA_AES_KEY_WRAP_SHA_256",
    );
    cli.fails(&[&oaep[..], &["--valid-to", "1999-01-01"]].concat(), 1, "past");

    // An HMAC key wrapped with RSAES_OAEP_SHA_1 by arcactl; the MAC matches OpenSSL's.
    std::fs::write(dir.join("hmac.key"), [0x5a; 32]).unwrap();
    let mac_key = create("HMAC_256", &["--tag", "team=b"]);
    let hmac = ["import-key-material", &mac_key, "--material-file", &path(&dir, "hmac.key")];
    cli.ok(&[&hmac[..], &["--wrapping-algorithm", "RSAES_OAEP_SHA_1", "--wrapping-key-spec", "RSA_2048"]]
        .concat());
    let mac = path(&dir, "mac");
    cli.ok(&[
        "generate-mac",
        "--key-id",
        &mac_key,
        "--mac-algorithm",
        "HMAC_SHA_256",
        "--message",
        "byok",
        "--out",
        &mac,
    ]);
    let expected = openssl(
        &dir,
        &[
            "dgst",
            "-sha256",
            "-mac",
            "HMAC",
            "-macopt",
            &format!("hexkey:{}", "5a".repeat(32)),
            "-binary",
            "message",
        ],
    );
    assert_eq!(std::fs::read(&mac).unwrap(), expected);

    // Parameters to files, wrapped by OpenSSL, imported pre-wrapped.
    let aes = create("AES_256", &[]);
    let (public, token) = (path(&dir, "wrap.der"), path(&dir, "token"));
    let parameters = cli.ok(&[
        "get-parameters-for-import",
        &aes,
        "--wrapping-algorithm",
        "RSAES_OAEP_SHA_256",
        "--wrapping-key-spec",
        "RSA_2048",
        "--public-key-out",
        &public,
        "--import-token-out",
        &token,
    ]);
    assert!(parameters["parameters_valid_to"].as_i64().unwrap() > 0);
    std::fs::write(dir.join("aes.key"), [0x11; 32]).unwrap();
    openssl(
        &dir,
        &[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-keyform",
            "DER",
            "-inkey",
            &public,
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
            "-in",
            "aes.key",
            "-out",
            "aes.wrapped",
        ],
    );
    let wrapped = path(&dir, "aes.wrapped");
    cli.ok(&[
        "import-key-material",
        &aes,
        "--encrypted-material-file",
        &wrapped,
        "--import-token-file",
        &token,
    ]);
    cli.ok(&["encrypt", "--key-id", &aes, "--plaintext", "hello"]);
    cli.fails(
        &["import-key-material", &aes, "--encrypted-material-file", &wrapped],
        2,
        "--import-token-file",
    );

    // list-keys filters: origin, state, spec, usage, tag.
    let arca = text(&cli.ok(&["create-key", "--tag", "team=a"])["key_metadata"], "key_id");
    assert_eq!(cli.key_ids(&["--state", "PENDING_IMPORT"]), [rsa.as_str()]);
    let mut external = cli.key_ids(&["--origin", "EXTERNAL", "--limit", "1"]);
    external.sort();
    let mut expected = vec![signer.clone(), rsa.clone(), mac_key.clone(), aes.clone()];
    expected.sort();
    assert_eq!(external, expected);
    assert_eq!(cli.key_ids(&["--origin", "ARCA"]), [arca.as_str()]);
    assert_eq!(cli.key_ids(&["--spec", "HMAC_256"]), [mac_key.as_str()]);
    assert_eq!(
        cli.key_ids(&["--usage", "SIGN_VERIFY", "--origin", "EXTERNAL", "--state", "ENABLED"]),
        [signer.as_str()]
    );
    let mut team_a = cli.key_ids(&["--tag", "team=a"]);
    team_a.sort();
    let mut expected = vec![signer.clone(), arca];
    expected.sort();
    assert_eq!(team_a, expected);
    assert_eq!(cli.key_ids(&["--tag", "team", "--spec", "HMAC_256"]), [mac_key.as_str()]);
    cli.fails(&["list-keys", "--state", "GONE"], 2, "PENDING_IMPORT");

    // Deleting the material sends the key back to PENDING_IMPORT.
    assert_eq!(cli.ok(&["delete-imported-key-material", &signer])["key_material_deleted"], true);
    assert_eq!(text(&cli.ok(&["describe-key", &signer])["key_metadata"], "key_state"), "PENDING_IMPORT");
    cli.fails(&["get-public-key", &signer], 1, "FAILED_PRECONDITION");
}

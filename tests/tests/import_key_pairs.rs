//! Imported key pairs (BYOK for RSA and ECC): OpenSSL makes and wraps the private key, Arca signs
//! and decrypts with it, OpenSSL checks the results with the original public half.

use std::path::{Path, PathBuf};
use std::process::Command;

use arca_tests::{Daemon, Launch, assert_status, pb};
use tonic::Code;

const DAY: i64 = 86_400;

/// OpenSSL's command line in a scratch directory.
struct Ssl {
    dir: tempfile::TempDir,
}

impl Ssl {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) {
        let out = Command::new("openssl").current_dir(self.dir.path()).args(args).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    /// A private key `NAME.pem`, its PKCS#8 DER `NAME.der` and public key `NAME.pub.der`.
    fn genpkey(&self, name: &str, algorithm: &str, option: &str) {
        let (pem, der, public) = (format!("{name}.pem"), format!("{name}.der"), format!("{name}.pub.der"));
        self.run(&["genpkey", "-algorithm", algorithm, "-pkeyopt", option, "-out", &pem]);
        self.run(&["pkcs8", "-topk8", "-nocrypt", "-in", &pem, "-outform", "DER", "-out", &der]);
        self.run(&["pkey", "-in", &pem, "-pubout", "-outform", "DER", "-out", &public]);
    }

    /// RSA_AES_KEY_WRAP_SHA_256 as AWS documents it: an ephemeral AES-256 key under RSA-OAEP-SHA-256,
    /// then the material under that key with AES key wrap with padding.
    fn wrap(&self, wrapping_public_key: &[u8], material: &str) -> Vec<u8> {
        std::fs::write(self.path("wrapping.der"), wrapping_public_key).unwrap();
        self.run(&["rand", "-out", "aes.key", "32"]);
        self.run(&[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-keyform",
            "DER",
            "-inkey",
            "wrapping.der",
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
        ]);
        let hex: String = self.read("aes.key").iter().map(|b| format!("{b:02x}")).collect();
        self.run(&[
            "enc",
            "-id-aes256-wrap-pad",
            "-K",
            &hex,
            "-iv",
            "A65959A6",
            "-in",
            material,
            "-out",
            "kwp",
        ]);
        [self.read("aes.wrapped"), self.read("kwp")].concat()
    }

    /// Whether `signature` over `message` verifies under `public` (DER) with SHA-256 or SHA-384.
    fn verifies(&self, public: &str, digest: &str, message: &[u8], signature: &[u8], pss: bool) -> bool {
        std::fs::write(self.path("message"), message).unwrap();
        std::fs::write(self.path("signature"), signature).unwrap();
        let mut command = Command::new("openssl");
        command.current_dir(self.dir.path()).args(["dgst", digest, "-verify", public, "-keyform", "DER"]);
        if pss {
            command.args(["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]);
        }
        command.args(["-signature", "signature", "message"]).output().unwrap().status.success()
    }
}

async fn create_external(daemon: &Daemon, spec: pb::KeySpec, usage: pb::KeyUsage) -> String {
    let request = pb::CreateKeyRequest {
        key_spec: spec.into(),
        key_usage: usage.into(),
        origin: pb::KeyOrigin::External.into(),
        ..Default::default()
    };
    daemon.kms().await.create_key(request).await.unwrap().into_inner().key_metadata.unwrap().key_id
}

async fn parameters(
    daemon: &Daemon,
    key_id: &str,
    algorithm: &str,
) -> Result<pb::GetParametersForImportResponse, tonic::Status> {
    let request = pb::GetParametersForImportRequest {
        key_id: key_id.into(),
        wrapping_algorithm: algorithm.into(),
        wrapping_key_spec: "RSA_2048".into(),
    };
    Ok(daemon.kms().await.get_parameters_for_import(request).await?.into_inner())
}

/// Wraps the file `material` of `ssl` for `key_id` and imports it.
async fn import(
    daemon: &Daemon,
    ssl: &Ssl,
    key_id: &str,
    material: &str,
    valid_to: i64,
) -> Result<(), tonic::Status> {
    let parameters = parameters(daemon, key_id, "RSA_AES_KEY_WRAP_SHA_256").await.unwrap();
    let request = pb::ImportKeyMaterialRequest {
        key_id: key_id.into(),
        import_token: parameters.import_token,
        encrypted_key_material: ssl.wrap(&parameters.public_key, material),
        valid_to,
    };
    daemon.kms().await.import_key_material(request).await.map(|_| ())
}

async fn describe(daemon: &Daemon, key_id: &str) -> pb::KeyMetadata {
    let request = pb::DescribeKeyRequest { key_id: key_id.into(), grant_tokens: Default::default() };
    daemon.kms().await.describe_key(request).await.unwrap().into_inner().key_metadata.unwrap()
}

async fn public_key(daemon: &Daemon, key_id: &str) -> Result<Vec<u8>, tonic::Status> {
    let request = pb::GetPublicKeyRequest { key_id: key_id.into(), grant_tokens: Default::default() };
    Ok(daemon.kms().await.get_public_key(request).await?.into_inner().public_key)
}

async fn sign(
    daemon: &Daemon,
    key_id: &str,
    algorithm: pb::SigningAlgorithm,
    message: &[u8],
) -> Result<Vec<u8>, tonic::Status> {
    let request = pb::SignRequest {
        key_id: key_id.into(),
        message: message.to_vec(),
        message_type: pb::MessageType::Raw.into(),
        signing_algorithm: algorithm.into(),
        grant_tokens: Default::default(),
    };
    Ok(daemon.kms().await.sign(request).await?.into_inner().signature)
}

async fn now(daemon: &Daemon) -> i64 {
    let request = pb::AdvanceClockRequest { seconds: 0 };
    daemon.admin().await.advance_clock(request).await.unwrap().into_inner().now
}

fn test_clock(dir: &Path) -> Launch {
    let mut launch = Launch::dev(dir);
    launch.args.push("--test-clock".into());
    launch
}

#[tokio::test]
async fn imported_rsa_and_ecc_keys_sign_and_decrypt_for_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::dev(&dir.path().join("data"));
    let daemon = launch.start();
    let ssl = Ssl::new();
    ssl.genpkey("rsa", "RSA", "rsa_keygen_bits:2048");
    ssl.genpkey("p384", "EC", "ec_paramgen_curve:P-384");
    ssl.genpkey("p521", "EC", "ec_paramgen_curve:P-521");
    ssl.genpkey("k1", "EC", "ec_paramgen_curve:secp256k1");
    let cases = [
        ("rsa", pb::KeySpec::Rsa2048, pb::SigningAlgorithm::RsassaPssSha256, "-sha256", true),
        ("rsa", pb::KeySpec::Rsa2048, pb::SigningAlgorithm::RsassaPkcs1V15Sha256, "-sha256", false),
        ("p384", pb::KeySpec::EccNistP384, pb::SigningAlgorithm::EcdsaSha384, "-sha384", false),
        ("p521", pb::KeySpec::EccNistP521, pb::SigningAlgorithm::EcdsaSha512, "-sha512", false),
        ("k1", pb::KeySpec::EccSecgP256k1, pb::SigningAlgorithm::EcdsaSha256, "-sha256", false),
    ];
    let mut signers = Vec::new();
    for (name, spec, algorithm, digest, pss) in cases {
        let key = create_external(&daemon, spec, pb::KeyUsage::SignVerify).await;
        assert_eq!(describe(&daemon, &key).await.key_state(), pb::KeyState::PendingImport);
        assert_status(public_key(&daemon, &key).await, Code::FailedPrecondition, "PENDING_IMPORT");
        assert_status(sign(&daemon, &key, algorithm, b"m").await, Code::FailedPrecondition, "PENDING_IMPORT");

        import(&daemon, &ssl, &key, &format!("{name}.der"), 0).await.unwrap();
        let metadata = describe(&daemon, &key).await;
        assert_eq!(
            (metadata.key_state(), metadata.origin()),
            (pb::KeyState::Enabled, pb::KeyOrigin::External)
        );
        assert_eq!(public_key(&daemon, &key).await.unwrap(), ssl.read(&format!("{name}.pub.der")));
        let signature = sign(&daemon, &key, algorithm, b"bring your own key").await.unwrap();
        let public = format!("{name}.pub.der");
        assert!(
            ssl.verifies(&public, digest, b"bring your own key", &signature, pss),
            "{spec:?} {algorithm:?}"
        );
        assert!(!ssl.verifies(&public, digest, b"another message", &signature, pss));
        signers.push((key, algorithm, public, digest, pss));
    }

    // The same RSA key imported for ENCRYPT_DECRYPT decrypts what OpenSSL encrypts to its public half.
    let decrypter = create_external(&daemon, pb::KeySpec::Rsa2048, pb::KeyUsage::EncryptDecrypt).await;
    import(&daemon, &ssl, &decrypter, "rsa.der", 0).await.unwrap();
    std::fs::write(ssl.path("secret"), b"for the imported key").unwrap();
    ssl.run(&[
        "pkeyutl",
        "-encrypt",
        "-pubin",
        "-keyform",
        "DER",
        "-inkey",
        "rsa.pub.der",
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha256",
        "-pkeyopt",
        "rsa_mgf1_md:sha256",
        "-in",
        "secret",
        "-out",
        "secret.enc",
    ]);
    let decrypt = pb::DecryptRequest {
        ciphertext_blob: ssl.read("secret.enc"),
        key_id: decrypter.clone(),
        encryption_algorithm: pb::EncryptionAlgorithm::RsaesOaepSha256.into(),
        ..Default::default()
    };
    let opened = daemon.kms().await.decrypt(decrypt).await.unwrap().into_inner();
    assert_eq!(opened.plaintext, b"for the imported key");

    // Imported material survives a restart.
    daemon.shutdown().await;
    let daemon = launch.start();
    for (key, algorithm, public, digest, pss) in signers {
        let signature = sign(&daemon, &key, algorithm, b"after restart").await.unwrap();
        assert!(ssl.verifies(&public, digest, b"after restart", &signature, pss));
    }
}

#[tokio::test]
async fn key_pair_import_refuses_other_specs_algorithms_and_material() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Launch::dev(dir.path()).start();
    let ssl = Ssl::new();
    ssl.genpkey("a", "EC", "ec_paramgen_curve:P-256");
    ssl.genpkey("b", "EC", "ec_paramgen_curve:P-256");
    ssl.genpkey("p384", "EC", "ec_paramgen_curve:P-384");
    ssl.genpkey("rsa", "RSA", "rsa_keygen_bits:2048");
    let key = create_external(&daemon, pb::KeySpec::EccNistP256, pb::KeyUsage::SignVerify).await;

    for algorithm in ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"] {
        let refused = parameters(&daemon, &key, algorithm).await;
        let status = assert_status(refused, Code::InvalidArgument, "RSA_AES_KEY_WRAP_SHA_256");
        assert!(status.message().contains(algorithm), "{}", status.message());
    }
    let status = assert_status(
        import(&daemon, &ssl, &key, "p384.der", 0).await,
        Code::InvalidArgument,
        "ECC_NIST_P384",
    );
    assert!(status.message().contains("ECC_NIST_P256"), "{}", status.message());
    let rsa_3072 = create_external(&daemon, pb::KeySpec::Rsa3072, pb::KeyUsage::SignVerify).await;
    let status = assert_status(
        import(&daemon, &ssl, &rsa_3072, "rsa.der", 0).await,
        Code::InvalidArgument,
        "RSA_2048",
    );
    assert!(status.message().contains("RSA_3072"), "{}", status.message());
    std::fs::write(ssl.path("junk"), [7u8; 32]).unwrap();
    assert_status(import(&daemon, &ssl, &key, "junk", 0).await, Code::InvalidArgument, "PKCS#8");
    assert_eq!(describe(&daemon, &key).await.key_state(), pb::KeyState::PendingImport);

    import(&daemon, &ssl, &key, "a.der", 0).await.unwrap();
    let delete = pb::DeleteImportedKeyMaterialRequest { key_id: key.clone() };
    daemon.kms().await.delete_imported_key_material(delete).await.unwrap();
    assert_eq!(describe(&daemon, &key).await.key_state(), pb::KeyState::PendingImport);
    assert_status(
        sign(&daemon, &key, pb::SigningAlgorithm::EcdsaSha256, b"m").await,
        Code::FailedPrecondition,
        "PENDING_IMPORT",
    );
    assert_status(
        import(&daemon, &ssl, &key, "b.der", 0).await,
        Code::InvalidArgument,
        "imported into it before",
    );

    // The same key pair in another PKCS#8 encoding (no public key inside) is the same material.
    ssl.run(&["ec", "-in", "a.pem", "-no_public", "-out", "a-bare.pem"]);
    ssl.run(&["pkcs8", "-topk8", "-nocrypt", "-in", "a-bare.pem", "-outform", "DER", "-out", "a-bare.der"]);
    assert_ne!(ssl.read("a-bare.der"), ssl.read("a.der"));
    import(&daemon, &ssl, &key, "a-bare.der", 0).await.unwrap();
    assert_eq!(public_key(&daemon, &key).await.unwrap(), ssl.read("a.pub.der"));
    let signature = sign(&daemon, &key, pb::SigningAlgorithm::EcdsaSha256, b"again").await.unwrap();
    assert!(ssl.verifies("a.pub.der", "-sha256", b"again", &signature, false));
}

#[tokio::test]
async fn imported_key_pair_material_expires_and_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = test_clock(dir.path()).start();
    let ssl = Ssl::new();
    ssl.genpkey("k", "EC", "ec_paramgen_curve:P-256");
    let key = create_external(&daemon, pb::KeySpec::EccNistP256, pb::KeyUsage::SignVerify).await;
    let valid_to = now(&daemon).await + DAY;
    import(&daemon, &ssl, &key, "k.der", valid_to).await.unwrap();
    assert_eq!(describe(&daemon, &key).await.valid_to, valid_to);
    sign(&daemon, &key, pb::SigningAlgorithm::EcdsaSha256, b"m").await.unwrap();

    let advance = pb::AdvanceClockRequest { seconds: 2 * DAY };
    assert_eq!(daemon.admin().await.advance_clock(advance).await.unwrap().into_inner().keys_changed, 1);
    assert_eq!(
        describe(&daemon, &key).await.key_state(),
        pb::KeyState::PendingImport,
        "expired material is deleted"
    );
    assert_status(
        sign(&daemon, &key, pb::SigningAlgorithm::EcdsaSha256, b"m").await,
        Code::FailedPrecondition,
        "PENDING_IMPORT",
    );
    assert_status(public_key(&daemon, &key).await, Code::FailedPrecondition, "PENDING_IMPORT");

    import(&daemon, &ssl, &key, "k.der", 0).await.unwrap();
    assert_eq!(describe(&daemon, &key).await.valid_to, 0, "no expiry this time");
    let signature = sign(&daemon, &key, pb::SigningAlgorithm::EcdsaSha256, b"back").await.unwrap();
    assert!(ssl.verifies("k.pub.der", "-sha256", b"back", &signature, false));

    // Material deleted while the key is pending deletion: cancelling leaves it waiting for import.
    let schedule = pb::ScheduleKeyDeletionRequest { key_id: key.clone(), pending_window_in_days: 7 };
    daemon.kms().await.schedule_key_deletion(schedule).await.unwrap();
    let delete = pb::DeleteImportedKeyMaterialRequest { key_id: key.clone() };
    daemon.kms().await.delete_imported_key_material(delete).await.unwrap();
    assert_eq!(describe(&daemon, &key).await.key_state(), pb::KeyState::PendingDeletion);
    assert_status(
        import(&daemon, &ssl, &key, "k.der", 0).await,
        Code::FailedPrecondition,
        "PENDING_DELETION",
    );
    daemon
        .kms()
        .await
        .cancel_key_deletion(pb::CancelKeyDeletionRequest { key_id: key.clone() })
        .await
        .unwrap();
    assert_eq!(describe(&daemon, &key).await.key_state(), pb::KeyState::PendingImport);
}

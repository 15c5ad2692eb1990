//! Key pairs and MAC keys through the gRPC API, checked against OpenSSL.

use std::path::Path;
use std::process::Command;

use arca_tests::{Daemon, assert_status, context, pb};
use pb::key_management_client::KeyManagementClient;
use tonic::Code;
use tonic::transport::Channel;

type Kms = KeyManagementClient<Channel>;

async fn create(kms: &mut Kms, spec: pb::KeySpec, usage: pb::KeyUsage) -> pb::KeyMetadata {
    let request =
        pb::CreateKeyRequest { key_spec: spec.into(), key_usage: usage.into(), ..Default::default() };
    kms.create_key(request).await.unwrap().into_inner().key_metadata.unwrap()
}

async fn public_key_file(kms: &mut Kms, key_id: &str, dir: &Path) -> std::path::PathBuf {
    let response = kms
        .get_public_key(pb::GetPublicKeyRequest { key_id: key_id.into(), grant_tokens: Default::default() })
        .await
        .unwrap();
    let path = dir.join(format!("{key_id}.der"));
    std::fs::write(&path, response.into_inner().public_key).unwrap();
    path
}

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl").args(args).output().expect("run openssl")
}

/// An `openssl dgst` option and the digest function for a signing algorithm's hash.
type DigestFor = (&'static str, fn(&[u8]) -> Vec<u8>);

fn sha(algorithm: pb::SigningAlgorithm) -> DigestFor {
    let name = algorithm.as_str_name();
    if name.ends_with("384") {
        ("-sha384", |m| openssl_digest(m, 384))
    } else if name.ends_with("512") {
        ("-sha512", |m| openssl_digest(m, 512))
    } else {
        ("-sha256", |m| openssl_digest(m, 256))
    }
}

/// Digests computed by OpenSSL, an implementation independent of the daemon's.
fn openssl_digest(message: &[u8], bits: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("m");
    std::fs::write(&input, message).unwrap();
    let output = openssl(&["dgst", &format!("-sha{bits}"), "-binary", input.to_str().unwrap()]);
    assert!(output.status.success());
    output.stdout
}

#[tokio::test]
async fn signatures_verify_in_arca_and_in_openssl() {
    let (daemon, dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    let message = b"pay 100 to alice".to_vec();
    let message_file = dir.path().join("message");
    std::fs::write(&message_file, &message).unwrap();
    for spec in [pb::KeySpec::Rsa2048, pb::KeySpec::EccNistP256, pb::KeySpec::EccNistP384] {
        let key = create(&mut kms, spec, pb::KeyUsage::SignVerify).await;
        assert!(!key.signing_algorithms.is_empty());
        let public = public_key_file(&mut kms, &key.key_id, dir.path()).await;
        for algorithm in key.signing_algorithms() {
            let (openssl_digest, digest_of) = sha(algorithm);
            for (message_type, payload) in
                [(pb::MessageType::Raw, message.clone()), (pb::MessageType::Digest, digest_of(&message))]
            {
                let sign = pb::SignRequest {
                    key_id: key.key_id.clone(),
                    message: payload.clone(),
                    message_type: message_type.into(),
                    signing_algorithm: algorithm.into(),
                    grant_tokens: Default::default(),
                };
                let signature = kms.sign(sign).await.unwrap().into_inner().signature;
                let verify = |payload: Vec<u8>| pb::VerifyRequest {
                    key_id: key.key_id.clone(),
                    message: payload,
                    message_type: message_type.into(),
                    signature: signature.clone(),
                    signing_algorithm: algorithm.into(),
                    grant_tokens: Default::default(),
                };
                assert!(kms.verify(verify(payload.clone())).await.unwrap().into_inner().signature_valid);
                let mut altered = payload.clone();
                altered[0] ^= 1;
                assert!(
                    !kms.verify(verify(altered)).await.unwrap().into_inner().signature_valid,
                    "{algorithm:?}"
                );

                let signature_file = dir.path().join("signature");
                std::fs::write(&signature_file, &signature).unwrap();
                let mut args =
                    vec!["dgst", openssl_digest, "-keyform", "DER", "-verify", public.to_str().unwrap()];
                if algorithm.as_str_name().starts_with("RSASSA_PSS") {
                    args.extend(["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]);
                }
                args.extend(["-signature", signature_file.to_str().unwrap(), message_file.to_str().unwrap()]);
                let output = openssl(&args);
                assert!(
                    output.status.success(),
                    "openssl rejected {spec:?} {algorithm:?} {message_type:?}: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
    }
}

#[tokio::test]
async fn oaep_ciphertexts_from_openssl_decrypt_in_arca() {
    let (daemon, dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    let key = create(&mut kms, pb::KeySpec::Rsa2048, pb::KeyUsage::EncryptDecrypt).await;
    assert_eq!(
        key.encryption_algorithms().collect::<Vec<_>>(),
        [pb::EncryptionAlgorithm::RsaesOaepSha1, pb::EncryptionAlgorithm::RsaesOaepSha256]
    );
    let public = public_key_file(&mut kms, &key.key_id, dir.path()).await;
    let plaintext_file = dir.path().join("plaintext");
    let cipher_file = dir.path().join("ciphertext");
    for (algorithm, digest, limit) in [
        (pb::EncryptionAlgorithm::RsaesOaepSha256, "sha256", 190),
        (pb::EncryptionAlgorithm::RsaesOaepSha1, "sha1", 214),
    ] {
        let plaintext = vec![0x61; limit];
        std::fs::write(&plaintext_file, &plaintext).unwrap();
        let output = openssl(&[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-keyform",
            "DER",
            "-inkey",
            public.to_str().unwrap(),
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            &format!("rsa_oaep_md:{digest}"),
            "-pkeyopt",
            &format!("rsa_mgf1_md:{digest}"),
            "-in",
            plaintext_file.to_str().unwrap(),
            "-out",
            cipher_file.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let decrypt = pb::DecryptRequest {
            ciphertext_blob: std::fs::read(&cipher_file).unwrap(),
            key_id: key.key_id.clone(),
            encryption_algorithm: algorithm.into(),
            ..Default::default()
        };
        let opened = kms.decrypt(decrypt.clone()).await.unwrap().into_inner();
        assert_eq!(opened.plaintext, plaintext);
        assert_eq!(opened.encryption_algorithm(), algorithm);

        // Arca's own encryption round-trips, up to the limit and not past it.
        let encrypt = |plaintext: Vec<u8>| pb::EncryptRequest {
            key_id: key.key_id.clone(),
            plaintext,
            encryption_algorithm: algorithm.into(),
            ..Default::default()
        };
        let ciphertext = kms.encrypt(encrypt(plaintext.clone())).await.unwrap().into_inner().ciphertext_blob;
        let again = pb::DecryptRequest { ciphertext_blob: ciphertext, ..decrypt.clone() };
        assert_eq!(kms.decrypt(again).await.unwrap().into_inner().plaintext, plaintext);
        assert_status(
            kms.encrypt(encrypt(vec![0x61; limit + 1])).await,
            Code::InvalidArgument,
            &limit.to_string(),
        );

        let mut tampered = decrypt.clone();
        tampered.ciphertext_blob[7] ^= 1;
        assert_status(kms.decrypt(tampered).await, Code::InvalidArgument, "decryption failed");
        let keyless = pb::DecryptRequest { key_id: String::new(), ..decrypt };
        assert_status(kms.decrypt(keyless).await, Code::InvalidArgument, "key_id is required");
    }
}

#[tokio::test]
async fn macs_generate_and_verify() {
    let (daemon, _dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    for (spec, algorithm, len) in [
        (pb::KeySpec::Hmac256, pb::MacAlgorithm::HmacSha256, 32),
        (pb::KeySpec::Hmac384, pb::MacAlgorithm::HmacSha384, 48),
        (pb::KeySpec::Hmac512, pb::MacAlgorithm::HmacSha512, 64),
    ] {
        let key = create(&mut kms, spec, pb::KeyUsage::Unspecified).await;
        assert_eq!(key.key_usage(), pb::KeyUsage::GenerateVerifyMac);
        assert_eq!(key.mac_algorithms().collect::<Vec<_>>(), [algorithm]);
        let generate = pb::GenerateMacRequest {
            key_id: key.key_id.clone(),
            message: b"ledger line 7".to_vec(),
            mac_algorithm: algorithm.into(),
            grant_tokens: Default::default(),
        };
        let mac = kms.generate_mac(generate.clone()).await.unwrap().into_inner().mac;
        assert_eq!(mac.len(), len);
        assert_eq!(kms.generate_mac(generate).await.unwrap().into_inner().mac, mac, "HMAC is deterministic");
        let verify = |message: &[u8], mac: Vec<u8>| pb::VerifyMacRequest {
            key_id: key.key_id.clone(),
            message: message.to_vec(),
            mac,
            mac_algorithm: algorithm.into(),
            grant_tokens: Default::default(),
        };
        assert!(kms.verify_mac(verify(b"ledger line 7", mac.clone())).await.unwrap().into_inner().mac_valid);
        assert!(!kms.verify_mac(verify(b"ledger line 8", mac.clone())).await.unwrap().into_inner().mac_valid);
        assert!(
            !kms.verify_mac(verify(b"ledger line 7", mac[..16].to_vec()))
                .await
                .unwrap()
                .into_inner()
                .mac_valid
        );
    }
}

#[tokio::test]
async fn data_key_pairs_match_and_unwrap() {
    let (daemon, dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    let wrapping = create(&mut kms, pb::KeySpec::Aes256, pb::KeyUsage::EncryptDecrypt).await;
    let ctx = context(&[("service", "billing")]);
    for spec in [pb::KeySpec::EccNistP256, pb::KeySpec::Rsa2048] {
        let request = pb::GenerateDataKeyPairRequest {
            key_id: wrapping.key_id.clone(),
            key_pair_spec: spec.into(),
            encryption_context: ctx.clone(),
            grant_tokens: Default::default(),
        };
        let pair = kms.generate_data_key_pair(request.clone()).await.unwrap().into_inner();
        assert_eq!(pair.key_pair_spec(), spec);
        let private_file = dir.path().join("private.der");
        std::fs::write(&private_file, &pair.private_key_plaintext).unwrap();
        let output = openssl(&[
            "pkey",
            "-inform",
            "DER",
            "-in",
            private_file.to_str().unwrap(),
            "-pubout",
            "-outform",
            "DER",
        ]);
        assert!(output.status.success(), "openssl cannot read the PKCS#8 key");
        assert_eq!(output.stdout, pair.public_key, "the public key belongs to the private key");
        let unwrap = pb::DecryptRequest {
            ciphertext_blob: pair.private_key_ciphertext_blob,
            encryption_context: ctx.clone(),
            ..Default::default()
        };
        assert_eq!(kms.decrypt(unwrap).await.unwrap().into_inner().plaintext, pair.private_key_plaintext);

        let bare = kms.generate_data_key_pair_without_plaintext(request).await.unwrap().into_inner();
        assert_ne!(bare.public_key, pair.public_key, "every pair is fresh");
    }
    let symmetric_spec = pb::GenerateDataKeyPairRequest {
        key_id: wrapping.key_id.clone(),
        key_pair_spec: pb::KeySpec::Hmac256.into(),
        ..Default::default()
    };
    assert_status(kms.generate_data_key_pair(symmetric_spec).await, Code::InvalidArgument, "key pair spec");
}

#[tokio::test]
async fn wrong_keys_algorithms_and_shapes_are_named() {
    let (daemon, _dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    let aes = create(&mut kms, pb::KeySpec::Aes256, pb::KeyUsage::EncryptDecrypt).await;
    let rsa_encrypt = create(&mut kms, pb::KeySpec::Rsa2048, pb::KeyUsage::EncryptDecrypt).await;
    let ecc = create(&mut kms, pb::KeySpec::EccNistP256, pb::KeyUsage::SignVerify).await;
    let sign =
        |key_id: &str, algorithm: pb::SigningAlgorithm, message_type: pb::MessageType, message: &[u8]| {
            pb::SignRequest {
                key_id: key_id.into(),
                message: message.to_vec(),
                message_type: message_type.into(),
                signing_algorithm: algorithm.into(),
                grant_tokens: Default::default(),
            }
        };
    use pb::MessageType::{Digest, Raw};
    use pb::SigningAlgorithm::{EcdsaSha256, EcdsaSha384, RsassaPssSha256, Unspecified};
    assert_status(
        kms.sign(sign(&rsa_encrypt.key_id, RsassaPssSha256, Raw, b"m")).await,
        Code::FailedPrecondition,
        "ENCRYPT_DECRYPT",
    );
    assert_status(
        kms.sign(sign(&aes.key_id, EcdsaSha256, Raw, b"m")).await,
        Code::FailedPrecondition,
        "usage",
    );
    assert_status(
        kms.sign(sign(&ecc.key_id, EcdsaSha384, Raw, b"m")).await,
        Code::InvalidArgument,
        "ECDSA_SHA_256",
    );
    assert_status(
        kms.sign(sign(&ecc.key_id, Unspecified, Raw, b"m")).await,
        Code::InvalidArgument,
        "signing_algorithm",
    );
    assert_status(
        kms.sign(sign(&ecc.key_id, EcdsaSha256, Digest, &[0; 20])).await,
        Code::InvalidArgument,
        "32 bytes",
    );
    assert_status(
        kms.sign(sign(&ecc.key_id, EcdsaSha256, Raw, &[0; 4097])).await,
        Code::InvalidArgument,
        "4096",
    );
    let malformed = pb::VerifyRequest {
        key_id: ecc.key_id.clone(),
        message: b"m".to_vec(),
        signature: vec![0x30, 0x02, 0x05, 0x00],
        signing_algorithm: EcdsaSha256.into(),
        ..Default::default()
    };
    assert_status(kms.verify(malformed).await, Code::InvalidArgument, "malformed signature");
    assert_status(
        kms.get_public_key(pb::GetPublicKeyRequest {
            key_id: aes.key_id.clone(),
            grant_tokens: Default::default(),
        })
        .await,
        Code::InvalidArgument,
        "no public key",
    );
    let symmetric_on_rsa = pb::EncryptRequest {
        key_id: rsa_encrypt.key_id.clone(),
        plaintext: b"x".to_vec(),
        ..Default::default()
    };
    assert_status(kms.encrypt(symmetric_on_rsa).await, Code::InvalidArgument, "RSAES_OAEP");
    let oaep_on_aes = pb::EncryptRequest {
        key_id: aes.key_id.clone(),
        plaintext: b"x".to_vec(),
        encryption_algorithm: pb::EncryptionAlgorithm::RsaesOaepSha256.into(),
        ..Default::default()
    };
    assert_status(kms.encrypt(oaep_on_aes).await, Code::InvalidArgument, "RSA key");
    let mac_on_ecc = pb::GenerateMacRequest {
        key_id: ecc.key_id.clone(),
        message: b"m".to_vec(),
        mac_algorithm: pb::MacAlgorithm::HmacSha256.into(),
        grant_tokens: Default::default(),
    };
    assert_status(kms.generate_mac(mac_on_ecc).await, Code::FailedPrecondition, "SIGN_VERIFY");
}

#[tokio::test]
async fn rsa_key_generation_does_not_stall_other_callers() {
    let (daemon, _dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    let mut slow = kms.clone();
    let generation = tokio::spawn(async move {
        let started = std::time::Instant::now();
        create(&mut slow, pb::KeySpec::Rsa4096, pb::KeyUsage::SignVerify).await;
        started.elapsed()
    });
    let mut worst = std::time::Duration::ZERO;
    let mut calls = 0;
    while !generation.is_finished() {
        let started = std::time::Instant::now();
        kms.generate_random(pb::GenerateRandomRequest { number_of_bytes: 16 }).await.unwrap();
        worst = worst.max(started.elapsed());
        calls += 1;
    }
    let generation_time = generation.await.unwrap();
    assert!(calls > 0);
    assert!(
        worst < std::time::Duration::from_millis(250),
        "a call took {worst:?} while RSA-4096 generation ({generation_time:?}) ran; {calls} calls"
    );
}

#[tokio::test]
async fn key_generation_gives_up_at_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let daemon =
        arca_tests::Launch::key_file_config(dir.path(), "key_generation_timeout_secs = 0.001").start();
    let mut kms = daemon.kms().await;
    let request = pb::CreateKeyRequest { key_spec: pb::KeySpec::Rsa4096.into(), ..Default::default() };
    assert_status(kms.create_key(request).await, Code::DeadlineExceeded, "key generation");
    let listed = kms.list_keys(pb::ListKeysRequest::default()).await.unwrap().into_inner();
    assert!(listed.keys.is_empty(), "a key whose creation timed out must not appear");
}

#[test]
fn the_rsa_crate_stays_out_of_the_daemon_and_the_module() {
    // RUSTSEC-2023-0071 (Marvin): RSA private-key operations run in AWS-LC, never in the `rsa`
    // crate, which only the differential tests use (a dev-dependency of arca-tests). This fails if
    // a dependency of the daemon or of the PKCS#11 module brings it in.
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock")).unwrap();
    let graph = LockGraph::parse(&lock);
    for root in ["arca-daemon", "arca-pkcs11"] {
        let reached = graph.reachable(root);
        assert!(reached.contains("tonic"), "{root}: {reached:?}");
        assert!(!reached.contains("rsa"), "{root} depends on the rsa crate");
    }
    assert!(graph.reachable("arca-tests").contains("rsa"), "the walk sees the differential tests' rsa");
}

/// Cargo.lock's packages and their dependencies, by name (the lock lists normal and build
/// dependencies of every package, and dev-dependencies of the workspace's own).
struct LockGraph(std::collections::HashMap<String, Vec<String>>);

impl LockGraph {
    fn parse(lock: &str) -> Self {
        let mut graph: std::collections::HashMap<String, Vec<String>> = Default::default();
        let mut current = String::new();
        for line in lock.lines() {
            if let Some(name) = line.strip_prefix("name = ") {
                current = name.trim_matches('"').to_owned();
                graph.entry(current.clone()).or_default();
            } else if let Some(entry) = line.strip_prefix(" \"") {
                // ` "name"`, ` "name version"` or ` "name version (source)"`.
                let dependency = entry.split([' ', '"']).next().unwrap().to_owned();
                graph.get_mut(&current).unwrap().push(dependency);
            }
        }
        Self(graph)
    }

    /// The names of every package `root` depends on, directly or not (any version of each).
    fn reachable(&self, root: &str) -> std::collections::BTreeSet<String> {
        let mut seen = std::collections::BTreeSet::new();
        let mut pending = vec![root.to_owned()];
        while let Some(name) = pending.pop() {
            let dependencies = self.0.get(&name).unwrap_or_else(|| panic!("{name} is not in Cargo.lock"));
            for dependency in dependencies {
                if seen.insert(dependency.clone()) {
                    pending.push(dependency.clone());
                }
            }
        }
        seen
    }
}

#[tokio::test]
async fn key_pairs_and_mac_keys_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let launch = arca_tests::Launch::dev(dir.path());
    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    let ecc = create(&mut kms, pb::KeySpec::EccNistP256, pb::KeyUsage::SignVerify).await;
    let hmac = create(&mut kms, pb::KeySpec::Hmac256, pb::KeyUsage::GenerateVerifyMac).await;
    let sign = pb::SignRequest {
        key_id: ecc.key_id.clone(),
        message: b"before".to_vec(),
        signing_algorithm: pb::SigningAlgorithm::EcdsaSha256.into(),
        ..Default::default()
    };
    let signature = kms.sign(sign).await.unwrap().into_inner().signature;
    let public = kms
        .get_public_key(pb::GetPublicKeyRequest {
            key_id: ecc.key_id.clone(),
            grant_tokens: Default::default(),
        })
        .await
        .unwrap()
        .into_inner();
    let mac_request = pb::GenerateMacRequest {
        key_id: hmac.key_id.clone(),
        message: b"before".to_vec(),
        mac_algorithm: pb::MacAlgorithm::HmacSha256.into(),
        grant_tokens: Default::default(),
    };
    let mac = kms.generate_mac(mac_request.clone()).await.unwrap().into_inner().mac;
    daemon.shutdown().await;

    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    let verify = pb::VerifyRequest {
        key_id: ecc.key_id.clone(),
        message: b"before".to_vec(),
        signature,
        signing_algorithm: pb::SigningAlgorithm::EcdsaSha256.into(),
        ..Default::default()
    };
    assert!(kms.verify(verify).await.unwrap().into_inner().signature_valid);
    let again = kms
        .get_public_key(pb::GetPublicKeyRequest { key_id: ecc.key_id, grant_tokens: Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.public_key, public.public_key);
    assert_eq!(kms.generate_mac(mac_request).await.unwrap().into_inner().mac, mac);
}

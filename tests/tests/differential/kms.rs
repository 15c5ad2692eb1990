//! The KMS face: `Sign` (RAW and DIGEST) checked by RustCrypto against `GetPublicKey`, and
//! `Decrypt` of RustCrypto's RSAES-OAEP ciphertexts.

use arca_tests::{Daemon, pb};
use pb::key_management_client::KeyManagementClient;
use pb::{EncryptionAlgorithm as Enc, KeySpec, KeyUsage, SigningAlgorithm as Alg};
use tonic::transport::Channel;

use super::{Encryption, Hash, PublicKey, Rng, Scheme};

type Kms = KeyManagementClient<Channel>;

/// The most a RAW `Sign` message may hold.
const MAX_RAW: usize = 4096;

const RSA_SIGNING: &[Alg] = &[
    Alg::RsassaPkcs1V15Sha256,
    Alg::RsassaPkcs1V15Sha384,
    Alg::RsassaPkcs1V15Sha512,
    Alg::RsassaPssSha256,
    Alg::RsassaPssSha384,
    Alg::RsassaPssSha512,
];

/// Each signing key, its algorithms and the messages signed per algorithm (larger RSA keys get
/// few: their keys are slow to make, not their signatures).
const SIGNING: &[(KeySpec, &[Alg], usize)] = &[
    (KeySpec::Rsa2048, RSA_SIGNING, 64),
    (KeySpec::Rsa3072, RSA_SIGNING, 16),
    (KeySpec::Rsa4096, RSA_SIGNING, 16),
    (KeySpec::EccNistP256, &[Alg::EcdsaSha256], 64),
    (KeySpec::EccNistP384, &[Alg::EcdsaSha384], 64),
];

/// Each decryption key and the plaintexts decrypted per algorithm.
const DECRYPTION: &[(KeySpec, usize)] =
    &[(KeySpec::Rsa2048, 64), (KeySpec::Rsa3072, 16), (KeySpec::Rsa4096, 16)];

const OAEP: [(Enc, Hash); 2] = [(Enc::RsaesOaepSha1, Hash::Sha1), (Enc::RsaesOaepSha256, Hash::Sha256)];

/// The RustCrypto scheme and hash of a KMS signing algorithm.
fn scheme(algorithm: Alg) -> (Scheme, Hash) {
    match algorithm {
        Alg::RsassaPkcs1V15Sha256 => (Scheme::Pkcs1(Hash::Sha256), Hash::Sha256),
        Alg::RsassaPkcs1V15Sha384 => (Scheme::Pkcs1(Hash::Sha384), Hash::Sha384),
        Alg::RsassaPkcs1V15Sha512 => (Scheme::Pkcs1(Hash::Sha512), Hash::Sha512),
        Alg::RsassaPssSha256 => (Scheme::Pss(Hash::Sha256), Hash::Sha256),
        Alg::RsassaPssSha384 => (Scheme::Pss(Hash::Sha384), Hash::Sha384),
        Alg::RsassaPssSha512 => (Scheme::Pss(Hash::Sha512), Hash::Sha512),
        Alg::EcdsaSha256 => (Scheme::EcdsaDer, Hash::Sha256),
        Alg::EcdsaSha384 => (Scheme::EcdsaDer, Hash::Sha384),
        // P-521 and Ed25519 are checked by OpenSSL (tests/aws/test_curves.py, the PKCS#11 suite).
        Alg::EcdsaSha512 | Alg::Ed25519Sha512 | Alg::Unspecified => panic!("not in the differential set"),
    }
}

/// Creates the keys side by side (key generation runs in the daemon's blocking pool) and returns
/// each key's id and public key, in order.
async fn create_keys(kms: &Kms, specs: &[(KeySpec, KeyUsage)]) -> Vec<(String, PublicKey)> {
    let tasks: Vec<_> = specs
        .iter()
        .map(|&(spec, usage)| {
            let mut kms = kms.clone();
            tokio::spawn(async move {
                let request = pb::CreateKeyRequest {
                    key_spec: spec.into(),
                    key_usage: usage.into(),
                    ..Default::default()
                };
                let key_id = kms.create_key(request).await.unwrap().into_inner().key_metadata.unwrap().key_id;
                let request =
                    pb::GetPublicKeyRequest { key_id: key_id.clone(), grant_tokens: Default::default() };
                let der = kms.get_public_key(request).await.unwrap().into_inner().public_key;
                (key_id, PublicKey::from_spki(&der))
            })
        })
        .collect();
    let mut keys = Vec::with_capacity(tasks.len());
    for task in tasks {
        keys.push(task.await.unwrap());
    }
    keys
}

/// What `Sign` is given for `message`: the message itself (RAW, which must not be empty) and its
/// digest (DIGEST).
fn inputs(message: &[u8], hash: Hash) -> Vec<(pb::MessageType, Vec<u8>)> {
    let digest = (pb::MessageType::Digest, hash.digest(message));
    if message.is_empty() { vec![digest] } else { vec![(pb::MessageType::Raw, message.to_vec()), digest] }
}

#[tokio::test]
async fn every_kms_signature_verifies_in_rustcrypto() {
    let (daemon, _data) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    let specs: Vec<_> = SIGNING.iter().map(|&(spec, ..)| (spec, KeyUsage::SignVerify)).collect();
    let keys = create_keys(&kms, &specs).await;
    let mut rng = Rng::seeded();
    let mut checked = 0;
    for (&(spec, algorithms, count), (key_id, public)) in SIGNING.iter().zip(&keys) {
        for &algorithm in algorithms {
            let (scheme, hash) = scheme(algorithm);
            for message in rng.messages(count, MAX_RAW) {
                for (message_type, input) in inputs(&message, hash) {
                    let request = pb::SignRequest {
                        key_id: key_id.clone(),
                        message: input,
                        message_type: message_type.into(),
                        signing_algorithm: algorithm.into(),
                        grant_tokens: Default::default(),
                    };
                    let signature = kms.sign(request).await.unwrap().into_inner().signature;
                    public.verify(scheme, &message, &signature).unwrap_or_else(|e| {
                        panic!("{spec:?} {algorithm:?} {message_type:?} of {} bytes: {e}", message.len())
                    });
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000, "{checked} signatures checked");
}

#[tokio::test]
async fn every_rustcrypto_oaep_ciphertext_decrypts_in_kms() {
    let (daemon, _data) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    let specs: Vec<_> = DECRYPTION.iter().map(|&(spec, _)| (spec, KeyUsage::EncryptDecrypt)).collect();
    let keys = create_keys(&kms, &specs).await;
    let mut rng = Rng::seeded();
    for (&(spec, count), (key_id, public)) in DECRYPTION.iter().zip(&keys) {
        for (algorithm, hash) in OAEP {
            let encryption = Encryption::Oaep(hash);
            for plaintext in rng.messages(count, encryption.max_plaintext(public.modulus_bytes())) {
                let request = pb::DecryptRequest {
                    ciphertext_blob: public.encrypt(encryption, &plaintext),
                    key_id: key_id.clone(),
                    encryption_algorithm: algorithm.into(),
                    ..Default::default()
                };
                let decrypted = kms
                    .decrypt(request)
                    .await
                    .unwrap_or_else(|e| panic!("{spec:?} {algorithm:?} of {} bytes: {e:?}", plaintext.len()));
                assert_eq!(decrypted.into_inner().plaintext, plaintext, "{spec:?} {algorithm:?}");
            }
        }
    }
}

//! The access key service over a real key-file store: creating, listing and deleting as an
//! administrator, the credential the signature check reads, and `--dev`'s credentials file.

use std::os::unix::fs::PermissionsExt as _;

use super::*;
use crate::audit::AuditLog;
use crate::auth::sigv4::{self, SignatureRefusal};
use crate::service::ServiceOptions;
use crate::store::{RedbBackend, SealConfig, SealMode, create_key_file};

const ADMIN: &str = "uid:0";

async fn service(dir: &Path) -> (AccessKeyService, Arc<Keystore>) {
    let key_file = dir.join("master.key");
    if !key_file.exists() {
        create_key_file(&key_file).unwrap();
    }
    let backend = Arc::new(RedbBackend::open(&dir.join("arca.redb")).unwrap());
    let audit = Arc::new(AuditLog::open(&dir.join("audit.log"), 1 << 20).unwrap());
    let seal = SealConfig {
        mode: SealMode::KeyFile(key_file),
        argon2_memory_kib: 8,
        argon2_iterations: 1,
        argon2_parallelism: 1,
    };
    let options = ServiceOptions { administrators: vec![ADMIN.to_owned()], ..ServiceOptions::default() };
    let keystore = Arc::new(Keystore::open(backend, audit, seal, options).await.unwrap());
    (AccessKeyService::new(Arc::clone(&keystore)), keystore)
}

#[test]
fn ids_and_secrets_have_aws_shapes() {
    let id = new_access_key_id().unwrap();
    assert!(is_access_key_id(&id), "{id}");
    assert_ne!(id, new_access_key_id().unwrap());
    let secret = new_secret().unwrap();
    assert_eq!(secret.len(), SECRET_LEN);
    // What AWS KMS takes as an external key store's secret: 43 to 64 of these characters.
    assert!((43..=64).contains(&secret.len()));
    assert!(secret.as_slice().iter().all(|b| b.is_ascii_alphanumeric() || matches!(*b, b'+' | b'/' | b'=')));
    for bad in [
        "",
        "AKIA",
        "AKIAAAAAAAAAAAAAAAA1",
        "ASIAAAAAAAAAAAAAAAAA",
        "AKIAaaaaaaaaaaaaaaaa",
        "AKIAAAAAAAAAAAAAAAAAA",
    ] {
        assert!(!is_access_key_id(bad), "{bad}");
    }
}

#[tokio::test]
async fn administrators_create_list_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, _keystore) = service(dir.path()).await;
    let admin = Call::new(ADMIN);
    let made = keys.create(&admin, "cert:CN=app", "the app").await.unwrap();
    assert_eq!(admin.used().key.as_deref(), Some(made.entry.access_key_id.as_str()), "audited by id");
    let listed = keys.list(&admin).unwrap();
    assert_eq!(listed, vec![made.entry.clone()]);
    let credential = keys.credential(&made.entry.access_key_id).unwrap().unwrap();
    assert_eq!(credential.principal, "cert:CN=app");
    assert_eq!(credential.secret, made.secret);
    let stored = std::fs::read(dir.path().join("arca.redb")).unwrap();
    assert!(!stored.windows(SECRET_LEN).any(|w| w == made.secret.as_slice()), "secret stored in clear");

    keys.delete(&admin, &made.entry.access_key_id).await.unwrap();
    assert!(keys.list(&admin).unwrap().is_empty());
    assert!(keys.credential(&made.entry.access_key_id).unwrap().is_none());
    let again = keys.delete(&admin, &made.entry.access_key_id).await.unwrap_err();
    assert!(matches!(again, Error::KeyNotFound(_)), "{again:?}");
}

#[tokio::test]
async fn others_are_refused_and_input_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, _keystore) = service(dir.path()).await;
    let (admin, user) = (Call::new(ADMIN), Call::new("uid:4242"));
    let refused = keys.create(&user, "uid:4242", "mine").await.unwrap_err();
    assert!(matches!(refused, Error::AccessDenied(_)), "{refused:?}");
    assert!(matches!(keys.list(&user), Err(Error::AccessDenied(_))));
    let made = keys.create(&admin, "uid:1000", "").await.unwrap();
    let refused = keys.delete(&user, &made.entry.access_key_id).await.unwrap_err();
    assert!(matches!(refused, Error::AccessDenied(_)), "{refused:?}");
    for principal in ["", "alice", "uid:x", "unknown"] {
        let error = keys.create(&admin, principal, "").await.unwrap_err();
        assert!(matches!(error, Error::InvalidArgument(_)), "{principal:?}: {error:?}");
    }
    assert!(matches!(keys.create(&admin, "uid:1", "a\nb").await, Err(Error::InvalidArgument(_))));
    assert!(matches!(keys.delete(&admin, "not-a-key").await, Err(Error::InvalidArgument(_))));
    assert!(keys.credential("not-a-key").unwrap().is_none());
    assert_eq!(keys.list(&admin).unwrap().len(), 1, "only the administrator's key was made");
}

#[tokio::test]
async fn keys_survive_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let made = {
        let (keys, _keystore) = service(dir.path()).await;
        keys.create(&Call::new(ADMIN), "uid:1000", "kept").await.unwrap()
    };
    let (keys, _keystore) = service(dir.path()).await;
    let credential = keys.credential(&made.entry.access_key_id).unwrap().unwrap();
    assert_eq!(credential.secret, made.secret);
}

#[tokio::test]
async fn a_deleted_key_no_longer_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, _keystore) = service(dir.path()).await;
    let admin = Call::new(ADMIN);
    let made = keys.create(&admin, "uid:1000", "").await.unwrap();
    let secret = std::str::from_utf8(made.secret.as_slice()).unwrap();
    let parts = sigv4::tests::signed_by(&made.entry.access_key_id, secret);
    let body = br#"{"KeyId":"alias/orders","Plaintext":"aGVsbG8="}"#;
    let time = sigv4::tests::signing_time();
    let verified = sigv4::verify(&parts, body, time, sigv4::tests::REGION, &keys).unwrap();
    assert_eq!(verified.principal, "uid:1000");
    keys.delete(&admin, &made.entry.access_key_id).await.unwrap();
    let refused = sigv4::verify(&parts, body, time, sigv4::tests::REGION, &keys).unwrap_err();
    assert!(matches!(refused, SignatureRefusal::UnknownAccessKey), "{refused:?}");
}

#[tokio::test]
async fn dev_credentials_are_written_once_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, _keystore) = service(dir.path()).await;
    let path = dir.path().join("aws-credentials");
    let id = keys.ensure_dev_credentials(&path, "uid:1000").await.unwrap().unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first(), Some(&"[arca-dev]"));
    assert_eq!(lines.get(1).copied(), Some(format!("aws_access_key_id = {id}").as_str()));
    let secret = lines.get(2).and_then(|line| line.strip_prefix("aws_secret_access_key = ")).unwrap();
    let credential = keys.credential(&id).unwrap().unwrap();
    assert_eq!(credential.secret.as_slice(), secret.as_bytes());
    assert_eq!(credential.principal, "uid:1000");
    assert_eq!(keys.ensure_dev_credentials(&path, "uid:1000").await.unwrap(), None);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "an existing file is kept");
    let admin = Call::new(ADMIN);
    assert_eq!(keys.list(&admin).unwrap().len(), 1);
    assert_eq!(keys.list(&admin).unwrap()[0].description, "dev");
}

//! The PostgreSQL store as an operator meets it: `arcad migrate` from redb into PostgreSQL and
//! back, verified and serving the same keys; TLS to the database, verified against its CA; and a
//! database administrator who edits or swaps rows gets a refused key or a refused unseal, never a
//! wrong key.

use std::process::Command;

use arca_tests::postgres::Postgres;
use arca_tests::{Daemon, Launch, binary, create_key, pb};
use tonic::Code;

async fn encrypt(node: &Daemon, key: &str, plaintext: &[u8]) -> Result<Vec<u8>, tonic::Status> {
    let request =
        pb::EncryptRequest { key_id: key.into(), plaintext: plaintext.to_vec(), ..Default::default() };
    Ok(node.kms().await.encrypt(request).await?.into_inner().ciphertext_blob)
}

async fn decrypt(node: &Daemon, blob: &[u8]) -> Result<Vec<u8>, tonic::Status> {
    let request = pb::DecryptRequest { ciphertext_blob: blob.to_vec(), ..Default::default() };
    Ok(node.kms().await.decrypt(request).await?.into_inner().plaintext)
}

fn migrate(args: &[&str]) -> std::process::Output {
    Command::new(binary("arcad")).arg("migrate").args(args).output().expect("run arcad migrate")
}

/// The key id's 16 bytes as a PostgreSQL bytea literal.
fn key_bytes(key: &str) -> String {
    format!("decode('{}', 'hex')", key.replace('-', ""))
}

#[tokio::test]
async fn a_redb_store_migrates_into_postgres_and_back_and_serves_the_same_keys() {
    let postgres = Postgres::start();
    let url = postgres.database("arca");
    let dir = tempfile::tempdir().unwrap();
    let single = Launch::dev_on_redb(dir.path()).start();
    let key = create_key(&mut single.kms().await, "migrated").await;
    let old = encrypt(&single, &key, b"before").await.unwrap();
    drop(single);

    let redb = format!("redb:{}", dir.path().join("arca.redb").display());
    let into = migrate(&["--from", &redb, "--to", &format!("postgres:{url}"), "--node", "node-0"]);
    assert!(into.status.success(), "{}", String::from_utf8_lossy(&into.stderr));
    assert!(String::from_utf8_lossy(&into.stdout).contains("copied and verified"));
    let again = migrate(&["--from", &redb, "--to", &format!("postgres:{url}")]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"), "{again:?}");

    // The same data directory (its audit log) goes on with the store in PostgreSQL.
    let node = Launch::dev_on_redb(dir.path()).on_postgres(&url, "node-0").start();
    assert_eq!(decrypt(&node, &old).await.unwrap(), b"before");
    let newer = encrypt(&node, &key, b"after").await.unwrap();
    let verified = node.admin().await.verify_audit(pb::VerifyAuditRequest {}).await;
    assert!(verified.is_ok(), "{verified:?}");
    drop(node);

    let back = dir.path().join("back.redb");
    let out = migrate(&[
        "--from",
        &format!("postgres:{url}"),
        "--to",
        &format!("redb:{}", back.display()),
        "--node",
        "node-0",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut launch = Launch::dev_on_redb(dir.path());
    launch.args.extend(["--store".into(), format!("redb:{}", back.display())]);
    let single = launch.start();
    assert_eq!(decrypt(&single, &old).await.unwrap(), b"before");
    assert_eq!(decrypt(&single, &newer).await.unwrap(), b"after");
    let verified = single.admin().await.verify_audit(pb::VerifyAuditRequest {}).await;
    assert!(verified.is_ok(), "{verified:?}");
}

/// A store of the previous release holds an alias row without a MAC: a shared store would refuse
/// it, so `arcad migrate` refuses the store until this release has unsealed it once.
#[tokio::test]
async fn a_store_of_the_previous_release_migrates_once_this_release_has_unsealed_it() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/previous-release");
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let key_file = dir.path().join("master.key");
    std::fs::set_permissions(&key_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let postgres = Postgres::start();
    let url = postgres.database("arca");
    let redb = format!("redb:{}", dir.path().join("arca.redb").display());
    let to = format!("postgres:{url}");
    let refused = migrate(&["--from", &redb, "--to", &to, "--node", "node-0"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("earlier release"), "{refused:?}");
    assert_eq!(postgres.sql("arca", "SELECT count(*) FROM arca_records"), "0", "nothing copied");

    Launch::dev_on_redb(dir.path()).start().shutdown().await;
    let copied = migrate(&["--from", &redb, "--to", &to, "--node", "node-0"]);
    assert!(copied.status.success(), "{}", String::from_utf8_lossy(&copied.stderr));
    let node = Launch::dev_on_redb(dir.path()).on_postgres(&url, "node-0").start();
    let request = pb::DescribeKeyRequest { key_id: "alias/previous".into(), grant_tokens: Vec::new() };
    node.kms().await.describe_key(request).await.expect("the alias, now authenticated, resolves");
    let verified = node.admin().await.verify_audit(pb::VerifyAuditRequest {}).await;
    assert!(verified.is_ok(), "{verified:?}");
}

#[tokio::test]
async fn the_database_is_reached_over_tls_verified_against_its_ca() {
    let pki = tempfile::tempdir().unwrap();
    arca_tests::pki::make_pki(pki.path());
    let postgres = Postgres::start_tls(pki.path());
    postgres.database("arca");
    let url = postgres.tcp_url("arca");
    let config = |dir: &std::path::Path, ca: &std::path::Path| {
        let store = format!(
            "[store]\nbackend = \"postgres\"\nurl = \"{url}\"\nnode_name = \"tls-node\"\nca_cert = \"{}\"\n",
            ca.display()
        );
        Launch::key_file_config(dir, &store)
    };
    let dir = tempfile::tempdir().unwrap();
    let node = config(dir.path(), &pki.path().join("ca.pem")).start();
    let key = create_key(&mut node.kms().await, "over tls").await;
    let blob = encrypt(&node, &key, b"tls").await.unwrap();
    assert_eq!(decrypt(&node, &blob).await.unwrap(), b"tls");
    let sessions = postgres.sql("arca", "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE s.ssl AND a.application_name = 'arcad tls-node'");
    assert_ne!(sessions, "0", "the node's connections use TLS");
    drop(node);

    // A CA that did not sign the database's certificate: the node does not start.
    let stranger = tempfile::tempdir().unwrap();
    arca_tests::pki::make_pki(stranger.path());
    let (code, stderr) = config(dir.path(), &stranger.path().join("ca.pem")).run_to_exit();
    assert_ne!(code, Some(0));
    assert!(stderr.contains("store"), "{stderr}");
    // Without TLS the database refuses the connection (pg_hba: hostnossl reject).
    let plain = "[store]\nbackend = \"postgres\"\nurl = \"".to_owned() + &url + "\"\nnode_name = \"plain\"\n";
    let (code, _) = Launch::key_file_config(dir.path(), &plain).run_to_exit();
    assert_ne!(code, Some(0));
}

#[tokio::test]
async fn a_row_edited_or_swapped_in_the_database_is_refused_never_used() {
    let postgres = Postgres::start();
    let url = postgres.database("arca");
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::dev_on_redb(dir.path()).on_postgres(&url, "node-0");
    let node = launch.start();
    let mut kms = node.kms().await;
    let (edited, swapped_a, swapped_b, bystander) = (
        create_key(&mut kms, "edited").await,
        create_key(&mut kms, "swapped a").await,
        create_key(&mut kms, "swapped b").await,
        create_key(&mut kms, "bystander").await,
    );
    let alias =
        pb::CreateAliasRequest { alias_name: "alias/payments".into(), target_key_id: bystander.clone() };
    kms.create_alias(alias).await.unwrap();
    let grant = pb::CreateGrantRequest {
        key_id: bystander.clone(),
        grantee_principal: "uid:4242".into(),
        operations: vec!["Encrypt".into()],
        ..Default::default()
    };
    let granted = kms.create_grant(grant).await.unwrap().into_inner();
    drop(kms);
    drop(node);
    postgres.sql(
        "arca",
        &format!(
            "UPDATE arca_records SET value = overlay(value placing '\\xff'::bytea from 60 for 1) \
             WHERE tbl = 'keys' AND key = {}",
            key_bytes(&edited)
        ),
    );
    postgres.sql(
        "arca",
        &format!(
            "UPDATE arca_records r SET value = o.value FROM arca_records o \
             WHERE r.tbl = 'keys' AND o.tbl = 'keys' AND \
             ((r.key = {a} AND o.key = {b}) OR (r.key = {b} AND o.key = {a}))",
            a = key_bytes(&swapped_a),
            b = key_bytes(&swapped_b)
        ),
    );
    // The alias pointed at another key (its MAC kept), a bare alias of an earlier release added,
    // and a copy of the grant under a new id with another grantee's name in it.
    postgres.sql(
        "arca",
        &format!(
            "UPDATE arca_records SET value = {} || substring(value from 17) WHERE tbl = 'aliases'",
            key_bytes(&swapped_a)
        ),
    );
    postgres.sql(
        "arca",
        &format!(
            "INSERT INTO arca_records VALUES ('aliases', 'alias/forged'::bytea, {}, 0)",
            key_bytes(&bystander)
        ),
    );
    postgres.sql(
        "arca",
        "INSERT INTO arca_records SELECT tbl, decode('00112233445566778899aabbccddeeff', 'hex'),          overlay(value placing 'uid:6666'::bytea from position('uid:4242'::bytea in value) for 8), 0 \
         FROM arca_records WHERE tbl = 'grants'",
    );
    let node = launch.start();
    for alias in ["alias/payments", "alias/forged"] {
        let status = encrypt(&node, alias, b"x").await.expect_err("a tampered alias is refused");
        assert_eq!(status.code(), Code::NotFound, "{alias}: {status:?}");
    }
    let grants = pb::ListGrantsRequest { key_id: bystander.clone() };
    let listed = node.kms().await.list_grants(grants).await.unwrap().into_inner().grants;
    let ids: Vec<String> = listed.iter().map(|g| g.grant_id.clone()).collect();
    assert_eq!(ids, vec![granted.grant_id.clone()], "only the grant the node made");
    for refused in [&edited, &swapped_a, &swapped_b] {
        let status = encrypt(&node, refused, b"x").await.expect_err("a tampered key is refused");
        assert_eq!(status.code(), Code::DataLoss, "{refused}: {status:?}");
    }
    encrypt(&node, &bystander, b"x").await.expect("the other keys keep working");
    drop(node);

    // An edited seal record: the master key does not unseal, and nothing is served.
    postgres.sql(
        "arca",
        "UPDATE arca_records SET value = overlay(value placing '\\x00'::bytea from length(value) - 3 for 1) \
         WHERE tbl = 'meta' AND key = 'seal'::bytea",
    );
    let (code, stderr) = launch.run_to_exit();
    assert_ne!(code, Some(0), "{stderr}");
}

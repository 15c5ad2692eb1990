//! Several `arcad` nodes on one PostgreSQL database (a real cluster the harness starts): what one
//! node changes, every node enforces on its next call; concurrent writers lose nothing; a node
//! killed in the middle of writes, or the database restarted under load, loses nothing that was
//! acknowledged; the scheduled work runs on one node and moves when that node dies.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arca_proto::CKR_HEADER;
use arca_tests::postgres::Postgres;
use arca_tests::{Daemon, Launch, TokenApp, assert_status, create_key, pb};
use tonic::Code;

/// Nodes on one database, each with its own data directory (socket, audit log) and the same
/// master key file.
struct Cluster {
    postgres: Postgres,
    url: String,
    dirs: Vec<tempfile::TempDir>,
    nodes: Vec<Option<Daemon>>,
}

impl Cluster {
    fn start(count: usize) -> Self {
        let postgres = Postgres::start();
        let url = postgres.database("arca");
        let mut cluster = Self { postgres, url, dirs: Vec::new(), nodes: Vec::new() };
        for index in 0..count {
            cluster.dirs.push(tempfile::tempdir().unwrap());
            let node = cluster.launch(index).start();
            cluster.nodes.push(Some(node));
        }
        cluster
    }

    /// Node `index`'s launch; its key file is node 0's.
    fn launch(&self, index: usize) -> Launch {
        let dir = self.dirs[index].path();
        if index > 0 {
            std::fs::copy(self.dirs[0].path().join("master.key"), dir.join("master.key")).unwrap();
        }
        let mut launch = Launch::dev_on_redb(dir).on_postgres(&self.url, &format!("node-{index}"));
        // The schedule's lease is taken (or found lost) at each tick of the scheduled work.
        launch.args.extend(["--schedule-interval-secs".into(), "1".into()]);
        launch
    }

    fn node(&self, index: usize) -> &Daemon {
        self.nodes[index].as_ref().expect("node running")
    }

    fn restart(&mut self, index: usize) {
        self.nodes[index] = Some(self.launch(index).start());
    }
}

async fn encrypt(node: &Daemon, key: &str) -> Result<pb::EncryptResponse, tonic::Status> {
    let request =
        pb::EncryptRequest { key_id: key.into(), plaintext: b"shared".to_vec(), ..Default::default() };
    Ok(node.kms().await.encrypt(request).await?.into_inner())
}

async fn decrypt(node: &Daemon, blob: &[u8]) -> Result<Vec<u8>, tonic::Status> {
    let request = pb::DecryptRequest { ciphertext_blob: blob.to_vec(), ..Default::default() };
    Ok(node.kms().await.decrypt(request).await?.into_inner().plaintext)
}

#[tokio::test]
async fn a_change_on_one_node_is_enforced_by_every_node_on_its_next_call() {
    let cluster = Cluster::start(3);
    let (a, b, c) = (cluster.node(0), cluster.node(1), cluster.node(2));
    let key = create_key(&mut a.kms().await, "shared").await;
    let blob = encrypt(b, &key).await.expect("a key made on A works on B at once").ciphertext_blob;
    assert_eq!(decrypt(c, &blob).await.unwrap(), b"shared");

    b.kms().await.disable_key(pb::DisableKeyRequest { key_id: key.clone() }).await.unwrap();
    assert_status(encrypt(a, &key).await, Code::FailedPrecondition, "disabled");
    assert_status(decrypt(c, &blob).await, Code::FailedPrecondition, "disabled");
    c.kms().await.enable_key(pb::EnableKeyRequest { key_id: key.clone() }).await.unwrap();
    assert_eq!(encrypt(a, &key).await.unwrap().key_version, 1);

    a.kms().await.rotate_key_on_demand(pb::RotateKeyOnDemandRequest { key_id: key.clone() }).await.unwrap();
    assert_eq!(encrypt(b, &key).await.unwrap().key_version, 2, "B encrypts under the version A made");

    let alias = pb::CreateAliasRequest { alias_name: "alias/shared".into(), target_key_id: key.clone() };
    a.kms().await.create_alias(alias.clone()).await.unwrap();
    assert_eq!(encrypt(c, "alias/shared").await.unwrap().key_id, key);
    assert_status(b.kms().await.create_alias(alias).await, Code::AlreadyExists, "alias/shared");

    let grant = pb::CreateGrantRequest {
        key_id: key.clone(),
        grantee_principal: "uid:4242".into(),
        operations: vec!["Encrypt".into()],
        ..Default::default()
    };
    let granted = a.kms().await.create_grant(grant).await.unwrap().into_inner();
    let with_token = pb::EncryptRequest {
        key_id: key.clone(),
        plaintext: b"x".to_vec(),
        grant_tokens: vec![granted.grant_token.clone()],
        ..Default::default()
    };
    c.kms().await.encrypt(with_token.clone()).await.expect("C knows the grant A made");
    let revoke = pb::RevokeGrantRequest { key_id: key.clone(), grant_id: granted.grant_id.clone() };
    b.kms().await.revoke_grant(revoke).await.unwrap();
    assert_status(c.kms().await.encrypt(with_token).await, Code::InvalidArgument, "invalid grant token");

    // A policy put on C that denies this caller Encrypt holds on A at once; lifted on A, B obeys.
    let me =
        format!("uid:{}", std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()));
    let policy = |deny: &[&str]| {
        let mut statements = vec![serde_json::json!(
            {"Sid": "Me", "Effect": "Allow", "Principal": {"Arca": me}, "Action": "arca:*", "Resource": "*"}
        )];
        if !deny.is_empty() {
            statements.push(serde_json::json!(
                {"Sid": "NoEncrypt", "Effect": "Deny", "Principal": {"Arca": me}, "Action": deny, "Resource": "*"}
            ));
        }
        let document = serde_json::json!({"Version": "2012-10-17", "Statement": statements});
        pb::PutKeyPolicyRequest { key_id: key.clone(), policy: document.to_string() }
    };
    c.kms().await.put_key_policy(policy(&["arca:Encrypt"])).await.unwrap();
    assert_status(encrypt(a, &key).await, Code::PermissionDenied, "");
    a.kms().await.put_key_policy(policy(&[])).await.unwrap();
    encrypt(b, &key).await.expect("the policy lifted on A holds on B");

    let schedule = pb::ScheduleKeyDeletionRequest { key_id: key.clone(), pending_window_in_days: 7 };
    c.kms().await.schedule_key_deletion(schedule).await.unwrap();
    assert_status(encrypt(a, &key).await, Code::FailedPrecondition, "pending");
}

/// GetParametersForImport on one node, ImportKeyMaterial on another: the token (its wrapping key
/// sealed) is in the store, and only one import uses it.
#[tokio::test]
async fn an_import_token_from_one_node_is_used_once_on_another() {
    let cluster = Cluster::start(2);
    let (a, b) = (cluster.node(0), cluster.node(1));
    let request = pb::CreateKeyRequest { origin: pb::KeyOrigin::External.into(), ..Default::default() };
    let key = a.kms().await.create_key(request).await.unwrap().into_inner().key_metadata.unwrap().key_id;
    let request = pb::GetParametersForImportRequest {
        key_id: key.clone(),
        wrapping_algorithm: "RSAES_OAEP_SHA_256".into(),
        wrapping_key_spec: "RSA_2048".into(),
    };
    let parameters = a.kms().await.get_parameters_for_import(request).await.unwrap().into_inner();
    let dir = tempfile::tempdir().unwrap();
    let import = pb::ImportKeyMaterialRequest {
        key_id: key.clone(),
        import_token: parameters.import_token.clone(),
        encrypted_key_material: arca_tests::wrap_for_import(&parameters.public_key, &[0x6b; 32], dir.path()),
        valid_to: 0,
    };
    b.kms().await.import_key_material(import.clone()).await.expect("B imports with A's token");
    let blob = encrypt(a, &key).await.expect("A uses the material imported on B").ciphertext_blob;
    assert_eq!(decrypt(b, &blob).await.unwrap(), b"shared");
    assert_status(a.kms().await.import_key_material(import).await, Code::InvalidArgument, "import token");
}

/// Nodes with one key file, started at once on a new store: one initialises it, the others unseal
/// what it stored, and all serve the same keys.
#[tokio::test]
async fn nodes_starting_together_on_a_new_store_agree_on_one_master_key() {
    let postgres = Postgres::start();
    let url = postgres.database("arca");
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    for dir in &dirs {
        std::fs::write(dir.path().join("master.key"), [0x42u8; 32]).unwrap();
    }
    let starting: Vec<_> = dirs
        .iter()
        .enumerate()
        .map(|(index, dir)| {
            let launch = Launch::dev_on_redb(dir.path()).on_postgres(&url, &format!("node-{index}"));
            std::thread::spawn(move || launch.start())
        })
        .collect();
    let nodes: Vec<Daemon> = starting.into_iter().map(|thread| thread.join().unwrap()).collect();
    let key = create_key(&mut nodes[2].kms().await, "made on the last").await;
    for node in &nodes {
        let blob = encrypt(node, &key).await.expect("every node serves the key").ciphertext_blob;
        assert_eq!(decrypt(&nodes[0], &blob).await.unwrap(), b"shared");
    }
    assert_eq!(
        postgres.sql("arca", "SELECT count(*) FROM arca_records WHERE tbl = 'meta' AND key = 'seal'::bytea"),
        "1"
    );
}

/// PIN failures counted on one node lock the PIN on every node.
#[tokio::test]
async fn a_pin_locked_on_one_node_is_locked_on_the_others() {
    let cluster = Cluster::start(2);
    let (a, b) = (cluster.node(0), cluster.node(1));
    let mut app_a = TokenApp::attach(a, "node-a").await;
    let init = pb::InitTokenRequest { so_pin: b"87654321".to_vec(), label: b"shared".to_vec() };
    app_a.client.init_token(init).await.unwrap();
    let mut app_b = TokenApp::attach(b, "node-b").await;
    let open = pb::OpenSessionRequest { flags: 0x4 | 0x2 };
    let session_b = app_b.client.open_session(app_b.request(open)).await.unwrap().into_inner().session;
    let so = pb::LoginRequest { session: session_b, user_type: 0, pin: b"87654321".to_vec() };
    app_b.client.login(app_b.request(so)).await.expect("B knows the SO PIN set on A");
    let init_pin = pb::InitPinRequest { session: session_b, pin: b"123456".to_vec() };
    app_b.client.init_pin(app_b.request(init_pin)).await.unwrap();
    app_b.client.logout(app_b.request(pb::LogoutRequest { session: session_b })).await.unwrap();

    let session_a = app_a.client.open_session(app_a.request(open)).await.unwrap().into_inner().session;
    let wrong = pb::LoginRequest { session: session_a, user_type: 1, pin: b"000000".to_vec() };
    let mut last = String::new();
    for _ in 0..10 {
        let refused = app_a.client.login(app_a.request(wrong.clone())).await.unwrap_err();
        last = refused.metadata().get(CKR_HEADER).unwrap().to_str().unwrap().to_owned();
        if last == "0x000000A4" {
            break;
        }
    }
    assert_eq!(last, "0x000000A4", "CKR_PIN_LOCKED on A");
    let right = pb::LoginRequest { session: session_b, user_type: 1, pin: b"123456".to_vec() };
    let refused = app_b.client.login(app_b.request(right)).await.unwrap_err();
    assert_eq!(refused.metadata().get(CKR_HEADER).unwrap(), "0x000000A4", "locked on B too: {refused:?}");
}

/// Wrong PINs tried at once on two nodes, as many as the lockout allows: every one is counted
/// (a count refused by a concurrent one is counted again), so the PIN ends locked everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_pins_tried_at_once_on_two_nodes_are_all_counted() {
    let cluster = Cluster::start(2);
    let mut so = TokenApp::attach(cluster.node(0), "so").await;
    let init = pb::InitTokenRequest { so_pin: b"87654321".to_vec(), label: b"counted".to_vec() };
    so.client.init_token(init).await.unwrap();
    let open = pb::OpenSessionRequest { flags: 0x4 | 0x2 };
    let session = so.client.open_session(so.request(open)).await.unwrap().into_inner().session;
    let login = pb::LoginRequest { session, user_type: 0, pin: b"87654321".to_vec() };
    so.client.login(so.request(login)).await.unwrap();
    so.client.init_pin(so.request(pb::InitPinRequest { session, pin: b"123456".to_vec() })).await.unwrap();
    so.client.logout(so.request(pb::LogoutRequest { session })).await.unwrap();

    let mut attempts = Vec::new();
    for index in 0..10 {
        let mut app = TokenApp::attach(cluster.node(index % 2), "guesser").await;
        let session = app.client.open_session(app.request(open)).await.unwrap().into_inner().session;
        attempts.push(tokio::spawn(async move {
            let wrong = pb::LoginRequest { session, user_type: 1, pin: b"000000".to_vec() };
            let refused = app.client.login(app.request(wrong)).await.unwrap_err();
            refused.metadata().get(CKR_HEADER).unwrap().to_str().unwrap().to_owned()
        }));
    }
    for attempt in attempts {
        let rv = attempt.await.unwrap();
        assert!(rv == "0x000000A0" || rv == "0x000000A4", "CKR_PIN_INCORRECT or CKR_PIN_LOCKED, not {rv}");
    }
    for index in 0..2 {
        let mut app = TokenApp::attach(cluster.node(index), "owner").await;
        let session = app.client.open_session(app.request(open)).await.unwrap().into_inner().session;
        let right = pb::LoginRequest { session, user_type: 1, pin: b"123456".to_vec() };
        let refused = app.client.login(app.request(right)).await.unwrap_err();
        assert_eq!(refused.metadata().get(CKR_HEADER).unwrap(), "0x000000A4", "node {index}: {refused:?}");
    }
}

/// Two nodes change the same key at once: a change made from a stale read is refused (ABORTED),
/// never applied over another; every acknowledged change is in the final key (40 tags: AWS's
/// limit is 50 a key).
#[tokio::test]
async fn concurrent_changes_on_two_nodes_never_undo_each_other() {
    let cluster = Cluster::start(2);
    let key = create_key(&mut cluster.node(0).kms().await, "contended").await;
    let mut tasks = Vec::new();
    for (index, node) in [cluster.node(0), cluster.node(1)].into_iter().enumerate() {
        for worker in 0..4 {
            let mut kms = node.kms().await;
            let key = key.clone();
            tasks.push(tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for round in 0..5 {
                    let tag = format!("n{index}w{worker}r{round}");
                    let request = pb::TagResourceRequest {
                        key_id: key.clone(),
                        tags: [(tag.clone(), "1".to_owned())].into_iter().collect(),
                    };
                    match kms.tag_resource(request).await {
                        Ok(_) => acknowledged.push(tag),
                        Err(status) => assert_eq!(status.code(), Code::Aborted, "{status:?}"),
                    }
                }
                acknowledged
            }));
        }
    }
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(task.await.unwrap());
    }
    assert!(!acknowledged.is_empty());
    for index in 0..2 {
        let request = pb::ListResourceTagsRequest { key_id: key.clone(), limit: 50, marker: String::new() };
        let tags =
            cluster.node(index).kms().await.list_resource_tags(request).await.unwrap().into_inner().tags;
        let present: Vec<String> = tags.into_iter().map(|t| t.tag_key).collect();
        for tag in &acknowledged {
            assert!(present.contains(tag), "acknowledged tag {tag} lost (node {index})");
        }
    }
}

/// What a load of callers got acknowledged: keys and ciphertexts, checked afterwards.
#[derive(Default)]
struct Acknowledged {
    keys: Vec<String>,
    ciphertexts: Vec<(String, Vec<u8>)>,
}

/// `callers` tasks per node create, rotate and use keys until `stop`; failures are allowed (a
/// node killed, the database restarting), only acknowledgements are recorded.
fn load(
    nodes: &[&Daemon],
    callers: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Acknowledged>> {
    let mut tasks = Vec::new();
    for node in nodes {
        let endpoint = node.endpoint();
        for caller in 0..callers {
            let (endpoint, stop) = (endpoint.clone(), Arc::clone(stop));
            tasks.push(tokio::spawn(async move {
                let mut done = Acknowledged::default();
                let mut round = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    round += 1;
                    let Ok(channel) = endpoint.connect().await else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    let mut kms = pb::key_management_client::KeyManagementClient::new(channel);
                    let created = kms
                        .create_key(pb::CreateKeyRequest {
                            description: format!("load {caller}"),
                            ..Default::default()
                        })
                        .await;
                    let Ok(created) = created else { continue };
                    let key = created.into_inner().key_metadata.unwrap_or_default().key_id;
                    done.keys.push(key.clone());
                    if round.is_multiple_of(3) {
                        let _ = kms
                            .rotate_key_on_demand(pb::RotateKeyOnDemandRequest { key_id: key.clone() })
                            .await;
                    }
                    let plaintext = format!("{key}/{round}");
                    let request = pb::EncryptRequest {
                        key_id: key.clone(),
                        plaintext: plaintext.clone().into_bytes(),
                        ..Default::default()
                    };
                    if let Ok(sealed) = kms.encrypt(request).await {
                        done.ciphertexts.push((plaintext, sealed.into_inner().ciphertext_blob));
                    }
                }
                done
            }));
        }
    }
    tasks
}

async fn gather(tasks: Vec<tokio::task::JoinHandle<Acknowledged>>) -> Acknowledged {
    let mut all = Acknowledged::default();
    for task in tasks {
        let done = task.await.unwrap();
        all.keys.extend(done.keys);
        all.ciphertexts.extend(done.ciphertexts);
    }
    all
}

/// Every acknowledged key is there and every acknowledged ciphertext opens, on `node`.
async fn check_nothing_lost(node: &Daemon, acknowledged: &Acknowledged) {
    let mut kms = node.kms().await;
    for key in &acknowledged.keys {
        let request = pb::DescribeKeyRequest { key_id: key.clone(), grant_tokens: Vec::new() };
        kms.describe_key(request).await.unwrap_or_else(|e| panic!("acknowledged key {key} lost: {e:?}"));
    }
    for (plaintext, blob) in &acknowledged.ciphertexts {
        let request = pb::DecryptRequest { ciphertext_blob: blob.clone(), ..Default::default() };
        let opened =
            kms.decrypt(request).await.unwrap_or_else(|e| panic!("ciphertext of {plaintext} lost: {e:?}"));
        assert_eq!(opened.into_inner().plaintext, plaintext.as_bytes());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_of_thirty_two_callers_for_thirty_seconds_lose_nothing() {
    let cluster = Cluster::start(2);
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = load(&[cluster.node(0), cluster.node(1)], 32, &stop);
    tokio::time::sleep(Duration::from_secs(30)).await;
    stop.store(true, Ordering::SeqCst);
    let acknowledged = gather(tasks).await;
    assert!(acknowledged.keys.len() >= 64, "only {} keys made", acknowledged.keys.len());
    eprintln!(
        "{} keys and {} ciphertexts acknowledged",
        acknowledged.keys.len(),
        acknowledged.ciphertexts.len()
    );
    check_nothing_lost(cluster.node(1), &acknowledged).await;
    check_nothing_lost(cluster.node(0), &acknowledged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_in_the_middle_of_writes_loses_nothing_acknowledged() {
    let mut cluster = Cluster::start(2);
    let mut acknowledged = Acknowledged::default();
    for _ in 0..3 {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = load(&[cluster.node(0), cluster.node(1)], 8, &stop);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        cluster.node(0).send_sigkill();
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, Ordering::SeqCst);
        let done = gather(tasks).await;
        acknowledged.keys.extend(done.keys);
        acknowledged.ciphertexts.extend(done.ciphertexts);
        check_nothing_lost(cluster.node(1), &acknowledged).await;
        cluster.restart(0);
    }
    check_nothing_lost(cluster.node(0), &acknowledged).await;
    // Each node's own audit chain verifies after the kills.
    for index in 0..2 {
        let verified = cluster.node(index).admin().await.verify_audit(pb::VerifyAuditRequest {}).await;
        assert!(verified.is_ok(), "node {index}: {verified:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_answer_unavailable_while_the_database_restarts_and_recover_by_themselves() {
    let cluster = Cluster::start(2);
    let key = create_key(&mut cluster.node(0).kms().await, "outage").await;
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = load(&[cluster.node(0), cluster.node(1)], 8, &stop);
    let mut app = TokenApp::attach(cluster.node(1), "outage").await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    cluster.postgres.stop();
    for index in 0..2 {
        let status = encrypt(cluster.node(index), &key).await.expect_err("no store, no call");
        assert_eq!(status.code(), Code::Unavailable, "node {index}: {status:?}");
    }
    let open = pb::OpenSessionRequest { flags: 0x4 | 0x2 };
    let refused = app.client.open_session(app.request(open)).await.unwrap_err();
    assert_eq!(refused.metadata().get(CKR_HEADER).unwrap(), "0x00000030", "CKR_DEVICE_ERROR: {refused:?}");
    cluster.postgres.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    for index in 0..2 {
        while encrypt(cluster.node(index), &key).await.is_err() {
            assert!(Instant::now() < deadline, "node {index} did not recover");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    let acknowledged = gather(tasks).await;
    check_nothing_lost(cluster.node(0), &acknowledged).await;
    drop(app);
}

/// The lease holder of the schedule, by node name (`application_name` of its lock's session).
fn lease_holder(cluster: &Cluster) -> String {
    cluster.postgres.sql(
        "arca",
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted",
    )
}

#[tokio::test]
async fn scheduled_work_runs_once_on_the_lease_holder_and_moves_when_it_dies() {
    let mut cluster = Cluster::start(2);
    let holder = lease_holder(&cluster);
    assert!(holder == "arcad node-0" || holder == "arcad node-1", "one holder: {holder:?}");
    let index = usize::from(holder.ends_with('1'));
    cluster.nodes[index].take().expect("holder").kill_hard();
    let other = format!("arcad node-{}", 1 - index);
    let deadline = Instant::now() + Duration::from_secs(30);
    while lease_holder(&cluster) != other {
        assert!(Instant::now() < deadline, "the lease did not move: {:?}", lease_holder(&cluster));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    cluster.restart(index);
    assert_eq!(lease_holder(&cluster), other, "the lease stays with its holder");
}

//! Two `arcad` nodes behind one endpoint list (`--dev`; key-file stores with `[tls]` for mutual
//! TLS), each with its own store (the transport's failover needs no shared database), and last
//! two nodes on one PostgreSQL store, where token objects outlive the node. `libarca_pkcs11.so`,
//! driven through the cryptoki crate with `ARCA_ENDPOINT=unix:A,unix:B`, moves to B when A is
//! killed; arcactl with `--endpoint unix:A,unix:B` reaches B when A is down, names both nodes
//! when neither answers, and `audit verify` reports the chain of each node. Over mutual TLS the
//! one set of client files serves every node.
//!
//! The module reads its settings from the environment and is process-wide, so the PKCS#11 part
//! runs in a child process (`failover_child`), which kills A itself between two of its calls and
//! prints how long the failover took, from the kill to the first call that worked on B.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use arca_tests::arcactl::describe;
use arca_tests::pki::make_pki;
use arca_tests::{Daemon, Launch, bin_dir, binary};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use serde_json::Value;

/// In the environment of the child that runs `failover_child`: the module to load, and the pid
/// of node A, which the child kills.
const CHILD_MODULE: &str = "ARCA_P11_TEST_FAILOVER_MODULE";
const CHILD_KILL: &str = "ARCA_P11_TEST_FAILOVER_KILL";
/// What the child prints when it is done, followed by the failover time in microseconds (from
/// the kill, spawning `kill` included, to the first call that worked on B).
const CHILD_DONE: &str = "FAILOVER OK after ";

/// Two nodes, their token labels `node-a` and `node-b`, and `unix:A,unix:B`.
fn two_nodes() -> ([(Daemon, tempfile::TempDir); 2], String) {
    let nodes = [Daemon::start_dev(), Daemon::start_dev()];
    for ((daemon, _), label) in nodes.iter().zip(["node-a", "node-b"]) {
        let init =
            arcactl(&format!("unix:{}", daemon.socket.display()), &["token", "init", "--label", label]);
        assert!(init.status.success(), "token init: {}", describe(&init));
    }
    let list = format!("unix:{},unix:{}", nodes[0].0.socket.display(), nodes[1].0.socket.display());
    (nodes, list)
}

/// `arcactl --endpoint ENDPOINTS --output json …`.
fn arcactl(endpoints: &str, args: &[&str]) -> Output {
    let mut command = Command::new(binary("arcactl"));
    command.args(["--endpoint", endpoints, "--output", "json", "--timeout", "10"]).args(args);
    command.env_remove("ARCA_SOCKET").env("ARCA_SO_PIN", "87654321").output().expect("run arcactl")
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(output)))
}

#[test]
fn the_module_moves_to_the_next_node_when_its_node_is_killed() {
    let ([(a, _a_dir), (_b, _b_dir)], list) = two_nodes();
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["failover_child", "--exact", "--nocapture", "--test-threads", "1"]);
    command.env_remove("ARCA_SOCKET").env("ARCA_ENDPOINT", &list);
    command.env(CHILD_MODULE, bin_dir().join("libarca_pkcs11.so")).env(CHILD_KILL, a.pid().to_string());
    let output = command.output().unwrap();
    let text = describe(&output);
    assert!(output.status.success() && text.contains(CHILD_DONE), "{text}");
    let line = text.lines().find(|line| line.contains(CHILD_DONE)).unwrap_or_default();
    println!("{}", line.trim());
}

/// The PKCS#11 steps; does nothing unless the test above started it.
#[test]
fn failover_child() {
    let Some(module) = std::env::var_os(CHILD_MODULE) else { return };
    let node_a: u32 = std::env::var(CHILD_KILL).unwrap().parse().unwrap();
    let pkcs11 = Pkcs11::new(module).unwrap();
    pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).unwrap();
    let slot = pkcs11.get_slots_with_token().unwrap()[0];
    assert_eq!(pkcs11.get_token_info(slot).unwrap().label(), "node-a", "the first node first");
    let old = pkcs11.open_ro_session(slot).unwrap();
    assert_eq!(old.generate_random_vec(16).unwrap().len(), 16);

    let killed = Instant::now();
    kill_and_wait(node_a);
    let dead = killed.elapsed();
    // The old node's session is gone with it: the answer of a daemon that cannot be reached.
    assert_rv(old.generate_random_vec(16), RvError::DeviceRemoved);
    // The next C_OpenSession attaches on B at once.
    let new = pkcs11.open_ro_session(slot).unwrap();
    assert_eq!(new.generate_random_vec(16).unwrap().len(), 16);
    let took = killed.elapsed();
    assert_eq!(pkcs11.get_token_info(slot).unwrap().label(), "node-b", "now on the second node");
    // From B, the old session's handle is one B never handed out.
    assert_rv(old.get_session_info(), RvError::SessionHandleInvalid);
    assert!(new.get_session_info().is_ok());
    println!("{CHILD_DONE}{} us ({} us of them until A had exited)", took.as_micros(), dead.as_micros());
}

#[track_caller]
fn assert_rv<T: std::fmt::Debug>(outcome: Result<T, Error>, expected: RvError) {
    match outcome {
        Err(Error::Pkcs11(rv, _)) => assert_eq!(rv, expected),
        other => panic!("expected {expected:?}, got {other:?}"),
    }
}

/// SIGKILL, then waits until the process has exited (its sockets closed); it stays a zombie of
/// the test process, which reaps it.
fn kill_and_wait(pid: u32) {
    assert!(Command::new("kill").arg("-KILL").arg(pid.to_string()).status().unwrap().success());
    let status = format!("/proc/{pid}/status");
    let start = Instant::now();
    while std::fs::read_to_string(&status).is_ok_and(|text| !text.contains("State:\tZ")) {
        assert!(start.elapsed() < Duration::from_secs(10), "{pid} did not die");
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn arcactl_reaches_the_next_node_when_the_first_is_down_and_names_both_when_none_is() {
    let ([(a, _a_dir), (b, _b_dir)], list) = two_nodes();
    let up = arcactl(&list, &["token", "info"]);
    assert_eq!(json(&up)["label"], "node-a", "the first node while it answers: {}", describe(&up));
    a.kill_hard();
    let moved = arcactl(&list, &["token", "info"]);
    assert!(moved.status.success(), "{}", describe(&moved));
    assert_eq!(json(&moved)["label"], "node-b");

    b.kill_hard();
    let none = arcactl(&list, &["token", "info"]);
    assert_eq!(none.status.code(), Some(1), "{}", describe(&none));
    let stderr = String::from_utf8_lossy(&none.stderr);
    assert!(stderr.contains("no endpoint could be reached"), "{stderr}");
    for node in list.split(',') {
        assert!(stderr.contains(node), "{node} is not named: {stderr}");
    }
    // A list that cannot be understood is refused with the list named and why.
    for (bad, why) in [
        (format!("{list},"), "an element is empty"),
        (format!("{list},https://c:1"), "it mixes socket paths and https:// URLs"),
    ] {
        let refused = arcactl(&bad, &["token", "info"]);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(&format!("invalid endpoint list {bad:?}: {why}")), "{stderr}");
    }
    // One node that cannot be reached fails as it always did, naming it.
    let one = arcactl(list.split(',').next().unwrap(), &["token", "info"]);
    let stderr = String::from_utf8_lossy(&one.stderr);
    assert!(stderr.starts_with("arcactl: cannot connect to unix:"), "{stderr}");
}

#[test]
fn audit_verify_reports_the_chain_of_every_node_and_fails_for_any() {
    let ([(a, _a_dir), (b, _b_dir)], list) = two_nodes();
    let both = arcactl(&list, &["audit", "verify"]);
    assert!(both.status.success(), "{}", describe(&both));
    let report = json(&both);
    assert_eq!(report["intact"], true);
    let nodes = report["nodes"].as_array().unwrap();
    let sockets = [&a.socket, &b.socket].map(|socket| format!("unix:{}", socket.display()));
    assert_eq!(nodes.len(), 2, "{report}");
    for (node, socket) in nodes.iter().zip(&sockets) {
        assert_eq!(node["endpoint"], socket.as_str());
        assert_eq!(node["intact"], true);
        assert!(node["records"].as_u64().unwrap() > 0, "each node counts its own records: {node}");
    }

    // A changed record on one node: that node's chain is broken, the other's intact, exit 3.
    let log = b.data_dir.join("audit.log");
    let text = std::fs::read_to_string(&log).unwrap();
    let changed = text.replacen("\"outcome\":\"OK\"", "\"outcome\":\"NOT_FOUND\"", 1);
    assert_ne!(changed, text, "a record to change");
    std::fs::write(&log, changed).unwrap();
    let broken = arcactl(&list, &["audit", "verify"]);
    assert_eq!(broken.status.code(), Some(3), "{}", describe(&broken));
    let report = json(&broken);
    assert_eq!(report["intact"], false);
    assert_eq!((&report["nodes"][0]["intact"], &report["nodes"][1]["intact"]), (&true.into(), &false.into()));
    assert!(report["nodes"][1]["first_bad_seq"].is_u64(), "{report}");

    // A node that cannot be asked fails the command after the report names it.
    a.kill_hard();
    let half = arcactl(&list, &["audit", "verify"]);
    assert_eq!(half.status.code(), Some(1), "{}", describe(&half));
    let report = json(&half);
    assert_eq!(report["intact"], false);
    assert!(report["nodes"][0]["error"].as_str().unwrap().contains(&sockets[0]), "{report}");
    assert_eq!(report["nodes"][1]["intact"], false, "{report}");
    assert!(String::from_utf8_lossy(&half.stderr).contains("not every endpoint could be asked"));
}

/// Over mutual TLS one set of client files serves every node of `https://A,https://B`: with A
/// down, arcactl and the module (through pkcs11-tool) reach B.
#[test]
fn over_mutual_tls_one_set_of_client_files_serves_every_node() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path();
    make_pki(pki);
    let tls = arca_tests::pki::tls_section(pki);
    let [a, b] = ["a", "b"].map(|name| {
        std::fs::create_dir(pki.join(name)).unwrap();
        Launch::key_file_config(&pki.join(name), &tls).start()
    });
    let url = |daemon: &Daemon| daemon.addresses.iter().find(|a| a.starts_with("https://")).unwrap().clone();
    let list = format!("{},{}", url(&a), url(&b));
    // B holds one key, A none: `status` tells them apart.
    let made = arcactl(&format!("unix:{}", b.socket.display()), &["create-key", "--description", "on b"]);
    assert!(made.status.success(), "{}", describe(&made));
    let files = |name: &str| pki.join(name).display().to_string();
    let (ca, cert, key) = (files("ca.pem"), files("client.pem"), files("client.key"));
    let status = || {
        let args = ["--ca-cert", &ca, "--client-cert", &cert, "--client-key", &key, "status"];
        let output = arcactl(&list, &args);
        assert!(output.status.success(), "{}", describe(&output));
        json(&output)["key_count"].as_u64().unwrap()
    };
    assert_eq!(status(), 0, "A while it answers");
    a.kill_hard();
    assert_eq!(status(), 1, "B once A is down");

    std::fs::write(
        pki.join("pkcs11.conf"),
        "ca_cert = ca.pem\nclient_cert = client.pem\nclient_key = client.key\n",
    )
    .unwrap();
    let mut command = Command::new("pkcs11-tool");
    command.arg("--module").arg(bin_dir().join("libarca_pkcs11.so")).arg("-L");
    command
        .env_remove("ARCA_SOCKET")
        .env("ARCA_ENDPOINT", &list)
        .env("ARCA_PKCS11_CONF", pki.join("pkcs11.conf"));
    let output = command.output().unwrap();
    let text = describe(&output);
    assert!(output.status.success() && text.contains("token state:   uninitialized"), "{text}");
}

/// The child's environment for the shared-store scenario: its steps run only when set.
const CHILD_SHARED: &str = "ARCA_P11_TEST_FAILOVER_SHARED";
const SHARED_DONE: &str = "SHARED FAILOVER OK";

/// Two nodes on one PostgreSQL store: a token key the application made on A is found and opens
/// A's ciphertext on B after A is killed; only the session and its login were lost.
#[test]
fn on_a_shared_store_token_objects_made_on_the_dead_node_are_there_on_the_next() {
    let postgres = arca_tests::postgres::Postgres::start();
    let url = postgres.database("arca");
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Launch::dev_on_redb(dir_a.path()).on_postgres(&url, "node-a").start();
    std::fs::copy(dir_a.path().join("master.key"), dir_b.path().join("master.key")).unwrap();
    let b = Launch::dev_on_redb(dir_b.path()).on_postgres(&url, "node-b").start();
    let list = format!("unix:{},unix:{}", a.socket.display(), b.socket.display());
    let init = arcactl(&list, &["token", "init", "--label", "shared"]);
    assert!(init.status.success(), "token init: {}", describe(&init));
    let mut pin = Command::new(binary("arcactl"));
    pin.args(["--endpoint", &list, "--output", "json", "token", "init-pin"]).env_remove("ARCA_SOCKET");
    let pin = pin.env("ARCA_SO_PIN", "87654321").env("ARCA_PIN", "123456").output().unwrap();
    assert!(pin.status.success(), "init-pin: {}", describe(&pin));

    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["shared_failover_child", "--exact", "--nocapture", "--test-threads", "1"]);
    command.env_remove("ARCA_SOCKET").env("ARCA_ENDPOINT", &list).env(CHILD_SHARED, "1");
    command.env(CHILD_MODULE, bin_dir().join("libarca_pkcs11.so")).env(CHILD_KILL, a.pid().to_string());
    let output = command.output().unwrap();
    let text = describe(&output);
    assert!(output.status.success() && text.contains(SHARED_DONE), "{text}");
    drop(b);
}

/// The PKCS#11 steps of the shared-store scenario; does nothing unless the test above started it.
#[test]
fn shared_failover_child() {
    use cryptoki::mechanism::Mechanism;
    use cryptoki::object::{Attribute, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;
    if std::env::var_os(CHILD_SHARED).is_none() {
        return;
    }
    let module = std::env::var_os(CHILD_MODULE).unwrap();
    let node_a: u32 = std::env::var(CHILD_KILL).unwrap().parse().unwrap();
    let pkcs11 = Pkcs11::new(module).unwrap();
    pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).unwrap();
    let slot = pkcs11.get_slots_with_token().unwrap()[0];
    let session = pkcs11.open_rw_session(slot).unwrap();
    session.login(UserType::User, Some(&AuthPin::from("123456"))).unwrap();
    let template = [
        Attribute::Token(true),
        Attribute::ValueLen(32.into()),
        Attribute::Label(b"made-on-a".to_vec()),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
    ];
    let key = session.generate_key(&Mechanism::AesKeyGen, &template).unwrap();
    let mechanism = Mechanism::AesCbcPad([3u8; 16]);
    let sealed = session.encrypt(&mechanism, key, b"written through node A").unwrap();

    kill_and_wait(node_a);
    assert_rv(session.generate_random_vec(16), RvError::DeviceRemoved);
    let session = pkcs11.open_rw_session(slot).unwrap();
    session.login(UserType::User, Some(&AuthPin::from("123456"))).unwrap();
    let find = [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::Label(b"made-on-a".to_vec())];
    let found = session.find_objects(&find).unwrap();
    let key = *found.first().expect("the token key made on A, found on B");
    assert_eq!(session.decrypt(&mechanism, key, &sealed).unwrap(), b"written through node A");
    println!("{SHARED_DONE}");
}

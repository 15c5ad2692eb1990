//! The Token service's lean wire on the daemon's Unix socket (the PKCS#11 module's transport):
//! precise statuses for bad frames and unknown applications, the application's life bound to
//! its attaching connection, audit records like gRPC's, and, through `libarca_pkcs11.so`, pooled
//! connections the daemon closes for idleness replaced without the application noticing.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use arca_proto::v1::{AttachRequest, GetTokenInfoRequest, OpenSessionRequest, SessionRequest};
use arca_proto::wire::{self, CallError, WireConnection};
use arca_tests::{Daemon, Launch, bin_dir, pb};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};

const DEADLINE: Duration = Duration::from_secs(10);
const MAX_ANSWER: usize = 1 << 20;
const CKF_SERIAL_SESSION: u64 = 0x4;
const CKR_SESSION_HANDLE_INVALID: &str = "0x000000B3";

/// Attaches an application; returns its id, the daemon's request cap and the connection that
/// holds the application.
fn attach(socket: &Path) -> (String, usize, WireConnection) {
    let mut connection = WireConnection::open(socket, "", DEADLINE, MAX_ANSWER).unwrap();
    let request = AttachRequest { application_name: "token_wire[1]".into() };
    let event = connection.call(wire::ATTACH, &request).unwrap();
    assert!(!event.application_id.is_empty());
    assert!(event.max_request_bytes > 0, "the daemon announces its request cap");
    (event.application_id, event.max_request_bytes as usize, connection)
}

/// A `GetTokenInfoRequest` of exactly `size` bytes: the empty message padded with an unknown
/// length-delimited field (field 15), which a protobuf decoder skips.
fn padded_token_info_request(size: usize) -> Vec<u8> {
    let varint_len = |mut n: usize| {
        let mut len = 1;
        while n >= 0x80 {
            n >>= 7;
            len += 1;
        }
        len
    };
    let padding = (0..size).rev().find(|&n| 1 + varint_len(n) + n == size).expect("a padding length fits");
    let mut body = vec![(15 << 3) | 2];
    let mut n = padding;
    while n >= 0x80 {
        body.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    body.push(n as u8);
    body.resize(size, 0x5a);
    body
}

/// One raw frame on a fresh connection of `application`; returns the answer's kind byte.
fn raw_call_kind(socket: &Path, application: &str, method: u8, body: &[u8]) -> u8 {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut bytes = preface(application);
    bytes.extend(frame(method, body));
    stream.write_all(&bytes).unwrap();
    let mut header = [0u8; wire::FRAME_HEADER_BYTES];
    stream.read_exact(&mut header).unwrap();
    header[4]
}

fn status(error: CallError) -> tonic::Status {
    match error {
        CallError::Status(status) => status,
        other => panic!("expected a status, got {other:?}"),
    }
}

fn ckr(status: &tonic::Status) -> &str {
    status.metadata().get(arca_proto::CKR_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// Sends `bytes` on a fresh connection and returns everything the daemon answers until it
/// closes the connection (or 5 s pass).
fn raw_exchange(socket: &Path, bytes: &[u8]) -> Vec<u8> {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

fn preface(application: &str) -> Vec<u8> {
    let mut bytes = wire::PREFACE.to_vec();
    bytes.extend_from_slice(&(application.len() as u16).to_le_bytes());
    bytes.extend_from_slice(application.as_bytes());
    bytes
}

fn frame(method: u8, body: &[u8]) -> Vec<u8> {
    let mut bytes = ((body.len() + 1) as u32).to_le_bytes().to_vec();
    bytes.push(method);
    bytes.extend_from_slice(body);
    bytes
}

/// The status of a raw answer frame.
fn answered_status(answer: &[u8]) -> tonic::Status {
    use prost::Message as _;
    assert!(answer.len() >= wire::FRAME_HEADER_BYTES, "no answer frame: {answer:?}");
    let length = u32::from_le_bytes(answer[..4].try_into().unwrap()) as usize;
    assert_eq!(answer[4], wire::ANSWER_STATUS, "a status frame");
    let body = &answer[wire::FRAME_HEADER_BYTES..wire::FRAME_HEADER_BYTES + length - 1];
    wire::WireStatus::decode(body).unwrap().into_status()
}

#[tokio::test]
async fn the_wire_answers_precisely_and_ends_the_application_with_its_connection() {
    let (daemon, _dir) = Daemon::start_dev();
    let socket = daemon.socket.clone();
    let (application, cap, attached) = attach(&socket);

    // Calls of the application, on a connection of their own.
    let mut calls = WireConnection::open(&socket, &application, DEADLINE, MAX_ANSWER).unwrap();
    let token = calls.call(wire::GET_TOKEN_INFO, &GetTokenInfoRequest {}).unwrap();
    assert!(token.max_pin_len > 0, "{token:?}");
    let session =
        calls.call(wire::OPEN_SESSION, &OpenSessionRequest { flags: CKF_SERIAL_SESSION }).unwrap().session;
    let info = calls.call(wire::GET_SESSION_INFO, &SessionRequest { session }).unwrap();
    assert_eq!(info.flags & CKF_SERIAL_SESSION, CKF_SERIAL_SESSION);
    // A PKCS#11 failure carries its CK_RV, as on gRPC; the connection goes on.
    let refused =
        status(calls.call(wire::GET_SESSION_INFO, &SessionRequest { session: session + 999 }).unwrap_err());
    assert_eq!((refused.code(), ckr(&refused)), (tonic::Code::NotFound, CKR_SESSION_HANDLE_INVALID));
    calls.call(wire::GET_SESSION_INFO, &SessionRequest { session }).unwrap();

    // An application the daemon does not know.
    let mut stranger = WireConnection::open(&socket, "0123456789abcdef", DEADLINE, MAX_ANSWER).unwrap();
    let unknown = status(
        stranger.call(wire::OPEN_SESSION, &OpenSessionRequest { flags: CKF_SERIAL_SESSION }).unwrap_err(),
    );
    assert_eq!(ckr(&unknown), CKR_SESSION_HANDLE_INVALID);
    assert!(unknown.message().contains("unknown application"), "{}", unknown.message());

    // A method id no daemon has; a request over the daemon's cap (which ends the connection);
    // bytes that are neither HTTP/2 nor this wire's preface (closed without an answer).
    let mut bytes = preface(&application);
    bytes.extend(frame(200, &[]));
    let answer = answered_status(&raw_exchange(&socket, &bytes));
    assert_eq!(answer.code(), tonic::Code::Unimplemented, "{answer:?}");
    let mut bytes = preface(&application);
    bytes.extend_from_slice(&(64u32 << 20).to_le_bytes());
    bytes.push(wire::OPERATION_ONE_SHOT.id);
    let answer = answered_status(&raw_exchange(&socket, &bytes));
    assert_eq!(answer.code(), tonic::Code::ResourceExhausted, "{answer:?}");
    assert!(raw_exchange(&socket, b"ARCA-WIRE/9\n\0\0").is_empty(), "a wrong preface gets no answer");
    // The cap is gRPC's: a message of exactly `max_request_bytes` is served, one byte more is not.
    let at_cap = padded_token_info_request(cap);
    assert_eq!(raw_call_kind(&socket, &application, wire::GET_TOKEN_INFO.id, &at_cap), wire::ANSWER_OK);
    let mut over = preface(&application);
    over.extend(frame(wire::GET_TOKEN_INFO.id, &padded_token_info_request(cap + 1)));
    let answer = answered_status(&raw_exchange(&socket, &over));
    assert_eq!(answer.code(), tonic::Code::ResourceExhausted, "{answer:?}");
    assert!(answer.message().contains(&format!("limit of {cap}")), "{}", answer.message());

    // The calls were audited like gRPC's: the PKCS#11 function, the caller's uid, the transport.
    let records = daemon
        .admin()
        .await
        .read_audit(pb::ReadAuditRequest { limit: 1000, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .records;
    let opened: Vec<serde_json::Value> = records
        .iter()
        .map(|record| serde_json::from_str(record).unwrap())
        .filter(|record: &serde_json::Value| record["operation"] == "C_OpenSession")
        .collect();
    assert_eq!(opened.len(), 2, "one opened, one refused: {opened:?}");
    assert!(
        opened
            .iter()
            .all(|r| r["source"] == "pkcs11/unix" && r["principal"].as_str().unwrap().starts_with("uid:"))
    );

    // Closing the attaching connection ends the application and its sessions.
    drop(attached);
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        match calls.call(wire::GET_SESSION_INFO, &SessionRequest { session }) {
            Err(CallError::Status(gone)) if ckr(&gone) == CKR_SESSION_HANDLE_INVALID => break,
            answer if Instant::now() > until => panic!("the application outlived its connection: {answer:?}"),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

const CHILD_MODULE: &str = "TOKEN_WIRE_CHILD_MODULE";

/// With a one-second idle timeout, the module's pooled connections are closed between calls;
/// its next calls go on fresh ones, and the application (whose attaching connection is never
/// idle) keeps its sessions.
#[test]
fn the_module_outlives_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Launch::key_file_config(dir.path(), "[connections]\nidle_timeout_secs = 1").start();
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["idle_child", "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD_MODULE, bin_dir().join("libarca_pkcs11.so"))
        .env("ARCA_SOCKET", &daemon.socket)
        .env_remove("ARCA_ENDPOINT")
        .env_remove("ARCA_PKCS11_TRANSPORT")
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && text.contains("idle child OK"), "{text}");
}

/// The module's steps; does nothing unless the test above started it.
#[test]
fn idle_child() {
    let Some(module) = std::env::var_os(CHILD_MODULE) else { return };
    let pkcs11 = Pkcs11::new(module).unwrap();
    pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).unwrap();
    let slot = pkcs11.get_slots_with_token().unwrap()[0];
    let session = pkcs11.open_ro_session(slot).unwrap();
    assert_eq!(session.generate_random_vec(16).unwrap().len(), 16);
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(2500));
        assert_eq!(
            session.generate_random_vec(16).unwrap().len(),
            16,
            "the same session, after the idle timeout"
        );
    }
    assert!(pkcs11.get_token_info(slot).is_ok());
    println!("idle child OK");
}

/// An application id serves only the principal that attached it: the same id presented by
/// another user's connection names no application.
#[test]
fn an_application_serves_only_the_user_that_attached_it() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
        eprintln!("skipped: needs root to act as a second user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.path().join("master.key"), [7u8; 32]).unwrap();
    let (data, socket, config) =
        (dir.path().join("data"), run.join("arca.sock"), dir.path().join("arca.toml"));
    let text = format!(
        "data_dir = \"{}\"\nsocket = \"{}\"\n[seal]\nmode = \"key_file\"\nkey_file = \"{}\"\n",
        data.display(),
        socket.display(),
        dir.path().join("master.key").display()
    );
    std::fs::write(&config, text).unwrap();
    let daemon = Launch::config(&config, &data, &socket).start();
    std::fs::set_permissions(&daemon.socket, std::fs::Permissions::from_mode(0o666)).unwrap();

    let (application, _, _attached) = attach(&daemon.socket);
    let mut own = WireConnection::open(&daemon.socket, &application, DEADLINE, MAX_ANSWER).unwrap();
    own.call(wire::OPEN_SESSION, &OpenSessionRequest { flags: CKF_SERIAL_SESSION }).unwrap();

    // `nobody` presents the same id: one C_OpenSession frame, the answer's kind and body in hex.
    let mut request = preface(&application);
    request.extend(frame(wire::OPEN_SESSION.id, &[0x08, CKF_SERIAL_SESSION as u8]));
    let hex: String = request.iter().map(|b| format!("{b:02x}")).collect();
    let script = "import socket, sys\n\
        s = socket.socket(socket.AF_UNIX)\n\
        s.connect(sys.argv[1])\n\
        s.sendall(bytes.fromhex(sys.argv[2]))\n\
        data = b''\n\
        while len(data) < 5 or len(data) < 4 + int.from_bytes(data[:4], 'little'):\n    chunk = s.recv(65536)\n    if not chunk: break\n    data += chunk\n\
        print(data.hex())\n";
    let output = arca_tests::as_nobody("/usr/bin/python3")
        .args(["-c", script])
        .arg(&daemon.socket)
        .arg(hex)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout);
    let answer: Vec<u8> = (0..text.trim().len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text.trim()[i..i + 2], 16).unwrap())
        .collect();
    let refused = answered_status(&answer);
    assert_eq!(ckr(&refused), CKR_SESSION_HANDLE_INVALID, "{refused:?}");
    assert!(refused.message().contains("unknown application"), "{}", refused.message());
    // The owner is still served.
    own.call(wire::OPEN_SESSION, &OpenSessionRequest { flags: CKF_SERIAL_SESSION }).unwrap();
}

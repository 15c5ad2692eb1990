//! The connection layer under abuse: header-only HTTP/2 streams held open cannot grow the daemon's
//! memory without bound; idle connections cannot use up its descriptors or lock administrators
//! out; refused clients learn it at once; idle connections are closed; the open-files limit is
//! raised at start. A second user is `nobody` (uid 65534) through setpriv, so some tests need root.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use arca_tests::{Daemon, Launch, binary, pb};

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse().unwrap()
}

type HeldStream = (h2::client::ResponseFuture, h2::SendStream<bytes::Bytes>);

/// Streams opened on one connection, and the stream limit the server announced to it.
struct Held {
    streams: Vec<HeldStream>,
    announced_limit: usize,
}

/// Opens header-only streams (HEADERS without END_STREAM, never a body) on one connection until
/// `deadline`, or until `count`, and returns them still open.
async fn hold_streams(socket: PathBuf, count: usize, deadline: tokio::time::Instant) -> Held {
    let io = tokio::net::UnixStream::connect(socket).await.unwrap();
    let (mut client, connection) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(connection);
    // Let the server's SETTINGS arrive, so the client knows any stream limit it announces.
    let settled = tokio::time::Instant::now() + Duration::from_millis(500);
    while client.current_max_send_streams() == usize::MAX && tokio::time::Instant::now() < settled {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let announced_limit = client.current_max_send_streams();
    let mut held = Vec::new();
    while held.len() < count {
        let Ok(Ok(mut ready)) = tokio::time::timeout_at(deadline, client.clone().ready()).await else {
            break;
        };
        let request = http::Request::post("http://localhost/arca.v1.KeyManagement/Encrypt")
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .unwrap();
        match ready.send_request(request, false) {
            Ok(stream) => held.push(stream),
            Err(_) => break,
        }
        client = ready;
    }
    Held { streams: held, announced_limit }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn header_only_streams_cannot_grow_memory_without_bound() {
    let (daemon, _dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    arca_tests::create_key(&mut kms, "warm-up").await;
    let before = rss_kib(daemon.pid());

    let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
    let attacks = (0..4).map(|_| tokio::spawn(hold_streams(daemon.socket.clone(), 6000, deadline)));
    let attacks: Vec<_> = attacks.collect();
    let mut held = Vec::new();
    for attack in attacks {
        held.push(attack.await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(daemon.pid());
    let opened: usize = held.iter().map(|h| h.streams.len()).sum();
    let grown_mib = after.saturating_sub(before) / 1024;
    assert!(grown_mib < 64, "RSS grew by {grown_mib} MiB with {opened} header-only streams sent");
    assert!(held.iter().all(|h| h.announced_limit == 128), "the server announces its stream limit");

    // The daemon still serves everybody else.
    let key = arca_tests::create_key(&mut kms, "after").await;
    kms.encrypt(pb::EncryptRequest { key_id: key, plaintext: b"x".to_vec(), ..Default::default() })
        .await
        .unwrap();
    drop(held);
}

/// A daemon whose socket any user may reach, with `connections` as its `[connections]` section
/// and root as its only administrator.
fn start_with_connections(dir: &Path, connections: &str, extra: &str) -> Daemon {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = dir.join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("master.key"), [9u8; 32]).unwrap();
    let (data, socket) = (dir.join("data"), run.join("arca.sock"));
    let config = dir.join("arca.toml");
    let text = format!(
        "data_dir = \"{}\"\nsocket = \"{}\"\nadministrators = [\"uid:0\"]\n{extra}\n[seal]\nmode = \"key_file\"\n\
         key_file = \"{}\"\n[connections]\n{connections}\n",
        data.display(),
        socket.display(),
        dir.join("master.key").display()
    );
    std::fs::write(&config, text).unwrap();
    let daemon = Launch::config(&config, &data, &socket).start();
    std::fs::set_permissions(&daemon.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    daemon
}

/// A process of `nobody` holding `count` idle connections (it sends nothing); it prints "held",
/// then one line per connection the daemon closes, with the seconds it stayed open.
fn hold_idle_connections_as_nobody(socket: &Path, count: usize) -> std::process::Child {
    let script = "import socket, sys, time\n\
        start = time.monotonic()\n\
        held = [socket.socket(socket.AF_UNIX) for _ in range(int(sys.argv[2]))]\n\
        [s.connect(sys.argv[1]) for s in held]\n\
        print('held', flush=True)\n\
        for s in held:\n    s.settimeout(60)\n    while s.recv(4096):\n        pass\n    print(f'closed {time.monotonic() - start:.1f}', flush=True)\n";
    let mut child = arca_tests::as_nobody("/usr/bin/python3")
        .args(["-c", script])
        .arg(socket)
        .arg(count.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "held");
    child
}

/// `arcactl status` as `nobody`: (succeeded, seconds taken, stderr).
fn status_as_nobody(socket: &Path) -> (bool, f64, String) {
    let started = Instant::now();
    let output =
        arca_tests::as_nobody(binary("arcactl")).arg("--socket").arg(socket).arg("status").output().unwrap();
    (
        output.status.success(),
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn scrape(address: &str) -> String {
    let host = address.trim_start_matches("http://").trim_end_matches("/metrics");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: arcad\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

#[tokio::test]
async fn idle_connections_cannot_lock_out_administrators_and_are_closed() {
    if !running_as_root() {
        eprintln!("skipped: needs root to act as a second user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let limits = "max_connections = 6\nadmin_reserve = 2\nidle_timeout_secs = 3";
    let mut daemon = start_with_connections(dir.path(), limits, "metrics_listen = \"127.0.0.1:0\"");
    let metrics = daemon.addresses.iter().find(|a| a.starts_with("http://")).unwrap().clone();

    let (ok, _, stderr) = status_as_nobody(&daemon.socket);
    assert!(ok, "below the cap anybody is served: {stderr}");
    // Its connection is given back once the server has seen it close.
    std::thread::sleep(Duration::from_millis(300));
    let mut idle = hold_idle_connections_as_nobody(&daemon.socket, 6);

    let (ok, seconds, stderr) = status_as_nobody(&daemon.socket);
    assert!(!ok, "a seventh connection of a non-administrator was served");
    assert!(seconds < 2.0, "the refusal took {seconds:.1} s: it must be immediate, not a timeout ({stderr})");
    let status = daemon.admin().await.status(pb::StatusRequest {}).await.unwrap().into_inner();
    assert_eq!(status.caller, "uid:0", "the administrator is served from the reserve");
    let scraped = scrape(&metrics);
    let refused = scraped
        .lines()
        .find_map(|l| l.strip_prefix("arca_connections_refused_total{reason=\"max_connections\"} "));
    assert!(refused.is_some_and(|n| n.parse::<u64>().unwrap() >= 1), "the refusal is counted: {scraped}");
    assert!(daemon.stderr_shows("connections refused", Duration::from_secs(5)), "the refusal is logged");

    // The idle ones are closed after the idle timeout, and the slots are free again.
    let mut closed = String::new();
    idle.stdout.take().unwrap().read_to_string(&mut closed).unwrap();
    idle.wait().unwrap();
    let times: Vec<f64> = closed.lines().map(|l| l.trim_start_matches("closed ").parse().unwrap()).collect();
    assert_eq!(times.len(), 6, "{closed}");
    assert!(times.iter().all(|t| (2.5..8.0).contains(t)), "closed after {times:?} s with a 3 s idle timeout");
    let (ok, _, stderr) = status_as_nobody(&daemon.socket);
    assert!(ok, "after the idle connections were closed anybody is served again: {stderr}");
}

#[test]
fn the_open_files_limit_is_raised_to_the_hard_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut launch = Launch::dev(dir.path());
    launch.wrapper = ["prlimit", "--nofile=256:4096", "--"].map(String::from).to_vec();
    let daemon = launch.start();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", daemon.pid())).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[3..5], ["4096", "4096"], "{line}");
    drop(daemon);

    // A hard limit too low for the configured cap lowers the cap, and says so.
    let low = tempfile::tempdir().unwrap();
    let mut launch = Launch::dev(low.path());
    launch.wrapper = ["prlimit", "--nofile=512:512", "--"].map(String::from).to_vec();
    let mut daemon = launch.start();
    std::thread::sleep(Duration::from_millis(200));
    let stderr = daemon.stderr_text();
    assert!(stderr.contains("RLIMIT_NOFILE is too low") && stderr.contains("cap=432"), "{stderr}");
}

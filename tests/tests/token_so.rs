//! The SO role belongs to the daemon's administrators: other callers are refused before any PIN
//! is checked (so they cannot lock the SO PIN), and an administrator who finds the SO PIN locked
//! or lost recovers it with `arcactl token unlock-so`, audited as UnlockSoPin. The pkcs11-tool
//! test acts as a second user (`nobody`, uid 65534, through setpriv), so it needs root.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Output};

use arca_proto::{APPLICATION_HEADER, CKR_HEADER};
use arca_tests::arcactl::describe;
use arca_tests::{Daemon, Launch, assert_status, bin_dir, binary, pb};
use serde_json::Value;
use tonic::{Code, Request};

const SO_PIN: &str = "87654321";
const PIN: &str = "123456";
const NOBODY: u32 = 65534;
const CKF_SERIAL_SESSION: u64 = 0x4;
const CKF_RW_SESSION: u64 = 0x2;
const CKU_SO: u64 = 0;
const CKR_USER_TYPE_INVALID: &str = "0x00000103";
const CKR_TOKEN_WRITE_PROTECTED: &str = "0x000000E2";

fn with_app<T>(app: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(APPLICATION_HEADER, app.parse().unwrap());
    request
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

/// arcactl as `uid` (through setpriv unless 0), with JSON output and the given environment.
fn arcactl(daemon: &Daemon, uid: u32, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = as_user(uid, &binary("arcactl").display().to_string());
    command.arg("--socket").arg(&daemon.socket).args(["--output", "json"]).args(args);
    for name in ["ARCA_SO_PIN", "ARCA_PIN", "ARCA_NEW_SO_PIN"] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied()).output().unwrap()
}

fn ok(daemon: &Daemon, env: &[(&str, &str)], args: &[&str]) -> Value {
    let output = arcactl(daemon, 0, env, args);
    assert!(output.status.success(), "arcactl {args:?}: {}", describe(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn as_user(uid: u32, program: &str) -> Command {
    if uid == 0 {
        return Command::new(program);
    }
    let mut command = Command::new("setpriv");
    command.args([format!("--reuid={uid}"), format!("--regid={uid}"), "--clear-groups".into(), "--".into()]);
    command.arg(program);
    command
}

fn flags(daemon: &Daemon) -> Vec<String> {
    let info = ok(daemon, &[], &["token", "info"]);
    info["flags"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_owned()).collect()
}

fn set_up_token(daemon: &Daemon) {
    ok(daemon, &[("ARCA_SO_PIN", SO_PIN)], &["token", "init", "--label", "so-test"]);
    ok(daemon, &[("ARCA_SO_PIN", SO_PIN), ("ARCA_PIN", PIN)], &["token", "init-pin"]);
}

/// A daemon whose socket (and its directory) any user may reach.
fn open_to_everyone(daemon: &Daemon) {
    let dir = daemon.socket.parent().unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&daemon.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
}

/// Over the Token API: a caller who is no administrator gets CKR_USER_TYPE_INVALID for the SO,
/// right PIN or wrong, and the SO PIN's count never moves; C_InitToken and UnlockSoPin are refused.
#[tokio::test]
async fn non_administrators_neither_log_in_as_so_nor_count_towards_its_lockout() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Launch::key_file_config(dir.path(), "").start();
    set_up_token(&daemon);
    daemon.shutdown().await;
    let daemon = Launch::key_file_config(dir.path(), "administrators = [\"uid:4242\"]").start();
    let mut token = pb::token_client::TokenClient::new(daemon.channel().await);
    let attach = pb::AttachRequest { application_name: "so-test".into() };
    let mut events = token.attach(attach).await.unwrap().into_inner();
    let app = events.message().await.unwrap().unwrap().application_id;
    let open = pb::OpenSessionRequest { flags: CKF_SERIAL_SESSION | CKF_RW_SESSION };
    let session = token.open_session(with_app(&app, open)).await.unwrap().into_inner().session;
    for pin in ["00000000"; 11].into_iter().chain([SO_PIN]) {
        let login = pb::LoginRequest { session, user_type: CKU_SO, pin: pin.into() };
        let refused = token.login(with_app(&app, login)).await.unwrap_err();
        assert_eq!(refused.metadata().get(CKR_HEADER).unwrap(), CKR_USER_TYPE_INVALID, "{refused:?}");
        assert!(refused.message().contains("administrators"), "{refused:?}");
    }
    let info = token.get_token_info(pb::GetTokenInfoRequest {}).await.unwrap().into_inner();
    assert_eq!(info.flags & 0x70_0000, 0, "no SO PIN flag moved: {:#x}", info.flags);
    drop(events);
    let init = pb::InitTokenRequest { so_pin: SO_PIN.into(), label: b"taken".to_vec() };
    let refused = token.init_token(init).await.unwrap_err();
    assert_eq!(refused.metadata().get(CKR_HEADER).unwrap(), CKR_TOKEN_WRITE_PROTECTED, "{refused:?}");
    let unlock = token.unlock_so_pin(pb::UnlockSoPinRequest { new_so_pin: b"11112222".to_vec() }).await;
    assert_status(unlock, Code::PermissionDenied, "administrators only");
    daemon.shutdown().await;
}

/// Ten wrong SO PINs from an administrator still lock the SO PIN (even the right one is then
/// refused); `arcactl token unlock-so` clears the lockout, `--new-so-pin` replaces a lost PIN,
/// and each is audited.
#[tokio::test]
async fn administrators_recover_a_locked_or_lost_so_pin_with_an_audit_record() {
    let (daemon, _dir) = Daemon::start_dev();
    set_up_token(&daemon);
    let init_pin = |so_pin: &str| {
        arcactl(&daemon, 0, &[("ARCA_SO_PIN", so_pin), ("ARCA_PIN", "654321")], &["token", "init-pin"])
    };
    for _ in 0..10 {
        assert!(!init_pin("00000000").status.success());
    }
    assert!(flags(&daemon).contains(&"SO_PIN_LOCKED".to_owned()));
    let locked = init_pin(SO_PIN);
    assert!(String::from_utf8_lossy(&locked.stderr).contains("locked"), "{}", describe(&locked));

    let unlocked = ok(&daemon, &[], &["token", "unlock-so"]);
    assert_eq!((&unlocked["so_pin_unlocked"], &unlocked["so_pin_replaced"]), (&true.into(), &false.into()));
    assert!(!flags(&daemon).iter().any(|f| f.starts_with("SO_PIN")), "{:?}", flags(&daemon));
    assert!(init_pin(SO_PIN).status.success(), "the SO PIN works again");

    ok(&daemon, &[("ARCA_NEW_SO_PIN", "11223344")], &["token", "unlock-so", "--new-so-pin"]);
    assert!(!init_pin(SO_PIN).status.success(), "the old SO PIN is replaced");
    assert!(init_pin("11223344").status.success(), "the new SO PIN works");

    let request = pb::ReadAuditRequest { limit: 1000, ..Default::default() };
    let records = daemon.admin().await.read_audit(request).await.unwrap().into_inner().records;
    let unlocks: Vec<Value> = records
        .iter()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|record| record["operation"] == "UnlockSoPin")
        .collect();
    assert_eq!(unlocks.len(), 2, "{unlocks:#?}");
    for record in &unlocks {
        assert_eq!((&record["outcome"], &record["principal"]), (&"OK".into(), &"uid:0".into()), "{record}");
        assert!(!record.to_string().contains("11223344"), "no PIN in the audit record: {record}");
    }
    daemon.shutdown().await;
}

/// The attack as it was found: pkcs11-tool run by another user tries SO PINs. It is refused with
/// CKR_USER_TYPE_INVALID every time, the SO PIN stays unlocked, and that user can neither
/// re-initialise the token nor unlock the SO PIN through arcactl.
#[tokio::test]
async fn another_user_with_pkcs11_tool_cannot_lock_the_so_pin() {
    if !running_as_root() {
        eprintln!("skipped: needs root to act as a second user");
        return;
    }
    let (daemon, _dir) = Daemon::start_dev();
    open_to_everyone(&daemon);
    set_up_token(&daemon);
    let module = bin_dir().join("libarca_pkcs11.so");
    for _ in 0..11 {
        let output = as_user(NOBODY, "pkcs11-tool")
            .arg("--module")
            .arg(&module)
            .args(["--login", "--login-type", "so", "--so-pin", "00000000", "--list-objects"])
            .env("ARCA_SOCKET", &daemon.socket)
            .output()
            .expect("pkcs11-tool (Debian opensc) is installed by scripts/install-deps.sh");
        let text = describe(&output);
        assert!(!output.status.success() && text.contains("CKR_USER_TYPE_INVALID"), "{text}");
    }
    assert!(!flags(&daemon).iter().any(|f| f.starts_with("SO_PIN")), "{:?}", flags(&daemon));

    let refused = arcactl(&daemon, NOBODY, &[("ARCA_SO_PIN", SO_PIN)], &["token", "init", "--label", "x"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("administrators"), "{}", describe(&refused));
    let refused = arcactl(&daemon, NOBODY, &[], &["token", "unlock-so"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("PERMISSION_DENIED") || stderr.contains("administrators only"), "{stderr}");
    assert!(
        arcactl(&daemon, 0, &[("ARCA_SO_PIN", SO_PIN), ("ARCA_PIN", "654321")], &["token", "init-pin"])
            .status
            .success(),
        "the administrator's SO PIN still works"
    );
    daemon.shutdown().await;
}

//! Failover between the nodes of `ARCA_ENDPOINT=unix:A,unix:B`, against two fake daemons: the
//! application moves to the next node when its node dies, stays on the node that works, wraps
//! round to the first, and a node that is down from the start is passed over, all without
//! reloading the module.

use std::path::Path;
use std::ptr::null_mut;

use cryptoki_sys::*;

use super::{INIT_FLAGS, initialize_with_flags, serial};
use crate::abi::{general::*, session::*};
use crate::fake_daemon::FakeDaemon;

const SESSION: CK_SESSION_HANDLE = 0x1_0000_0007;

/// Points the next `C_Initialize` at the nodes `unix:a,unix:b`.
fn point_at_nodes(a: &Path, b: &Path) {
    let nodes = format!("unix:{},unix:{}", a.display(), b.display());
    // SAFETY: only tests holding `serial()` change the environment, and nothing else in this
    // process reads these variables concurrently.
    unsafe {
        std::env::remove_var("ARCA_SOCKET");
        std::env::set_var("ARCA_ENDPOINT", nodes);
    }
}

fn open_session() -> CK_RV {
    let mut session = 0;
    // SAFETY: every pointer passed is NULL on purpose or points to a live local of the right size.
    unsafe { C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, null_mut(), None, &mut session) }
}

fn session_info() -> CK_RV {
    // SAFETY: CK_SESSION_INFO is plain data; all zeroes is a valid value.
    let mut info = unsafe { std::mem::zeroed::<CK_SESSION_INFO>() };
    // SAFETY: `info` is a live CK_SESSION_INFO.
    unsafe { C_GetSessionInfo(SESSION, &mut info) }
}

fn finalize() {
    // SAFETY: C_Finalize takes a NULL pReserved.
    assert_eq!(unsafe { C_Finalize(null_mut()) }, CKR_OK);
}

#[test]
fn a_dead_node_passes_the_application_to_the_next_and_round_again() {
    let _serial = serial();
    for flags in INIT_FLAGS {
        fail_over(flags);
    }
}

fn fail_over(flags: Option<CK_FLAGS>) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.sock"), dir.path().join("b.sock"));
    let first = FakeDaemon::start(&a, 1);
    let second = FakeDaemon::start(&b, 2);
    point_at_nodes(&a, &b);
    assert_eq!(initialize_with_flags(flags), CKR_OK);
    assert_eq!((first.attached(), second.attached()), (vec!["app-1-1".to_owned()], vec![]));
    assert_eq!(open_session(), CKR_OK);
    first.stop();

    // The dead node's session answers as after a daemon restart; the next slot-level call
    // attaches on the second node at once.
    assert_eq!(session_info(), CKR_DEVICE_REMOVED);
    assert_eq!(open_session(), CKR_OK);
    assert_eq!(second.attached(), ["app-2-1"]);
    assert_eq!(session_info(), CKR_OK);

    // The first node back does not pull the application away from the node that works.
    let back = FakeDaemon::start(&a, 3);
    assert_eq!(open_session(), CKR_OK);
    assert_eq!((back.attached(), second.attached()), (vec![], vec!["app-2-1".to_owned()]));

    // The second node dies: round to the first.
    second.stop();
    assert_eq!(open_session(), CKR_OK);
    assert_eq!(back.attached(), ["app-3-1"]);
    finalize();
}

#[test]
fn a_node_down_from_the_start_is_passed_over_and_none_up_means_no_token() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.sock"), dir.path().join("b.sock"));
    let second = FakeDaemon::start(&b, 2);
    point_at_nodes(&a, &b);
    assert_eq!(initialize_with_flags(None), CKR_OK);
    assert_eq!(open_session(), CKR_OK);
    assert_eq!(second.attached(), ["app-2-1"]);
    second.stop();
    assert_eq!(open_session(), CKR_TOKEN_NOT_PRESENT, "both nodes down");
    let first = FakeDaemon::start(&a, 1);
    assert_eq!(open_session(), CKR_OK);
    assert_eq!(first.attached(), ["app-1-1"]);
    finalize();
}

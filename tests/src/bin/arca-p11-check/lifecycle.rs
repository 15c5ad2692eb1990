//! The checks that change the world for the ones after them, run last and in this order:
//! a daemon restart (Arca), the PIN lockout (Arca), C_Finalize.

use std::io::{BufRead, Write};
use std::sync::mpsc;
use std::time::Duration;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::RvError;
use cryptoki::object::Attribute;
use cryptoki::session::{SessionState, UserType};
use cryptoki::types::AuthPin;

use crate::keys;
use crate::objects::fingerprint;
use crate::suite::{At, Ctx, Fail, Outcome, ckr, ensure, expect_rv, fail, find, label, skip};

/// The line that asks the parent (the integration test) to restart arcad; it answers with a line.
pub const RESTART_REQUEST: &str = "RESTART-DAEMON";
const LOCKOUT_LIMIT: usize = 10;
const FINALIZE_TIMEOUT: Duration = Duration::from_secs(30);

fn ask_for_restart() -> Result<bool, Fail> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{RESTART_REQUEST}")
        .and_then(|()| out.flush())
        .or_else(|e| fail(format!("stdout: {e}")))?;
    let mut answer = String::new();
    let read = std::io::stdin().lock().read_line(&mut answer).or_else(|e| fail(format!("stdin: {e}")))?;
    Ok(read > 0)
}

pub fn daemon_restart(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let survivor = keys::gen_aes(&s, 32, true, "restart", &[])?;
    let before = fingerprint(&s, survivor)?;
    let other = ctx.ro()?;
    drop(s);
    if !ask_for_restart()? {
        return skip("stdin closed: nobody restarts the daemon (run by the integration test)");
    }
    let stale = [RvError::SessionHandleInvalid, RvError::DeviceRemoved];
    let rv =
        expect_rv(other.get_session_info(), &stale, "C_GetSessionInfo on a session from before the restart")?;
    ctx.note(format!("old session: {}", ckr(rv)));
    expect_rv(
        ctx.s().generate_random_vec(8),
        &stale,
        "C_GenerateRandom on a session from before the restart",
    )?;
    let fresh = ctx.rw()?;
    fresh.login(UserType::User, Some(&ctx.user_pin())).at("C_Login after the restart")?;
    let state = fresh.get_session_info().at("C_GetSessionInfo")?.session_state();
    ensure!(state == SessionState::RwUser, "state after login: {state:?}");
    drop(ctx.replace_session(fresh));
    drop(other);
    let s = ctx.s();
    let found = find(&s, &[Attribute::Label(label("restart"))])?;
    let [key] = found.as_slice() else {
        return fail(format!("the token key made before the restart: {} found", found.len()));
    };
    ensure!(fingerprint(&s, *key)? == before, "the token key encrypts differently after the restart");
    s.destroy_object(*key).at("C_DestroyObject")?;
    Ok(())
}

fn flags(ctx: &Ctx) -> Result<(bool, bool, bool), Fail> {
    let info = ctx.pkcs11.get_token_info(ctx.slot).at("C_GetTokenInfo")?;
    Ok((info.user_pin_count_low(), info.user_pin_final_try(), info.user_pin_locked()))
}

/// Arca locks the user PIN after 10 consecutive failures; SoftHSM 2 has no retry counter.
pub fn pin_lockout(ctx: &Ctx) -> Outcome {
    if !ctx.arca() {
        return skip("SoftHSM 2 has no PIN retry counter (PKCS#11 leaves lockout to the token)");
    }
    let s = ctx.rw()?;
    let _ = s.logout();
    let wrong = AuthPin::from("wrong-pin-13579");
    for attempt in 1..=LOCKOUT_LIMIT {
        let allowed: &[RvError] = if attempt == LOCKOUT_LIMIT {
            &[RvError::PinIncorrect, RvError::PinLocked]
        } else {
            &[RvError::PinIncorrect]
        };
        expect_rv(s.login(UserType::User, Some(&wrong)), allowed, &format!("wrong PIN #{attempt}"))?;
        let (low, final_try, locked) = flags(ctx)?;
        let wanted = (true, attempt == LOCKOUT_LIMIT - 1, attempt == LOCKOUT_LIMIT);
        let got = (low || locked, final_try, locked);
        ensure!(
            got == wanted,
            "after {attempt} wrong PINs (COUNT_LOW, FINAL_TRY, LOCKED) = {got:?}, expected {wanted:?}"
        );
    }
    expect_rv(
        s.login(UserType::User, Some(&ctx.user_pin())),
        &[RvError::PinLocked],
        "the right PIN once locked",
    )?;
    s.login(UserType::So, Some(&ctx.so_pin())).at("C_Login(SO)")?;
    s.init_pin(&ctx.user_pin()).at("C_InitPIN to unlock")?;
    s.logout().at("C_Logout(SO)")?;
    let (low, final_try, locked) = flags(ctx)?;
    ensure!(
        !low && !final_try && !locked,
        "flags after C_InitPIN: low {low}, final {final_try}, locked {locked}"
    );
    s.login(UserType::User, Some(&ctx.user_pin())).at("C_Login after C_InitPIN")?;
    Ok(())
}

fn finalize_within(pkcs11: Pkcs11) -> Outcome {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(pkcs11.finalize());
    });
    match rx.recv_timeout(FINALIZE_TIMEOUT) {
        Ok(result) => result.at("C_Finalize"),
        Err(_) => fail(format!("C_Finalize did not return within {FINALIZE_TIMEOUT:?}")),
    }
}

/// C_Finalize returns promptly, ends every session, and the library can start again.
pub fn finalize(ctx: &Ctx) -> Outcome {
    let old = ctx.rw()?;
    finalize_within(ctx.pkcs11.clone())?;
    expect_rv(
        ctx.pkcs11.get_all_slots(),
        &[RvError::CryptokiNotInitialized],
        "C_GetSlotList after C_Finalize",
    )?;
    ctx.pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).at("C_Initialize again")?;
    expect_rv(old.get_session_info(), &[RvError::SessionHandleInvalid], "a session from before C_Finalize")?;
    // SoftHSM renumbers its slots on C_Initialize: find the token again by its label.
    let mut slot = None;
    for candidate in ctx.pkcs11.get_slots_with_token().at("C_GetSlotList")? {
        if ctx.pkcs11.get_token_info(candidate).at("C_GetTokenInfo")?.label().trim_end() == "arca-check" {
            slot = Some(candidate);
        }
    }
    let Some(slot) = slot else { return fail("the token is gone after C_Initialize") };
    if ctx.arca() {
        ensure!(slot.id() == 0, "Arca's slot is {} after C_Initialize", slot.id());
    }
    let s = ctx.pkcs11.open_rw_session(slot).at("C_OpenSession after C_Initialize")?;
    let state = s.get_session_info().at("C_GetSessionInfo")?.session_state();
    ensure!(state == SessionState::RwPublic, "a new session after C_Initialize is {state:?}");
    s.login(UserType::User, Some(&ctx.user_pin())).at("C_Login after C_Initialize")?;
    drop(s);
    finalize_within(ctx.pkcs11.clone())
}

//! Sessions and login: states, the application-wide login, PINs and the read-only rules.

use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::types::AuthPin;

use crate::keys;
use crate::suite::{At, Ctx, Fail, Outcome, SoftHsm, ensure, expect_rv, expect_spec, find, label, skip};

fn state(s: &Session) -> Result<SessionState, Fail> {
    s.get_session_info().at("C_GetSessionInfo").map(|info| info.session_state())
}

fn expect_state(s: &Session, wanted: SessionState, when: &str) -> Outcome {
    let got = state(s)?;
    ensure!(got == wanted, "{when}: session state {got:?}, expected {wanted:?}");
    Ok(())
}

pub fn session_states(ctx: &Ctx) -> Outcome {
    let ro = ctx.ro()?;
    let rw = ctx.rw()?;
    ensure!(
        !ro.get_session_info().at("C_GetSessionInfo")?.read_write(),
        "R/O session reports CKF_RW_SESSION"
    );
    ensure!(rw.get_session_info().at("C_GetSessionInfo")?.read_write(), "R/W session lacks CKF_RW_SESSION");
    expect_state(&ro, SessionState::RoUser, "R/O session, user logged in")?;
    expect_state(&rw, SessionState::RwUser, "R/W session, user logged in")?;
    rw.logout().at("C_Logout")?;
    expect_state(&ro, SessionState::RoPublic, "R/O session after logout")?;
    expect_state(&rw, SessionState::RwPublic, "R/W session after logout")?;
    expect_state(&ctx.s(), SessionState::RwPublic, "main session after logout elsewhere")?;
    drop(ro);
    rw.login(UserType::So, Some(&ctx.so_pin())).at("C_Login(SO)")?;
    expect_state(&rw, SessionState::RwSecurityOfficer, "R/W session, SO logged in")?;
    rw.logout().at("C_Logout(SO)")?;
    rw.login(UserType::User, Some(&ctx.user_pin())).at("C_Login(user)")?;
    expect_state(&ctx.s(), SessionState::RwUser, "main session after login elsewhere")?;
    Ok(())
}

pub fn login_shared_across_sessions(ctx: &Ctx) -> Outcome {
    let late = ctx.ro()?;
    expect_state(&late, SessionState::RoUser, "session opened after the login")?;
    late.logout().at("C_Logout from the second session")?;
    expect_state(&ctx.s(), SessionState::RwPublic, "main session")?;
    let third = ctx.rw()?;
    expect_state(&third, SessionState::RwPublic, "session opened while logged out")?;
    third.login(UserType::User, Some(&ctx.user_pin())).at("C_Login from the third session")?;
    expect_state(&late, SessionState::RoUser, "second session")?;
    expect_state(&ctx.s(), SessionState::RwUser, "main session")?;
    Ok(())
}

pub fn user_already_logged_in(ctx: &Ctx) -> Outcome {
    let again = ctx.s().login(UserType::User, Some(&ctx.user_pin()));
    expect_rv(again, &[RvError::UserAlreadyLoggedIn], "second C_Login(user)")?;
    let other = ctx.ro()?;
    let from_other = other.login(UserType::User, Some(&ctx.user_pin()));
    expect_rv(from_other, &[RvError::UserAlreadyLoggedIn], "C_Login(user) from another session")?;
    drop(other);
    let so = ctx.s().login(UserType::So, Some(&ctx.so_pin()));
    expect_rv(so, &[RvError::UserAnotherAlreadyLoggedIn], "C_Login(SO) while the user is logged in")?;
    Ok(())
}

pub fn user_not_logged_in(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let pair = keys::gen_ec(&s, false, "not-logged-in", &[])?;
    keys::gen_aes(&s, 32, true, "private-token-key", &[])?;
    let public_label = label("not-logged-in");
    s.logout().at("C_Logout")?;
    expect_spec(ctx, s.logout(), RvError::UserNotLoggedIn, SoftHsm::Succeeds, "C_Logout when not logged in")?;
    // C_Logout makes the application's handles to private objects invalid (PKCS#11 3.0 §5.6):
    // CKR_KEY_HANDLE_INVALID; CKR_USER_NOT_LOGGED_IN says the same from the login side.
    // SoftHSM 2.6.1 answers CKR_OBJECT_HANDLE_INVALID.
    let use_private = s.sign_init(&Mechanism::Ecdsa, pair.private);
    let mut allowed = vec![RvError::UserNotLoggedIn, RvError::KeyHandleInvalid];
    if !ctx.arca() {
        allowed.push(RvError::ObjectHandleInvalid);
    }
    let rv = expect_rv(use_private, &allowed, "C_SignInit with a private key, logged out")?;
    ctx.note(format!("private key after logout: {}", crate::suite::ckr(rv)));
    let hidden = find(&s, &[Attribute::Label(label("private-token-key"))])?;
    ensure!(hidden.is_empty(), "a private token key is visible without login");
    let public = find(&s, &[Attribute::Label(public_label), Attribute::Class(ObjectClass::PUBLIC_KEY)])?;
    ensure!(public.len() == 1, "the public key is not visible without login ({} found)", public.len());
    let direct =
        s.generate_key(&Mechanism::AesKeyGen, &keys::aes_template(16, false, "private-without-login"));
    expect_rv(direct, &[RvError::UserNotLoggedIn], "C_GenerateKey(CKA_PRIVATE=true) without login")?;
    s.login(UserType::User, Some(&ctx.user_pin())).at("C_Login(user)")?;
    // Found again, under a new handle if the token follows §5.6 to the letter.
    let visible = find(&s, &[Attribute::Label(label("private-token-key"))])?;
    let [again] = visible.as_slice() else {
        return crate::suite::fail(format!("{} private token keys found after login", visible.len()));
    };
    s.destroy_object(*again).at("C_DestroyObject")?;
    Ok(())
}

pub fn pin_incorrect(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    s.logout().at("C_Logout")?;
    let wrong = AuthPin::from(format!("{}x", ctx.pin).as_str());
    expect_rv(s.login(UserType::User, Some(&wrong)), &[RvError::PinIncorrect], "C_Login with a wrong PIN")?;
    expect_state(&s, SessionState::RwPublic, "after a failed login")?;
    s.login(UserType::User, Some(&ctx.user_pin())).at("C_Login with the right PIN")?;
    let so_wrong = ctx.rw()?;
    so_wrong.logout().at("C_Logout")?;
    expect_rv(
        so_wrong.login(UserType::So, Some(&wrong)),
        &[RvError::PinIncorrect],
        "C_Login(SO) with a wrong PIN",
    )?;
    Ok(())
}

pub fn set_pin(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let old = ctx.user_pin();
    let new = AuthPin::from("changed-pin-2468");
    let wrong = AuthPin::from("not-the-pin-0000");
    expect_rv(s.set_pin(&wrong, &new), &[RvError::PinIncorrect], "C_SetPIN with a wrong old PIN")?;
    let short = AuthPin::from("123");
    expect_rv(s.set_pin(&old, &short), &[RvError::PinLenRange], "C_SetPIN to a 3-character PIN")?;
    s.set_pin(&old, &new).at("C_SetPIN")?;
    s.logout().at("C_Logout")?;
    expect_rv(
        s.login(UserType::User, Some(&old)),
        &[RvError::PinIncorrect],
        "C_Login with the replaced PIN",
    )?;
    s.login(UserType::User, Some(&new)).at("C_Login with the new PIN")?;
    s.set_pin(&new, &old).at("C_SetPIN back")?;
    s.logout().at("C_Logout")?;
    s.login(UserType::User, Some(&old)).at("C_Login with the restored PIN")?;
    Ok(())
}

pub fn so_login_rules(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    s.logout().at("C_Logout")?;
    let ro = ctx.ro()?;
    let so = s.login(UserType::So, Some(&ctx.so_pin()));
    expect_rv(so, &[RvError::SessionReadOnlyExists], "C_Login(SO) with a R/O session open")?;
    drop(ro);
    s.login(UserType::So, Some(&ctx.so_pin())).at("C_Login(SO) once the R/O session closed")?;
    let opened = ctx.pkcs11.open_ro_session(ctx.slot);
    let result = expect_rv(
        opened,
        &[RvError::SessionReadWriteSoExists],
        "C_OpenSession(R/O) while the SO is logged in",
    );
    let user = s.login(UserType::User, Some(&ctx.user_pin()));
    let user =
        expect_rv(user, &[RvError::UserAnotherAlreadyLoggedIn], "C_Login(user) while the SO is logged in");
    s.logout().at("C_Logout(SO)")?;
    result.and(user).map(drop)
}

pub fn ro_session_is_read_only(ctx: &Ctx) -> Outcome {
    let ro = ctx.ro()?;
    let token_key = keys::merge(keys::aes_import_template(&[7; 16], "ro-token"), &[Attribute::Token(true)]);
    expect_rv(
        ro.create_object(&token_key),
        &[RvError::SessionReadOnly],
        "C_CreateObject(CKA_TOKEN) in a R/O session",
    )?;
    let template = keys::merge(keys::aes_template(16, true, "ro-token-gen"), &[]);
    expect_rv(
        ro.generate_key(&Mechanism::AesKeyGen, &template),
        &[RvError::SessionReadOnly],
        "C_GenerateKey(CKA_TOKEN) in a R/O session",
    )?;
    // Session objects are allowed in a R/O session.
    let session_key = ro
        .create_object(&keys::aes_import_template(&[7; 16], "ro-session"))
        .at("C_CreateObject(session object) in a R/O session")?;
    ro.destroy_object(session_key).at("C_DestroyObject in a R/O session")?;
    Ok(())
}

pub fn init_token_with_open_session(ctx: &Ctx) -> Outcome {
    let result = ctx.pkcs11.init_token(ctx.slot, &ctx.so_pin(), "arca-check");
    expect_rv(result, &[RvError::SessionExists], "C_InitToken with sessions open")?;
    Ok(())
}

pub fn close_session(ctx: &Ctx) -> Outcome {
    let count = |ctx: &Ctx| ctx.pkcs11.get_token_info(ctx.slot).map(|info| info.session_count());
    let before = count(ctx).at("C_GetTokenInfo")?;
    let sessions = [ctx.rw()?, ctx.ro()?, ctx.rw()?];
    let during = count(ctx).at("C_GetTokenInfo")?;
    for s in sessions {
        s.close().at("C_CloseSession")?;
    }
    let after = count(ctx).at("C_GetTokenInfo")?;
    if let (Some(before), Some(during), Some(after)) = (before, during, after) {
        ensure!(during == before + 3 && after == before, "ulSessionCount {before} -> {during} -> {after}");
    } else if ctx.arca() {
        return crate::suite::fail("Arca reports no ulSessionCount");
    }
    Ok(())
}

pub fn close_all_sessions(_ctx: &Ctx) -> Outcome {
    skip("cryptoki 0.12 has no C_CloseAllSessions wrapper and arca-tests forbids unsafe FFI calls")
}

//! `arca-p11-check`: a PKCS#11 conformance suite driven through the `cryptoki` crate.
//!
//! `arca-p11-check --module PATH --profile arca|softhsm [--so-pin S --pin P] [--only NAME]`
//! loads the module, initialises a token ("arca-check"), runs every check and prints one line
//! per check (`ok   NAME`, `FAIL NAME: reason`, `skip NAME: reason`) and `N passed, M failed`.
//! It runs as a child process because a PKCS#11 module is process-global and finds its daemon
//! through the environment (`ARCA_SOCKET`). The daemon-restart check prints `RESTART-DAEMON`
//! and waits for a line on stdin.
//!
//! cryptoki 0.12 exposes no raw function list and arca-tests forbids unsafe code, so calls with
//! caller-chosen buffers (CKR_BUFFER_TOO_SMALL), C_GetObjectSize and C_CloseAllSessions cannot be
//! made; those checks report `skip` with the reason.

mod arca;
mod attributes;
mod concurrency;
mod creation;
mod curve_import;
mod curves;
mod der;
mod derive;
mod digest;
mod ec;
mod info;
mod keys;
mod lifecycle;
mod limits;
mod objects;
mod openssl;
mod rsa;
mod rsa_more;
mod sessions;
mod suite;
mod symmetric;
mod usage;
mod wrap;

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::session::UserType;
use cryptoki::slot::Slot;

use crate::suite::{At, Ctx, Fail, Outcome, Profile, describe};

#[derive(Debug, Parser)]
#[command(about = "PKCS#11 conformance checks for Arca's module (and SoftHSM2 as the reference)")]
struct Args {
    /// The PKCS#11 module to load.
    #[arg(long)]
    module: PathBuf,
    /// Which implementation this is: decides the checks only one of them can pass.
    #[arg(long, value_enum)]
    profile: Profile,
    #[arg(long, default_value = "arca-check-so-1234")]
    so_pin: String,
    #[arg(long, default_value = "arca-check-user-5678")]
    pin: String,
    /// Run only the checks whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// The daemon's socket, for the checks that also use the gRPC API (Arca profile).
    #[arg(long, env = "ARCA_SOCKET")]
    socket: Option<PathBuf>,
}

/// Which profiles a check applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Both,
    ArcaOnly,
}

type CheckFn = fn(&Ctx) -> Outcome;

/// Every check, in the order they run; the last ones change the state for everything after.
const CHECKS: &[(&str, Scope, CheckFn)] = &[
    ("get_info", Scope::Both, info::get_info),
    ("slot_list_and_info", Scope::Both, info::slot_list_and_info),
    ("token_info_flags", Scope::Both, info::token_info_flags),
    ("mechanism_list", Scope::Both, info::mechanism_list),
    ("mechanism_info", Scope::Both, info::mechanism_info),
    ("session_states", Scope::Both, sessions::session_states),
    ("login_shared_across_sessions", Scope::Both, sessions::login_shared_across_sessions),
    ("user_already_logged_in", Scope::Both, sessions::user_already_logged_in),
    ("user_not_logged_in", Scope::Both, sessions::user_not_logged_in),
    ("pin_incorrect", Scope::Both, sessions::pin_incorrect),
    ("set_pin", Scope::Both, sessions::set_pin),
    ("so_login_rules", Scope::Both, sessions::so_login_rules),
    ("ro_session_is_read_only", Scope::Both, sessions::ro_session_is_read_only),
    ("init_token_with_open_session", Scope::Both, sessions::init_token_with_open_session),
    ("close_session", Scope::Both, sessions::close_session),
    ("close_all_sessions", Scope::Both, sessions::close_all_sessions),
    ("aes_keygen", Scope::Both, objects::aes_keygen),
    ("generic_secret_keygen", Scope::Both, objects::generic_secret_keygen),
    ("rsa_keygen_2048", Scope::Both, objects::rsa_keygen_2048),
    ("rsa_keygen_4096", Scope::Both, objects::rsa_keygen_4096),
    ("ec_keygen_p256", Scope::Both, objects::ec_keygen_p256),
    ("import_aes_key", Scope::Both, objects::import_aes_key),
    ("import_generic_secret", Scope::Both, objects::import_generic_secret),
    ("import_rsa_private", Scope::Both, objects::import_rsa_private),
    ("import_rsa_public", Scope::Both, objects::import_rsa_public),
    ("import_ec_private", Scope::Both, objects::import_ec_private),
    ("import_ec_public", Scope::Both, objects::import_ec_public),
    ("import_certificate", Scope::Both, objects::import_certificate),
    ("copy_object", Scope::Both, objects::copy_object),
    ("destroy_object", Scope::Both, objects::destroy_object),
    ("find_objects", Scope::Both, objects::find_objects),
    ("key_pair_halves_keep_their_handles", Scope::Both, creation::key_pair_halves_keep_their_handles),
    ("certificate_dates_before_1970", Scope::Both, creation::certificate_dates_before_1970),
    ("unique_id_is_token_assigned", Scope::Both, creation::unique_id_is_token_assigned),
    ("always_authenticate", Scope::Both, creation::always_authenticate),
    ("key_defaults", Scope::Both, attributes::key_defaults),
    ("sensitive_value_unreadable", Scope::Both, attributes::sensitive_value_unreadable),
    ("attribute_type_invalid", Scope::Both, attributes::attribute_type_invalid),
    ("extractable_value_readable", Scope::Both, attributes::extractable_value_readable),
    ("public_attributes_readable", Scope::Both, attributes::public_attributes_readable),
    ("set_attribute_value", Scope::Both, attributes::set_attribute_value),
    ("get_object_size", Scope::Both, attributes::get_object_size),
    ("session_objects_vanish", Scope::Both, attributes::session_objects_vanish),
    ("template_errors", Scope::Both, attributes::template_errors),
    ("aes_gcm", Scope::Both, symmetric::aes_gcm),
    ("aes_gcm_message", Scope::Both, symmetric::aes_gcm_message),
    ("aes_cbc_pad", Scope::Both, symmetric::aes_cbc_pad),
    ("aes_cbc", Scope::Both, symmetric::aes_cbc),
    ("aes_ecb", Scope::Both, symmetric::aes_ecb),
    ("aes_ctr", Scope::Both, symmetric::aes_ctr),
    ("aes_key_wrap", Scope::Both, wrap::aes_key_wrap),
    ("aes_key_wrap_pad", Scope::Both, wrap::aes_key_wrap_pad),
    ("rsa_pkcs_sign", Scope::Both, rsa::rsa_pkcs_sign),
    ("rsa_pkcs_encrypt", Scope::Both, rsa::rsa_pkcs_encrypt),
    ("rsa_oaep_sha1", Scope::Both, rsa::rsa_oaep_sha1),
    ("rsa_oaep_sha256", Scope::Both, rsa::rsa_oaep_sha256),
    ("rsa_pss", Scope::Both, rsa::rsa_pss),
    ("sha_rsa_pkcs", Scope::Both, rsa::sha_rsa_pkcs),
    ("sha_rsa_pss", Scope::Both, rsa::sha_rsa_pss),
    ("rsa_pss_salt_length", Scope::Both, rsa::rsa_pss_salt_length),
    ("rsa_1024_key_pair", Scope::Both, rsa_more::rsa_1024_key_pair),
    ("rsa_key_size_range", Scope::Both, rsa_more::rsa_key_size_range),
    ("import_rsa_legacy_sizes", Scope::Both, rsa_more::import_rsa_legacy_sizes),
    ("rsa_x_509", Scope::Both, rsa_more::rsa_x_509),
    ("rsa_pss_sha1_sha224", Scope::Both, rsa_more::rsa_pss_sha1_sha224),
    ("rsa_oaep_sha224_label", Scope::Both, rsa_more::rsa_oaep_sha224_label),
    ("ecdsa", Scope::Both, ec::ecdsa),
    ("ecdsa_sha256", Scope::Both, ec::ecdsa_sha256),
    ("ecdsa_sha384", Scope::Both, ec::ecdsa_sha384),
    ("ecdsa_sha512", Scope::Both, ec::ecdsa_sha512),
    ("ecdh_derive", Scope::Both, ec::ecdh_derive),
    ("p521_ecdsa", Scope::Both, curves::p521_ecdsa),
    ("p521_ecdh", Scope::Both, curves::p521_ecdh),
    ("secp256k1_ecdsa", Scope::Both, curves::secp256k1_ecdsa),
    ("ed25519_eddsa", Scope::Both, curves::ed25519_eddsa),
    ("x25519_ecdh", Scope::Both, curves::x25519_ecdh),
    ("unsupported_curves", Scope::ArcaOnly, curves::unsupported_curves),
    ("import_curves", Scope::Both, curve_import::import_curves),
    ("curve_mechanism_info", Scope::Both, curves::curve_mechanism_info),
    ("hmac", Scope::Both, digest::hmac),
    ("aes_cmac", Scope::Both, derive::aes_cmac),
    ("sha_key_gen", Scope::Both, derive::sha_key_gen),
    ("derive_concatenate_xor_extract", Scope::Both, derive::derive_concatenate_xor_extract),
    ("derive_aes_encrypt_data", Scope::Both, derive::derive_aes_encrypt_data),
    ("derive_hkdf", Scope::Both, derive::derive_hkdf),
    ("derive_sp800_108", Scope::Both, derive::derive_sp800_108),
    ("derive_keeps_protection", Scope::Both, derive::derive_keeps_protection),
    ("digests", Scope::Both, digest::digests),
    ("generate_random", Scope::Both, digest::generate_random),
    ("digest_key", Scope::Both, digest::digest_key),
    ("signature_errors", Scope::Both, usage::signature_errors),
    ("key_function_not_permitted", Scope::Both, usage::key_function_not_permitted),
    ("allowed_mechanisms", Scope::Both, usage::allowed_mechanisms),
    ("key_type_inconsistent", Scope::Both, usage::key_type_inconsistent),
    ("two_call_convention", Scope::Both, usage::two_call_convention),
    ("buffer_too_small", Scope::Both, usage::buffer_too_small),
    ("operation_not_initialized", Scope::Both, usage::operation_not_initialized),
    ("operation_active", Scope::Both, usage::operation_active),
    ("handle_invalid", Scope::Both, usage::handle_invalid),
    ("concurrency", Scope::Both, concurrency::concurrency),
    ("large_data", Scope::Both, limits::large_data),
    ("data_len_range", Scope::ArcaOnly, limits::data_len_range),
    ("oversized_arguments", Scope::Both, limits::oversized_arguments),
    ("pkcs11_keys_in_list_keys", Scope::ArcaOnly, arca::pkcs11_keys_in_list_keys),
    ("grpc_aes_key_usable", Scope::ArcaOnly, arca::grpc_aes_key_usable),
    ("grpc_ec_key_usable", Scope::ArcaOnly, arca::grpc_ec_key_usable),
    ("daemon_restart", Scope::ArcaOnly, lifecycle::daemon_restart),
    ("pin_lockout", Scope::Both, lifecycle::pin_lockout),
    ("finalize", Scope::Both, lifecycle::finalize),
];

/// C_InitToken, then the SO sets the user PIN; returns the slot.
fn fixture(pkcs11: &Pkcs11, args: &Args) -> Result<Slot, Fail> {
    pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).at("C_Initialize")?;
    let slot = match pkcs11.get_slots_with_token().at("C_GetSlotList")?.first() {
        Some(slot) => *slot,
        None => return suite::fail("no slot has a token"),
    };
    let so_pin = cryptoki::types::AuthPin::from(args.so_pin.as_str());
    pkcs11.init_token(slot, &so_pin, "arca-check").at("C_InitToken")?;
    let session = pkcs11.open_rw_session(slot).at("C_OpenSession")?;
    session.login(UserType::So, Some(&so_pin)).at("C_Login(SO)")?;
    session.init_pin(&cryptoki::types::AuthPin::from(args.pin.as_str())).at("C_InitPIN")?;
    session.logout().at("C_Logout")?;
    Ok(slot)
}

fn run_one(ctx: &Ctx, check: CheckFn) -> Outcome {
    match std::panic::catch_unwind(AssertUnwindSafe(|| check(ctx))) {
        Ok(outcome) => outcome,
        Err(panic) => {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()));
            suite::fail(format!("panicked: {}", text.unwrap_or_default()))
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let setup = Pkcs11::new(&args.module)
        .map_err(|e| Fail::Failed(format!("load {}: {}", args.module.display(), describe(&e))));
    let setup = setup.and_then(|pkcs11| fixture(&pkcs11, &args).map(|slot| (pkcs11, slot)));
    let ctx = setup.and_then(|(pkcs11, slot)| {
        Ctx::new(pkcs11, slot, args.profile, (args.so_pin.clone(), args.pin.clone()), args.socket.clone())
    });
    let ctx = match ctx {
        Ok(ctx) => ctx,
        Err(Fail::Failed(why) | Fail::Skipped(why)) => {
            println!("FAIL fixture: {why}");
            println!("0 passed, 1 failed");
            return ExitCode::FAILURE;
        }
    };
    let (mut passed, mut failed) = (0, 0);
    for (name, scope, check) in CHECKS {
        if args.only.as_ref().is_some_and(|only| !name.contains(only.as_str())) {
            continue;
        }
        if *scope == Scope::ArcaOnly && !ctx.arca() {
            println!("skip {name}: Arca only");
            continue;
        }
        let outcome = run_one(&ctx, *check);
        let notes = ctx.take_notes();
        match outcome {
            Ok(()) => {
                passed += 1;
                if notes.is_empty() {
                    println!("ok   {name}")
                } else {
                    println!("ok   {name} ({})", notes.join("; "))
                }
            }
            Err(Fail::Skipped(why)) => println!("skip {name}: {why}"),
            Err(Fail::Failed(why)) => {
                failed += 1;
                println!("FAIL {name}: {why}");
                ctx.reset_session();
            }
        }
        if *name != "finalize" {
            ctx.restore_login();
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

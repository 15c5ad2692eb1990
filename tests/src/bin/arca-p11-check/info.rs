//! General information: C_GetInfo, slots, token flags, mechanisms.

use cryptoki::error::RvError;
use cryptoki::mechanism::{MechanismInfo, MechanismType as M};

use crate::suite::{At, Ctx, Outcome, ensure, expect_rv};

pub fn get_info(ctx: &Ctx) -> Outcome {
    let info = ctx.pkcs11.get_library_info().at("C_GetInfo")?;
    let version = info.cryptoki_version();
    ensure!(matches!(version.major(), 2 | 3), "cryptokiVersion {}.{}", version.major(), version.minor());
    ensure!(!info.manufacturer_id().trim().is_empty(), "empty manufacturerID");
    ensure!(!info.library_description().trim().is_empty(), "empty libraryDescription");
    Ok(())
}

pub fn slot_list_and_info(ctx: &Ctx) -> Outcome {
    let all = ctx.pkcs11.get_all_slots().at("C_GetSlotList(all)")?;
    let with_token = ctx.pkcs11.get_slots_with_token().at("C_GetSlotList(token present)")?;
    ensure!(with_token.contains(&ctx.slot), "slot {} is not in the token-present list", ctx.slot);
    ensure!(
        with_token.iter().all(|s| all.contains(s)),
        "token-present slots {with_token:?} not all in {all:?}"
    );
    if ctx.arca() {
        // Arca: exactly one slot, id 0.
        let ids: Vec<u64> = all.iter().map(|s| s.id()).collect();
        ensure!(ids == [0], "Arca slot list is {ids:?}, expected [0]");
    }
    let info = ctx.pkcs11.get_slot_info(ctx.slot).at("C_GetSlotInfo")?;
    ensure!(info.token_present(), "CKF_TOKEN_PRESENT is not set");
    ensure!(!info.slot_description().trim().is_empty(), "empty slotDescription");
    let bad = ctx.pkcs11.get_slot_info(cryptoki::slot::Slot::try_from(0x7FFF_FF00u64).at("slot id")?);
    expect_rv(bad, &[RvError::SlotIdInvalid], "C_GetSlotInfo(unknown slot)")?;
    Ok(())
}

pub fn token_info_flags(ctx: &Ctx) -> Outcome {
    let info = ctx.pkcs11.get_token_info(ctx.slot).at("C_GetTokenInfo")?;
    ensure!(info.token_initialized(), "CKF_TOKEN_INITIALIZED is not set");
    ensure!(info.user_pin_initialized(), "CKF_USER_PIN_INITIALIZED is not set");
    ensure!(info.login_required(), "CKF_LOGIN_REQUIRED is not set");
    ensure!(info.rng(), "CKF_RNG is not set");
    ensure!(!info.user_pin_locked() && !info.user_pin_final_try(), "user PIN flags set on a fresh token");
    ensure!(info.label().trim_end() == "arca-check", "label {:?}, expected \"arca-check\"", info.label());
    ensure!(
        info.min_pin_length() <= 4 && info.max_pin_length() >= 8,
        "PIN lengths {}..{}",
        info.min_pin_length(),
        info.max_pin_length()
    );
    if ctx.arca() {
        let lengths = (info.min_pin_length(), info.max_pin_length());
        ensure!(lengths == (4, 255), "Arca PIN lengths {lengths:?}, expected (4, 255)");
    }
    ensure!(
        info.rw_session_count().is_none_or(|n| n >= 1),
        "ulRwSessionCount {:?} with the main session open",
        info.rw_session_count()
    );
    Ok(())
}

type Flag = (&'static str, fn(&MechanismInfo) -> bool);
const ENCRYPT: Flag = ("CKF_ENCRYPT", MechanismInfo::encrypt);
const DECRYPT: Flag = ("CKF_DECRYPT", MechanismInfo::decrypt);
const SIGN: Flag = ("CKF_SIGN", MechanismInfo::sign);
const VERIFY: Flag = ("CKF_VERIFY", MechanismInfo::verify);
const DIGEST: Flag = ("CKF_DIGEST", MechanismInfo::digest);
const GENERATE: Flag = ("CKF_GENERATE", MechanismInfo::generate);
const GENERATE_PAIR: Flag = ("CKF_GENERATE_KEY_PAIR", MechanismInfo::generate_key_pair);
const WRAP: Flag = ("CKF_WRAP", MechanismInfo::wrap);
const UNWRAP: Flag = ("CKF_UNWRAP", MechanismInfo::unwrap);
const DERIVE: Flag = ("CKF_DERIVE", MechanismInfo::derive);

/// Key sizes a mechanism must cover: AES in bytes, RSA in bits.
#[derive(Clone, Copy)]
enum Sizes {
    Any,
    Aes,
    Rsa,
}

const CIPHER: &[Flag] = &[ENCRYPT, DECRYPT];
const SIGNATURE: &[Flag] = &[SIGN, VERIFY];

/// Every mechanism the suite exercises, with the flags C_GetMechanismInfo must report.
fn expected() -> Vec<(M, &'static [Flag], Sizes)> {
    vec![
        (M::AES_KEY_GEN, &[GENERATE], Sizes::Aes),
        (M::GENERIC_SECRET_KEY_GEN, &[GENERATE], Sizes::Any),
        (M::RSA_PKCS_KEY_PAIR_GEN, &[GENERATE_PAIR], Sizes::Rsa),
        (M::ECC_KEY_PAIR_GEN, &[GENERATE_PAIR], Sizes::Any),
        (M::AES_GCM, CIPHER, Sizes::Aes),
        (M::AES_CBC_PAD, CIPHER, Sizes::Aes),
        (M::AES_CBC, CIPHER, Sizes::Aes),
        (M::AES_ECB, CIPHER, Sizes::Aes),
        (M::AES_CTR, CIPHER, Sizes::Aes),
        (M::AES_KEY_WRAP, &[WRAP, UNWRAP], Sizes::Aes),
        (M::AES_KEY_WRAP_PAD, &[WRAP, UNWRAP], Sizes::Aes),
        (M::RSA_PKCS, &[ENCRYPT, DECRYPT, SIGN, VERIFY], Sizes::Rsa),
        (M::RSA_PKCS_OAEP, CIPHER, Sizes::Rsa),
        (M::RSA_PKCS_PSS, SIGNATURE, Sizes::Rsa),
        (M::RSA_X_509, &[ENCRYPT, DECRYPT, SIGN, VERIFY], Sizes::Rsa),
        (M::SHA1_RSA_PKCS_PSS, SIGNATURE, Sizes::Rsa),
        (M::SHA1_RSA_PKCS, SIGNATURE, Sizes::Rsa),
        (M::SHA224_RSA_PKCS, SIGNATURE, Sizes::Rsa),
        (M::SHA256_RSA_PKCS, SIGNATURE, Sizes::Rsa),
        (M::SHA384_RSA_PKCS, SIGNATURE, Sizes::Rsa),
        (M::SHA512_RSA_PKCS, SIGNATURE, Sizes::Rsa),
        (M::SHA256_RSA_PKCS_PSS, SIGNATURE, Sizes::Rsa),
        (M::SHA384_RSA_PKCS_PSS, SIGNATURE, Sizes::Rsa),
        (M::SHA512_RSA_PKCS_PSS, SIGNATURE, Sizes::Rsa),
        (M::ECDSA, SIGNATURE, Sizes::Any),
        (M::ECDSA_SHA1, SIGNATURE, Sizes::Any),
        (M::ECDSA_SHA224, SIGNATURE, Sizes::Any),
        (M::ECDSA_SHA256, SIGNATURE, Sizes::Any),
        (M::ECDSA_SHA384, SIGNATURE, Sizes::Any),
        (M::ECDSA_SHA512, SIGNATURE, Sizes::Any),
        (M::ECDH1_DERIVE, &[DERIVE], Sizes::Any),
        (M::SHA1_HMAC, SIGNATURE, Sizes::Any),
        (M::SHA224_HMAC, SIGNATURE, Sizes::Any),
        (M::SHA256_HMAC, SIGNATURE, Sizes::Any),
        (M::SHA384_HMAC, SIGNATURE, Sizes::Any),
        (M::SHA512_HMAC, SIGNATURE, Sizes::Any),
        (M::AES_CMAC, SIGNATURE, Sizes::Aes),
        (M::SHA256_KEY_GEN, &[GENERATE], Sizes::Any),
        (M::CONCATENATE_BASE_AND_KEY, &[DERIVE], Sizes::Any),
        (M::CONCATENATE_BASE_AND_DATA, &[DERIVE], Sizes::Any),
        (M::CONCATENATE_DATA_AND_BASE, &[DERIVE], Sizes::Any),
        (M::XOR_BASE_AND_DATA, &[DERIVE], Sizes::Any),
        (M::EXTRACT_KEY_FROM_KEY, &[DERIVE], Sizes::Any),
        (M::AES_CBC_ENCRYPT_DATA, &[DERIVE], Sizes::Any),
        (M::HKDF_DERIVE, &[DERIVE], Sizes::Any),
        (M::SP800_108_COUNTER_KDF, &[DERIVE], Sizes::Any),
        (M::SP800_108_FEEDBACK_KDF, &[DERIVE], Sizes::Any),
        (M::SHA256, &[DIGEST], Sizes::Any),
        (M::SHA384, &[DIGEST], Sizes::Any),
        (M::SHA512, &[DIGEST], Sizes::Any),
    ]
}

/// What SoftHSM 2.6.1 does not offer: the hashing ECDSA mechanisms (CKM_ECDSA_SHA*, which came
/// after that release), the SHA-n key generators, and the simple and HKDF key derivations.
pub fn softhsm_lacks(mechanism: M) -> bool {
    [
        M::ECDSA_SHA1,
        M::ECDSA_SHA224,
        M::ECDSA_SHA256,
        M::ECDSA_SHA384,
        M::ECDSA_SHA512,
        M::SHA256_KEY_GEN,
        M::CONCATENATE_BASE_AND_KEY,
        M::CONCATENATE_BASE_AND_DATA,
        M::CONCATENATE_DATA_AND_BASE,
        M::XOR_BASE_AND_DATA,
        M::EXTRACT_KEY_FROM_KEY,
        M::HKDF_DERIVE,
        M::SP800_108_COUNTER_KDF,
        M::SP800_108_FEEDBACK_KDF,
    ]
    .contains(&mechanism)
}

fn expected_here(ctx: &Ctx) -> Vec<(M, &'static [Flag], Sizes)> {
    expected().into_iter().filter(|(m, _, _)| ctx.arca() || !softhsm_lacks(*m)).collect()
}

/// Mechanisms the `cryptoki` crate leaves out of the lists it returns (its conversion from
/// CK_MECHANISM_TYPE does not know them): C_GetMechanismInfo checks them instead.
fn cryptoki_cannot_list(mechanism: M) -> bool {
    [M::SHA224_RSA_PKCS, M::ECDSA_SHA224].contains(&mechanism)
}

pub fn mechanism_list(ctx: &Ctx) -> Outcome {
    let list = ctx.pkcs11.get_mechanism_list(ctx.slot).at("C_GetMechanismList")?;
    let missing: Vec<String> = expected_here(ctx)
        .iter()
        .filter(|(m, _, _)| !list.contains(m) && !cryptoki_cannot_list(*m))
        .map(|(m, _, _)| m.to_string())
        .collect();
    ensure!(missing.is_empty(), "missing from C_GetMechanismList: {}", missing.join(", "));
    let mut sorted = list.clone();
    sorted.sort_by_key(|m| **m);
    sorted.dedup();
    ensure!(sorted.len() == list.len(), "C_GetMechanismList repeats mechanisms");
    Ok(())
}

pub fn mechanism_info(ctx: &Ctx) -> Outcome {
    let mut problems = Vec::new();
    for (mechanism, flags, sizes) in expected_here(ctx) {
        let info = ctx
            .pkcs11
            .get_mechanism_info(ctx.slot, mechanism)
            .at(&format!("C_GetMechanismInfo({mechanism})"))?;
        for (name, has) in flags {
            if !has(&info) {
                problems.push(format!("{mechanism} lacks {name}"));
            }
        }
        let (min, max) = (info.min_key_size(), info.max_key_size());
        let (want_min, want_max) = match sizes {
            Sizes::Any => continue,
            Sizes::Aes => (16, 32),
            Sizes::Rsa => (1024, 4096),
        };
        if min > want_min || max < want_max {
            problems.push(format!("{mechanism} key sizes {min}..{max} do not cover {want_min}..{want_max}"));
        }
        let exact = matches!(mechanism, M::AES_KEY_GEN | M::RSA_PKCS_KEY_PAIR_GEN);
        if ctx.arca() && exact && (min, max) != (want_min, want_max) {
            problems.push(format!(
                "{mechanism} key sizes {min}..{max}, Arca supports exactly {want_min}..{want_max}"
            ));
        }
    }
    ensure!(problems.is_empty(), "{}", problems.join("; "));
    let unknown = M::new_vendor_defined(0x8000_4152).at("vendor mechanism")?;
    expect_rv(
        ctx.pkcs11.get_mechanism_info(ctx.slot, unknown),
        &[RvError::MechanismInvalid],
        "C_GetMechanismInfo(unknown)",
    )?;
    Ok(())
}

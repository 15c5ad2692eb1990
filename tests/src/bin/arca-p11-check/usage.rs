//! Key usage enforcement, bad input, signature errors and the two-call output convention.

use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::MechanismType;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeInfo, AttributeType as T, ObjectHandle};
use cryptoki::session::Session;

use crate::digest::sha;
use crate::keys;
use crate::suite::{At, Ctx, Outcome, SoftHsm, ensure, expect_rv, expect_spec, label, message, skip};

pub fn key_function_not_permitted(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let ec = keys::gen_ec(&s, false, "no-sign", &[Attribute::Sign(false)])?;
    expect_rv(
        s.sign_init(&Mechanism::Ecdsa, ec.private),
        &[RvError::KeyFunctionNotPermitted],
        "C_SignInit with CKA_SIGN=false",
    )?;
    let aes = keys::gen_aes(&s, 16, false, "no-encrypt", &[Attribute::Encrypt(false)])?;
    let iv = [0u8; 16];
    let refused = s.encrypt_init(&Mechanism::AesCbcPad(iv), aes);
    expect_rv(refused, &[RvError::KeyFunctionNotPermitted], "C_EncryptInit with CKA_ENCRYPT=false")?;
    let allowed = s.decrypt(&Mechanism::AesCbcPad(iv), aes, &[0; 16]);
    let refused = matches!(allowed, Err(cryptoki::error::Error::Pkcs11(RvError::KeyFunctionNotPermitted, _)));
    ensure!(!refused, "C_DecryptInit refused a key with CKA_DECRYPT=true");
    let secret = keys::import_secret(&s, &message(32), "no-verify", &[Attribute::Verify(false)])?;
    let refused = s.verify_init(&Mechanism::Sha256Hmac, secret);
    expect_rv(refused, &[RvError::KeyFunctionNotPermitted], "C_VerifyInit with CKA_VERIFY=false")?;
    Ok(())
}

pub fn allowed_mechanisms(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let only_gcm = [Attribute::AllowedMechanisms(vec![MechanismType::AES_GCM])];
    let key = keys::gen_aes(&s, 32, false, "allowed-mechs", &only_gcm)?;
    let listed = crate::suite::get(&s, key, T::AllowedMechanisms)?;
    ensure!(listed == only_gcm[0], "CKA_ALLOWED_MECHANISMS reads back as {listed:?}");
    let refused = s.encrypt_init(&Mechanism::AesCbcPad([0; 16]), key);
    expect_rv(refused, &[RvError::MechanismInvalid], "C_EncryptInit(CBC_PAD) with only GCM allowed")?;
    let mut iv = [1u8; 12];
    let gcm = Mechanism::AesGcm(GcmParams::new(&mut iv, &[], 128.into()).at("GcmParams")?);
    s.encrypt(&gcm, key, b"allowed").at("C_Encrypt(GCM) with GCM allowed")?;
    Ok(())
}

pub fn key_type_inconsistent(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let aes = keys::gen_aes(&s, 16, false, "wrong-type", &[])?;
    let (ec, rsa) = (ctx.ec()?, ctx.rsa()?);
    type Init = fn(&Session, ObjectHandle) -> cryptoki::error::Result<()>;
    let cases: [(&str, Init, ObjectHandle); 5] = [
        ("C_SignInit(SHA256_RSA_PKCS, EC key)", |t, k| t.sign_init(&Mechanism::Sha256RsaPkcs, k), ec.private),
        ("C_SignInit(ECDSA, RSA key)", |t, k| t.sign_init(&Mechanism::Ecdsa, k), rsa.private),
        ("C_EncryptInit(RSA_PKCS, AES key)", |t, k| t.encrypt_init(&Mechanism::RsaPkcs, k), aes),
        ("C_EncryptInit(AES_ECB, RSA public key)", |t, k| t.encrypt_init(&Mechanism::AesEcb, k), rsa.public),
        ("C_SignInit(SHA256_HMAC, AES key)", |t, k| t.sign_init(&Mechanism::Sha256Hmac, k), aes),
    ];
    for (what, init, key) in cases {
        // Each in its own session: SoftHSM 2.6.1 checks the key type only when the operation
        // runs, so its init succeeds and leaves an operation behind.
        let t = ctx.rw()?;
        expect_spec(ctx, init(&t, key), RvError::KeyTypeInconsistent, SoftHsm::Succeeds, what)?;
    }
    Ok(())
}

pub fn signature_errors(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let msg = message(64);
    let rsa = ctx.rsa()?;
    let good = s.sign(&Mechanism::Sha256RsaPkcs, rsa.private, &msg).at("C_Sign")?;
    let mut bad = good.clone();
    if let Some(byte) = bad.get_mut(100) {
        *byte ^= 1;
    }
    let check = |result, rv, what: &str| expect_rv(result, &[rv], what).map(drop);
    check(
        s.verify(&Mechanism::Sha256RsaPkcs, rsa.public, &msg, &bad),
        RvError::SignatureInvalid,
        "C_Verify(RSA, altered)",
    )?;
    check(
        s.verify(&Mechanism::Sha256RsaPkcs, rsa.public, b"other", &good),
        RvError::SignatureInvalid,
        "C_Verify(RSA, other message)",
    )?;
    check(
        s.verify(&Mechanism::Sha256RsaPkcs, rsa.public, &msg, &good[1..]),
        RvError::SignatureLenRange,
        "C_Verify(RSA, 255 bytes)",
    )?;
    s.verify_init(&Mechanism::Sha256RsaPkcs, rsa.public).at("C_VerifyInit")?;
    s.verify_update(&msg).at("C_VerifyUpdate")?;
    check(s.verify_final(&bad), RvError::SignatureInvalid, "C_VerifyFinal(RSA, altered)")?;
    let ec = ctx.ec()?;
    let digest = sha(256, &msg)?;
    let good = s.sign(&Mechanism::Ecdsa, ec.private, &digest).at("C_Sign(ECDSA)")?;
    let mut bad = good.clone();
    if let Some(byte) = bad.get_mut(40) {
        *byte ^= 1;
    }
    check(
        s.verify(&Mechanism::Ecdsa, ec.public, &digest, &bad),
        RvError::SignatureInvalid,
        "C_Verify(ECDSA, altered)",
    )?;
    check(
        s.verify(&Mechanism::Ecdsa, ec.public, &digest, &good[..63]),
        RvError::SignatureLenRange,
        "C_Verify(ECDSA, 63 bytes)",
    )?;
    let zeros = [0u8; 64];
    check(
        s.verify(&Mechanism::Ecdsa, ec.public, &digest, &zeros),
        RvError::SignatureInvalid,
        "C_Verify(ECDSA, r = s = 0)",
    )?;
    Ok(())
}

pub fn operation_not_initialized(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let not_init = [RvError::OperationNotInitialized];
    expect_rv(s.encrypt_update(b"x"), &not_init, "C_EncryptUpdate without C_EncryptInit")?;
    expect_rv(s.encrypt_final(), &not_init, "C_EncryptFinal without C_EncryptInit")?;
    expect_rv(s.decrypt_update(&[0; 16]), &not_init, "C_DecryptUpdate without C_DecryptInit")?;
    expect_rv(s.sign_update(b"x"), &not_init, "C_SignUpdate without C_SignInit")?;
    expect_rv(s.sign_final(), &not_init, "C_SignFinal without C_SignInit")?;
    expect_rv(s.verify_final(&[0; 64]), &not_init, "C_VerifyFinal without C_VerifyInit")?;
    expect_rv(s.digest_update(b"x"), &not_init, "C_DigestUpdate without C_DigestInit")?;
    expect_rv(s.digest_final(), &not_init, "C_DigestFinal without C_DigestInit")?;
    Ok(())
}

pub fn operation_active(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let key = keys::gen_aes(&s, 16, false, "active", &[])?;
    s.encrypt_init(&Mechanism::AesEcb, key).at("C_EncryptInit")?;
    expect_rv(s.encrypt_init(&Mechanism::AesEcb, key), &[RvError::OperationActive], "second C_EncryptInit")?;
    // The first operation is still there.
    let block = s.encrypt_update(&[0; 16]).at("C_EncryptUpdate after the refused init")?;
    ensure!(block.len() == 16, "the active operation lost its state");
    s.encrypt_final().at("C_EncryptFinal")?;
    s.digest_init(&Mechanism::Sha256).at("C_DigestInit")?;
    expect_rv(s.digest_init(&Mechanism::Sha256), &[RvError::OperationActive], "second C_DigestInit")?;
    s.digest_final().at("C_DigestFinal")?;
    let mac = keys::import_secret(&s, &message(32), "active-mac", &[])?;
    s.sign_init(&Mechanism::Sha256Hmac, mac).at("C_SignInit")?;
    expect_rv(s.sign_init(&Mechanism::Sha256Hmac, mac), &[RvError::OperationActive], "second C_SignInit")?;
    s.sign_update(b"still active").at("C_SignUpdate after the refused init")?;
    s.sign_final().at("C_SignFinal")?;
    let search = s.iter_objects(&[Attribute::Label(label("active"))]).at("C_FindObjectsInit")?;
    expect_rv(s.find_objects(&[]), &[RvError::OperationActive], "C_FindObjectsInit during a search")?;
    drop(search);
    s.find_objects(&[Attribute::Label(label("active"))]).at("C_FindObjectsInit after C_FindObjectsFinal")?;
    Ok(())
}

pub fn handle_invalid(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let key = keys::gen_aes(&s, 16, false, "stale", &[])?;
    s.destroy_object(key).at("C_DestroyObject")?;
    expect_rv(
        s.get_attributes(key, &[T::Label]),
        &[RvError::ObjectHandleInvalid],
        "C_GetAttributeValue(stale)",
    )?;
    expect_rv(
        s.update_attributes(key, &[Attribute::Label(vec![1])]),
        &[RvError::ObjectHandleInvalid],
        "C_SetAttributeValue(stale)",
    )?;
    expect_rv(s.copy_object(key, &[]), &[RvError::ObjectHandleInvalid], "C_CopyObject(stale)")?;
    // For a key argument PKCS#11 prescribes CKR_KEY_HANDLE_INVALID (CKR_WRAPPING_KEY_HANDLE_INVALID
    // for the wrapping key); SoftHSM 2.6.1 answers CKR_OBJECT_HANDLE_INVALID in the C_*Init calls.
    let deviation = SoftHsm::Gives(RvError::ObjectHandleInvalid);
    let spec = RvError::KeyHandleInvalid;
    expect_spec(ctx, s.encrypt_init(&Mechanism::AesEcb, key), spec, deviation, "C_EncryptInit(stale key)")?;
    expect_spec(ctx, s.sign_init(&Mechanism::Sha256Hmac, key), spec, deviation, "C_SignInit(stale key)")?;
    s.digest_init(&Mechanism::Sha256).at("C_DigestInit")?;
    expect_spec(ctx, s.digest_key(key), spec, deviation, "C_DigestKey(stale key)")?;
    let _ = s.digest_final();
    let kek = keys::gen_aes(&s, 16, false, "stale-kek", &[])?;
    expect_spec(ctx, s.wrap_key(&Mechanism::AesKeyWrap, kek, key), spec, deviation, "C_WrapKey(stale key)")?;
    let wrap = s.wrap_key(&Mechanism::AesKeyWrap, key, kek);
    expect_spec(ctx, wrap, RvError::WrappingKeyHandleInvalid, deviation, "C_WrapKey(stale wrapping key)")?;
    Ok(())
}

/// cryptoki performs the two-call convention itself (a NULL-buffer length query, then the call)
/// and offers no raw access; arca-tests forbids the unsafe FFI a raw call would need. What can
/// be checked: every output arrives whole, the length query leaves the operation active, and the
/// real call ends it.
pub fn two_call_convention(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let key = keys::gen_aes(&s, 16, false, "two-call", &[])?;
    let sealed = s.encrypt(&Mechanism::AesCbcPad([3; 16]), key, &message(33)).at("C_Encrypt")?;
    ensure!(sealed.len() == 48, "CBC_PAD of 33 bytes gave {}", sealed.len());
    expect_rv(
        s.encrypt_update(b"x"),
        &[RvError::OperationNotInitialized],
        "C_EncryptUpdate after a finished C_Encrypt",
    )?;
    let plain = s.decrypt(&Mechanism::AesCbcPad([3; 16]), key, &sealed).at("C_Decrypt")?;
    ensure!(plain == message(33), "CBC_PAD decryption truncated to {} bytes", plain.len());
    let ec = ctx.ec()?;
    s.sign(&Mechanism::Ecdsa, ec.private, &[9; 32]).at("C_Sign")?;
    expect_rv(s.sign_final(), &[RvError::OperationNotInitialized], "C_SignFinal after a finished C_Sign")?;
    s.digest(&Mechanism::Sha512, b"x").at("C_Digest")?;
    expect_rv(
        s.digest_final(),
        &[RvError::OperationNotInitialized],
        "C_DigestFinal after a finished C_Digest",
    )?;
    let label_len = label("two-call").len();
    let infos =
        s.get_attribute_info(key, &[T::Label, T::ValueLen]).at("C_GetAttributeValue(NULL buffers)")?;
    ensure!(
        matches!(infos.as_slice(), [AttributeInfo::Available(a), AttributeInfo::Available(8)] if *a == label_len),
        "attribute length query: {infos:?}"
    );
    let kek = keys::gen_aes(&s, 32, false, "two-call-kek", &[])?;
    let target = keys::gen_aes(&s, 24, false, "two-call-target", &[Attribute::Extractable(true)])?;
    let wrapped = s.wrap_key(&Mechanism::AesKeyWrap, kek, target).at("C_WrapKey")?;
    ensure!(wrapped.len() == 32, "AES key wrap of 24 bytes gave {}", wrapped.len());
    Ok(())
}

pub fn buffer_too_small(_ctx: &Ctx) -> Outcome {
    skip(
        "needs a raw call with a short buffer: cryptoki 0.12 sizes every buffer itself and arca-tests forbids unsafe",
    )
}

//! Large inputs and oversized arguments: data well past one gRPC request goes through every
//! operation kind, input past Arca's per-call limit is refused with its precise code and ends the
//! operation, and PINs, labels and templates too long for the token get their own codes.

use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

use crate::keys;
use crate::openssl;
use crate::suite::{At, Ctx, Outcome, SoftHsm, ensure, expect_rv, expect_spec, label, message};

/// Arca's limit on the input of one data call (`docs/pkcs11.md`).
const MAX_CALL_BYTES: usize = 16 << 20;
/// Past the daemon's default request cap of 64 KiB, and not a multiple of any piece size.
const LARGE: usize = (1 << 20) + 5;

/// Cuts `data` into pieces of `size` bytes (the last shorter).
fn pieces(data: &[u8], size: usize) -> impl Iterator<Item = &[u8]> {
    data.chunks(size)
}

/// One MiB and more through AES-CBC-PAD, SHA-256 and HMAC, single-part and in 200 KiB updates.
pub fn large_data(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let data = message(LARGE);
    let key = keys::gen_aes(&s, 32, false, "large", &[])?;
    let cbc = Mechanism::AesCbcPad([9; 16]);
    let single = s.encrypt(&cbc, key, &data).at("C_Encrypt of 1 MiB")?;
    ensure!(single.len() == LARGE + 11, "C_Encrypt of 1 MiB gave {} bytes", single.len());
    s.encrypt_init(&cbc, key).at("C_EncryptInit")?;
    let mut multi = Vec::new();
    for piece in pieces(&data, 200 << 10) {
        multi.extend(s.encrypt_update(piece).at("C_EncryptUpdate of 200 KiB")?);
    }
    multi.extend(s.encrypt_final().at("C_EncryptFinal")?);
    ensure!(multi == single, "multi-part AES-CBC-PAD differs from single-part over 1 MiB");
    ensure!(s.decrypt(&cbc, key, &single).at("C_Decrypt of 1 MiB")? == data, "1 MiB round trip");

    let expected = openssl::digest(256, &data)?;
    ensure!(s.digest(&Mechanism::Sha256, &data).at("C_Digest of 1 MiB")? == expected, "C_Digest");
    s.digest_init(&Mechanism::Sha256).at("C_DigestInit")?;
    for piece in pieces(&data, 70_000) {
        s.digest_update(piece).at("C_DigestUpdate of 70000 bytes")?;
    }
    ensure!(s.digest_final().at("C_DigestFinal")? == expected, "multi-part SHA-256 of 1 MiB");

    let mac_key = keys::import_secret(&s, &[7; 32], "large-mac", &[])?;
    let mac = s.sign(&Mechanism::Sha256Hmac, mac_key, &data).at("C_Sign (HMAC) of 1 MiB")?;
    ensure!(mac == openssl::hmac(256, &[7; 32], &data)?, "HMAC-SHA256 of 1 MiB");
    s.verify(&Mechanism::Sha256Hmac, mac_key, &data, &mac).at("C_Verify (HMAC) of 1 MiB")?;
    Ok(())
}

/// Input past the per-call limit is CKR_DATA_LEN_RANGE (CKR_ENCRYPTED_DATA_LEN_RANGE for
/// decryption) and ends the operation, as every failure but a short buffer does (PKCS#11 3.0
/// §5.2); input at the limit works.
pub fn data_len_range(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let at_limit = vec![0x5A; MAX_CALL_BYTES];
    let over_blocks = vec![0x5A; MAX_CALL_BYTES + 16];
    let over = &over_blocks[..MAX_CALL_BYTES + 1];
    let expected = openssl::digest(256, &at_limit)?;
    ensure!(s.digest(&Mechanism::Sha256, &at_limit).at("C_Digest of 16 MiB")? == expected, "16 MiB");
    expect_rv(s.digest(&Mechanism::Sha256, over), &[RvError::DataLenRange], "C_Digest of 16 MiB + 1")?;
    s.digest_init(&Mechanism::Sha256).at("C_DigestInit after a refused C_Digest")?;
    expect_rv(s.digest_update(over), &[RvError::DataLenRange], "C_DigestUpdate of 16 MiB + 1")?;
    expect_rv(s.digest_final(), &[RvError::OperationNotInitialized], "C_DigestFinal after it")?;

    let key = keys::gen_aes(&s, 32, false, "len-range", &[])?;
    let ecb = Mechanism::AesEcb;
    expect_rv(s.encrypt(&ecb, key, &over_blocks), &[RvError::DataLenRange], "C_Encrypt")?;
    s.encrypt_init(&ecb, key).at("C_EncryptInit after a refused C_Encrypt")?;
    s.encrypt_final().at("C_EncryptFinal")?;
    let what = "C_Decrypt of 16 MiB + 16";
    expect_rv(s.decrypt(&ecb, key, &over_blocks), &[RvError::EncryptedDataLenRange], what)?;
    s.decrypt_init(&ecb, key).at("C_DecryptInit after a refused C_Decrypt")?;
    s.decrypt_final().at("C_DecryptFinal")?;
    Ok(())
}

/// A PIN longer than ulMaxPinLen, a 1 MiB CKA_LABEL and a 20,000-attribute template get the
/// codes `docs/pkcs11.md` names; a label at the limit and a long C_GetAttributeValue work.
pub fn oversized_arguments(ctx: &Ctx) -> Outcome {
    let s = ctx.s();
    let info = ctx.pkcs11.get_token_info(ctx.slot).at("C_GetTokenInfo")?;
    let too_long = "9".repeat(70_000);
    s.logout().at("C_Logout")?;
    let login = s.login(UserType::User, Some(&AuthPin::from(too_long.as_str())));
    let what = format!("C_Login with a 70000-byte PIN (ulMaxPinLen {})", info.max_pin_length());
    expect_spec(ctx, login, RvError::PinLenRange, SoftHsm::Gives(RvError::PinIncorrect), &what)?;
    s.login(UserType::User, Some(&ctx.user_pin())).at("C_Login")?;

    let data = |label: Vec<u8>| {
        vec![Attribute::Class(ObjectClass::DATA), Attribute::Token(false), Attribute::Label(label)]
    };
    let big = s.create_object(&data(vec![b'L'; 1 << 20]));
    let what = "C_CreateObject with a 1 MiB CKA_LABEL";
    if expect_spec(ctx, big, RvError::AttributeValueInvalid, SoftHsm::Succeeds, what)? {
        for object in s.find_objects(&[Attribute::Label(vec![b'L'; 1 << 20])]).at("C_FindObjects")? {
            s.destroy_object(object).at("C_DestroyObject")?;
        }
    }
    let mut at_limit = label("label-limit");
    at_limit.resize(8192, b'.');
    let object = s.create_object(&data(at_limit.clone())).at("C_CreateObject with an 8192-byte label")?;
    let many: Vec<AttributeType> = std::iter::repeat_n(AttributeType::Label, 20_000).collect();
    let values = s.get_attributes(object, &many).at("C_GetAttributeValue of 20000 attributes")?;
    ensure!(values.len() == 20_000, "C_GetAttributeValue of 20000 attributes gave {}", values.len());
    ensure!(values.iter().all(|v| *v == Attribute::Label(at_limit.clone())), "a label read back differs");
    s.destroy_object(object).at("C_DestroyObject")?;

    let mut huge = data(label("huge-template"));
    huge.extend(std::iter::repeat_n(Attribute::Application(b"x".to_vec()), 20_000));
    let what = "C_CreateObject with a 20000-attribute template";
    if expect_spec(ctx, s.create_object(&huge), RvError::TemplateInconsistent, SoftHsm::Succeeds, what)? {
        for object in s.find_objects(&[Attribute::Label(label("huge-template"))]).at("C_FindObjects")? {
            s.destroy_object(object).at("C_DestroyObject")?;
        }
    }
    Ok(())
}

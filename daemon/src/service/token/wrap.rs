//! C_WrapKey and C_UnwrapKey.

use cryptoki_sys::*;

use super::TokenKeys;
use super::app::AppCall;
use super::attributes::Template;
use super::crypto_rv::{p11, unwrap_p11};
use super::key_access::{key_handle_invalid, require_enabled};
use super::mechanisms::{self, Mechanism, Parameter};
use super::operation::{Output, Space, material, private_key, rsa_crypt_scheme};
use crate::crypto::aes::wrap;
use crate::crypto::{PrivateKey, rsa};
use crate::error::{Error, Result};
use crate::policy::Action;

impl TokenKeys {
    pub fn wrap_key(
        &self,
        at: AppCall<'_>,
        session: u64,
        mechanism: &Mechanism,
        wrapping: u64,
        handle: u64,
        space: Space,
    ) -> Result<Output> {
        let AppCall { app, call } = at;
        app.session(session)?;
        mechanisms::require(mechanism.kind, CKF_WRAP)?;
        let (wrapping, kek) = self
            .token
            .usable_key(AppCall { app, call }, wrapping, mechanism, CKA_WRAP, Action::WrapKey)
            .map_err(|e| {
                as_wrapping_error(e, CKR_WRAPPING_KEY_HANDLE_INVALID, CKR_WRAPPING_KEY_TYPE_INCONSISTENT)
            })?;
        let (target, _) = self.token.object(app, handle).map_err(key_handle_invalid)?;
        if !target.kind().is_key() || target.key().is_none() {
            return Err(Error::p11(CKR_KEY_HANDLE_INVALID, "only secret and private keys can be wrapped"));
        }
        if !target.flag(CKA_EXTRACTABLE) {
            return Err(Error::p11(
                CKR_KEY_UNEXTRACTABLE,
                "the key is not extractable (CKA_EXTRACTABLE is false)",
            ));
        }
        if target.flag(CKA_WRAP_WITH_TRUSTED) && !wrapping.flag(CKA_TRUSTED) {
            return Err(Error::p11(CKR_KEY_NOT_WRAPPABLE, "the key may only be wrapped with a trusted key"));
        }
        let key = self.token.authorize(call, &target, Action::WrapKey)?.ok_or_else(|| {
            Error::p11(CKR_KEY_HANDLE_INVALID, "only secret and private keys can be wrapped")
        })?;
        require_enabled(&target)?;
        let secret = material(&key)?;
        let needed = match mechanism.kind {
            CKM_AES_KEY_WRAP | CKM_AES_KEY_WRAP_PAD => {
                check_wrap_iv(mechanism)?;
                wrap::wrapped_len(secret.len(), mechanism.kind == CKM_AES_KEY_WRAP_PAD)
            }
            _ => {
                // Checked before a length query is answered, so both calls agree.
                if !key.metadata.spec.is_secret() {
                    return Err(Error::p11(CKR_KEY_NOT_WRAPPABLE, "RSA wraps secret keys only"));
                }
                rsa_crypt_scheme(mechanism)?;
                rsa::rsa_modulus_bytes(&wrapping.public_key_der()?).map_err(p11)?
            }
        };
        if space.length_only || space.capacity < needed {
            return Ok(Output::Length { needed, too_small: !space.length_only });
        }
        let wrapped = match mechanism.kind {
            CKM_AES_KEY_WRAP | CKM_AES_KEY_WRAP_PAD => {
                let kek = kek
                    .as_ref()
                    .ok_or_else(|| Error::p11(CKR_WRAPPING_KEY_TYPE_INCONSISTENT, "not an AES key"))?;
                wrap::aes_key_wrap(material(kek)?, secret, mechanism.kind == CKM_AES_KEY_WRAP_PAD)
                    .map_err(p11)?
            }
            _ => rsa::rsa_encrypt(&wrapping.public_key_der()?, &rsa_crypt_scheme(mechanism)?, secret)
                .map_err(p11)?,
        };
        Ok(Output::Data(wrapped))
    }

    pub async fn unwrap_key(
        &self,
        at: AppCall<'_>,
        session: u64,
        mechanism: &Mechanism,
        unwrapping: u64,
        wrapped: &[u8],
        template: &Template,
    ) -> Result<u64> {
        let AppCall { app, call } = at;
        app.session(session)?;
        mechanisms::require(mechanism.kind, CKF_UNWRAP)?;
        let (unwrapping_object, unwrapping) = self
            .token
            .usable_key(AppCall { app, call }, unwrapping, mechanism, CKA_UNWRAP, Action::UnwrapKey)
            .map_err(|e| {
                as_wrapping_error(e, CKR_UNWRAPPING_KEY_HANDLE_INVALID, CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT)
            })?;
        if unwrapping_object.flag(CKA_ALWAYS_AUTHENTICATE) {
            // No context-specific login applies to C_UnwrapKey: the per-use PIN cannot be asked.
            return Err(Error::p11(
                CKR_KEY_FUNCTION_NOT_PERMITTED,
                "a key that needs the PIN for each use (CKA_ALWAYS_AUTHENTICATE) does not unwrap",
            ));
        }
        let key = unwrapping.ok_or_else(|| Error::p11(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, "not a key"))?;
        let material = match mechanism.kind {
            CKM_AES_KEY_WRAP | CKM_AES_KEY_WRAP_PAD => {
                check_wrap_iv(mechanism)?;
                wrap::aes_key_unwrap(material(&key)?, wrapped, mechanism.kind == CKM_AES_KEY_WRAP_PAD)
                    .map_err(unwrap_p11)?
            }
            _ => match private_key(&key)? {
                PrivateKey::Rsa(rsa) => {
                    rsa.decrypt(&rsa_crypt_scheme(mechanism)?, wrapped).map_err(unwrap_p11)?
                }
                _ => {
                    return Err(Error::p11(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, "not an RSA key"));
                }
            },
        };
        self.token.add_supplied_key(AppCall { app, call }, session, material, template).await
    }
}

/// The wrapping-key codes PKCS#11 prescribes for C_WrapKey and C_UnwrapKey.
fn as_wrapping_error(error: Error, handle_invalid: CK_RV, type_inconsistent: CK_RV) -> Error {
    match error {
        Error::Pkcs11 { rv: CKR_KEY_HANDLE_INVALID, message } => Error::p11(handle_invalid, message),
        Error::Pkcs11 { rv: CKR_KEY_TYPE_INCONSISTENT, message } => Error::p11(type_inconsistent, message),
        other => other,
    }
}

fn check_wrap_iv(mechanism: &Mechanism) -> Result<()> {
    match &mechanism.parameter {
        Parameter::None => Ok(()),
        Parameter::Iv(iv) | Parameter::Raw(iv) if iv.is_empty() => Ok(()),
        _ => Err(Error::p11(CKR_MECHANISM_PARAM_INVALID, "only the default key-wrap IV is supported")),
    }
}

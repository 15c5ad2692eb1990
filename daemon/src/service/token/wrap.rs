//! C_WrapKey, C_UnwrapKey and C_DeriveKey.

use cryptoki_sys::*;

use super::TokenKeys;
use super::app::AppCall;
use super::attributes::{Template, ulong};
use super::crypto_rv::{p11, unwrap_p11};
use super::key_access::{key_handle_invalid, require_enabled};
use super::mechanisms::{self, Mechanism, Parameter};
use super::operation::{Output, Space, material, private_key, rsa_crypt_scheme};
use crate::crypto::aes::wrap;
use crate::crypto::digest::HashAlg;
use crate::crypto::kdf::x963_kdf;
use crate::crypto::{PrivateKey, rsa};
use crate::error::{Error, Result};
use crate::policy::Action;
use crate::secure_mem::SecretBuf;

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
        let (_, unwrapping) = self
            .token
            .usable_key(AppCall { app, call }, unwrapping, mechanism, CKA_UNWRAP, Action::UnwrapKey)
            .map_err(|e| {
                as_wrapping_error(e, CKR_UNWRAPPING_KEY_HANDLE_INVALID, CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT)
            })?;
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

    pub async fn derive_key(
        &self,
        at: AppCall<'_>,
        session: u64,
        mechanism: &Mechanism,
        base: u64,
        template: &Template,
    ) -> Result<u64> {
        let AppCall { app, call } = at;
        app.session(session)?;
        mechanisms::require(mechanism.kind, CKF_DERIVE)?;
        let (_, base) =
            self.token.usable_key(AppCall { app, call }, base, mechanism, CKA_DERIVE, Action::DeriveKey)?;
        let Parameter::Ecdh { kdf, shared_data, public_data } = &mechanism.parameter else {
            return Err(Error::p11(
                CKR_MECHANISM_PARAM_INVALID,
                "CKM_ECDH1_DERIVE needs CK_ECDH1_DERIVE_PARAMS",
            ));
        };
        let kdf = ecdh_kdf(*kdf)?;
        if kdf.is_none() && !shared_data.is_empty() {
            return Err(Error::p11(CKR_MECHANISM_PARAM_INVALID, "CKD_NULL takes no shared data"));
        }
        let key = base.ok_or_else(|| Error::p11(CKR_KEY_TYPE_INCONSISTENT, "not an EC private key"))?;
        let secret = match private_key(&key)? {
            PrivateKey::Ec(ec) => ec.derive(public_data).map_err(p11)?,
            _ => return Err(Error::p11(CKR_KEY_TYPE_INCONSISTENT, "not an EC key")),
        };
        let natural = kdf.map_or(secret.len(), |hash| hash.output_len());
        let wanted = match (template.ulong(CKA_VALUE_LEN), template.ulong(CKA_KEY_TYPE)) {
            (Some(len), _) => len as usize,
            (None, Some(CKK_AES)) if [16, 24, 32].contains(&natural) => natural,
            (None, Some(CKK_AES)) => 32,
            (None, _) => natural,
        };
        let material = match kdf {
            Some(hash) => x963_kdf(hash, secret.as_slice(), shared_data, wanted).map_err(p11)?,
            None => SecretBuf::copy_from(secret.as_slice().get(..wanted).ok_or_else(|| {
                Error::p11(CKR_TEMPLATE_INCONSISTENT, "CKA_VALUE_LEN exceeds the shared secret")
            })?)?,
        };
        let template = template.clone().with_default(CKA_VALUE_LEN, ulong(wanted as u64));
        self.token.add_supplied_key(AppCall { app, call }, session, material, &template).await
    }
}

/// The hash of an ECDH key derivation function: `None` for CKD_NULL (the shared secret itself),
/// the X9.63 KDF's hash for CKD_SHA*_KDF.
fn ecdh_kdf(kdf: u64) -> Result<Option<HashAlg>> {
    match kdf {
        CKD_NULL => Ok(None),
        CKD_SHA1_KDF => Ok(Some(HashAlg::Sha1)),
        CKD_SHA224_KDF => Ok(Some(HashAlg::Sha224)),
        CKD_SHA256_KDF => Ok(Some(HashAlg::Sha256)),
        CKD_SHA384_KDF => Ok(Some(HashAlg::Sha384)),
        CKD_SHA512_KDF => Ok(Some(HashAlg::Sha512)),
        other => Err(Error::p11(
            CKR_MECHANISM_PARAM_INVALID,
            format!("ECDH key derivation function {other:#x}: CKD_NULL and CKD_SHA*_KDF are supported"),
        )),
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

//! C_DeriveKey: ECDH (CKM_ECDH1_DERIVE with CKD_NULL or an X9.63 KDF) and the secret-key
//! derivations (concatenation, XOR, extraction, AES ENCRYPT_DATA, HKDF, SP 800-108 in
//! `derive/sp800_108.rs`).
//!
//! A key derived from secret keys keeps their protection, as PKCS#11 prescribes for these
//! mechanisms: if a source is sensitive so is the new key, and if a source is not extractable
//! neither is the new key (a template asking otherwise is CKR_TEMPLATE_INCONSISTENT). Otherwise
//! a derived key could hand out the value of the key it came from.

use cryptoki_sys::*;

use super::TokenKeys;
use super::app::AppCall;
use super::attributes::{Template, boolean, ulong};
use super::crypto_rv::p11;
use super::mechanisms::{self, HkdfParameter, Mechanism, Parameter};
use super::object::Object;
use super::operation::{hash_from_mechanism, material, private_key};
use crate::crypto::PrivateKey;
use crate::crypto::derive::{self, HkdfSteps};
use crate::crypto::digest::HashAlg;
use crate::crypto::kdf::x963_kdf;
use crate::error::{Error, Result};
use crate::policy::Action;
use crate::secure_mem::SecretBuf;
use crate::service::Authorized;

mod sp800_108;

pub(super) fn param_invalid(message: impl Into<String>) -> Error {
    Error::p11(CKR_MECHANISM_PARAM_INVALID, message.into())
}

fn inconsistent(message: impl Into<String>) -> Error {
    Error::p11(CKR_TEMPLATE_INCONSISTENT, message.into())
}

impl TokenKeys {
    /// The new key's handle, and those of SP 800-108's additional derived keys.
    pub async fn derive_key(
        &self,
        at: AppCall<'_>,
        session: u64,
        mechanism: &Mechanism,
        base: u64,
        template: &Template,
    ) -> Result<(u64, Vec<u64>)> {
        let AppCall { app, call } = at;
        app.session(session)?;
        mechanisms::require(mechanism.kind, CKF_DERIVE)?;
        let (base_object, base) =
            self.token.usable_key(AppCall { app, call }, base, mechanism, CKA_DERIVE, Action::DeriveKey)?;
        let base =
            base.ok_or_else(|| Error::p11(CKR_KEY_TYPE_INCONSISTENT, "the base is not a private key"))?;
        if base_object.flag(CKA_ALWAYS_AUTHENTICATE) {
            // No context-specific login applies to C_DeriveKey: the key's per-use PIN cannot be asked.
            return Err(Error::p11(
                CKR_KEY_FUNCTION_NOT_PERMITTED,
                "a key that needs the PIN for each use (CKA_ALWAYS_AUTHENTICATE) does not derive",
            ));
        }
        if mechanism.kind == CKM_ECDH1_DERIVE {
            let (material, template) = ecdh(mechanism, &base, template)?;
            return self.add_derived_keys(AppCall { app, call }, session, vec![(material, template)]).await;
        }
        let mut sources = vec![base_object];
        let second = match second_key(mechanism) {
            Some(handle) => {
                let (object, key) = self.token.usable_key(
                    AppCall { app, call },
                    handle,
                    mechanism,
                    CKA_DERIVE,
                    Action::DeriveKey,
                )?;
                sources.push(object);
                key
            }
            None => None,
        };
        let keys = match &mechanism.parameter {
            Parameter::Sp800108(kdf)
                if matches!(mechanism.kind, CKM_SP800_108_COUNTER_KDF | CKM_SP800_108_FEEDBACK_KDF) =>
            {
                sp800_108::derive(mechanism.kind, kdf, &base, template, &sources)?
            }
            _ => {
                let mut template = inherit_protection(template, &sources)?;
                if selects_bits(mechanism.kind) {
                    template = limit_uses(template, &sources)?;
                }
                let derived = secret_derivation(mechanism, &base, second.as_ref(), template)?;
                let base_len = material(&base)?.len();
                if selects_bits(mechanism.kind) && derived.0.len() < MIN_SELECTED_LEN.min(base_len) {
                    return Err(inconsistent(format!(
                        "a key made of another key's bits is at least {MIN_SELECTED_LEN} bytes (or the base's length)"
                    )));
                }
                vec![derived]
            }
        };
        self.add_derived_keys(AppCall { app, call }, session, keys).await
    }

    /// Adds the derived keys in order; if one is refused, those already added are destroyed.
    async fn add_derived_keys(
        &self,
        at: AppCall<'_>,
        session: u64,
        keys: Vec<(SecretBuf, Template)>,
    ) -> Result<(u64, Vec<u64>)> {
        let AppCall { app, call } = at;
        let mut handles = Vec::with_capacity(keys.len());
        for (material, template) in keys {
            match self.token.add_supplied_key(AppCall { app, call }, session, material, &template).await {
                Ok(handle) => handles.push(handle),
                Err(error) => {
                    for handle in handles {
                        let _undone = self.token.destroy(AppCall { app, call }, session, handle).await;
                    }
                    return Err(error);
                }
            }
        }
        let (first, additional) =
            handles.split_first().ok_or_else(|| Error::Crypto("a derivation without a key".into()))?;
        Ok((*first, additional.to_vec()))
    }
}

/// The handle of the other key a mechanism reads: CKM_CONCATENATE_BASE_AND_KEY's, or HKDF's salt
/// key.
fn second_key(mechanism: &Mechanism) -> Option<u64> {
    match (&mechanism.parameter, mechanism.kind) {
        (Parameter::Ulong(handle), CKM_CONCATENATE_BASE_AND_KEY) => Some(*handle),
        (Parameter::Hkdf(hkdf), _) if hkdf.salt_type == CKF_HKDF_SALT_KEY => Some(hkdf.salt_key),
        _ => None,
    }
}

/// The template with the sources' protection carried over (see the header).
pub(super) fn inherit_protection(template: &Template, sources: &[Object]) -> Result<Template> {
    let mut template = template.clone();
    if sources.iter().any(|source| source.flag(CKA_SENSITIVE)) {
        if template.bool(CKA_SENSITIVE) == Some(false) {
            return Err(inconsistent("a key derived from a sensitive key is sensitive"));
        }
        template = template.with_default(CKA_SENSITIVE, boolean(true));
    }
    if sources.iter().any(|source| !source.flag(CKA_EXTRACTABLE)) {
        if template.bool(CKA_EXTRACTABLE) == Some(true) {
            return Err(inconsistent("a key derived from a non-extractable key is not extractable"));
        }
        template = template.with_default(CKA_EXTRACTABLE, boolean(false));
    }
    if sources.iter().any(|source| source.flag(CKA_WRAP_WITH_TRUSTED)) {
        if template.bool(CKA_WRAP_WITH_TRUSTED) == Some(false) {
            return Err(inconsistent("a key derived from one wrapped only with trusted keys is too"));
        }
        template = template.with_default(CKA_WRAP_WITH_TRUSTED, boolean(true));
    }
    Ok(template.with_default(CKA_CLASS, ulong(CKO_SECRET_KEY)))
}

/// The uses a key may have.
const USES: [CK_ATTRIBUTE_TYPE; 7] =
    [CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP, CKA_SIGN, CKA_VERIFY, CKA_DERIVE];

/// The mechanisms whose result is bits of their sources (a copy of the base is one call away):
/// the new key may do only what every source may, and is at least 16 bytes long (or as long as
/// the base, if shorter), so that no short key gives a source away a byte at a time.
fn selects_bits(mechanism: CK_MECHANISM_TYPE) -> bool {
    matches!(
        mechanism,
        CKM_CONCATENATE_BASE_AND_KEY
            | CKM_CONCATENATE_BASE_AND_DATA
            | CKM_CONCATENATE_DATA_AND_BASE
            | CKM_XOR_BASE_AND_DATA
            | CKM_EXTRACT_KEY_FROM_KEY
    )
}

/// The shortest key `selects_bits` mechanisms make from a base of `base_len` bytes.
const MIN_SELECTED_LEN: usize = 16;

/// The template with every use no source has turned off (a template asking for one is refused).
fn limit_uses(template: Template, sources: &[Object]) -> Result<Template> {
    let mut template = template;
    for used in USES {
        if sources.iter().all(|source| source.flag(used)) {
            continue;
        }
        if template.bool(used) == Some(true) {
            return Err(inconsistent(format!(
                "attribute 0x{used:08X}: a key made of another key's bits may do only what that key may"
            )));
        }
        template = template.with_default(used, boolean(false));
    }
    Ok(template)
}

/// The length the template asks for: CKA_VALUE_LEN, else the derivation's natural length (an AES
/// key takes it only when it is an AES key size).
pub(super) fn wanted_len(template: &Template, natural: Option<usize>) -> Result<usize> {
    let aes = template.ulong(CKA_KEY_TYPE) == Some(CKK_AES);
    match (template.ulong(CKA_VALUE_LEN), natural) {
        (Some(len), _) => usize::try_from(len).map_err(|_| inconsistent("CKA_VALUE_LEN is out of range")),
        (None, Some(len)) if !aes || [16, 24, 32].contains(&len) => Ok(len),
        (None, _) => Err(Error::p11(CKR_TEMPLATE_INCOMPLETE, "CKA_VALUE_LEN is required for this key")),
    }
}

/// The derived value, cut to the length the template asks for, and the template completed with
/// that length and the key type (a generic secret unless it names one).
fn cut(derived: SecretBuf, template: Template) -> Result<(SecretBuf, Template)> {
    let len = wanted_len(&template, Some(derived.len()))?;
    let value =
        derived.as_slice().get(..len).filter(|value| !value.is_empty()).ok_or_else(|| {
            inconsistent(format!("CKA_VALUE_LEN {len} is not 1 to {} bytes", derived.len()))
        })?;
    let template = template
        .with_default(CKA_VALUE_LEN, ulong(len as u64))
        .with_default(CKA_KEY_TYPE, ulong(CKK_GENERIC_SECRET));
    Ok((SecretBuf::copy_from(value)?, template))
}

fn secret_derivation(
    mechanism: &Mechanism,
    base: &Authorized,
    second: Option<&Authorized>,
    template: Template,
) -> Result<(SecretBuf, Template)> {
    let base = material(base)?;
    let derived = match (mechanism.kind, &mechanism.parameter) {
        (CKM_CONCATENATE_BASE_AND_KEY, Parameter::Ulong(_)) => {
            let second = second.ok_or_else(|| param_invalid("the second key is not a secret key"))?;
            derive::concatenate(base, material(second)?)
        }
        (
            CKM_CONCATENATE_BASE_AND_DATA | CKM_CONCATENATE_DATA_AND_BASE | CKM_XOR_BASE_AND_DATA,
            Parameter::DerivationData(data),
        ) if data.is_empty() => {
            return Err(param_invalid("the derivation data is empty"));
        }
        (CKM_CONCATENATE_BASE_AND_DATA, Parameter::DerivationData(data)) => derive::concatenate(base, data),
        (CKM_CONCATENATE_DATA_AND_BASE, Parameter::DerivationData(data)) => derive::concatenate(data, base),
        (CKM_XOR_BASE_AND_DATA, Parameter::DerivationData(data)) => derive::xor(base, data),
        (CKM_EXTRACT_KEY_FROM_KEY, Parameter::Ulong(first_bit)) => {
            let len = wanted_len(&template, None)?;
            derive::extract(base, *first_bit, len)
        }
        (CKM_AES_ECB_ENCRYPT_DATA, Parameter::DerivationData(data)) => {
            derive::aes_encrypt_data(base, None, data)
        }
        (CKM_AES_CBC_ENCRYPT_DATA, Parameter::AesCbcEncryptData { iv, data }) => {
            let iv = <[u8; 16]>::try_from(iv.as_slice()).map_err(|_| param_invalid("the IV is 16 bytes"))?;
            derive::aes_encrypt_data(base, Some(iv), data)
        }
        (CKM_HKDF_DERIVE, Parameter::Hkdf(hkdf)) => {
            return hkdf_derivation(hkdf, base, second, template);
        }
        (kind, _) => {
            return Err(param_invalid(format!("mechanism 0x{kind:08X} needs its parameter structure")));
        }
    }
    .map_err(p11)?;
    cut(derived, template)
}

fn hkdf_derivation(
    hkdf: &HkdfParameter,
    base: &[u8],
    salt_key: Option<&Authorized>,
    template: Template,
) -> Result<(SecretBuf, Template)> {
    let hash = hash_from_mechanism(hkdf.prf_hash).ok_or_else(|| param_invalid("unknown HKDF hash"))?;
    let steps = match (hkdf.extract, hkdf.expand) {
        (true, true) => HkdfSteps::ExtractAndExpand,
        (true, false) => HkdfSteps::Extract,
        (false, true) => HkdfSteps::Expand,
        (false, false) => return Err(param_invalid("HKDF: bExtract, bExpand or both")),
    };
    let salt = match hkdf.salt_type {
        _ if !hkdf.extract => None,
        CKF_HKDF_SALT_NULL => None,
        CKF_HKDF_SALT_DATA if !hkdf.salt.is_empty() => Some(hkdf.salt.as_slice()),
        CKF_HKDF_SALT_KEY => Some(material(salt_key.ok_or_else(|| param_invalid("no HKDF salt key"))?)?),
        _ => return Err(param_invalid("HKDF: CKF_HKDF_SALT_NULL, _DATA with data, or _KEY")),
    };
    let natural = (steps == HkdfSteps::Extract).then_some(hash.output_len());
    let len = wanted_len(&template, natural)?;
    let derived = derive::hkdf(hash, steps, salt, base, &hkdf.info, len).map_err(p11)?;
    cut(derived, template)
}

/// CKM_ECDH1_DERIVE: the shared secret, through the KDF the parameter names.
fn ecdh(mechanism: &Mechanism, base: &Authorized, template: &Template) -> Result<(SecretBuf, Template)> {
    let Parameter::Ecdh { kdf, shared_data, public_data } = &mechanism.parameter else {
        return Err(param_invalid("CKM_ECDH1_DERIVE needs CK_ECDH1_DERIVE_PARAMS"));
    };
    let kdf = ecdh_kdf(*kdf)?;
    if kdf.is_none() && !shared_data.is_empty() {
        return Err(param_invalid("CKD_NULL takes no shared data"));
    }
    let secret = match private_key(base)? {
        PrivateKey::Ec(ec) => ec.derive(public_data).map_err(p11)?,
        PrivateKey::X25519(x) => x.derive(public_data).map_err(p11)?,
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
        None => SecretBuf::copy_from(
            secret
                .as_slice()
                .get(..wanted)
                .ok_or_else(|| inconsistent("CKA_VALUE_LEN exceeds the shared secret"))?,
        )?,
    };
    Ok((material, template.clone().with_default(CKA_VALUE_LEN, ulong(wanted as u64))))
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
        other => Err(param_invalid(format!(
            "ECDH key derivation function {other:#x}: CKD_NULL and CKD_SHA*_KDF are supported"
        ))),
    }
}

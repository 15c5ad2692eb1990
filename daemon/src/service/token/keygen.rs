//! C_GenerateKey, C_GenerateKeyPair, C_CreateObject and C_CopyObject.

use cryptoki_sys::*;

use super::TokenKeys;
use super::app::AppCall;
use super::attributes::{Template, incomplete, ulong};
use super::create::NewKey;
use super::crypto_rv::p11;
use super::defaults::{Provenance, generation_mechanism};
use super::mechanisms::{self, Mechanism};
use super::stored_forms::secret_spec;
use crate::crypto::PairSpec;
use crate::crypto::key::generate_pkcs8;
use crate::crypto::rsa::rsa_generate;
use crate::error::{Error, Result};
use crate::keys::KeySpec;
use crate::secure_mem::SecretBuf;

fn check_class(template: &Template, class: CK_OBJECT_CLASS) -> Result<()> {
    template.require(CKA_CLASS, &ulong(class), "CKA_CLASS does not match the mechanism")
}

fn value_len(template: &Template) -> Result<usize> {
    template
        .ulong(CKA_VALUE_LEN)
        .map(|len| len as usize)
        .ok_or_else(|| incomplete("CKA_VALUE_LEN is required"))
}

impl TokenKeys {
    pub async fn generate_key(
        &self,
        at: AppCall<'_>,
        session: u64,
        mechanism: &Mechanism,
        template: &Template,
    ) -> Result<u64> {
        let AppCall { app, call } = at;
        app.session(session)?;
        mechanisms::require(mechanism.kind, CKF_GENERATE)?;
        check_class(template, CKO_SECRET_KEY)?;
        if template.contains(CKA_VALUE) {
            return Err(Error::p11(CKR_ATTRIBUTE_READ_ONLY, "CKA_VALUE is made by the token"));
        }
        let key_type = match mechanism.kind {
            CKM_AES_KEY_GEN => CKK_AES,
            CKM_SHA_1_KEY_GEN => CKK_SHA_1_HMAC,
            CKM_SHA224_KEY_GEN => CKK_SHA224_HMAC,
            CKM_SHA256_KEY_GEN => CKK_SHA256_HMAC,
            CKM_SHA384_KEY_GEN => CKK_SHA384_HMAC,
            CKM_SHA512_KEY_GEN => CKK_SHA512_HMAC,
            _ => template.ulong(CKA_KEY_TYPE).unwrap_or(CKK_GENERIC_SECRET),
        };
        template.require(CKA_KEY_TYPE, &ulong(key_type), "CKA_KEY_TYPE does not match the mechanism")?;
        let len = value_len(template)?;
        let spec = secret_spec(Some(key_type), len)?;
        let material = SecretBuf::random(len)?;
        let template = template.clone().with_default(CKA_KEY_TYPE, ulong(key_type));
        let new = NewKey {
            spec,
            material,
            template: &template,
            public_template: None,
            provenance: Provenance::Generated(mechanism.kind),
            policy: None,
        };
        Ok(self.token.add_key(AppCall { app, call }, session, new).await?.0)
    }

    pub async fn generate_key_pair(
        &self,
        at: AppCall<'_>,
        session: u64,
        mechanism: &Mechanism,
        public: &Template,
        private: &Template,
    ) -> Result<(u64, u64)> {
        let AppCall { app, call } = at;
        app.session(session)?;
        mechanisms::require(mechanism.kind, CKF_GENERATE_KEY_PAIR)?;
        check_class(public, CKO_PUBLIC_KEY)?;
        check_class(private, CKO_PRIVATE_KEY)?;
        let (spec, key_type, rsa_bits) = match mechanism.kind {
            CKM_RSA_PKCS_KEY_PAIR_GEN => {
                let (spec, bits) = rsa_spec(public)?;
                (spec, CKK_RSA, Some(bits))
            }
            kind => {
                let key_type = match kind {
                    CKM_EC_EDWARDS_KEY_PAIR_GEN => CKK_EC_EDWARDS,
                    CKM_EC_MONTGOMERY_KEY_PAIR_GEN => CKK_EC_MONTGOMERY,
                    _ => CKK_EC,
                };
                let params = public.get(CKA_EC_PARAMS).or(private.get(CKA_EC_PARAMS));
                let params = params.ok_or_else(|| incomplete("CKA_EC_PARAMS is required"))?;
                (super::stored_forms::curve_of(params, key_type)?.into(), key_type, None)
            }
        };
        for template in [public, private] {
            template.require(CKA_KEY_TYPE, &ulong(key_type), "CKA_KEY_TYPE does not match the mechanism")?;
        }
        let mut private = private.clone();
        if let Some(token) = public.get(CKA_TOKEN).filter(|_| !private.contains(CKA_TOKEN)) {
            private = private.with_default(CKA_TOKEN, token.to_vec());
        }
        let provenance = Provenance::Generated(generation_mechanism(spec));
        let planned = self.token.plan_key(
            AppCall { app, call },
            session,
            spec,
            (&private, Some(public)),
            provenance,
        )?;
        let pair = spec.pair().ok_or_else(|| Error::Crypto(format!("{} is not a key pair", spec.name())))?;
        let material = self
            .token
            .keystore
            .off_reactor_with_deadline("key pair generation", move || match rsa_bits {
                Some(bits) => rsa_generate(bits).map_err(p11),
                None => generate_pkcs8(pair).map_err(p11),
            })
            .await?;
        let (private, public) =
            self.token.commit_key(AppCall { app, call }, session, planned, material, None).await?;
        let public = public.ok_or_else(|| Error::Crypto("a key pair without a public half".into()))?;
        Ok((public, private))
    }
}

/// The spec and size of a new RSA key: CKA_MODULUS_BITS from 1024 to 4096 in steps of 8 (below
/// 2048 bits for legacy clients, as SoftHSM2 allows), public exponent 65537. Another size is
/// CKR_ATTRIBUTE_VALUE_INVALID: PKCS#11 lists it, and not CKR_KEY_SIZE_RANGE, for
/// C_GenerateKeyPair (as for C_GenerateKey's CKA_VALUE_LEN).
fn rsa_spec(public: &Template) -> Result<(KeySpec, usize)> {
    let bits = public.ulong(CKA_MODULUS_BITS).ok_or_else(|| incomplete("CKA_MODULUS_BITS is required"))?;
    if let Some(exponent) = public.get(CKA_PUBLIC_EXPONENT) {
        let significant: Vec<u8> = exponent.iter().copied().skip_while(|b| *b == 0).collect();
        if significant != [1, 0, 1] {
            return Err(Error::p11(CKR_ATTRIBUTE_VALUE_INVALID, "the public exponent must be 65537"));
        }
    }
    let bits = usize::try_from(bits).unwrap_or(usize::MAX);
    match PairSpec::rsa(bits).filter(|_| bits.is_multiple_of(8)) {
        Some(spec) => Ok((spec.into(), bits)),
        None => Err(Error::p11(
            CKR_ATTRIBUTE_VALUE_INVALID,
            format!("RSA keys of 1024 to 4096 bits in steps of 8 are generated, not {bits}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_of(bits: u64) -> Result<(KeySpec, usize)> {
        rsa_spec(&Template::parse([(CKA_MODULUS_BITS, ulong(bits))]).unwrap())
    }

    #[test]
    fn rsa_sizes_from_1024_to_4096_in_steps_of_8_others_are_invalid_values() {
        assert_eq!(spec_of(1024).unwrap(), (KeySpec::RsaOther, 1024));
        assert_eq!(spec_of(1032).unwrap(), (KeySpec::RsaOther, 1032));
        assert_eq!(spec_of(2048).unwrap(), (KeySpec::Rsa2048, 2048));
        assert_eq!(spec_of(2056).unwrap(), (KeySpec::RsaOther, 2056));
        assert_eq!(spec_of(4096).unwrap(), (KeySpec::Rsa4096, 4096));
        for bits in [0, 512, 1000, 1016, 1028, 2047, 4104, 5000, u64::MAX] {
            assert!(
                matches!(spec_of(bits), Err(Error::Pkcs11 { rv: CKR_ATTRIBUTE_VALUE_INVALID, .. })),
                "{bits}"
            );
        }
        let exponent3 = Template::parse([(CKA_MODULUS_BITS, ulong(1024)), (CKA_PUBLIC_EXPONENT, vec![3])]);
        assert!(matches!(
            rsa_spec(&exponent3.unwrap()),
            Err(Error::Pkcs11 { rv: CKR_ATTRIBUTE_VALUE_INVALID, .. })
        ));
    }
}

//! Key material import commands: get-parameters-for-import, import-key-material (which fetches
//! the parameters and wraps the material itself), delete-imported-key-material.
//!
//! The wrapping follows AWS's documentation for KMS: RSAES_OAEP_SHA_*: RSA-OAEP of the material
//! under the daemon's one-off wrapping key. RSA_AES_KEY_WRAP_SHA_256: RSA-OAEP-SHA-256 of a fresh
//! AES-256 key, followed by the material wrapped under that key with AES key wrap with padding
//! (RFC 5649). Plaintext material and the ephemeral AES key live in zeroizing buffers.

use arca_proto::v1 as pb;
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded as _};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPublicEncryptingKey, PublicEncryptingKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::cli::{GetParametersForImportArgs, ImportKeyMaterialArgs, KeyIdArgs, WrappingArgs};
use crate::error::CliError;
use crate::input::{read_file, write_out};
use crate::output::{Record, Value};
use crate::progress::spin;
use crate::session::Session;

const AES_KEY_LEN: usize = 32;
/// AES-KWP adds an 8-byte integrity block and pads to a multiple of 8.
const KWP_OVERHEAD: usize = 16;

const PKCS8_PEM: (&str, &str) = ("-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----");

/// Asks for a one-off wrapping key and import token (the daemon generates an RSA key: slow for
/// RSA_4096, so a spinner shows).
async fn parameters(
    session: &Session,
    key_id: &str,
    wrapping: &WrappingArgs,
) -> Result<pb::GetParametersForImportResponse, CliError> {
    let request = pb::GetParametersForImportRequest {
        key_id: key_id.to_owned(),
        wrapping_algorithm: wrapping.wrapping_algorithm.clone(),
        wrapping_key_spec: wrapping.wrapping_key_spec.clone(),
    };
    let label =
        (wrapping.wrapping_key_spec == "RSA_4096").then(|| "generating RSA-4096 wrapping key…".into());
    spin(label, session.call(session.kms().get_parameters_for_import(session.request(request)))).await
}

pub(crate) async fn get_parameters_for_import(
    session: &Session,
    args: GetParametersForImportArgs,
) -> Result<Record, CliError> {
    let response = parameters(session, &args.key_id, &args.wrapping).await?;
    if let Some(path) = &args.public_key_out {
        write_out(path, &response.public_key)?;
    }
    if let Some(path) = &args.import_token_out {
        write_out(path, &response.import_token)?;
    }
    Ok(Record::new()
        .with("key_id", response.key_id)
        .with("import_token", Value::Bytes(response.import_token))
        .with("public_key", Value::Bytes(response.public_key))
        .with("parameters_valid_to", Value::Timestamp(response.parameters_valid_to)))
}

pub(crate) async fn import_key_material(
    session: &Session,
    args: ImportKeyMaterialArgs,
) -> Result<Record, CliError> {
    let (key_id, import_token, encrypted_key_material) =
        match (&args.material_file, &args.encrypted_material_file) {
            (Some(path), _) => {
                let material = material(Zeroizing::new(read_file(path)?))?;
                let parameters = parameters(session, &args.key_id, &args.wrapping).await?;
                let wrapped = wrap(&args.wrapping.wrapping_algorithm, &parameters.public_key, &material)?;
                (parameters.key_id, parameters.import_token, wrapped)
            }
            (None, Some(path)) => {
                let token = args.import_token_file.as_deref().map(read_file).transpose()?.unwrap_or_default();
                (args.key_id.clone(), token, read_file(path)?)
            }
            (None, None) => {
                return Err(CliError::Input("give --material-file or --encrypted-material-file".to_owned()));
            }
        };
    let request = pb::ImportKeyMaterialRequest {
        key_id: key_id.clone(),
        import_token,
        encrypted_key_material,
        valid_to: args.valid_to.unwrap_or(0),
    };
    session.call(session.kms().import_key_material(session.request(request))).await?;
    Ok(Record::new()
        .with("key_id", key_id)
        .with("imported", true)
        .with("valid_to", args.valid_to.map_or(Value::Null, Value::Timestamp)))
}

pub(crate) async fn delete_imported_key_material(
    session: &Session,
    args: KeyIdArgs,
) -> Result<Record, CliError> {
    let request = session.request(pb::DeleteImportedKeyMaterialRequest { key_id: args.key_id.clone() });
    session.call(session.kms().delete_imported_key_material(request)).await?;
    Ok(Record::new().with("key_id", args.key_id).with("key_material_deleted", true))
}

fn failed(what: &str) -> CliError {
    CliError::Input(format!("wrapping the key material failed: {what}"))
}

/// Wraps `material` under the wrapping public key (DER SubjectPublicKeyInfo) with `algorithm`.
fn wrap(algorithm: &str, public_key: &[u8], material: &[u8]) -> Result<Vec<u8>, CliError> {
    let public = PublicEncryptingKey::from_der(public_key)
        .map_err(|_| failed("the daemon's wrapping key is not an RSA public key"))?;
    let public = OaepPublicEncryptingKey::new(public).map_err(|_| failed("the wrapping key"))?;
    match algorithm {
        "RSAES_OAEP_SHA_1" => oaep(&public, &OAEP_SHA1_MGF1SHA1, material),
        "RSAES_OAEP_SHA_256" => oaep(&public, &OAEP_SHA256_MGF1SHA256, material),
        "RSA_AES_KEY_WRAP_SHA_256" => {
            let mut aes_key = Zeroizing::new([0u8; AES_KEY_LEN]);
            aws_lc_rs::rand::fill(aes_key.as_mut_slice())
                .map_err(|error| CliError::Random(error.to_string()))?;
            let mut wrapped = oaep(&public, &OAEP_SHA256_MGF1SHA256, aes_key.as_slice())?;
            let kek = AesKek::new(&AES_256, aes_key.as_slice()).map_err(|_| failed("the AES key"))?;
            let mut kwp = vec![0; material.len() + KWP_OVERHEAD];
            let len = kek.wrap_with_padding(material, &mut kwp).map_err(|_| failed("AES key wrap"))?.len();
            kwp.truncate(len);
            wrapped.extend_from_slice(&kwp);
            Ok(wrapped)
        }
        other => Err(CliError::Input(format!("unknown wrapping algorithm {other:?}"))),
    }
}

fn oaep(
    public: &OaepPublicEncryptingKey,
    algorithm: &'static OaepAlgorithm,
    plaintext: &[u8],
) -> Result<Vec<u8>, CliError> {
    let max = public.max_plaintext_size(algorithm);
    if plaintext.len() > max {
        return Err(CliError::Input(format!(
            "{} bytes of key material do not fit one RSA-OAEP block of a {}-bit key (at most {max}); \
             use --wrapping-algorithm RSA_AES_KEY_WRAP_SHA_256",
            plaintext.len(),
            public.key_size_bits()
        )));
    }
    let mut out = vec![0; public.ciphertext_size()];
    let len = public.encrypt(algorithm, plaintext, &mut out, None).map_err(|_| failed("RSA-OAEP"))?.len();
    out.truncate(len);
    Ok(out)
}

/// Key material as read from a file: a PEM `PRIVATE KEY` (PKCS#8) becomes its DER; other PEM
/// private keys are refused with the command that converts them; anything else is taken as is.
fn material(bytes: Zeroizing<Vec<u8>>) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let Ok(text) = std::str::from_utf8(&bytes) else { return Ok(bytes) };
    let text = text.trim();
    if let Some(body) = text.strip_prefix(PKCS8_PEM.0).and_then(|rest| rest.strip_suffix(PKCS8_PEM.1)) {
        let body: Zeroizing<String> = Zeroizing::new(body.chars().filter(|c| !c.is_whitespace()).collect());
        return STANDARD
            .decode(body.as_bytes())
            .map(Zeroizing::new)
            .map_err(|_| CliError::Input("the PEM private key's body is not base64".to_owned()));
    }
    if text.starts_with("-----BEGIN") {
        return Err(CliError::Input(
            "the key material is PEM but not an unencrypted PKCS#8 `PRIVATE KEY`".to_owned(),
        )
        .hint("convert it: openssl pkcs8 -topk8 -nocrypt -in KEY.pem -outform DER -out KEY.der"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::rsa::{KeySize, OaepPrivateDecryptingKey, PrivateDecryptingKey};

    use super::*;

    fn unwrap_hybrid(private: &PrivateDecryptingKey, wrapped: &[u8]) -> Vec<u8> {
        let oaep = OaepPrivateDecryptingKey::new(private.clone()).unwrap();
        let (rsa, kwp) = wrapped.split_at(oaep.key_size_bytes());
        let mut key = vec![0; oaep.min_output_size()];
        let key = oaep.decrypt(&OAEP_SHA256_MGF1SHA256, rsa, &mut key, None).unwrap().to_vec();
        let mut material = vec![0; kwp.len()];
        let kek = AesKek::new(&AES_256, &key).unwrap();
        kek.unwrap_with_padding(kwp, &mut material).unwrap().to_vec()
    }

    #[test]
    fn wrapped_material_unwraps_with_the_private_half() {
        let private = PrivateDecryptingKey::generate(KeySize::Rsa2048).unwrap();
        let public = private.public_key().as_der().unwrap();
        let material: Vec<u8> = (0..1217u32).map(|i| (i * 7) as u8).collect();
        let wrapped = wrap("RSA_AES_KEY_WRAP_SHA_256", public.as_ref(), &material).unwrap();
        assert_eq!(wrapped.len(), 256 + 1224 + 8);
        assert_eq!(unwrap_hybrid(&private, &wrapped), material);

        let secret = [9u8; 32];
        let wrapped = wrap("RSAES_OAEP_SHA_1", public.as_ref(), &secret).unwrap();
        let oaep = OaepPrivateDecryptingKey::new(private.clone()).unwrap();
        let mut out = vec![0; oaep.min_output_size()];
        assert_eq!(oaep.decrypt(&OAEP_SHA1_MGF1SHA1, &wrapped, &mut out, None).unwrap(), secret);

        let error = wrap("RSAES_OAEP_SHA_256", public.as_ref(), &material).unwrap_err().to_string();
        assert!(error.contains("RSA_AES_KEY_WRAP_SHA_256"), "{error}");
        assert!(wrap("RSAES_OAEP_SHA_256", b"not a key", &secret).is_err());
    }

    #[test]
    fn pem_private_keys_become_der() {
        let der = vec![0x30, 0x03, 0x02, 0x01, 0x00];
        let pem = format!("{}\n{}\n{}\n", PKCS8_PEM.0, STANDARD.encode(&der), PKCS8_PEM.1);
        assert_eq!(*material(Zeroizing::new(pem.into_bytes())).unwrap(), der);
        assert_eq!(*material(Zeroizing::new(der.clone())).unwrap(), der);
        let traditional = b"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n".to_vec();
        let error = material(Zeroizing::new(traditional)).unwrap_err().to_string();
        assert!(error.contains("openssl pkcs8 -topk8"), "{error}");
    }
}

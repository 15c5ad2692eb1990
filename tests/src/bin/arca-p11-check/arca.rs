//! Arca only: the PKCS#11 token and the gRPC key service are two faces of the same keys.

use arca_proto::DaemonEndpoint;
use arca_proto::v1 as pb;
use arca_proto::v1::key_management_client::KeyManagementClient;
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType as T, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use tonic::transport::Channel;

use crate::der;
use crate::keys;
use crate::openssl::{self, SigOpts};
use crate::suite::{At, Ctx, Fail, Outcome, ensure, fail, find, get, get_bytes, hex, message, unhex};

/// A gRPC client with the runtime that drives it.
struct Kms {
    runtime: tokio::runtime::Runtime,
    client: KeyManagementClient<Channel>,
}

impl Kms {
    fn connect(ctx: &Ctx) -> Result<Self, Fail> {
        let Some(socket) = ctx.socket.clone() else {
            return fail("no daemon socket: pass --socket or set ARCA_SOCKET");
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .or_else(|e| fail(format!("tokio runtime: {e}")))?;
        let channel = runtime
            .block_on(DaemonEndpoint::Unix(socket).connect())
            .or_else(|e| fail(format!("connect to arcad: {e}")))?;
        Ok(Self { runtime, client: KeyManagementClient::new(channel) })
    }

    fn call<T>(
        &mut self,
        what: &str,
        f: impl AsyncFnOnce(&mut KeyManagementClient<Channel>) -> Result<tonic::Response<T>, tonic::Status>,
    ) -> Result<T, Fail> {
        let client = &mut self.client;
        self.runtime
            .block_on(f(client))
            .map(tonic::Response::into_inner)
            .or_else(|status| fail(format!("{what}: {:?} {}", status.code(), status.message())))
    }

    fn list_keys(&mut self) -> Result<Vec<String>, Fail> {
        let mut ids = Vec::new();
        let mut page_token = String::new();
        loop {
            let request =
                pb::ListKeysRequest { limit: 1000, page_token: page_token.clone(), ..Default::default() };
            let page = self.call("ListKeys", async |c| c.list_keys(request).await)?;
            ids.extend(page.keys.into_iter().map(|k| k.key_id));
            if !page.truncated || page.next_page_token.is_empty() {
                return Ok(ids);
            }
            page_token = page.next_page_token;
        }
    }

    fn create_key(
        &mut self,
        spec: pb::KeySpec,
        usage: pb::KeyUsage,
        description: &str,
    ) -> Result<String, Fail> {
        let request = pb::CreateKeyRequest {
            description: description.into(),
            key_spec: spec.into(),
            key_usage: usage.into(),
            ..Default::default()
        };
        let response = self.call("CreateKey", async |c| c.create_key(request).await)?;
        response.key_metadata.map(|m| m.key_id).map_or_else(|| fail("CreateKey returned no metadata"), Ok)
    }
}

/// A key's UUID from its 16-byte CKA_ID.
fn uuid_text(id: &[u8]) -> String {
    let h = hex(id);
    let part = |range: std::ops::Range<usize>| h.get(range).unwrap_or_default().to_owned();
    format!("{}-{}-{}-{}-{}", part(0..8), part(8..12), part(12..16), part(16..20), part(20..32))
}

fn uuid_bytes(key_id: &str) -> Vec<u8> {
    unhex(&key_id.replace('-', ""))
}

pub fn pkcs11_keys_in_list_keys(ctx: &Ctx) -> Outcome {
    let mut kms = Kms::connect(ctx)?;
    let s = ctx.s();
    let aes = keys::gen_aes(&s, 32, true, "grpc-visible", &[])?;
    let ec = keys::gen_ec(&s, true, "grpc-visible", &[])?;
    let aes_id = get_bytes(&s, aes, T::Id)?;
    let ec_id = get_bytes(&s, ec.private, T::Id)?;
    ensure!(
        aes_id.len() == 16 && ec_id.len() == 16,
        "CKA_IDs {} and {} are not 16-byte UUIDs",
        hex(&aes_id),
        hex(&ec_id)
    );
    ensure!(get_bytes(&s, ec.public, T::Id)? == ec_id, "the pair's public and private CKA_IDs differ");
    let listed = kms.list_keys()?;
    for id in [&aes_id, &ec_id] {
        ensure!(listed.contains(&uuid_text(id)), "ListKeys lacks {} made through PKCS#11", uuid_text(id));
    }
    s.destroy_object(aes).at("C_DestroyObject(token key)")?;
    ensure!(!kms.list_keys()?.contains(&uuid_text(&aes_id)), "ListKeys still has a destroyed token key");
    s.destroy_object(ec.private).at("C_DestroyObject")?;
    let _ = s.destroy_object(ec.public);
    Ok(())
}

fn find_one(s: &Session, template: &[Attribute], what: &str) -> Result<ObjectHandle, Fail> {
    match find(s, template)?.as_slice() {
        [one] => Ok(*one),
        other => fail(format!("{what}: {} objects found", other.len())),
    }
}

pub fn grpc_aes_key_usable(ctx: &Ctx) -> Outcome {
    let mut kms = Kms::connect(ctx)?;
    let description = format!("arca-check grpc aes {}", std::process::id());
    let key_id = kms.create_key(pb::KeySpec::Aes256, pb::KeyUsage::EncryptDecrypt, &description)?;
    let s = ctx.s();
    let by_id = [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::Id(uuid_bytes(&key_id))];
    let key = find_one(&s, &by_id, "find by CKA_ID = UUID")?;
    let by_label =
        find_one(&s, &[Attribute::Label(description.into_bytes())], "find by CKA_LABEL = description")?;
    ensure!(by_label == key, "CKA_LABEL and CKA_ID find different objects");
    ensure!(get(&s, key, T::Token)? == Attribute::Token(true), "a gRPC key is not a token object");
    ensure!(
        get(&s, key, T::KeyType)? == Attribute::KeyType(KeyType::AES),
        "a gRPC AES_256 key is not CKK_AES"
    );
    let mut iv = [4u8; 12];
    let gcm = Mechanism::AesGcm(GcmParams::new(&mut iv, b"grpc", 128.into()).at("GcmParams")?);
    let data = message(100);
    let sealed = s.encrypt(&gcm, key, &data).at("C_Encrypt(GCM) with a gRPC key")?;
    ensure!(s.decrypt(&gcm, key, &sealed).at("C_Decrypt(GCM)")? == data, "GCM round trip with a gRPC key");
    Ok(())
}

pub fn grpc_ec_key_usable(ctx: &Ctx) -> Outcome {
    let mut kms = Kms::connect(ctx)?;
    let description = format!("arca-check grpc ec {}", std::process::id());
    let key_id = kms.create_key(pb::KeySpec::EccNistP256, pb::KeyUsage::SignVerify, &description)?;
    let s = ctx.s();
    let id = Attribute::Id(uuid_bytes(&key_id));
    let private =
        find_one(&s, &[Attribute::Class(ObjectClass::PRIVATE_KEY), id.clone()], "private key by CKA_ID")?;
    let public = find_one(&s, &[Attribute::Class(ObjectClass::PUBLIC_KEY), id], "public key by CKA_ID")?;
    let msg = message(120);
    let signature =
        s.sign(&Mechanism::EcdsaSha256, private, &msg).at("C_Sign(CKM_ECDSA_SHA256) with a gRPC key")?;
    ensure!(signature.len() == 64, "signature of {} bytes", signature.len());
    let request = pb::VerifyRequest {
        key_id: key_id.clone(),
        message: msg.clone(),
        message_type: pb::MessageType::Raw.into(),
        signature: der::ecdsa_der(&signature),
        signing_algorithm: pb::SigningAlgorithm::EcdsaSha256.into(),
        grant_tokens: Default::default(),
    };
    let verdict = kms.call("Verify", async |c| c.verify(request).await)?;
    ensure!(verdict.signature_valid, "gRPC Verify rejects the PKCS#11 signature");
    let request = pb::GetPublicKeyRequest { key_id, grant_tokens: Default::default() };
    let spki = kms.call("GetPublicKey", async |c| c.get_public_key(request).await)?.public_key;
    ensure!(keys::ec_spki(&s, public)? == spki, "CKA_EC_POINT differs from GetPublicKey");
    openssl::verify_message(&spki, SigOpts { bits: 256, pss: false }, &msg, &der::ecdsa_der(&signature))
}

//! Key bytes leave no copies in the daemon's ordinary memory: a known key goes in through
//! C_CreateObject, C_UnwrapKey and ImportKeyMaterial, or comes out of GenerateDataKey and Decrypt;
//! after its use ends and 300 unrelated calls, the daemon's memory (read through
//! `/proc/PID/mem`, which for a non-dumpable process needs root with CAP_SYS_PTRACE) holds it
//! nowhere outside the locked secret pool.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use arca_tests::{Daemon, TokenApp, TokenClient, create_key, pb};

const CKF_SERIAL_SESSION: u64 = 0x4;
const CKF_RW_SESSION: u64 = 0x2;
const CKU_SO: u64 = 0;
const CKU_USER: u64 = 1;
const CKA_CLASS: u64 = 0x0;
const CKA_TOKEN: u64 = 0x1;
const CKA_VALUE: u64 = 0x11;
const CKA_KEY_TYPE: u64 = 0x100;
const CKA_SENSITIVE: u64 = 0x103;
const CKA_EXTRACTABLE: u64 = 0x162;
const CKA_VALUE_LEN: u64 = 0x161;
const CKO_SECRET_KEY: u64 = 4;
const CKK_AES: u64 = 0x1f;
const CKM_AES_KEY_GEN: u64 = 0x1080;
const CKM_AES_GCM: u64 = 0x1087;
const CKM_AES_KEY_WRAP_PAD: u64 = 0x210A;

/// Unrelated calls made after a key's use ends, before the scan.
const LATER_CALLS: usize = 300;

/// Where copies of a secret were found, by kind of mapping.
#[derive(Debug, Default)]
struct Copies {
    /// In the locked, non-dumpable pool (mappings flagged `lo` and `dd`).
    locked: usize,
    /// Everywhere else, with the mapping each was found in.
    elsewhere: Vec<String>,
    bytes_scanned: usize,
}

/// One readable mapping of `/proc/PID/smaps`.
struct Mapping {
    start: u64,
    end: u64,
    name: String,
    locked_pool: bool,
}

fn mappings(pid: u32) -> Vec<Mapping> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let mut found: Vec<Mapping> = Vec::new();
    let mut readable = Vec::new();
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let Some((start, end)) = fields.first().and_then(|range| range.split_once('-'))
            && let (Ok(start), Ok(end)) = (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16))
        {
            let name = fields.get(5..).map(|n| n.join(" ")).unwrap_or_default();
            readable.push(fields.get(1).is_some_and(|perms| perms.starts_with('r')) && name != "[vvar]");
            found.push(Mapping { start, end, name, locked_pool: false });
        } else if let Some(flags) = line.strip_prefix("VmFlags:")
            && let Some(last) = found.last_mut()
        {
            let flags: Vec<&str> = flags.split_whitespace().collect();
            last.locked_pool = flags.contains(&"lo") && flags.contains(&"dd");
        }
    }
    found.into_iter().zip(readable).filter(|(_, readable)| *readable).map(|(m, _)| m).collect()
}

/// Searches every readable mapping of the daemon for `secret`.
fn scan(daemon: &Daemon, secret: &[u8]) -> Copies {
    let pid = daemon.pid();
    let mut memory = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap_or_else(|error| {
        panic!("cannot open /proc/{pid}/mem ({error}): the scan needs root with CAP_SYS_PTRACE")
    });
    let mut copies = Copies::default();
    for mapping in mappings(pid) {
        let mut bytes = vec![0u8; (mapping.end - mapping.start) as usize];
        memory.seek(SeekFrom::Start(mapping.start)).unwrap();
        // A mapping the kernel will not hand out ([vsyscall], device memory) is skipped.
        if memory.read_exact(&mut bytes).is_err() {
            continue;
        }
        copies.bytes_scanned += bytes.len();
        for (offset, _) in bytes.windows(secret.len()).enumerate().filter(|(_, w)| *w == secret) {
            if mapping.locked_pool {
                copies.locked += 1;
            } else {
                let at = mapping.start + offset as u64;
                copies
                    .elsewhere
                    .push(format!("{at:#x} in {:?} {:#x}-{:#x}", mapping.name, mapping.start, mapping.end));
            }
        }
    }
    assert!(copies.bytes_scanned > 1 << 20, "too little of the daemon's memory was readable");
    copies
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

fn random_key() -> Vec<u8> {
    let mut key = vec![0u8; 32];
    std::fs::File::open("/dev/urandom").unwrap().read_exact(&mut key).unwrap();
    key
}

/// Asserts that `secret` is nowhere in the daemon but the locked pool; with `anywhere`, nowhere at
/// all (its use has ended, so even the locked copies must be gone).
#[track_caller]
fn assert_no_residue(daemon: &Daemon, secret: &[u8], what: &str, anywhere: bool) {
    let copies = scan(daemon, secret);
    eprintln!(
        "{what}: {} locked, {} elsewhere: {:?}",
        copies.locked,
        copies.elsewhere.len(),
        copies.elsewhere
    );
    assert!(copies.elsewhere.is_empty(), "{what}: copies outside locked memory at {:?}", copies.elsewhere);
    if anywhere {
        assert_eq!(copies.locked, 0, "{what}: copies left in the locked pool");
    }
}

/// The token's application, with the steps these tests repeat.
struct App {
    token: TokenApp,
}

impl App {
    async fn attach(daemon: &Daemon) -> Self {
        Self { token: TokenApp::attach(daemon, "key-residue-test").await }
    }

    async fn user_session(&mut self) -> u64 {
        let init = pb::InitTokenRequest { so_pin: b"87654321".to_vec(), label: b"residue".to_vec() };
        self.token.client.init_token(init).await.unwrap();
        let open = pb::OpenSessionRequest { flags: CKF_SERIAL_SESSION | CKF_RW_SESSION };
        let session =
            self.token.client.open_session(self.token.request(open)).await.unwrap().into_inner().session;
        let so = pb::LoginRequest { session, user_type: CKU_SO, pin: b"87654321".to_vec() };
        self.token.client.login(self.token.request(so)).await.unwrap();
        let pin = pb::InitPinRequest { session, pin: b"123456".to_vec() };
        self.token.client.init_pin(self.token.request(pin)).await.unwrap();
        self.token.client.logout(self.token.request(pb::LogoutRequest { session })).await.unwrap();
        let user = pb::LoginRequest { session, user_type: CKU_USER, pin: b"123456".to_vec() };
        self.token.client.login(self.token.request(user)).await.unwrap();
        session
    }

    async fn create_aes_key(&mut self, session: u64, value: &[u8]) -> u64 {
        let template = vec![
            attribute(CKA_CLASS, ulong(CKO_SECRET_KEY)),
            attribute(CKA_KEY_TYPE, ulong(CKK_AES)),
            attribute(CKA_TOKEN, vec![0]),
            attribute(CKA_SENSITIVE, vec![0]),
            attribute(CKA_EXTRACTABLE, vec![1]),
            attribute(CKA_VALUE, value.to_vec()),
        ];
        let request = pb::CreateObjectRequest { session, template };
        self.token.client.create_object(self.token.request(request)).await.unwrap().into_inner().object
    }

    async fn value_of(&mut self, session: u64, object: u64) -> Vec<u8> {
        let read = pb::GetAttributeValueRequest { session, object, types: vec![CKA_VALUE] };
        let mut found =
            self.token.client.get_attribute_value(self.token.request(read)).await.unwrap().into_inner();
        found.attributes.remove(0).value
    }

    async fn encrypt(&mut self, session: u64, key: u64) {
        let gcm = pb::GcmParameters { iv: vec![7; 12], iv_bits: 96, aad: Vec::new(), tag_bits: 128 };
        let mechanism =
            pb::Mechanism { r#type: CKM_AES_GCM, parameter: Some(pb::mechanism::Parameter::Gcm(gcm)) };
        let kind = pb::OperationKind::OperationEncrypt.into();
        let init = pb::OperationInitRequest { session, kind, mechanism: Some(mechanism), key };
        self.token.client.operation_init(self.token.request(init)).await.unwrap();
        let space = Some(pb::OutputSpace { length_only: false, capacity: 1024 });
        let data = pb::OperationDataRequest {
            session,
            kind,
            data: b"residue".to_vec(),
            space,
            ..Default::default()
        };
        let sealed =
            self.token.client.operation_one_shot(self.token.request(data)).await.unwrap().into_inner();
        assert!(sealed.output.len() >= 7 + 16, "ciphertext and tag: {} bytes", sealed.output.len());
    }

    /// Wraps `key` under a fresh AES key and unwraps it again: the unwrapped object's value is
    /// the known key once more.
    async fn wrap_and_unwrap(&mut self, session: u64, key: u64) -> u64 {
        let template = vec![
            attribute(CKA_CLASS, ulong(CKO_SECRET_KEY)),
            attribute(CKA_KEY_TYPE, ulong(CKK_AES)),
            attribute(CKA_VALUE_LEN, ulong(32)),
            attribute(CKA_TOKEN, vec![0]),
        ];
        let mechanism = pb::Mechanism { r#type: CKM_AES_KEY_GEN, parameter: None };
        let generate = pb::GenerateKeyRequest { session, mechanism: Some(mechanism), template };
        let kek =
            self.token.client.generate_key(self.token.request(generate)).await.unwrap().into_inner().object;
        let wrap_pad = || Some(pb::Mechanism { r#type: CKM_AES_KEY_WRAP_PAD, parameter: None });
        let space = Some(pb::OutputSpace { length_only: false, capacity: 1024 });
        let wrap = pb::WrapKeyRequest { session, mechanism: wrap_pad(), wrapping_key: kek, key, space };
        let wrapped = self.token.client.wrap_key(self.token.request(wrap)).await.unwrap().into_inner().output;
        let template = vec![
            attribute(CKA_CLASS, ulong(CKO_SECRET_KEY)),
            attribute(CKA_KEY_TYPE, ulong(CKK_AES)),
            attribute(CKA_TOKEN, vec![0]),
            attribute(CKA_SENSITIVE, vec![0]),
            attribute(CKA_EXTRACTABLE, vec![1]),
        ];
        let unwrap = pb::UnwrapKeyRequest {
            session,
            mechanism: wrap_pad(),
            unwrapping_key: kek,
            wrapped_key: wrapped,
            template,
        };
        self.token.client.unwrap_key(self.token.request(unwrap)).await.unwrap().into_inner().object
    }
}

fn attribute(kind: u64, value: Vec<u8>) -> pb::Attribute {
    pb::Attribute { r#type: kind, value }
}

fn ulong(value: u64) -> Vec<u8> {
    value.to_le_bytes().to_vec()
}

/// Later calls of another application, on a connection of its own.
async fn unrelated_calls(daemon: &Daemon) {
    let mut client = TokenClient::new(daemon.channel().await);
    for _ in 0..LATER_CALLS {
        client.get_token_info(pb::GetTokenInfoRequest {}).await.unwrap();
    }
}

#[tokio::test]
async fn a_key_made_through_pkcs11_leaves_no_copy_once_its_session_ends() {
    if !running_as_root() {
        eprintln!("skipped: reading a non-dumpable daemon's memory needs root");
        return;
    }
    let (daemon, _dir) = Daemon::start_dev();
    let mut app = App::attach(&daemon).await;
    let session = app.user_session().await;
    let mut key = random_key();
    let object = app.create_aes_key(session, &key).await;
    app.encrypt(session, object).await;
    let mut read_back = app.value_of(session, object).await;
    assert_eq!(read_back, key);
    let unwrapped = app.wrap_and_unwrap(session, object).await;
    let mut unwrapped_value = app.value_of(session, unwrapped).await;
    assert_eq!(unwrapped_value, key);
    app.token.client.close_session(app.token.request(pb::SessionRequest { session })).await.unwrap();
    // The test's own copies are gone before the scan; the daemon's are what is measured.
    read_back.fill(0);
    unwrapped_value.fill(0);
    // The application ends: its connection closes. While an idle connection stays open, its
    // HTTP/2 buffers still hold what it last carried (see docs/decisions.md).
    drop(app);
    unrelated_calls(&daemon).await;
    let secret = std::mem::take(&mut key);
    assert_no_residue(&daemon, &secret, "C_CreateObject/C_UnwrapKey/C_GetAttributeValue key", true);
}

/// Wraps `material` for `key_id` with OpenSSL (RSAES-OAEP-SHA-256) and imports it.
async fn import(daemon: &Daemon, key_id: &str, material: &[u8], dir: &Path) {
    let mut kms = daemon.kms().await;
    let request = pb::GetParametersForImportRequest {
        key_id: key_id.into(),
        wrapping_algorithm: "RSAES_OAEP_SHA_256".into(),
        wrapping_key_spec: "RSA_2048".into(),
    };
    let parameters = kms.get_parameters_for_import(request).await.unwrap().into_inner();
    let request = pb::ImportKeyMaterialRequest {
        key_id: key_id.into(),
        import_token: parameters.import_token,
        encrypted_key_material: arca_tests::wrap_for_import(&parameters.public_key, material, dir),
        valid_to: 0,
    };
    kms.import_key_material(request).await.unwrap();
}

#[tokio::test]
async fn imported_material_leaves_no_copy_once_deleted() {
    if !running_as_root() {
        eprintln!("skipped: reading a non-dumpable daemon's memory needs root");
        return;
    }
    let (daemon, dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    let request = pb::CreateKeyRequest { origin: pb::KeyOrigin::External.into(), ..Default::default() };
    let key_id = kms.create_key(request).await.unwrap().into_inner().key_metadata.unwrap().key_id;
    let material = random_key();
    import(&daemon, &key_id, &material, dir.path()).await;
    let encrypt =
        pb::EncryptRequest { key_id: key_id.clone(), plaintext: b"byok".to_vec(), ..Default::default() };
    let blob = kms.encrypt(encrypt).await.unwrap().into_inner().ciphertext_blob;
    let decrypt = pb::DecryptRequest { ciphertext_blob: blob, ..Default::default() };
    assert_eq!(kms.decrypt(decrypt).await.unwrap().into_inner().plaintext, b"byok");
    let delete = pb::DeleteImportedKeyMaterialRequest { key_id: key_id.clone() };
    kms.delete_imported_key_material(delete).await.unwrap();
    for _ in 0..LATER_CALLS {
        kms.describe_key(pb::DescribeKeyRequest { key_id: key_id.clone(), grant_tokens: Default::default() })
            .await
            .unwrap();
    }
    assert_no_residue(&daemon, &material, "imported AES material", true);
}

#[tokio::test]
async fn data_keys_handed_out_leave_no_copy_behind() {
    if !running_as_root() {
        eprintln!("skipped: reading a non-dumpable daemon's memory needs root");
        return;
    }
    let (daemon, _dir) = Daemon::start_dev();
    let mut kms = daemon.kms().await;
    let key_id = create_key(&mut kms, "envelope").await;
    let request = pb::GenerateDataKeyRequest {
        key_id: key_id.clone(),
        key_spec: pb::DataKeySpec::Aes256.into(),
        ..Default::default()
    };
    let data_key = kms.generate_data_key(request).await.unwrap().into_inner();
    let decrypt = pb::DecryptRequest { ciphertext_blob: data_key.ciphertext_blob, ..Default::default() };
    let mut plaintext = kms.decrypt(decrypt).await.unwrap().into_inner().plaintext;
    assert_eq!(plaintext, data_key.plaintext);
    plaintext.fill(0);
    // The connection that carried the plaintexts closes (an idle open one keeps its last frames
    // in its HTTP/2 buffers, see docs/decisions.md); the later calls come on another.
    drop(kms);
    let mut later = daemon.kms().await;
    for _ in 0..LATER_CALLS {
        later
            .describe_key(pb::DescribeKeyRequest { key_id: key_id.clone(), grant_tokens: Default::default() })
            .await
            .unwrap();
    }
    assert_no_residue(&daemon, &data_key.plaintext, "GenerateDataKey/Decrypt plaintext", true);
}

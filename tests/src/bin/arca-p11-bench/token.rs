//! The module, its token and the objects the bench works with.

use std::path::Path;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use crate::{BenchError, Op, p11};

/// DER of the P-256 curve's OID, 1.2.840.10045.3.1.7 (CKA_EC_PARAMS).
const P256_OID: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// What `--so-pin` asks for, and where to work.
#[derive(Debug)]
pub struct TokenSetup {
    pub pin: String,
    pub so_pin: Option<String>,
    pub label: String,
    pub slot: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyStorage {
    Token,
    Session,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FindKind {
    /// AES-128 secret keys (C_GenerateKey).
    Aes128,
    /// CKO_DATA objects of 16 bytes (C_CreateObject).
    Data,
}

impl FindKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Aes128 => "AES-128 key",
            Self::Data => "CKO_DATA",
        }
    }
}

/// An initialised module and the slot of its token.
#[derive(Debug)]
pub struct Module {
    pub pkcs11: Pkcs11,
    pub slot: Slot,
    pub description: String,
}

impl Module {
    pub fn open(path: &Path, setup: &TokenSetup) -> Result<Self, BenchError> {
        let pkcs11 = Pkcs11::new(path).map_err(p11(format!("cannot load {}", path.display())))?;
        pkcs11
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(p11("C_Initialize"))?;
        let info = pkcs11.get_library_info().map_err(p11("C_GetInfo"))?;
        let description = format!("{} {}", info.manufacturer_id(), info.library_description());
        let slot = match &setup.so_pin {
            Some(so_pin) => init_token(&pkcs11, setup, so_pin)?,
            None => find_slot(&pkcs11, setup.slot, None)?,
        };
        Ok(Self { pkcs11, slot, description })
    }

    /// A read-write session logged in as the user; the login holds for every session of this
    /// process while it stays open.
    pub fn login(&self, pin: &str) -> Result<Session, BenchError> {
        let session = self.pkcs11.open_rw_session(self.slot).map_err(p11("C_OpenSession"))?;
        session.login(UserType::User, Some(&AuthPin::from(pin))).map_err(p11("C_Login as the user"))?;
        Ok(session)
    }
}

/// C_InitToken on the first slot whose token is not initialised (else the first slot with a
/// token), then C_InitPIN as the SO; returns the token's slot.
fn init_token(pkcs11: &Pkcs11, setup: &TokenSetup, so_pin: &str) -> Result<Slot, BenchError> {
    let slots = pkcs11.get_slots_with_token().map_err(p11("C_GetSlotList"))?;
    let fresh = slots
        .iter()
        .copied()
        .find(|slot| pkcs11.get_token_info(*slot).is_ok_and(|info| !info.token_initialized()));
    let slot = match setup.slot {
        Some(id) => slots.iter().copied().find(|slot| slot.id() == id),
        None => fresh.or_else(|| slots.first().copied()),
    }
    .ok_or_else(|| BenchError::Setup("no slot with a token to initialise".to_owned()))?;
    let so_pin = AuthPin::from(so_pin);
    pkcs11.init_token(slot, &so_pin, &setup.label).map_err(p11("C_InitToken"))?;
    // SoftHSM2 gives an initialised token a new slot id: look it up again by label.
    let slot = find_slot(pkcs11, None, Some(&setup.label))?;
    let session = pkcs11.open_rw_session(slot).map_err(p11("C_OpenSession"))?;
    session.login(UserType::So, Some(&so_pin)).map_err(p11("C_Login as the SO"))?;
    session.init_pin(&AuthPin::from(setup.pin.as_str())).map_err(p11("C_InitPIN"))?;
    session.logout().map_err(p11("C_Logout"))?;
    Ok(slot)
}

/// The slot with an initialised token: this id, else the token with this label, else the first.
fn find_slot(pkcs11: &Pkcs11, id: Option<u64>, label: Option<&str>) -> Result<Slot, BenchError> {
    let slots = pkcs11.get_slots_with_initialized_token().map_err(p11("C_GetSlotList"))?;
    let labelled = |slot: &Slot| pkcs11.get_token_info(*slot).is_ok_and(|info| Some(info.label()) == label);
    let found = match (id, label) {
        (Some(id), _) => slots.iter().copied().find(|slot| slot.id() == id),
        (None, Some(_)) => slots.iter().copied().find(labelled),
        (None, None) => slots.first().copied(),
    };
    found.ok_or_else(|| BenchError::Setup("no slot with an initialised token (use --so-pin)".to_owned()))
}

/// The signing and encryption keys the chosen operations need.
#[derive(Debug, Default)]
pub struct Keys {
    pub ecdsa: Option<ObjectHandle>,
    pub rsa: Option<ObjectHandle>,
    pub aes: Option<ObjectHandle>,
    /// Token objects to destroy at the end.
    made: Vec<ObjectHandle>,
}

impl Keys {
    pub fn create(session: &Session, ops: &[Op], storage: KeyStorage) -> Result<Self, BenchError> {
        let token = storage == KeyStorage::Token;
        let name = |what: &str| format!("arca-p11-bench-{}-{what}", std::process::id()).into_bytes();
        let private = |what: &str| {
            vec![
                Attribute::Token(token),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Sign(true),
                Attribute::Label(name(what)),
                Attribute::Id(name(what)),
            ]
        };
        let public = |what: &str| {
            vec![
                Attribute::Token(token),
                Attribute::Verify(true),
                Attribute::Label(name(what)),
                Attribute::Id(name(what)),
            ]
        };
        let mut keys = Self::default();
        if ops.contains(&Op::EcdsaP256) {
            let mut template = public("p256");
            template.push(Attribute::EcParams(P256_OID.to_vec()));
            let (public, private) = session
                .generate_key_pair(&Mechanism::EccKeyPairGen, &template, &private("p256"))
                .map_err(p11("C_GenerateKeyPair P-256"))?;
            keys.made.extend([public, private]);
            keys.ecdsa = Some(private);
        }
        if ops.contains(&Op::Rsa2048) {
            let mut template = public("rsa2048");
            template.extend([Attribute::ModulusBits(2048.into()), Attribute::PublicExponent(vec![1, 0, 1])]);
            let (public, private) = session
                .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &template, &private("rsa2048"))
                .map_err(p11("C_GenerateKeyPair RSA-2048"))?;
            keys.made.extend([public, private]);
            keys.rsa = Some(private);
        }
        if ops.contains(&Op::AesGcm4k) || ops.contains(&Op::AesEcb4k) {
            let template = [
                Attribute::Token(token),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::ValueLen(32.into()),
                Attribute::Label(name("aes256")),
                Attribute::Id(name("aes256")),
            ];
            let aes = session
                .generate_key(&Mechanism::AesKeyGen, &template)
                .map_err(p11("C_GenerateKey AES-256"))?;
            keys.made.push(aes);
            keys.aes = Some(aes);
        }
        if !token {
            keys.made.clear(); // session objects go with the session
        }
        Ok(keys)
    }

    /// Destroys the token objects made for the run; a failure is reported, not fatal.
    pub fn destroy(self, session: &Session) {
        for handle in self.made {
            if let Err(error) = session.destroy_object(handle) {
                crate::note(&format!("cannot destroy a key made for the run: {error}"));
            }
        }
    }
}

/// The label of find object `index`.
pub fn find_label(index: u32) -> Vec<u8> {
    format!("arca-p11-find-{index:07}").into_bytes()
}

/// Makes `count` small session objects with distinct labels; returns how long that took.
pub fn make_find_objects(session: &Session, count: u32, kind: FindKind) -> Result<Duration, BenchError> {
    let started = Instant::now();
    for index in 0..count {
        let label = Attribute::Label(find_label(index));
        let made = match kind {
            FindKind::Aes128 => session.generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Token(false),
                    Attribute::Sensitive(true),
                    Attribute::Encrypt(true),
                    Attribute::ValueLen(16.into()),
                    label,
                ],
            ),
            FindKind::Data => session.create_object(&[
                Attribute::Class(ObjectClass::DATA),
                Attribute::Token(false),
                Attribute::Application(b"arca-p11-bench".to_vec()),
                Attribute::Value(vec![0x42; 16]),
                label,
            ]),
        };
        made.map_err(p11(format!("making find object {index}")))?;
    }
    Ok(started.elapsed())
}

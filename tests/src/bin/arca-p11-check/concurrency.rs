//! Many threads, many sessions: every result must still be right.

use std::time::{Duration, Instant};

use cryptoki::context::Pkcs11;
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use cryptoki::slot::Slot;

use crate::keys::{self, Pair};
use crate::objects::fingerprint;
use crate::suite::{At, Ctx, Fail, Outcome, describe, ensure, message};

const THREADS: usize = 8;
const SESSIONS_PER_THREAD: usize = 4;
const RUN_FOR: Duration = Duration::from_secs(2);

/// The shared keys and the answers the deterministic operations must give.
#[derive(Debug, Clone)]
struct Work {
    aes: ObjectHandle,
    ec: Pair,
    mac: ObjectHandle,
    messages: Vec<Vec<u8>>,
    macs: Vec<Vec<u8>>,
    blocks: Vec<Vec<u8>>,
}

fn one_round(s: &Session, work: &Work, thread: usize, round: usize) -> Result<(), String> {
    let fail = |what: &str, e: cryptoki::error::Error| {
        format!("thread {thread} round {round}: {what}: {}", describe(&e))
    };
    let j = (thread + round) % work.messages.len();
    let msg = work.messages.get(j).ok_or("no message")?;
    let mac = s.sign(&Mechanism::Sha256Hmac, work.mac, msg).map_err(|e| fail("HMAC", e))?;
    if Some(&mac) != work.macs.get(j) {
        return Err(format!("thread {thread} round {round}: HMAC of message {j} is wrong"));
    }
    let block = s.encrypt(&Mechanism::AesEcb, work.aes, &[0x5A; 16]).map_err(|e| fail("AES-ECB", e))?;
    if Some(&block) != work.blocks.first() {
        return Err(format!("thread {thread} round {round}: AES-ECB gave a wrong block"));
    }
    let mut iv = [0u8; 12];
    iv[..8].copy_from_slice(&((thread << 32) | round).to_be_bytes());
    let gcm = Mechanism::AesGcm(GcmParams::new(&mut iv, msg, 128.into()).map_err(|e| fail("GcmParams", e))?);
    let sealed = s.encrypt(&gcm, work.aes, msg).map_err(|e| fail("GCM encrypt", e))?;
    let opened = s.decrypt(&gcm, work.aes, &sealed).map_err(|e| fail("GCM decrypt", e))?;
    if &opened != msg {
        return Err(format!("thread {thread} round {round}: GCM round trip is wrong"));
    }
    let digest = [j as u8; 32];
    let signature = s.sign(&Mechanism::Ecdsa, work.ec.private, &digest).map_err(|e| fail("ECDSA sign", e))?;
    s.verify(&Mechanism::Ecdsa, work.ec.public, &digest, &signature).map_err(|e| fail("ECDSA verify", e))?;
    let other = [j as u8 ^ 0xFF; 32];
    if s.verify(&Mechanism::Ecdsa, work.ec.public, &other, &signature).is_ok() {
        return Err(format!("thread {thread} round {round}: a signature verified for another digest"));
    }
    Ok(())
}

fn worker(pkcs11: &Pkcs11, slot: Slot, work: &Work, thread: usize) -> Result<usize, String> {
    let mut sessions = Vec::new();
    for _ in 0..SESSIONS_PER_THREAD {
        sessions
            .push(pkcs11.open_rw_session(slot).map_err(|e| format!("thread {thread}: {}", describe(&e)))?);
    }
    let start = Instant::now();
    let mut rounds = 0;
    while start.elapsed() < RUN_FOR {
        for s in &sessions {
            one_round(s, work, thread, rounds)?;
            rounds += 1;
        }
    }
    Ok(rounds)
}

fn prepare(ctx: &Ctx) -> Result<Work, Fail> {
    let s = ctx.s();
    let aes = keys::gen_aes(&s, 32, false, "concurrency-aes", &[])?;
    let ec = ctx.ec()?;
    let key = message(32);
    let mac = keys::import_secret(&s, &key, "concurrency-mac", &[])?;
    let messages: Vec<Vec<u8>> = (0..8).map(|i| message(10 + i * 17)).collect();
    let mut macs = Vec::new();
    for msg in &messages {
        macs.push(crate::openssl::hmac(256, &key, msg)?);
    }
    let blocks = vec![fingerprint(&s, aes)?];
    Ok(Work { aes, ec, mac, messages, macs, blocks })
}

pub fn concurrency(ctx: &Ctx) -> Outcome {
    let work = prepare(ctx)?;
    let slot = ctx.slot;
    let outcomes: Vec<Result<usize, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (pkcs11, work) = (ctx.pkcs11.clone(), work.clone());
                scope.spawn(move || worker(&pkcs11, slot, &work, thread))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a worker panicked".into()))).collect()
    });
    let mut total = 0;
    for outcome in outcomes {
        match outcome {
            Ok(rounds) => {
                ensure!(rounds >= SESSIONS_PER_THREAD, "a thread finished only {rounds} rounds");
                total += rounds;
            }
            Err(why) => return crate::suite::fail(why),
        }
    }
    ctx.note(format!("{total} rounds of HMAC+ECB+GCM+ECDSA over {} sessions", THREADS * SESSIONS_PER_THREAD));
    let s = ctx.s();
    s.destroy_object(work.aes).at("C_DestroyObject")?;
    s.destroy_object(work.mac).at("C_DestroyObject")?;
    Ok(())
}

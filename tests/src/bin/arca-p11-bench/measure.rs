//! Timed loops: one session per thread for the cryptographic operations, one session for
//! C_FindObjects (the objects searched are its session objects).
//!
//! A call is cryptoki's single-part pattern, as most applications make it: C_SignInit (or
//! C_EncryptInit), C_Sign with a NULL buffer to learn the output length, then C_Sign. A module that
//! answers the length query itself saves a round trip; one that forwards it pays for it.

use std::num::NonZeroUsize;
use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant};

use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

use crate::token::{FindKind, Keys, Module, find_label};
use crate::{BenchError, Op, p11};

/// The 4 KiB AES plaintext (GCM and ECB).
const AES_PLAINTEXT: usize = 4096;

#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub warmup: Duration,
    pub measured: Duration,
}

/// Latencies of the calls that completed inside the measured window.
#[derive(Debug)]
pub struct Sample {
    sorted: Vec<Duration>,
    seconds: f64,
}

impl Sample {
    fn new(mut latencies: Vec<Duration>, window: Window) -> Self {
        latencies.sort_unstable();
        Self { sorted: latencies, seconds: window.measured.as_secs_f64() }
    }

    pub fn rate(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let count = self.sorted.len() as f64;
        count / self.seconds
    }

    /// The nearest-rank percentile.
    pub fn percentile(&self, p: usize) -> Duration {
        let rank = (self.sorted.len() * p).div_ceil(100).max(1);
        self.sorted.get(rank - 1).copied().unwrap_or_default()
    }

    pub fn max(&self) -> Duration {
        self.sorted.last().copied().unwrap_or_default()
    }
}

/// When a call that ended at `end` counts, and whether the loop goes on.
struct Clock {
    from: Instant,
    until: Instant,
}

impl Clock {
    fn starting_now(window: Window, start: &OnceLock<Instant>) -> Self {
        let begin = *start.get_or_init(Instant::now);
        Self { from: begin + window.warmup, until: begin + window.warmup + window.measured }
    }

    /// Runs `call` until the window closes; returns the latencies of the calls it counts.
    fn run(&self, mut call: impl FnMut() -> Result<(), BenchError>) -> Result<Vec<Duration>, BenchError> {
        let mut latencies = Vec::new();
        loop {
            let started = Instant::now();
            call()?;
            let ended = Instant::now();
            if ended > self.until {
                return Ok(latencies);
            }
            if ended >= self.from {
                latencies.push(ended - started);
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Call {
    Ecdsa,
    Rsa,
    Gcm,
    Ecb,
}

/// One thread's calls: its input and, for GCM, its IV counter.
struct Caller {
    call: Call,
    key: ObjectHandle,
    input: Vec<u8>,
    thread: u32,
    counter: u64,
}

impl Caller {
    fn call(&mut self, session: &Session) -> Result<(), BenchError> {
        let output = match self.call {
            Call::Ecdsa => {
                session.sign(&Mechanism::Ecdsa, self.key, &self.input).map_err(p11("C_Sign ECDSA"))?
            }
            Call::Rsa => {
                session.sign(&Mechanism::Sha256RsaPkcs, self.key, &self.input).map_err(p11("C_Sign RSA"))?
            }
            Call::Gcm => {
                // A fresh IV per call: the thread number, then a counter.
                self.counter += 1;
                let mut iv = [0u8; 12];
                iv[..4].copy_from_slice(&self.thread.to_be_bytes());
                iv[4..].copy_from_slice(&self.counter.to_be_bytes());
                let params = GcmParams::new(&mut iv, &[], 128.into()).map_err(p11("CK_GCM_PARAMS"))?;
                session
                    .encrypt(&Mechanism::AesGcm(params), self.key, &self.input)
                    .map_err(p11("C_Encrypt GCM"))?
            }
            Call::Ecb => {
                session.encrypt(&Mechanism::AesEcb, self.key, &self.input).map_err(p11("C_Encrypt ECB"))?
            }
        };
        if output.is_empty() {
            return Err(BenchError::Setup(format!("{:?} returned nothing", self.call)));
        }
        Ok(())
    }
}

/// Runs `op` on `threads` threads, each with its own session, through the window.
pub fn measure(
    module: &Module,
    keys: &Keys,
    op: Op,
    threads: u32,
    window: Window,
) -> Result<Sample, BenchError> {
    let (call, key) = match op {
        Op::EcdsaP256 => (Call::Ecdsa, keys.ecdsa),
        Op::Rsa2048 => (Call::Rsa, keys.rsa),
        Op::AesGcm4k => (Call::Gcm, keys.aes),
        Op::AesEcb4k => (Call::Ecb, keys.aes),
        Op::FindObjects => return Err(BenchError::Setup("find-objects runs in one session".to_owned())),
    };
    let key = key.ok_or_else(|| BenchError::Setup(format!("no key for {}", op.label())))?;
    let input = match op {
        Op::AesGcm4k | Op::AesEcb4k => vec![0x5a; AES_PLAINTEXT],
        _ => vec![0xd1; 32],
    };
    let (barrier, start) = (Barrier::new(threads as usize), OnceLock::new());
    let results: Vec<Result<Vec<Duration>, BenchError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let (barrier, start, input) = (&barrier, &start, input.clone());
                scope.spawn(move || {
                    let session = module.pkcs11.open_ro_session(module.slot).map_err(p11("C_OpenSession"));
                    barrier.wait(); // every thread reaches it, whether its session opened or not
                    let session = session?;
                    let mut caller = Caller { call, key, input, thread, counter: 0 };
                    Clock::starting_now(window, start).run(|| caller.call(&session))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err(BenchError::Setup("a thread panicked".into()))))
            .collect()
    });
    let mut latencies = Vec::new();
    for result in results {
        latencies.extend(result?);
    }
    Ok(Sample::new(latencies, window))
}

/// C_FindObjectsInit + C_FindObjects + C_FindObjectsFinal, by label (one match among `count`)
/// and by class (every match in one C_FindObjects call); one row each.
pub fn find_objects(
    session: &Session,
    count: u32,
    kind: FindKind,
    window: Window,
) -> Result<Vec<(String, Sample)>, BenchError> {
    let class = match kind {
        FindKind::Aes128 => ObjectClass::SECRET_KEY,
        FindKind::Data => ObjectClass::DATA,
    };
    let find = |template: &[Attribute], room: usize| -> Result<usize, BenchError> {
        let room = NonZeroUsize::new(room).unwrap_or(NonZeroUsize::MIN);
        let found = session.iter_objects_with_cache_size(template, room).map_err(p11("C_FindObjectsInit"))?;
        let handles: Vec<ObjectHandle> = found.collect::<Result<_, _>>().map_err(p11("C_FindObjects"))?;
        Ok(handles.len())
    };
    let mut rows = Vec::new();
    let mut index = 0u32;
    let by_label = Clock::starting_now(window, &OnceLock::new()).run(|| {
        index = index.wrapping_add(7919) % count; // a different object each time
        match find(&[Attribute::Class(class), Attribute::Label(find_label(index))], 16)? {
            1 => Ok(()),
            n => Err(BenchError::Setup(format!("the search by label found {n} objects, not 1"))),
        }
    })?;
    rows.push((format!("C_FindObjects by label, 1 of {count}"), Sample::new(by_label, window)));
    let mut returned = 0;
    let all = Clock::starting_now(window, &OnceLock::new()).run(|| {
        returned = find(&[Attribute::Class(class)], count as usize + 64)?;
        match returned >= count as usize {
            true => Ok(()),
            false => {
                Err(BenchError::Setup(format!("the search by class found {returned} objects, not {count}")))
            }
        }
    })?;
    let class_name = if kind == FindKind::Data { "data" } else { "secret key" };
    crate::note(&format!("the search by class={class_name} returns {returned} objects"));
    rows.push((
        format!("C_FindObjects class={class_name}, all of {count} in one call"),
        Sample::new(all, window),
    ));
    Ok(rows)
}

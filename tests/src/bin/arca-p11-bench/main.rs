//! arca-p11-bench: load one PKCS#11 module (Arca's or SoftHSM2's), create the keys it needs and
//! print ops/s and latency percentiles per operation as Markdown table rows, at each thread count
//! (one session per thread). `scripts/bench-pkcs11.sh` runs it against both modules.
#![forbid(unsafe_code)]

mod measure;
mod token;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum, value_parser};

use crate::measure::{Sample, Window, find_objects, measure};
use crate::token::{FindKind, KeyStorage, Module, TokenSetup};

/// Measure a PKCS#11 module: signatures, AES-GCM and C_FindObjects over many objects.
#[derive(Debug, Parser)]
#[command(name = "arca-p11-bench", version)]
struct Args {
    /// The PKCS#11 module to load (its settings come from the environment: ARCA_SOCKET,
    /// SOFTHSM2_CONF).
    #[arg(long, value_name = "PATH")]
    module: PathBuf,
    /// The user PIN.
    #[arg(long, value_name = "PIN", default_value = "123456")]
    pin: String,
    /// Initialise the token first with this SO PIN (C_InitToken, then C_InitPIN with --pin).
    #[arg(long, value_name = "PIN")]
    so_pin: Option<String>,
    /// The token's label, for --so-pin.
    #[arg(long, value_name = "TEXT", default_value = "arca-bench")]
    token_label: String,
    /// The slot [default: the first slot with an initialised token].
    #[arg(long, value_name = "ID")]
    slot: Option<u64>,
    /// Thread counts to measure each operation at (each thread has its own session).
    #[arg(long, value_name = "N,…", value_delimiter = ',', default_value = "1,8",
          value_parser = value_parser!(u32).range(1..=1024))]
    threads: Vec<u32>,
    /// Measured seconds per operation and thread count.
    #[arg(long, value_name = "SECS", default_value_t = 5, value_parser = value_parser!(u64).range(1..=3600))]
    seconds: u64,
    /// Unmeasured seconds before each measurement.
    #[arg(long, value_name = "SECS", default_value_t = 1, value_parser = value_parser!(u64).range(..=600))]
    warmup: u64,
    /// The operations to measure, in this order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "ecdsa-p256,rsa-2048,aes-gcm-4k,find-objects"
    )]
    ops: Vec<Op>,
    /// How many objects C_FindObjects searches among.
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = value_parser!(u32).range(1..=1_000_000))]
    find_objects: u32,
    /// The objects made for find-objects: AES-128 session keys or CKO_DATA session objects.
    #[arg(long, value_enum, default_value = "aes128")]
    find_kind: FindKind,
    /// Whether the signing and encryption keys are token objects (deleted afterwards) or
    /// session objects.
    #[arg(long, value_enum, default_value = "token")]
    keys: KeyStorage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Op {
    /// C_Sign CKM_ECDSA of a 32-byte digest with a P-256 key.
    EcdsaP256,
    /// C_Sign CKM_SHA256_RSA_PKCS of 32 bytes with an RSA-2048 key.
    #[value(name = "rsa-2048")]
    Rsa2048,
    /// C_EncryptInit CKM_AES_GCM (fresh 12-byte IV, 128-bit tag) + C_Encrypt of 4 KiB, AES-256.
    #[value(name = "aes-gcm-4k")]
    AesGcm4k,
    /// C_EncryptInit CKM_AES_ECB + C_Encrypt of 4 KiB, AES-256: the AES mode p11-kit 0.24's RPC
    /// carries (it refuses the parameters of CKM_AES_GCM, CKM_AES_CBC and CKM_AES_CBC_PAD).
    #[value(name = "aes-ecb-4k")]
    AesEcb4k,
    /// C_FindObjectsInit + C_FindObjects + C_FindObjectsFinal by label, and by class (all).
    FindObjects,
}

impl Op {
    pub fn label(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "C_Sign ECDSA P-256 (32-byte digest)",
            Self::Rsa2048 => "C_Sign SHA256-RSA-PKCS 2048 (32 bytes)",
            Self::AesGcm4k => "C_Encrypt AES-256-GCM 4 KiB",
            Self::AesEcb4k => "C_Encrypt AES-256-ECB 4 KiB",
            Self::FindObjects => "C_FindObjects",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{context}: {source}")]
    Pkcs11 {
        context: String,
        #[source]
        source: cryptoki::error::Error,
    },
    #[error("{0}")]
    Setup(String),
    #[error("cannot write to stdout: {0}")]
    Stdout(#[from] std::io::Error),
}

/// Wraps a cryptoki error with what was being done.
pub fn p11(context: impl Into<String>) -> impl FnOnce(cryptoki::error::Error) -> BenchError {
    let context = context.into();
    move |source| BenchError::Pkcs11 { context, source }
}

fn millis(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1000.0)
}

/// `| op | threads | ops/s | p50 | p99 | max |`
fn row(label: &str, threads: u32, sample: &Sample) -> String {
    let rate = sample.rate();
    let decimals = if rate < 100.0 { 1 } else { 0 };
    format!(
        "| {label} | {threads} | {rate:.decimals$} | {} | {} | {} |",
        millis(sample.percentile(50)),
        millis(sample.percentile(99)),
        millis(sample.max()),
    )
}

fn print_line(line: &str) -> Result<(), BenchError> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}

fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "arca-p11-bench: {text}");
}

fn run(args: &Args) -> Result<(), BenchError> {
    let setup = TokenSetup {
        pin: args.pin.clone(),
        so_pin: args.so_pin.clone(),
        label: args.token_label.clone(),
        slot: args.slot,
    };
    let module = Module::open(&args.module, &setup)?;
    note(&format!("{} ({}), slot {}", module.description, args.module.display(), module.slot.id()));
    let session = module.login(&args.pin)?;
    let keys = token::Keys::create(&session, &args.ops, args.keys)?;
    let window =
        Window { warmup: Duration::from_secs(args.warmup), measured: Duration::from_secs(args.seconds) };
    print_line("| op | threads | ops/s | p50 | p99 | max |\n|---|---:|---:|---:|---:|---:|")?;
    for &op in &args.ops {
        if op == Op::FindObjects {
            let made = token::make_find_objects(&session, args.find_objects, args.find_kind)?;
            let (count, kind, seconds) = (args.find_objects, args.find_kind.name(), made.as_secs_f64());
            note(&format!("{count} {kind} session objects made in {seconds:.2} s"));
            for (label, sample) in find_objects(&session, args.find_objects, args.find_kind, window)? {
                print_line(&row(&label, 1, &sample))?;
            }
            continue;
        }
        for &threads in &args.threads {
            let sample = measure(&module, &keys, op, threads, window)?;
            print_line(&row(op.label(), threads, &sample))?;
        }
    }
    keys.destroy(&session);
    Ok(())
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            note(&error.to_string());
            ExitCode::FAILURE
        }
    }
}

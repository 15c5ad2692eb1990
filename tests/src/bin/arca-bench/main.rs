//! arca-bench: drive a running arcad over gRPC and print throughput and latency per operation as
//! markdown table rows. With `--start-dev` it runs its own `arcad --dev` in a temporary directory.
#![forbid(unsafe_code)]

mod aws_load;
mod dev_daemon;
mod load;
mod ops;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use arca_proto::v1::key_management_client::KeyManagementClient;
use arca_proto::{ConnectError, DEFAULT_SOCKET, DaemonEndpoint};
use clap::{Parser, value_parser};

use crate::aws_load::{AwsTarget, LoadFront};
use crate::dev_daemon::{DevDaemon, default_arcad};
use crate::load::{Keys, Window, Workload, measure, percentile};
use crate::ops::{CALL_TIMEOUT, Op};

/// Load-test an Arca daemon: KMS operations from many concurrent callers.
#[derive(Debug, Parser)]
#[command(name = "arca-bench", version)]
struct Args {
    /// The daemon's Unix socket (ignored with --start-dev); several, comma-separated, spread the
    /// connections round-robin over nodes sharing one store.
    #[arg(long, value_name = "PATH", value_delimiter = ',', default_value = DEFAULT_SOCKET)]
    socket: Vec<PathBuf>,
    /// Concurrent callers.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = value_parser!(u32).range(1..=100_000))]
    clients: u32,
    /// HTTP/2 connections, shared round-robin by the callers.
    #[arg(long, value_name = "M", default_value_t = 4, value_parser = value_parser!(u32).range(1..=1024))]
    connections: u32,
    /// Measured seconds per operation.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = value_parser!(u64).range(1..=3600))]
    duration: u64,
    /// Unmeasured seconds before each measurement.
    #[arg(long, value_name = "SECS", default_value_t = 1, value_parser = value_parser!(u64).range(..=600))]
    warmup: u64,
    /// The operations to measure, in this order.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "encrypt,decrypt,generate-data-key")]
    ops: Vec<Op>,
    /// The fronts to drive, each over every operation it serves (the AWS front: Encrypt and
    /// GenerateDataKey), in the same run.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "grpc")]
    fronts: Vec<Front>,
    /// The AWS front's endpoint (`http://127.0.0.1:4599`; found by itself with --start-dev).
    #[arg(long, value_name = "URL")]
    aws_endpoint: Option<String>,
    /// An AWS shared-credentials file with the access key to sign with (found with --start-dev).
    #[arg(long, value_name = "FILE")]
    aws_credentials: Option<PathBuf>,
    /// Start `arcad --dev --data-dir <temporary directory>` for the run and kill it afterwards.
    #[arg(long)]
    start_dev: bool,
    /// The arcad binary for --start-dev [default: `arcad` next to this executable].
    #[arg(long, value_name = "PATH", requires = "start_dev")]
    arcad: Option<PathBuf>,
}

/// A front of the daemon the load goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Front {
    /// The gRPC KeyManagement service over the Unix socket.
    Grpc,
    /// The AWS KMS JSON protocol, SigV4-signed, over HTTP/1.1.
    Aws,
    /// The external key store API (Encrypt only, as AWS KMS calls it for a data key).
    Xks,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{}", chain(.0))]
    Connect(#[from] ConnectError),
    #[error("{op} failed: {code:?}: {message}", code = .status.code(), message = .status.message())]
    Call { op: &'static str, status: tonic::Status },
    #[error("{0} took longer than {CALL_TIMEOUT:?}")]
    Timeout(&'static str),
    #[error("{0}")]
    Setup(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("a caller task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

pub fn io_error(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
    let context = context.into();
    move |source| BenchError::Io { context, source }
}

/// An error and its causes, as `outer: inner` (tonic's transport errors say little alone).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

/// `| op | clients | ops/s | p50 | p99 | max |` for sorted latencies.
fn row(label: &str, args: &Args, sorted: &[Duration]) -> String {
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let rate = sorted.len() as f64 / args.duration as f64;
    // Slow operations (RSA key generation) keep a decimal.
    let decimals = if rate < 100.0 { 1 } else { 0 };
    format!(
        "| {label} | {} | {rate:.decimals$} | {} | {} | {} |",
        args.clients,
        millis(percentile(sorted, 50)),
        millis(percentile(sorted, 99)),
        millis(sorted.last().copied().unwrap_or_default()),
    )
}

fn print_line(line: &str) -> Result<(), BenchError> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").and_then(|()| stdout.flush()).map_err(io_error("cannot write to stdout"))
}

async fn bench(args: &Args, sockets: Vec<PathBuf>, aws: Option<AwsTarget>) -> Result<(), BenchError> {
    let endpoints: Vec<DaemonEndpoint> = sockets.into_iter().map(DaemonEndpoint::Unix).collect();
    let mut channels = Vec::new();
    for endpoint in endpoints.iter().cycle().take(args.connections as usize) {
        channels.push(endpoint.connect().await?);
    }
    let endpoint = endpoints.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    let first = channels.first().ok_or_else(|| BenchError::Setup("no connection".to_owned()))?;
    let mut client = KeyManagementClient::new(first.clone());
    let keys = Keys::create(&mut client, &args.ops).await?;
    let _ = writeln!(
        std::io::stderr().lock(),
        "arca-bench: {endpoint}, keys {}; {} clients over {} connections; {} s warmup + {} s per op",
        keys.describe(),
        args.clients,
        args.connections,
        args.warmup,
        args.duration
    );
    print_line("| op | clients | ops/s | p50 | p99 | max |\n|---|---:|---:|---:|---:|---:|")?;
    for &op in &args.ops {
        let workload = Workload::prepare(&mut client, op, &keys).await?;
        if args.fronts.contains(&Front::Grpc) {
            let window = Window::after(Duration::from_secs(args.warmup), Duration::from_secs(args.duration));
            let latencies = measure(&workload, &channels, args.clients as usize, window).await?;
            print_line(&row(op.label(), args, &latencies))?;
        }
        for (front, label, wanted) in [
            (LoadFront::Aws, "AWS JSON", args.fronts.contains(&Front::Aws)),
            (LoadFront::Xks, "XKS", args.fronts.contains(&Front::Xks) && op == Op::Encrypt),
        ] {
            let Some(target) = aws.as_ref().filter(|_| wanted) else { continue };
            let window = Window::after(Duration::from_secs(args.warmup), Duration::from_secs(args.duration));
            let clients = args.clients as usize;
            let latencies = aws_load::measure(target, front, op, &workload.key_id, clients, window).await?;
            print_line(&row(&format!("{} ({label})", op.label()), args, &latencies))?;
        }
    }
    Ok(())
}

/// The AWS front to drive, when `--fronts` names it.
fn aws_target(args: &Args, daemon: Option<&DevDaemon>) -> Result<Option<AwsTarget>, BenchError> {
    if !args.fronts.iter().any(|front| matches!(front, Front::Aws | Front::Xks)) {
        return Ok(None);
    }
    let (endpoint, credentials) = match (daemon, &args.aws_endpoint, &args.aws_credentials) {
        (Some(daemon), _, _) => (daemon.aws_endpoint.clone(), daemon.aws_credentials()?),
        (None, Some(endpoint), Some(file)) => {
            let text =
                std::fs::read_to_string(file).map_err(io_error(format!("cannot read {}", file.display())))?;
            (endpoint.clone(), text)
        }
        _ => {
            return Err(BenchError::Setup(
                "--fronts aws,xks need --aws-endpoint and --aws-credentials".into(),
            ));
        }
    };
    AwsTarget::new(&endpoint, &credentials).map(Some)
}

async fn run(args: Args) -> Result<(), BenchError> {
    if !args.start_dev {
        let aws = aws_target(&args, None)?;
        return bench(&args, args.socket.clone(), aws).await;
    }
    let arcad = match &args.arcad {
        Some(path) => path.clone(),
        None => default_arcad()?,
    };
    let daemon = DevDaemon::start(&arcad).await?;
    let aws = aws_target(&args, Some(&daemon))?;
    let outcome = bench(&args, vec![daemon.socket.clone()], aws).await;
    drop(daemon);
    outcome
}

fn main() -> ExitCode {
    let args = Args::parse();
    // One caller gains nothing from worker threads and pays a cross-thread wake-up per call.
    let mut builder = match args.clients {
        1 => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let outcome = builder
        .enable_all()
        .build()
        .map_err(io_error("cannot start the async runtime"))
        .and_then(|runtime| runtime.block_on(run(args)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr().lock(), "arca-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

//! arcad: serve the Arca key management API.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use arca_daemon::config::Settings;
use arca_daemon::secure_mem::LockPolicy;
use clap::{Parser, Subcommand};

/// Every heap block is wiped when freed: key bytes pass through buffers of the gRPC stack that no
/// code of ours can reach (see `secure_mem::WipingAllocator`).
#[global_allocator]
static ALLOCATOR: arca_daemon::secure_mem::WipingAllocator = arca_daemon::secure_mem::WipingAllocator;

/// The Arca key management daemon.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Development mode: keep the store, a master key file and the socket under --data-dir.
    #[arg(long, requires = "data_dir", conflicts_with = "config")]
    dev: bool,
    /// The data directory for --dev.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The TOML configuration file (production).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Listen on this Unix socket instead of the configured one.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Where --dev serves the AWS KMS protocol (plain HTTP, loopback only); default 127.0.0.1:4599.
    #[arg(long, value_name = "ADDRESS", requires = "dev")]
    aws_listen: Option<std::net::SocketAddr>,
    /// Start even if secrets cannot be locked in RAM (RLIMIT_MEMLOCK too low). Not implied by --dev.
    #[arg(long)]
    allow_unlocked_memory: bool,
    /// Log filter (tracing syntax), e.g. `info` or `arca_daemon=debug`; RUST_LOG also works.
    #[arg(long, value_name = "FILTER", env = "RUST_LOG", default_value = "info")]
    log: String,
    /// Let Admin.AdvanceClock move the daemon's clock forward (for tests of deletion and rotation).
    #[arg(long, hide = true)]
    test_clock: bool,
    /// The store, instead of the configured one: `redb:PATH`, or `postgres:CONNECTION-STRING`
    /// for a store several nodes share (with --node-name).
    #[arg(long, value_name = "LOCATION")]
    store: Option<String>,
    /// This node's name among the nodes sharing a PostgreSQL store.
    #[arg(long, value_name = "NAME", requires = "store")]
    node_name: Option<String>,
    /// Run the scheduled work (and take a shared store's lease) this often instead of each minute.
    #[arg(long, hide = true, value_name = "SECONDS")]
    schedule_interval_secs: Option<u64>,
    /// Start the test clock this many seconds ahead (implies --test-clock).
    #[arg(long, hide = true, value_name = "SECONDS")]
    test_clock_offset: Option<i64>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Restore a backup archive (from `arcactl backup`) into an empty data directory, then exit.
    Restore {
        /// The data directory to restore into; it must hold no store yet.
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// The archive file.
        archive: PathBuf,
    },
    /// Copy every record of a store into a new, empty one and verify the copy, then exit:
    /// `redb:PATH` into `postgres:CONNECTION-STRING`, or back. Records stay sealed.
    Migrate {
        /// The store to copy (`redb:PATH` or `postgres:CONNECTION-STRING`).
        #[arg(long, value_name = "LOCATION")]
        from: String,
        /// The new store (it must hold no record).
        #[arg(long, value_name = "LOCATION")]
        to: String,
        /// The CA certificate of the PostgreSQL server (TLS is then required and verified).
        #[arg(long, value_name = "FILE")]
        ca_cert: Option<PathBuf>,
        /// Move the single host's audit anchor to this node's name (into PostgreSQL), or this
        /// node's anchor to the single host's (into redb).
        #[arg(long, value_name = "NAME")]
        node: Option<String>,
    },
}

fn migrate(from: &str, to: &str, ca_cert: Option<&PathBuf>, node: Option<&str>) -> Result<usize, String> {
    use arca_daemon::store::migrate::StoreLocation;
    if let Some(name) = node {
        arca_daemon::config::validate_node_name(name).map_err(|e| e.to_string())?;
    }
    let source = StoreLocation::parse(from, ca_cert.cloned()).map_err(|e| e.to_string())?;
    let target = StoreLocation::parse(to, ca_cert.cloned()).map_err(|e| e.to_string())?;
    arca_daemon::store::migrate::migrate(&source, &target, node).map_err(|e| e.to_string())
}

fn restore(data_dir: &std::path::Path, archive: &std::path::Path) -> Result<usize, String> {
    use std::os::unix::fs::DirBuilderExt;
    let bytes = std::fs::read(archive).map_err(|e| format!("cannot read {}: {e}", archive.display()))?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let store = Settings::dev(data_dir, LockPolicy::Require).store_path();
    let backend = arca_daemon::store::RedbBackend::open(&store).map_err(|e| e.to_string())?;
    arca_daemon::store::backup::restore(&backend, &bytes).map_err(|error| match error {
        arca_daemon::Error::AlreadyInitialized => {
            format!("{} already holds a store: refusing to overwrite it", data_dir.display())
        }
        other => other.to_string(),
    })
}

fn settings(args: &Args) -> Result<Settings, String> {
    let policy = if args.allow_unlocked_memory { LockPolicy::AllowUnlocked } else { LockPolicy::Require };
    let mut settings = match (&args.config, &args.data_dir) {
        (Some(path), _) => Settings::from_file(path).map_err(|e| e.to_string())?,
        (None, Some(dir)) if args.dev => Settings::dev(dir, policy),
        _ => return Err("give --dev --data-dir DIR or --config FILE".into()),
    };
    if args.allow_unlocked_memory {
        settings.lock_policy = LockPolicy::AllowUnlocked;
    }
    if let Some(address) = args.aws_listen {
        settings.set_dev_aws_listen(address).map_err(|e| e.to_string())?;
    }
    if let Some(socket) = &args.socket {
        settings.socket = socket.clone();
    }
    if let Some(store) = &args.store {
        settings.set_store(store, args.node_name.clone()).map_err(|e| e.to_string())?;
    }
    if let Some(seconds) = args.schedule_interval_secs.filter(|s| *s > 0) {
        settings.schedule_interval = std::time::Duration::from_secs(seconds);
    }
    settings.service.test_clock = args.test_clock || args.test_clock_offset.is_some();
    settings.service.test_clock_offset = args.test_clock_offset.unwrap_or(0);
    Ok(settings)
}

fn main() -> ExitCode {
    // Before anything can allocate inside the crypto library (TLS, keys).
    if let Err(error) = arca_daemon::secure_mem::route_crypto_library_allocations() {
        eprintln!("arcad: {error}");
        return ExitCode::FAILURE;
    }
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&args.log))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Some(Command::Restore { data_dir, archive }) = &args.command {
        return match restore(data_dir, archive) {
            Ok(count) => {
                println!("restored {count} records into {}", data_dir.display());
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("arcad: {message}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Migrate { from, to, ca_cert, node }) = &args.command {
        return match migrate(from, to, ca_cert.as_ref(), node.as_deref()) {
            Ok(count) => {
                println!("copied and verified {count} records");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("arcad: {message}");
                ExitCode::FAILURE
            }
        };
    }
    let settings = match settings(&args) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("arcad: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("arcad: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(arca_daemon::server::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("arcad: {error}");
            ExitCode::FAILURE
        }
    }
}

//! A throw-away PostgreSQL cluster for the tests: `initdb` in a temporary directory, served by
//! `pg_ctl` on a Unix socket only (or also on 127.0.0.1 with TLS required, [`Postgres::start_tls`]),
//! as an unprivileged user when the tests run as root (PostgreSQL refuses root).
//! `scripts/install-deps.sh` installs Debian's `postgresql`.
//!
//! A watcher process stops the cluster and removes its directory when the test process exits,
//! however it exits, so no server outlives the tests. [`shared`] is one cluster per test binary,
//! in which [`database_for`] gives each daemon's data directory a database of its own (the same
//! one again when a test restarts a daemon on the same directory).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The environment variable that runs the `--dev` daemons of the tests on PostgreSQL.
pub const STORE_VAR: &str = "ARCA_TEST_STORE";

/// Whether the tests' `--dev` daemons use PostgreSQL (`ARCA_TEST_STORE=postgres`).
pub fn parametrised() -> bool {
    std::env::var(STORE_VAR).is_ok_and(|value| value == "postgres")
}

/// A running cluster.
#[derive(Debug)]
pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    /// The TCP port when TLS is on (also the Unix socket's name, `.s.PGSQL.PORT`).
    port: u16,
    /// Runs a command as the cluster's owner (empty when the tests are not root).
    as_owner: Vec<String>,
    _guard: tempfile::TempDir,
}

/// The directory of `initdb` and `pg_ctl`: on the PATH, else Debian's newest version.
fn bin_dir() -> PathBuf {
    if let Ok(output) = Command::new("sh").args(["-c", "command -v initdb"]).output()
        && output.status.success()
    {
        let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if let Some(dir) = std::fs::canonicalize(&path).ok().and_then(|p| p.parent().map(Path::to_path_buf)) {
            return dir;
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed: run scripts/install-deps.sh")
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort_by_key(|bin| {
        bin.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
    });
    versions.pop().expect("no initdb under /usr/lib/postgresql: run scripts/install-deps.sh")
}

impl Postgres {
    /// initdb and start a new cluster, on its Unix socket only.
    pub fn start() -> Self {
        Self::start_configured(None)
    }

    /// A cluster that also listens on 127.0.0.1 and accepts TCP connections only over TLS, with
    /// the certificate `server.pem`/`server.key` of `pki` (see [`crate::pki::make_pki`]).
    pub fn start_tls(pki: &Path) -> Self {
        Self::start_configured(Some(pki))
    }

    fn start_configured(tls: Option<&Path>) -> Self {
        let guard = tempfile::Builder::new().prefix("arca-pg-").tempdir().expect("tempdir");
        let dir = guard.path().to_path_buf();
        let as_owner = if is_root() {
            std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).expect("chown the cluster directory");
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"].map(String::from).to_vec()
        } else {
            Vec::new()
        };
        let port = if tls.is_some() { free_port() } else { 5432 };
        let cluster = Self { dir, bin: bin_dir(), port, as_owner, _guard: guard };
        cluster.run(
            "initdb",
            &["-D", &cluster.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "-N"],
        );
        let mut settings = format!(
            "listen_addresses = ''\nunix_socket_directories = '{}'\nport = {port}\nmax_connections = 300\nfsync = on\n",
            cluster.dir.display()
        );
        if let Some(pki) = tls {
            settings.push_str(&cluster.tls_settings(pki));
        }
        std::fs::write(Path::new(&cluster.data()).join("postgresql.auto.conf"), settings).expect("configure");
        cluster.pg_ctl_start();
        cluster.watch_parent();
        cluster
    }

    /// Listens on 127.0.0.1 too, where only TLS connections are accepted.
    fn tls_settings(&self, pki: &Path) -> String {
        for name in ["server.pem", "server.key"] {
            let copy = self.dir.join(name);
            std::fs::copy(pki.join(name), &copy).expect("copy the server certificate");
            std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .expect("chmod");
            if !self.as_owner.is_empty() {
                std::os::unix::fs::chown(&copy, Some(65534), Some(65534)).expect("chown");
            }
        }
        let hba =
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 0.0.0.0/0 reject\n";
        std::fs::write(Path::new(&self.data()).join("pg_hba.conf"), hba).expect("pg_hba.conf");
        format!(
            "listen_addresses = '127.0.0.1'\nssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
            self.dir.join("server.pem").display(),
            self.dir.join("server.key").display()
        )
    }

    /// A connection string over TCP to `localhost` (TLS when the cluster requires it).
    pub fn tcp_url(&self, database: &str) -> String {
        format!("host=localhost port={} user=postgres dbname={database}", self.port)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = match self.as_owner.split_first() {
            Some((first, rest)) => {
                let mut command = Command::new(first);
                command.args(rest).arg(path);
                command
            }
            None => Command::new(path),
        };
        command.env("LC_ALL", "C").env("HOME", &self.dir).current_dir(&self.dir);
        command
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self.command(program).args(args).stdin(Stdio::null()).output().expect(program);
        assert!(output.status.success(), "{program} failed: {}", String::from_utf8_lossy(&output.stderr));
    }

    fn pg_ctl_start(&self) {
        let log = self.dir.join("server.log").display().to_string();
        self.run("pg_ctl", &["-D", &self.data(), "-l", &log, "-w", "-t", "60", "start"]);
    }

    /// Stops the server (fast: connections are cut, as when a database fails over).
    pub fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    /// Starts the server again after [`stop`](Self::stop).
    pub fn restart(&self) {
        self.pg_ctl_start();
    }

    /// A libpq connection string for `database` (`host=` the socket directory).
    pub fn url(&self, database: &str) -> String {
        format!("host={} port={} user=postgres dbname={database}", self.dir.display(), self.port)
    }

    /// Runs SQL as the superuser in `database`; returns its unaligned output.
    pub fn sql(&self, database: &str, statement: &str) -> String {
        let output = Command::new("psql")
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", &self.url(database), "-c", statement])
            .output()
            .expect("psql");
        assert!(output.status.success(), "psql {statement}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Creates `name` unless it exists; returns its connection string.
    pub fn database(&self, name: &str) -> String {
        let exists =
            self.sql("postgres", &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"));
        if exists == "0" {
            self.sql("postgres", &format!("CREATE DATABASE \"{name}\""));
        }
        self.url(name)
    }

    /// A watcher that stops the cluster and removes it once this process is gone.
    fn watch_parent(&self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let owner = self.as_owner.join(" ");
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {owner} {pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            pg_ctl = pg_ctl.display(),
            data = self.data(),
            dir = self.dir.display(),
        );
        // In the background of a shell that exits at once: the watcher outlives this process.
        let status = Command::new("sh")
            .args(["-c", &format!("({script}) </dev/null >/dev/null 2>&1 &")])
            .status()
            .expect("start the cluster's watcher");
        assert!(status.success(), "the cluster's watcher did not start");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").args(["-D", &self.data(), "-m", "immediate", "stop"]).output();
    }
}

/// A TCP port nothing listens on now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// One cluster for the whole test binary, started at first use.
pub fn shared() -> &'static Postgres {
    static CLUSTER: OnceLock<Postgres> = OnceLock::new();
    CLUSTER.get_or_init(Postgres::start)
}

/// The shared cluster's database for a daemon's data directory: named after the directory, so a
/// daemon restarted on the same directory finds its store again.
pub fn database_for(data_dir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut hasher);
    shared().database(&format!("arca_{:016x}", hasher.finish()))
}

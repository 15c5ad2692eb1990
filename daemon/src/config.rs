//! Daemon settings: from `--dev --data-dir DIR`, or from a TOML file whose errors name the field.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::quota::QuotaConfig;
use crate::secure_mem::LockPolicy;
use crate::service::ServiceOptions;
use crate::store::{PostgresSettings, SealConfig, SealMode, StoreSettings};
use crate::transport::ConnectionSettings;

pub const DEFAULT_MAX_REQUEST_BYTES: usize = 64 * 1024;
/// The audit log rotates when its current file reaches this size.
pub const DEFAULT_AUDIT_MAX_BYTES: u64 = 64 * 1024 * 1024;
const DEV_KEY_FILE: &str = "master.key";
const SOCKET_NAME: &str = "arca.sock";
const STORE_FILE: &str = "arca.redb";
const AUDIT_FILE: &str = "audit.log";

/// Everything the daemon needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub socket: PathBuf,
    pub lock_policy: LockPolicy,
    pub max_request_bytes: usize,
    pub seal: SealConfig,
    pub tls: Option<TlsSettings>,
    /// In dev mode the key file is created in the data directory when missing.
    pub create_key_file: bool,
    pub service: ServiceOptions,
    /// Where the Prometheus endpoint listens; `None` turns it off.
    pub metrics_listen: Option<SocketAddr>,
    /// The file the settings came from, re-read on SIGHUP.
    pub config_file: Option<PathBuf>,
    /// The audit log's current file is rotated once it reaches this size; 0 never.
    pub audit_max_bytes: u64,
    /// Limits on connections, streams and calls (`[connections]`).
    pub connections: ConnectionSettings,
    /// The AWS KMS JSON front (`[aws]`); `None` turns it off.
    pub aws: Option<AwsSettings>,
    /// Where the store is: the embedded redb file under the data directory, or PostgreSQL.
    pub store: StoreSettings,
    /// How often the scheduled work (rotations, deletions, and a shared store's lease) runs.
    pub schedule_interval: Duration,
}

/// Rotations and deletions fall due with time; once a minute is well within their day-granular
/// schedules, and bounds how long a dead node keeps a shared store's schedule lease.
pub const DEFAULT_SCHEDULE_INTERVAL: Duration = Duration::from_secs(60);

/// Where and as whom the AWS KMS JSON front answers.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub listen: SocketAddr,
    /// HTTPS with the `[tls]` certificate, or plain HTTP (`--dev` on loopback only).
    pub transport: AwsTransport,
    /// The partition, region and account the front's ARNs name and SigV4 scopes must name.
    pub identity: AwsIdentity,
    /// The external key store API served on the same listener (`[xks]`); `None` turns it off.
    pub xks: Option<XksSettings>,
}

/// Where the external key store (XKS proxy) API answers, and whom it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XksSettings {
    /// The optional path prefix before `/kms/xks/v1` (`""` or `/keystores/orders`).
    pub path_prefix: String,
    /// The region SigV4 scopes of XKS requests must name (the region of the calling KMS).
    pub region: String,
    /// Mutual TLS: XKS requests must come with a client certificate chained to `client_ca`
    /// whose subject is exactly this (`CN=cks.kms.eu-west-1.amazonaws.com`).
    pub client: Option<XksClient>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XksClient {
    pub subject: String,
    pub ca: PathBuf,
}

/// `[xks]` in the configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct XksSection {
    #[serde(default)]
    path_prefix: String,
    region: Option<String>,
    client_subject: Option<String>,
    client_ca: Option<PathBuf>,
}

/// The longest `XksProxyUriPath` AWS KMS takes.
const MAX_XKS_URI_PATH: usize = 128;

impl XksSection {
    fn into_settings(self, aws_region: &str) -> Result<XksSettings> {
        let prefix = self.path_prefix.trim_end_matches('/').to_owned();
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_');
        if !(prefix.is_empty() || prefix.starts_with('/')) || !prefix.bytes().all(allowed) {
            return Err(Error::Config(format!(
                "xks.path_prefix {prefix:?}: start with / and use only letters, digits, /, - and _"
            )));
        }
        if prefix.len() + "/kms/xks/v1".len() > MAX_XKS_URI_PATH {
            return Err(Error::Config(format!(
                "xks.path_prefix: the XKS URI path must stay within {MAX_XKS_URI_PATH} characters"
            )));
        }
        let client = match (self.client_subject, self.client_ca) {
            (Some(subject), Some(ca)) => Some(XksClient { subject, ca }),
            (None, None) => None,
            _ => return Err(Error::Config("xks.client_subject and xks.client_ca go together".into())),
        };
        Ok(XksSettings {
            path_prefix: prefix,
            region: self.region.unwrap_or_else(|| aws_region.to_owned()),
            client,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsTransport {
    Https { cert: PathBuf, key: PathBuf },
    PlainLoopback,
}

/// The account a front speaking AWS's protocol presents: `arn:<partition>:kms:<region>:<account>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsIdentity {
    #[serde(default = "default_aws_partition")]
    pub partition: String,
    #[serde(default = "default_aws_region")]
    pub region: String,
    #[serde(default = "default_aws_account_id")]
    pub account_id: String,
}

impl Default for AwsIdentity {
    fn default() -> Self {
        Self {
            partition: default_aws_partition(),
            region: default_aws_region(),
            account_id: default_aws_account_id(),
        }
    }
}

/// `arcad --dev` answers the AWS protocol on this loopback port unless told otherwise
/// (`--aws-listen`).
pub const DEV_AWS_PORT: u16 = 4599;

fn default_aws_partition() -> String {
    "aws".into()
}
fn default_aws_region() -> String {
    "us-east-1".into()
}
fn default_aws_account_id() -> String {
    "000000000000".into()
}

impl AwsIdentity {
    fn validate(&self) -> Result<()> {
        let label = |text: &str| {
            !text.is_empty()
                && text.len() <= 64
                && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if !label(&self.partition) {
            return Err(Error::Config(format!("aws.partition {:?} is not a partition name", self.partition)));
        }
        if !label(&self.region) {
            return Err(Error::Config(format!("aws.region {:?} is not a region name", self.region)));
        }
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Config(format!("aws.account_id {:?} is not 12 digits", self.account_id)));
        }
        Ok(())
    }
}

/// `[aws]` in the configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AwsSection {
    /// The HTTPS address; the certificate and key are `[tls]`'s.
    listen: SocketAddr,
    #[serde(flatten)]
    identity: AwsIdentity,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    pub listen: SocketAddr,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Client certificates must chain to this CA (mutual TLS is mandatory).
    pub client_ca: PathBuf,
}

impl Settings {
    /// `--aws-listen`: where `--dev` serves the AWS protocol, plain HTTP, so loopback only.
    pub fn set_dev_aws_listen(&mut self, address: SocketAddr) -> Result<()> {
        if !address.ip().is_loopback() {
            return Err(Error::Config(format!(
                "--aws-listen {address}: --dev serves plain HTTP, on a loopback address only"
            )));
        }
        match &mut self.aws {
            Some(aws) if aws.transport == AwsTransport::PlainLoopback => {
                aws.listen = address;
                Ok(())
            }
            _ => Err(Error::Config(
                "--aws-listen is for --dev; use [aws] listen in the configuration file".into(),
            )),
        }
    }

    /// The embedded store's file (`--store redb:PATH` names another).
    pub fn store_path(&self) -> PathBuf {
        match &self.store {
            StoreSettings::RedbAt(path) => path.clone(),
            StoreSettings::Redb | StoreSettings::Postgres(_) => self.data_dir.join(STORE_FILE),
        }
    }

    pub fn audit_path(&self) -> PathBuf {
        self.data_dir.join(AUDIT_FILE)
    }

    /// `--dev`: everything under one directory, sealed by a key file kept there.
    pub fn dev(data_dir: &Path, lock_policy: LockPolicy) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
            socket: data_dir.join(SOCKET_NAME),
            lock_policy,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            seal: SealConfig {
                mode: SealMode::KeyFile(data_dir.join(DEV_KEY_FILE)),
                argon2_memory_kib: DEFAULT_ARGON2_MEMORY_KIB,
                argon2_iterations: DEFAULT_ARGON2_ITERATIONS,
                argon2_parallelism: DEFAULT_ARGON2_PARALLELISM,
            },
            tls: None,
            create_key_file: true,
            service: ServiceOptions::default(),
            metrics_listen: None,
            config_file: None,
            audit_max_bytes: DEFAULT_AUDIT_MAX_BYTES,
            connections: ConnectionSettings::default(),
            aws: Some(AwsSettings {
                listen: SocketAddr::from(([127, 0, 0, 1], DEV_AWS_PORT)),
                transport: AwsTransport::PlainLoopback,
                identity: AwsIdentity::default(),
                xks: Some(XksSettings {
                    path_prefix: String::new(),
                    region: default_aws_region(),
                    client: None,
                }),
            }),
            store: StoreSettings::Redb,
            schedule_interval: DEFAULT_SCHEDULE_INTERVAL,
        }
    }

    /// `--store` and `--node-name`: the store named on the command line (`redb:PATH` keeps the
    /// embedded file, at that path; `postgres:CONNECTION-STRING` needs a node name).
    pub fn set_store(&mut self, location: &str, node_name: Option<String>) -> Result<()> {
        match crate::store::migrate::StoreLocation::parse(location, None)? {
            crate::store::migrate::StoreLocation::Redb(path) => {
                self.store = StoreSettings::RedbAt(path);
                self.service.node_name = None;
            }
            crate::store::migrate::StoreLocation::Postgres(settings) => {
                let node =
                    node_name.ok_or_else(|| Error::Config("--store postgres:… needs --node-name".into()))?;
                validate_node_name(&node)?;
                self.store = StoreSettings::Postgres(PostgresSettings {
                    pool_size: default_store_pool_size(),
                    node_name: Some(node.clone()),
                    ..settings
                });
                self.service.node_name = Some(node);
            }
        }
        Ok(())
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).map_err(Error::io(format!("cannot read {}", path.display())))?;
        let mut settings =
            Self::from_toml(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        settings.config_file = Some(path.to_path_buf());
        Ok(settings)
    }

    pub fn from_toml(text: &str) -> Result<Self> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        file.into_settings()
    }
}

const DEFAULT_ARGON2_MEMORY_KIB: u32 = 64 * 1024;
const DEFAULT_ARGON2_ITERATIONS: u32 = 3;
const DEFAULT_ARGON2_PARALLELISM: u32 = 1;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    data_dir: PathBuf,
    socket: Option<PathBuf>,
    #[serde(default)]
    allow_unlocked_memory: bool,
    #[serde(default = "default_max_request_bytes")]
    max_request_bytes: usize,
    /// How long CreateKey and GenerateDataKeyPair wait for key generation (RSA-4096 takes seconds).
    #[serde(default = "default_key_generation_timeout_secs")]
    key_generation_timeout_secs: f64,
    seal: SealSection,
    tls: Option<TlsSettings>,
    /// Address of the Prometheus endpoint (e.g. "127.0.0.1:9464"); absent turns it off.
    metrics_listen: Option<SocketAddr>,
    #[serde(default)]
    quotas: QuotaConfig,
    /// The crypto-officer role: principals that create keys and administer the daemon
    /// (`uid:N`, `cert:SUBJECT`). Default: root and the daemon's own user.
    administrators: Option<Vec<String>>,
    /// Rotate the audit log's current file once it reaches this many bytes; 0 never.
    #[serde(default = "default_audit_max_bytes")]
    audit_max_bytes: u64,
    /// Refuse new work while the data directory's filesystem has less free space; 0 never.
    #[serde(default = "default_min_free_disk_bytes")]
    min_free_disk_bytes: u64,
    #[serde(default)]
    connections: ConnectionSettings,
    aws: Option<AwsSection>,
    xks: Option<XksSection>,
    store: Option<StoreSection>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum StoreBackendName {
    Redb,
    Postgres,
}

/// `[store]`: absent, or `backend = "redb"`, is the embedded file of one host.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreSection {
    backend: StoreBackendName,
    /// A PostgreSQL connection string or URL.
    url: Option<String>,
    /// This node's name among the nodes sharing the database (its audit anchor's key).
    node_name: Option<String>,
    /// The CA of the database's certificate: TLS is then required and verified.
    ca_cert: Option<PathBuf>,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
    #[serde(default = "default_store_pool_size")]
    pool_size: usize,
    /// How long one store operation may take before the call fails as unavailable.
    #[serde(default = "default_store_operation_timeout_secs")]
    operation_timeout_secs: u64,
}

fn default_store_operation_timeout_secs() -> u64 {
    crate::store::OPERATION_DEADLINE.as_secs()
}

fn default_store_pool_size() -> usize {
    16
}

impl StoreSection {
    /// The store settings and this node's name.
    fn into_settings(self) -> Result<(StoreSettings, Option<String>)> {
        if self.backend == StoreBackendName::Redb {
            if self.url.is_some() || self.node_name.is_some() || self.ca_cert.is_some() {
                return Err(Error::Config(
                    "store: url, node_name and ca_cert are for backend = \"postgres\"".into(),
                ));
            }
            return Ok((StoreSettings::Redb, None));
        }
        let url = self
            .url
            .ok_or_else(|| Error::Config("store.url is required with backend = \"postgres\"".into()))?;
        let node = self.node_name.ok_or_else(|| {
            Error::Config(
                "store.node_name is required with backend = \"postgres\" (one name per node)".into(),
            )
        })?;
        validate_node_name(&node)?;
        let client_cert = match (self.client_cert, self.client_key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err(Error::Config("store.client_cert and store.client_key go together".into())),
        };
        if self.pool_size == 0 || self.pool_size > 1024 {
            return Err(Error::Config("store.pool_size must be between 1 and 1024".into()));
        }
        if self.operation_timeout_secs == 0 || self.operation_timeout_secs > 3600 {
            return Err(Error::Config("store.operation_timeout_secs must be between 1 and 3600".into()));
        }
        let settings = PostgresSettings {
            url,
            ca_cert: self.ca_cert,
            client_cert,
            pool_size: self.pool_size,
            node_name: Some(node.clone()),
            operation_deadline: Duration::from_secs(self.operation_timeout_secs),
        };
        Ok((StoreSettings::Postgres(settings), Some(node)))
    }
}

/// A node name: 1 to 64 of `A-Z a-z 0-9 . _ -`.
pub fn validate_node_name(name: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > 64 || !name.chars().all(allowed) {
        return Err(Error::Config(format!("node name {name:?}: 1 to 64 letters, digits, '.', '_' or '-'")));
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum SealModeName {
    Passphrase,
    KeyFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealSection {
    mode: SealModeName,
    key_file: Option<PathBuf>,
    #[serde(default = "default_argon2_memory_kib")]
    argon2_memory_kib: u32,
    #[serde(default = "default_argon2_iterations")]
    argon2_iterations: u32,
    #[serde(default = "default_argon2_parallelism")]
    argon2_parallelism: u32,
}

fn default_max_request_bytes() -> usize {
    DEFAULT_MAX_REQUEST_BYTES
}
fn default_audit_max_bytes() -> u64 {
    DEFAULT_AUDIT_MAX_BYTES
}
fn default_min_free_disk_bytes() -> u64 {
    crate::disk::DEFAULT_MIN_FREE_DISK_BYTES
}
fn default_key_generation_timeout_secs() -> f64 {
    ServiceOptions::default().key_generation_timeout.as_secs_f64()
}
fn default_argon2_memory_kib() -> u32 {
    DEFAULT_ARGON2_MEMORY_KIB
}
fn default_argon2_iterations() -> u32 {
    DEFAULT_ARGON2_ITERATIONS
}
fn default_argon2_parallelism() -> u32 {
    DEFAULT_ARGON2_PARALLELISM
}

impl ConfigFile {
    fn into_settings(self) -> Result<Settings> {
        let aws = self.aws_settings()?;
        let mode = match (self.seal.mode, self.seal.key_file) {
            (SealModeName::Passphrase, None) => SealMode::Passphrase,
            (SealModeName::Passphrase, Some(_)) => {
                return Err(Error::Config("seal.key_file is only used with seal.mode = \"key_file\"".into()));
            }
            (SealModeName::KeyFile, Some(path)) => SealMode::KeyFile(expand_credentials_directory(path)?),
            (SealModeName::KeyFile, None) => {
                return Err(Error::Config("seal.key_file is required when seal.mode = \"key_file\"".into()));
            }
        };
        let key_generation_timeout = Duration::try_from_secs_f64(self.key_generation_timeout_secs)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| Error::Config("key_generation_timeout_secs must be a positive number".into()))?;
        if self.max_request_bytes < 8 * 1024 {
            return Err(Error::Config("max_request_bytes must be at least 8192".into()));
        }
        self.connections.validate()?;
        let (store, node_name) = match self.store {
            Some(section) => section.into_settings()?,
            None => (StoreSettings::Redb, None),
        };
        if argon2::Params::new(
            self.seal.argon2_memory_kib,
            self.seal.argon2_iterations,
            self.seal.argon2_parallelism,
            Some(32),
        )
        .is_err()
        {
            return Err(Error::Config("seal.argon2_*: these Argon2id parameters are out of range".into()));
        }
        Ok(Settings {
            socket: self.socket.unwrap_or_else(|| PathBuf::from(arca_proto::DEFAULT_SOCKET)),
            data_dir: self.data_dir,
            lock_policy: if self.allow_unlocked_memory {
                LockPolicy::AllowUnlocked
            } else {
                LockPolicy::Require
            },
            max_request_bytes: self.max_request_bytes,
            seal: SealConfig {
                mode,
                argon2_memory_kib: self.seal.argon2_memory_kib,
                argon2_iterations: self.seal.argon2_iterations,
                argon2_parallelism: self.seal.argon2_parallelism,
            },
            tls: self.tls,
            create_key_file: false,
            service: ServiceOptions {
                key_generation_timeout,
                quotas: self.quotas,
                min_free_disk_bytes: self.min_free_disk_bytes,
                administrators: self.administrators.unwrap_or_else(crate::service::default_administrators),
                node_name,
                ..ServiceOptions::default()
            },
            metrics_listen: self.metrics_listen,
            config_file: None,
            audit_max_bytes: self.audit_max_bytes,
            connections: self.connections,
            aws,
            store,
            schedule_interval: DEFAULT_SCHEDULE_INTERVAL,
        })
    }

    fn xks_settings(&self, aws_region: &str) -> Result<Option<XksSettings>> {
        let Some(section) = &self.xks else { return Ok(None) };
        section.clone().into_settings(aws_region).map(Some)
    }

    /// `[aws]` serves HTTPS with `[tls]`'s certificate: plain HTTP is for `--dev` only.
    fn aws_settings(&self) -> Result<Option<AwsSettings>> {
        let Some(section) = &self.aws else {
            if self.xks.is_some() {
                return Err(Error::Config(
                    "[xks] is served on the [aws] listener: add an [aws] section".into(),
                ));
            }
            return Ok(None);
        };
        section.identity.validate()?;
        let tls = self.tls.as_ref().ok_or_else(|| {
            Error::Config("[aws] serves HTTPS with the [tls] certificate: add a [tls] section".into())
        })?;
        Ok(Some(AwsSettings {
            listen: section.listen,
            transport: AwsTransport::Https { cert: tls.cert.clone(), key: tls.key.clone() },
            identity: section.identity.clone(),
            xks: self.xks_settings(&section.identity.region)?,
        }))
    }
}

/// `$CREDENTIALS_DIRECTORY/NAME` names a systemd credential (`LoadCredential=` or
/// `LoadCredentialEncrypted=`), whose directory systemd passes in the environment.
fn expand_credentials_directory(path: PathBuf) -> Result<PathBuf> {
    const VARIABLE: &str = "$CREDENTIALS_DIRECTORY/";
    let Some(name) = path.to_str().and_then(|p| p.strip_prefix(VARIABLE)) else { return Ok(path) };
    let directory = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
        Error::Config(
            "seal.key_file names $CREDENTIALS_DIRECTORY but it is not set (is the credential loaded by the unit?)"
                .into(),
        )
    })?;
    Ok(PathBuf::from(directory).join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_config_parses() {
        let settings = Settings::from_toml(
            r#"
            data_dir = "/var/lib/arca"
            [seal]
            mode = "passphrase"
            argon2_memory_kib = 8192
            [tls]
            listen = "127.0.0.1:8443"
            cert = "/etc/arca/server.pem"
            key = "/etc/arca/server.key"
            client_ca = "/etc/arca/ca.pem"
            "#,
        )
        .unwrap();
        assert_eq!(settings.socket, PathBuf::from("/run/arca/arca.sock"));
        assert_eq!(settings.seal.mode, SealMode::Passphrase);
        assert_eq!(settings.seal.argon2_memory_kib, 8192);
        assert_eq!(settings.tls.unwrap().listen.port(), 8443);
        assert_eq!(settings.audit_max_bytes, DEFAULT_AUDIT_MAX_BYTES);
        let never =
            Settings::from_toml("data_dir = \"/x\"\naudit_max_bytes = 0\n[seal]\nmode = \"passphrase\"");
        assert_eq!(never.unwrap().audit_max_bytes, 0);
    }

    #[test]
    fn a_shared_store_needs_its_url_and_a_node_name() {
        let base = "data_dir = \"/x\"\n[seal]\nmode = \"passphrase\"\n[store]\n";
        let settings = Settings::from_toml(&format!(
            "{base}backend = \"postgres\"\nurl = \"host=/run/postgresql dbname=arca\"\nnode_name = \"node-a\"\n"
        ))
        .unwrap();
        assert!(
            matches!(&settings.store, StoreSettings::Postgres(pg) if pg.pool_size == 16 && pg.ca_cert.is_none())
        );
        assert_eq!(settings.service.node_name.as_deref(), Some("node-a"));
        for (fields, named) in [
            ("backend = \"postgres\"\nnode_name = \"a\"\n", "store.url"),
            ("backend = \"postgres\"\nurl = \"host=/x\"\n", "store.node_name"),
            ("backend = \"postgres\"\nurl = \"host=/x\"\nnode_name = \"a b\"\n", "node name"),
            ("backend = \"redb\"\nurl = \"host=/x\"\n", "url"),
            ("backend = \"postgres\"\nurl = \"h\"\nnode_name = \"a\"\nclient_cert = \"/c\"\n", "client_key"),
            ("backend = \"sqlite\"\n", "backend"),
        ] {
            let error = Settings::from_toml(&format!("{base}{fields}")).unwrap_err().to_string();
            assert!(error.contains(named), "{fields}: {error}");
        }
        let redb = Settings::from_toml(&format!("{base}backend = \"redb\"\n")).unwrap();
        assert!(matches!(redb.store, StoreSettings::Redb));
        // The limits, just inside and just outside.
        let postgres = format!("{base}backend = \"postgres\"\nurl = \"host=/x\"\nnode_name = \"a\"\n");
        for (field, inside, outside) in
            [("pool_size", [1, 1024], [0, 1025]), ("operation_timeout_secs", [1, 3600], [0, 3601])]
        {
            for value in inside {
                let settings = Settings::from_toml(&format!("{postgres}{field} = {value}\n")).unwrap();
                let StoreSettings::Postgres(pg) = settings.store else { panic!("postgres") };
                let got =
                    if field == "pool_size" { pg.pool_size as u64 } else { pg.operation_deadline.as_secs() };
                assert_eq!(got, value);
            }
            for value in outside {
                let error =
                    Settings::from_toml(&format!("{postgres}{field} = {value}\n")).unwrap_err().to_string();
                assert!(error.contains(field), "{field} = {value}: {error}");
            }
        }
    }

    #[test]
    fn the_packaged_default_config_parses() {
        let settings = Settings::from_toml(include_str!("../../packaging/arca.toml")).unwrap();
        assert_eq!(settings.data_dir, PathBuf::from("/var/lib/arca"));
        assert_eq!(settings.lock_policy, LockPolicy::Require);
    }

    #[test]
    fn the_aws_front_serves_https_with_the_tls_certificate() {
        let tls = "[tls]\nlisten = \"127.0.0.1:8443\"\ncert = \"/c.pem\"\nkey = \"/k.pem\"\nclient_ca = \"/ca.pem\"\n";
        let text = format!(
            "data_dir = \"/x\"\n[seal]\nmode = \"passphrase\"\n{tls}[aws]\nlisten = \"0.0.0.0:8444\"\nregion = \"eu-west-1\"\n"
        );
        let aws = Settings::from_toml(&text).unwrap().aws.unwrap();
        assert_eq!(aws.listen.port(), 8444);
        assert_eq!(aws.transport, AwsTransport::Https { cert: "/c.pem".into(), key: "/k.pem".into() });
        assert_eq!(aws.identity.region, "eu-west-1");
        assert_eq!(aws.identity.account_id, "000000000000");
        let without_tls =
            "data_dir = \"/x\"\n[seal]\nmode = \"passphrase\"\n[aws]\nlisten = \"0.0.0.0:8444\"\n";
        assert!(Settings::from_toml(without_tls).unwrap_err().to_string().contains("[tls]"));
        let bad_account = text.replace("region = \"eu-west-1\"", "account_id = \"12\"");
        assert!(Settings::from_toml(&bad_account).unwrap_err().to_string().contains("account_id"));
        assert!(
            Settings::from_toml("data_dir = \"/x\"\n[seal]\nmode = \"passphrase\"\n").unwrap().aws.is_none()
        );
    }

    #[test]
    fn xks_is_served_on_the_aws_listener_with_its_own_prefix_and_region() {
        let base = "data_dir = \"/x\"\n[seal]\nmode = \"passphrase\"\n[tls]\nlisten = \"127.0.0.1:8443\"\n\
                    cert = \"/c\"\nkey = \"/k\"\nclient_ca = \"/ca\"\n[aws]\nlisten = \"0.0.0.0:443\"\nregion = \"eu-west-1\"\n";
        let xks = |section: &str| Settings::from_toml(&format!("{base}[xks]\n{section}"));
        let settings = xks("path_prefix = \"/keystores/prod/\"\n").unwrap().aws.unwrap().xks.unwrap();
        assert_eq!(
            (settings.path_prefix.as_str(), settings.region.as_str()),
            ("/keystores/prod", "eu-west-1")
        );
        assert!(settings.client.is_none());
        let mtls =
            xks("client_subject = \"CN=cks.kms.eu-west-1.amazonaws.com\"\nclient_ca = \"/amazon.pem\"\n");
        assert_eq!(
            mtls.unwrap().aws.unwrap().xks.unwrap().client.unwrap().subject,
            "CN=cks.kms.eu-west-1.amazonaws.com"
        );
        for (bad, named) in [
            ("path_prefix = \"keystores\"\n", "path_prefix"),
            ("path_prefix = \"/a b\"\n", "path_prefix"),
            (&format!("path_prefix = \"/{}\"\n", "p".repeat(120)), "128"),
            ("client_subject = \"CN=x\"\n", "client_ca"),
        ] {
            let error = xks(bad).unwrap_err().to_string();
            assert!(error.contains(named), "{named} not in {error}");
        }
        let without_aws = "data_dir = \"/x\"\n[seal]\nmode = \"passphrase\"\n[xks]\n";
        assert!(Settings::from_toml(without_aws).unwrap_err().to_string().contains("[aws]"));
    }

    #[test]
    fn dev_serves_plain_http_on_loopback_only() {
        let mut dev = Settings::dev(Path::new("/x"), LockPolicy::Require);
        let aws = dev.aws.clone().unwrap();
        assert_eq!((aws.transport, aws.listen.port()), (AwsTransport::PlainLoopback, DEV_AWS_PORT));
        dev.set_dev_aws_listen("127.0.0.1:0".parse().unwrap()).unwrap();
        assert_eq!(dev.aws.as_ref().unwrap().listen.port(), 0);
        assert!(dev.set_dev_aws_listen("0.0.0.0:4599".parse().unwrap()).is_err());
    }

    #[test]
    fn errors_name_the_bad_field() {
        let cases = [
            ("data_dir = \"/x\"\nbogus = 1\n[seal]\nmode = \"passphrase\"", "bogus"),
            ("data_dir = \"/x\"\n[seal]\nmode = \"sometimes\"", "sometimes"),
            ("data_dir = \"/x\"\n[seal]\nmode = \"key_file\"", "seal.key_file"),
            (
                "data_dir = \"/x\"\nmax_request_bytes = \"big\"\n[seal]\nmode = \"passphrase\"",
                "max_request_bytes",
            ),
            ("[seal]\nmode = \"passphrase\"", "data_dir"),
        ];
        for (text, field) in cases {
            let error = Settings::from_toml(text).unwrap_err().to_string();
            assert!(error.contains(field), "{field:?} not named in: {error}");
        }
    }
}

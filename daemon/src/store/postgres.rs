//! The shared backend: one PostgreSQL database that several `arcad` nodes use at once.
//!
//! - Records live in one table, `(tbl, key) -> value`, exactly the sealed bytes redb holds: the
//!   database never sees plaintext key material, and every sealed value is bound by its AAD or
//!   MAC to its row identity, so an edited or swapped row is refused, never used.
//! - Every write transaction first takes the one-row `arca_generation` counter (`UPDATE … +1`):
//!   writers are serialised across nodes, generations follow commit order, and a precondition
//!   ([`Expect`]) is checked with no other writer in between. Each written row is logged in
//!   `arca_changes` under the transaction's generation.
//! - A node asks [`changes_since`](StoreBackend::changes_since) before serving a call: one
//!   indexed read when nothing changed, otherwise the changed rows (its own among them: taking in
//!   a record it already holds changes nothing, and one whose cache update was cut short by a
//!   cancelled call is taken in then).
//! - A session that stops in a transaction is ended by the server after 15 s
//!   (`idle_in_transaction_session_timeout`), so a node cut off while holding the generation lock
//!   stalls the others' writes that long, not until TCP gives up; a write waits at most 10 s for
//!   the lock (`lock_timeout`).
//! - The node holding a session-level advisory lock runs the scheduled work; the lock goes with
//!   its connection, so a dead node's lease passes to another at its next tick.
//!
//! The backend's methods are synchronous like redb's. They run on a small runtime of their own
//! and wait on a channel, so they may be called from a blocking thread or, briefly, from async
//! code, never blocking the runtime inside a runtime. Every statement has a deadline: a database
//! that stops answering makes calls fail with `StoreUnavailable`, not hang.

use std::future::Future;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use super::postgres_tls::RustlsConnect;
use super::{ChangedRows, Changes, Expect, Row, StoreBackend, Table, Write};
use crate::error::{Error, Result};

/// How long one store operation may take before the call fails as unavailable (`arcad migrate`
/// sets a longer one for its single large copy).
pub const OPERATION_DEADLINE: Duration = Duration::from_secs(10);
/// Server-side limits of every session, unless the connection string sets its own options.
const SESSION_OPTIONS: &str = "-c idle_in_transaction_session_timeout=15000 -c lock_timeout=10000";
/// How long a call waits for a pooled connection, or for a new one to open.
const CONNECT_DEADLINE: Duration = Duration::from_secs(5);
/// The advisory lock whose holder runs the scheduled work.
const SCHEDULE_LEASE: i64 = 0x4152_4341_5343_4844; // "ARCASCHD"
/// The advisory lock that serialises schema creation by nodes starting together.
const SCHEMA_LOCK: i64 = 0x4152_4341_5343_484D; // "ARCASCHM"
/// Change records older than this are pruned; a node that was away longer reads everything.
const CHANGE_RETENTION: &str = "1 hour";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS arca_records (
    tbl text NOT NULL,
    key bytea NOT NULL,
    value bytea NOT NULL,
    generation bigint NOT NULL,
    PRIMARY KEY (tbl, key)
);
CREATE TABLE IF NOT EXISTS arca_generation (
    id int PRIMARY KEY CHECK (id = 1),
    value bigint NOT NULL,
    pruned_through bigint NOT NULL
);
INSERT INTO arca_generation (id, value, pruned_through) VALUES (1, 0, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS arca_changes (
    generation bigint NOT NULL,
    tbl text NOT NULL,
    key bytea NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (generation, tbl, key)
);
";

/// `[store]` for PostgreSQL.
#[derive(Clone)]
pub struct PostgresSettings {
    /// A libpq connection string or URL (`host=/run/postgresql dbname=arca`,
    /// `postgresql://arca@db.example/arca`). It may hold a password: it is never logged.
    pub url: String,
    /// The CA that signed the database's certificate: TLS is then required and verified.
    pub ca_cert: Option<PathBuf>,
    /// A client certificate and key for databases that authenticate by certificate.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Connections this node keeps open at most.
    pub pool_size: usize,
    /// This node's name, shown to the database as the connections' `application_name`
    /// (`arcad NAME`) unless the connection string sets one.
    pub node_name: Option<String>,
    /// How long one operation may take ([`OPERATION_DEADLINE`] for a daemon).
    pub operation_deadline: Duration,
}

impl std::fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("ca_cert", &self.ca_cert)
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

/// A store in PostgreSQL.
pub struct PostgresBackend {
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    /// One connection of its own: the schedule lease lives as long as it does.
    lease: Arc<tokio::sync::Mutex<Option<Object>>>,
    lease_pool: Pool,
    deadline: Duration,
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresBackend").finish_non_exhaustive()
    }
}

impl Drop for PostgresBackend {
    fn drop(&mut self) {
        // Not a blocking shutdown: the backend may be dropped inside the daemon's runtime.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl PostgresBackend {
    /// Connects and creates the tables if missing. The database must exist.
    pub fn open(settings: &PostgresSettings) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("arca-store")
            .enable_all()
            .build()
            .map_err(Error::io("cannot start the store's runtime"))?;
        let pool = {
            let _entered = runtime.enter();
            build_pool(settings, settings.pool_size.max(1))?
        };
        let lease_pool = {
            let _entered = runtime.enter();
            build_pool(settings, 1)?
        };
        let backend = Self {
            runtime: Some(runtime),
            pool,
            lease: Arc::new(tokio::sync::Mutex::new(None)),
            lease_pool,
            deadline: settings.operation_deadline,
        };
        let pool = backend.pool.clone();
        backend.run("create the schema", async move {
            let mut client = connection(&pool).await?;
            let txn = client.transaction().await.map_err(unavailable_or_storage)?;
            txn.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
                .await
                .map_err(unavailable_or_storage)?;
            txn.batch_execute(SCHEMA).await.map_err(unavailable_or_storage)?;
            txn.commit().await.map_err(unavailable_or_storage)
        })?;
        Ok(backend)
    }

    /// Runs `job` on the store's runtime and waits for it, within the deadline.
    fn run<T: Send + 'static>(
        &self,
        action: &'static str,
        job: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let Some(runtime) = &self.runtime else {
            return Err(Error::StoreUnavailable("the store is closed".into()));
        };
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let deadline = self.deadline;
        runtime.spawn(async move {
            let outcome = match tokio::time::timeout(deadline, job).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Error::StoreUnavailable(format!("{action}: no answer within {deadline:?}"))),
            };
            let _ = reply.send(outcome);
        });
        answer
            .recv()
            .map_err(|_| Error::StoreUnavailable(format!("{action}: the store's runtime stopped")))?
    }

    /// Writes a batch; returns its generation.
    fn write(&self, writes: Vec<Write>) -> Result<u64> {
        let pool = self.pool.clone();
        self.run("commit", async move { commit(&pool, &writes).await })
    }
}

fn build_pool(settings: &PostgresSettings, size: usize) -> Result<Pool> {
    let mut config = tokio_postgres::Config::from_str(&settings.url)
        .map_err(|e| Error::Config(format!("[store] url is not a PostgreSQL connection string: {e}")))?;
    config.connect_timeout(CONNECT_DEADLINE);
    // A peer that vanished is noticed within a minute, not after the kernel's two hours.
    config.keepalives_idle(Duration::from_secs(30)).tcp_user_timeout(Duration::from_secs(60));
    if config.get_options().is_none() {
        config.options(SESSION_OPTIONS);
    }
    if config.get_application_name().is_none() {
        match &settings.node_name {
            Some(node) => config.application_name(format!("arcad {node}")),
            None => config.application_name("arcad"),
        };
    }
    let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
    let manager = match &settings.ca_cert {
        None => Manager::from_config(config, NoTls, manager_config),
        Some(ca_cert) => {
            config.ssl_mode(tokio_postgres::config::SslMode::Require);
            let client = settings.client_cert.as_ref().map(|(cert, key)| (cert.as_path(), key.as_path()));
            Manager::from_config(config, RustlsConnect::new(ca_cert, client)?, manager_config)
        }
    };
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(CONNECT_DEADLINE))
        .create_timeout(Some(CONNECT_DEADLINE))
        .recycle_timeout(Some(CONNECT_DEADLINE))
        .build()
        .map_err(|e| Error::Config(format!("[store] connection pool: {e}")))
}

async fn connection(pool: &Pool) -> Result<Object> {
    pool.get().await.map_err(|e| Error::StoreUnavailable(format!("no connection to the store: {e}")))
}

/// A lost connection, a database shutting down or refusing connections, one out of resources, or
/// a lock not had in time is unavailability (the call may be retried, the node recovers by
/// itself); anything else, a client-side error included, is a storage error.
fn unavailable_or_storage(error: tokio_postgres::Error) -> Error {
    let lost = error.is_closed()
        || std::error::Error::source(&error).is_some_and(|source| source.is::<std::io::Error>());
    let transient = lost
        || error.code().is_some_and(|code| {
            let code = code.code();
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57")
                || code == "55P03"
                || code == "40001"
                || code == "40P01"
        });
    if transient { Error::StoreUnavailable(error.to_string()) } else { Error::Storage(error.to_string()) }
}

/// Takes the generation lock: the first statement of every write transaction.
const NEXT_GENERATION: &str = "UPDATE arca_generation SET value = value + 1 WHERE id = 1 RETURNING value";

/// One write and its change record in one statement; each answers how many records it wrote
/// (0: the requirement was not met). `$1` table, `$2` key, `$3` generation, then the new value
/// of a put, then the expected stored value (`$5` for a put, `$4` for a delete).
fn write_statement(write: &Write) -> &'static str {
    match (&write.value, &write.expect) {
        (Some(_), Expect::Anything) => {
            "WITH written AS (INSERT INTO arca_records (tbl, key, value, generation) VALUES ($1, $2, $4, $3) \
             ON CONFLICT (tbl, key) DO UPDATE SET value = EXCLUDED.value, generation = EXCLUDED.generation \
             RETURNING tbl, key), logged AS (INSERT INTO arca_changes (generation, tbl, key) \
             SELECT $3, tbl, key FROM written ON CONFLICT DO NOTHING) SELECT count(*) FROM written"
        }
        (Some(_), Expect::Absent) => {
            "WITH written AS (INSERT INTO arca_records (tbl, key, value, generation) VALUES ($1, $2, $4, $3) \
             ON CONFLICT (tbl, key) DO NOTHING RETURNING tbl, key), logged AS (INSERT INTO arca_changes \
             (generation, tbl, key) SELECT $3, tbl, key FROM written ON CONFLICT DO NOTHING) \
             SELECT count(*) FROM written"
        }
        (Some(_), Expect::Stored(_)) => {
            "WITH written AS (UPDATE arca_records SET value = $4, generation = $3 \
             WHERE tbl = $1 AND key = $2 AND value = $5 RETURNING tbl, key), logged AS (INSERT INTO \
             arca_changes (generation, tbl, key) SELECT $3, tbl, key FROM written ON CONFLICT DO NOTHING) \
             SELECT count(*) FROM written"
        }
        (None, Expect::Anything) => {
            "WITH written AS (DELETE FROM arca_records WHERE tbl = $1 AND key = $2 RETURNING tbl, key), \
             logged AS (INSERT INTO arca_changes (generation, tbl, key) SELECT $3, tbl, key FROM written \
             ON CONFLICT DO NOTHING) SELECT 1::bigint"
        }
        (None, Expect::Absent) => {
            "SELECT count(*) FROM (SELECT $3::bigint) AS g WHERE NOT EXISTS \
             (SELECT 1 FROM arca_records WHERE tbl = $1 AND key = $2)"
        }
        (None, Expect::Stored(_)) => {
            "WITH written AS (DELETE FROM arca_records WHERE tbl = $1 AND key = $2 AND value = $4 \
             RETURNING tbl, key), logged AS (INSERT INTO arca_changes (generation, tbl, key) \
             SELECT $3, tbl, key FROM written ON CONFLICT DO NOTHING) SELECT count(*) FROM written"
        }
    }
}

async fn commit(pool: &Pool, writes: &[Write]) -> Result<u64> {
    let mut client = connection(pool).await?;
    let txn = client.transaction().await.map_err(unavailable_or_storage)?;
    let next = txn.prepare_cached(NEXT_GENERATION).await.map_err(unavailable_or_storage)?;
    let generation: i64 = txn.query_one(&next, &[]).await.map_err(unavailable_or_storage)?.get(0);
    for write in writes {
        let table = write.table.name();
        let statement = txn.prepare_cached(write_statement(write)).await.map_err(unavailable_or_storage)?;
        let (value, expected) = (
            write.value.as_deref(),
            match &write.expect {
                Expect::Stored(bytes) => Some(bytes.as_slice()),
                Expect::Anything | Expect::Absent => None,
            },
        );
        let mut parameters: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            vec![&table, &write.key, &generation];
        if let Some(value) = &value {
            parameters.push(value);
        }
        if let Some(expected) = &expected {
            parameters.push(expected);
        }
        let row = txn.query_one(&statement, &parameters).await.map_err(unavailable_or_storage)?;
        if row.get::<_, i64>(0) == 0 {
            // Dropping the transaction rolls it back: nothing of the batch is applied.
            return Err(super::stale_write(write.table, &write.key));
        }
    }
    txn.commit().await.map_err(unavailable_or_storage)?;
    u64::try_from(generation).map_err(|_| Error::Integrity("negative store generation".into()))
}

fn table_named(name: &str) -> Result<Table> {
    Table::from_name(name)
        .ok_or_else(|| Error::Integrity(format!("the store holds an unknown table {name:?}")))
}

fn generation_of(value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::Integrity("negative store generation".into()))
}

impl StoreBackend for PostgresBackend {
    fn shared(&self) -> bool {
        true
    }

    fn commit(&self, writes: Vec<Write>) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        self.write(writes).map(drop)
    }

    fn insert_new(&self, table: Table, key: &[u8], value: &[u8]) -> Result<bool> {
        self.insert_new_all(table, &[(key, value)])
    }

    fn insert_new_all(&self, table: Table, entries: &[(&[u8], &[u8])]) -> Result<bool> {
        let writes = entries
            .iter()
            .map(|(key, value)| Write::put(table, key.to_vec(), value.to_vec()).expecting(Expect::Absent))
            .collect();
        match self.write(writes) {
            Ok(_) => Ok(true),
            Err(Error::Conflict(_)) => Ok(false),
            Err(other) => Err(other),
        }
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let (pool, key) = (self.pool.clone(), key.to_vec());
        self.run("read", async move {
            let client = connection(&pool).await?;
            let statement = client
                .prepare_cached("SELECT value FROM arca_records WHERE tbl = $1 AND key = $2")
                .await
                .map_err(unavailable_or_storage)?;
            let row =
                client.query_opt(&statement, &[&table.name(), &key]).await.map_err(unavailable_or_storage)?;
            Ok(row.map(|row| row.get(0)))
        })
    }

    fn scan(&self, table: Table) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let pool = self.pool.clone();
        self.run("scan", async move {
            let client = connection(&pool).await?;
            let rows = client
                .query("SELECT key, value FROM arca_records WHERE tbl = $1 ORDER BY key", &[&table.name()])
                .await
                .map_err(unavailable_or_storage)?;
            Ok(rows.into_iter().map(|row| (row.get(0), row.get(1))).collect())
        })
    }

    fn snapshot(&self) -> Result<Vec<Row>> {
        let pool = self.pool.clone();
        self.run("snapshot", async move {
            let client = connection(&pool).await?;
            // One statement reads one snapshot: a consistent copy of every table.
            let rows = client
                .query("SELECT tbl, key, value FROM arca_records ORDER BY tbl, key", &[])
                .await
                .map_err(unavailable_or_storage)?;
            let mut all = Vec::with_capacity(rows.len());
            for row in rows {
                all.push((table_named(row.get(0))?, row.get(1), row.get(2)));
            }
            Ok(all)
        })
    }

    fn changes_since(&self, since: u64) -> Result<Option<Changes>> {
        let pool = self.pool.clone();
        self.run("read the store's changes", async move { changes(&pool, since).await }).map(Some)
    }

    fn holds_schedule_lease(&self) -> Result<bool> {
        let (lease, pool) = (Arc::clone(&self.lease), self.lease_pool.clone());
        self.run("hold the schedule lease", async move {
            let mut slot = lease.lock().await;
            if let Some(client) = slot.as_ref()
                && !client.is_closed()
                && client.simple_query("SELECT 1").await.is_ok()
            {
                return Ok(true);
            }
            *slot = None;
            let client = connection(&pool).await?;
            let row = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&SCHEDULE_LEASE])
                .await
                .map_err(unavailable_or_storage)?;
            let held: bool = row.get(0);
            if held {
                *slot = Some(client);
            }
            Ok(held)
        })
    }

    fn prune(&self) -> Result<()> {
        let pool = self.pool.clone();
        self.run("prune the store's changes", async move {
            let client = connection(&pool).await?;
            let statement = format!(
                "WITH pruned AS (DELETE FROM arca_changes WHERE at < now() - interval '{CHANGE_RETENTION}' \
                 RETURNING generation) UPDATE arca_generation SET pruned_through = \
                 GREATEST(pruned_through, (SELECT COALESCE(max(generation), 0) FROM pruned)) WHERE id = 1"
            );
            client.execute(statement.as_str(), &[]).await.map_err(unavailable_or_storage).map(drop)
        })
    }
}

/// The generation and what changed after `since`, read so that a prune racing the read cannot
/// hide a change: `pruned_through` is read again after the rows.
async fn changes(pool: &Pool, since: u64) -> Result<Changes> {
    let client = connection(pool).await?;
    let generation_row = client
        .prepare_cached("SELECT value, pruned_through FROM arca_generation WHERE id = 1")
        .await
        .map_err(unavailable_or_storage)?;
    let row = client.query_one(&generation_row, &[]).await.map_err(unavailable_or_storage)?;
    let (generation, pruned_through) = (generation_of(row.get(0))?, generation_of(row.get(1))?);
    if generation == since {
        return Ok(Changes { generation, rows: ChangedRows::Listed(Vec::new()) });
    }
    if since < pruned_through || since > generation {
        return Ok(Changes { generation, rows: ChangedRows::Pruned });
    }
    // Every transaction up to `generation` has committed (they commit in generation order);
    // a row's value may be newer still, which the next look lists again.
    let (from, to) = (since as i64, generation as i64);
    let listing = client
        .prepare_cached(
            "SELECT c.tbl, c.key, r.value FROM arca_changes c \
             LEFT JOIN arca_records r ON r.tbl = c.tbl AND r.key = c.key \
             WHERE c.generation > $1 AND c.generation <= $2 ORDER BY c.generation",
        )
        .await
        .map_err(unavailable_or_storage)?;
    let rows = client.query(&listing, &[&from, &to]).await.map_err(unavailable_or_storage)?;
    let row = client.query_one(&generation_row, &[]).await.map_err(unavailable_or_storage)?;
    if since < generation_of(row.get(1))? {
        return Ok(Changes { generation, rows: ChangedRows::Pruned });
    }
    let mut listed = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.get(0);
        // A table of a later release (a rolling upgrade) is none of this node's caches.
        let Some(table) = Table::from_name(&name) else { continue };
        listed.push((table, row.get(1), row.get(2)));
    }
    Ok(Changes { generation, rows: ChangedRows::Listed(listed) })
}

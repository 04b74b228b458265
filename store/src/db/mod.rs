//! Database access for SQLite (embedded default) and PostgreSQL (production).
//!
//! Both go through sqlx's `Any` driver with the same SQL (`$N` placeholders
//! work on both); the few statements that must differ branch on [`Backend`].
//! SQLite gets a single-connection write pool so writers in one process queue
//! in-process instead of fighting over the file lock. Write transactions go through a
//! group-commit writer on both: `group_commit` (SQLite) and `pipeline`
//! (PostgreSQL, on connections of its own).

pub mod batch;
mod group_commit;
mod merge;
mod pipeline;
pub mod reader;
mod write;

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Connection pools: `read` for queries, `write` for anything that writes.
/// On PostgreSQL both are the same pool (write transactions use `pipeline`'s own
/// connections, and this pool when a group is replayed).
#[derive(Clone)]
pub struct Db {
    pub backend: Backend,
    pub read: AnyPool,
    pub write: AnyPool,
    /// The group-commit writer every [`Db::write_tx`] goes through: [`group_commit`]'s
    /// on SQLite, [`pipeline`]'s on PostgreSQL.
    writer: Option<tokio::sync::mpsc::UnboundedSender<write::Request>>,
    /// PostgreSQL's connections for a launch's reads ([`Db::reader`]).
    readers: Option<std::sync::Arc<reader::Readers>>,
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl Db {
    /// A round trip through the write pool (readiness probes, `config check`).
    pub async fn ping(&self) -> Result<()> {
        self.write.execute("SELECT 1").await?;
        Ok(())
    }

    /// The newest migration applied to this database.
    pub async fn schema_version(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations")
            .fetch_one(&self.read)
            .await?;
        Ok(sqlx::Row::get(&row, 0))
    }

    /// SQLite: a consistent copy of the database in a new file (`VACUUM INTO`), taken
    /// while others read and write.
    pub async fn snapshot_sqlite(&self, file: &std::path::Path) -> Result<()> {
        anyhow::ensure!(
            self.backend == Backend::Sqlite,
            "a snapshot file is SQLite's"
        );
        let literal = file.to_string_lossy().replace('\'', "''");
        sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM INTO '{literal}'")))
            .execute(&self.read)
            .await
            .context("snapshotting the SQLite database")?;
        Ok(())
    }

    /// Connects to `url` (`sqlite://…` or `postgres://…`).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            anyhow::bail!("unsupported database URL {url:?}: use sqlite://PATH or postgres://…");
        };
        let options = AnyConnectOptions::from_str(url)
            .with_context(|| format!("parsing database URL {url:?}"))?;
        match backend {
            Backend::Sqlite => {
                private_sqlite_file(url)?;
                let write = sqlite_pool(1)
                    .connect_with(options.clone())
                    .await
                    .context("opening SQLite")?;
                let read = sqlite_pool(max_connections.max(2))
                    .connect_with(options)
                    .await
                    .context("opening SQLite")?;
                let db = Db {
                    backend,
                    read,
                    writer: Some(group_commit::spawn(write.clone())),
                    write,
                    readers: None,
                };
                spawn_checkpointer(db.clone());
                Ok(db)
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(max_connections)
                    // sqlx pings every connection it hands out and every one handed back:
                    // two round trips per checkout. One that came back (and answered its
                    // release ping) under a second ago needs no second proof it is alive.
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| {
                        Box::pin(async move {
                            if meta.idle_for >= reader::TRUSTED_IDLE {
                                sqlx::Connection::ping(conn).await?;
                            }
                            Ok(true)
                        })
                    })
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options.clone())
                    .await
                    .context("connecting to PostgreSQL")?;
                let pooled = Db {
                    backend,
                    read: pool.clone(),
                    write: pool,
                    writer: None,
                    readers: Some(reader::Readers::new(options)),
                };
                Ok(Db {
                    writer: Some(pipeline::spawn(url, pooled.clone())),
                    ..pooled
                })
            }
        }
    }

    /// Applies pending migrations (forward-only).
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator
            .run(&self.write)
            .await
            .context("applying migrations")?;
        Ok(())
    }
}

fn sqlite_pool(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // WAL: readers never block the writer. synchronous=NORMAL is
                // crash-safe for the process (only power loss can drop the last commits).
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = NORMAL").await?;
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                // Reads through mmap instead of a pread per page (caches reset on every commit in WAL mode).
                conn.execute("PRAGMA mmap_size = 268435456").await?;
                // Checkpoints (and their fsync) run off the commit path: see spawn_checkpointer.
                conn.execute("PRAGMA wal_autocheckpoint = 0").await?;
                // Per-connection fence guard used by `batch` scripts.
                conn.execute("CREATE TEMP TABLE IF NOT EXISTS lease_fence (ok INTEGER NOT NULL CONSTRAINT lease_fence CHECK (ok = 1))").await?;
                Ok(())
            })
        })
}

/// WAL frames (4 KiB pages) past which the checkpointer makes the log restart.
const WAL_RESET_FRAMES: i64 = 2048;

/// Copies the WAL back into the database file every 200 ms from a reader
/// connection, so commits on the writer never stall on a checkpoint's fsync.
///
/// The log only restarts from its beginning when a write transaction starts with
/// every frame already copied back. Under steady writes a PASSIVE checkpoint on
/// another connection never gets there (frames keep arriving while it copies), so
/// the WAL would grow without bound — we measured 670 MB for an 8 MB database, with
/// every read slowing down as the WAL index grew. So once the log passes
/// [`WAL_RESET_FRAMES`], the checkpointer holds the (in-process) writer connection
/// while it copies the few frames written since its last pass; the next write then
/// restarts the log.
fn spawn_checkpointer(db: Db) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tick.tick().await;
            if db.read.is_closed() {
                return;
            }
            if let Err(e) = checkpoint(&db).await {
                tracing::warn!("WAL checkpoint failed: {e}");
            }
        }
    });
}

async fn checkpoint(db: &Db) -> Result<(), sqlx::Error> {
    use sqlx::Row;
    let passive = || sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&db.read);
    let log_frames: i64 = passive().await?.try_get(1).unwrap_or(0);
    if log_frames > WAL_RESET_FRAMES {
        let writer = db.write.acquire().await?;
        let row = passive().await?;
        drop(writer);
        let (log, done): (i64, i64) = (row.try_get(1).unwrap_or(0), row.try_get(2).unwrap_or(0));
        if log != done {
            tracing::debug!(
                log,
                done,
                "WAL restart deferred: a reader still uses old frames"
            );
        }
    }
    Ok(())
}

/// The SQLite file holds API-key and password hashes: it is created 0600 before SQLite
/// opens it (SQLite gives its -wal and -shm files the database file's mode), and an
/// existing one is tightened to 0600.
fn private_sqlite_file(url: &str) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path.starts_with(':') {
        return Ok(()); // in memory
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("opening {path}"))?;
    let mode = file.metadata()?.permissions().mode() & 0o777;
    if mode != 0o600 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("making {path} private (mode {mode:o})"))?;
    }
    Ok(())
}

/// Whether an error is a unique-constraint violation (same meaning on both backends).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || db
                    .code()
                    .is_some_and(|c| c == "2067" || c == "1555" || c == "23505")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    /// SQLite 3.7.0–3.51.2 can corrupt a WAL database when a checkpoint races a commit
    /// that restarts the log (the "WAL-reset bug", fixed in 3.51.3). Several worker
    /// processes, each with its checkpointer, hit it: the crash test saw
    /// "database disk image is malformed". The bundled library must carry the fix.
    #[tokio::test]
    async fn bundled_sqlite_has_the_wal_reset_fix() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("v.db").display());
        let db = Db::connect(&url, 2).await.unwrap();
        let version: String = sqlx::query("SELECT sqlite_version()")
            .fetch_one(&db.read)
            .await
            .unwrap()
            .get(0);
        let parts: Vec<u32> = version.split('.').map(|p| p.parse().unwrap()).collect();
        assert!(
            parts.as_slice() >= [3, 51, 3].as_slice(),
            "SQLite {version} has the WAL-reset corruption bug"
        );
    }
}

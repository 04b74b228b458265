//! Connections for the reads every launch makes (the caller, the workflow, the run
//! read back), without sqlx's pool pings.
//!
//! sqlx's pool answers every checkout with a round trip of its own: it pings each
//! connection it takes back, because a future dropped mid-query may have left rows on
//! the wire. On PostgreSQL that was a third of a launch's round trips. A [`Reader`]
//! knows whether its query finished: it returns a connection to its own small idle
//! list only after a query completed, and closes it otherwise. A connection idle for
//! a second or more is pinged before use (the database may have restarted meanwhile).
//! On SQLite, and on PostgreSQL when every reader connection is busy, a reader is an
//! ordinary pooled connection.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::any::{AnyArguments, AnyConnectOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::query::QueryAs;
use sqlx::{Any, AnyConnection, Connection, FromRow};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Reader connections each PostgreSQL process may open besides its pool.
pub(super) const READERS: usize = 4;

/// How long a PostgreSQL connection that answered its last query or ping is trusted
/// without another ping: a reader's, and (after its release ping) a pooled one.
pub(super) const TRUSTED_IDLE: Duration = Duration::from_secs(1);

/// PostgreSQL's reader connections: at most [`READERS`], opened on first need.
pub(super) struct Readers {
    options: AnyConnectOptions,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<(AnyConnection, Instant)>>,
}

impl Readers {
    pub(super) fn new(options: AnyConnectOptions) -> Arc<Readers> {
        Arc::new(Readers {
            options,
            permits: Arc::new(Semaphore::new(READERS)),
            idle: Mutex::new(Vec::with_capacity(READERS)),
        })
    }

    fn take_idle(&self) -> Option<(AnyConnection, Instant)> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    /// A live connection: the most recently used idle one, else a new one.
    async fn connection(&self) -> Result<AnyConnection, sqlx::Error> {
        while let Some((mut conn, since)) = self.take_idle() {
            if since.elapsed() < TRUSTED_IDLE || conn.ping().await.is_ok() {
                return Ok(conn);
            }
        }
        AnyConnection::connect_with(&self.options).await
    }
}

enum Held {
    Own {
        conn: AnyConnection,
        home: Arc<Readers>,
        _permit: OwnedSemaphorePermit,
    },
    Pooled(PoolConnection<Any>),
}

/// One connection for a few reads in a row; see the module docs.
pub struct Reader {
    held: Option<Held>,
    /// The last query completed, so the connection is between messages.
    finished: bool,
}

impl super::Db {
    /// A connection for the reads a launch makes on its hot path.
    pub async fn reader(&self) -> Result<Reader, sqlx::Error> {
        let held = match &self.readers {
            Some(readers) => match readers.permits.clone().try_acquire_owned() {
                Ok(permit) => Held::Own {
                    conn: readers.connection().await?,
                    home: readers.clone(),
                    _permit: permit,
                },
                Err(_) => Held::Pooled(self.read.acquire().await?),
            },
            None => Held::Pooled(self.read.acquire().await?),
        };
        Ok(Reader {
            held: Some(held),
            finished: true,
        })
    }
}

type Query<'q, O> = QueryAs<'q, Any, O, AnyArguments>;

impl Reader {
    fn conn(&mut self) -> &mut AnyConnection {
        self.finished = false;
        match self.held.as_mut().expect("held until dropped") {
            Held::Own { conn, .. } => conn,
            Held::Pooled(conn) => conn,
        }
    }

    pub async fn fetch_optional<'q, O>(&mut self, query: Query<'q, O>) -> sqlx::Result<Option<O>>
    where
        O: Send + Unpin + for<'r> FromRow<'r, AnyRow>,
    {
        let row = query.fetch_optional(self.conn()).await?;
        self.finished = true;
        Ok(row)
    }

    pub async fn fetch_all<'q, O>(&mut self, query: Query<'q, O>) -> sqlx::Result<Vec<O>>
    where
        O: Send + Unpin + for<'r> FromRow<'r, AnyRow>,
    {
        let rows = query.fetch_all(self.conn()).await?;
        self.finished = true;
        Ok(rows)
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        // A pooled connection goes back through sqlx (and its ping); an own one is kept
        // only if its last query finished (else it may still have rows on the wire).
        if let Some(Held::Own { conn, home, .. }) = self.held.take() {
            if self.finished {
                home.idle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((conn, Instant::now()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn backend_pid(reader: &mut Reader) -> i64 {
        let (pid,): (i32,) = reader
            .fetch_optional(sqlx::query_as("SELECT pg_backend_pid()"))
            .await
            .unwrap()
            .unwrap();
        pid.into()
    }

    #[tokio::test]
    async fn a_finished_reader_is_reused_and_a_cancelled_one_is_closed() {
        let db = super::super::write::tests::postgres_db().await;
        let mut reader = db.reader().await.unwrap();
        let first = backend_pid(&mut reader).await;
        drop(reader);
        let mut reader = db.reader().await.unwrap();
        assert_eq!(backend_pid(&mut reader).await, first, "finished: reused");
        // Cancel a query mid-flight: the connection must not come back.
        let cancelled = tokio::time::timeout(
            Duration::from_millis(50),
            reader.fetch_all(sqlx::query_as::<_, (i32,)>("SELECT 1 FROM pg_sleep(0.5)")),
        )
        .await;
        assert!(cancelled.is_err());
        drop(reader);
        let mut reader = db.reader().await.unwrap();
        let third = backend_pid(&mut reader).await;
        assert_ne!(third, first, "cancelled: closed, a new connection opened");
        // The new connection answers normally after the cancelled one's rows.
        let rows: Vec<(i64,)> = reader
            .fetch_all(sqlx::query_as("SELECT CAST(generate_series(1, 3) AS int8)"))
            .await
            .unwrap();
        assert_eq!(rows.len(), 3);
    }

    #[tokio::test]
    async fn with_every_reader_busy_a_pooled_connection_serves() {
        let db = super::super::write::tests::postgres_db().await;
        let mut held = Vec::new();
        for _ in 0..READERS {
            held.push(db.reader().await.unwrap());
        }
        // Bounded, so a fallback that waited for a reader fails here instead of hanging.
        let mut extra = tokio::time::timeout(Duration::from_secs(10), db.reader())
            .await
            .expect("with every reader busy, a pooled connection comes without waiting")
            .unwrap();
        assert!(matches!(extra.held, Some(Held::Pooled(_))));
        assert!(backend_pid(&mut extra).await > 0);
    }

    #[tokio::test]
    async fn a_reader_idle_past_trust_whose_server_went_away_is_replaced() {
        let db = super::super::write::tests::postgres_db().await;
        let mut reader = db.reader().await.unwrap();
        let first = backend_pid(&mut reader).await;
        drop(reader);
        // Another session terminates the idle reader's backend, as a restart would.
        sqlx::query("SELECT pg_terminate_backend(CAST($1 AS int4))")
            .bind(first)
            .execute(&db.read)
            .await
            .unwrap();
        // Age it past the trusted window instead of sleeping.
        if let Some(readers) = &db.readers {
            for (_, since) in readers.idle.lock().unwrap().iter_mut() {
                *since -= TRUSTED_IDLE;
            }
        }
        let mut reader = db.reader().await.unwrap();
        let second = backend_pid(&mut reader).await;
        assert_ne!(second, first);
    }
}

//! Group commit for PostgreSQL, as pipelined transactions.
//!
//! Through sqlx every statement of a write transaction is a round trip, plus `BEGIN`,
//! `COMMIT` and a connection check on taking and returning a pooled connection: a
//! launch's two transactions cost ~17 round trips, and each one costs both processes a
//! wake-up. Here a few writer tasks own their own connections (`tokio-postgres`, which
//! pipelines). Each takes whatever transactions queued up while it was busy and sends
//! them as one transaction — `BEGIN`, every statement (prepared once per connection,
//! then only bound and executed), `COMMIT` — in one write, and reads the answers in one
//! go: one round trip and one commit for the group. Same-shaped transactions of plain
//! INSERTs (launches) are sent as one, each INSERT with a row per transaction
//! ([`super::merge`]).
//!
//! A fence cannot be checked between statements that are already on the wire, so the
//! group sends it as a statement that fails unless the fence changed exactly one row
//! ([`merge::fence_check`]). Any failure rolls the whole group back (PostgreSQL answers every
//! statement after a failure with an error and turns the `COMMIT` into a rollback);
//! its transactions are then replayed one by one through sqlx, statement by
//! statement, so each caller gets exactly the outcome and the error it would have got
//! alone (a lost fence, a unique violation).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;

use tokio::sync::{mpsc, Mutex};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Statement};

use super::batch::{Arg, Stmt};
use super::merge;
use super::write::Request;
use super::Db;

/// Writer tasks, each with its own connection: a second one keeps writes moving while
/// a group waits on a lock (one, two and four measured the same on the launch bench).
pub(super) const WRITERS: usize = 2;

/// Most transactions folded into one group.
const MAX_GROUP: usize = 64;

/// Prepared statements kept per connection; past this the cache starts over (findings
/// INSERTs vary in row count, so texts are not a fixed set).
const MAX_PREPARED: usize = 512;

/// Transactions committed as members of a group of more than one, since the process
/// started (what grouping does is visible, and testable).
static GROUPED: AtomicU64 = AtomicU64::new(0);

#[cfg(test)]
fn grouped_transactions() -> u64 {
    GROUPED.load(Ordering::Relaxed)
}

/// Starts [`WRITERS`] writer tasks connecting to `url`; they end when every sender is
/// dropped. `db` is the sqlx side, used to replay a failed group one by one (and for
/// everything while no connection of our own can be made).
pub(super) fn spawn(url: &str, db: Db) -> mpsc::UnboundedSender<Request> {
    let (tx, rx) = mpsc::unbounded_channel();
    let rx = Arc::new(Mutex::new(rx));
    // sqlx takes a few URL parameters tokio-postgres does not (`statement-cache-capacity`):
    // such a URL still works, with every write through the pool.
    let config = url
        .parse::<tokio_postgres::Config>()
        .inspect_err(|e| {
            tracing::warn!("PostgreSQL writers not started ({e}): writes go through the pool")
        })
        .ok();
    for _ in 0..WRITERS {
        tokio::spawn(writer(config.clone(), db.clone(), rx.clone()));
    }
    tx
}

/// A connection of our own and the statements prepared on it.
struct Conn {
    client: Client,
    prepared: HashMap<(String, Vec<Type>), Statement>,
}

async fn writer(
    config: Option<tokio_postgres::Config>,
    db: Db,
    rx: Arc<Mutex<mpsc::UnboundedReceiver<Request>>>,
) {
    let mut conn: Option<Conn> = None;
    loop {
        let group = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(next) => group.push(next),
                    Err(_) => break,
                }
            }
            group
        };
        if conn.as_ref().is_none_or(|c| c.client.is_closed()) {
            conn = match &config {
                Some(config) => connect(config).await,
                None => None,
            };
        }
        let committed = match conn.as_mut() {
            Some(c) => {
                let ok = c.group_tx(&group).await.is_ok();
                if !ok {
                    // Failures are rare (a lost fence, a duplicate key); starting the
                    // statement cache over also recovers from statements the server no
                    // longer knows (a pooler, a restored schema).
                    c.prepared.clear();
                }
                ok
            }
            None => false,
        };
        if committed {
            if group.len() > 1 {
                GROUPED.fetch_add(group.len() as u64, Ordering::Relaxed);
            }
            for r in group {
                let _ = r.reply.send(Ok(true));
            }
            continue;
        }
        for r in group {
            let _ = r.reply.send(db.postgres_tx(r.fence, r.stmts).await);
        }
    }
}

async fn connect(config: &tokio_postgres::Config) -> Option<Conn> {
    match config.connect(NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!("PostgreSQL writer connection ended: {e}");
                }
            });
            Some(Conn {
                client,
                prepared: HashMap::new(),
            })
        }
        Err(e) => {
            tracing::warn!("PostgreSQL writer connection failed (writes go through the pool): {e}");
            None
        }
    }
}

fn param_types(args: &[Arg]) -> Vec<Type> {
    args.iter()
        .map(|a| match a {
            Arg::Int(_) => Type::INT8,
            Arg::Text(_) => Type::TEXT,
        })
        .collect()
}

fn params(args: &[Arg]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter()
        .map(|a| match a {
            Arg::Int(v) => v as &(dyn ToSql + Sync),
            Arg::Text(v) => v as &(dyn ToSql + Sync),
        })
        .collect()
}

impl Conn {
    /// The group as one pipelined transaction; `Err` means nothing was written.
    async fn group_tx(&mut self, group: &[Request]) -> Result<(), tokio_postgres::Error> {
        let begin = Stmt::new("BEGIN", vec![]);
        let commit = Stmt::new("COMMIT", vec![]);
        let body = merge::statements(group);
        let mut all: Vec<&Stmt> = vec![&begin];
        all.extend(body.iter().map(|s| &**s));
        all.push(&commit);
        let statements = self.prepare(&all).await?;
        let client = &self.client;
        let values: Vec<Vec<&(dyn ToSql + Sync)>> = all.iter().map(|s| params(&s.args)).collect();
        let sends = statements
            .iter()
            .zip(&values)
            .map(|(st, v)| client.execute(st, v))
            .collect();
        let results = in_order(sends).await;
        // Every statement's answer is read: one that failed leaves the rest failing too,
        // and the COMMIT then only ends the failed transaction.
        results.into_iter().try_for_each(|r| r.map(drop))
    }

    /// The prepared statement for each of `stmts`, preparing (pipelined) the ones this
    /// connection has not seen.
    async fn prepare(&mut self, stmts: &[&Stmt]) -> Result<Vec<Statement>, tokio_postgres::Error> {
        let keys: Vec<(String, Vec<Type>)> = stmts
            .iter()
            .map(|s| (s.sql.clone(), param_types(&s.args)))
            .collect();
        let mut missing: Vec<&(String, Vec<Type>)> = Vec::new();
        for k in &keys {
            if !self.prepared.contains_key(k) && !missing.contains(&k) {
                missing.push(k);
            }
        }
        if !missing.is_empty() {
            if self.prepared.len() + missing.len() > MAX_PREPARED {
                self.prepared.clear();
            }
            let client = &self.client;
            let prepares = missing
                .iter()
                .map(|(sql, types)| client.prepare_typed(sql, types))
                .collect();
            for (k, st) in missing.iter().zip(in_order(prepares).await) {
                self.prepared.insert((*k).clone(), st?);
            }
        }
        Ok(keys.iter().map(|k| self.prepared[k].clone()).collect())
    }
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Awaits all of `futures`, polling them for the first time in order: a
/// `tokio-postgres` request is sent when its future is first polled, so this is what
/// puts them on the wire in order, back to back.
fn in_order<'a, F, T>(futures: Vec<F>) -> impl Future<Output = Vec<T>> + 'a
where
    F: Future<Output = T> + Send + 'a,
    T: Send + 'a,
{
    let mut pending: Vec<Option<Boxed<'a, T>>> = futures
        .into_iter()
        .map(|f| Some(Box::pin(f) as Boxed<'a, T>))
        .collect();
    let mut done: Vec<Option<T>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(move |cx| {
        let mut all = true;
        for (slot, out) in pending.iter_mut().zip(done.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => all = false,
                }
            }
        }
        if all {
            Poll::Ready(done.iter_mut().map(|v| v.take().expect("ready")).collect())
        } else {
            Poll::Pending
        }
    })
}

#[cfg(test)]
mod tests {
    /// Transactions submitted together commit together, but a lost fence or a
    /// failing statement in one of them affects only that one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failure_in_a_group_fails_only_its_own_transaction() {
        crate::db::write::tests::a_failure_in_a_group_fails_only_its_own_transaction(
            crate::db::write::tests::postgres_db().await,
            super::grouped_transactions,
        )
        .await;
    }

    /// Same-shaped transactions are sent merged, yet each still commits or fails on its
    /// own: a duplicate key in one fails only that one, and every value arrives as sent.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn merged_transactions_commit_and_fail_one_by_one() {
        use crate::db::batch::Stmt;
        use sqlx::Row;
        let db = crate::db::write::tests::postgres_db().await;
        let insert = |k: String, v: String| {
            Stmt::new(
                "INSERT INTO instance_settings (key, value) VALUES ($1, $2)",
                crate::args![k, v],
            )
        };
        let anchor = insert("anchor".into(), "a".into());
        assert!(db.write_tx(None, vec![anchor]).await.unwrap());
        let lock = Stmt::new(
            "SELECT key FROM instance_settings WHERE key = $1 FOR SHARE",
            crate::args!["anchor"],
        );
        let hostile = "it's ($1), ('x', 'y') -- \u{1F600}";
        let merged_before = crate::db::merge::merged_transactions();
        let tasks: Vec<_> = (0..300)
            .map(|i| {
                let db = db.clone();
                let second = if i % 10 == 7 {
                    "anchor".into()
                } else {
                    format!("m-{i}-b")
                };
                let stmts = vec![
                    insert(format!("m-{i}-a"), format!("{hostile}{i}")),
                    lock.clone(),
                    insert(second, "b".into()),
                ];
                tokio::spawn(async move { (i, db.write_tx(None, stmts).await) })
            })
            .collect();
        for t in tasks {
            let (i, res) = t.await.unwrap();
            if i % 10 == 7 {
                assert!(crate::db::is_unique_violation(&res.unwrap_err()), "{i}");
            } else {
                assert!(res.unwrap(), "transaction {i} must commit");
            }
        }
        let rows = sqlx::query("SELECT key, value FROM instance_settings WHERE key LIKE 'm-%'")
            .fetch_all(&db.read)
            .await
            .unwrap();
        assert_eq!(rows.len(), 270 * 2);
        for row in rows {
            let (key, value): (String, String) = (row.get(0), row.get(1));
            let i: usize = key[2..].split('-').next().unwrap().parse().unwrap();
            assert_ne!(i % 10, 7, "{key} belongs to a failed transaction");
            let want = if key.ends_with("-a") {
                format!("{hostile}{i}")
            } else {
                "b".into()
            };
            assert_eq!(value, want);
        }
        assert!(
            crate::db::merge::merged_transactions() > merged_before,
            "300 concurrent same-shaped transactions were never merged"
        );
    }

    /// A fence must change exactly one row: two is as lost as none.
    #[tokio::test]
    async fn a_fence_that_changed_two_rows_writes_nothing() {
        use crate::db::batch::Stmt;
        let db = crate::db::write::tests::postgres_db().await;
        let rows = "INSERT INTO instance_settings (key, value) VALUES ('a', 'x'), ('b', 'x')";
        assert!(db
            .write_tx(None, vec![Stmt::new(rows, vec![])])
            .await
            .unwrap());
        let fence = Stmt::new(
            "UPDATE instance_settings SET value = 'y' WHERE value = 'x'",
            vec![],
        );
        let insert = Stmt::new(
            "INSERT INTO instance_settings (key, value) VALUES ('c', 'z')",
            vec![],
        );
        assert!(!db.write_tx(Some(fence), vec![insert]).await.unwrap());
        let values: Vec<String> =
            sqlx::query_scalar("SELECT value FROM instance_settings WHERE key IN ('a', 'b', 'c')")
                .fetch_all(&db.read)
                .await
                .unwrap();
        assert_eq!(values, ["x", "x"]);
    }
}

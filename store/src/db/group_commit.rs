//! Group commit for SQLite's single writer connection.
//!
//! Every write transaction goes through one task that owns the writer. Whatever
//! queued up while it was busy becomes one SQLite transaction (one script, one
//! commit, one WAL append) instead of one each. Without this the writer
//! connection was held across two tokio scheduling delays per transaction, and
//! that hand-off, not SQLite, bounded launch throughput.
//!
//! Each request keeps its own all-or-nothing meaning: if anything in a group
//! fails (a lost lease's fence, a constraint), the group is rolled back and its
//! requests are replayed one by one, so only the failing one sees the failure.

use sqlx::{AnyPool, Executor};
use tokio::sync::mpsc;

use super::batch::{script, sqlite_tx, Stmt, MAX_SCRIPT_ARGS};
use super::write::Request;

/// Most transactions folded into one commit.
const MAX_GROUP: usize = 64;

/// Transactions committed as members of a group of more than one, since the process
/// started (what the group commit saves is visible, and testable).
static GROUPED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many transactions have been committed inside a multi-transaction group.
#[cfg(test)]
fn grouped_transactions() -> u64 {
    GROUPED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Starts the writer task; it ends when every sender is dropped.
pub(super) fn spawn(write: AnyPool) -> mpsc::UnboundedSender<Request> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(write, rx));
    tx
}

async fn run(write: AnyPool, mut rx: mpsc::UnboundedReceiver<Request>) {
    let mut carried: Option<Request> = None;
    loop {
        let first = match carried.take() {
            Some(r) => r,
            None => match rx.recv().await {
                Some(r) => r,
                None => return,
            },
        };
        let mut args = first.arg_count();
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            let Ok(next) = rx.try_recv() else { break };
            let n = next.arg_count();
            if args + n > MAX_SCRIPT_ARGS {
                carried = Some(next);
                break;
            }
            args += n;
            group.push(next);
        }
        let mut conn = match write.acquire().await {
            Ok(c) => c,
            Err(e) => {
                for r in group {
                    let _ = r.reply.send(Err(clone_error(&e)));
                }
                continue;
            }
        };
        if group.len() > 1 {
            match group_tx(&mut conn, &group).await {
                Ok(()) => {
                    GROUPED.fetch_add(group.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    for r in group {
                        let _ = r.reply.send(Ok(true));
                    }
                    continue;
                }
                Err(_) => {
                    let _ = conn.execute("ROLLBACK").await;
                }
            }
        }
        for r in group {
            let res = sqlite_tx(&mut conn, r.fence, &r.stmts).await;
            if !matches!(res, Ok(true)) {
                let _ = conn.execute("ROLLBACK").await;
            }
            let _ = r.reply.send(res);
        }
    }
}

/// All requests in one script; any failure (including a fence) fails the lot.
async fn group_tx(conn: &mut sqlx::AnyConnection, group: &[Request]) -> Result<(), sqlx::Error> {
    let mut all = vec![Stmt::new("BEGIN IMMEDIATE", vec![])];
    for r in group {
        if let Some(f) = &r.fence {
            all.extend(super::batch::fenced(f.clone()));
        }
        all.extend(r.stmts.iter().cloned());
    }
    all.push(Stmt::new("COMMIT", vec![]));
    let (sql, args) = script(&all);
    super::batch::bind_all(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), &args)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn clone_error(e: &sqlx::Error) -> sqlx::Error {
    sqlx::Error::Protocol(format!("acquiring the SQLite writer: {e}"))
}

#[cfg(test)]
mod tests {
    /// Transactions submitted together commit together, but a lost fence or a
    /// failing statement in one of them affects only that one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failure_in_a_group_fails_only_its_own_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = crate::db::Db::connect(&url, 2).await.unwrap();
        db.migrate().await.unwrap();
        crate::db::write::tests::a_failure_in_a_group_fails_only_its_own_transaction(
            db,
            super::grouped_transactions,
        )
        .await;
    }
}

//! The job queue lives in the database. A job is enqueued in the same
//! transaction as its run; workers claim it with a lease (a fencing token plus
//! an expiry), heartbeat while working, and every result write is fenced by the
//! token, so a worker that lost its lease can never record anything. A job whose
//! worker died is claimable again once its lease expires.

use anyhow::Result;
use sqlx::{Any, Transaction};
use validibot_types::ids::{JobId, RunId};

use crate::args;
use crate::db::batch::Stmt;
use crate::db::{Backend, Db};
use validibot_types::clock::now_us;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Lease {
    #[sqlx(rename = "id")]
    #[sqlx(try_from = "String")]
    pub job_id: JobId,
    #[sqlx(try_from = "String")]
    pub run_id: RunId,
    #[sqlx(rename = "lease_token")]
    pub token: i64,
    pub attempts: i64,
    pub max_attempts: i64,
}

/// Due: queued and available, leased by a worker whose lease expired, or waiting on an
/// asynchronous step whose deadline came (the reconciler's last resort).
const CLAIMABLE: &str =
    "((state IN ('queued', 'waiting') AND available_at <= $3) OR (state = 'leased' AND lease_expires_at < $3))";

/// Who takes a job at enqueue time: a worker in this process with a free slot.
pub struct Taker<'a> {
    pub owner: &'a str,
    pub lease_us: i64,
}

/// Enqueues the run's job. With a `taker`, the job is created already leased
/// to it (attempt 1), which spares the launching process a claim round-trip;
/// if that process dies, the lease expires and any worker takes the job.
pub fn enqueue(
    run_id: &RunId,
    max_attempts: i64,
    taker: Option<&Taker<'_>>,
) -> (JobId, Stmt, Option<Lease>) {
    let id = JobId::new();
    let now = now_us();
    match taker {
        None => {
            let stmt = Stmt::new(
                "INSERT INTO jobs (id, run_id, state, attempts, max_attempts, available_at, created_at) VALUES ($1, $2, 'queued', 0, $3, $4, $4)",
                args![&id, run_id, max_attempts, now],
            );
            (id, stmt, None)
        }
        Some(t) => {
            let stmt = Stmt::new(
                "INSERT INTO jobs (id, run_id, state, attempts, max_attempts, available_at, lease_owner, lease_token, lease_expires_at, created_at)
                 VALUES ($1, $2, 'leased', 1, $3, $4, $5, 1, $6, $4)",
                args![&id, run_id, max_attempts, now, t.owner, now + t.lease_us],
            );
            let lease = Lease {
                job_id: id.clone(),
                run_id: run_id.clone(),
                token: 1,
                attempts: 1,
                max_attempts,
            };
            (id, stmt, Some(lease))
        }
    }
}

/// Claims one specific job (the fast path for a run launched in this process).
pub async fn claim_job(
    db: &Db,
    job_id: &JobId,
    owner: &str,
    lease_us: i64,
) -> Result<Option<Lease>> {
    let now = now_us();
    let mut tx = db.write.begin().await?;
    let lease: Option<Lease> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE jobs SET state = 'leased', lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1, lease_token = lease_token + 1, progress = NULL
         WHERE id = $4 AND {CLAIMABLE} RETURNING id, run_id, lease_token, attempts, max_attempts"
    )))
    .bind(owner)
    .bind(now + lease_us)
    .bind(now)
    .bind(job_id.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let leases: Vec<Lease> = lease.into_iter().collect();
    mark_running(&mut tx, &leases, now).await?;
    tx.commit().await?;
    Ok(leases.into_iter().next())
}

/// Claims up to `limit` due jobs, oldest first. PostgreSQL skips rows other
/// workers hold locked; SQLite serialises writers so the update is atomic.
pub async fn claim_due(db: &Db, owner: &str, lease_us: i64, limit: i64) -> Result<Vec<Lease>> {
    let now = now_us();
    let lock = match db.backend {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let mut tx = db.write.begin().await?;
    let leases: Vec<Lease> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE jobs SET state = 'leased', lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1, lease_token = lease_token + 1, progress = NULL
         WHERE id IN (SELECT id FROM jobs WHERE {CLAIMABLE} ORDER BY available_at LIMIT $4 {lock})
         RETURNING id, run_id, lease_token, attempts, max_attempts"
    )))
    .bind(owner)
    .bind(now + lease_us)
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    mark_running(&mut tx, &leases, now).await?;
    tx.commit().await?;
    Ok(leases)
}

async fn mark_running(
    tx: &mut Transaction<'static, Any>,
    leases: &[Lease],
    now: i64,
) -> Result<()> {
    for l in leases {
        sqlx::query("UPDATE runs SET status = 'RUNNING', started_at = COALESCE(started_at, $1) WHERE id = $2 AND status IN ('PENDING', 'RUNNING')")
            .bind(now)
            .bind(l.run_id.as_str())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Extends the lease; `false` means it was lost (another worker took over).
pub async fn heartbeat(db: &Db, lease: &Lease, lease_us: i64) -> Result<bool> {
    let res = sqlx::query("UPDATE jobs SET lease_expires_at = $1 WHERE id = $2 AND lease_token = $3 AND state = 'leased'")
        .bind(now_us() + lease_us)
        .bind(lease.job_id.as_str())
        .bind(lease.token)
        .execute(&db.write)
        .await?;
    Ok(res.rows_affected() == 1)
}

/// Records how far each running step's validator has read the document (`progress`: a
/// JSON object of step key → bytes), while the lease is ours. Advisory: the run page
/// shows it; it goes with the job when the run ends.
pub async fn progress(db: &Db, lease: &Lease, progress: &str) -> Result<bool> {
    let res = sqlx::query(
        "UPDATE jobs SET progress = $1 WHERE id = $2 AND lease_token = $3 AND state = 'leased'",
    )
    .bind(progress)
    .bind(lease.job_id.as_str())
    .bind(lease.token)
    .execute(&db.write)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Fence for writing a step's result: holds only while the lease is ours.
pub fn still_held(lease: &Lease) -> Stmt {
    Stmt::new(
        "UPDATE jobs SET lease_owner = lease_owner WHERE id = $1 AND lease_token = $2 AND state = 'leased'",
        args![&lease.job_id, lease.token],
    )
}

/// Fence for closing a run: removes the job, only while the lease is ours.
pub fn complete(lease: &Lease) -> Stmt {
    Stmt::new(
        "DELETE FROM jobs WHERE id = $1 AND lease_token = $2 AND state = 'leased'",
        args![&lease.job_id, lease.token],
    )
}

/// Puts the job back for another attempt after `backoff_us` (system errors only).
pub async fn retry_later(db: &Db, lease: &Lease, backoff_us: i64, error: &str) -> Result<bool> {
    let res = sqlx::query(
        "UPDATE jobs SET state = 'queued', available_at = $1, lease_owner = NULL, lease_expires_at = NULL, last_error = $2
         WHERE id = $3 AND lease_token = $4 AND state = 'leased'",
    )
    .bind(now_us() + backoff_us)
    .bind(error)
    .bind(lease.job_id.as_str())
    .bind(lease.token)
    .execute(&db.write)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Exponential backoff: 1 s, 2 s, 4 s … capped at 5 minutes.
pub fn backoff_us(attempt: i64) -> i64 {
    let exp = (attempt.clamp(1, 20) - 1) as u32;
    (1_000_000i64.saturating_mul(1 << exp)).min(300_000_000)
}

/// The queue as monitoring sees it.
#[derive(sqlx::FromRow)]
pub struct Depth {
    pub queued: i64,
    pub leased: i64,
    /// When the oldest queued job was enqueued (µs), if any is queued.
    pub oldest_queued_at: Option<i64>,
}

pub async fn depth(db: &Db) -> Result<Depth> {
    Ok(sqlx::query_as(
        "SELECT COALESCE(SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END), 0) AS queued,
                COALESCE(SUM(CASE WHEN state = 'leased' THEN 1 ELSE 0 END), 0) AS leased,
                MIN(CASE WHEN state = 'queued' THEN created_at END) AS oldest_queued_at
         FROM jobs",
    )
    .fetch_one(&db.read)
    .await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(super::backoff_us(1), 1_000_000);
        assert_eq!(super::backoff_us(3), 4_000_000);
        assert_eq!(super::backoff_us(50), 300_000_000);
    }
}
